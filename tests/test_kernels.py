"""The blocked affine kernel and the ``out=`` option equal the float64 formula.

Tolerance (documented in ``sk_pixels._kernels``): with output epsilon ``eps``,
``|y - ref| <= 4 * eps * (|x * scale| + |offset|)``, plus ``eps * |x * scale|``
when the cast of the input to the output dtype rounds (``int32`` -> ``float32``):
the bound of maps given as ``(scale, offset)`` (``center=None``).  Centred maps
meet the tighter bound of ``_kernels.ERROR_BOUND``: tests/test_transform_accuracy.py.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from sk_pixels import (
    PixelCenterer,
    PixelNormalizer,
    PixelStandardizer,
    _kernels,
    _threads,
)
from sk_pixels._layout import image_view

DTYPES = ["uint8", "uint16", "int8", "int16", "int32", "float16", "float32", "float64"]


def _random(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        low, high = max(info.min, -(2**20)), min(info.max, 2**20)
        x = rng.integers(low, high, size=shape, endpoint=True, dtype=dtype)
        x.reshape(-1)[:2] = (low, high)  # the extremes are always there
        return x
    return rng.random(shape).astype(dtype)


def _reference(x, scale, offset, clip, out_dtype):
    ref = x.astype(np.float64) * scale + offset
    if clip is not None:
        ref = np.clip(ref, *clip)
    return ref.astype(out_dtype), np.abs(x.astype(np.float64) * scale) + np.abs(offset)


def _assert_within_tolerance(x, y, scale, offset, clip=None):
    ref, magnitude = _reference(x, scale, offset, clip, y.dtype)
    eps = np.finfo(y.dtype).eps
    bound = 4 * eps * magnitude
    if x.dtype.kind in "iu" and np.iinfo(x.dtype).bits > np.finfo(y.dtype).nmant:
        bound = bound + eps * np.abs(x.astype(np.float64) * scale)
    err = np.abs(y.astype(np.float64) - ref.astype(np.float64))
    assert np.all(err <= bound), float(np.max(err - bound))


# Layouts: (make X from a channels-last batch, channel_axis, image_shape).
LAYOUTS = {
    "NHWC": (lambda X: X, -1, None),
    "NCHW": (lambda X: np.ascontiguousarray(np.moveaxis(X, -1, 1)), 1, None),
    "gray": (lambda X: np.ascontiguousarray(X[..., 0]), -1, None),
    "flat": (lambda X: X.reshape(len(X), -1), -1, "image"),
}


def _coefficients(rng, n, channels, per_image):
    shape = (n, 1, 1, channels) if per_image else (channels,)
    scale = rng.uniform(0.001, 3.0, size=shape) * rng.choice([-1, 1], size=shape)
    offset = rng.uniform(-5, 5, size=shape)
    return scale, offset


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("per_image", [False, True], ids=["per-channel", "per-image"])
@pytest.mark.parametrize(
    "shape",
    [(3, 5, 7, 3), (2, 37, 53, 3), (1, 301, 331, 3)],  # last: larger than a block
    ids=["small", "odd", "multi-block"],
)
def test_affine_matches_float64_reference(rng, dtype, layout, per_image, shape):
    make, channel_axis, image_shape = LAYOUTS[layout]
    X = make(_random(rng, shape, dtype))
    image_shape = shape[1:] if image_shape == "image" else None
    src = image_view(X, channel_axis, image_shape)
    out_dtype = np.float64 if dtype == "float64" else np.float32
    out = np.empty(X.shape, dtype=out_dtype)
    dst = image_view(out, channel_axis, image_shape)
    scale, offset = _coefficients(rng, src.shape[0], src.shape[-1], per_image)
    _kernels.affine(src, dst, scale, offset)
    _assert_within_tolerance(src, dst, scale, offset)


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32", "float64"])
@pytest.mark.parametrize(
    "strides",
    [
        (slice(None), slice(None, None, 2), slice(None, None, -1)),
        (slice(None, None, -1), slice(3, None), slice(None, None, 3)),
    ],
    ids=["step-and-reversed", "reversed-images-and-cropped"],
)
def test_affine_on_non_contiguous_input(rng, dtype, strides):
    X = _random(rng, (4, 41, 67, 3), dtype)[strides]
    out = np.empty(X.shape, dtype=np.float64 if dtype == "float64" else np.float32)
    scale, offset = _coefficients(rng, 4, 3, per_image=False)
    _kernels.affine(X, out, scale, offset)
    _assert_within_tolerance(X, out, scale, offset)


def test_affine_into_output_with_odd_strides(rng):
    # A caller's buffer that is neither channels-last nor channels-first.
    X = _random(rng, (3, 17, 19, 3), "uint8")
    big = np.full((3, 17, 38, 3), -7.0, dtype=np.float32)
    out = big[:, :, ::2]
    scale, offset = _coefficients(rng, 3, 3, per_image=True)
    _kernels.affine(X, out, scale, offset)
    _assert_within_tolerance(X, out, scale, offset)
    assert np.all(big[:, :, 1::2] == -7.0)


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_affine_clip_is_exact_and_keeps_nan(rng, dtype):
    X = _random(rng, (2, 9, 11, 3), dtype)
    if dtype == "float32":
        X[0, 0, 0, 0] = np.nan
    out = np.empty(X.shape, dtype=np.float32)
    scale, offset = np.array([0.05, 0.1, 0.2]), np.array([-1.0, -2.0, 0.5])
    _kernels.affine(X, out, scale, offset, clip=(-1.0, 1.0))
    assert np.nanmin(out) >= -1.0 and np.nanmax(out) <= 1.0
    _assert_within_tolerance(X[1], out[1], scale, offset, clip=(-1.0, 1.0))
    assert np.isnan(out[0, 0, 0, 0]) == (dtype == "float32")


def test_affine_tracks_the_nan_ignoring_maximum(rng):
    X = rng.random((3, 50, 60, 2)).astype(np.float32)
    X[1, 2, 3, 1] = np.nan
    X[2, 4, 5, 0] = 7.5
    out = np.empty_like(X)
    observed = _kernels.affine(X, out, np.ones(2), np.zeros(2), track_max=True)
    assert observed == 7.5
    assert np.isnan(_kernels.affine(X, out, np.ones(2), np.zeros(2)))


def test_affine_in_place_equals_out_of_place(rng):
    X = rng.random((2, 301, 331, 3))
    expected = np.empty_like(X)
    scale, offset = _coefficients(rng, 2, 3, per_image=True)
    _kernels.affine(X, expected, scale, offset)
    _kernels.affine(X, X, scale, offset)
    assert_array_equal(X, expected)


@pytest.mark.parametrize("per_image", [False, True], ids=["per-channel", "per-image"])
@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
def test_affine_threads_give_identical_output(rng, per_image, layout):
    make, channel_axis, _ = LAYOUTS[layout]
    X = make(_random(rng, (9, 61, 67, 3), "uint8"))
    src = image_view(X, channel_axis)
    scale, offset = _coefficients(rng, 9, 3, per_image)
    outs = []
    for n_threads in (1, 2, 3):
        out = np.empty(X.shape, dtype=np.float32)
        _kernels.affine(
            src,
            image_view(out, channel_axis),
            scale,
            offset,
            n_threads=n_threads,
            block=4096,
        )
        outs.append(out)
    assert_array_equal(outs[0], outs[1])
    assert_array_equal(outs[0], outs[2])


def test_affine_of_empty_batch_does_nothing():
    X = np.zeros((0, 4, 4, 3), dtype=np.uint8)
    out = np.empty(X.shape, dtype=np.float32)
    assert np.isnan(_kernels.affine(X, out, np.ones(3), np.zeros(3)))


# -- transform(X, out=...) ---------------------------------------------------------
ESTIMATORS = {
    "standardize-dataset": PixelStandardizer(),
    "standardize-imagenet": PixelStandardizer(mean="imagenet", std="imagenet"),
    "standardize-image-global": PixelStandardizer(scope="image", per_channel=False),
    "standardize-image": PixelStandardizer(scope="image"),
    "normalize-batch": PixelNormalizer(scope="batch"),
    "center-positive": PixelCenterer(normalize=True),
}


@pytest.mark.parametrize("name", list(ESTIMATORS))
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
def test_transform_into_out_equals_transform(rng, name, dtype):
    X = _random(rng, (5, 23, 29, 3), dtype)
    est = ESTIMATORS[name].fit(X)
    expected = est.transform(X)
    out = np.full(X.shape, np.nan, dtype=expected.dtype)
    result = est.transform(X, out=out)
    assert result is out
    assert_array_equal(out, expected)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_transform_in_place_of_float_input(rng, name):
    X = rng.random((4, 19, 21, 3)).astype(np.float32)
    est = ESTIMATORS[name].fit(X)
    expected = est.transform(X)
    result = est.transform(X, out=X)
    assert result is X
    assert_array_equal(X, expected)


def test_transform_into_float64_buffer_of_uint8_input(rng):
    X = _random(rng, (3, 8, 9, 3), "uint8")
    est = PixelStandardizer().fit(X)
    out = np.empty(X.shape, dtype=np.float64)
    est.transform(X, out=out)
    mean = X.reshape(-1, 3).astype(np.float64).mean(axis=0)
    std = X.reshape(-1, 3).astype(np.float64).std(axis=0)
    np.testing.assert_allclose(out, (X - mean) / std, rtol=1e-12, atol=1e-12)


def test_transform_into_channels_first_buffer(rng):
    X = np.ascontiguousarray(np.moveaxis(_random(rng, (3, 8, 9, 3), "uint8"), -1, 1))
    est = PixelStandardizer(channel_axis=1).fit(X)
    out = np.empty(X.shape, dtype=np.float32)
    assert_array_equal(est.transform(X, out=out), est.transform(X))


@pytest.mark.parametrize(
    "make_out, error, match",
    [
        (lambda X: np.empty((2, 3), np.float32), ValueError, "out has shape"),
        (lambda X: np.empty(X.shape, np.int32), ValueError, "float32 or float64"),
        (lambda X: [[0.0]], TypeError, "must be a NumPy array"),
    ],
    ids=["shape", "int-dtype", "list"],
)
def test_transform_out_errors_name_the_problem(rng, make_out, error, match):
    X = rng.random((2, 4, 4, 3)).astype(np.float32)
    est = PixelStandardizer().fit(X)
    with pytest.raises(error, match=match):
        est.transform(X, out=make_out(X))


# out= and X sharing memory: (make (X, out) from a float32 buffer, allowed). In
# place means out is X, or the same memory seen the same way (pointer, shape,
# strides and dtype); any other sharing is refused, however it is disguised.
def _interleaved(rng):
    buf = rng.random((2, 6, 5, 6)).astype(np.float32)
    return buf[..., ::2], buf[..., 1::2]


def _shifted(rng):
    flat = rng.random(2 * 6 * 5 * 3 + 1).astype(np.float32)
    return flat[:-1].reshape(2, 6, 5, 3), flat[1:].reshape(2, 6, 5, 3)


def _float64_seen_as_float32(rng):
    X = rng.random((2, 6, 5, 3))
    return X, X.view(np.float32)[..., ::2]  # same pointer, shape and strides


def _uint8_inside_float32(rng):
    out = np.empty((2, 6, 5, 3), dtype=np.float32)
    X = out.view(np.uint8)[..., :3]  # the bytes of the first pixel's floats
    X[...] = rng.integers(0, 256, X.shape, dtype=np.uint8)
    return X, out


OVERLAPS = {
    "out-is-X": (lambda rng: (lambda X: (X, X))(_float32(rng)), True),
    "same-memory-new-view": (lambda rng: (lambda X: (X, X[...]))(_float32(rng)), True),
    "interleaved-disjoint": (_interleaved, True),
    "reversed-rows": (lambda rng: (lambda X: (X, X[:, ::-1]))(_float32(rng)), False),
    "reversed-images": (lambda rng: (lambda X: (X, X[::-1]))(_float32(rng)), False),
    "shifted-by-one": (_shifted, False),
    "float64-seen-as-float32": (_float64_seen_as_float32, False),
    "uint8-inside-float32": (_uint8_inside_float32, False),
}


def _float32(rng):
    return rng.random((2, 6, 5, 3)).astype(np.float32)


@pytest.mark.parametrize("case", list(OVERLAPS))
def test_transform_out_overlapping_X_is_in_place_or_refused(rng, case):
    make, allowed = OVERLAPS[case]
    X, out = make(rng)
    est = PixelStandardizer(mean=0.25, std=0.5, max_value=1.0).fit(X[:1])
    expected = est.transform(X.copy())
    X_before = X.copy()
    if not allowed:
        with pytest.raises(ValueError, match="overlaps X without being X"):
            est.transform(X, out=out)
        assert_array_equal(X, X_before)
        return
    result = est.transform(X, out=out)
    assert result is out
    assert_array_equal(out, expected)
    if not np.may_share_memory(X, out) or not np.shares_memory(X, out):
        assert_array_equal(X, X_before)


def test_out_whose_overlap_numpy_cannot_decide_in_budget_is_refused(rng, monkeypatch):
    # Disjoint views with strides that np.shares_memory proves disjoint only
    # with more work than max_work=1: within the budget the views are
    # accepted; past it the overlap is assumed (never a false "no").
    from numpy.lib.stride_tricks import as_strided

    from sk_pixels import _kernels

    buf = rng.random(4096).astype(np.float32)
    X = as_strided(buf, (2, 3, 4, 3), (148, 12, 40, 176), writeable=False)
    out = as_strided(buf[15:], (2, 3, 4, 3), (204, 188, 108, 228))
    with pytest.raises(_kernels._TooHardError):
        np.shares_memory(out, X, max_work=1)
    est = PixelStandardizer(mean=0.25, std=0.5, max_value=1.0).fit(X[:1])
    expected = est.transform(X.copy())
    assert_array_equal(est.transform(X, out=out), expected)
    monkeypatch.setattr(_kernels, "_OVERLAP_WORK", 1)
    with pytest.raises(ValueError, match="overlaps X without being X"):
        est.transform(X, out=out)


@pytest.mark.parametrize("case", ["out-is-X", "interleaved", "float64-seen-as-float32"])
def test_device_transform_into_overlapping_out_reads_X_first(rng, case):
    torch = pytest.importorskip("torch")
    pytest.importorskip("array_api_compat")
    import sklearn

    if case == "out-is-X":
        X = torch.asarray(_float32(rng))
        out = X
    elif case == "interleaved":
        buf = torch.asarray(rng.random((2, 6, 5, 6)).astype(np.float32))
        X, out = buf[..., ::2], buf[..., 1::2]
    else:
        X = torch.asarray(rng.random((2, 6, 5, 3)))
        out = X.view(torch.float32)[..., ::2]
    est = PixelStandardizer(mean=0.25, std=0.5, max_value=1.0, dtype="float32")
    with sklearn.config_context(array_api_dispatch=True):
        est.fit(X[:1])
        expected = est.transform(X.clone()).numpy()
        result = est.transform(X, out=out)
    assert result is out
    assert_array_equal(result.numpy(), expected)


def test_transform_out_must_be_writeable(rng):
    X = rng.random((2, 4, 4, 3)).astype(np.float32)
    out = np.empty_like(X)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        PixelStandardizer().fit(X).transform(X, out=out)


def test_uint8_input_cannot_be_transformed_in_place(uint8_batch):
    est = PixelStandardizer().fit(uint8_batch)
    with pytest.raises(ValueError, match="float32 or float64"):
        est.transform(uint8_batch, out=uint8_batch)


def test_transform_with_out_allocates_nothing_batch_sized(rng):
    import tracemalloc

    X = rng.integers(0, 256, (32, 64, 64, 3), dtype=np.uint8)
    est = PixelStandardizer().fit(X)
    out = np.empty(X.shape, dtype=np.float32)
    est.transform(X, out=out)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        est.transform(X, out=out)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.05 * out.nbytes, (peak, out.nbytes)


# -- threads ----------------------------------------------------------------------
def test_small_work_stays_on_the_calling_thread():
    assert _threads.get_num_threads(_threads.MIN_PARALLEL_BYTES - 1) == 1


def test_threads_respect_user_and_environment_limits(monkeypatch):
    monkeypatch.setattr(_threads, "_cpu_count", lambda: 8)
    monkeypatch.setattr(_threads, "_library_limit", lambda: None)
    big = 10 * _threads.MIN_PARALLEL_BYTES
    assert _threads.get_num_threads(big) == 8
    monkeypatch.setenv("SK_PIXELS_NUM_THREADS", "3")
    assert _threads.get_num_threads(big) == 3
    _threads.set_num_threads(2)
    try:
        assert _threads.get_num_threads(big) == 2
    finally:
        _threads.set_num_threads(None)
    with pytest.raises(ValueError, match="int >= 1"):
        _threads.set_num_threads(0)


def test_threads_respect_threadpoolctl_limits(monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    monkeypatch.setattr(_threads, "_cpu_count", lambda: 8)
    big = 10 * _threads.MIN_PARALLEL_BYTES
    with threadpoolctl.threadpool_limits(1):
        assert _threads.get_num_threads(big) == 1


def test_run_returns_parts_in_order_and_uses_threads():
    import time

    seen = set()

    def work(part):
        seen.add(threading.get_ident())
        time.sleep(0.005)
        return list(part)

    parts = _threads.run(work, list(range(40)), 3)
    assert [x for part in parts for x in part] == list(range(40))
    assert len(parts) == 24 and len(seen) >= 2
    assert _threads.run(work, [], 4) == [[]]  # nothing to split: run inline
    assert _threads.run(work, [1, 2], 1) == [[1, 2]]


@pytest.mark.parametrize(
    "scale, offset",
    [(1.0, 0.0), (1 / 255, 0.0), (1.0, -0.5), (np.nan, 0.0)],
    ids=["identity", "scale-only", "shift-only", "nan-scale"],
)
def test_affine_skips_no_op_steps_without_changing_results(rng, scale, offset):
    X = _random(rng, (3, 21, 23, 3), "uint8")
    out = np.empty(X.shape, dtype=np.float32)
    _kernels.affine(X, out, np.full(3, scale), np.full(3, offset))
    expected = (X.astype(np.float32) * np.float32(scale)) + np.float32(offset)
    assert_array_equal(out, expected)


def test_threads_take_the_callers_floating_point_error_state():
    from sk_pixels import _threads

    with np.errstate(over="raise", invalid="ignore"):
        states = _threads.run(lambda part: np.geterr(), list(range(16)), n_threads=2)
    assert {s["over"] for s in states} == {"raise"}
    assert {s["invalid"] for s in states} == {"ignore"}
