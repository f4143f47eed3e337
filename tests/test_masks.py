"""Masks and nodata (issue 10 item 3, issue 14): ``numpy.ma`` input and the
estimators' ``nodata`` / ``nodata_fill``.

The laws: masked and nodata pixels are left out of the statistics of their
channel (equal to a NumPy reference over the valid pixels, to the bit for
integer pixels), of the histograms and percentiles, on every backend and for
any split of the batches; ``transform`` writes ``nodata_fill`` exactly where a
pixel is nodata or masked, keeps the mask, and maps every other pixel as
without them.
"""

from __future__ import annotations

import warnings

import joblib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone

from sk_pixels import (
    PixelCenterer,
    PixelHistogram,
    PixelNormalizer,
    PixelStandardizer,
    PixelStats,
    load_json,
    save_json,
)

from ._reference import exact_moments
from .strategies import images, splits

EXACT_DTYPES = (np.uint8, np.int8, np.uint16, np.int16)
DTYPES = (*EXACT_DTYPES, np.int32, np.float32, np.float64)


def _batch(rng, dtype, shape=(5, 6, 7, 3)):
    """Pixels of ``dtype`` with sentinels 0 (everywhere) and 7 (channel 1)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        X = rng.integers(0, 50, shape).astype(dtype) / 49
    else:
        info = np.iinfo(dtype)
        X = rng.integers(max(info.min, -300), min(info.max, 3000), shape, dtype=dtype)
    X[0, :2] = 0  # a nodata corner in every channel
    X[1, :, :3, 1] = 7  # and a band of channel 1 only
    return X


def _invalid(X, source):
    """Where the pixels are left out, for each kind of ``source`` (channels last)."""
    if source == "mask":
        return np.random.default_rng(5).random(X.shape) < 0.3
    if source == "nodata-one":
        return X == 0
    invalid = np.zeros(X.shape, bool)  # nodata=(0, 7, 0)
    invalid[..., 0] = X[..., 0] == 0
    invalid[..., 1] = X[..., 1] == 7
    invalid[..., 2] = X[..., 2] == 0
    return invalid


NODATA = {"mask": None, "nodata-one": 0, "nodata-per-channel": (0, 7, 0)}


def _fit_input(X, source, channel_axis=-1):
    """(X as given to the estimator, estimator parameters)."""
    params = {"nodata": NODATA[source], "channel_axis": channel_axis}
    if source == "mask":
        mask = _invalid(X, source)
        X = np.ma.MaskedArray(X, mask)
    if channel_axis == 1:
        X = np.moveaxis(X, -1, 1)
    return X, params


# -- statistics equal a reference over the valid pixels --------------------------------
@pytest.mark.parametrize("layout", [-1, 1], ids=["channels-last", "channels-first"])
@pytest.mark.parametrize("source", list(NODATA))
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_masked_and_nodata_statistics_equal_numpy_over_valid_pixels(
    rng, dtype, source, layout
):
    X = _batch(rng, dtype)
    invalid = _invalid(X, source)
    given_X, params = _fit_input(X, source, layout)
    est = PixelStandardizer(**params).fit(given_X)
    stats = est.stats_
    for c in range(3):
        valid = X[..., c][~invalid[..., c]]
        assert stats.count[c] == valid.size  # per channel, exact
        assert stats.min[c] == valid.min() and stats.max[c] == valid.max()
        if stats.exact:
            count, mean, var = exact_moments(valid)
            assert stats.to_dict()["sum"][c] == sum(int(v) for v in valid.tolist())
            assert stats.mean[c] == float(mean)  # to the bit
            assert stats.var[c] == float(var)
        else:
            v64 = valid.astype(np.float64)
            assert_allclose(stats.mean[c], v64.mean(), rtol=1e-14)
            assert_allclose(stats.var[c], v64.var(), rtol=1e-12)
    if source != "nodata-one":  # per-channel sentinels: per-channel counts
        assert len(set(stats.count.tolist())) > 1


@pytest.mark.parametrize("source", list(NODATA))
def test_pixel_stats_and_histogram_leave_out_the_same_pixels(rng, source):
    X = _batch(rng, np.uint16)
    invalid = _invalid(X, source)
    valid_stats = PixelStats.from_view(X, valid=~invalid)
    hist = PixelHistogram.from_view(X, valid=~invalid)
    for c in range(3):
        values = X[..., c][~invalid[..., c]]
        assert int(hist.counts[c].sum()) == values.size == valid_stats.count[c]
        assert_array_equal(
            hist.percentile([2, 50, 98])[:, c], np.percentile(values, [2, 50, 98])
        )
    if source == "mask":  # PixelStats.from_array reads the mask of a masked array
        assert PixelStats.from_array(np.ma.MaskedArray(X, invalid)) == valid_stats


def test_normalizer_min_max_and_percentiles_over_valid_pixels(rng):
    X = _batch(rng, np.uint16)
    X[2, 0, 0] = 65535  # a sentinel at the top too
    nodata = (0, 7, 65535)
    invalid = np.stack([X[..., c] == nodata[c] for c in range(3)], axis=-1)
    minmax = PixelNormalizer(scope="dataset", nodata=nodata).fit(X)
    robust = PixelNormalizer(scope="dataset", quantile_range=(1, 99), nodata=nodata)
    robust.fit(X)
    for c in range(3):
        values = X[..., c][~invalid[..., c]]
        assert minmax.data_min_[c] == values.min()
        assert minmax.data_max_[c] == values.max()
        assert_array_equal(robust.quantiles_[:, c], np.percentile(values, [1, 99]))


# -- any split of the batches gives the same fitted state ------------------------------
@settings(max_examples=40, deadline=None)
@given(data=st.data())
# Float batches of very different ranges warn that their scales differ (a
# check of its own, tests/test_units.py); the law here is the split.
@pytest.mark.filterwarnings("ignore:.*pixels with max value.*:UserWarning")
def test_partial_fit_any_split_equals_fit_with_masks(data):
    X = data.draw(images(dtypes=(np.uint8, np.uint16, np.float32)), label="X")
    mask = data.draw(
        st.lists(st.booleans(), min_size=X.size, max_size=X.size), label="mask"
    )
    M = np.ma.MaskedArray(X, np.reshape(mask, X.shape))
    nodata = data.draw(st.sampled_from([None, 0, float(X.flat[0])]), label="nodata")
    est = PixelCenterer(nodata=nodata)
    whole = clone(est).fit(M).stats_
    parts = clone(est)
    for batch in np.split(np.arange(X.shape[0]), data.draw(splits(X.shape[0]))):
        parts.partial_fit(M[batch])
    if whole.exact:
        assert parts.stats_ == whole  # the same integers, to the bit
    else:
        assert_array_equal(parts.stats_.count, whole.count)
        assert_allclose(parts.stats_.mean, whole.mean, rtol=1e-12)
        assert_allclose(parts.stats_.var, whole.var, rtol=1e-9, atol=1e-15)


# -- the masked exact path (int64 sums, tiles of wide rows) equals the references -----
@st.composite
def _masked_views(draw):
    """A contiguous integer view (narrow, or as wide as a mean image's rows),
    which of its values count (none, some, all), and a block size."""
    dtype = np.dtype(draw(st.sampled_from(EXACT_DTYPES)))
    wide = draw(st.booleans())
    n, h, w = (draw(st.integers(1, k)) for k in ((6, 2, 2) if wide else (30, 12, 12)))
    c = draw(st.integers(16385, 16400)) if wide else draw(st.sampled_from([1, 3]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    info = np.iinfo(dtype)
    view = rng.integers(int(info.min), int(info.max), (n, h, w, c), endpoint=True)
    valid = rng.random(view.shape) >= draw(st.sampled_from([0.0, 0.3, 0.9, 1.0]))
    block = draw(st.sampled_from([2**10, 2**16, None]))  # None: the default
    return view.astype(dtype), valid, block


@settings(max_examples=40, deadline=None)
@given(case=_masked_views())
def test_masked_exact_stats_equal_int64_and_blockwise_references(case):
    from sk_pixels import _reduce

    view, valid, block = case
    with pytest.MonkeyPatch.context() as mp:
        if block is not None:
            mp.setattr(_reduce, "BLOCK_BYTES", block)
        stats = PixelStats.from_view(view, valid=valid)
        blockwise = _reduce._blockwise(view, np, False, True, valid)
    c = view.shape[-1]
    x, keep = view.reshape(-1, c).astype(np.int64), valid.reshape(-1, c)
    count = keep.sum(axis=0)
    found = stats.to_dict()
    assert found["count"] == count.tolist()
    assert found["sum"] == np.where(keep, x, 0).sum(axis=0).tolist()
    assert found["sumsq"] == np.where(keep, x * x, 0).sum(axis=0).tolist()
    with np.errstate(invalid="ignore"):
        lo = np.where(count > 0, np.where(keep, x, 2**20).min(axis=0), np.nan)
        hi = np.where(count > 0, np.where(keep, x, -(2**20)).max(axis=0), np.nan)
    assert_array_equal(stats.min, lo)
    assert_array_equal(stats.max, hi)
    moments, bw_lo, bw_hi = blockwise  # the per-block Python-int path, to the bit
    assert stats._moments.equals(moments)
    assert_array_equal(stats.min, bw_lo)
    assert_array_equal(stats.max, bw_hi)


@pytest.mark.parametrize("dtype", EXACT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_broadcast_valid_equals_its_contiguous_copy(rng, dtype):
    view = _batch(rng, dtype)  # C-contiguous: a broadcast mask goes block by block
    valid = np.broadcast_to(rng.random((1, *view.shape[1:])) < 0.7, view.shape)
    copied = PixelStats.from_view(view, valid=np.ascontiguousarray(valid))
    assert PixelStats.from_view(view, valid=valid) == copied


def test_exact_sums_stay_exact_beyond_int64():
    from sk_pixels._moments import ExactSums

    sums = ExactSums(width=2, largest_square=2**62)  # each row goes to Python ints
    tile = np.array([[[2.0**62, 1.0]], [[2.0**62, 1.0]], [[1.0, 1.0]]])
    for start in range(7):
        rows = slice(start, start + 1)
        sums.add(rows, slice(0, 2), tile, np.zeros((1, 2)), np.ones((1, 2)))
    moments, lo, hi = sums.result(channels=1)  # both columns in one channel
    assert moments.total.tolist() == [7 * (2**62 + 1)]
    assert moments.squares.tolist() == [7 * (2**62 + 1)]
    assert moments.count.tolist() == [14]
    assert (lo.tolist(), hi.tolist()) == ([0.0], [1.0])


def test_exact_sums_fold_columns_beyond_int64():
    from sk_pixels._moments import ExactSums

    sums = ExactSums(width=2048, largest_square=2**52)  # one row, 2048 columns
    tile = np.stack([np.full((1, 2048), 2.0**52)] * 2 + [np.ones((1, 2048))])
    low = np.zeros((1, 2048))
    sums.add(slice(0, 1), slice(0, 2048), tile, low, low)
    moments, _, _ = sums.result(channels=1)  # 2048 * 2**52 = 2**63 in one channel
    assert moments.total.tolist() == moments.squares.tolist() == [2**63]
    assert moments.count.tolist() == [2048]


@pytest.mark.parametrize("nodata", [None, 0, (0, 7, 0)], ids=["mask", "one", "each"])
@pytest.mark.parametrize("per_pixel", [False, True], ids=["channels", "mean-image"])
def test_fit_leaves_the_masked_arrays_mask_and_data_as_they_were(
    rng, nodata, per_pixel
):
    X = _batch(rng, np.uint8)
    M = np.ma.MaskedArray(X, _invalid(X, "mask"))
    mask, data = np.ma.getmaskarray(M).copy(), X.copy()
    PixelStandardizer(per_pixel=per_pixel, nodata=nodata).fit(M)
    assert_array_equal(np.ma.getmaskarray(M), mask)
    assert_array_equal(np.ma.getdata(M), data)


# -- transform: nodata_fill at nodata positions, the mask kept -------------------------
ESTIMATORS = {
    "standardizer": PixelStandardizer(),
    "centerer-normalize": PixelCenterer(normalize=True),
    "normalizer-dataset": PixelNormalizer(scope="dataset", feature_range=(-1, 1)),
    "normalizer-quantiles": PixelNormalizer(scope="dataset", quantile_range=(5, 95)),
    "normalizer-domain": PixelNormalizer(),
    "standardizer-batch": PixelStandardizer(scope="batch"),
    "standardizer-image": PixelStandardizer(scope="image"),
    "normalizer-image-quantiles": PixelNormalizer(
        scope="image", quantile_range=(2, 98)
    ),
}


def _reference(est_id, X, invalid):
    """float64 ``(x - a) / b`` of each estimator, statistics over valid pixels."""
    params = ESTIMATORS[est_id].get_params()
    scope = params["scope"]
    P = np.where(invalid, np.nan, X.astype(np.float64))
    axes = (1, 2) if scope == "image" else (0, 1, 2)
    if est_id == "normalizer-domain":
        return X / 255.0
    if "quantiles" in est_id:
        lo_q, hi_q = params["quantile_range"]
        lo = np.nanpercentile(P, lo_q, axis=axes, keepdims=True)
        hi = np.nanpercentile(P, hi_q, axis=axes, keepdims=True)
        return (X - lo) / (hi - lo)
    if est_id == "normalizer-dataset":
        lo = np.nanmin(P, axis=axes, keepdims=True)
        hi = np.nanmax(P, axis=axes, keepdims=True)
        return (X - lo) / (hi - lo) * 2 - 1
    mean = np.nanmean(P, axis=axes, keepdims=True)
    if est_id == "centerer-normalize":
        return (X - mean) / 255.0
    return (X - mean) / np.nanstd(P, axis=axes, keepdims=True)


@pytest.mark.parametrize("source", list(NODATA))
@pytest.mark.parametrize("est_id", list(ESTIMATORS))
def test_transform_writes_fill_at_invalid_pixels_and_maps_the_others(
    rng, est_id, source
):
    X = _batch(rng, np.uint8)
    invalid = _invalid(X, source)
    given_X, params = _fit_input(X, source)
    est = clone(ESTIMATORS[est_id]).set_params(nodata_fill=-3.5, **params)
    Y = est.fit(given_X).transform(given_X)
    assert isinstance(Y, np.ma.MaskedArray) == (source == "mask")
    if source == "mask":
        assert_array_equal(np.ma.getmaskarray(Y), invalid)
    data = np.ma.getdata(Y)
    assert data.dtype == np.float32
    assert np.all(data[invalid] == np.float32(-3.5))  # exactly nodata_fill
    expected = _reference(est_id, X, invalid)
    assert_allclose(data[~invalid], expected[~invalid], rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("est_id", ["standardizer", "normalizer-dataset"])
def test_inverse_transform_keeps_the_mask_and_maps_every_value(rng, est_id):
    X = _batch(rng, np.uint8)
    invalid = _invalid(X, "mask")
    M = np.ma.MaskedArray(X, invalid)
    est = clone(ESTIMATORS[est_id]).fit(M)
    back = est.inverse_transform(est.transform(M), restore_dtype=True)
    assert isinstance(back, np.ma.MaskedArray) and back.dtype == np.uint8
    assert_array_equal(np.ma.getmaskarray(back), invalid)
    assert_array_equal(back.data[~invalid], X[~invalid])
    assert np.all(back.data[invalid] == 0)  # documented: 0 under the mask
    # With nodata, inverse_transform maps every value, nodata_fill included.
    est = clone(ESTIMATORS[est_id]).set_params(nodata=0, nodata_fill=0.0).fit(X)
    Y = est.transform(X)
    plain = est.inverse_transform(Y)
    assert_allclose(plain[X != 0], X[X != 0], atol=1e-4)
    fill_back = est.inverse_transform(np.zeros((1, 1, 1, 3)))[0, 0, 0]  # per channel
    channel = np.nonzero(X == 0)[-1]
    assert_allclose(plain[X == 0], fill_back[channel], rtol=1e-6)


def test_nodata_as_a_0d_array_is_that_number(rng):
    X = _batch(rng, np.uint8)
    fitted = PixelStandardizer(nodata=np.array(0)).fit(X)
    assert fitted.stats_ == PixelStandardizer(nodata=0).fit(X).stats_
    assert fitted.stats_.count[0] < X[..., 0].size  # the zeros were left out


def test_nan_is_nodata_for_floats(rng):
    X = _batch(rng, np.float32)
    X[3, 2, 2, 2] = np.nan
    plain = PixelStandardizer().fit(X)
    nan = PixelStandardizer(nodata=np.nan, nodata_fill=9.0).fit(X)
    assert nan.stats_ == plain.stats_  # NaN is left out either way
    assert np.isnan(plain.transform(X)[3, 2, 2, 2])
    assert nan.transform(X)[3, 2, 2, 2] == 9.0


def test_sentinel_no_pixel_can_hold_leaves_nothing_out(rng):
    X = _batch(rng, np.uint8)
    plain = PixelStandardizer().fit(X)
    for nodata in (-9999, 300, 2.5, (np.nan, -1, 1e6)):
        est = PixelStandardizer(nodata=nodata).fit(X)
        assert est.stats_ == plain.stats_
        assert_array_equal(est.transform(X), plain.transform(X))


def test_float_sentinel_that_overflows_the_map_is_filled_not_an_error():
    X = np.full((1, 2, 2, 1), 0.5, np.float32)
    X[0, 0, 0, 0] = np.float32(-3.4028235e38)  # GDAL's float32 nodata
    X[0, 1, 1, 0] = 0.25
    est = PixelStandardizer(nodata=float(np.float32(-3.4028235e38))).fit(X)
    Y = est.transform(X)
    assert Y[0, 0, 0, 0] == 0.0 and np.all(np.isfinite(Y))
    assert est.stats_.count[0] == 3


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize(
    "nodata",
    [70000.0, -1e39, 1e300, 2**64, 10**400],
    ids=["7e4", "-1e39", "1e300", "2**64", "10**400"],
)
def test_sentinel_beyond_the_float_range_leaves_nothing_out(dtype, nodata):
    # A sentinel that no finite pixel of the dtype can hold matches nothing,
    # without an overflow warning (an error under -W error) or an OverflowError.
    X = (np.arange(12, dtype=np.float64).reshape(1, 2, 2, 3) / 11).astype(dtype)
    plain = PixelCenterer().fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = PixelCenterer(nodata=nodata).fit(X)
        assert est.stats_ == plain.stats_
        assert_array_equal(est.transform(X), plain.transform(X))


# -- no valid pixel --------------------------------------------------------------------
def test_channel_with_no_valid_pixel_is_the_clear_error(rng):
    X = _batch(rng, np.uint8)
    mask = np.zeros(X.shape, bool)
    mask[..., 2] = True
    est = PixelStandardizer().fit(np.ma.MaskedArray(X, mask))
    assert est.stats_.count[2] == 0
    with pytest.raises(ValueError, match=r"channel\(s\) \[2\].*NaN, masked or nodata"):
        est.transform(X)
    # A later batch with valid pixels in that channel completes the statistics.
    est.partial_fit(X[:1])
    assert est.stats_.count[2] == X[0, ..., 2].size
    est.transform(X)


def test_image_that_is_all_nodata_is_all_fill_per_image(rng):
    X = _batch(rng, np.uint8)
    X[4] = 0
    for est in (
        PixelStandardizer(scope="image", nodata=0, nodata_fill=-1.0),
        PixelNormalizer(scope="image", nodata=0, nodata_fill=-1.0),
        PixelNormalizer(
            scope="image", quantile_range=(1, 99), nodata=0, nodata_fill=-1
        ),
    ):
        Y = est.fit_transform(X)
        assert np.all(Y[4] == -1.0) and np.all(np.isfinite(Y))


# -- backends --------------------------------------------------------------------------
@pytest.mark.parametrize("source", list(NODATA))
@pytest.mark.parametrize(
    "est_id", ["standardizer", "normalizer-quantiles", "standardizer-image"]
)
def test_dask_masked_chunks_equal_numpy(rng, est_id, source):
    da = pytest.importorskip("dask.array")
    X = _batch(rng, np.uint16)
    given_X, params = _fit_input(X, source)
    lazy = da.from_array(given_X, chunks=(2, 6, 7, 3), asarray=False)
    est = clone(ESTIMATORS[est_id]).set_params(nodata_fill=-2.0, **params)
    in_memory = clone(est).fit(given_X)
    dask_fit = clone(est).fit(lazy)
    if est.scope == "dataset":
        assert dask_fit.stats_ == in_memory.stats_  # exact, to the bit
    if est_id == "normalizer-quantiles":
        assert_array_equal(dask_fit.quantiles_, in_memory.quantiles_)
    expected = in_memory.transform(given_X)
    result = dask_fit.transform(lazy).compute()
    assert isinstance(result, np.ma.MaskedArray) == (source == "mask")
    assert_array_equal(np.ma.getdata(result), np.ma.getdata(expected))
    assert_array_equal(np.ma.getmaskarray(result), np.ma.getmaskarray(expected))


def test_array_api_nodata_equals_numpy(rng):
    xp = pytest.importorskip("array_api_strict")
    sklearn = pytest.importorskip("sklearn")
    X = _batch(rng, np.uint16)
    X_np = np.moveaxis(X, -1, 1)  # channels first: coefficients broadcast per layout
    params = dict(nodata=(0, 7, 0), nodata_fill=-2.0, channel_axis=1)
    for est in (
        PixelStandardizer(**params),
        PixelStandardizer(scope="image", **params),
        PixelNormalizer(scope="dataset", quantile_range=(5, 95), **params),
    ):
        expected = clone(est).fit(X_np).transform(X_np)
        with sklearn.config_context(array_api_dispatch=True):
            device = clone(est).fit(xp.asarray(X_np, dtype=xp.uint16))
            out = device.transform(xp.asarray(X_np, dtype=xp.uint16))
        if est.scope == "dataset":
            assert device.stats_ == clone(est).fit(X_np).stats_  # exact
        assert_allclose(np.asarray(out), expected, rtol=1e-6, atol=1e-6)


# -- persistence -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "nodata",
    [0, (0, 7, 65535), [1.5, float("nan"), 0], float("nan"), np.uint16(7)],
    ids=["one", "rgb", "nan", "nan-scalar", "numpy-scalar"],
)
def test_persistence_keeps_nodata_and_fill(tmp_path, rng, nodata):
    floats = isinstance(nodata, list) or isinstance(nodata, float)
    X = _batch(rng, np.float32 if floats else np.uint16)
    est = PixelStandardizer(nodata=nodata, nodata_fill=-7.0).fit(X)
    save_json(est, tmp_path / "m.json")
    for loaded in (
        load_json(tmp_path / "m.json"),
        joblib.load(joblib.dump(est, tmp_path / "m.joblib")[0]),
    ):
        assert_array_equal(np.ravel(loaded.nodata), np.ravel(nodata))
        assert loaded.nodata_fill == -7.0
        assert loaded.stats_ == est.stats_
        assert_array_equal(loaded.transform(X), est.transform(X))


def test_files_without_nodata_load_with_the_defaults(tmp_path, rng):
    import json

    X = _batch(rng, np.uint8)
    est = PixelCenterer().fit(X)
    save_json(est, tmp_path / "m.json")
    doc = json.loads((tmp_path / "m.json").read_text())
    for name in ("nodata", "nodata_fill"):
        del doc["params"][name]  # as written before these parameters existed
    (tmp_path / "old.json").write_text(json.dumps(doc))
    loaded = load_json(tmp_path / "old.json")
    assert loaded.nodata is None and loaded.nodata_fill == 0.0


def test_cli_fit_nodata_is_the_models_nodata(tmp_path, capsys):
    from PIL import Image

    from sk_pixels.cli import main

    a = np.full((4, 5, 3), 50, np.uint8)
    a[0], a[2] = 0, 80  # mean 60 over the valid rows
    (tmp_path / "imgs").mkdir()
    Image.fromarray(a).save(tmp_path / "imgs" / "a.png")
    model = tmp_path / "m.json"
    argv = ["fit", str(tmp_path / "imgs"), "--estimator", "centerer"]
    assert main([*argv, "--nodata", "0", "-o", str(model)]) == 0
    capsys.readouterr()
    loaded = load_json(model)
    assert_array_equal(loaded.stats_.count, [15, 15, 15])
    Y = loaded.transform(a[None])
    assert np.all(Y[0, 0] == 0.0)  # nodata_fill, not 0 - 60
    assert np.all(Y[0, 1] == -10.0) and np.all(Y[0, 2] == 20.0)
    assert_array_equal(np.ravel(loaded.nodata), [0])


@pytest.mark.parametrize(
    "count",
    [
        lambda M: PixelStats.from_view(M).count,
        lambda M: PixelStats.from_array(M).count,
        lambda M: PixelHistogram.from_view(M).counts.sum(axis=1),
        lambda M: PixelHistogram.from_array(M).counts.sum(axis=1),
    ],
    ids=["stats-view", "stats-array", "histogram-view", "histogram-array"],
)
def test_no_entry_point_ignores_a_mask(rng, count):
    X = _batch(rng, np.uint8)
    invalid = _invalid(X, "mask")
    assert_array_equal(count(np.ma.MaskedArray(X, invalid)), (~invalid).sum((0, 1, 2)))


def test_fill_beyond_the_output_dtype_is_an_error_not_inf():
    X = np.array([[[[0], [10]]]], np.uint8)
    est = PixelCenterer(nodata=0, nodata_fill=1e300).fit(X)
    with pytest.raises(
        ValueError, match="nodata_fill=1e[+]?300 does not fit in the float32"
    ):
        est.transform(X)
    assert est.set_params(dtype="float64").transform(X)[0, 0, 0, 0] == 1e300


@pytest.mark.parametrize("dispatch", [False, True], ids=["numpy-path", "array-api"])
def test_masked_tensor_is_refused_clearly(dispatch):
    torch = pytest.importorskip("torch")
    sklearn = pytest.importorskip("sklearn")
    masked = pytest.importorskip("torch.masked")
    data = torch.arange(12, dtype=torch.float32).reshape(1, 2, 2, 3) / 12
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: MaskedTensor is a prototype
        X = masked.masked_tensor(data, data > 0.5)
    try:
        context = sklearn.config_context(array_api_dispatch=dispatch)
        context.__enter__()
    except (ImportError, RuntimeError) as exc:  # SciPy without SCIPY_ARRAY_API
        pytest.skip(f"array_api_dispatch cannot be enabled: {exc}")
    try:
        with pytest.raises(TypeError, match="MaskedTensor, a masked array that"):
            PixelStandardizer().fit(X)
    finally:
        context.__exit__(None, None, None)


def test_whitener_refuses_masked_input_instead_of_reading_through_the_mask(rng):
    from sk_pixels import PixelWhitener

    X = _batch(rng, np.uint8, (20, 3, 3, 3))
    with pytest.raises(TypeError, match="PixelWhitener cannot leave masked pixels"):
        PixelWhitener().fit(np.ma.MaskedArray(X, X == 0))


def test_transform_with_nodata_is_the_same_in_every_layout(rng):
    X = _batch(rng, np.uint8)
    params = dict(nodata=(0, 7, 0), nodata_fill=-9.0)
    expected = PixelStandardizer(**params).fit(X).transform(X)
    first = np.moveaxis(X, -1, 1)
    flat = X.reshape(len(X), -1)
    layouts = {
        "channels-first": (
            first,
            dict(channel_axis=1),
            lambda Y: np.moveaxis(Y, 1, -1),
        ),
        "flattened": (
            flat,
            dict(image_shape=X.shape[1:]),
            lambda Y: Y.reshape(X.shape),
        ),
        "ragged-list": (list(X), {}, np.stack),
    }
    for data, layout, back in layouts.values():
        est = PixelStandardizer(**params, **layout)
        assert_array_equal(back(est.fit(data).transform(data)), expected)


@pytest.mark.parametrize("scope", ["batch", "image"])
def test_float_batch_percentiles_leave_nodata_out(rng, scope):
    X = rng.random((2, 4, 5, 3)).astype(np.float32)
    X[0, 0, 0] = X[1, 2, 3] = 0.0
    scaler = PixelNormalizer(scope=scope, quantile_range=(0, 100), nodata=0.0)
    out = scaler.fit_transform(X)
    pixels = X.reshape(-1, 3) if scope == "batch" else X[1].reshape(-1, 3)
    valid = pixels[(pixels != 0).all(axis=1)]
    lo, hi = valid.min(axis=0), valid.max(axis=0)
    expected = np.where(X[1] == 0, 0.0, (X[1] - lo) / (hi - lo))
    assert_allclose(out[1], expected, rtol=1e-6, atol=1e-7)


def test_ragged_batch_percentiles_leave_nodata_out():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 200, (5, 6, 3)).astype(np.uint8)
    b = rng.integers(0, 200, (4, 7, 3)).astype(np.uint8)
    a[0, 0] = b[1, 1] = 255
    scaler = PixelNormalizer(scope="batch", quantile_range=(0, 100), nodata=255)
    out = scaler.fit_transform([a, b])
    pixels = np.concatenate([a.reshape(-1, 3), b.reshape(-1, 3)])
    valid = pixels[(pixels != 255).all(axis=1)].astype(np.float64)
    lo, hi = valid.min(axis=0), valid.max(axis=0)
    expected = ((b.astype(np.float64) - lo) / (hi - lo)).astype(np.float32)
    expected[1, 1] = 0.0  # nodata_fill
    np.testing.assert_allclose(out[1], expected, rtol=1e-6, atol=1e-7)
    assert out[0][0, 0].tolist() == [0.0, 0.0, 0.0]


VIEW_SHAPE = (2, 3, 4, 3)
BAD_VALID = [  # (id, valid of a (2, 3, 4, 3) view, what the error names)
    ("per-pixel-shape", np.ones(VIEW_SHAPE[:3], bool), r"shape \(2, 3, 4\)"),
    ("broadcastable", np.ones((1, 1, 1, 3), bool), r"shape \(1, 1, 1, 3\)"),
    ("float-weights", np.full(VIEW_SHAPE, 0.5), "dtype float64"),
    ("uint8-flags", np.ones(VIEW_SHAPE, np.uint8), "dtype uint8"),
]


@pytest.mark.parametrize("cls", [PixelStats, PixelHistogram], ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    "valid, match", [row[1:] for row in BAD_VALID], ids=[row[0] for row in BAD_VALID]
)
def test_from_view_refuses_a_valid_that_is_not_a_boolean_of_the_views_shape(
    cls, valid, match
):
    # A valid of another shape was reshaped onto the view (the histogram
    # silently counted misaligned values) and a float one meant "none valid"
    # to the moments but "all valid" to the histogram: both are refused.
    view = np.arange(np.prod(VIEW_SHAPE), dtype=np.uint8).reshape(VIEW_SHAPE)
    with pytest.raises(ValueError, match=rf"valid .*{match}"):
        cls.from_view(view, valid=valid)


@pytest.mark.parametrize("backend", ["numpy", "dask"])
@pytest.mark.parametrize(
    "estimator",
    [PixelNormalizer(), PixelCenterer(mean=(0.5, 0.5, 0.5))],
    ids=["domain-normalizer", "fixed-mean-centerer"],
)
def test_float_sentinel_is_not_read_as_the_pixels_units_in_fit(rng, estimator, backend):
    # Pixels in [0, 1] with a 9999 sentinel: fit of a scope that learns nothing
    # checked the units on every value, sentinel included, and warned that the
    # pixels looked like 0-9999 units (transform, and learning scopes, did not).
    X = rng.random((3, 4, 4, 3)).astype(np.float32)
    X[0, 0, 0] = 9999.0
    if backend == "dask":
        da = pytest.importorskip("dask.array")
        X = da.from_array(X, chunks=(1, 4, 4, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # sk_pixels' units warnings
        fitted = clone(estimator).set_params(nodata=9999.0).fit(X)
        fitted.transform(X)
