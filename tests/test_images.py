"""The front door: ragged lists, PIL images and iterables go in like batches.

Each law compares with the batch path on the same pixels: exact (to the bit)
for integer pixels, as the statistics are.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from PIL import Image

from sk_pixels import PixelCenterer, PixelNormalizer, PixelStandardizer, PixelStats


def _ragged(rng, dtype=np.uint8, channels=3):
    sizes = [(5, 7), (3, 4), (9, 2), (1, 1)]
    return [rng.integers(0, 256, (h, w, channels)).astype(dtype) for h, w in sizes]


def _pixels(images):
    """All pixels of a ragged list as one (1, n_pixels, 1, C) batch."""
    return np.concatenate([im.reshape(-1, im.shape[-1]) for im in images])[
        None, :, None
    ]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("container", [list, tuple])
def test_ragged_list_statistics_equal_the_concatenated_pixels(rng, dtype, container):
    images = _ragged(rng, dtype)
    scaler = PixelStandardizer().fit(container(images))
    reference = PixelStandardizer().fit(_pixels(images))
    if np.dtype(dtype).kind == "u":
        assert_array_equal(scaler.mean_, reference.mean_)  # exact: to the bit
        assert_array_equal(scaler.std_, reference.std_)
    else:
        assert_allclose(scaler.mean_, reference.mean_, rtol=1e-12)
        assert_allclose(scaler.std_, reference.std_, rtol=1e-12)
    assert scaler.n_samples_seen_ == len(images)


@pytest.mark.parametrize(
    "estimator",
    [
        PixelStandardizer(),
        PixelStandardizer(scope="image"),
        PixelStandardizer(scope="batch"),
        PixelNormalizer(scope="dataset"),
        PixelCenterer(per_channel=False),
    ],
    ids=repr,
)
def test_ragged_list_transform_returns_a_list_of_the_same_shapes(rng, estimator):
    images = _ragged(rng)
    out = estimator.fit(images).transform(images)
    assert isinstance(out, list) and [y.shape for y in out] == [x.shape for x in images]
    if estimator.scope == "batch":  # the batch is the whole list
        reference = PixelStandardizer(scope="dataset").fit(_pixels(images))
        expected = [reference.transform(x[None])[0] for x in images]
    else:
        expected = [estimator.transform(x[None])[0] for x in images]
    for y, e in zip(out, expected, strict=True):
        assert_allclose(y, e, rtol=1e-6, atol=1e-6)
    if hasattr(estimator, "inverse_transform"):
        back = estimator.inverse_transform(out, restore_dtype=True)
        for x, b in zip(images, back, strict=True):
            assert_array_equal(b, x)


def test_ragged_list_of_mixed_dtypes_is_refused(rng):
    images = _ragged(rng)
    images[1] = images[1].astype(np.float32) / 255
    with pytest.raises(ValueError, match="different dtypes"):
        PixelStandardizer().fit(images)


def test_ragged_list_refuses_out(rng):
    images = _ragged(rng)
    scaler = PixelStandardizer().fit(images)
    with pytest.raises(TypeError, match="out= is not supported for a list"):
        scaler.transform(images, out=np.empty(3))


@pytest.mark.parametrize(
    "mode, dtype, channels",
    [
        ("RGB", np.uint8, 3),
        ("RGBA", np.uint8, 4),
        ("L", np.uint8, 1),
        ("I;16", np.uint16, 1),
        ("P", np.uint8, 3),
        ("CMYK", np.uint8, 3),
        ("1", np.uint8, 1),  # bilevel: read as L, 0 and 255
    ],
)
def test_pil_image_is_one_image_in_load_images_modes(rng, mode, dtype, channels):
    rgb = Image.fromarray(rng.integers(0, 256, (6, 5, 3), dtype=np.uint8))
    if mode == "I;16":
        image = Image.fromarray(rng.integers(0, 65536, (6, 5), dtype=np.uint16))
    else:
        image = rgb.convert(mode)
    scaler = PixelStandardizer().fit(image)
    assert scaler.n_samples_seen_ == 1 and scaler.n_channels_ == channels
    assert scaler.input_dtype_ == np.dtype(dtype).name
    read_as = {"P": "RGB", "CMYK": "RGB", "1": "L"}.get(mode)
    pixels = np.asarray(image.convert(read_as) if read_as else image)
    pixels = pixels.reshape(1, *pixels.shape[:2], -1).astype(dtype)
    assert_array_equal(scaler.mean_, PixelStandardizer().fit(pixels).mean_)
    out = scaler.transform([image, image])  # a list of PIL images is a ragged list
    expected_shape = pixels.shape[1:3] if channels == 1 else pixels.shape[1:]
    assert len(out) == 2 and out[0].shape == expected_shape  # the image's own shape


def _items(batches, kind):
    """The same batches as the items a stream of ``kind`` yields."""
    for batch in batches:
        if kind == "array":
            yield batch
        elif kind == "pair":
            yield batch, np.zeros(len(batch))  # (x, y) as a DataLoader yields
        elif kind == "collated-list":
            yield [batch, np.zeros(len(batch))]
        elif kind == "hf-dict":
            yield {"pixel_values": batch, "label": 0}
        elif kind == "pil":
            for image in batch:
                yield Image.fromarray(image)
        elif kind == "list-of-images":
            yield list(batch)


@pytest.mark.parametrize(
    "kind", ["array", "pair", "collated-list", "hf-dict", "pil", "list-of-images"]
)
def test_fit_streams_an_iterable_equal_to_partial_fit_per_item(rng, kind):
    batches = [rng.integers(0, 256, (n, 4, 5, 3), dtype=np.uint8) for n in (3, 1, 2)]
    scaler = PixelStandardizer().fit(_items(batches, kind))
    reference = PixelStandardizer()
    for batch in batches:
        reference.partial_fit(batch)
    assert_array_equal(scaler.mean_, reference.mean_)
    assert_array_equal(scaler.std_, reference.std_)
    assert scaler.n_samples_seen_ == reference.n_samples_seen_ == 6
    stats = PixelStats.from_batches(_items(batches, kind))
    assert stats == reference.stats_


def test_fit_streams_a_pytorch_dataloader(rng):
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader, TensorDataset

    X = rng.integers(0, 256, (10, 4, 5, 3), dtype=np.uint8)
    loader = DataLoader(
        TensorDataset(torch.from_numpy(X), torch.arange(10)), batch_size=3
    )
    scaler = PixelStandardizer().fit(loader)
    reference = PixelStandardizer().fit(X)
    assert_array_equal(scaler.mean_, reference.mean_)
    assert_array_equal(scaler.std_, reference.std_)


@pytest.mark.parametrize(
    "X, error, match",
    [
        (iter(()), ValueError, "empty iterable"),
        ("photos/", ValueError, "dataset_stats"),
        (iter([{"label": 1}]), ValueError, "none of which holds images"),
        (Image.new("F", (3, 2)), ValueError, r"mode 'F' \(32-bit\) has no known units"),
        (Image.new("I", (3, 2)), ValueError, r"Convert it to 'I;16' or 'L'"),
    ],
    ids=["empty", "folder-path", "mapping-without-images", "pil-float", "pil-int32"],
)
def test_stream_errors_name_the_fix(X, error, match):
    with pytest.raises(error, match=match):
        PixelStandardizer().fit(X)


def test_from_batches_takes_one_list_of_images_and_refuses_an_empty_stream(rng):
    images = [
        rng.integers(0, 256, shape, dtype=np.uint8) for shape in [(4, 5, 3), (6, 2, 3)]
    ]
    expected = PixelStats.from_array(images[0][None]) + PixelStats.from_array(
        images[1][None]
    )
    assert PixelStats.from_batches(images) == expected
    with pytest.raises(ValueError, match=r"batches \(list_iterator\) yielded no image"):
        PixelStats.from_batches(iter([]))
