"""PixelNormalizer: domain and min-max scaling in every scope."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sk_pixels import PixelNormalizer


@pytest.mark.parametrize(
    "dtype, low, high",
    [
        (np.uint8, 0, 255),
        (np.uint16, 0, 65535),
        (np.int8, -128, 127),
        (np.int16, -32768, 32767),
    ],
)
def test_domain_maps_the_dtype_range_onto_feature_range(rng, dtype, low, high):
    info = np.iinfo(dtype)
    X = rng.integers(info.min, info.max, (2, 3, 3, 3), endpoint=True).astype(dtype)
    X.flat[:2] = info.min, info.max
    out = PixelNormalizer().fit_transform(X)
    assert out.dtype == np.float32
    assert_allclose(out, (X.astype(float) - low) / (high - low), rtol=1e-6, atol=1e-7)
    assert out.min() >= 0 and out.max() <= 1  # the documented range holds


def test_uint16_is_not_truncated_to_8_bits():
    X = np.array([[[[0], [256], [65535]]]], dtype=np.uint16)
    assert_allclose(
        PixelNormalizer().fit_transform(X).ravel(), [0, 256 / 65535, 1], rtol=1e-6
    )


def test_feature_range_minus_one_one_is_x_over_127_5_minus_1(uint8_batch):
    out = PixelNormalizer(feature_range=(-1, 1)).fit_transform(uint8_batch)
    assert_allclose(out, uint8_batch / 127.5 - 1, atol=1e-6)


def test_explicit_max_value_for_12_bit_data(rng):
    X = rng.integers(0, 4096, (2, 4, 4, 1)).astype(np.uint16)
    out = PixelNormalizer(max_value=4095).fit_transform(X)
    assert_allclose(out, X / 4095, rtol=1e-6)


def test_float_input_keeps_its_dtype(uint8_batch):
    X = (uint8_batch / 255.0).astype(np.float64)
    out = PixelNormalizer().fit_transform(X)
    assert out.dtype == np.float64
    assert_array_equal(out, X)


@pytest.mark.parametrize(
    "scope, per_channel, axes",
    [
        ("dataset", True, (0, 1, 2)),
        ("dataset", False, (0, 1, 2, 3)),
        ("batch", True, (0, 1, 2)),
        ("image", True, (1, 2)),
        ("image", False, (1, 2, 3)),
    ],
    ids=str,
)
def test_min_max_scopes_match_formula(uint8_batch, scope, per_channel, axes):
    x = uint8_batch.astype(np.float64)
    lo, hi = x.min(axis=axes, keepdims=True), x.max(axis=axes, keepdims=True)
    out = PixelNormalizer(scope=scope, per_channel=per_channel).fit_transform(
        uint8_batch
    )
    assert_allclose(out, (x - lo) / (hi - lo), atol=1e-6)


def test_dataset_scope_learns_min_and_max(uint8_batch):
    normalizer = PixelNormalizer(scope="dataset").fit(uint8_batch)
    assert_array_equal(normalizer.data_min_, uint8_batch.reshape(-1, 3).min(0))
    assert_array_equal(normalizer.data_max_, uint8_batch.reshape(-1, 3).max(0))


@pytest.mark.parametrize("scope", ["dataset", "batch", "image"])
def test_constant_images_give_lower_bound_not_nan(scope):
    X = np.full((2, 3, 3, 3), 9, np.uint8)
    out = PixelNormalizer(scope=scope, feature_range=(-1, 1)).fit_transform(X)
    assert_array_equal(out, -1.0)


def test_invalid_feature_range(uint8_batch):
    with pytest.raises(ValueError, match=r"Got feature_range=\(1, 0\)"):
        PixelNormalizer(feature_range=(1, 0)).fit(uint8_batch)


def test_domain_scope_is_stateless(uint8_batch):
    normalizer = PixelNormalizer()
    assert normalizer.__sklearn_tags__().requires_fit is False
    assert_allclose(normalizer.transform(uint8_batch), uint8_batch / 255, atol=1e-7)
    assert "stateless" in normalizer.fit(uint8_batch).summary()


def test_inverse_domain_roundtrip_restores_dtype(uint8_batch):
    normalizer = PixelNormalizer().fit(uint8_batch)
    back = normalizer.inverse_transform(
        normalizer.transform(uint8_batch), restore_dtype=True
    )
    assert_array_equal(back, uint8_batch)


def test_inverse_before_fit_says_why():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError, match="pixel units seen in fit"):
        PixelNormalizer().inverse_transform(np.zeros((1, 2, 2, 3)))
