"""The exact statistics fast paths equal int64 NumPy sums, to the bit.

``PixelStats`` sums integer pixels of at most 16 bits in float32/float64 blocks
(BLAS products with a vector of ones) kept below 2**24 / 2**53; these tests pin
that the result is exact on every dtype, layout, stride and size, whatever the
block size and the batch split.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_array_equal

from sk_pixels import PixelStandardizer, PixelStats, _reduce
from sk_pixels._layout import image_view

EXACT_DTYPES = ["uint8", "int8", "uint16", "int16"]


def _random(rng, shape, dtype, extremes=True):
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    if extremes and x.size >= 2:
        x.reshape(-1)[:2] = (info.min, info.max)
    return x


def _reference(view, per_image):
    """Exact int64 sums, sums of squares, min and max of an (n, H, W, C) view."""
    v = view.astype(np.int64)
    axes = (1, 2) if per_image else (0, 1, 2)
    return (
        v.sum(axis=axes),
        (v * v).sum(axis=axes),
        v.min(axis=axes).astype(np.float64),
        v.max(axis=axes).astype(np.float64),
    )


def _assert_exact(stats, view, per_image):
    """``stats`` hold exactly the int64 reference sums (through the public API:
    ``sum``, ``count``, ``min``, ``max``, the correctly rounded ``var`` and, for
    per-channel statistics, ``to_dict()["sumsq"]``)."""
    total, squares, lo, hi = _reference(view, per_image)
    assert stats.exact and stats.n_images == view.shape[0]
    assert stats.sum.dtype == object
    assert all(type(v) is int for v in stats.sum.ravel())
    assert_array_equal(stats.sum.astype(np.int64), total)
    n, h, w, c = view.shape
    count = h * w if per_image else n * h * w
    assert_array_equal(stats.count, np.full(total.shape, count))
    var = [
        (count * int(q) - int(t) ** 2) / count**2
        for t, q in zip(total.ravel(), squares.ravel(), strict=True)
    ]
    assert_array_equal(stats.var.ravel(), var)
    if not per_image:
        assert stats.to_dict()["sumsq"] == [int(q) for q in squares]
    assert_array_equal(stats.min, lo)
    assert_array_equal(stats.max, hi)


LAYOUTS = {
    "NHWC": lambda X: X,
    "NCHW": lambda X: np.moveaxis(np.ascontiguousarray(np.moveaxis(X, -1, 1)), 1, -1),
    "gray": lambda X: X[..., :1],
    "flat": lambda X: image_view(X.reshape(len(X), -1)),
    "reversed": lambda X: X[::-1, ::-1, ::2],
    "cropped": lambda X: X[:, 1:-1, 2:],
    "NCHW-every-other": lambda X: np.moveaxis(
        np.ascontiguousarray(np.moveaxis(X, -1, 1))[::2], 1, -1
    ),
}


@pytest.mark.parametrize("dtype", EXACT_DTYPES)
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("per_image", [False, True], ids=["dataset", "per-image"])
@pytest.mark.parametrize(
    "shape",
    [(1, 1, 1, 3), (3, 7, 5, 4), (4, 37, 53, 3), (2, 301, 331, 3), (1, 3, 40_000, 3)],
    ids=["one-pixel", "small", "odd", "multi-block", "wide-row"],
)
def test_exact_stats_match_int64_numpy(rng, dtype, layout, per_image, shape):
    view = LAYOUTS[layout](_random(rng, shape, dtype))
    if view.size == 0:
        pytest.skip(f"layout {layout!r} leaves no pixel of a {shape} batch")
    _assert_exact(PixelStats.from_view(view, per_image=per_image), view, per_image)


@pytest.mark.parametrize("dtype", EXACT_DTYPES)
def test_exact_stats_of_all_extreme_pixels(dtype):
    # Every partial sum at its largest: exactness does not rely on luck.
    info = np.iinfo(dtype)
    for value in (info.min, info.max):
        view = np.full((3, 517, 263, 3), value, dtype=dtype)
        for per_image in (False, True):
            _assert_exact(
                PixelStats.from_view(view, per_image=per_image), view, per_image
            )


@pytest.mark.parametrize("kernel", ["default", "numpy"])
@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
def test_exact_stats_do_not_depend_on_block_sizes(rng, monkeypatch, dtype, kernel):
    from sk_pixels import _fused

    view = _random(rng, (5, 61, 67, 3), dtype)
    expected = PixelStats.from_view(view)
    expected_images = PixelStats.from_view(view, per_image=True)
    if kernel == "numpy":  # the NumPy kernels, as without numba
        monkeypatch.setattr(_fused, "_loaded", False)
    monkeypatch.setattr(_reduce, "BLOCK_BYTES", 4096)
    monkeypatch.setattr(_reduce, "_TARGET_ROW", 30)
    monkeypatch.setattr(_reduce, "_FLUSH_LIMIT", 1)  # flush after every block
    _reduce._row_length.cache_clear()
    try:
        assert PixelStats.from_view(view) == expected
        assert PixelStats.from_view(view, per_image=True) == expected_images
        assert PixelStats.from_view(view[:, ::-1]) == expected
    finally:
        _reduce._row_length.cache_clear()


@pytest.mark.parametrize("fold_chunk", [1, 50_000, 2**20])
def test_per_image_stats_do_not_depend_on_fold_chunks(rng, monkeypatch, fold_chunk):
    X = _random(rng, (23, 17, 13, 3), "uint8")
    views = [X, X[::-1, :, ::-1], LAYOUTS["NCHW"](X)]
    expected = [PixelStats.from_view(v, per_image=True) for v in views]
    monkeypatch.setattr(_reduce, "_FOLD_CHUNK_BYTES", fold_chunk)
    for view, stats in zip(views, expected, strict=True):
        assert PixelStats.from_view(view, per_image=True) == stats
        _assert_exact(stats, view, per_image=True)


def test_stream_and_block_paths_agree(rng):
    # Contiguous batches take the stream path; the same pixels reversed take the
    # block path; per-image sums add up to the dataset sums.
    X = _random(rng, (7, 45, 39, 3), "uint8")
    stream = PixelStats.from_view(X)
    blocks = PixelStats.from_view(X[::-1])
    per_image = PixelStats.from_view(X, per_image=True)
    assert stream == blocks
    assert_array_equal(stream.sum, per_image.sum.sum(axis=0))
    assert_array_equal(stream.count, per_image.count.sum(axis=0))


@st.composite
def _batches_and_splits(draw):
    dtype = draw(st.sampled_from(EXACT_DTYPES))
    info = np.iinfo(dtype)
    shape = (
        draw(st.integers(1, 6)),
        draw(st.integers(1, 40)),
        draw(st.integers(1, 40)),
        draw(st.sampled_from([1, 2, 3, 4])),
    )
    X = draw(hnp.arrays(dtype, shape, elements=st.integers(info.min, info.max)))
    cuts = sorted(set(draw(st.lists(st.integers(1, shape[0]), max_size=4))))
    return X, [c for c in cuts if c < shape[0]]


@settings(max_examples=60, deadline=None)
@given(_batches_and_splits(), st.sampled_from(list(LAYOUTS)))
def test_integer_stats_identical_under_any_split(data, layout):
    X, cuts = data
    view = LAYOUTS[layout](X)
    assume(view.size > 0)
    whole = PixelStats.from_view(view)
    _assert_exact(whole, view, per_image=False)
    parts = np.split(np.arange(view.shape[0]), cuts)
    merged = PixelStats()
    for index in parts[::-1]:  # any order
        merged.merge_inplace(PixelStats.from_view(view[index]))
    assert merged == whole
    assert_array_equal(merged.mean, whole.mean)
    assert_array_equal(merged.std, whole.std)


def test_fit_and_partial_fit_are_bit_identical_on_uint16(rng):
    X = _random(rng, (9, 33, 35, 3), "uint16")
    whole = PixelStandardizer().fit(X)
    streamed = PixelStandardizer()
    for start in range(0, 9, 2):
        streamed.partial_fit(X[start : start + 2])
    assert_array_equal(whole.mean_, streamed.mean_)
    assert_array_equal(whole.std_, streamed.std_)


def test_row_length_divides_the_pixels():
    for n_pixels, channels, width in [
        (50176, 3, 224),
        (97, 3, 97),
        (8, 1, 8),
        (600, 4, 20),
    ]:
        length = _reduce._row_length(n_pixels, channels, width)
        assert length % channels == 0
        assert (n_pixels * channels) % length == 0


@pytest.mark.parametrize("per_image", [False, True], ids=["dataset", "per-image"])
@pytest.mark.parametrize("layout", ["NHWC", "NCHW", "reversed"])
def test_threaded_stats_equal_one_thread(rng, monkeypatch, per_image, layout):
    from sk_pixels import _threads

    # 7 x 65 x 59 pixels: enough for 3 threads (parts of >= 4096 pixels each).
    view = LAYOUTS[layout](_random(rng, (7, 65, 59, 3), "uint16"))
    expected = PixelStats.from_view(view, per_image=per_image)
    monkeypatch.setattr(_threads, "MIN_PARALLEL_BYTES", 0)
    monkeypatch.setattr(_threads, "_cpu_count", lambda: 3)
    monkeypatch.setattr(_threads, "_library_limit", lambda: None)
    assert _threads.get_num_threads(view.nbytes) == 3
    got = PixelStats.from_view(view, per_image=per_image)
    assert got == expected
    _assert_exact(got, view, per_image)


# -- float input: BLAS block sums, corrected two-pass, Chan merge -------------------
FLOAT_DTYPES = ["float16", "float32", "float64", "int32", "int64"]


def _float_data(rng, shape, dtype):
    if np.dtype(dtype).kind == "i":
        return rng.integers(-(2**30), 2**30, size=shape).astype(dtype)
    return (1e3 + rng.standard_normal(shape)).astype(dtype)  # offset: cancellation


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("layout", ["NHWC", "NCHW", "reversed", "flat"])
@pytest.mark.parametrize("per_image", [False, True], ids=["dataset", "per-image"])
@pytest.mark.parametrize(
    "shape", [(3, 7, 5, 4), (2, 301, 331, 3)], ids=["small", "multi-block"]
)
def test_float_stats_match_float64_numpy(rng, dtype, layout, per_image, shape):
    view = LAYOUTS[layout](_float_data(rng, shape, dtype))
    stats = PixelStats.from_view(view, per_image=per_image)
    x = view.astype(np.float64)
    axes = (1, 2) if per_image else (0, 1, 2)
    # Errors relative to the data's scale: a mean near 0 of values near 1e9
    # cancels, whatever the algorithm.
    scale = np.abs(x).mean()
    np.testing.assert_allclose(
        stats.mean, x.mean(axis=axes), rtol=0, atol=1e-13 * scale
    )
    np.testing.assert_allclose(stats.var, x.var(axis=axes), rtol=1e-10)
    assert_array_equal(stats.min, x.min(axis=axes))
    assert_array_equal(stats.max, x.max(axis=axes))


@pytest.mark.parametrize("per_image", [False, True], ids=["dataset", "per-image"])
def test_float_blocks_with_and_without_nan_combine(rng, per_image):
    # NaN in some blocks only: those take the general path, the others the
    # fast one; together they ignore exactly the NaN pixels.
    X = _float_data(rng, (6, 301, 331, 3), "float32")
    X[2, 5, 7, 1] = np.nan
    X[4, 300, :, 0] = np.nan
    stats = PixelStats.from_view(X, per_image=per_image)
    x = X.astype(np.float64)
    axes = (1, 2) if per_image else (0, 1, 2)
    np.testing.assert_allclose(stats.mean, np.nanmean(x, axis=axes), rtol=1e-13)
    np.testing.assert_allclose(stats.var, np.nanvar(x, axis=axes), rtol=1e-10)
    assert_array_equal(stats.count, np.sum(~np.isnan(x), axis=axes))
    assert_array_equal(stats.max, np.nanmax(x, axis=axes))


# -- every namespace: the same kernels give the same statistics ---------------------
def _namespaces():
    """Array API namespaces to check, each as ``(name, to_namespace, permute)``."""
    found = {}
    try:
        import array_api_strict as xs

        found["array_api_strict"] = (xs.asarray, xs.permute_dims)
    except ImportError:  # pragma: no cover - installed with the test extras
        pass
    try:
        import torch

        found["torch-cpu"] = (torch.asarray, torch.permute)
    except ImportError:  # pragma: no cover - installed with the test extras
        pass
    return found


NAMESPACES = _namespaces()

DEVICE_LAYOUTS = {
    # The device view of each NumPy layout: (NumPy array, axes to channels-last).
    "NHWC": lambda X: (X, (0, 1, 2, 3)),
    "NCHW": lambda X: (np.ascontiguousarray(np.moveaxis(X, -1, 1)), (0, 2, 3, 1)),
}


def _device_view(name, layout, X):
    to_xp, permute = NAMESPACES[name]
    array, axes = DEVICE_LAYOUTS[layout](X)
    numpy_view = np.transpose(array, axes)
    return permute(to_xp(array), axes), numpy_view


@pytest.mark.parametrize("name", list(NAMESPACES))
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16"])
@pytest.mark.parametrize("layout", list(DEVICE_LAYOUTS))
@pytest.mark.parametrize("per_image", [False, True], ids=["dataset", "per-image"])
def test_exact_stats_identical_on_every_namespace(
    rng, monkeypatch, name, dtype, layout, per_image
):
    X = _random(rng, (5, 37, 23, 3), dtype)
    device, numpy_view = _device_view(name, layout, X)
    expected = PixelStats.from_view(numpy_view, per_image=per_image)
    assert PixelStats.from_view(device, per_image=per_image) == expected
    # Tiny device blocks: many int64 partial sums, images cut along their rows.
    monkeypatch.setattr(_reduce, "DEVICE_BLOCK_FACTOR", 1)
    monkeypatch.setattr(_reduce, "BLOCK_BYTES", 8 * 100)
    assert PixelStats.from_view(device, per_image=per_image) == expected
    _assert_exact(expected, numpy_view, per_image)


@pytest.mark.parametrize("name", list(NAMESPACES))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layout", list(DEVICE_LAYOUTS))
@pytest.mark.parametrize("per_image", [False, True], ids=["dataset", "per-image"])
@pytest.mark.parametrize("nan", [False, True], ids=["finite", "nan"])
def test_float_stats_on_every_namespace_match_numpy(
    rng, monkeypatch, name, dtype, layout, per_image, nan
):
    X = _float_data(rng, (5, 37, 23, 3), dtype)
    if nan:
        X[1, :, :, 0] = np.nan  # a whole image channel
        X[3, 2:4] = np.nan
    device, numpy_view = _device_view(name, layout, X)
    expected = PixelStats.from_view(numpy_view, per_image=per_image)
    for block_bytes in (None, 8 * 100):
        if block_bytes is not None:  # tiny device blocks, merged on the host
            monkeypatch.setattr(_reduce, "DEVICE_BLOCK_FACTOR", 1)
            monkeypatch.setattr(_reduce, "BLOCK_BYTES", block_bytes)
        got = PixelStats.from_view(device, per_image=per_image)
        assert got.input_dtype == dtype and got.n_images == 5
        assert_array_equal(got.count, expected.count)
        assert_array_equal(got.min, expected.min)
        assert_array_equal(got.max, expected.max)
        np.testing.assert_allclose(got.mean, expected.mean, rtol=1e-13)
        np.testing.assert_allclose(got.var, expected.var, rtol=1e-10)
