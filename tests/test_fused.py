"""The compiled (numba) kernel gives the NumPy steps' results to the bit.

Runs where numba is installed (the ``fast`` extra); the NumPy steps are the
reference, run in the same process by switching the compiled kernel off.
"""

from __future__ import annotations

from importlib.util import find_spec

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from sk_pixels import PixelStandardizer, PixelStats, _fused, _kernels

from .strategies import images

# A mark rather than importorskip: the tests are collected (and counted by the
# README's "Tested against" block) whether or not numba is installed.
pytestmark = pytest.mark.skipif(
    find_spec("numba") is None, reason="numba is not installed (extra 'fast')"
)


@pytest.fixture(autouse=True)
def _fused_allowed(monkeypatch):
    """This module tests the compiled kernels even under SK_PIXELS_FUSED=0."""
    monkeypatch.delenv("SK_PIXELS_FUSED", raising=False)
    monkeypatch.setattr(_fused, "_loaded", None)


@pytest.fixture
def numpy_steps(monkeypatch):
    """Run the block under it on the NumPy steps (compiled kernel off)."""

    def switch(on: bool) -> None:
        monkeypatch.setattr(_fused, "_loaded", False if on else None)

    return switch


def _bits(a: np.ndarray) -> np.ndarray:
    a = np.where(np.isnan(a), np.nan, a).astype(a.dtype)
    return a.view(f"u{a.dtype.itemsize}")


def _input(rng, dtype, shape=(2, 7, 9, 3)):
    dtype = np.dtype(dtype)
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        x = rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
        x.reshape(-1)[:3] = (info.min, info.max, 0)
        return x
    x = (rng.standard_normal(shape) * 100).astype(dtype)
    x.reshape(-1)[:4] = (np.nan, -0.0, 0.0, 1e-40)
    return x


# (scale, offset, center, clip): maps whose steps are all run, or some skipped.
MAPS = {
    "standardize": ([1 / 58.4, 1 / 57.1, 1 / 57.4], 0.0, [123.7, 116.3, 103.5], None),
    "divide by 255": (1 / 255, 0.0, None, None),
    "shift only": (1.0, 0.0, [3.0, 2.0, 1.0], None),
    "negative scale, -0 results": (-1.0, 0.0, None, None),
    "base and clip": ([0.1, 0.2, 0.3], 0.5, [100.0, 0.0, 50.0], (0.0, 1.0)),
    "clip at -0": (1.0, 0.0, None, (-1.0, -0.0)),
    "one channel at 0": ([1.0, 2.0, 3.0], [0.0, -0.0, 1.0], [0.0, 1.0, -0.0], None),
}

DTYPES = ["uint8", "uint16", "uint32", "int8", "int16", "int32", "float32", "float64"]


@pytest.mark.parametrize("name", list(MAPS))
@pytest.mark.parametrize(
    "dtype, out_dtype, in_place",
    [(d, o, False) for d in DTYPES for o in ("float32", "float64")]
    + [("float32", "float32", True), ("float64", "float64", True)],
    ids=str,
)
def test_fused_kernel_equals_numpy_steps_to_the_bit(
    name, dtype, out_dtype, in_place, rng, numpy_steps
):
    scale, offset, center, clip = MAPS[name]
    x = _input(rng, dtype)
    args = (np.broadcast_to(np.asarray(scale, np.float64), 3),)
    args += (np.broadcast_to(np.asarray(offset, np.float64), 3),)
    center = None if center is None else np.asarray(center, np.float64)
    results = []
    for numpy in (True, False):
        numpy_steps(numpy)
        src = x.copy()
        dst = src if in_place else np.empty(x.shape, out_dtype)
        with np.errstate(all="ignore"):
            observed = _kernels.affine(
                src, dst, *args, clip=clip, track_max=True, center=center
            )
        results.append((dst, observed))
    (expected, expected_max), (got, got_max) = results
    assert_array_equal(_bits(got), _bits(expected))
    assert got_max == expected_max or (np.isnan(got_max) and np.isnan(expected_max))


def test_fused_kernel_runs_where_numba_is_installed():
    assert _fused.available()
    x = np.zeros((1, 2, 2, 3), np.uint8)
    assert _fused.applies(x, np.empty(x.shape, np.float32))
    assert not _fused.applies(x, np.empty(x.shape, np.float16))
    assert not _fused.applies(x[:, ::-1], np.empty(x.shape, np.float32))


@pytest.mark.parametrize("numpy", [True, False], ids=["numpy", "fused"])
def test_overflow_is_an_error_on_both_kernels(numpy, numpy_steps):
    numpy_steps(numpy)
    X = np.full((1, 2, 2, 1), 3e30, np.float32)
    scaler = PixelStandardizer(mean=0.0, std=1e-10).fit(X)
    with pytest.raises(ValueError, match="overflowed"):
        scaler.transform(X)
    with pytest.raises(FloatingPointError), np.errstate(over="raise"):
        _kernels.affine(X, np.empty_like(X), np.full(1, 1e10), np.zeros(1))
    with pytest.warns(RuntimeWarning, match="overflow"), np.errstate(over="warn"):
        _kernels.affine(X, np.empty_like(X), np.full(1, 1e10), np.zeros(1))


@pytest.mark.parametrize("numpy", [True, False], ids=["numpy", "fused"])
def test_overflow_reaches_a_callback_or_log_like_numpys_own(numpy, numpy_steps):
    # np.seterrcall's two forms: a function called with ("overflow", flag), and
    # an object whose write() gets one "Warning: ..." line.
    numpy_steps(numpy)
    X = np.full((1, 2, 2, 1), 3e30, np.float32)
    calls, lines = [], []

    class Log:
        def write(self, text):
            lines.append(text)

    for mode, handler in (("call", lambda *a: calls.append(a)), ("log", Log())):
        old = np.seterrcall(handler)
        try:
            with np.errstate(over=mode):
                _kernels.affine(X, np.empty_like(X), np.full(1, 1e10), np.zeros(1))
        finally:
            np.seterrcall(old)
    assert [kind for kind, _ in calls] == ["overflow"]
    assert len(lines) == 1 and lines[0].startswith("Warning: overflow encountered")


@pytest.mark.parametrize(
    "value, disabled",
    [("0", True), ("off", True), ("false", True), ("", False), ("1", False)],
)
def test_environment_switch(value, disabled, monkeypatch):
    monkeypatch.setenv("SK_PIXELS_FUSED", value)
    assert _fused.disabled_by_environment() is disabled


@pytest.mark.parametrize("dtype", ["uint8", "int8", "uint16", "int16"])
@pytest.mark.parametrize(
    "shape",
    [(1, 1, 1, 3), (3, 5, 7, 3), (2, 64, 48, 3), (1, 300, 301, 4), (2, 9, 9)],
    ids=str,
)
def test_fused_exact_statistics_equal_the_numpy_engine(dtype, shape, rng, numpy_steps):
    info = np.iinfo(dtype)
    X = rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    X.reshape(-1)[:2] = (info.min, info.max)
    numpy_steps(False)
    fused = PixelStats.from_array(X, channel_axis=-1 if len(shape) == 4 else None)
    numpy_steps(True)
    numpy = PixelStats.from_array(X, channel_axis=-1 if len(shape) == 4 else None)
    assert fused == numpy
    assert fused.sum.tolist() == numpy.sum.tolist()
    assert_array_equal(fused.min, numpy.min)
    assert_array_equal(fused.max, numpy.max)


def test_fused_exact_statistics_flush_their_32_bit_partials(monkeypatch, numpy_steps):
    # 8-bit partial sums are 32-bit, flushed every _CHUNK8 rows (which cannot
    # wrap); a small chunk runs the flush many times on a small batch.
    assert _fused._CHUNK8 * 255**2 < 2**32
    monkeypatch.setattr(_fused, "_CHUNK8", 3)
    X = np.full((2, 40, 1024, 3), 255, np.uint8)
    X[0, 0, 0] = (0, 1, 2)
    numpy_steps(False)
    fused = PixelStats.from_array(X)
    fused_per_image = PixelStats.from_view(X, per_image=True)
    numpy_steps(True)
    assert fused == PixelStats.from_array(X)
    assert fused_per_image == PixelStats.from_view(X, per_image=True)


@pytest.mark.parametrize("tile_values", [None, 1], ids=["one-call", "image-by-image"])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
@pytest.mark.parametrize("clip", [None, (-1.0, 1.0)], ids=["no-clip", "clip"])
def test_fused_per_image_maps_equal_numpy_steps(
    dtype, clip, n_threads, tile_values, rng, numpy_steps, monkeypatch
):
    if tile_values is not None:  # groups of images of one image each
        monkeypatch.setattr(_kernels, "_TILE_VALUES", tile_values)
    x = _input(rng, dtype, shape=(5, 6, 7, 3))
    n, c = x.shape[0], x.shape[-1]
    scale = rng.random((n, 1, 1, c)) + 0.5
    center = rng.random((n, 1, 1, c)) * 100
    center[0] = 0.0  # an image with nothing to subtract
    results = []
    for numpy in (True, False):
        numpy_steps(numpy)
        dst = np.empty(x.shape, np.float32)
        with np.errstate(all="ignore"):
            observed = _kernels.affine(
                x, dst, scale, np.zeros_like(scale), clip, True, n_threads, 252, center
            )
        results.append((dst, observed))
    assert_array_equal(_bits(results[1][0]), _bits(results[0][0]))
    assert results[1][1] == results[0][1]


def test_fused_per_image_scope_equals_numpy_steps(rng, numpy_steps):
    X = _input(rng, "uint8", shape=(4, 9, 8, 3))
    X[1] = 77  # a constant image maps to exactly 0
    numpy_steps(True)
    expected = PixelStandardizer(scope="image").transform(X)
    numpy_steps(False)
    got = PixelStandardizer(scope="image").transform(X)
    assert_array_equal(_bits(got), _bits(expected))
    assert not got[1].any()


@pytest.mark.parametrize("dtype", ["uint8", "int16", "uint16"])
def test_fused_per_image_statistics_equal_the_numpy_engine(dtype, rng, numpy_steps):
    X = _input(rng, dtype, shape=(4, 31, 17, 3))
    X[2] = 9  # a constant image
    results = []
    for numpy in (True, False):
        numpy_steps(numpy)
        results.append(PixelStandardizer(scope="image").transform(X))
    assert_array_equal(_bits(results[1]), _bits(results[0]))
    assert not results[1][2].any()


# Batches of the per-image scope: odd sizes, one pixel, one and four channels,
# images whose rows have no long divisor (301 x 300), constant images.
PER_IMAGE_BATCHES = {
    "uint8 odd": ("uint8", (5, 7, 9, 3)),
    "uint8 one pixel": ("uint8", (2, 1, 1, 3)),
    "uint8 gray": ("uint8", (3, 13, 11, 1)),
    "uint8 large rows": ("uint8", (2, 301, 300, 4)),
    "uint8 two groups of images": ("uint8", (80, 40, 40, 3)),
    "uint16": ("uint16", (4, 31, 17, 3)),
    "uint16 two channels": ("uint16", (3, 64, 48, 2)),
    "int8": ("int8", (3, 5, 6, 3)),
    "int16": ("int16", (3, 9, 10, 3)),
    "float32 with NaN": ("float32", (3, 8, 9, 3)),
}

#: Layouts of the same batch: contiguous (the fused path), and ones the fused
#: path does not take (they fall back to the NumPy engine and steps).
LAYOUTS = {
    "contiguous": (lambda X: X, -1),
    "rows reversed (strided)": (lambda X: X[:, ::-1], -1),
    "Fortran order": (np.asfortranarray, -1),
    "channels first": (lambda X: np.ascontiguousarray(np.moveaxis(X, -1, 1)), 1),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("per_channel", [True, False], ids=["per-channel", "global"])
@pytest.mark.parametrize("batch", list(PER_IMAGE_BATCHES))
def test_per_image_scope_fused_equals_numpy_to_the_bit(
    batch, per_channel, layout, rng, numpy_steps
):
    dtype, shape = PER_IMAGE_BATCHES[batch]
    X = _input(rng, dtype, shape)
    # Constant images (zero std: mapped to exactly 0), at the ends of the range.
    info = np.iinfo(dtype) if X.dtype.kind in "ui" else None
    X[1], X[-1] = (0.5, 0.0) if info is None else (info.max, info.min)
    arrange, channel_axis = LAYOUTS[layout]
    X = arrange(X)
    results = []
    for numpy in (True, False):
        numpy_steps(numpy)
        scaler = PixelStandardizer(
            scope="image", per_channel=per_channel, channel_axis=channel_axis
        )
        results.append(scaler.transform(X))
    expected, got = results
    assert_array_equal(_bits(got), _bits(expected))
    assert not got[1].any() and not got[-1].any()
    assert_array_equal(_bits(got[1]), _bits(np.zeros_like(got[1])))  # no -0.0


def _recording(fn, calls: list):
    """``fn``, appending its name to ``calls`` at each call."""

    def call(*args, **kwargs):
        calls.append(fn.__name__)
        return fn(*args, **kwargs)

    return call


@pytest.mark.parametrize("per_channel", [True, False], ids=["per-channel", "global"])
def test_per_image_scope_takes_one_fused_call_per_batch(per_channel, rng, monkeypatch):
    # No Python per image: one statistics pass and one map over the batch (the
    # map takes groups of images of 2**16 coefficient values: here, all).
    calls = []
    for name in ("exact_sums_per_image", "affine_rows", "exact_sums"):
        monkeypatch.setattr(_fused, name, _recording(getattr(_fused, name), calls))
    X = _input(rng, "uint8", shape=(16, 24, 20, 3))
    PixelStandardizer(scope="image", per_channel=per_channel).transform(X)
    assert calls == ["exact_sums_per_image", "affine_rows"]


@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
def test_sums_that_could_pass_int64_are_python_ints(dtype, rng, monkeypatch):
    # Sums that could pass 2**62 in one kernel call (16-bit streams or images of
    # over 2**30 values per channel) are taken in parts added up as Python
    # ints, image by image; a low limit runs that on a small batch.
    X = _input(rng, dtype, shape=(3, 8, 9, 3))
    expected = PixelStats.from_view(X, per_image=True)
    expected_pooled = PixelStats.from_array(X)
    monkeypatch.setattr(_fused, "_INT64_SUMS", 1)
    assert PixelStats.from_array(X) == expected_pooled
    total, squares, lo, hi = _fused.exact_sums_per_image(X)
    assert total.dtype == squares.dtype == object
    assert total.tolist() == expected.sum.tolist()
    assert PixelStats.from_view(X, per_image=True) == expected
    assert_array_equal(lo, expected.min)
    assert_array_equal(hi, expected.max)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    X=images(dtypes=(np.uint8, np.uint16), max_side=40),
    per_channel=st.booleans(),
)
def test_per_image_scope_fused_equals_numpy_for_any_batch(X, per_channel, numpy_steps):
    results = []
    for numpy in (True, False):
        numpy_steps(numpy)
        scaler = PixelStandardizer(scope="image", per_channel=per_channel)
        results.append(scaler.transform(X))
    assert_array_equal(_bits(results[1]), _bits(results[0]))


def test_a_numba_that_fails_falls_back_to_numpy_with_a_warning(monkeypatch):
    def broken():
        raise RuntimeError("no locator available")

    monkeypatch.setattr(_fused, "_compile", broken)
    monkeypatch.setattr(_fused, "_loaded", None)
    with pytest.warns(RuntimeWarning, match="NumPy kernels run instead"):
        assert not _fused.available()
    X = np.arange(12, dtype=np.uint8).reshape(1, 2, 2, 3)
    assert_array_equal(
        PixelStandardizer(mean=1.0, std=2.0).fit(X).transform(X), (X - 1.0) / 2
    )
