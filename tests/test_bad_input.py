"""The bad-input matrix: every public entry point against every ugly input.

Each (entry point, input case, estimator configuration) either returns the
float64 NumPy reference of ``tests/_reference.py`` (to a few float32/float64
ulps of the terms of the affine map), or raises an error whose message names
the problem (pinned with ``match=``).  Never a crash deep inside NumPy, never a
silently wrong number, never NaN/inf from finite input, and the input is never
modified.

The cases are data (``CASES``); the entry points are the rows of ``ENTRIES``.
The file-level entry points (``load_json``, ``dataset_stats``, the CLI) have
their own tables at the end, run once ``sk_pixels.io`` / ``persist`` / ``cli``
exist.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal

from sk_pixels import PixelCenterer, PixelNormalizer, PixelStandardizer, PixelStats

from ._reference import (
    as_float64,
    canon,
    input_dtype,
    output_dtype,
    reference_transform,
)

_rng = np.random.default_rng(20261125)


def _u8(shape, lo=0, hi=256):
    return np.random.default_rng(sum(shape) + lo).integers(lo, hi, shape, dtype=np.uint8)


def _unit(shape, dtype=np.float64, seed=1):
    return np.random.default_rng(seed).random(shape).astype(dtype)


def _full_range(dtype, shape=(3, 4, 4, 3)):
    """Values spanning the whole dtype, its min and max included."""
    info = np.iinfo(dtype)
    rng = np.random.default_rng(np.dtype(dtype).num)
    X = rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
    X.flat[0], X.flat[1] = info.min, info.max
    return X


def _with_nans(fraction=0.2, shape=(3, 4, 4, 3)):
    X = _unit(shape)
    X[np.random.default_rng(3).random(shape) < fraction] = np.nan
    return X


def _nan_image():
    X = _unit((3, 4, 4, 3))
    X[1] = np.nan
    return X


def _nan_channel():
    X = _unit((2, 3, 3, 3))
    X[..., 0] = np.nan
    return X


def _readonly():
    X = _u8((2, 5, 5, 3))
    X.setflags(write=False)
    return X


def _with(value, at=(0, 0, 0, 0), base=None):
    def make():
        X = _unit((2, 3, 3, 3)) if base is None else base()
        X[at] = value
        return X

    return make


def _ids(items):
    return [item.id for item in items]


# -- expectations --------------------------------------------------------------
#: What a call should do: None = return the reference result; a tuple
#: ``(exception, match)`` = raise; ``("warn", category, match)`` = warn and
#: return the reference result.
Outcome = Any


def _learns(est) -> bool:
    return est._learns()


def _uses_preset(est) -> bool:
    return any(isinstance(est.get_params().get(k), str) for k in ("mean", "std"))


def _depends_on_unit_range(est) -> bool:
    return est._depends_on_unit_range()


@dataclass(frozen=True)
class Case:
    """One input of the matrix.

    ``make`` builds the X under test (fresh each call).  ``first`` builds a
    batch fitted before X (two-batch cases: X arrives at ``partial_fit``,
    ``transform`` or ``inverse_transform`` after ``first`` was learned).
    ``error`` is an outcome, or ``error(entry, est) -> outcome``.  ``params``
    are layout parameters given to every estimator and to ``from_array``.
    """

    id: str
    make: Callable[[], Any]
    error: Any = None
    first: Callable[[], Any] | None = None
    params: dict = field(default_factory=dict)
    channels: int = 3
    stats_error: Any = "same"  # outcome of PixelStats.from_array / merge
    xfail: dict = field(default_factory=dict)  # entry -> reason (known bug)

    def expect(self, entry: str, est) -> Outcome:
        err = self.error(entry, est) if callable(self.error) else self.error
        if entry == "inverse_transform" and est.scope in ("batch", "image"):
            return (ValueError, "cannot be inverted")
        if err is not None:
            return err
        if _uses_preset(est) and self.channels != 3:
            if entry in ("transform", "inverse_transform"):
                return (ValueError, "expecting 3 channels")
            return (ValueError, "preset 'imagenet' has 3 channel values, but X has")
        return None

    def expect_stats(self) -> Outcome:
        if self.stats_error == "same":
            err = self.error("from_array", None) if callable(self.error) else self.error
            return err
        return self.stats_error


def _raises(exc, match):
    return (exc, match)


_NO_PIXELS = _raises(ValueError, "images with no pixels")
_INF = _raises(ValueError, "infinity")


def _wrong_channels(entry, est):
    if entry == "fit":
        return None  # a refit on X alone is legitimate
    if est.per_channel:
        return _raises(ValueError, "X has 4 channels, but .* is expecting 3 channels")
    if entry == "partial_fit" and _learns(est):
        return _raises(ValueError, "statistics of 3 channels with statistics of 4")
    return None


def _feature_count_changes(entry, est):
    if entry in ("fit", "fit_stats", "from_array"):
        return None
    return _raises(ValueError, "X has 10 features, but .* is expecting 12 features")


def _nan_channel_first(entry, est):
    if entry in ("fit", "partial_fit", "from_array", "fit_stats"):
        if entry == "fit_stats" and _learns(est) and est.per_channel:
            return _raises(ValueError, r"learned no statistics for channel\(s\) \[0\]")
        return None
    if _learns(est) and est.per_channel:
        return _raises(ValueError, r"learned no statistics for channel\(s\) \[0\]")
    return None


def _all_nan(entry, est):
    if entry == "from_array" or not _learns(est):
        return None
    return _raises(ValueError, "learned no statistics for channel")


def _float_0_255(entry, est):
    if est is not None and _depends_on_unit_range(est) and entry != "inverse_transform":
        return ("warn", UserWarning, "max_value=255")
    return None


def _bool(entry, est):
    return _raises(ValueError, "dtype bool")


CASES = [
    # -- sizes ------------------------------------------------------------------
    Case("zero-images", lambda: np.zeros((0, 2, 2, 3), np.uint8),
         _raises(ValueError, r"0 sample\(s\)")),
    Case("zero-height", lambda: np.zeros((2, 0, 2, 3), np.uint8), _NO_PIXELS,
         stats_error=_raises(ValueError, "no pixels"),
         xfail={"from_array": "PixelStats.from_array crashes in NumPy: "
                "'zero-size array to reduction operation minimum'",
                "fit_stats": "same PixelStats.from_array crash"}),
    Case("zero-channels", lambda: np.zeros((2, 2, 2, 0), np.uint8),
         _raises(ValueError, "0 channels"), channels=0,
         stats_error=_raises(ValueError, "0 channels"),
         xfail={"from_array": "PixelStats.from_array accepts 0 channels and returns "
                "empty statistics instead of an error",
                "fit_stats": "same: from_array accepts 0 channels"}),
    Case("zero-features-2d", lambda: np.zeros((3, 0), np.uint8),
         _raises(ValueError, r"0 feature\(s\)"), channels=1),
    Case("1x1-images", lambda: _u8((6, 1, 1, 3))),
    Case("single-pixel-batch", lambda: _u8((1, 1, 1, 3))),
    Case("single-value-2d", lambda: np.array([[0.25]]), channels=1),
    Case("one-channel-4d", lambda: _u8((2, 3, 3, 1)), channels=1),
    Case("tall-thin", lambda: _u8((2, 1, 40, 3))),
    # -- dimensions and layout ----------------------------------------------------
    Case("scalar-0d", lambda: np.float64(0.5), _raises(ValueError, "got scalar array")),
    Case("1-D", lambda: np.arange(6, dtype=np.uint8),
         _raises(ValueError, "Expected 2D array, got 1D array")),
    Case("5-D", lambda: np.zeros((2, 2, 2, 2, 3), np.uint8),
         _raises(ValueError, "2, 3 or 4 dimensions.*got 5-D input")),
    Case("grayscale-3d", lambda: _u8((3, 4, 5)), channels=1),
    Case("flattened-2d", lambda: _u8((4, 12)), channels=1),
    Case("flattened-image-shape", lambda: _u8((4, 12)),
         params={"image_shape": (2, 2, 3)}),
    Case("flattened-image-shape-gray", lambda: _u8((4, 12)),
         params={"image_shape": (3, 4)}, channels=1),
    Case("channels-first", lambda: _u8((2, 3, 5, 4)), params={"channel_axis": 1}),
    Case("wrong-image-shape", lambda: _u8((4, 10)),
         _raises(ValueError, r"holds 12 values per image, but X has 10 features"),
         params={"image_shape": (2, 2, 3)}),
    Case("image-shape-vs-4d", lambda: _u8((2, 3, 3, 3)),
         _raises(ValueError, r"image_shape=\(2, 2, 3\) does not match"),
         params={"image_shape": (2, 2, 3)}),
    Case("channel-axis-out-of-range", lambda: _u8((2, 3, 3, 3)),
         _raises(ValueError, "channel_axis=4 does not exist"),
         params={"channel_axis": 4}),
    Case("channel-axis-0", lambda: _u8((2, 3, 3, 3)),
         _raises(ValueError, "channel_axis=0 does not exist"),
         params={"channel_axis": 0}),
    Case("channel-axis-none-4d", lambda: _u8((2, 3, 3, 3)),
         _raises(ValueError, "needs a channel axis, but channel_axis=None"),
         params={"channel_axis": None}),
    Case("wrong-channel-count", lambda: _u8((2, 3, 3, 4)), _wrong_channels,
         first=lambda: _u8((2, 3, 3, 3)), channels=4,
         stats_error=_raises(ValueError, "statistics of 3 channels with statistics of 4")),
    Case("feature-count-changes", lambda: _u8((2, 10)), _feature_count_changes,
         first=lambda: _u8((2, 12)), channels=1),
    Case("different-image-sizes", lambda: _u8((2, 5, 6, 3)),
         first=lambda: _u8((3, 4, 4, 3))),
    # -- non-finite and degenerate values -------------------------------------------
    Case("nan-some", _with_nans),
    Case("nan-whole-image", _nan_image),
    Case("nan-everywhere", lambda: np.full((2, 3, 3, 3), np.nan), _all_nan),
    Case("nan-channel-then-filled", lambda: _unit((2, 3, 3, 3)), _nan_channel_first,
         first=_nan_channel),
    Case("posinf", _with(np.inf), _INF),
    Case("neginf", _with(-np.inf), _INF),
    Case("nan-and-inf", _with(np.inf, base=_with_nans), _INF),
    Case("constant-uint8", lambda: np.full((3, 4, 4, 3), 7, np.uint8)),
    Case("constant-zero-float64", lambda: np.zeros((3, 4, 4, 3))),
    Case("constant-float32", lambda: np.full((3, 4, 4, 3), 0.3, np.float32)),
    Case("uint16-max-everywhere", lambda: np.full((3, 4, 4, 3), 65535, np.uint16)),
    Case("uint16-max-but-one", _with(0, base=lambda: np.full((3, 4, 4, 3), 65535,
                                                              np.uint16))),
    Case("negative-floats", lambda: _unit((3, 4, 4, 3), np.float32) * 1.5 - 0.5),
    Case("float-0-255-with-negatives",
         lambda: np.round(_unit((3, 4, 4, 3), np.float32) * 260 - 5), _float_0_255),
    # -- dtypes ---------------------------------------------------------------------
    Case("bool", lambda: np.ones((2, 3, 3, 3), bool), _bool,
         stats_error=_raises(ValueError, "dtype bool")),
    Case("complex", lambda: np.ones((2, 3, 3, 3), np.complex128),
         _raises(ValueError, "Complex data not supported")),
    Case("object-numbers", lambda: _unit((2, 3, 3, 3)).astype(object)),
    Case("object-strings", lambda: np.full((2, 3, 3, 3), "a", object),
         _raises(ValueError, "could not convert string to float")),
    Case("str-dtype", lambda: np.full((2, 3, 3, 3), "a"),
         _raises(ValueError, "bytes/strings")),
    Case("bytes-dtype", lambda: np.full((2, 3, 3, 3), b"a"),
         _raises(ValueError, "bytes/strings")),
    *[
        Case(f"{np.dtype(t).name}-full-range", lambda t=t: _full_range(t))
        for t in (np.uint8, np.uint16, np.int8, np.int16, np.int32, np.int64,
                  np.uint32, np.uint64)
    ],
    *[
        Case(f"{np.dtype(t).name}-unit", lambda t=t: _unit((3, 4, 4, 3), t))
        for t in (np.float16, np.float32, np.float64)
    ],
    # -- memory layouts and containers -------------------------------------------------
    Case("non-contiguous", lambda: _u8((4, 9, 9, 3))[:, ::2, 1::3]),
    Case("negative-strides", lambda: _u8((4, 5, 6, 3))[::-1, ::-1, :, ::-1]),
    Case("fortran-order", lambda: np.asfortranarray(_unit((3, 4, 5, 3)))),
    Case("read-only", _readonly),
    Case("broadcast-view", lambda: np.broadcast_to(_u8((1, 3, 3, 3)), (4, 3, 3, 3))),
    Case("dataframe-float", lambda: pd.DataFrame(_unit((5, 6)), columns=list("abcdef")),
         channels=1),
    Case("dataframe-int", lambda: pd.DataFrame(_u8((5, 6)).astype(np.int64)), channels=1),
    Case("list-4d", lambda: _u8((2, 2, 3, 3)).tolist()),
    Case("list-2d-floats", lambda: _unit((3, 5)).tolist(), channels=1),
    Case("ragged-list", lambda: [[0.1, 0.2], [0.3]],
         _raises(ValueError, "inhomogeneous shape")),
]

ESTIMATORS = {
    "normalizer-domain": PixelNormalizer(),
    "normalizer-dataset-pm1": PixelNormalizer(scope="dataset", feature_range=(-1, 1)),
    "normalizer-image": PixelNormalizer(scope="image"),
    "normalizer-batch-global": PixelNormalizer(scope="batch", per_channel=False),
    "centerer": PixelCenterer(),
    "centerer-global-normalize": PixelCenterer(per_channel=False, normalize=True),
    "standardizer": PixelStandardizer(),
    "standardizer-global-ddof1": PixelStandardizer(per_channel=False, ddof=1),
    "standardizer-image": PixelStandardizer(scope="image"),
    "standardizer-positive": PixelStandardizer(clip=1.0, rescale=True),
    "standardizer-imagenet": PixelStandardizer(mean="imagenet", std="imagenet"),
}

ENTRIES = ("fit", "partial_fit", "transform", "inverse_transform", "fit_stats")


def _matrix_params():
    params = []
    for entry in ENTRIES:
        for case in CASES:
            marks = []
            if entry in case.xfail:
                marks.append(pytest.mark.xfail(reason=case.xfail[entry], strict=True))
            params.append(pytest.param(entry, case, marks=marks, id=f"{entry}-{case.id}"))
    return params


#: Counted by tests/conftest.py for the README's "Tested against" block.
N_MATRIX_CASES = len(CASES)


# -- helpers -----------------------------------------------------------------------
def _snapshot(X):
    if isinstance(X, pd.DataFrame):
        return X.copy(deep=True)
    if isinstance(X, np.ndarray):
        return X.copy(), X.flags.writeable
    return copy.deepcopy(X)


def _assert_unchanged(X, snap):
    if isinstance(X, pd.DataFrame):
        pd.testing.assert_frame_equal(X, snap)
    elif isinstance(X, np.ndarray):
        before, writeable = snap
        assert X.flags.writeable == writeable
        if X.dtype.kind in "fc":
            assert_array_equal(X, before)  # NaN == NaN in assert_array_equal
        else:
            assert np.array_equal(X, before), "input array was modified"
    else:
        assert X == snap or repr(X) == repr(snap), "input was modified"


def _take(X, start, stop):
    if isinstance(X, pd.DataFrame):
        return X.iloc[start:stop]
    return X[start:stop]


def _n(X):
    return len(X)


def _check_against_reference(est, fit_batches, X, out, params):
    """``out`` equals the float64 reference to a few ulps of the affine terms."""
    assert isinstance(out, np.ndarray)
    assert out.shape == np.shape(as_float64(X))
    assert out.dtype == output_dtype(X)
    expected, magnitude, _, _ = reference_transform(est, fit_batches, X, params)
    got = canon(out, params)
    x_nan = np.isnan(canon(X, params))
    # NaN in, NaN out; finite in, finite out.
    assert_array_equal(np.isnan(got), x_nan)
    assert np.all(np.isfinite(got[~x_nan])), "finite input gave inf/NaN"
    eps = np.finfo(out.dtype).eps
    tol = 16 * eps * magnitude + np.finfo(out.dtype).tiny
    err = np.abs(got - expected)
    bad = ~x_nan & ~(err <= tol)
    assert not bad.any(), (
        f"{bad.sum()} values differ from the float64 reference; worst "
        f"error {err[bad].max():.3g} > tol {tol[bad].min():.3g}"
    )


def _call(expected, fn):
    """Run ``fn`` under the expected outcome; return its result (or None)."""
    if expected is None:
        return fn()
    if expected[0] == "warn":
        with pytest.warns(expected[1], match=expected[2]):
            return fn()
    exc, match = expected
    with pytest.raises(exc, match=match):
        fn()
    return None


def _good_like(case):
    """A valid 3-channel batch to fit before feeding a bad X (uint8)."""
    return _u8((2, 3, 3, 3))


# -- the matrix ------------------------------------------------------------------------
@pytest.mark.parametrize("est_id", list(ESTIMATORS))
@pytest.mark.parametrize(("entry", "case"), _matrix_params())
def test_bad_input_matrix(entry, case, est_id):
    from sklearn.base import clone

    est = clone(ESTIMATORS[est_id]).set_params(**case.params)
    expected = case.expect(entry, est)
    X = case.make()
    first = case.first() if case.first is not None else None
    snaps = [(X, _snapshot(X))] + ([(first, _snapshot(first))] if first is not None else [])
    failing = expected is not None and expected[0] != "warn"

    if entry == "fit":
        if first is not None:
            est.fit(first)
        out = _call(expected, lambda: est.fit(X).transform(X))
        fit_batches = [X]
    elif entry == "partial_fit":
        if first is not None:
            est.partial_fit(first)
            out = _call(expected, lambda: est.partial_fit(X).transform(X))
            fit_batches = [first, X]
        else:

            def stream():
                for start in range(0, max(_n(X), 1)):
                    est.partial_fit(_take(X, start, start + 1))
                return est.transform(X)

            out = _call(expected, stream)
            fit_batches = [X]
            if out is not None and input_dtype(X).kind in "ui" and input_dtype(X).itemsize <= 2:
                # Exact statistics: streaming equals fit to the bit.
                whole = clone(ESTIMATORS[est_id]).set_params(**case.params)
                assert_array_equal(out, whole.fit(X).transform(X))
    elif entry == "transform":
        fit_on = first if first is not None else (_good_like(case) if failing else X)
        est.fit(fit_on)
        out = _call(expected, lambda: est.transform(X))
        fit_batches = [fit_on]
    elif entry == "inverse_transform":
        fit_on = first if first is not None else (_good_like(case) if failing else X)
        if failing:
            if est.scope in ("batch", "image"):
                est.fit(_good_like(case))  # stateless: fitting never fails
            else:
                est.fit(fit_on)
            _call(expected, lambda: est.inverse_transform(X))
            out = None
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # [0, 1] warnings of fit
                est.fit(fit_on)
                Y = est.transform(X)
            Xr = _call(expected, lambda: est.inverse_transform(Y))
            _check_inverse(est, [fit_on], X, Y, Xr, case.params)
            out = None
    elif entry == "fit_stats":

        def via_stats():
            source = first if first is not None else X
            stats = PixelStats.from_array(source, **_stats_kwargs(case.params))
            return est.fit_stats(stats).transform(X)

        out = _call(expected, via_stats)
        fit_batches = [first if first is not None else X]
        if out is not None:
            direct = clone(ESTIMATORS[est_id]).set_params(**case.params)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                assert_array_equal(out, direct.fit(fit_batches[0]).transform(X))
    if out is not None:
        _check_against_reference(est, fit_batches, X, out, case.params)
    for obj, snap in snaps:
        _assert_unchanged(obj, snap)


def _stats_kwargs(params):
    return {k: v for k, v in params.items() if k in ("channel_axis", "image_shape")}


def _check_inverse(est, fit_batches, X, Y, Xr, params):
    """inverse_transform(Y) equals the reference inverse map of Y, and X unclipped."""
    assert Xr.shape == Y.shape and Xr.dtype == Y.dtype
    _, _, scale, offset = reference_transform(est, fit_batches, X, params)
    y = canon(Y, params)
    with np.errstate(invalid="ignore"):
        expected = (y - offset) / scale
        magnitude = np.abs(y / scale) + np.abs(offset / scale)
    got = canon(Xr, params)
    eps = np.finfo(Xr.dtype).eps
    nan = np.isnan(y)
    assert_array_equal(np.isnan(got), nan)
    assert np.all(np.abs(got - expected)[~nan] <= (16 * eps * magnitude)[~nan])
    if est.get_params().get("clip") is not None:
        return
    x = canon(X, params)
    # Round trip: X back up to the float rounding of Y (and of the inverse).
    tol = 32 * eps * (np.abs(x) + np.abs(offset / scale)) + np.finfo(Xr.dtype).tiny
    assert np.all(np.abs(got - x)[~nan] <= tol[~nan])
    dtype = input_dtype(X)
    if dtype.kind in "ui" and dtype.itemsize <= 2:
        restored = est.inverse_transform(Y, restore_dtype=True)
        assert restored.dtype == dtype
        assert_array_equal(restored, np.asarray(X))


# -- PixelStats.from_array (no estimator) -------------------------------------------
def _stats_params():
    return [
        pytest.param(
            case,
            marks=[pytest.mark.xfail(reason=case.xfail["from_array"], strict=True)]
            if "from_array" in case.xfail
            else [],
            id=f"from_array-{case.id}",
        )
        for case in CASES
    ]


@pytest.mark.parametrize("case", _stats_params())
def test_bad_input_pixel_stats(case):
    expected = case.expect_stats()
    X = case.make()
    first = case.first() if case.first is not None else None
    snaps = [(X, _snapshot(X))] + ([(first, _snapshot(first))] if first is not None else [])
    kwargs = _stats_kwargs(case.params)

    def compute():
        stats = PixelStats.from_array(X, **kwargs)
        if first is not None:
            stats = PixelStats.from_array(first, **kwargs) + stats
        return stats

    if expected is not None and expected[0] == "warn":
        expected = None  # PixelStats does not assume units
    stats = _call(expected, compute)
    if stats is not None:
        batches = [first, X] if first is not None else [X]
        channels = canon(X, case.params).shape[-1]
        P = np.concatenate([canon(B, case.params).reshape(-1, channels) for B in batches])
        count = np.sum(~np.isnan(P), axis=0)
        assert_array_equal(stats.count, count)
        assert stats.n_images == sum(_n(B) for B in batches)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN channels
            ref_mean = np.nanmean(P, axis=0)
            ref_var = np.nanvar(P, axis=0)
            ref_min, ref_max = np.nanmin(P, axis=0), np.nanmax(P, axis=0)
        np.testing.assert_allclose(stats.mean, ref_mean, rtol=1e-12, atol=0)
        scale = np.nanmax(np.abs(P), axis=0, initial=0) ** 2
        np.testing.assert_allclose(stats.var, ref_var, rtol=1e-9, atol=1e-12 * np.max(scale))
        assert_array_equal(stats.min, ref_min)
        assert_array_equal(stats.max, ref_max)
    for obj, snap in snaps:
        _assert_unchanged(obj, snap)


# -- fit_stats with things that are not statistics ----------------------------------
@pytest.mark.parametrize(
    ("stats", "exc", "match"),
    [
        pytest.param("stats.json", TypeError, "expects a PixelStats, got str", id="str"),
        pytest.param({"mean": [0.5]}, TypeError, "expects a PixelStats, got dict",
                     id="dict"),
        pytest.param(None, TypeError, "expects a PixelStats, got NoneType", id="none"),
        pytest.param(PixelStats(), ValueError, "PixelStats are empty", id="empty-stats"),
    ],
)
@pytest.mark.parametrize("est_id", ["centerer", "standardizer", "normalizer-dataset-pm1"])
def test_fit_stats_rejects_non_statistics(est_id, stats, exc, match):
    from sklearn.base import clone

    with pytest.raises(exc, match=match):
        clone(ESTIMATORS[est_id]).fit_stats(stats)


def test_fit_stats_preset_channel_mismatch_names_both_counts():
    stats = PixelStats.from_array(_u8((2, 3, 3, 1)))
    with pytest.raises(ValueError, match="preset 'imagenet' has 3 channel values, but X has 1"):
        PixelStandardizer(mean="imagenet", std="imagenet").fit_stats(stats)


# -- overflow of the output dtype ----------------------------------------------------
@pytest.mark.parametrize(
    "est",
    [PixelCenterer(), PixelStandardizer(mean=[0.0], std=[1e-3])],
    ids=["centerer", "standardizer-tiny-std"],
)
def test_transform_overflowing_float32_is_an_error_not_inf(est):
    X = np.array([[[[3e38], [-3e38]]]], np.float32)
    est.fit(X[:, :1])
    with pytest.raises(ValueError, match="overflowed: the result does not fit in float32"):
        est.transform(X)
    # float64 output holds the result: the remedy the message gives works.
    out = est.set_params(dtype="float64").transform(X)
    assert np.all(np.isfinite(out))
