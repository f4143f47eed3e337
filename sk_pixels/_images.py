"""What users hold, as image batches: PIL images, ragged lists and iterables.

The estimators take batches (see :mod:`sk_pixels._layout`); this module turns
the other common ways of holding a training set into batches, in one place:

- a PIL image is one image; its mode is converted as
  :func:`sk_pixels.io.load_image` converts it (16-bit kept as ``uint16``);
- a list or tuple of single images (arrays of different sizes, PIL images) is
  a *ragged list*: each image is laid out like one row of a batch;
- any other iterable (a generator, ``iter_images(...)``, a PyTorch
  ``DataLoader``) is a stream of items, each a batch, a PIL image, a list of
  single images (PIL images, or arrays of at most 3 dimensions), a tuple or
  list whose first element is the images (``(x, y)`` or ``[x, y]`` from a
  ``DataLoader``, ``(images, masks)``), or a mapping with a ``"pixel_values"``,
  ``"image"`` or ``"images"`` key (Hugging Face datasets).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

#: Keys of a mapping item that hold its images, in the order they are looked up.
IMAGE_KEYS = ("pixel_values", "image", "images")


def is_pil_image(value: Any) -> bool:
    """Whether ``value`` is a PIL image (without importing Pillow)."""
    image = sys.modules.get("PIL.Image")
    return image is not None and isinstance(value, image.Image)


def pil_pixels(image: Any) -> np.ndarray:
    """A PIL image as the ``(H, W)`` or ``(H, W, C)`` array it holds.

    Grayscale, RGB and their alpha variants keep their bands; 16-bit grayscale
    stays ``uint16``; palette images become RGB (RGBA with transparency), bilevel
    images ``L``, and other colour spaces (CMYK, YCbCr, LAB, HSV) RGB, as
    :func:`sk_pixels.io.load_image` reads files. 32-bit and float images have
    no known units and are refused.
    """
    mode = image.mode
    if mode.startswith("I;16"):
        return np.asarray(image).astype(np.uint16)  # native byte order
    if mode in ("I", "F"):
        raise ValueError(
            f"A PIL image of mode {mode!r} (32-bit) has no known units. Convert it "
            "to 'I;16' or 'L', or pass np.asarray(image) with max_value= set."
        )
    if mode == "1":
        image = image.convert("L")
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        alpha = mode in ("PA", "RGBa", "La") or "transparency" in image.info
        image = image.convert("RGBA" if alpha else "RGB")
    return np.asarray(image)


def _is_image(value: Any) -> bool:
    """One image: a PIL image, or an array-like of 2 or more dimensions."""
    return is_pil_image(value) or (
        hasattr(value, "shape") and hasattr(value, "ndim") and value.ndim >= 2
    )


def as_image_list(X: Any) -> list | None:
    """The images of a ragged list (or one PIL image), each as a batch of one.

    Returns None for anything else (arrays, nested lists of numbers), which
    keeps scikit-learn's usual conversion.
    """
    if is_pil_image(X):
        return [pil_pixels(X)[None]]
    if isinstance(X, (list, tuple)) and X and all(_is_image(x) for x in X):
        return [pil_pixels(x)[None] if is_pil_image(x) else x[None] for x in X]
    return None


def _is_array_like(X: Any) -> bool:
    return (
        hasattr(X, "shape")
        or hasattr(X, "__array__")
        or hasattr(X, "__array_namespace__")
        or isinstance(X, (list, tuple, Mapping))
    )


def stream(X: Any) -> Iterator | None:
    """The batches of an iterable that is not array-like, or None.

    A folder path is refused with the function to use instead.
    """
    if isinstance(X, (str, bytes, os.PathLike)):
        raise ValueError(
            f"X is a path ({X!r}), not images. Compute the statistics of a folder "
            "with sk_pixels.io.dataset_stats(folder) and fit with "
            "estimator.fit_stats(stats), or pass iter_images(folder) to stream it."
        )
    if _is_array_like(X) or not isinstance(X, Iterable):
        return None
    return (item_batch(item) for item in X)


def item_batch(item: Any) -> Any:
    """The images of one item of a stream: a batch, or a ragged list."""
    if is_pil_image(item):
        return [pil_pixels(item)[None]]
    if isinstance(item, Mapping):
        for key in IMAGE_KEYS:
            if key in item:
                return item_batch(item[key])
        raise ValueError(
            f"An item of X is a mapping with keys {sorted(map(str, item))[:10]}, "
            f"none of which holds images. Use one of {list(IMAGE_KEYS)}."
        )
    if isinstance(item, (list, tuple)) and item:
        if all(_is_image(x) for x in item) and (
            all(is_pil_image(x) for x in item)
            or (isinstance(item, list) and any(np.ndim(x) < 4 for x in item))
        ):
            return as_image_list(item)  # a list of single images
        # (images, labels), as a DataLoader yields (a list after collation),
        # (images, masks) too: the images come first.
        return item_batch(item[0])
    return item


def stats_of_batches(stats: Any, batches: Any, channel_axis, image_shape) -> Any:
    """Accumulate the images of ``batches`` into the empty PixelStats ``stats``."""
    if isinstance(batches, (list, tuple)) or not hasattr(batches, "__iter__"):
        items = [batches]  # one batch, or one list of single images
    else:
        items = (item_batch(item) for item in batches)
    for item in items:
        for part in as_image_list(item) or [item]:
            stats.update(part, channel_axis=channel_axis, image_shape=image_shape)
    if stats.input_dtype is None:
        raise ValueError(
            f"batches ({type(batches).__name__}) yielded no image: there is "
            "nothing to compute statistics of."
        )
    return stats
