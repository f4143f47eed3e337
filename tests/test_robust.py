"""PixelStandardizer(quantile_range=...): median and percentile spread, robustly."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.preprocessing import RobustScaler

from sk_pixels import (
    PixelHistogram,
    PixelNormalizer,
    PixelStandardizer,
    PixelStats,
    load_json,
    save_json,
)

from ._outcomes import Raises, check
from .test_histogram import integer_images

RANGES = [(25, 75), (10, 90), (1, 99.8), (0, 100)]


def _robust_scaler(X, q, per_channel=True):
    """scikit-learn's RobustScaler on the flattened pixels (a column per channel)."""
    flat = X.reshape(-1, X.shape[-1] if per_channel else 1).astype(np.float64)
    scaler = RobustScaler(quantile_range=q).fit(flat)
    return scaler, scaler.transform(flat).reshape(X.shape)


@settings(max_examples=40, deadline=None)
@given(X=integer_images(dtypes=(np.uint8, np.uint16)), data=st.data())
def test_robust_standardizer_equals_robust_scaler_on_the_flattened_pixels(X, data):
    q = data.draw(st.sampled_from(RANGES))
    per_channel = data.draw(st.booleans())
    robust = PixelStandardizer(quantile_range=q, per_channel=per_channel).fit(X)
    scaler, want = _robust_scaler(X, q, per_channel)
    center = scaler.center_ if per_channel else scaler.center_.reshape(())
    scale = scaler.scale_ if per_channel else scaler.scale_.reshape(())
    assert_array_equal(robust.center_, center)
    # RobustScaler reports a zero spread as 1 (applied as 1); we report 0.
    assert_array_equal(np.where(robust.scale_ == 0, 1.0, robust.scale_), scale)
    assert_allclose(robust.transform(X), want, rtol=1e-6, atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(X=integer_images(dtypes=(np.uint8, np.uint16, np.int16)), data=st.data())
def test_partial_fit_any_split_equals_fit(X, data):
    cuts = sorted(set(data.draw(st.lists(st.integers(1, max(len(X) - 1, 1))))))
    robust = PixelStandardizer(quantile_range=(25, 75))
    for part in np.split(X, [c for c in cuts if c < len(X)]):
        robust.partial_fit(part)
    whole = PixelStandardizer(quantile_range=(25, 75)).fit(X)
    assert_array_equal(robust.quantiles_, whole.quantiles_)
    assert robust.histogram_ == whole.histogram_
    assert_array_equal(robust.transform(X), whole.transform(X))


@pytest.mark.parametrize("scope", ["dataset", "batch", "image"])
@pytest.mark.parametrize("per_channel", [True, False], ids=["channels", "global"])
def test_constant_channel_maps_to_a_finite_value(scope, per_channel):
    X = np.full((2, 3, 3, 2), 7, dtype=np.uint16)
    X[..., 1] = np.arange(9, dtype=np.uint16).reshape(3, 3)
    robust = PixelStandardizer(scope=scope, quantile_range=(25, 75))
    out = robust.set_params(per_channel=per_channel).fit_transform(X)
    assert np.isfinite(out).all()
    if per_channel:
        assert_array_equal(out[..., 0], 0.0)  # (7 - median 7) / 1


@pytest.mark.parametrize("scope", ["batch", "image"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_batch_and_image_scopes_equal_robust_scaler_per_batch_or_image(
    rng, scope, dtype
):
    X = (rng.normal(300, 100, (3, 8, 6, 2)) * 3).clip(0, 255 * 3).astype(dtype)
    X = X.astype(dtype) if dtype != np.uint8 else (X // 3).astype(dtype)
    got = PixelStandardizer(scope=scope, quantile_range=(10, 90)).fit_transform(X)
    if scope == "batch":
        want = _robust_scaler(X, (10, 90))[1]
    else:
        want = np.stack([_robust_scaler(x, (10, 90))[1] for x in X])
    assert_allclose(got, want, rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("scope", ["dataset", "batch", "image"])
def test_dask_input_equals_numpy(rng, scope):
    da = pytest.importorskip("dask.array")
    X = rng.integers(0, 65536, (6, 8, 8, 2)).astype(np.uint16)
    params = dict(scope=scope, quantile_range=(25, 75), clip=3.0)
    want = PixelStandardizer(**params).fit_transform(X)
    robust = PixelStandardizer(**params).fit(da.from_array(X, chunks=(2, 8, 8, 2)))
    got = robust.transform(da.from_array(X, chunks=(4, 4, 8, 2)))
    assert_array_equal(np.asarray(got.compute()), want)


@pytest.mark.parametrize("scope", ["dataset", "batch", "image"])
def test_array_api_input_equals_numpy(rng, scope):
    sklearn = pytest.importorskip("sklearn")
    strict = pytest.importorskip("array_api_strict")
    pytest.importorskip("array_api_compat")
    X = rng.integers(0, 65536, (4, 6, 5, 3)).astype(np.uint16)
    params = dict(scope=scope, quantile_range=(25, 75))
    want = PixelStandardizer(**params).fit_transform(X)
    with sklearn.config_context(array_api_dispatch=True):
        robust = PixelStandardizer(**params).fit(strict.asarray(X))
        got = np.asarray(robust.transform(strict.asarray(X)))
    assert_allclose(got, want, rtol=2e-7, atol=2e-7)


def test_fit_stats_with_a_histogram_equals_fit(rng):
    X = rng.integers(0, 256, (3, 6, 6, 3)).astype(np.uint8)
    robust = PixelStandardizer(quantile_range=(25, 75)).fit_stats(
        PixelStats.from_array(X), histogram=PixelHistogram.from_array(X)
    )
    whole = PixelStandardizer(quantile_range=(25, 75)).fit(X)
    assert_array_equal(robust.center_, whole.center_)
    assert_array_equal(robust.transform(X), whole.transform(X))


def test_inverse_transform_roundtrip(rng):
    X = rng.integers(0, 65536, (3, 6, 6, 2)).astype(np.uint16)
    robust = PixelStandardizer(quantile_range=(25, 75)).fit(X)
    assert_allclose(
        robust.inverse_transform(robust.transform(X)), X, rtol=1e-5, atol=0.05
    )


def test_moments_stay_the_moments(rng):
    X = rng.integers(0, 256, (2, 5, 5, 3)).astype(np.uint8)
    robust = PixelStandardizer(quantile_range=(25, 75)).fit(X)
    plain = PixelStandardizer().fit(X)
    assert_array_equal(robust.mean_, plain.mean_)
    assert_array_equal(robust.std_, plain.std_)


@pytest.mark.parametrize("per_channel", [True, False], ids=["channels", "global"])
def test_torchvision_export_applies_the_robust_map(rng, per_channel):
    X = rng.integers(0, 256, (2, 5, 5, 3)).astype(np.uint8)
    robust = PixelStandardizer(quantile_range=(25, 75), per_channel=per_channel)
    norm = robust.fit(X).to_torchvision()
    got = (X / 255.0 - np.array(norm["mean"])) / np.array(norm["std"])
    assert_allclose(got, robust.transform(X), rtol=1e-5, atol=1e-5)


def test_exports_say_so_when_the_robust_map_clips(rng):
    X = rng.integers(0, 256, (2, 5, 5, 3)).astype(np.uint8)
    robust = PixelStandardizer(quantile_range=(25, 75), clip=2.0).fit(X)
    with pytest.raises(ValueError, match="clip after normalizing"):
        robust.to_torchvision()


# -- persistence ----------------------------------------------------------------------
@pytest.mark.parametrize("include_histogram", [False, True], ids=["values", "hist"])
@pytest.mark.parametrize("per_channel", [True, False], ids=["channels", "global"])
def test_save_load_roundtrip(tmp_path, rng, include_histogram, per_channel):
    X = rng.integers(0, 65536, (3, 6, 6, 2)).astype(np.uint16)
    robust = PixelStandardizer(quantile_range=(10, 90), per_channel=per_channel)
    robust.fit(X)
    path = tmp_path / "robust.json"
    save_json(robust, path, include_histogram=include_histogram)
    loaded = load_json(path, max_bytes=1 << 24)
    assert loaded.get_params() == robust.get_params()
    for name in ("quantiles_", "center_", "scale_", "mean_", "std_"):
        assert_array_equal(getattr(loaded, name), getattr(robust, name))
    assert_array_equal(loaded.transform(X), robust.transform(X))
    if include_histogram:
        assert_array_equal(
            loaded.partial_fit(X).quantiles_, robust.partial_fit(X).quantiles_
        )
    else:
        with pytest.raises(ValueError, match="include_histogram=True"):
            loaded.partial_fit(X)


def test_a_file_with_unordered_percentiles_is_refused(tmp_path, rng):
    from sk_pixels.persist import InvalidModelFileError

    X = rng.integers(0, 256, (2, 4, 4, 1)).astype(np.uint8)
    path = tmp_path / "robust.json"
    save_json(PixelStandardizer(quantile_range=(25, 75)).fit(X), path)
    doc = json.loads(path.read_text())
    q = doc["fitted"]["quantiles"]
    q[0], q[1] = q[1], q[0]
    if q[0] == q[1]:
        q[0] = [v + 1 for v in q[0]]
    path.write_text(json.dumps(doc))
    with pytest.raises(InvalidModelFileError, match="not three ordered percentiles"):
        load_json(path)


def test_a_file_without_quantile_range_still_loads(tmp_path, rng):
    X = rng.integers(0, 256, (2, 4, 4, 1)).astype(np.uint8)
    path = tmp_path / "plain.json"
    save_json(PixelStandardizer().fit(X), path)
    doc = json.loads(path.read_text())
    del doc["params"]["quantile_range"]
    path.write_text(json.dumps(doc))
    assert load_json(path).quantile_range is None


# -- bad parameters -------------------------------------------------------------------
X8 = np.arange(12, dtype=np.uint8).reshape(1, 2, 2, 3)

#: PixelStandardizer parameters -> outcome of fit(X8).
BAD_PARAMS = {
    "reversed": (dict(quantile_range=(75, 25)), Raises(ValueError, "0 <= lo < hi")),
    "three": (dict(quantile_range=(1, 2, 3)), Raises(ValueError, "two percents")),
    "over-100": (dict(quantile_range=(25, 101)), Raises(ValueError, "0 <= lo < hi")),
    "fixed-mean": (
        dict(quantile_range=(25, 75), mean=3),
        Raises(ValueError, r"fixed mean or std .* Got \{'mean': 3\}"),
    ),
    "preset": (
        dict(quantile_range=(25, 75), mean="imagenet", std="imagenet"),
        Raises(ValueError, "cannot be combined with a fixed mean"),
    ),
    "adjusted-std": (
        dict(quantile_range=(25, 75), adjusted_std=True),
        Raises(ValueError, "adjusted_std"),
    ),
    "per-pixel": (
        dict(quantile_range=(25, 75), per_pixel=True),
        Raises(ValueError, "per_pixel=True learns one mean and std per pixel"),
    ),
    "not-a-tuple": (
        dict(quantile_range="iqr"),
        Raises(ValueError, "quantile_range' parameter"),
    ),
}


@pytest.mark.parametrize("case", list(BAD_PARAMS))
def test_bad_quantile_range_is_refused_at_fit(case):
    params, outcome = BAD_PARAMS[case]
    check(outcome, lambda: PixelStandardizer(**params).fit(X8))


@pytest.mark.parametrize(
    "estimator",
    [
        PixelStandardizer(scope="batch", quantile_range=(25, 75)),
        PixelNormalizer(scope="batch", quantile_range=(1, 99)),
        PixelNormalizer(scope="batch", quantile_range=(0, 100), per_channel=False),
    ],
    ids=repr,
)
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_ragged_list_in_batch_scope_equals_the_pooled_pixels(rng, estimator, dtype):
    images = [
        (rng.normal(100 * k, 30, (5 + k, 4, 2)) + 60).clip(0, 255).astype(dtype)
        for k in range(3)
    ]
    got = estimator.fit_transform(images)
    pooled = np.concatenate([im.reshape(-1, 2) for im in images])[None, :, None]
    want = estimator.fit_transform(pooled).reshape(-1, 2)
    assert_allclose(np.concatenate([g.reshape(-1, 2) for g in got]), want, rtol=1e-6)


@pytest.mark.parametrize("per_channel", [True, False], ids=["channels", "global"])
def test_summary_states_the_percentiles_the_map_applies(per_channel):
    X = np.arange(40, dtype=np.uint16).reshape(1, 5, 4, 2)
    robust = PixelStandardizer(quantile_range=(25, 75), per_channel=per_channel)
    lines = robust.fit(X).summary().splitlines()
    where = "per channel" if per_channel else "pooled"
    applied = [line.strip() for line in lines if where + ":" in line and "p" in line]
    assert [line.split()[0] for line in applied[-3:]] == ["p25", "p50", "p75"]
    assert str(robust.center_) in applied[-2]
