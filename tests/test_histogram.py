"""PixelHistogram: exact, mergeable percentiles; the float kind's error bound."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_array_equal

from sk_pixels import PixelHistogram

PERCENTS = [0, 0.1, 1, 2.5, 25, 33.3, 50, 75, 99, 99.8, 100]


@st.composite
def integer_images(draw, dtypes=(np.uint8, np.uint16, np.int8, np.int16)):
    """An ``(n, H, W, C)`` batch of any values of an exact histogram dtype."""
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    info = np.iinfo(dtype)
    shape = (
        draw(st.integers(1, 6)),
        draw(st.integers(1, 7)),
        draw(st.integers(1, 7)),
        draw(st.sampled_from((1, 3))),
    )
    # Few distinct values (ties) as well as the full range (extremes).
    low = draw(st.sampled_from((info.min, 0, info.max - 3)))
    elements = st.integers(max(low, info.min), info.max)
    return draw(hnp.arrays(dtype, shape, elements=elements))


def _numpy_percentiles(X, percents, per_channel=True):
    # int64: NumPy interpolates with b - a in the pixel dtype, which wraps for
    # signed pixels (int8 0 - (-128) = -128); the same values, exactly, as int64.
    X = X.astype(np.int64)
    if not per_channel:
        return np.percentile(X.ravel(), percents)[:, None]
    C = X.shape[-1]
    return np.stack([np.percentile(X[..., c].ravel(), percents) for c in range(C)], 1)


@settings(max_examples=80, deadline=None)
@given(X=integer_images(), data=st.data())
def test_merged_percentiles_equal_numpy_percentile_for_any_split_and_order(X, data):
    cuts = sorted(set(data.draw(st.lists(st.integers(1, max(len(X) - 1, 1))))))
    parts = np.split(X, [c for c in cuts if c < len(X)])
    order = data.draw(st.permutations(range(len(parts))))
    hist = PixelHistogram.from_array(parts[order[0]])
    for i in order[1:]:
        hist = hist + PixelHistogram.from_array(parts[i])
    for per_channel in (True, False):
        assert_array_equal(
            hist.percentile(PERCENTS, per_channel=per_channel),
            _numpy_percentiles(X, PERCENTS, per_channel),
        )


@settings(max_examples=40, deadline=None)
@given(X=integer_images(), q=st.floats(0, 1))
def test_quantile_equals_numpy_quantile_for_any_q(X, q):
    got = PixelHistogram.from_array(X).quantile(q)
    want = [
        np.quantile(X[..., c].astype(np.int64).ravel(), q) for c in range(X.shape[-1])
    ]
    assert_array_equal(got, want)


@pytest.mark.parametrize(
    "dtype, n_bins, offset",
    [(np.uint8, 256, 0), (np.int8, 256, -128), (np.uint16, 65536, 0),
     (np.int16, 65536, -32768)],
    ids=["uint8", "int8", "uint16", "int16"],
)  # fmt: skip
def test_exact_bins_cover_the_dtype(dtype, n_bins, offset):
    info = np.iinfo(dtype)
    X = np.array([[[[info.min], [info.max]]]], dtype=dtype)
    hist = PixelHistogram.from_array(X)
    assert hist.exact and hist.counts.shape == (1, n_bins) and hist.offset == offset
    assert hist.counts[0, 0] == 1 and hist.counts[0, -1] == 1
    assert_array_equal(hist.percentile([0, 100]), [[info.min], [info.max]])


def test_from_histogram_equals_from_array_for_pillow_counts(rng):
    X = rng.integers(0, 256, (2, 5, 6, 3), dtype=np.uint8)
    counts = [np.bincount(X[..., c].ravel(), minlength=256) for c in range(3)]
    assert PixelHistogram.from_histogram(counts, n_images=2) == (
        PixelHistogram.from_array(X)
    )


def test_counts_past_int64_stay_exact():
    big = np.zeros((1, 256), dtype=object)
    big[0, 0], big[0, 255] = 2**63 - 1, 2**63 - 1
    hist = PixelHistogram.from_histogram(big)
    total = hist + hist
    assert total.count.tolist() == [2**65 - 4]
    # Half the pixels are 0 and half 255: the median interpolates between them.
    assert total.percentile([0, 49, 51, 100]).ravel().tolist() == [0, 0, 255, 255]
    assert PixelHistogram.from_dict(total.to_dict()) == total  # a file keeps them


def test_nan_pixels_are_not_counted():
    X = np.array([[[[np.nan], [1.0], [2.0], [3.0]]]])
    hist = PixelHistogram.from_array(X)
    assert hist.count.tolist() == [3]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "make",
    [
        lambda rng: rng.lognormal(0, 2, 40_000),
        lambda rng: rng.normal(0, 1e-3, 40_000),
        lambda rng: rng.uniform(-1e6, 1e6, 40_000),
        lambda rng: np.repeat(rng.normal(size=40), 1000),
    ],
    ids=["lognormal", "near-zero", "wide-signed", "ties"],
)
def test_float_percentiles_are_within_the_stated_relative_error(rng, dtype, make):
    x = make(rng).astype(dtype)
    X = x.reshape(4, 100, 100, 1)
    hist = PixelHistogram.from_array(X[:1]) + PixelHistogram.from_array(X[1:])
    got = hist.percentile(PERCENTS)[:, 0]
    s = np.sort(x.astype(np.float64))
    h = (len(s) - 1) * np.asarray(PERCENTS) / 100
    k = np.floor(h).astype(int)
    bound = 2.0**-7 * np.maximum(np.abs(s[k]), np.abs(s[np.minimum(k + 1, len(s) - 1)]))
    exact = np.percentile(x.astype(np.float64), PERCENTS)
    assert np.all(np.abs(got - exact) <= bound + 1e-37)


@pytest.mark.parametrize("sparse", [True, False], ids=["sparse", "dense"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32])
def test_to_dict_from_dict_roundtrip(rng, sparse, dtype):
    X = (rng.normal(size=(2, 4, 4, 2)) * 100).astype(dtype)
    hist = PixelHistogram.from_array(X)
    again = PixelHistogram.from_dict(hist.to_dict(sparse=sparse))
    assert again == hist
    assert_array_equal(again.percentile(PERCENTS), hist.percentile(PERCENTS))


def _dense(counts):
    """An edit that stores the histogram as dense ``counts`` rows."""
    return lambda d: (d.pop("bins"), d.update(counts=counts))


def _valid():
    return PixelHistogram.from_array(np.zeros((1, 2, 2, 1), np.uint8)).to_dict()


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda d: d.update(dtype="complex64"), "'dtype' must name a numeric dtype"),
        (lambda d: d.update(dtype="int3x"), "'dtype' must name a numeric dtype"),
        (lambda d: d.update(dtype=["uint8"]), "'dtype' must name a numeric dtype"),
        (lambda d: d.update(n_bins=65536), "'n_bins' must be 256"),
        (lambda d: d.update(counts=[[0] * 256]), "exactly one of 'bins'"),
        (lambda d: d.update(bins=[[[256, 1]]]), r"0 <= bin < 256"),
        (lambda d: d.update(bins=[[[0, -1]]]), "count >= 0"),
        (lambda d: d.update(bins=[[[0, 1], [0, 2]]]), "distinct"),
        (lambda d: d.update(bins=[[[0, 0], [0, 2]]]), "distinct"),
        (lambda d: d.update(bins=[[[0, True]]]), r"\[bin, count\] pairs"),
        (lambda d: d.update(bins=[]), "non-empty list"),
        (lambda d: d.update(n_images=-1), "n_images must be an int >= 0"),
        (lambda d: d.update(n_images="1"), "n_images must be an int >= 0, got '1'"),
        (lambda d: d.update(bins=[3]), "channel 0 must be a list of .* got int"),
        (_dense([[1.5] * 256]), r"'counts' must be .* lists of integers"),
        (_dense([]), r"'counts' must be a non-empty list"),
        (_dense([[1] * 255]), r"shape \(n_channels, 256\).*shape \(1, 255\)"),
        (_dense([[-1] * 256]), r"negative counts \(smallest -1\)"),
    ],
    ids=["dtype", "dtype-typo", "dtype-list", "n_bins", "both", "bin-range",
         "negative", "repeated", "repeated-zero", "bool", "empty", "n_images",
         "n_images-str", "channel-not-list", "counts-float", "counts-empty",
         "counts-255", "counts-negative"],
)  # fmt: skip
def test_from_dict_refuses_malformed_documents(edit, match):
    data = _valid()
    edit(data)
    with pytest.raises(ValueError, match=match):
        PixelHistogram.from_dict(data)


def test_from_dict_refuses_a_list():
    with pytest.raises(ValueError, match="histogram must be a dict, got list"):
        PixelHistogram.from_dict([_valid()])


@pytest.mark.parametrize(
    "view, match",
    [
        (np.zeros((1, 2, 2), np.uint8), r"channels-last \(n, H, W, C\).*\(1, 2, 2\)"),
        (np.zeros((1, 2, 2, 1), bool), "numeric pixels; got dtype bool. Convert"),
    ],
    ids=["3-D", "bool"],
)
def test_from_view_refuses_other_shapes_and_dtypes(view, match):
    with pytest.raises(ValueError, match=match):
        PixelHistogram.from_view(view)


def test_merge_and_equality_with_other_types():
    hist = PixelHistogram.from_array(np.zeros((1, 1, 1, 1), np.uint8))
    with pytest.raises(TypeError, match="with PixelHistogram, got int"):
        hist.merge(3)
    assert hist != 3
    assert repr(hist) == "PixelHistogram(input_dtype='uint8', n_channels=1, n_images=1)"


def test_merge_refuses_other_bins():
    a = PixelHistogram.from_array(np.zeros((1, 1, 1, 1), np.uint8))
    b = PixelHistogram.from_array(np.zeros((1, 1, 1, 1), np.uint16))
    with pytest.raises(ValueError, match="the bins differ"):
        a + b


@pytest.mark.parametrize("q", [-0.1, 1.5, np.nan])
def test_quantile_refuses_out_of_range(q):
    hist = PixelHistogram.from_array(np.zeros((1, 1, 1, 1), np.uint8))
    with pytest.raises(ValueError, match=r"range \[0, 1\]"):
        hist.quantile(q)


@pytest.mark.parametrize("p", [-1, 100.5, np.nan])
def test_percentile_refuses_out_of_range(p):
    hist = PixelHistogram.from_array(np.zeros((1, 1, 1, 1), np.uint8))
    with pytest.raises(ValueError, match=r"range \[0, 100\]; got p="):
        hist.percentile(p)
