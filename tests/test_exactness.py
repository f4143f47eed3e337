"""Numerical exactness at scale.

Integer pixels of up to 16 bits are accumulated in Python integers, so sums,
means and variances stay exact however many pixels are merged: the tests below
build statistics of more than 10**12 (up to 2**64) pixels by doubling, without
allocating them, and compare with :class:`fractions.Fraction` arithmetic.

The bound, for the record: counts, sums and sums of squares are Python ints
(unbounded); ``mean``/``var`` are one correctly rounded integer division, exact
for any count.  ``PixelStats.count`` is an int64 array for every kind of
statistics, so it (and the code that reads it: the standardizer's zero-std
rule) stops at ``2**63 - 1`` ~ 9.2e18 pixels per channel with an OverflowError
that points to ``n_pixels`` and ``to_dict()["count"]``, Python ints.

Float input is accumulated in float64 (corrected two-pass per block, Chan et
al. across blocks); property tests check it against an exact rational reference
on adversarial data (a large offset, a tiny variance).
"""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from sk_pixels import PixelCenterer, PixelStandardizer, PixelStats


def _doubled(stats: PixelStats, times: int) -> PixelStats:
    for _ in range(times):
        stats = stats + stats
    return stats


def _exact_mean_var(sum_, sumsq, count):
    """Correctly rounded float64 mean and population variance from exact sums."""
    mean = Fraction(sum_, count)
    var = Fraction(count * sumsq - sum_ * sum_, count * count)
    return float(mean), float(var)


# -- integer accumulation: exact far beyond one machine ----------------------------
@pytest.mark.parametrize(
    "doublings", [28, 38, 48, 58], ids=lambda k: f"2^{k + 12}-pixels"
)
def test_uint16_max_sums_stay_exact_beyond_1e12_pixels(doublings):
    base = PixelStats.from_array(np.full((1, 64, 64, 3), 65535, np.uint16))  # 2**12 px
    stats = _doubled(base, doublings)
    n = 2 ** (12 + doublings)
    assert n > 10**12
    assert stats.n_pixels == n
    assert stats.exact
    assert all(int(s) == 65535 * n for s in stats.sum)
    assert_array_equal(stats.mean, [65535.0] * 3)
    assert_array_equal(stats.var, [0.0] * 3)
    assert_array_equal(stats.std, [0.0] * 3)
    assert_array_equal(stats.min, [65535.0] * 3)
    assert_array_equal(stats.max, [65535.0] * 3)


@pytest.mark.parametrize("doublings", [30, 45, 60], ids=lambda k: f"x2^{k}")
def test_uint16_mixed_values_mean_and_var_exact_at_scale(doublings):
    # Extreme values plus a few odd ones: mean and variance are non-trivial
    # rationals, compared with Fraction arithmetic on the exact sums.
    X = np.array([0, 65535, 65535, 1, 65534, 32768, 7], np.uint16).reshape(1, 7, 1, 1)
    Y = np.array([65535, 3], np.uint16).reshape(1, 2, 1, 1)
    stats = _doubled(PixelStats.from_array(X), doublings) + PixelStats.from_array(Y)
    values = [int(v) for v in X.ravel()]
    count = 7 * 2**doublings + 2
    sum_ = sum(values) * 2**doublings + 65535 + 3
    sumsq = sum(v * v for v in values) * 2**doublings + 65535**2 + 9
    mean, var = _exact_mean_var(sum_, sumsq, count)
    assert count > 10**9 * 7
    assert stats.n_pixels == count
    assert int(stats.sum[0]) == sum_
    assert stats.mean[0] == mean
    assert stats.var[0] == var
    assert stats.std[0] == math.sqrt(var)
    assert stats.variance(ddof=1)[0] == float(
        Fraction(count * sumsq - sum_ * sum_, count * (count - 1))
    )


def test_exact_merge_is_associative_and_commutative_to_the_bit():
    rng = np.random.default_rng(0)
    a, b, c = (
        PixelStats.from_array(rng.integers(0, 65536, (2, 5, 5, 3), dtype=np.uint16))
        for _ in range(3)
    )
    big_a = _doubled(a, 40)
    left = (big_a + b) + c
    right = big_a + (b + c)
    swapped = c + (b + big_a)
    for other in (right, swapped):
        assert_array_equal(left.mean, other.mean)
        assert_array_equal(left.var, other.var)
        assert left == other


@pytest.mark.parametrize(
    "estimator",
    [PixelStandardizer(), PixelCenterer()],
    ids=["standardizer", "centerer"],
)
def test_fit_stats_on_2_to_the_62_uint16_pixels_is_exact(estimator):
    X = np.array([[[[0], [65535], [65535], [1]]]], np.uint16)  # mean 32767.75
    stats = _doubled(PixelStats.from_array(X), 60)  # 2**62 pixels
    estimator.fit_stats(stats)
    assert estimator.mean_[0] == 32767.75
    if isinstance(estimator, PixelStandardizer):
        sum_, sumsq, count = 131071 * 2**60, (2 * 65535**2 + 1) * 2**60, 2**62
        assert estimator.std_[0] == math.sqrt(_exact_mean_var(sum_, sumsq, count)[1])
    out = estimator.transform(X)
    reference = (
        PixelStandardizer() if isinstance(estimator, PixelStandardizer) else None
    )
    if reference is not None:
        # Same distribution, 4 pixels: identical statistics, identical output.
        assert_array_equal(out, reference.fit(X).transform(X))


def test_huge_exact_stats_survive_json_round_trip():
    stats = _doubled(
        PixelStats.from_array(np.array([[[[65535, 0, 12345]]]], np.uint16)), 70
    )
    data = json.loads(json.dumps(stats.to_dict()))
    back = PixelStats.from_dict(data)
    assert back == stats
    assert back.n_pixels == 2**70
    assert_array_equal(back.mean, [65535.0, 0.0, 12345.0])


def test_exact_mean_beyond_int64_counts_stays_exact():
    # Past 2**63 pixels per channel the sums are still exact; only the int64
    # ``count`` view is bounded (documented above).
    stats = _doubled(PixelStats.from_array(np.array([[[[65535, 1]]]], np.uint16)), 66)
    assert stats.n_pixels == 2**66
    assert_array_equal(stats.mean, [65535.0, 1.0])
    assert_array_equal(stats.var, [0.0, 0.0])


# -- float accumulation: property tests against an exact reference ---------------------
def _exact_reference(values):
    """Exact mean and population variance of float values (as Fractions)."""
    fs = [Fraction(float(v)) for v in values if not math.isnan(v)]
    n = len(fs)
    mean = sum(fs) / n
    return mean, sum((f - mean) ** 2 for f in fs) / n


def _rel_error(got: float, exact: Fraction) -> float:
    if exact == 0:
        return abs(got)
    return float(abs(Fraction(got) - exact) / abs(exact))


def _mean_error(got: float, exact: Fraction, values) -> float:
    """Error of a mean relative to the data's scale, mean(|x|).

    (Relative to the mean itself it is unbounded when the values cancel to a
    mean near 0: the sum is ill-conditioned, whatever the algorithm.)
    """
    scale = Fraction(float(np.nanmean(np.abs(np.asarray(values, dtype=np.float64)))))
    return float(abs(Fraction(got) - exact) / scale)


@st.composite
def offset_data(draw, max_n=300, dtype=np.float64, max_ratio=1e12):
    """Values ``offset + sigma * noise``: a large offset and a tiny spread."""
    n = draw(st.integers(2, max_n))
    offset = draw(st.sampled_from([1.0, -1.0])) * 10 ** draw(st.floats(0, 9))
    log_sigma = draw(st.floats(-3, 3))
    assume(abs(offset) / 10**log_sigma <= max_ratio)
    seed = draw(st.integers(0, 2**32 - 1))
    noise = np.random.default_rng(seed).standard_normal(n)
    values = (offset + 10**log_sigma * noise).astype(dtype)
    assume(np.ptp(values) > 0)
    return values


TOL = 1e-12


@settings(max_examples=200, deadline=None)
@given(values=offset_data())
def test_float_variance_matches_exact_reference_on_offset_data(values):
    stats = PixelStats.from_array(values.reshape(1, -1, 1, 1))
    mean, var = _exact_reference(values)
    assert _mean_error(stats.mean[0], mean, values) <= TOL
    assert _rel_error(stats.var[0], var) <= TOL


@settings(max_examples=100, deadline=None)
@given(values=offset_data(dtype=np.float32, max_ratio=1e6))
def test_float32_variance_matches_exact_reference_on_offset_data(values):
    stats = PixelStats.from_array(values.reshape(1, 1, -1, 1))
    mean, var = _exact_reference(values)
    assert _mean_error(stats.mean[0], mean, values) <= TOL
    assert _rel_error(stats.var[0], var) <= TOL


@settings(max_examples=100, deadline=None)
@given(values=offset_data(), nan_seed=st.integers(0, 2**16))
def test_float_stats_ignore_nan_exactly(values, nan_seed):
    values = values.copy()
    mask = np.random.default_rng(nan_seed).random(values.size) < 0.3
    mask[:2] = False  # keep two finite values
    values[mask] = np.nan
    assume(np.nanmax(values) > np.nanmin(values))
    stats = PixelStats.from_array(values.reshape(1, -1, 1, 1))
    mean, var = _exact_reference(values)
    assert stats.count[0] == np.count_nonzero(~mask)
    assert _mean_error(stats.mean[0], mean, values) <= TOL
    assert _rel_error(stats.var[0], var) <= TOL


@settings(max_examples=150, deadline=None)
@given(
    values=offset_data(max_ratio=1e12), cuts=st.lists(st.integers(1, 299), max_size=6)
)
def test_merged_float_variance_matches_exact_reference_on_offset_data(values, cuts):
    # Chan et al.'s merge, with the means carried as double-doubles.
    parts = np.split(values, sorted({c for c in cuts if c < values.size}))
    stats = PixelStats()
    for part in parts:
        stats = stats + PixelStats.from_array(part.reshape(1, -1, 1, 1))
    mean, var = _exact_reference(values)
    assert _mean_error(stats.mean[0], mean, values) <= TOL
    assert _rel_error(stats.var[0], var) <= TOL


@settings(max_examples=100, deadline=None)
@given(
    base=st.integers(-(2**52), 2**52),
    spread=st.integers(1, 2**12),
    n=st.integers(2, 200),
    seed=st.integers(0, 2**32 - 1),
)
def test_wide_integer_variance_matches_exact_reference(base, spread, n, seed):
    # int64 pixels take the float64 path: exact values below 2**53.
    values = base + np.random.default_rng(seed).integers(0, spread, n, endpoint=True)
    assume(np.ptp(values) > 0)
    stats = PixelStats.from_array(values.astype(np.int64).reshape(1, -1, 1, 1))
    fs = [Fraction(int(v)) for v in values]
    mean = sum(fs) / n
    var = sum((f - mean) ** 2 for f in fs) / n
    assert _mean_error(stats.mean[0], mean, values) <= TOL
    assert _rel_error(stats.var[0], var) <= TOL


def test_merged_float_variance_exact_with_offset_1e9_sigma_1e_3():
    values = 1e9 + 1e-3 * np.random.default_rng(0).standard_normal(300)
    a = PixelStats.from_array(values[:150].reshape(1, -1, 1, 1))
    b = PixelStats.from_array(values[150:].reshape(1, -1, 1, 1))
    _, var = _exact_reference(values)
    assert _rel_error((a + b).var[0], var) <= TOL
