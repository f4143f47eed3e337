"""16-bit pixels: PNGs decoded with all their bits, and conversions in NumPy.

Pillow has no 16-bit colour mode: it decodes a 16-bit RGB, RGBA or
grayscale+alpha PNG to 8 bits by keeping the high byte of each sample.  Its
PNG decoder (zlib inflate and the PNG row filters, interlacing included) is
still the one used here, told to unpack other bytes of each sample:

- RGB and RGBA (6 or 8 bytes per pixel): decoded twice, once as Pillow does
  (big-endian ``"RGB;16B"``: the high bytes) and once as if the samples were
  little-endian (``"RGB;16L"``, which unpacks the *other* byte of each pair:
  the low bytes); ``high * 256 + low`` is the exact sample;
- grayscale+alpha (4 bytes per pixel): decoded once as 8-bit ``"RGBA"``, which
  copies the four bytes ``L_high, L_low, A_high, A_low`` of each pixel.

The row filters depend only on the bytes per pixel, which every unpacking
above keeps, so the filtered bytes are undone exactly
(tests/test_io_files.py checks every filter type, interlacing and each colour
type against the samples written).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from ._modes import MODE_TABLE

#: Pillow's raw modes of 16-bit colour PNG samples -> channels.
WIDE_PNG_RAWMODES = {"RGB;16B": 3, "RGBA;16B": 4, "LA;16B": 2}

#: EXIF orientation -> the NumPy flips and transposes Pillow's
#: ``ImageOps.exif_transpose`` applies (rows are axis 0, columns axis 1).
_ORIENT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, k=-1),
    7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
    8: lambda a: np.rot90(a, k=1),
}


def _rawmode(im: Image.Image) -> str | None:
    if im.format != "PNG" or len(im.tile) != 1:
        return None
    args = im.tile[0].args
    rawmode = args[0] if isinstance(args, tuple) else args
    return rawmode if rawmode in WIDE_PNG_RAWMODES else None


def is_wide_png(im: Image.Image) -> bool:
    """Whether ``im`` (opened, not loaded) is a 16-bit colour PNG."""
    return _rawmode(im) is not None


def _with_rawmode(im: Image.Image, rawmode: str) -> None:
    tile = im.tile[0]
    args = tile.args
    args = (rawmode, *args[1:]) if isinstance(args, tuple) else rawmode
    im.tile = [tile._replace(args=args)]


def load_wide_png(im: Image.Image, fp: Any) -> np.ndarray:
    """The samples of the 16-bit colour PNG ``im``, opened from ``fp``, not loaded.

    Returns a uint16 array ``(H, W, C)`` in the file's channels (LA, RGB or
    RGBA), EXIF orientation applied.  ``im`` is loaded (with other bytes than
    Pillow's) and must not be used for its pixels afterwards.
    """
    rawmode = _rawmode(im)
    if rawmode == "LA;16B":
        _with_rawmode(im, "RGBA")
        im.load()
        wide = np.asarray(im).astype(np.uint16).reshape(im.size[1], im.size[0], 2, 2)
        wide = (wide[..., 0] << 8) | wide[..., 1]
    else:
        im.load()
        high = np.asarray(im)
        fp.seek(0)
        with Image.open(fp, formats=["PNG"]) as other:
            _with_rawmode(other, rawmode.replace("16B", "16L"))
            other.load()
            low = np.asarray(other)
        wide = (high.astype(np.uint16) << 8) | low
    orientation = im.getexif().get(0x0112)
    if orientation in _ORIENT:
        wide = np.ascontiguousarray(_ORIENT[orientation](wide))
    return wide


def luma16(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601-2 luma of uint16 RGB, with Pillow's integer weights (sum 2**16)."""
    r, g, b = (rgb[..., k].astype(np.uint64) for k in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 32768) >> 16).astype(np.uint16)


def to8(wide: np.ndarray) -> np.ndarray:
    """``round(x / 257)`` for uint16 ``x``: 65535 -> 255, exact on 257-multiples."""
    return ((wide.astype(np.uint32) + 128) // 257).astype(np.uint8)


def from_wide(wide: np.ndarray, mode: str) -> np.ndarray:
    """uint16 pixels ``(H, W)`` or ``(H, W, C)`` (C: 1 L, 2 LA, 3 RGB, 4 RGBA)
    as the array of ``mode``: channels converted in 16 bits (luma, alpha 65535
    when absent, alpha dropped), then rounded to 8 bits for an 8-bit mode."""
    entry = MODE_TABLE[mode]
    if wide.ndim == 2:
        wide = wide[..., None]
    n = wide.shape[-1]
    colour = wide[..., :3] if n >= 3 else None
    gray = wide[..., 0] if colour is None else luma16(colour)
    alpha = wide[..., -1] if n in (2, 4) else None
    if mode == "I;16":
        return gray
    planes = []
    for name in entry.channels:
        if name == "A":
            plane = alpha if alpha is not None else np.full(gray.shape, 65535, "u2")
        elif name == "L":
            plane = gray
        else:
            plane = gray if colour is None else colour[..., "RGB".index(name)]
        planes.append(plane)
    out = planes[0] if len(planes) == 1 and entry.order == "L" else np.stack(planes, -1)
    return out if entry.dtype == "uint16" else to8(out)
