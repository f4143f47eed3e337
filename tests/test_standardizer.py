"""PixelStandardizer: formula, scopes, clip/rescale, zero std, presets, properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from sk_pixels import PixelStandardizer

from .strategies import images, splits

# float32 output of the one-pass affine map vs the float64 formula (see _kernels).
F32 = dict(rtol=1e-5, atol=1e-5)


def _reference(X, axes, ddof=0):
    x = X.astype(np.float64)
    mean = np.nanmean(x, axis=axes, keepdims=True)
    std = np.nanstd(x, axis=axes, keepdims=True, ddof=ddof)
    return (x - mean) / np.where(std == 0, 1.0, std)


@pytest.mark.parametrize(
    "scope, per_channel, axes",
    [
        ("dataset", True, (0, 1, 2)),
        ("dataset", False, (0, 1, 2, 3)),
        ("batch", True, (0, 1, 2)),
        ("batch", False, (0, 1, 2, 3)),
        ("image", True, (1, 2)),
        ("image", False, (1, 2, 3)),
    ],
    ids=lambda v: str(v),
)
def test_standardizer_matches_float64_formula(uint8_batch, scope, per_channel, axes):
    out = PixelStandardizer(scope=scope, per_channel=per_channel).fit_transform(
        uint8_batch
    )
    assert out.dtype == np.float32 and out.shape == uint8_batch.shape
    assert_allclose(out, _reference(uint8_batch, axes), **F32)


def test_standardizer_fitted_attributes_in_pixel_units(uint8_batch):
    flat = uint8_batch.reshape(-1, 3).astype(np.float64)
    scaler = PixelStandardizer().fit(uint8_batch)
    assert_allclose(scaler.mean_, flat.mean(0), rtol=1e-15)
    assert_allclose(scaler.std_, flat.std(0), rtol=1e-14)
    assert_allclose(scaler.var_, flat.var(0), rtol=1e-14)
    assert scaler.n_samples_seen_ == 4 and scaler.n_channels_ == 3
    assert scaler.max_value_ == 255.0 and scaler.input_dtype_ == "uint8"
    glob = PixelStandardizer(per_channel=False).fit(uint8_batch)
    assert glob.mean_.shape == () and glob.std_.shape == ()


def test_standardizer_ddof_one_equals_numpy(uint8_batch):
    scaler = PixelStandardizer(ddof=1).fit(uint8_batch)
    assert_allclose(scaler.std_, uint8_batch.reshape(-1, 3).std(0, ddof=1), rtol=1e-14)


@settings(max_examples=40, deadline=None)
@given(X=images(dtypes=(np.uint8, np.uint16)), data=st.data())
def test_partial_fit_any_split_equals_fit(X, data):
    cuts = data.draw(splits(len(X)))
    streamed = PixelStandardizer()
    for part in np.split(X, cuts):
        streamed.partial_fit(part)
    whole = PixelStandardizer().fit(X)
    assert_array_equal(streamed.mean_, whole.mean_)
    assert_array_equal(streamed.std_, whole.std_)
    assert streamed.n_samples_seen_ == len(X)


def test_partial_fit_accepts_images_of_different_sizes(rng):
    a = rng.integers(0, 256, (3, 4, 5, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (2, 9, 2, 3), dtype=np.uint8)
    scaler = PixelStandardizer().partial_fit(a).partial_fit(b)
    pixels = np.concatenate([a.reshape(-1, 3), b.reshape(-1, 3)]).astype(np.float64)
    assert_allclose(scaler.mean_, pixels.mean(0), rtol=1e-15)
    assert_allclose(scaler.std_, pixels.std(0), rtol=1e-14)


def test_dataset_std_is_pooled_not_mean_of_batch_stds():
    dark = np.zeros((1, 2, 2, 1), np.uint8)
    bright = np.full((1, 2, 2, 1), 200, np.uint8)
    scaler = PixelStandardizer().partial_fit(dark).partial_fit(bright)
    assert scaler.std_[0] == 100.0  # the mean of the two batch stds would be 0


@settings(max_examples=40, deadline=None)
@given(X=images())
def test_inverse_transform_roundtrip(X):
    scaler = PixelStandardizer().fit(X)
    back = scaler.inverse_transform(scaler.transform(X))
    tol = 1e-4 * (np.iinfo(X.dtype).max if X.dtype.kind == "u" else 1.0)
    assert_allclose(back, X.astype(np.float64), atol=tol, rtol=1e-5)
    if X.dtype.kind == "u":
        assert_array_equal(
            scaler.inverse_transform(scaler.transform(X), restore_dtype=True), X
        )


@pytest.mark.parametrize("scope", ["dataset", "batch", "image"])
def test_standardizer_zero_std_is_finite(scope):
    X = np.full((2, 3, 3, 3), 7, dtype=np.uint8)
    out = PixelStandardizer(scope=scope).fit_transform(X)
    assert np.isfinite(out).all()
    assert_array_equal(out, 0.0)


def test_adjusted_std_follows_tensorflow_rule():
    X = np.zeros((1, 4, 4, 1), np.float64)
    X[0, 0, 0, 0] = 1e-3
    out = PixelStandardizer(scope="image", adjusted_std=True).fit_transform(X)
    n = X[0].size
    mean, std = X.mean(), max(X.std(), 1 / np.sqrt(n))
    assert_allclose(out, (X - mean) / std, rtol=1e-12)


def test_positive_standardization_clips_then_rescales(uint8_batch):
    scaler = PixelStandardizer(clip=1.0, rescale=True)
    out = scaler.fit_transform(uint8_batch)
    expected = (np.clip(_reference(uint8_batch, (0, 1, 2)), -1, 1) + 1) / 2
    assert_allclose(out, expected, **F32)
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_clip_without_rescale(uint8_batch):
    out = PixelStandardizer(clip=0.5).fit_transform(uint8_batch)
    assert_allclose(out, np.clip(_reference(uint8_batch, (0, 1, 2)), -0.5, 0.5), **F32)


def test_rescale_without_clip_is_a_clear_error(uint8_batch):
    with pytest.raises(ValueError, match="needs clip.*Got clip=None"):
        PixelStandardizer(rescale=True).fit(uint8_batch)


def test_imagenet_preset_equals_torchvision_formula_for_uint8_and_float(uint8_batch):
    # torchvision: ToDtype(float32, scale=True) then Normalize(mean, std).
    mean = np.array([0.485, 0.456, 0.406])
    std = np.array([0.229, 0.224, 0.225])
    expected = (uint8_batch / 255.0 - mean) / std
    scaler = PixelStandardizer(mean="imagenet", std="imagenet")
    assert_allclose(scaler.fit_transform(uint8_batch), expected, **F32)
    as_float = (uint8_batch / 255.0).astype(np.float32)
    assert_allclose(scaler.fit_transform(as_float), expected, **F32)
    assert_allclose(scaler.mean_, mean, rtol=1e-15)  # fitted on 0-1 floats


@settings(max_examples=40, deadline=None)
@given(
    X=images(channels=(3,)),
    name=st.sampled_from(["imagenet", "clip", "inception"]),
)
def test_presets_equal_torchvision_formula_in_any_units(X, name):
    from sk_pixels.presets import PRESETS

    preset = PRESETS[name]
    scale = np.iinfo(X.dtype).max if X.dtype.kind == "u" else 1.0
    # torchvision: ToDtype(float32, scale=True) divides integers by their max.
    expected = (X / scale - np.array(preset.mean)) / np.array(preset.std)
    out = PixelStandardizer(mean=name, std=name).fit_transform(X)
    assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_presets_need_no_fit(uint8_batch):
    scaler = PixelStandardizer(mean="clip", std="clip")
    assert scaler.__sklearn_tags__().requires_fit is False
    out = scaler.transform(uint8_batch)
    mean = np.array([0.48145466, 0.4578275, 0.40821073])
    std = np.array([0.26862954, 0.26130258, 0.27577711])
    assert_allclose(out, (uint8_batch / 255.0 - mean) / std, **F32)


def test_preset_channel_count_mismatch_is_clear(rng):
    gray = rng.integers(0, 256, (2, 4, 4), dtype=np.uint8)
    with pytest.raises(
        ValueError, match="preset 'imagenet' has 3 channel values, but X has 1"
    ):
        PixelStandardizer(mean="imagenet", std="imagenet").fit(gray)


def test_caffe_preset_has_no_std(uint8_batch):
    with pytest.raises(ValueError, match="'caffe' defines no std"):
        PixelStandardizer(mean="caffe", std="caffe").fit(uint8_batch)


def test_mean_preset_with_learned_std(uint8_batch):
    scaler = PixelStandardizer(mean="imagenet").fit(uint8_batch)
    assert_allclose(scaler.mean_, np.array([0.485, 0.456, 0.406]) * 255)
    assert_allclose(scaler.std_, uint8_batch.reshape(-1, 3).std(0), rtol=1e-14)


def test_array_std_must_be_positive(uint8_batch):
    with pytest.raises(ValueError, match="std must hold values > 0"):
        PixelStandardizer(mean=[0, 0, 0], std=[1, 0, 1]).fit(uint8_batch)


def test_fixed_statistics_contradict_image_scope(uint8_batch):
    with pytest.raises(ValueError, match="contradicts scope='image'"):
        PixelStandardizer(scope="image", mean="imagenet").fit(uint8_batch)


def test_float_data_in_0_255_with_preset_warns_with_remedy(uint8_batch):
    X = uint8_batch.astype(np.float32)  # 0-255 values in a float array
    with pytest.warns(UserWarning, match=r"max value 25\d.*pass max_value=255"):
        PixelStandardizer(mean="imagenet", std="imagenet").fit_transform(X)
    # The warning looks at the whole batch, not the first image.
    Y = np.zeros((3, 2, 2, 3), np.float32)
    Y[2] = 200.0
    with pytest.warns(UserWarning, match="max value 200"):
        PixelStandardizer(mean="imagenet", std="imagenet").transform(Y)


def test_stats_fitted_on_0_255_applied_to_0_1_warn_with_both_ranges(uint8_batch):
    scaler = PixelStandardizer().fit(uint8_batch)
    with pytest.warns(
        UserWarning, match=r"fitted on uint8 pixels with max value 255.*max value 1"
    ):
        scaler.transform(uint8_batch / 255.0)
    floats = PixelStandardizer().fit(uint8_batch / 255.0)
    with pytest.warns(UserWarning, match="divided by 255 twice"):
        floats.transform(uint8_batch / 255.0 / 255.0)


def test_same_scale_does_not_warn(uint8_batch):
    scaler = PixelStandardizer().fit(uint8_batch)
    scaler.transform(uint8_batch[:1])
    scaler.transform(uint8_batch.astype(np.float32))  # same units, float dtype


def test_transform_does_not_modify_input(uint8_batch):
    X = uint8_batch / 255.0
    before = X.copy()
    PixelStandardizer(scope="image").fit_transform(X)
    PixelStandardizer().fit(X).inverse_transform(X)
    assert_array_equal(X, before)


def test_image_scope_has_no_inverse_transform(uint8_batch):
    scaler = PixelStandardizer(scope="image").fit(uint8_batch)
    assert not hasattr(scaler, "inverse_transform")
    with pytest.raises(AttributeError, match="inverse_transform") as info:
        scaler.inverse_transform(uint8_batch.astype(np.float32))
    assert "cannot be inverted" in str(info.value.__cause__)
