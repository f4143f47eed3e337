"""TIFFs that Pillow cannot read faithfully, read with ``tifffile``.

Pillow opens 8-bit TIFFs and single-channel 16-bit or float ones, but decodes
16-bit colour to 8 bits without a word and cannot open more than 4 channels or
float colour.  Those files are read here, through ``tifffile`` (the optional
extra ``tiff``), with every channel in its native dtype; without it, they are
refused with an error that names the extra, never truncated.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

from ._modes import NATIVE
from ._wide import _ORIENT

_EXTRA = 'pip install "sk_pixels[tiff]"'


def pillow_is_faithful(im: Image.Image) -> bool:
    """Whether Pillow decodes the opened TIFF ``im`` without losing bits."""
    bits = im.tag_v2.get(258, (8,))  # BitsPerSample
    bits = bits if isinstance(bits, tuple) else (bits,)
    samples = int(im.tag_v2.get(277, len(bits)))  # SamplesPerPixel
    if samples != len(im.getbands()):
        return False  # Pillow would read some of the channels only
    return samples == 1 or max(bits) <= 8


def _tifffile() -> Any:
    try:
        import tifffile
    except ImportError:
        return None
    return tifffile


def read_tiff(fp: Any, why: str, sized: Any) -> np.ndarray:
    """The first image of the TIFF ``fp`` as stored, channels last, EXIF-oriented.

    ``why`` says what Pillow cannot do with it, for the error without tifffile;
    ``sized(width, height)`` is called before any pixel is decoded (the
    decompression-bomb check).
    """
    tifffile = _tifffile()
    if tifffile is None:
        raise ValueError(f"{why}; reading it needs tifffile: {_EXTRA}")
    fp.seek(0)
    # An in-memory copy: tifffile names its file by ``fp.name``, which is a
    # descriptor number for the checked, non-blocking opens of ``_decode``.
    with tifffile.TiffFile(io.BytesIO(fp.read())) as tif:
        page = tif.pages[0]
        sized(page.imagewidth, page.imagelength)
        array = page.asarray()
        axes = page.axes
        orientation = page.tags.get(274)
    if axes.startswith("S") and array.ndim == 3:  # planar: samples first
        array = np.moveaxis(array, 0, -1)
    elif array.ndim not in (2, 3):
        raise ValueError(
            f"TIFF page of shape {array.shape} (axes {axes!r}) is not one 2-D image "
            "(a volume?); save each image as its own file"
        )
    if orientation is not None and orientation.value in _ORIENT:
        array = _ORIENT[orientation.value](array)
    return np.ascontiguousarray(array)


def as_mode(array: np.ndarray, mode: str, from_wide: Any) -> np.ndarray:
    """A TIFF's native samples as ``mode`` (``from_wide`` converts 16-bit ones)."""
    if mode == NATIVE:
        return array
    channels = 1 if array.ndim == 2 else array.shape[-1]
    if array.dtype not in (np.uint8, np.uint16) or channels > 4:
        raise ValueError(
            f"{channels} channel(s) of {array.dtype} samples cannot be read as "
            f"{mode!r}; read the file with mode='native' (every channel, native "
            "dtype)"
        )
    wide = array.astype(np.uint16) * np.uint16(257 if array.dtype == np.uint8 else 1)
    return from_wide(wide, mode)
