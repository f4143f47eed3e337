"""PixelCenterer: mean subtraction, normalize, presets, scopes."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sk_pixels import PixelCenterer


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
def test_centerer_subtracts_the_mean(uint8_batch, scope, per_channel, axes):
    x = uint8_batch.astype(np.float64)
    out = PixelCenterer(scope=scope, per_channel=per_channel).fit_transform(uint8_batch)
    assert_allclose(out, x - x.mean(axis=axes, keepdims=True), atol=1e-4)


def test_normalize_divides_by_domain_max_first(uint8_batch):
    x = uint8_batch.astype(np.float64)
    out = PixelCenterer(normalize=True).fit_transform(uint8_batch)
    assert_allclose(out, (x - x.mean((0, 1, 2))) / 255, atol=1e-6)
    assert -1 <= out.min() and out.max() <= 1


def test_caffe_preset_subtracts_bgr_means_in_pixel_units(uint8_batch):
    bgr = uint8_batch[..., ::-1]
    out = PixelCenterer(mean="caffe").fit_transform(bgr)
    assert_allclose(out, bgr - np.array([103.939, 116.779, 123.68]), atol=1e-4)


def test_array_mean_is_in_input_units(uint8_batch):
    centerer = PixelCenterer(mean=[10, 20, 30]).fit(uint8_batch)
    assert_array_equal(centerer.mean_, [10, 20, 30])
    assert_allclose(
        centerer.transform(uint8_batch), uint8_batch - np.array([10, 20, 30])
    )


def test_scalar_mean_applies_to_every_channel(uint8_batch):
    out = PixelCenterer(mean=100).fit_transform(uint8_batch)
    assert_allclose(out, uint8_batch - 100.0)


def test_inverse_restores_uint8_exactly(uint8_batch):
    centerer = PixelCenterer().fit(uint8_batch)
    back = centerer.inverse_transform(
        centerer.transform(uint8_batch), restore_dtype=True
    )
    assert back.dtype == np.uint8
    assert_array_equal(back, uint8_batch)


def test_nan_ignored_in_fit_and_kept_in_output():
    X = np.array([[[[0.2], [np.nan], [0.4]]]])
    centerer = PixelCenterer().fit(X)
    assert_allclose(centerer.mean_, [0.3])
    out = centerer.transform(X)
    assert np.isnan(out[0, 0, 1, 0])
    assert_allclose(out[0, 0, [0, 2], 0], [-0.1, 0.1])
