"""Bad inputs of the estimators: what ``fit``, ``partial_fit``, ``transform``,
``inverse_transform`` and ``fit_stats`` do with every input of
``tests/_bad_arrays.py``, for a dozen estimator configurations.

The law: each call either returns the float64 NumPy reference of
``tests/_reference.py`` (to a few float32/float64 ulps of the terms of the
affine map), or raises the error of ``OUTCOMES`` (its message pinned).  Never a
crash deep inside NumPy, never a silently wrong number, never NaN/inf from
finite input, and the input is never modified.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_array_equal
from sklearn.base import clone

from sk_pixels import PixelCenterer, PixelNormalizer, PixelStandardizer, PixelStats

from ._bad_arrays import ARRAYS, Untouched, layout_kwargs, outcome_table, u8
from ._outcomes import OK, Raises, Warns, check
from ._reference import check_against_reference, check_inverse, input_dtype

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

ENTRIES = ("fit", "partial_fit", "transform", "inverse_transform", "fit_stats")


# -- what the estimator's parameters say (public API only) -----------------------------
def uses_preset(est) -> bool:
    """``mean`` or ``std`` names a preset."""
    return any(isinstance(est.get_params().get(k), str) for k in ("mean", "std"))


def learns(est) -> bool:
    """``fit`` learns statistics: scope "dataset", not every statistic given."""
    params = est.get_params()
    given = [params[k] for k in ("mean", "std") if k in params]
    return params["scope"] == "dataset" and (not given or None in given)


def assumes_unit_range(est) -> bool:
    """Float input must lie in [0, 1]: a preset, ``normalize=True`` or scope
    "domain" read float pixels in [0, 1] units."""
    params = est.get_params()
    return uses_preset(est) or params.get("normalize") or params["scope"] == "domain"


# -- the table of outcomes -------------------------------------------------------------
class RaisesWhenFittedOnX(Raises):
    """Raised when X itself is the fit batch: the failure belongs to X's
    statistics, so the entries that fit before their call fit X, not a good
    batch (and ``fit`` does not fit ``first`` before X)."""


PRESET_CHANNELS = RaisesWhenFittedOnX(
    ValueError, "preset 'imagenet' has 3 channel values, but X has"
)
NOT_INVERTIBLE = Raises(AttributeError, "has no attribute 'inverse_transform'")
NO_PIXELS = Raises(ValueError, "images with no pixels")
INF = Raises(ValueError, "infinity")


def wrong_channels(entry, est):
    """A refit on X alone is legitimate; afterwards a per-channel estimator
    refuses X's 4 channels, and a global one refuses to merge them."""
    if entry == "fit":
        return OK
    if est.per_channel:
        return Raises(ValueError, "X has 4 channels, but .* is expecting 3 channels")
    if entry == "partial_fit" and learns(est):
        return Raises(ValueError, "statistics of 3 channels with statistics of 4")
    return OK


def feature_count_changes(entry, est):
    """Statistics hold pixels, not features: only a fitted estimator's
    ``transform`` and ``partial_fit`` refuse the new feature count."""
    if entry in ("fit", "fit_stats"):
        return OK
    return Raises(ValueError, "X has 10 features, but .* is expecting 12 features")


def nan_channel_first(entry, est):
    """A channel that counted no pixel cannot scale new data."""
    if learns(est) and est.per_channel and entry not in ("fit", "partial_fit"):
        return Raises(ValueError, r"learned no statistics for channel\(s\) \[0\]")
    return OK


def all_nan(entry, est):
    """Statistics learned from NaN alone cannot scale anything."""
    if not learns(est):
        return OK
    return RaisesWhenFittedOnX(ValueError, "learned no statistics for channel")


def one_value(entry, est):
    """A std with ddof=1 needs two values: one pixel is refused at fit."""
    if learns(est) and getattr(est, "std", "") is None and est.ddof >= 1:
        return RaisesWhenFittedOnX(ValueError, "ddof=1 needs more than 1 pixel")
    return OK


def float_0_255(entry, est):
    """Float input in 0-255 units warns where [0, 1] units are assumed."""
    if assumes_unit_range(est) and entry != "inverse_transform":
        return Warns(UserWarning, "max_value=255")
    return OK


def dataframe(entry, est):
    """PixelStats carry no column names: sklearn's usual warning at fit_stats."""
    if entry == "fit_stats":
        return Warns(UserWarning, "X has feature names, but .* fitted without")
    return OK


#: Inputs not listed here are accepted by every entry and estimator.
OUTCOMES = outcome_table(
    {
        "zero-images": Raises(ValueError, r"0 sample\(s\)"),
        "zero-height": NO_PIXELS,
        "zero-channels": Raises(ValueError, "0 channels"),
        "zero-features-2d": Raises(ValueError, r"0 feature\(s\)"),
        "scalar-0d": Raises(ValueError, "got scalar array"),
        "1-D": Raises(ValueError, "Expected 2D array, got 1D array"),
        "wrong-image-shape": Raises(
            ValueError,
            r"holds 12 values per image, but X has 10 features|"
            r"X has 10 features, but .* is expecting 12 features",
        ),
        "image-shape-vs-4d": Raises(
            ValueError, r"image_shape=\(2, 2, 3\) does not match"
        ),
        "channel-axis-out-of-range": Raises(
            ValueError, "channel_axis=4 does not exist for 4-D input"
        ),
        "channel-axis-0": Raises(ValueError, "channel_axis=0 does not exist"),
        "wrong-channel-count": wrong_channels,
        "feature-count-changes": feature_count_changes,
        "nan-everywhere": all_nan,
        "single-value-2d": one_value,
        "nan-channel-then-filled": nan_channel_first,
        "posinf": INF,
        "neginf": INF,
        "nan-and-inf": INF,
        "float-0-255-with-negatives": float_0_255,
        "bool": Raises(ValueError, r"dtype bool.*astype\(np.uint8\)"),
        "complex": Raises(ValueError, "Complex data not supported"),
        "object-strings": Raises(ValueError, "could not convert string to float"),
        "str-dtype": Raises(ValueError, "bytes/strings"),
        "bytes-dtype": Raises(ValueError, "bytes/strings"),
        "dataframe-float": dataframe,
        "ragged-list": Raises(ValueError, "inhomogeneous shape"),
    },
    default=OK,
)


def expected(array, entry, est):
    """The outcome of ``entry`` on ``array`` for ``est``: the table's, after
    the rules that hold for every input."""
    if entry == "inverse_transform" and est.scope in ("batch", "image"):
        return NOT_INVERTIBLE  # refused before looking at X or at the fit
    rule = OUTCOMES[array.id]
    outcome = rule(entry, est) if callable(rule) else rule
    if array.first is not None and entry != "fit" and uses_preset(est):
        if array.first_channels != 3:
            return PRESET_CHANNELS  # the first batch cannot be fitted
    if isinstance(outcome, Raises):
        return outcome
    fitted_channels = (
        array.channels
        if entry == "fit" or array.first is None
        else array.first_channels
    )
    if uses_preset(est) and fitted_channels != 3:
        return PRESET_CHANNELS  # no valid fit exists: fitting X is what fails
    return outcome


# -- the entries -----------------------------------------------------------------------
def fit_batch(array, outcome, X):
    """What the entries that fit before their call fit (without ``first``): X
    when it can be fitted, else a good batch for the input's parameters."""
    if isinstance(outcome, RaisesWhenFittedOnX) or not isinstance(outcome, Raises):
        return X
    return array.good() if array.good is not None else u8((2, 3, 3, 3))


def _run(entry, array, est, est_id, outcome, X, first):
    """Run ``entry`` under ``outcome``; return ``(output, fit_batches)``."""
    failing = isinstance(outcome, Raises)
    if entry == "fit":
        if first is not None and not isinstance(outcome, RaisesWhenFittedOnX):
            est.fit(first)
        return check(outcome, lambda: est.fit(X).transform(X)), [X]
    if entry == "partial_fit":
        if first is not None:
            call = lambda: est.partial_fit(first).partial_fit(X).transform(X)  # noqa: E731
            return check(outcome, call), [first, X]
        if failing:
            return check(outcome, lambda: est.partial_fit(X).transform(X)), [X]

        def stream():
            rows = X.iloc if hasattr(X, "iloc") else X
            for start in range(max(len(X), 1)):
                est.partial_fit(rows[start : start + 1])
            return est.transform(X)

        out = check(outcome, stream)
        dtype = input_dtype(X)
        if out is not None and dtype.kind in "ui" and dtype.itemsize <= 2:
            # Exact statistics: streaming equals fit to the bit.
            whole = clone(ESTIMATORS[est_id]).set_params(**array.params)
            assert_array_equal(out, whole.fit(X).transform(X))
        return out, [X]
    fit_on = first if first is not None else fit_batch(array, outcome, X)
    if entry == "transform":
        return check(outcome, lambda: est.fit(fit_on).transform(X)), [fit_on]
    if entry == "inverse_transform":
        if failing:
            if est.scope in ("batch", "image"):
                check(outcome, lambda: est.inverse_transform(X))
            else:
                check(outcome, lambda: est.fit(fit_on).inverse_transform(X))
            return None, [fit_on]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # [0, 1] warnings of fit
            est.fit(fit_on)
            Y = est.transform(X)
        Xr = check(outcome, lambda: est.inverse_transform(Y))
        check_inverse(est, [fit_on], X, Y, Xr, array.params)
        return None, [fit_on]
    assert entry == "fit_stats", entry
    source = first if first is not None else X

    def via_stats():
        stats = PixelStats.from_array(source, **layout_kwargs(array.params))
        return est.fit_stats(stats).transform(X)

    out = check(outcome, via_stats)
    if out is not None and first is None:
        direct = clone(ESTIMATORS[est_id]).set_params(**array.params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            assert_array_equal(out, direct.fit(source).transform(X))
    return out, [source]


@pytest.mark.parametrize("est_id", list(ESTIMATORS))
@pytest.mark.parametrize("array", ARRAYS, ids=str)
@pytest.mark.parametrize("entry", ENTRIES)
def test_estimator_gives_reference_or_pinned_error(entry, array, est_id):
    est = clone(ESTIMATORS[est_id]).set_params(**array.params)
    outcome = expected(array, entry, est)
    X = array.make()
    first = array.first() if array.first is not None else None
    untouched = Untouched(X, first)
    out, fit_batches = _run(entry, array, est, est_id, outcome, X, first)
    if out is not None:
        check_against_reference(est, fit_batches, X, out, array.params)
    untouched.check()


# -- fit_stats with things that are not statistics -------------------------------------
NOT_STATISTICS = {
    "str": ("stats.json", Raises(TypeError, "expects a PixelStats, got str")),
    "dict": ({"mean": [0.5]}, Raises(TypeError, "expects a PixelStats, got dict")),
    "none": (None, Raises(TypeError, "expects a PixelStats, got NoneType")),
    "empty-stats": (PixelStats(), Raises(ValueError, "PixelStats are empty")),
}


@pytest.mark.parametrize("case", list(NOT_STATISTICS))
@pytest.mark.parametrize(
    "est_id", ["centerer", "standardizer", "normalizer-dataset-pm1"]
)
def test_fit_stats_rejects_non_statistics(est_id, case):
    stats, outcome = NOT_STATISTICS[case]
    check(outcome, lambda: clone(ESTIMATORS[est_id]).fit_stats(stats))


def test_fit_stats_preset_channel_mismatch_names_both_counts():
    stats = PixelStats.from_array(u8((2, 3, 3, 1)))
    with pytest.raises(
        ValueError, match="preset 'imagenet' has 3 channel values, but X has 1"
    ):
        PixelStandardizer(mean="imagenet", std="imagenet").fit_stats(stats)


# -- nodata and nodata_fill ------------------------------------------------------------
BAD_NODATA = {
    # A sentinel no uint8 pixel can hold is allowed (it leaves nothing out, as in
    # dataset_stats): one list of sentinels may serve several dtypes.
    "out-of-dtype-range": ({"nodata": -9999}, OK),
    "non-integer-for-integers": ({"nodata": 2.5}, OK),
    "two-for-rgb": (
        {"nodata": (0, 0)},
        Raises(ValueError, r"nodata has 2 values but the images have 3 channels"),
    ),
    "string": ({"nodata": "0"}, Raises(ValueError, "The 'nodata' parameter of")),
    "bool": ({"nodata": True}, Raises(ValueError, "nodata must be a number")),
    "empty": ({"nodata": []}, Raises(ValueError, "nodata must be a number")),
    "none-inside": ({"nodata": [0, None, 0]}, Raises(ValueError, "must be a number")),
    "nested": ({"nodata": [[0, 1, 2]]}, Raises(ValueError, "nodata must be a number")),
    "strings-inside": ({"nodata": ["0"]}, Raises(ValueError, r"Got nodata=\['0'\]")),
    "fill-nan": (
        {"nodata_fill": np.nan},
        Raises(ValueError, "nodata_fill must be a finite number.*Got nodata_fill=nan"),
    ),
    "fill-inf": ({"nodata_fill": np.inf}, Raises(ValueError, "nodata_fill must be")),
    "fill-bool": ({"nodata_fill": True}, Raises(ValueError, "nodata_fill must be")),
    "fill-string": (
        {"nodata_fill": "0"},
        Raises(ValueError, "The 'nodata_fill' parameter of"),
    ),
    "fill-none": (
        {"nodata_fill": None},
        Raises(ValueError, "The 'nodata_fill' parameter of"),
    ),
}


@pytest.mark.parametrize("case", list(BAD_NODATA))
@pytest.mark.parametrize(
    "est_id", ["normalizer-domain", "centerer", "standardizer-image"]
)
@pytest.mark.parametrize("entry", ["fit", "transform"])
def test_bad_nodata_is_refused_naming_the_value(entry, est_id, case):
    params, outcome = BAD_NODATA[case]
    est = clone(ESTIMATORS[est_id]).set_params(**params)
    X = u8((2, 3, 3, 3))
    if entry == "transform" and learns(est):
        clone(ESTIMATORS[est_id]).fit(X)  # (parameters are checked in fit)
        call = lambda: est.fit(X).transform(X)  # noqa: E731
    elif entry == "transform":
        call = lambda: est.transform(X)  # noqa: E731  (stateless: checked here)
    else:
        call = lambda: est.fit(X)  # noqa: E731
    result = check(outcome, call)
    if result is not None and entry == "fit":
        plain = clone(ESTIMATORS[est_id]).fit(X)  # nothing was left out
        assert_array_equal(result.transform(X), plain.transform(X))


# -- overflow --------------------------------------------------------------------------
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
    X = _random_batch(data)
    before = X.copy()
    est = clone(est)
    pixels = X.size // X.shape[-1] if est.per_channel else X.size
    if learns(est) and getattr(est, "std", "") is None and est.ddof >= pixels:
        with pytest.raises(ValueError, match="needs more than"):
            est.fit(X)  # a std with ddof needs more than ddof values
        return
    out = est.fit(X).transform(X)
    assert np.all(np.isfinite(out))
    check_against_reference(est, [X], X, out, {})
    assert_array_equal(X, before)
    if est.scope in ("dataset", "domain"):
        back = est.inverse_transform(out)
        assert np.all(np.isfinite(back))
