"""Per-image histograms beside the statistics, for ``dataset_stats(histogram=True)``.

Each decoded image gives its :class:`~sk_pixels.PixelStats` and its
:class:`~sk_pixels.PixelHistogram` of the very pixels :func:`load_image`
returns; both are mergeable, so workers send back one pair per chunk and the
parent merges them.  8-bit targets are counted once by Pillow's C histogram,
which gives both for free; other targets (16-bit, ``mode="native"``) go
through the array, and ``nodata`` values are left out of their channel.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .._histogram import PixelHistogram
from .._stats import PixelStats
from ._decode import _HISTOGRAM_SOURCES, _converted, _pixels
from ._modes import MODE_TABLE
from ._nodata import masked_stats
from ._tiff import NATIVE


def image_stats_and_histogram(
    im: Image.Image | np.ndarray, mode: str, nodata: tuple | None = None
) -> tuple[PixelStats, PixelHistogram]:
    """Exact statistics and histogram of the pixels ``load_image`` would return.

    With ``nodata`` (one value per channel), values equal to it are left out
    of both, channel by channel.
    """
    if nodata is not None:
        pixels = np.asarray(_pixels(im, mode))
        return masked_stats(pixels, nodata), masked_histogram(pixels, nodata)
    if (
        not isinstance(im, np.ndarray)
        and mode != NATIVE
        and MODE_TABLE[mode].dtype == "uint8"
        and im.mode in _HISTOGRAM_SOURCES
    ):
        counts = np.asarray(_converted(im, mode).histogram(), dtype=np.int64)
        counts = counts.reshape(-1, 256)
        counts = counts[::-1] if MODE_TABLE[mode].reversed else counts
        return PixelStats.from_histogram(counts), PixelHistogram(counts, "uint8", 1)
    pixels = _pixels(im, mode)
    view = pixels[None, ..., None] if pixels.ndim == 2 else pixels[None]
    return PixelStats.from_array(view), PixelHistogram.from_view(view)


def masked_histogram(pixels: np.ndarray, nodata: tuple) -> PixelHistogram:
    """Histogram of one image ``(H, W)`` or ``(H, W, C)``, nodata left out.

    Each channel's valid values are counted on their own (as
    :func:`~sk_pixels.io._nodata.masked_stats` does for the moments).
    """
    channels = 1 if pixels.ndim == 2 else pixels.shape[-1]
    planes = pixels.reshape(-1, channels)
    values = nodata * planes.shape[1] if len(nodata) == 1 else nodata
    rows = []
    for c, sentinel in enumerate(values):
        plane = planes[:, c]
        invalid = np.isnan(plane) if sentinel != sentinel else plane == sentinel
        valid = plane[~invalid]
        rows.append(PixelHistogram.from_view(valid.reshape(1, -1, 1, 1)).counts)
    return PixelHistogram(np.concatenate(rows), pixels.dtype.name, 1)


def merged(total: PixelHistogram | None, part: PixelHistogram | None):
    """``total`` with ``part`` added; None stands for "no image read yet", so
    the chunks of a folder merge in order wherever they were counted."""
    if part is None or total is None:
        return total if part is None else part
    return total.merge(part)
