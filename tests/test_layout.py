"""Layouts: every accepted input maps to one channels-last view, results agree."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from sk_pixels import PixelCenterer, PixelStandardizer
from sk_pixels._layout import image_view


def test_view_shares_memory_with_input(uint8_batch):
    first = np.ascontiguousarray(np.moveaxis(uint8_batch, -1, 1))
    view = image_view(first, channel_axis=1)
    assert view.shape == (4, 5, 7, 3)
    assert np.shares_memory(view, first)


@pytest.mark.parametrize(
    "make, kwargs",
    [
        (lambda X: X, {}),
        (lambda X: np.ascontiguousarray(np.moveaxis(X, -1, 1)), {"channel_axis": 1}),
        (lambda X: X.reshape(len(X), -1), {"image_shape": (5, 7, 3)}),
        (lambda X: X[:, ::-1, ::-1], {}),
    ],
    ids=["NHWC", "NCHW", "flattened", "negative-strides"],
)
def test_layouts_give_the_same_statistics_and_output(uint8_batch, make, kwargs):
    X = make(uint8_batch)
    scaler = PixelStandardizer(**kwargs).fit(X)
    reference = PixelStandardizer().fit(uint8_batch)
    assert np.array_equal(scaler.mean_, reference.mean_)
    out = scaler.transform(X)
    assert out.shape == X.shape
    assert_allclose(out, make(reference.transform(uint8_batch)), atol=1e-6)


def test_grayscale_3d_is_one_channel(rng):
    X = rng.integers(0, 256, (3, 4, 5), dtype=np.uint8)
    centerer = PixelCenterer().fit(X)
    assert centerer.n_channels_ == 1
    assert_allclose(centerer.transform(X), X - X.mean(), atol=1e-4)


def test_flattened_without_image_shape_is_one_channel(rng):
    X = rng.random((6, 10))
    assert PixelCenterer().fit(X).mean_.shape == (1,)


def test_flattened_grayscale_image_shape(rng):
    X = rng.random((6, 12))
    centerer = PixelCenterer(image_shape=(3, 4)).fit(X)
    assert centerer.n_channels_ == 1


def test_wrong_image_shape_names_both_sizes(rng):
    with pytest.raises(
        ValueError, match=r"image_shape=\(8, 8, 3\) holds 192 values.*64 features"
    ):
        PixelCenterer(image_shape=(8, 8, 3)).fit(rng.random((2, 64)))


def test_missing_channel_axis_names_the_fix(uint8_batch):
    with pytest.raises(ValueError, match="channel_axis=4 does not exist for 4-D input"):
        PixelCenterer(channel_axis=4).fit(uint8_batch)
    with pytest.raises(ValueError, match="channel_axis=0 does not exist"):
        PixelCenterer(channel_axis=0).fit(uint8_batch)
    with pytest.raises(ValueError, match="needs a channel axis"):
        PixelCenterer(channel_axis=None).fit(uint8_batch)


@pytest.mark.parametrize("shape", [(5,), (2, 2, 2, 2, 2)], ids=["1-D", "5-D"])
def test_wrong_number_of_dimensions(shape):
    with pytest.raises(ValueError, match=r"Expected 2D|2, 3 or 4 dimensions"):
        PixelCenterer().fit(np.zeros(shape))


def test_wrong_channel_count_names_both_numbers(uint8_batch):
    centerer = PixelCenterer().fit(uint8_batch)
    with pytest.raises(
        ValueError, match="X has 4 channels, but PixelCenterer is expecting 3"
    ):
        centerer.transform(np.zeros((1, 2, 2, 4), np.uint8))


def test_images_without_pixels_are_rejected():
    with pytest.raises(ValueError, match="no pixels"):
        PixelCenterer().fit(np.zeros((2, 3, 0, 3)))


@pytest.mark.parametrize("image_shape", [(), (1, 2, 2, 3)], ids=["0", "4"])
def test_image_shape_needs_one_to_three_entries(image_shape):
    with pytest.raises(ValueError, match=r"image_shape=.* entries; pass the shape"):
        PixelStandardizer(image_shape=image_shape).fit(np.zeros((2, 12)))
