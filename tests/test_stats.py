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
    with pytest.raises(ValueError, match="do not mix. Convert all images to one dtype"):
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


# -- from_histogram: exact at any count (Python ints), n_images >= 0 -------------------
def _histogram(counts: dict[int, int], channels: int = 1) -> np.ndarray:
    """A (channels, 256) object histogram with ``counts[value]`` pixels."""
    hist = np.zeros((channels, 256), dtype=object)
    hist[...] = 0
    for value, count in counts.items():
        hist[:, value] = count
    return hist


HUGE_HISTOGRAMS = {
    # Past 2**55 pixels of 255, ``hist @ values`` used to wrap int64.
    "2**56 of 255": {255: 2**56},
    "2**63 of 255 (beyond int64 counts)": {255: 2**63},
    "2**70 split 0/255": {0: 2**69, 255: 2**69},
    "2**70 + 3 of 1, one of 254": {1: 2**70 + 3, 254: 1},
}


@pytest.mark.parametrize("counts", HUGE_HISTOGRAMS.values(), ids=HUGE_HISTOGRAMS)
def test_from_histogram_is_exact_beyond_int64(counts):
    stats = PixelStats.from_histogram(_histogram(counts, channels=2))
    n = sum(counts.values())
    total = sum(v * c for v, c in counts.items())
    squares = sum(v * v * c for v, c in counts.items())
    data = stats.to_dict()
    assert data["count"] == [n, n] and stats.n_pixels == n
    assert data["sum"] == [total, total] and data["sumsq"] == [squares, squares]
    assert_array_equal(stats.mean, [total / n] * 2)
    assert_array_equal(stats.var, [(n * squares - total * total) / (n * n)] * 2)
    assert_array_equal(stats.min, [min(counts)] * 2)
    assert_array_equal(stats.max, [max(counts)] * 2)


def test_from_histogram_of_small_counts_equals_from_array(rng):
    X = rng.integers(0, 256, (3, 9, 7, 3), dtype=np.uint8)
    hist = np.stack([np.bincount(X[..., c].ravel(), minlength=256) for c in range(3)])
    assert PixelStats.from_histogram(hist, n_images=3) == PixelStats.from_array(X)
    assert PixelStats.from_histogram(_histogram({5: 2})).n_images == 1


BAD_N_IMAGES = {
    "negative": (-1, "n_images must be >= 0, got -1"),
    "very negative": (-(2**70), "n_images must be >= 0"),
    "float": (1.5, "n_images must be an int >= 0, got 1.5"),
    "bool": (True, "n_images must be an int >= 0, got True"),
    "string": ("3", "n_images must be an int >= 0, got '3'"),
}


@pytest.mark.parametrize("n_images, match", BAD_N_IMAGES.values(), ids=BAD_N_IMAGES)
def test_from_histogram_rejects_bad_n_images(n_images, match):
    with pytest.raises(ValueError, match=match):
        PixelStats.from_histogram(_histogram({3: 4}), n_images=n_images)


BAD_HISTOGRAMS = {
    "255 bins": (
        np.ones((3, 255), int),
        r"shape \(n_channels, 256\).*shape \(3, 255\)",
    ),
    "float counts": (np.ones((1, 256)), r"integer counts.*got float64"),
    "1-D": (np.ones(256, int), r"shape \(n_channels, 256\).*shape \(256,\)"),
    "negative": (_histogram({3: -2}), r"negative counts \(smallest -2\)"),
    "empty channel": (
        np.vstack([_histogram({3: 1}), np.zeros((1, 256), int)]),
        r"no pixel in channel\(s\) \[1\] of 2.*Drop the empty channels",
    ),
    "no channel": (np.zeros((0, 256), int), r"no pixel in channel\(s\) \[\] of 0"),
}


@pytest.mark.parametrize("hist, match", BAD_HISTOGRAMS.values(), ids=BAD_HISTOGRAMS)
def test_from_histogram_rejects_bad_counts(hist, match):
    with pytest.raises(ValueError, match=match):
        PixelStats.from_histogram(hist)


# -- from_dict: what loads is consistent; what was written before still loads ---------
def _exact_doc(**changes):
    doc = {
        "dtype": "uint8",
        "exact": True,
        "n_images": 1,
        "count": [4, 4],
        "sum": [10, 0],
        "sumsq": [30, 0],
        "min": [1.0, 0.0],
        "max": [4.0, 0.0],
    }
    return {**doc, **changes}


INCONSISTENT_DOCS = {
    "sumsq below sum**2/count": (
        _exact_doc(sumsq=[24, 0]),  # 4 * 24 < 10**2
        r"inconsistent in channel\(s\) \[0\]: count \* sumsq < sum\*\*2",
    ),
    "sumsq of zero with a sum": (
        _exact_doc(sum=[10, 3], sumsq=[30, 0]),
        r"inconsistent in channel\(s\) \[1\]",
    ),
    "min above max": (
        _exact_doc(min=[5.0, 0.0]),
        r"'min' exceeds field 'max' in channel\(s\) \[0\] \(min=\[5.0\], max=\[4.0\]\)",
    ),
    "exact float32": (
        _exact_doc(dtype="float32"),
        r"'exact' is true for dtype float32, but float32 statistics are float",
    ),
    "float uint8": (
        {
            "dtype": "uint8",
            "exact": False,
            "n_images": 1,
            "count": [2],
            "mean": [0.5],
            "m2": [0.5],
            "min": [0.0],
            "max": [1.0],
        },
        r"'exact' is false for dtype uint8, but uint8 statistics are exact",
    ),
    "float min above max": (
        {
            "dtype": "float32",
            "exact": False,
            "n_images": 1,
            "count": [2],
            "mean": [0.5],
            "m2": [0.5],
            "min": [1.0],
            "max": [0.0],
        },
        r"'min' exceeds field 'max' in channel\(s\) \[0\]",
    ),
    "float count beyond int64": (
        {
            "dtype": "float32",
            "exact": False,
            "n_images": 1,
            "count": [2**63],
            "mean": [0.5],
            "m2": [0.5],
            "min": [0.0],
            "max": [1.0],
        },
        r"'count' holds 9223372036854775808, more than",
    ),
    "not a dict": ([1, 2], "must be a JSON object, got list"),
    "unknown dtype": (_exact_doc(dtype="uint9"), "numeric dtype, got 'uint9'"),
    "exact as a string": (_exact_doc(exact="yes"), "true or false, got 'yes'"),
    "NaN mean of counted pixels": (
        {
            "dtype": "float32",
            "exact": False,
            "n_images": 1,
            "count": [2],
            "mean": [float("nan")],
            "m2": [0.5],
            "min": [0.0],
            "max": [1.0],
        },
        "'mean' holds nan for a channel of 2 pixels; only a channel that counted",
    ),
}


@pytest.mark.parametrize(
    "doc, match", INCONSISTENT_DOCS.values(), ids=INCONSISTENT_DOCS
)
def test_from_dict_rejects_inconsistent_documents(doc, match):
    from sk_pixels._validation import InvalidStatsError

    with pytest.raises(InvalidStatsError, match=match):
        PixelStats.from_dict(doc)


LEGACY_DOCS = {
    # As written by earlier releases: float documents without "mean_lo".
    "exact": _exact_doc(),
    "exact, an empty channel": _exact_doc(
        count=[4, 0], sumsq=[30, 0], min=[1.0, float("nan")], max=[4.0, float("nan")]
    ),
    "float without mean_lo": {
        "dtype": "float64",
        "exact": False,
        "n_images": 2,
        "count": [3],
        "mean": [0.25],
        "m2": [0.125],
        "min": [0.0],
        "max": [0.5],
    },
}


@pytest.mark.parametrize("doc", LEGACY_DOCS.values(), ids=LEGACY_DOCS)
def test_from_dict_loads_documents_of_earlier_releases(doc):
    stats = PixelStats.from_dict(doc)
    assert stats.input_dtype == doc["dtype"] and stats.n_images == doc["n_images"]
    again = stats.to_dict()
    for key, value in doc.items():
        assert_array_equal(again[key], value)  # NaN == NaN here
    assert PixelStats.from_dict(again) == stats


# -- one count type; input_dtype ----------------------------------------------------
@pytest.mark.parametrize("dtype", ["uint8", "int16", "float32", "float64", "int32"])
@pytest.mark.parametrize("per_image", [False, True], ids=["dataset", "per-image"])
def test_count_is_int64_for_every_kind(rng, dtype, per_image):
    X = rng.integers(0, 100, (2, 3, 4, 2)).astype(dtype)
    stats = PixelStats.from_view(X, per_image=per_image)
    assert stats.count.dtype == np.int64
    assert_array_equal(
        stats.count, np.full((2, 2) if per_image else (2,), 12 if per_image else 24)
    )


def test_count_beyond_int64_says_where_the_exact_count_is():
    stats = PixelStats.from_histogram(_histogram({7: 2**64}))
    with pytest.raises(OverflowError, match=r"Read n_pixels or to_dict\(\)\['count'\]"):
        stats.count
    assert stats.n_pixels == 2**64


def test_input_dtype_names_the_pixels_and_dtype_is_a_deprecated_alias(uint8_batch):
    stats = PixelStats.from_array(uint8_batch)
    assert stats.input_dtype == "uint8" and PixelStats().input_dtype is None
    with pytest.warns(FutureWarning, match="now named PixelStats.input_dtype"):
        assert stats.dtype == "uint8"
    assert stats.to_dict()["dtype"] == "uint8"  # the file format keeps its key


def test_fields_are_read_only(uint8_batch):
    stats = PixelStats.from_array(uint8_batch)
    for name in ("n_images", "input_dtype", "exact", "count", "mean"):
        with pytest.raises(AttributeError):
            setattr(stats, name, 0)


def test_from_view_needs_a_channels_last_view():
    with pytest.raises(
        ValueError, match=r"channels-last \(n, H, W, C\) array, got shape \(2, 3\)"
    ):
        PixelStats.from_view(np.zeros((2, 3), np.uint8))


def test_float_sum_is_count_times_mean(rng):
    X = rng.random((3, 4, 5, 2)).astype(np.float32)
    stats = PixelStats.from_array(X)
    assert stats.sum.dtype == np.float64
    assert_allclose(stats.sum, X.astype(np.float64).sum(axis=(0, 1, 2)), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
@pytest.mark.parametrize(
    "shape", [(0, 2, 2, 3), (2, 0, 2, 3)], ids=["no-image", "no-row"]
)
def test_from_view_of_no_pixels_counts_zero_and_means_nan(dtype, shape):
    stats = PixelStats.from_view(np.zeros(shape, dtype))
    assert (stats.n_images, stats.count.tolist()) == (shape[0], [0, 0, 0])
    assert stats.exact == (dtype == np.uint8) and np.isnan(stats.mean).all()


def test_merge_and_equality_with_other_types():
    stats = PixelStats.from_array(np.ones((1, 2, 2, 3), np.uint8))
    with pytest.raises(TypeError, match="merge PixelStats with PixelStats, got int"):
        stats.merge_inplace(3)
    assert stats != 3 and stats != PixelStats() and PixelStats() == PixelStats()


def test_repr_shows_counts_units_and_rounded_statistics():
    stats = PixelStats.from_array(np.array([[[[0, 1], [1, 2]]]], np.uint8))
    assert repr(stats) == (
        "PixelStats(n_images=1, n_pixels=2, input_dtype=uint8, exact=True, "
        "mean=[0.5 1.5], std=[0.5 0.5], min=[0. 1.], max=[1. 2.])"
    )
    assert repr(PixelStats()) == "PixelStats(empty)"
