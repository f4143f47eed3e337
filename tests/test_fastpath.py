"""transform's fast path for small NumPy calls keeps every check of the full path.

Each test first runs a transform that plans the fast path (a good call of the
same dtype and dimension), checks that the next good call takes it, then makes
the call under test: its errors, warnings and results must be those of the full
path, which a fresh estimator fitted the same way (and never planned) gives.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from sk_pixels import (
    PixelCenterer,
    PixelNormalizer,
    PixelStandardizer,
    _fastpath,
)
from sk_pixels._input import _InputMixin

from ._outcomes import OK, Raises, Warns, check


def _bits(a: np.ndarray) -> np.ndarray:
    """The bits of a float array (NaN payloads normalised), for exact equality."""
    a = np.where(np.isnan(a), np.nan, a).astype(a.dtype)
    return a.view(f"u{a.dtype.itemsize}")


def _uint8(rng, shape=(1, 6, 5, 3)):
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


ESTIMATORS = {
    "learned": lambda: PixelStandardizer(),
    "preset": lambda: PixelStandardizer(mean="imagenet", std="imagenet"),
    "clip-rescale": lambda: PixelStandardizer(clip=2.0, rescale=True),
    "global": lambda: PixelStandardizer(per_channel=False),
    "centerer": lambda: PixelCenterer(),
    "minmax": lambda: PixelNormalizer(),
    "domain": lambda: PixelNormalizer(scope="domain"),
    "fixed-array": lambda: PixelStandardizer(mean=[120.0, 110.0, 100.0], std=60.0),
    "robust": lambda: PixelStandardizer(quantile_range=(25, 75)),
    "percentiles": lambda: PixelNormalizer(
        scope="dataset", quantile_range=(1, 99), clip=True
    ),
}

#: Estimators whose transform the plans do not implement: never planned.
UNPLANNED = {
    "nodata": lambda: PixelStandardizer(nodata=0),
    "mean-image": lambda: PixelCenterer(per_pixel=True),
    "std-image": lambda: PixelStandardizer(per_pixel=True, per_channel=False),
    "batch-scope": lambda: PixelStandardizer(scope="batch"),
    # An object array of NumPy scalars has no fingerprint: no plan is kept.
    "object-array-mean": lambda: PixelStandardizer(
        mean=np.array([np.float64(v) for v in (10, 20, 30)], dtype=object), std=2.0
    ),
}


@pytest.mark.parametrize("name", list(UNPLANNED))
def test_unplanned_kinds_always_take_the_full_path(name, rng):
    X = _uint8(rng, (3, 4, 5, 3))
    X[0, 0, 0] = 0
    estimator = UNPLANNED[name]().fit(X)
    first = estimator.transform(X[:1])
    assert _fastpath._PLANS.get(estimator) is None
    assert_array_equal(_bits(estimator.transform(X[:1])), _bits(first))


def _planned(make, X):
    """An estimator fitted on X whose fast path is planned for X's kind."""
    estimator = make().fit(X)
    estimator.transform(X)  # full path, then planned
    return estimator


def _counting_validation(monkeypatch) -> list:
    """Count the full path's validations (``_InputMixin._validate`` calls)."""
    calls = []
    original = _InputMixin._validate

    def counted(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(_InputMixin, "_validate", counted)
    return calls


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_small_call_of_a_planned_kind_skips_the_validation(name, rng, monkeypatch):
    X = _uint8(rng)
    estimator = _planned(ESTIMATORS[name], X)
    calls = _counting_validation(monkeypatch)
    estimator.transform(_uint8(rng))
    assert calls == []


@pytest.mark.parametrize("name", list(ESTIMATORS))
@pytest.mark.parametrize(
    "dtype", ["uint8", "uint16", "int16", "float32", "float64"], ids=str
)
@pytest.mark.parametrize("channel_axis", [-1, 1, None], ids=lambda a: f"axis{a}")
def test_fast_path_equals_full_path_to_the_bit(name, dtype, channel_axis, rng):
    X = _uint8(rng, (3, 4, 5, 3)).astype(dtype)
    if dtype.startswith("float"):
        X = X / np.asarray(255, dtype)
        X.flat[0] = np.nan
    make = ESTIMATORS[name]
    if channel_axis is not None and name in ("preset", "fixed-array"):
        X = np.ascontiguousarray(np.moveaxis(X, -1, channel_axis))
    elif channel_axis is None and name in ("preset", "fixed-array"):
        pytest.skip("three fixed channel values need a channel axis")
    elif channel_axis == 1:
        X = np.ascontiguousarray(np.moveaxis(X, -1, 1))

    def fresh():
        estimator = make()
        estimator.set_params(channel_axis=channel_axis)
        return estimator.fit(X)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # presets on 0-1 floats warn, alike
        full = fresh().transform(X)
        planned = fresh()
        planned.transform(X)
        assert _fastpath._PLANS.get(planned) is not None
        fast = planned.transform(X)
    assert fast.dtype == full.dtype
    assert_array_equal(_bits(fast), _bits(full))


# Calls after the fast path was planned for (1, 6, 5, 3) uint8 input on a
# standardizer fitted on uint8 pixels: every row is what the full path does.
BAD_CALLS = {
    "four channels": (
        lambda X: np.zeros((1, 6, 5, 4), np.uint8),
        Raises(ValueError, "X has 4 channels, but PixelStandardizer is expecting 3"),
    ),
    "one HWC image without its batch axis": (
        lambda X: X[0],
        Raises(ValueError, "pass X\\[None\\]"),
    ),
    "uint16: another scale": (
        lambda X: X.astype(np.uint16) * 257,
        Warns(UserWarning, "was fitted on uint8 pixels"),
    ),
    "float 0-1: another scale": (
        lambda X: X / np.float32(255),
        Warns(UserWarning, "was fitted on uint8 pixels"),
    ),
    "inf": (
        lambda X: np.where(X == X.flat[0], np.inf, X).astype(np.float32),
        Raises(ValueError, "infinity"),
    ),
    "-inf": (
        lambda X: np.where(X == X.flat[0], -np.inf, X).astype(np.float32),
        Raises(ValueError, "infinity"),
    ),
    "NaN is allowed": (
        lambda X: np.where(X == X.flat[0], np.nan, X).astype(np.float32),
        OK,
    ),
    "bool": (lambda X: X > 100, Raises(ValueError, "dtype bool")),
    "complex": (lambda X: X.astype(np.complex64), Raises(ValueError, "omplex")),
    "empty batch": (lambda X: X[:0], Raises(ValueError, "0 sample")),
    "no pixels": (lambda X: X[:, :0], Raises(ValueError, "no pixels")),
    "channels-first by mistake": (
        lambda X: np.zeros((1, 3, 6, 7), np.uint8),
        Raises(ValueError, "expecting 3 channels"),
    ),
    "a list of lists": (lambda X: X.tolist(), OK),
    "a read-only array": (lambda X: _read_only(X), OK),
    "a non-contiguous view": (lambda X: np.concatenate([X, X], 2)[:, :, ::2], OK),
    "a batch large enough for threads": (lambda X: np.resize(X, (2, 600, 500, 3)), OK),
}


def _read_only(X):
    X = X.copy()
    X.flags.writeable = False
    return X


def _what_happens(call):
    """``(result, error, warnings)`` of ``call()``, every warning recorded."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result, error = call(), None
        except Exception as exc:  # noqa: BLE001 (compared, not handled)
            result, error = None, (type(exc), str(exc))
    return result, error, [(w.category, str(w.message)) for w in caught]


@pytest.mark.parametrize("case", list(BAD_CALLS))
def test_checks_hold_after_the_fast_path(case, rng):
    X = _uint8(rng)
    make_input, outcome = BAD_CALLS[case]
    planned = _planned(PixelStandardizer, X)
    planned.transform(X)  # the fast path
    got = _what_happens(lambda: planned.transform(make_input(X)))
    full = _what_happens(lambda: PixelStandardizer().fit(X).transform(make_input(X)))
    assert got[1:] == full[1:]  # the same error and the same warnings
    if got[0] is not None:
        assert_array_equal(_bits(np.asarray(got[0])), _bits(np.asarray(full[0])))
    # ... which are the documented ones.
    if isinstance(outcome, Raises):
        assert issubclass(got[1][0], outcome.exc) and re.search(
            outcome.match, got[1][1]
        )
    elif isinstance(outcome, Warns):
        assert any(re.search(outcome.match, message) for _, message in got[2])
    else:
        assert got[1] is None and got[2] == []


def test_layout_warnings_hold_after_the_fast_path(rng):
    X = _uint8(rng, (2, 6, 5, 5))  # five channels: not ambiguous
    planned = _planned(PixelStandardizer, X)
    with pytest.warns(UserWarning, match="pass channel_axis=1"):
        planned.transform(_uint8(rng, (2, 3, 6, 5)).repeat(5, axis=-1)[..., :5])
    gray = _uint8(rng, (2, 9, 8))
    planned = _planned(PixelStandardizer, gray)
    with pytest.warns(UserWarning, match="grayscale images"):
        planned.transform(_uint8(rng, (9, 8, 3)))


def test_2d_feature_count_is_checked_after_the_fast_path(rng):
    X = _uint8(rng, (4, 12))
    planned = _planned(PixelStandardizer, X)
    with pytest.raises(ValueError, match="X has 13 features, but"):
        planned.transform(_uint8(rng, (4, 13)))


def test_feature_names_are_checked_on_every_call(rng):
    pd = pytest.importorskip("pandas")
    X = _uint8(rng, (4, 3)).astype(np.float64)
    scaler = PixelStandardizer().fit(pd.DataFrame(X, columns=["r", "g", "b"]))
    with pytest.warns(UserWarning, match="feature names"):
        scaler.transform(X)
    with pytest.warns(UserWarning, match="feature names"):
        scaler.transform(X)


def test_set_output_holds_after_the_fast_path(rng):
    pd = pytest.importorskip("pandas")
    X = _uint8(rng, (4, 3))
    planned = _planned(PixelStandardizer, X)
    planned.set_output(transform="pandas")
    result = planned.transform(X)
    assert isinstance(result, pd.DataFrame)
    planned.set_output(transform="default")
    assert isinstance(planned.transform(X), np.ndarray)


OUT_CASES = {
    "float32": (lambda X: np.empty(X.shape, np.float32), OK),
    "float64": (lambda X: np.empty(X.shape, np.float64), OK),
    "wrong shape": (
        lambda X: np.empty(X.shape[1:], np.float32),
        Raises(ValueError, "shape"),
    ),
    "integer": (lambda X: np.empty(X.shape, np.int32), Raises(ValueError, "float")),
    "read-only": (
        lambda X: _read_only(np.empty(X.shape, np.float32)),
        Raises(ValueError, "read-only"),
    ),
    "a list": (lambda X: [0.0] * X.size, Raises(TypeError, "NumPy array")),
    "strided": (lambda X: np.empty((*X.shape[:-1], 6), np.float32)[..., ::2], OK),
}


@pytest.mark.parametrize("case", list(OUT_CASES))
def test_out_is_checked_after_the_fast_path(case, rng):
    X = _uint8(rng)
    make_out, outcome = OUT_CASES[case]
    planned = _planned(PixelStandardizer, X)
    planned.transform(X, out=np.empty(X.shape, np.float32))  # out= on the fast path
    out = make_out(X)
    result = check(outcome, lambda: planned.transform(X, out=out))
    if result is not None:
        assert result is out
        expected = PixelStandardizer().fit(X).transform(X, out=make_out(X))
        assert_array_equal(_bits(result), _bits(expected))


def test_out_overlapping_x_is_refused_after_the_fast_path(rng):
    flat = rng.random(90 + 1).astype(np.float32)
    X = flat[:-1].reshape(1, 6, 5, 3)
    planned = _planned(PixelStandardizer, X)
    expected = PixelStandardizer().fit(X).transform(X)
    with pytest.raises(ValueError, match="overlaps X"):
        planned.transform(X, out=flat[1:].reshape(X.shape))  # shifted by one value
    result = planned.transform(X, out=X)  # in place, allowed
    assert result is X
    assert_array_equal(_bits(X), _bits(expected))


def test_in_place_edits_change_the_fast_path_result(rng):
    X = _uint8(rng)
    mean = np.array([10.0, 20.0, 30.0])
    scaler = PixelStandardizer(mean=mean, std=2.0).fit(X)
    scaler.transform(X)
    first = scaler.transform(X)  # the fast path
    mean[0] = 90.0  # in place: the same object, another value
    expected = PixelStandardizer(mean=mean.copy(), std=2.0).fit(X).transform(X)
    assert_array_equal(scaler.transform(X), expected)
    assert not np.array_equal(first, expected)


def test_a_parameter_list_that_grows_takes_the_full_path(rng):
    X = _uint8(rng)
    mean = [10.0, 20.0, 30.0]
    scaler = _planned(lambda: PixelStandardizer(mean=mean, std=2.0), X)
    mean.append(40.0)
    with pytest.raises(ValueError, match="mean has 4 channel values, but X has 3"):
        scaler.transform(X)


def test_a_replaced_instance_dict_takes_the_full_path(rng):
    X = _uint8(rng)
    scaler = _planned(lambda: PixelStandardizer(mean=10.0, std=2.0), X)
    scaler.__dict__ = PixelStandardizer(mean=90.0, std=2.0).fit(X).__dict__
    expected = PixelStandardizer(mean=90.0, std=2.0).fit(X).transform(X)
    assert_array_equal(_bits(scaler.transform(X)), _bits(expected))


@pytest.mark.parametrize("with_out", [False, True], ids=["new", "out"])
def test_infinity_is_refused_after_a_float_fast_path(rng, with_out):
    X = _uint8(rng).astype(np.float32) / 255
    scaler = _planned(PixelStandardizer, X)
    X[0, 1, 1, 1] = np.inf
    out = np.empty(X.shape, np.float32) if with_out else None
    with pytest.raises(ValueError, match="infinity"):
        scaler.transform(X, out=out)


def test_fitted_attribute_edits_and_refits_change_the_fast_path_result(rng):
    X, Y = _uint8(rng), _uint8(rng)
    scaler = _planned(PixelCenterer, X)
    scaler.mean_[1] += 7.0  # in place on a fitted attribute
    full = PixelCenterer().fit(X)
    full.mean_[1] += 7.0
    assert_array_equal(scaler.transform(X), full.transform(X))
    scaler.partial_fit(Y)
    assert_array_equal(
        scaler.transform(X), PixelCenterer().fit(np.concatenate([X, Y])).transform(X)
    )
    scaler.set_params(per_channel=False).fit(X)
    assert_array_equal(
        scaler.transform(X), PixelCenterer(per_channel=False).fit(X).transform(X)
    )


def test_statistics_learned_from_nan_only_still_refuse(rng):
    X = np.full((1, 2, 2, 3), np.nan, np.float32)
    X[..., :2] = 0.5
    scaler = PixelStandardizer().fit(X[..., :2])
    scaler.transform(X[..., :2])
    scaler.transform(X[..., :2])
    with pytest.raises(ValueError, match="expecting 2 channels"):
        scaler.transform(X)


def test_units_warnings_hold_on_a_planned_float_kind(rng, monkeypatch):
    X = (rng.random((1, 6, 5, 3)) * 255).astype(np.float32)
    planned = _planned(PixelStandardizer, X)
    preset = _planned(
        lambda: PixelStandardizer(mean="imagenet", std="imagenet"), X / np.float32(255)
    )
    calls = _counting_validation(monkeypatch)
    with pytest.warns(UserWarning, match="was fitted on float32 pixels"):
        planned.transform(X / np.float32(255))  # the same kind: the fast path
    with pytest.warns(UserWarning, match="pass max_value=255"):
        preset.transform(X)
    assert calls == []  # both warnings came from the fast path


@pytest.mark.parametrize("name", ["learned", "preset", "clip-rescale", "minmax"])
@pytest.mark.parametrize("restore", [False, True], ids=["float", "restore_dtype"])
def test_inverse_fast_path_equals_full_path_to_the_bit(name, restore, rng, monkeypatch):
    X = _uint8(rng, (2, 6, 5, 3))
    make = ESTIMATORS[name]
    Y = make().fit(X).transform(X)
    full = make().fit(X).inverse_transform(Y, restore_dtype=restore)
    planned = make().fit(X)
    planned.inverse_transform(Y)  # full path, then planned
    calls = _counting_validation(monkeypatch)
    fast = planned.inverse_transform(Y, restore_dtype=restore)
    assert calls == []
    assert fast.dtype == full.dtype
    if restore:
        assert_array_equal(fast, full)
    else:
        assert_array_equal(_bits(fast), _bits(full))


INVERSE_CALLS = {
    "four channels": (
        lambda Y: np.zeros((1, 6, 5, 4), np.float32),
        Raises(ValueError, "expecting 3 channels"),
    ),
    "inf": (
        lambda Y: np.where(Y == Y.flat[0], np.inf, Y).astype(np.float32),
        Raises(ValueError, "infinity"),
    ),
    "one HWC image without its batch axis": (
        lambda Y: Y[0],
        Raises(ValueError, "pass X\\[None\\]"),
    ),
    "NaN is allowed": (
        lambda Y: np.where(Y == Y.flat[0], np.nan, Y).astype(np.float32),
        OK,
    ),
}


@pytest.mark.parametrize("case", list(INVERSE_CALLS))
def test_inverse_checks_hold_after_the_fast_path(case, rng):
    X = _uint8(rng)
    make_input, outcome = INVERSE_CALLS[case]
    planned = PixelStandardizer().fit(X)
    Y = planned.transform(X)
    planned.inverse_transform(Y)
    planned.inverse_transform(Y)  # the fast path
    got = _what_happens(lambda: planned.inverse_transform(make_input(Y)))
    full = _what_happens(
        lambda: PixelStandardizer().fit(X).inverse_transform(make_input(Y))
    )
    assert got[1:] == full[1:]
    if got[0] is not None:
        assert_array_equal(_bits(got[0]), _bits(full[0]))
    if isinstance(outcome, Raises):
        assert issubclass(got[1][0], outcome.exc) and re.search(
            outcome.match, got[1][1]
        )


def test_inverse_fast_path_sees_edited_fitted_attributes(rng):
    X = _uint8(rng)
    scaler = PixelCenterer().fit(X)
    Y = scaler.transform(X)
    scaler.inverse_transform(Y)
    scaler.inverse_transform(Y)
    scaler.mean_[0] += 5.0
    full = PixelCenterer().fit(X)
    full.mean_[0] += 5.0
    assert_array_equal(scaler.inverse_transform(Y), full.inverse_transform(Y))
