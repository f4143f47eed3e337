"""PixelStats: exactness, merging, NaN handling, float accuracy."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from sk_pixels import PixelStats

from .strategies import images, splits


def _reference(X):
    """float64 NumPy per-channel statistics of an (n, H, W, C) batch."""
    flat = X.reshape(-1, X.shape[-1]).astype(np.float64)
    return (
        np.nanmean(flat, 0),
        np.nanstd(flat, 0),
        np.nanmin(flat, 0),
        np.nanmax(flat, 0),
    )


@settings(max_examples=60, deadline=None)
@given(X=images(dtypes=(np.uint8, np.uint16)), data=st.data())
def test_integer_stats_identical_under_any_split_and_order(X, data):
    whole = PixelStats.from_array(X)
    cuts = data.draw(splits(len(X)))
    parts = [PixelStats.from_array(part) for part in np.split(X, cuts)]
    order = data.draw(st.permutations(range(len(parts))))
    merged = PixelStats()
    for k in order:
        merged = merged + parts[k]
    assert merged == whole
    assert_array_equal(merged.mean, whole.mean)
    assert_array_equal(merged.std, whole.std)


@settings(max_examples=60, deadline=None)
@given(X=images())
def test_per_channel_stats_match_float64_numpy(X):
    stats = PixelStats.from_array(X)
    mean, std, lo, hi = _reference(X)
    assert_allclose(stats.mean, mean, rtol=1e-12, atol=1e-12)
    assert_allclose(stats.std, std, rtol=1e-9, atol=1e-12)
    assert_array_equal(stats.min, lo)
    assert_array_equal(stats.max, hi)
    assert_array_equal(stats.count, np.full(X.shape[-1], X[..., 0].size))


@settings(max_examples=40, deadline=None)
@given(X=images(dtypes=(np.float32, np.float64)), data=st.data())
def test_float_merge_of_any_split_matches_whole(X, data):
    cuts = data.draw(splits(len(X)))
    merged = PixelStats()
    for part in np.split(X, cuts):
        merged.merge_inplace(PixelStats.from_array(part))
    whole = PixelStats.from_array(X)
    assert_allclose(merged.mean, whole.mean, rtol=1e-12, atol=1e-15)
    assert_allclose(merged.var, whole.var, rtol=1e-9, atol=1e-15)


def test_integer_mean_and_var_are_correctly_rounded_rationals():
    X = np.array([[[[1], [2], [2]]]], dtype=np.uint8)  # mean 5/3, var 2/9
    stats = PixelStats.from_array(X)
    assert stats.mean[0] == 5 / 3
    assert stats.var[0] == 2 / 9
    assert stats.variance(ddof=1)[0] == 1 / 3
    assert stats.sum.tolist() == [5]


def test_uint16_sums_do_not_overflow_int64():
    X = np.full((4, 512, 512, 1), 65535, dtype=np.uint16)
    stats = PixelStats.from_array(X)
    for _ in range(20):  # 2**20 copies: sum of squares ~ 4.7e21 > int64 max
        stats = stats + stats
    assert stats.to_dict()["sumsq"][0] > np.iinfo(np.int64).max
    assert stats.count[0] == 4 * 512 * 512 * 2**20
    assert stats.mean[0] == 65535.0
    assert stats.var[0] == 0.0


def test_nan_is_ignored_per_channel():
    X = np.array([[[[0.0, 0.5], [np.nan, 1.0]]]])
    stats = PixelStats.from_array(X)
    assert_array_equal(stats.count, [1, 2])
    assert_array_equal(stats.mean, [0.0, 0.75])
    assert_array_equal(stats.max, [0.0, 1.0])


def test_all_nan_channel_gives_nan_not_error():
    X = np.array([[[[np.nan, 0.5], [np.nan, 1.0]]]])
    stats = PixelStats.from_array(X)
    assert stats.count[0] == 0
    assert np.isnan(stats.mean[0]) and np.isnan(stats.std[0])
    assert stats.mean[1] == 0.75


def test_float_merge_with_empty_side_is_identity(rng):
    X = rng.random((3, 4, 4, 3))
    stats = PixelStats.from_array(X)
    assert (PixelStats() + stats) == stats
    assert (stats + PixelStats()) == stats


def test_merge_refuses_mixed_units():
    a = PixelStats.from_array(np.zeros((1, 2, 2, 3), np.uint8))
    b = PixelStats.from_array(np.zeros((1, 2, 2, 3), np.uint16))
    c = PixelStats.from_array(np.zeros((1, 2, 2, 3), np.float32))
    with pytest.raises(ValueError, match="uint8 pixels with statistics of uint16"):
        a + b
    with pytest.raises(ValueError, match="units differ"):
        a + c


def test_merge_refuses_other_channel_count():
    a = PixelStats.from_array(np.zeros((1, 2, 2, 3), np.uint8))
    b = PixelStats.from_array(np.zeros((1, 2, 2, 1), np.uint8))
    with pytest.raises(ValueError, match="3 channels with statistics of 1 channels"):
        a + b


def test_merge_does_not_modify_operands(uint8_batch):
    a = PixelStats.from_array(uint8_batch[:2])
    b = PixelStats.from_array(uint8_batch[2:])
    a_before, b_before = a.copy(), b.copy()
    a + b
    assert a == a_before and b == b_before


def test_pooled_equals_stats_of_all_channels_together(uint8_batch):
    pooled = PixelStats.from_array(uint8_batch).pooled()
    flat = uint8_batch.reshape(-1).astype(np.float64)
    assert pooled.mean[0] == flat.mean()
    assert_allclose(pooled.std[0], flat.std(), rtol=1e-15)
    floats = PixelStats.from_array(uint8_batch / 255.0).pooled()
    assert_allclose(floats.std[0], (flat / 255).std(), rtol=1e-12)


def test_per_image_view_stats_match_numpy(uint8_batch):
    stats = PixelStats.from_view(uint8_batch, per_image=True)
    flat = uint8_batch.reshape(len(uint8_batch), -1, 3).astype(np.float64)
    assert stats.mean.shape == (4, 3)
    assert_allclose(stats.mean, flat.mean(1), rtol=1e-15)
    assert_allclose(stats.std, flat.std(1), rtol=1e-13)


def test_channels_first_and_flattened_layouts_agree(uint8_batch):
    expected = PixelStats.from_array(uint8_batch)
    first = np.ascontiguousarray(np.moveaxis(uint8_batch, -1, 1))
    assert PixelStats.from_array(first, channel_axis=1) == expected
    flat = uint8_batch.reshape(len(uint8_batch), -1)
    assert PixelStats.from_array(flat, image_shape=(5, 7, 3)) == expected


def test_dict_round_trip_and_pickle(uint8_batch, rng):
    for stats in (
        PixelStats.from_array(uint8_batch),
        PixelStats.from_array(rng.random((2, 3, 3, 2))),
    ):
        assert PixelStats.from_dict(stats.to_dict()) == stats
        assert pickle.loads(pickle.dumps(stats)) == stats


def test_from_dict_rejects_tampered_values(uint8_batch):
    data = PixelStats.from_array(uint8_batch).to_dict()
    with pytest.raises(ValueError, match="'sum' has 2 values"):
        PixelStats.from_dict({**data, "sum": data["sum"][:2]})
    with pytest.raises(ValueError, match="'dtype' must name a numeric dtype"):
        PixelStats.from_dict({**data, "dtype": "object"})


def test_empty_stats_say_how_to_fill_them():
    with pytest.raises(ValueError, match="PixelStats are empty"):
        PixelStats().mean
    assert repr(PixelStats()) == "PixelStats(empty)"


def test_bool_input_is_rejected():
    with pytest.raises(ValueError, match="dtype bool"):
        PixelStats.from_array(np.zeros((1, 2, 2, 3), dtype=bool))
