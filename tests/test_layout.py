"""Layouts: every accepted input maps to one channels-last view, results agree."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sk_pixels import LayoutWarning, PixelCenterer, PixelStandardizer
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


def test_channel_axis_none_means_no_channel_axis(uint8_batch):
    # (n, H, W, C) with channel_axis=None: grayscale volumes of depth H.
    centerer = PixelCenterer(channel_axis=None).fit(uint8_batch)
    assert centerer.n_channels_ == 1
    assert centerer.mean_ == pytest.approx(uint8_batch.mean())


def test_one_dimensional_input_is_refused():
    with pytest.raises(ValueError, match="Expected 2D"):
        PixelCenterer().fit(np.zeros(5))


@pytest.mark.parametrize(
    "shape, channel_axis",
    [
        ((3, 2, 4, 5, 3), -1),  # volumes (n, D, H, W, C)
        ((3, 3, 2, 4, 5), 1),  # channels-first volumes (n, C, D, H, W)
        ((2, 2, 3, 4, 5, 3), -1),  # clips of volumes: any number of axes
        ((3, 2, 4, 5), None),  # grayscale volumes, no channel axis
    ],
)
def test_statistics_pool_every_spatial_axis(rng, shape, channel_axis):
    X = rng.integers(0, 256, shape, dtype=np.uint8)
    scaler = PixelStandardizer(channel_axis=channel_axis).fit(X)
    channels_last = X if channel_axis is None else np.moveaxis(X, channel_axis, -1)
    pixels = channels_last.reshape(
        -1, 1 if channel_axis is None else shape[channel_axis]
    )
    assert_array_equal(scaler.mean_, pixels.mean(axis=0))
    assert_allclose(scaler.std_, pixels.std(axis=0), rtol=1e-12)
    out = scaler.transform(X)
    assert out.shape == X.shape
    expected = (channels_last - scaler.mean_) / scaler.std_
    if channel_axis is not None:
        expected = np.moveaxis(expected, -1, channel_axis)
    assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    assert_allclose(scaler.inverse_transform(out), X, atol=1e-3)


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


AMBIGUOUS_LAYOUTS = [
    # (shape, channel_axis, warning or None)
    ((224, 224, 3), -1, r"read as 224 grayscale images.*pass X\[None\]"),
    ((32, 32, 4), -1, r"channel_axis=None"),
    ((224, 224, 3), None, None),  # said explicitly: grayscale
    ((5, 2, 3), -1, None),  # the middle axis is not longer: a small grayscale batch
    ((8, 3, 32, 32), -1, r"channels-first.*channel_axis=1"),
    ((8, 1, 28, 28), -1, r"channel_axis=1"),
    ((8, 3, 32, 32), 1, None),
    ((8, 32, 32, 3), -1, None),
]


@pytest.mark.parametrize("shape, channel_axis, warning", AMBIGUOUS_LAYOUTS)
def test_ambiguous_layout_warns_with_both_fixes(rng, shape, channel_axis, warning):
    X = rng.integers(0, 256, shape, dtype=np.uint8)
    scaler = PixelStandardizer(channel_axis=channel_axis)
    if warning is None:
        scaler.fit(X)  # filterwarnings=error: no warning
        return
    with pytest.warns(UserWarning, match=warning) as caught:
        scaler.fit(X)
    assert [w.category for w in caught] == [LayoutWarning]  # one category to filter
    with pytest.warns(UserWarning, match=warning):
        scaler.transform(X)  # once per call, on every call


def test_single_image_after_a_batch_fit_names_the_fix(rng):
    scaler = PixelStandardizer().fit(rng.integers(0, 256, (4, 6, 7, 3), np.uint8))
    image = rng.integers(0, 256, (6, 7, 3), np.uint8)
    with (
        pytest.warns(UserWarning, match="grayscale"),
        pytest.raises(ValueError, match=r"single \(H, W, C\) image.*X\[None\]"),
    ):
        scaler.transform(image)
    assert scaler.transform(image[None]).shape == (1, 6, 7, 3)
