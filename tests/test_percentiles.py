"""PixelNormalizer(quantile_range=...): percentile scaling in every scope."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from sk_pixels import PixelHistogram, PixelNormalizer, PixelStandardizer, PixelStats

from .test_histogram import integer_images

RANGES = [(1, 99.8), (2, 98), (25, 75), (0, 100)]


def _csbdeep(x, lo, hi, axis=None):
    """CSBDeep's percentile normalization, in NumPy (float64), for one image."""
    p_lo = np.percentile(x, lo, axis=axis, keepdims=True)
    p_hi = np.percentile(x, hi, axis=axis, keepdims=True)
    return (x - p_lo) / (p_hi - p_lo)


@settings(max_examples=40, deadline=None)
@given(X=integer_images(dtypes=(np.uint8, np.uint16)), data=st.data())
def test_partial_fit_any_split_gives_the_percentiles_of_all_pixels(X, data):
    q = data.draw(st.sampled_from(RANGES))
    cuts = sorted(set(data.draw(st.lists(st.integers(1, max(len(X) - 1, 1))))))
    norm = PixelNormalizer(scope="dataset", quantile_range=q)
    for part in np.split(X, [c for c in cuts if c < len(X)]):
        norm.partial_fit(part)
    C = X.shape[-1]
    want = np.stack([np.percentile(X[..., c], q) for c in range(C)], axis=1)
    assert_array_equal(norm.quantiles_, want)
    assert_array_equal(norm.data_min_, X.min(axis=(0, 1, 2)))  # still min/max
    assert_array_equal(norm.data_max_, X.max(axis=(0, 1, 2)))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.float32])
@pytest.mark.parametrize("per_channel", [True, False], ids=["channels", "global"])
@pytest.mark.parametrize("q", RANGES, ids=str)
def test_image_scope_equals_csbdeep_per_image(rng, dtype, per_channel, q):
    X = (rng.normal(300, 100, (3, 16, 12, 2)) * 3).astype(dtype)
    out = PixelNormalizer(scope="image", quantile_range=q, per_channel=per_channel)
    got = out.fit_transform(X)
    axis = (0, 1) if per_channel else None
    want = np.stack([_csbdeep(x.astype(np.float64), *q, axis=axis) for x in X])
    assert_allclose(got, want, rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("scope", ["dataset", "batch", "image"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int8, np.float32])
@pytest.mark.parametrize("per_channel", [True, False], ids=["channels", "global"])
def test_range_0_100_equals_min_max_exactly(rng, scope, dtype, per_channel):
    X = (rng.normal(0, 50, (3, 5, 4, 3)) + 60).clip(-100, 250).astype(dtype)
    params = dict(scope=scope, per_channel=per_channel, feature_range=(-1, 2))
    minmax = PixelNormalizer(**params).fit_transform(X)
    pct = PixelNormalizer(quantile_range=(0, 100), **params).fit_transform(X)
    assert_array_equal(pct, minmax)


@pytest.mark.parametrize("scope", ["dataset", "batch"])
def test_dataset_and_batch_scopes_map_the_percentiles_onto_feature_range(rng, scope):
    X = rng.integers(0, 4096, (4, 8, 8, 2)).astype(np.uint16)
    X[0, 0, 0] = 65535  # hot pixels
    norm = PixelNormalizer(scope=scope, quantile_range=(1, 99), feature_range=(0, 1))
    out = norm.fit_transform(X).astype(np.float64)
    p = np.percentile(X.reshape(-1, 2), [1, 99], axis=0)
    assert_allclose(out, (X - p[0]) / (p[1] - p[0]), rtol=1e-6, atol=1e-6)
    assert out.max() > 10  # the hot pixels map far above 1 without clip


@pytest.mark.parametrize("scope", ["dataset", "batch", "image"])
def test_clip_keeps_the_output_in_feature_range(rng, scope):
    X = rng.integers(0, 65536, (3, 8, 8, 1)).astype(np.uint16)
    norm = PixelNormalizer(
        scope=scope, quantile_range=(10, 90), clip=True, feature_range=(-1, 1)
    )
    out = norm.fit_transform(X)
    assert out.min() == -1 and out.max() == 1


@pytest.mark.parametrize("scope", ["dataset", "batch", "image"])
def test_constant_image_maps_to_feature_range_low(scope):
    X = np.full((2, 4, 4, 3), 7, dtype=np.uint16)
    out = PixelNormalizer(
        scope=scope, quantile_range=(1, 99), feature_range=(0.5, 1)
    ).fit_transform(X)
    assert_array_equal(out, 0.5)


def test_inverse_transform_roundtrip_of_a_learned_percentile_map(rng):
    X = rng.integers(0, 65536, (3, 6, 6, 2)).astype(np.uint16)
    norm = PixelNormalizer(scope="dataset", quantile_range=(2, 98)).fit(X)
    assert_allclose(norm.inverse_transform(norm.transform(X)), X, rtol=1e-5, atol=0.02)


def test_fit_stats_with_a_histogram_equals_fit(rng):
    X = rng.integers(0, 256, (3, 6, 6, 3)).astype(np.uint8)
    norm = PixelNormalizer(scope="dataset", quantile_range=(1, 99))
    fitted = norm.fit_stats(
        PixelStats.from_array(X), histogram=PixelHistogram.from_array(X)
    )
    assert_array_equal(fitted.quantiles_, PixelNormalizer(**norm.get_params()).fit(
        X).quantiles_)  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_dataset_percentiles_within_the_stated_relative_error(rng, dtype):
    X = rng.lognormal(0, 1.5, (4, 64, 64, 1)).astype(dtype)
    norm = PixelNormalizer(scope="dataset", quantile_range=(1, 99.8))
    for part in np.split(X, 2):
        norm.partial_fit(part)
    exact = np.percentile(X.astype(np.float64), [1, 99.8])
    assert_allclose(norm.quantiles_[:, 0], exact, rtol=2.0**-7)


def test_all_nan_channel_in_batch_scope_is_nan_not_a_warning():
    X = np.full((1, 2, 2, 2), np.nan)
    X[..., 0] = [[0.0, 1.0], [2.0, 3.0]]
    out = PixelNormalizer(scope="batch", quantile_range=(0, 100)).fit_transform(X)
    assert_array_equal(out[..., 0].ravel(), [0, 1 / 3, 2 / 3, 1])
    assert np.isnan(out[..., 1]).all()


@pytest.mark.parametrize("scope", ["dataset", "batch", "image"])
def test_dask_input_equals_numpy(rng, scope):
    da = pytest.importorskip("dask.array")
    X = rng.integers(0, 65536, (6, 8, 8, 2)).astype(np.uint16)
    params = dict(scope=scope, quantile_range=(1, 99.8), clip=True)
    want = PixelNormalizer(**params).fit_transform(X)
    norm = PixelNormalizer(**params).fit(da.from_array(X, chunks=(2, 8, 8, 2)))
    got = norm.transform(da.from_array(X, chunks=(4, 4, 8, 2)))
    assert_array_equal(np.asarray(got.compute()), want)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(quantile_range=(1, 99)), "scope='domain' looks at no data"),
        (dict(scope="dataset", quantile_range=(99, 1)), "0 <= lo < hi <= 100"),
        (dict(scope="dataset", quantile_range=(-1, 50)), "0 <= lo < hi <= 100"),
        (dict(scope="dataset", quantile_range=(1, 2, 3)), "two percents"),
        (dict(scope="image", quantile_range=("1", 99)), "two percents"),
    ],
    ids=["domain", "reversed", "negative", "three", "string"],
)
def test_bad_quantile_range_is_refused_at_fit(params, match):
    with pytest.raises(ValueError, match=match):
        PixelNormalizer(**params).fit(np.zeros((1, 2, 2, 1), np.uint8))


def test_fit_stats_without_histogram_says_what_to_pass():
    stats = PixelStats.from_array(np.zeros((1, 2, 2, 1), np.uint8))
    norm = PixelNormalizer(scope="dataset", quantile_range=(1, 99))
    with pytest.raises(ValueError, match="histogram=PixelHistogram.from_array"):
        norm.fit_stats(stats)


def test_partial_fit_refuses_a_batch_of_other_bins():
    norm = PixelNormalizer(scope="dataset", quantile_range=(1, 99), max_value=255)
    norm.fit(np.zeros((1, 2, 2, 1), np.uint8))
    with pytest.raises(ValueError, match="the bins differ"):
        norm.partial_fit(np.zeros((1, 2, 2, 1), np.uint16))
    assert norm.n_samples_seen_ == 1  # nothing was committed


# -- persistence ----------------------------------------------------------------------
def _saved(tmp_path, estimator, **kwargs):
    from sk_pixels import save_json

    path = tmp_path / "norm.json"
    save_json(estimator, path, **kwargs)
    return path, json.loads(path.read_text())


@pytest.mark.parametrize("include_histogram", [False, True], ids=["values", "hist"])
@pytest.mark.parametrize("per_channel", [True, False], ids=["channels", "global"])
@pytest.mark.parametrize("dtype", [np.uint16, np.int8, np.float32])
def test_save_load_roundtrip_of_fitted_percentiles(
    tmp_path, rng, include_histogram, per_channel, dtype
):
    from sk_pixels import load_json

    X = (rng.normal(0, 40, (3, 6, 6, 2))).astype(dtype)
    norm = PixelNormalizer(
        scope="dataset", quantile_range=(1, 99.8), per_channel=per_channel, clip=True
    ).fit(X)
    path, _ = _saved(tmp_path, norm, include_histogram=include_histogram)
    loaded = load_json(path, max_bytes=1 << 24)
    assert loaded.get_params() == norm.get_params()
    assert_array_equal(loaded.quantiles_, norm.quantiles_)
    assert_array_equal(loaded.transform(X), norm.transform(X))
    assert hasattr(loaded, "histogram_") == include_histogram
    if include_histogram:  # the loaded estimator keeps learning
        assert_array_equal(
            loaded.partial_fit(X).quantiles_, norm.partial_fit(X).quantiles_
        )
    else:
        with pytest.raises(ValueError, match="include_histogram=True"):
            loaded.partial_fit(X)
        with pytest.raises(ValueError, match="loaded from a file without its"):
            _saved(tmp_path, loaded, include_histogram=True)


def test_a_file_without_the_percentile_parameters_still_loads(tmp_path):
    from sk_pixels import load_json

    norm = PixelNormalizer(scope="dataset").fit(np.zeros((1, 2, 2, 1), np.uint8))
    path, doc = _saved(tmp_path, norm)
    del doc["params"]["quantile_range"], doc["params"]["clip"]
    path.write_text(json.dumps(doc))
    assert load_json(path).quantile_range is None


def _edit_quantiles(doc):
    doc["fitted"]["quantiles"][1][0] += 1


def _edit_histogram(doc):
    doc["fitted"]["histogram"]["bins"][0][0][1] += 1


def _swap_quantiles(doc):
    q = doc["fitted"]["quantiles"]
    q[0], q[1] = q[1], q[0]


def _drop_quantiles(doc):
    del doc["fitted"]["quantiles"]


def _regroup_quantiles(doc):  # the same 4 numbers, grouped 3 + 1
    (a, b), (c, d) = doc["fitted"]["quantiles"]
    doc["fitted"]["quantiles"] = [[a, b, c], [d]]


def _extra_channels(doc):
    doc["fitted"]["histogram"]["bins"] += [[]] * 10_000


def _no_quantile_range(doc):
    doc["params"]["quantile_range"] = None


def _histogram_field(**values):
    return lambda doc: doc["fitted"]["histogram"].update(values)


@pytest.mark.parametrize(
    "include_histogram, edit, match",
    [
        (True, _edit_quantiles, "does not match the percentiles of"),
        (True, _edit_histogram, "pixels per channel"),
        (False, _swap_quantiles, "not two ordered percentiles"),
        (False, _drop_quantiles, "'fitted.quantiles' is missing"),
        (False, _regroup_quantiles, "two lists of one value per channel"),
        (True, _extra_channels, r"one list of bins per channel \(2\)"),
        (False, _no_quantile_range, "'fitted.quantiles' is not an attribute"),
        (True, _histogram_field(n_bins=65536), "histogram': .*'n_bins' must be 256"),
        (True, _histogram_field(dtype="int8"), "counts int8 pixels, but .* uint8"),
    ],
    ids=[
        "quantiles-vs-histogram",
        "histogram-vs-stats",
        "swapped",
        "missing",
        "regrouped",
        "channels",
        "without-quantile-range",
        "histogram-malformed",
        "histogram-other-dtype",
    ],
)
def test_load_refuses_edited_percentiles(tmp_path, rng, include_histogram, edit, match):
    from sk_pixels import load_json

    X = rng.integers(0, 256, (2, 5, 5, 2)).astype(np.uint8)
    norm = PixelNormalizer(scope="dataset", quantile_range=(5, 95)).fit(X)
    path, doc = _saved(tmp_path, norm, include_histogram=include_histogram)
    edit(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=match):
        load_json(path)


def test_save_refuses_a_histogram_the_estimator_does_not_have(tmp_path):
    norm = PixelNormalizer(scope="dataset").fit(np.zeros((1, 2, 2, 1), np.uint8))
    with pytest.raises(ValueError, match="learned no histogram"):
        _saved(tmp_path, norm, include_histogram=True)


def test_a_learned_percentile_map_exports_and_a_clipped_one_says_why(rng):
    X = rng.integers(0, 256, (2, 6, 6, 3)).astype(np.uint8)
    norm = PixelNormalizer(scope="dataset", quantile_range=(1, 99)).fit(X)
    export = norm.to_torchvision()  # affine: (x / 255 - mean) / std
    Y = (X / 255.0 - np.asarray(export["mean"])) / np.asarray(export["std"])
    assert_allclose(Y, norm.transform(X), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r"clip=True\) clips the scaled values"):
        norm.set_params(clip=True).to_torchvision()


def test_partial_fit_from_several_threads_equals_fit(rng):
    from concurrent.futures import ThreadPoolExecutor

    batches = [rng.integers(0, 65536, (2, 16, 16, 2)).astype(np.uint16)
               for _ in range(8)]  # fmt: skip
    norm = PixelNormalizer(scope="dataset", quantile_range=(1, 99.8))
    norm.partial_fit(batches[0])
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(norm.partial_fit, batches[1:]))
    whole = PixelNormalizer(**norm.get_params()).fit(np.concatenate(batches))
    assert norm.n_samples_seen_ == 16
    assert_array_equal(norm.quantiles_, whole.quantiles_)
    assert norm.histogram_ == whole.histogram_ and norm.stats_ == whole.stats_


@pytest.mark.parametrize("scope", ["dataset", "batch", "image"])
@pytest.mark.parametrize("dtype", [np.uint16, np.int8])
def test_array_api_input_equals_numpy(rng, scope, dtype):
    sklearn = pytest.importorskip("sklearn")
    strict = pytest.importorskip("array_api_strict")
    pytest.importorskip("array_api_compat")
    info = np.iinfo(dtype)
    X = rng.integers(info.min, info.max, (4, 6, 5, 3), endpoint=True).astype(dtype)
    params = dict(scope=scope, quantile_range=(2, 98), clip=True)
    want = PixelNormalizer(**params).fit_transform(X)
    with sklearn.config_context(array_api_dispatch=True):
        norm = PixelNormalizer(**params).fit(strict.asarray(X))
        got = np.asarray(norm.transform(strict.asarray(X)))
    assert_allclose(got, want, rtol=2e-7, atol=2e-7)
    if scope == "dataset":
        assert_array_equal(norm.quantiles_, PixelNormalizer(**params).fit(X).quantiles_)


@pytest.mark.parametrize("cls", [PixelNormalizer, PixelStandardizer])
@pytest.mark.parametrize("form", ["ragged-list", "generator"])
def test_fit_on_a_list_or_iterable_equals_fit_on_the_pooled_pixels(rng, cls, form):
    images = [rng.integers(0, 4096, (4 + k, 3 + 2 * k, 2)).astype(np.uint16)
              for k in range(3)]  # fmt: skip
    X = images if form == "ragged-list" else (image[None] for image in images)
    params = dict(scope="dataset", quantile_range=(1, 99.8))
    fitted = cls(**params).fit(X)
    pooled = np.concatenate([im.reshape(-1, 2) for im in images])[None, :, None]
    assert_array_equal(fitted.quantiles_, cls(**params).fit(pooled).quantiles_)
    assert fitted.histogram_.n_images == 3
