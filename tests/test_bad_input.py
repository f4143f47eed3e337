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
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
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
    return np.random.default_rng(sum(shape) + lo).integers(
        lo, hi, shape, dtype=np.uint8
    )


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


# -- expectations ----------------------------------------------------------------------
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
    good: Callable[[], Any] | None = None  # a valid fit batch for these params
    first_channels: int = 3
    xfail: dict = field(default_factory=dict)  # entry -> reason (known bug)

    def expect(self, entry: str, est) -> Outcome:
        err = self.error(entry, est) if callable(self.error) else self.error
        if entry == "inverse_transform" and est.scope in ("batch", "image"):
            return (AttributeError, "has no attribute 'inverse_transform'")
        preset_err = (
            ValueError,
            "preset 'imagenet' has 3 channel values, but X has",
            "x",
        )
        if self.first is not None and entry != "fit" and _uses_preset(est):
            if self.first_channels != 3:
                return preset_err  # the first batch cannot be fitted
        if err is not None and err[0] != "warn":
            return err
        channels = (
            self.channels
            if entry == "fit" or self.first is None
            else self.first_channels
        )
        if _uses_preset(est) and channels != 3:
            # No valid fit exists: fitting X itself is what fails.
            return preset_err
        return err

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
    if entry == "fit_stats":
        return None  # PixelStats hold pixels, not features: any count is accepted
    return _raises(ValueError, "X has 10 features, but .* is expecting 12 features")


def _nan_channel_first(entry, est):
    if entry == "load_json" and _learns(est):
        # save_json refuses statistics with a channel that counted no pixel,
        # even for per_channel=False where the pooled statistics are defined.
        return _raises(ValueError, "channel that counted no pixel")
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
    if entry == "load_json":
        return (ValueError, "channel that counted no pixel", "x")
    return (ValueError, "learned no statistics for channel", "x")


def _float_0_255(entry, est):
    if est is not None and _depends_on_unit_range(est) and entry != "inverse_transform":
        return ("warn", UserWarning, "max_value=255")
    return None


def _dataframe(entry, est):
    if entry == "fit_stats":
        # PixelStats carry no column names: sklearn's usual warning.
        return ("warn", UserWarning, "X has feature names, but .* fitted without")
    return None


def _bool(entry, est):
    return _raises(ValueError, "dtype bool")


CASES = [
    # -- sizes ------------------------------------------------------------------
    Case(
        "zero-images",
        lambda: np.zeros((0, 2, 2, 3), np.uint8),
        _raises(ValueError, r"0 sample\(s\)"),
    ),
    Case(
        "zero-height",
        lambda: np.zeros((2, 0, 2, 3), np.uint8),
        _NO_PIXELS,
        stats_error=_raises(ValueError, "no pixels"),
    ),
    Case(
        "zero-channels",
        lambda: np.zeros((2, 2, 2, 0), np.uint8),
        _raises(ValueError, "0 channels"),
        channels=0,
        first_channels=0,
        stats_error=_raises(ValueError, "0 channels"),
    ),
    Case(
        "zero-features-2d",
        lambda: np.zeros((3, 0), np.uint8),
        _raises(ValueError, r"0 feature\(s\)"),
        channels=1,
    ),
    Case("1x1-images", lambda: _u8((6, 1, 1, 3))),
    Case("single-pixel-batch", lambda: _u8((1, 1, 1, 3))),
    Case("single-value-2d", lambda: np.array([[0.25]]), channels=1),
    Case("one-channel-4d", lambda: _u8((2, 3, 3, 1)), channels=1),
    Case("tall-thin", lambda: _u8((2, 1, 40, 3))),
    # -- dimensions and layout ----------------------------------------------------
    Case("scalar-0d", lambda: np.float64(0.5), _raises(ValueError, "got scalar array")),
    Case(
        "1-D",
        lambda: np.arange(6, dtype=np.uint8),
        _raises(ValueError, "Expected 2D array, got 1D array"),
    ),
    Case(
        "5-D",
        lambda: np.zeros((2, 2, 2, 2, 3), np.uint8),
        _raises(ValueError, "2, 3 or 4 dimensions.*got 5-D input"),
    ),
    Case("grayscale-3d", lambda: _u8((3, 4, 5)), channels=1),
    Case("flattened-2d", lambda: _u8((4, 12)), channels=1),
    Case(
        "flattened-image-shape", lambda: _u8((4, 12)), params={"image_shape": (2, 2, 3)}
    ),
    Case(
        "flattened-image-shape-gray",
        lambda: _u8((4, 12)),
        params={"image_shape": (3, 4)},
        channels=1,
    ),
    Case("channels-first", lambda: _u8((2, 3, 5, 4)), params={"channel_axis": 1}),
    Case(
        "wrong-image-shape",
        lambda: _u8((4, 10)),
        _raises(
            ValueError,
            r"holds 12 values per image, but X has 10 features|"
            r"X has 10 features, but .* is expecting 12 features",
        ),
        params={"image_shape": (2, 2, 3)},
        good=lambda: _u8((2, 12)),
    ),
    Case(
        "image-shape-vs-4d",
        lambda: _u8((2, 3, 3, 3)),
        _raises(ValueError, r"image_shape=\(2, 2, 3\) does not match"),
        params={"image_shape": (2, 2, 3)},
    ),
    Case(
        "channel-axis-out-of-range",
        lambda: _u8((2, 3, 3, 3)),
        _raises(ValueError, "channel_axis=4 does not exist"),
        params={"channel_axis": 4},
    ),
    Case(
        "channel-axis-0",
        lambda: _u8((2, 3, 3, 3)),
        _raises(ValueError, "channel_axis=0 does not exist"),
        params={"channel_axis": 0},
    ),
    Case(
        "channel-axis-none-4d",
        lambda: _u8((2, 3, 3, 3)),
        _raises(ValueError, "needs a channel axis, but channel_axis=None"),
        params={"channel_axis": None},
    ),
    Case(
        "wrong-channel-count",
        lambda: _u8((2, 3, 3, 4)),
        _wrong_channels,
        first=lambda: _u8((2, 3, 3, 3)),
        channels=4,
        stats_error=_raises(
            ValueError, "statistics of 3 channels with statistics of 4"
        ),
    ),
    Case(
        "feature-count-changes",
        lambda: _u8((2, 10)),
        _feature_count_changes,
        first=lambda: _u8((2, 12)),
        channels=1,
        first_channels=1,
    ),
    Case(
        "different-image-sizes",
        lambda: _u8((2, 5, 6, 3)),
        first=lambda: _u8((3, 4, 4, 3)),
    ),
    # -- non-finite and degenerate values -------------------------------------------
    Case("nan-some", _with_nans),
    Case("nan-whole-image", _nan_image),
    Case("nan-everywhere", lambda: np.full((2, 3, 3, 3), np.nan), _all_nan),
    Case(
        "nan-channel-then-filled",
        lambda: _unit((2, 3, 3, 3)),
        _nan_channel_first,
        first=_nan_channel,
    ),
    Case("posinf", _with(np.inf), _INF),
    Case("neginf", _with(-np.inf), _INF),
    Case("nan-and-inf", _with(np.inf, base=_with_nans), _INF),
    Case("constant-uint8", lambda: np.full((3, 4, 4, 3), 7, np.uint8)),
    Case("constant-zero-float64", lambda: np.zeros((3, 4, 4, 3))),
    Case("constant-float32", lambda: np.full((3, 4, 4, 3), 0.3, np.float32)),
    Case("uint16-max-everywhere", lambda: np.full((3, 4, 4, 3), 65535, np.uint16)),
    Case(
        "uint16-max-but-one",
        _with(0, base=lambda: np.full((3, 4, 4, 3), 65535, np.uint16)),
    ),
    Case("negative-floats", lambda: _unit((3, 4, 4, 3), np.float32) * 1.5 - 0.5),
    Case(
        "float-0-255-with-negatives",
        lambda: np.round(_unit((3, 4, 4, 3), np.float32) * 260 - 5),
        _float_0_255,
    ),
    # -- dtypes ---------------------------------------------------------------------
    Case(
        "bool",
        lambda: np.ones((2, 3, 3, 3), bool),
        _bool,
        stats_error=_raises(ValueError, "dtype bool"),
    ),
    Case(
        "complex",
        lambda: np.ones((2, 3, 3, 3), np.complex128),
        _raises(ValueError, "Complex data not supported"),
    ),
    Case("object-numbers", lambda: _unit((2, 3, 3, 3)).astype(object)),
    Case(
        "object-strings",
        lambda: np.full((2, 3, 3, 3), "a", object),
        _raises(ValueError, "could not convert string to float"),
    ),
    Case(
        "str-dtype",
        lambda: np.full((2, 3, 3, 3), "a"),
        _raises(ValueError, "bytes/strings"),
    ),
    Case(
        "bytes-dtype",
        lambda: np.full((2, 3, 3, 3), b"a"),
        _raises(ValueError, "bytes/strings"),
    ),
    *[
        Case(f"{np.dtype(t).name}-full-range", lambda t=t: _full_range(t))
        for t in (
            np.uint8,
            np.uint16,
            np.int8,
            np.int16,
            np.int32,
            np.int64,
            np.uint32,
            np.uint64,
        )
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
    Case(
        "dataframe-float",
        lambda: pd.DataFrame(_unit((5, 6)), columns=list("abcdef")),
        _dataframe,
        channels=1,
    ),
    Case(
        "dataframe-int", lambda: pd.DataFrame(_u8((5, 6)).astype(np.int64)), channels=1
    ),
    Case("list-4d", lambda: _u8((2, 2, 3, 3)).tolist()),
    Case("list-2d-floats", lambda: _unit((3, 5)).tolist(), channels=1),
    Case(
        "ragged-list",
        lambda: [[0.1, 0.2], [0.3]],
        _raises(ValueError, "inhomogeneous shape"),
    ),
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
    "centerer-float64-out": PixelCenterer(dtype="float64"),
}

#: ``load_json``: fit, ``save_json``, ``load_json``, then transform: the loaded
#: estimator must give the original's output exactly (or the same error).
ENTRIES = (
    "fit",
    "partial_fit",
    "transform",
    "inverse_transform",
    "fit_stats",
    "load_json",
)


def _matrix_params():
    params = []
    for entry in ENTRIES:
        for case in CASES:
            marks = []
            if entry in case.xfail:
                marks.append(pytest.mark.xfail(reason=case.xfail[entry], strict=True))
            params.append(
                pytest.param(entry, case, marks=marks, id=f"{entry}-{case.id}")
            )
    return params


#: Known bugs outside the core, by (entry, case, estimator): strict xfails.
KNOWN_BUGS: dict = {}

#: Counted by tests/conftest.py for the README's "Tested against" block.
N_MATRIX_CASES = len(CASES)


# -- helpers ---------------------------------------------------------------------------
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
    assert out.dtype == (output_dtype(X) if est.dtype is None else np.dtype(est.dtype))
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
    exc, match = expected[:2]
    with pytest.raises(exc, match=match):
        fn()
    return None


def _good_like(case, expected):
    """A batch to fit before feeding a bad X: valid for the case's parameters
    when one exists (``case.good``), else a 3-channel uint8 batch; X itself
    when no fit can succeed (outcome flagged ``"x"``)."""
    if len(expected) == 3 and expected[2] == "x":
        return case.make()
    return case.good() if case.good is not None else _u8((2, 3, 3, 3))


# -- the matrix ------------------------------------------------------------------------
@pytest.mark.parametrize("est_id", list(ESTIMATORS))
@pytest.mark.parametrize(("entry", "case"), _matrix_params())
def test_bad_input_matrix(entry, case, est_id, json_dir, request):
    reason = KNOWN_BUGS.get((entry, case.id, est_id))
    if reason is not None:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))
    from sklearn.base import clone

    est = clone(ESTIMATORS[est_id]).set_params(**case.params)
    expected = case.expect(entry, est)
    X = case.make()
    first = case.first() if case.first is not None else None
    snaps = [(X, _snapshot(X))] + (
        [(first, _snapshot(first))] if first is not None else []
    )
    failing = expected is not None and expected[0] != "warn"

    if entry == "fit":
        if first is not None and not (failing and len(expected) == 3):
            est.fit(first)
        out = _call(expected, lambda: est.fit(X).transform(X))
        fit_batches = [X]
    elif entry == "partial_fit":
        if first is not None:
            out = _call(
                expected, lambda: est.partial_fit(first).partial_fit(X).transform(X)
            )
            fit_batches = [first, X]
        elif failing:
            out = _call(expected, lambda: est.partial_fit(X).transform(X))
        else:

            def stream():
                for start in range(0, max(_n(X), 1)):
                    est.partial_fit(_take(X, start, start + 1))
                return est.transform(X)

            out = _call(expected, stream)
            fit_batches = [X]
            if (
                out is not None
                and input_dtype(X).kind in "ui"
                and input_dtype(X).itemsize <= 2
            ):
                # Exact statistics: streaming equals fit to the bit.
                whole = clone(ESTIMATORS[est_id]).set_params(**case.params)
                assert_array_equal(out, whole.fit(X).transform(X))
    elif entry == "transform":
        fit_on = (
            first
            if first is not None
            else (_good_like(case, expected) if failing else X)
        )
        if failing:
            out = _call(expected, lambda: est.fit(fit_on).transform(X))
        else:
            out = _call(expected, lambda: est.fit(fit_on).transform(X))
        fit_batches = [fit_on]
    elif entry == "inverse_transform":
        fit_on = (
            first
            if first is not None
            else (_good_like(case, expected) if failing else X)
        )
        if failing:
            if est.scope in ("batch", "image"):
                # Refused before looking at X or at the fit.
                _call(expected, lambda: est.inverse_transform(X))
            else:
                _call(expected, lambda: est.fit(fit_on).inverse_transform(X))
            out = None
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # [0, 1] warnings of fit
                est.fit(fit_on)
                Y = est.transform(X)
            Xr = _call(expected, lambda: est.inverse_transform(Y))
            _check_inverse(est, [fit_on], X, Y, Xr, case.params)
            out = None
    elif entry == "load_json":
        from sk_pixels import load_json, save_json

        fit_on = (
            first
            if first is not None
            else (_good_like(case, expected) if failing else X)
        )
        path = json_dir / f"{entry}-{case.id}-{est_id}.json"

        def via_json():
            est.fit(fit_on)
            save_json(est, path)
            loaded = load_json(path)
            return loaded.transform(X), est.transform(X)

        result = _call(expected, via_json)
        out = None if result is None else result[0]
        if result is not None:
            assert_array_equal(result[0], result[1])
        fit_batches = [fit_on]
    elif entry == "fit_stats":

        def via_stats():
            source = first if first is not None else X
            stats = PixelStats.from_array(source, **_stats_kwargs(case.params))
            return est.fit_stats(stats).transform(X)

        out = _call(expected, via_stats)
        fit_batches = [first if first is not None else X]
        if out is not None and first is None:
            direct = clone(ESTIMATORS[est_id]).set_params(**case.params)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                assert_array_equal(out, direct.fit(fit_batches[0]).transform(X))
    if out is not None:
        _check_against_reference(est, fit_batches, X, out, case.params)
    for obj, snap in snaps:
        _assert_unchanged(obj, snap)


@pytest.fixture(scope="module")
def json_dir(tmp_path_factory):
    """Where the load_json entry writes its files: RAM when available, since
    ``save_json`` fsyncs every file and ~700 fsyncs cost seconds on a disk."""
    import shutil
    import tempfile
    from pathlib import Path

    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        folder = Path(tempfile.mkdtemp(prefix="sk_pixels-json-", dir="/dev/shm"))
        yield folder
        shutil.rmtree(folder, ignore_errors=True)
    else:
        yield tmp_path_factory.mktemp("json")


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


# -- PixelStats.from_array (no estimator) ----------------------------------------------
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
    snaps = [(X, _snapshot(X))] + (
        [(first, _snapshot(first))] if first is not None else []
    )
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
        P = np.concatenate(
            [canon(B, case.params).reshape(-1, channels) for B in batches]
        )
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
        np.testing.assert_allclose(
            stats.var, ref_var, rtol=1e-9, atol=1e-12 * np.max(scale)
        )
        assert_array_equal(stats.min, ref_min)
        assert_array_equal(stats.max, ref_max)
    for obj, snap in snaps:
        _assert_unchanged(obj, snap)


# -- fit_stats with things that are not statistics -------------------------------------
@pytest.mark.parametrize(
    ("stats", "exc", "match"),
    [
        pytest.param(
            "stats.json", TypeError, "expects a PixelStats, got str", id="str"
        ),
        pytest.param(
            {"mean": [0.5]}, TypeError, "expects a PixelStats, got dict", id="dict"
        ),
        pytest.param(None, TypeError, "expects a PixelStats, got NoneType", id="none"),
        pytest.param(
            PixelStats(), ValueError, "PixelStats are empty", id="empty-stats"
        ),
    ],
)
@pytest.mark.parametrize(
    "est_id", ["centerer", "standardizer", "normalizer-dataset-pm1"]
)
def test_fit_stats_rejects_non_statistics(est_id, stats, exc, match):
    from sklearn.base import clone

    with pytest.raises(exc, match=match):
        clone(ESTIMATORS[est_id]).fit_stats(stats)


def test_fit_stats_preset_channel_mismatch_names_both_counts():
    stats = PixelStats.from_array(_u8((2, 3, 3, 1)))
    with pytest.raises(
        ValueError, match="preset 'imagenet' has 3 channel values, but X has 1"
    ):
        PixelStandardizer(mean="imagenet", std="imagenet").fit_stats(stats)


# -- overflow of the output dtype ------------------------------------------------------
@pytest.mark.parametrize(
    "est",
    [PixelCenterer(), PixelStandardizer(mean=[0.0], std=[1e-3])],
    ids=["centerer", "standardizer-tiny-std"],
)
def test_transform_overflowing_float32_is_an_error_not_inf(est):
    X = np.array([[[[3e38], [-3e38]]]], np.float32)
    est.fit(X[:, :, :1])
    with pytest.raises(
        ValueError, match="overflowed: the result does not fit in float32"
    ):
        est.transform(X)
    # float64 output holds the result: the remedy the message gives works.
    out = est.set_params(dtype="float64").transform(X)
    assert np.all(np.isfinite(out))


# -- file-level entry points: dataset_stats and the CLI --------------------------------
@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A folder of 3 RGB PNGs, a grayscale PNG, an empty folder, a text file."""
    from PIL import Image

    root = tmp_path_factory.mktemp("files")
    good = root / "good"
    good.mkdir()
    rng = np.random.default_rng(0)
    for k in range(3):
        Image.fromarray(rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)).save(
            good / f"{k}.png"
        )
    (root / "empty").mkdir()
    (root / "hidden-only").mkdir()
    Image.fromarray(_u8((4, 4, 3))).save(root / "hidden-only" / ".x.png")
    (root / "text.png").write_text("not an image")
    (root / "notes.txt").write_text("not an image")
    Image.fromarray(_u8((4, 4, 3))).save(root / "mixed.png")
    return root


def _dataset_stats_cases():
    raises = _raises
    return {
        # (call(root) -> result, expected outcome)
        "missing-folder": (
            lambda r: ((r / "nope",), {}),
            raises(FileNotFoundError, "No such file or folder"),
        ),
        "empty-folder": (
            lambda r: ((r / "empty",), {}),
            raises(FileNotFoundError, "No image files found"),
        ),
        "hidden-files-only": (
            lambda r: ((r / "hidden-only",), {}),
            raises(FileNotFoundError, "No image files found"),
        ),
        "empty-list": (
            lambda r: (([],), {}),
            raises(FileNotFoundError, "No image source"),
        ),
        "glob-without-match": (
            lambda r: ((str(r / "*.jpeg"),), {}),
            raises(FileNotFoundError, "matches no file"),
        ),
        "text-named-png-raise": (
            lambda r: ((r / "text.png",), {}),
            raises(Exception, "text.png"),
        ),
        "text-named-png-skip": (
            lambda r: ((r / "text.png",), {"on_error": "skip"}),
            raises(ValueError, "All 1 image files were skipped"),
        ),
        "txt-file-given-explicitly": (
            lambda r: ((r / "notes.txt",), {}),
            raises(Exception, "notes.txt"),
        ),
        "bad-mode": (
            lambda r: ((r / "good",), {"mode": "CMYK"}),
            raises(ValueError, "Unsupported mode 'CMYK'"),
        ),
        "bad-on-error": (
            lambda r: ((r / "good",), {"on_error": "ignore"}),
            raises(ValueError, "on_error must be 'raise' or 'skip'"),
        ),
        "n-jobs-zero": (
            lambda r: ((r / "good",), {"n_jobs": 0}),
            raises(ValueError, "n_jobs must be a non-zero integer"),
        ),
        "n-jobs-float": (
            lambda r: ((r / "good",), {"n_jobs": 1.5}),
            raises(ValueError, "n_jobs must be a non-zero integer"),
        ),
        "chunk-size-zero": (
            lambda r: ((r / "good",), {"chunk_size": 0}),
            raises(ValueError, "chunk_size must be a positive integer"),
        ),
        "max-pixels-negative": (
            lambda r: ((r / "good",), {"max_pixels": -1}),
            raises(ValueError, "max_pixels must be a positive integer"),
        ),
        "max-pixels-too-small": (
            lambda r: ((r / "good",), {"max_pixels": 4}),
            raises(Exception, "exceeds the limit of 4 pixels"),
        ),
        "source-is-int": (lambda r: ((42,), {}), raises(TypeError, "source")),
        "source-is-none": (lambda r: ((None,), {}), raises(TypeError, "source")),
        "ok-folder": (lambda r: ((r / "good",), {}), None),
        "ok-list-with-duplicates": (
            lambda r: (([r / "good" / "0.png"] * 3,), {}),
            None,
        ),
        "ok-mixed-file-and-folder": (
            lambda r: (([r / "good", r / "mixed.png"],), {}),
            None,
        ),
        "ok-mode-L": (lambda r: ((r / "good",), {"mode": "L"}), None),
        "ok-mode-I16": (lambda r: ((r / "good",), {"mode": "I;16"}), None),
        "ok-skip-with-bad-file": (
            lambda r: (
                ([r / "good", r / "text.png"],),
                {"on_error": "skip", "return_skipped": True},
            ),
            None,
        ),
    }


DATASET_STATS_CASES = _dataset_stats_cases()


_DATASET_STATS_XFAIL: dict = {}


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            c,
            marks=[pytest.mark.xfail(reason=_DATASET_STATS_XFAIL[c], strict=True)]
            if c in _DATASET_STATS_XFAIL
            else [],
        )
        for c in DATASET_STATS_CASES
    ],
)
def test_bad_input_dataset_stats(files, case):
    io = pytest.importorskip("sk_pixels.io")
    from PIL import Image

    make, expected = DATASET_STATS_CASES[case]
    args, kwargs = make(files)
    result = _call(expected, lambda: io.dataset_stats(*args, **kwargs))
    if result is None:
        return
    stats = result[0] if isinstance(result, tuple) else result
    if isinstance(result, tuple):
        assert [os.path.basename(p) for p, _ in result[1]] == ["text.png"]
    mode = kwargs.get("mode", "RGB")
    sources = args[0] if isinstance(args[0], list) else [args[0]]
    paths = []
    for source in sources:
        source = os.fspath(source)
        found = (
            sorted(os.path.join(source, n) for n in os.listdir(source))
            if os.path.isdir(source)
            else [source]
        )
        paths += [p for p in found if p.endswith(".png") and "text" not in p]
    paths = list(dict.fromkeys(paths))
    pixels = []
    for p in paths:
        with Image.open(p) as im:
            a = np.asarray(im.convert("RGB" if mode in ("RGB",) else "L"))
        if mode == "I;16":
            a = a.astype(np.uint16) * 257
        pixels.append(a.reshape(-1, 1 if a.ndim == 2 else a.shape[-1]))
    P = np.concatenate(pixels).astype(np.float64)
    assert stats.n_images == len(paths)
    np.testing.assert_allclose(stats.mean, P.mean(axis=0), rtol=1e-15)
    np.testing.assert_allclose(stats.var, P.var(axis=0), rtol=1e-12)


def _cli_cases():
    return {
        # (argv(root, tmp) -> list, exit code, fragment of the one stderr line)
        "no-subcommand": (lambda r, t: [], 2, "required"),
        "unknown-subcommand": (lambda r, t: ["frobnicate"], 2, "invalid choice"),
        "stats-missing-folder": (lambda r, t: ["stats", r / "nope"], 1, "No such file"),
        "stats-empty-folder": (
            lambda r, t: ["stats", r / "empty"],
            1,
            "No image files",
        ),
        "stats-text-file": (lambda r, t: ["stats", r / "text.png"], 1, "text.png"),
        "stats-bad-mode": (
            lambda r, t: ["stats", r / "good", "--mode", "XYZ"],
            2,
            "invalid choice",
        ),
        "stats-jobs-zero": (
            lambda r, t: ["stats", r / "good", "--jobs", "0"],
            1,
            "n_jobs must be a non-zero integer",
        ),
        "stats-jobs-not-int": (
            lambda r, t: ["stats", r / "good", "--jobs", "two"],
            2,
            "invalid int value",
        ),
        "stats-bad-on-error": (
            lambda r, t: ["stats", r / "good", "--on-error", "x"],
            2,
            "invalid choice",
        ),
        "stats-json-into-missing-dir": (
            lambda r, t: ["stats", r / "good", "--json", t / "no" / "s.json"],
            1,
            "s.json|no",
        ),
        "fit-no-estimator": (
            lambda r, t: ["fit", r / "good", "-o", t / "m.json"],
            2,
            "--estimator",
        ),
        "fit-bad-suffix": (
            lambda r, t: [
                "fit",
                r / "good",
                "--estimator",
                "centerer",
                "-o",
                t / "m.txt",
            ],
            2,
            ".json or .joblib",
        ),
        "fit-preset-normalizer": (
            lambda r, t: [
                "fit",
                r / "good",
                "--estimator",
                "normalizer",
                "--preset",
                "imagenet",
                "-o",
                t / "m.json",
            ],
            2,
            "--preset",
        ),
        "fit-preset-global": (
            lambda r, t: [
                "fit",
                r / "good",
                "--estimator",
                "standardizer",
                "--preset",
                "imagenet",
                "--global",
                "-o",
                t / "m.json",
            ],
            2,
            "--global",
        ),
        "fit-preset-gray": (
            lambda r, t: [
                "fit",
                r / "good",
                "--estimator",
                "standardizer",
                "--preset",
                "imagenet",
                "--mode",
                "L",
                "-o",
                t / "m.json",
            ],
            2,
            "--mode",
        ),
        "fit-caffe-standardizer": (
            lambda r, t: [
                "fit",
                r / "good",
                "--estimator",
                "standardizer",
                "--preset",
                "caffe",
                "--mode",
                "BGR",
                "-o",
                t / "m.json",
            ],
            2,
            "no std",
        ),
        "fit-empty-folder": (
            lambda r, t: [
                "fit",
                r / "empty",
                "--estimator",
                "centerer",
                "-o",
                t / "m.json",
            ],
            1,
            "No image files",
        ),
        "apply-missing-model": (
            lambda r, t: ["apply", t / "none.json", r / "good", "-o", t / "o.npy"],
            1,
            "none.json",
        ),
        "apply-model-is-folder": (
            lambda r, t: ["apply", r / "good", r / "good", "-o", t / "o.npy"],
            1,
            "good",
        ),
        "apply-missing-images": (
            lambda r, t: ["apply", t / "model.json", r / "nope", "-o", t / "o.npy"],
            1,
            "No such file",
        ),
        "apply-wrong-mode-for-model": (
            lambda r, t: [
                "apply",
                t / "model.json",
                r / "good",
                "--mode",
                "L",
                "-o",
                t / "o.npy",
            ],
            2,
            "--mode",
        ),
        "apply-no-output": (
            lambda r, t: ["apply", t / "model.json", r / "good"],
            2,
            "-o/--output",
        ),
        "tour-missing-image": (lambda r, t: ["tour", r / "nope.jpg"], 1, "nope.jpg"),
        "tour-text-file": (lambda r, t: ["tour", r / "text.png"], 1, "text.png"),
        "plot-missing-folder": (
            lambda r, t: ["plot", r / "nope", "-o", t / "h.png"],
            1,
            "No such file",
        ),
        "plot-joblib-model-untrusted": (
            lambda r, t: [
                "plot",
                r / "good",
                "--model",
                t / "m.joblib",
                "-o",
                t / "h.png",
            ],
            2,
            "--trust-pickle",
        ),
    }


CLI_CASES = _cli_cases()


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_bad_input_cli(files, tmp_path, capsys, case):
    cli = pytest.importorskip("sk_pixels.cli")
    from sk_pixels import save_json

    save_json(
        PixelCenterer().fit(_u8((2, 4, 5, 3))),
        tmp_path / "model.json",
        channel_order="RGB",
    )
    (tmp_path / "m.joblib").write_bytes(b"\x80\x04not really a pickle")
    make, code, fragment = CLI_CASES[case]
    argv = [str(a) for a in make(files, tmp_path)]
    assert cli.main(argv) == code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("sk-pixels: error:"), err
    assert "Traceback" not in err
    import re

    assert re.search(fragment, lines[-1]), (fragment, lines[-1])
    # Nothing is written by a failing command.
    assert not (tmp_path / "o.npy").exists()
    assert not (tmp_path / "m.json").exists()


def test_bad_input_cli_help_and_version_exit_0(capsys):
    cli = pytest.importorskip("sk_pixels.cli")
    assert cli.main(["--version"]) == 0
    assert cli.main(["--help"]) == 0
    for command in ("stats", "fit", "apply", "tour", "plot"):
        assert cli.main([command, "--help"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize(
    "X",
    [
        np.full((1, 2, 2, 1), 65535, np.uint16),
        np.array([[[[0], [65535]], [[30000], [65535]]]], np.uint16),
        np.array([[[[0.0], [1e5]], [[5e4], [7e4]]]], np.float32),
    ],
    ids=["uint16-max-constant", "uint16-spread", "float32-above-65504"],
)
def test_standardizer_float16_output_of_large_pixels(X):
    est = PixelStandardizer(dtype="float16").fit(X)
    out = est.transform(X)
    expected = (X.astype(np.float64) - est.mean_) / np.where(est.std_ > 0, est.std_, 1)
    np.testing.assert_allclose(out.astype(np.float64), expected, atol=4e-3)


# -- properties over random inputs -----------------------------------------------------
_ALL_DTYPES = (
    np.uint8,
    np.uint16,
    np.uint32,
    np.uint64,
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.float16,
    np.float32,
    np.float64,
)


def _random_batch(data):
    """Any numeric dtype over its whole range (floats in [0, 1]); any layout."""
    dtype = np.dtype(data.draw(st.sampled_from(_ALL_DTYPES), label="dtype"))
    shape = data.draw(
        st.tuples(
            st.integers(1, 3),
            st.integers(1, 4),
            st.integers(1, 4),
            st.sampled_from([1, 3]),
        ),
        label="shape",
    )
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        elements = st.integers(int(info.min), int(info.max))
    else:
        elements = st.floats(0.0, 1.0, width=8 * dtype.itemsize)
    X = data.draw(hnp.arrays(dtype, shape, elements=elements), label="X")
    if data.draw(st.booleans(), label="reverse strides"):
        X = X[::-1, :, ::-1]
    return X


def _property_estimators():
    return [e for k, e in ESTIMATORS.items() if "imagenet" not in k]


@settings(max_examples=300, deadline=None)
@given(data=st.data(), est=st.sampled_from(_property_estimators()))
def test_finite_input_gives_finite_output_and_is_never_modified(data, est):
    from sklearn.base import clone

    X = _random_batch(data)
    before = X.copy()
    est = clone(est)
    out = est.fit(X).transform(X)
    assert np.all(np.isfinite(out))
    _check_against_reference(est, [X], X, out, {})
    assert_array_equal(X, before)
    if est.scope in ("dataset", "domain"):
        back = est.inverse_transform(out)
        assert np.all(np.isfinite(back))


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize(
    ("est", "X", "match"),
    [
        pytest.param(
            PixelCenterer(), np.full((1, 1, 2, 1), 1e308), "mean of channel", id="mean"
        ),
        pytest.param(
            PixelStandardizer(),
            np.array([[[[1e200], [-1e200], [3e199]]]]),
            "variance of channel",
            id="variance",
        ),
    ],
)
@pytest.mark.parametrize("entry", ["fit", "fit_stats"])
def test_statistics_overflowing_float64_are_an_error_not_inf(est, X, match, entry):
    # Finite pixels whose sum or squares exceed float64: refusing to fit beats
    # returning inf/NaN (or dividing by an infinite std treated as 1).
    from sklearn.base import clone

    est = clone(est)
    with pytest.raises(ValueError, match=f"The {match}.* overflowed float64"):
        if entry == "fit":
            est.fit(X)
        else:
            with np.errstate(over="ignore", invalid="ignore"):
                stats = PixelStats.from_array(X)
            est.fit_stats(stats)
    assert not hasattr(est, "stats_")
    # The normalizer needs only min and max, which never overflow.
    out = PixelNormalizer(scope="dataset").fit(X).transform(X)
    assert np.all(np.isfinite(out))
