"""Statistics that leave out *nodata* values, channel by channel (GDAL's rule).

Geospatial rasters and microscopy stacks mark missing pixels with a sentinel
(0, -9999, 65535).  With ``nodata`` given, a value equal to the sentinel of its
channel is left out of that channel's statistics, and only of that channel's:
each channel keeps its own exact pixel count.  An image in which a channel is
all nodata adds nothing to that channel; a dataset in which a channel has no
valid pixel at all is an error when its statistics are read.  The rule and its
helpers are the estimators' (:mod:`sk_pixels._nodata`).
"""

from __future__ import annotations

import numpy as np

from .._nodata import check_nodata, masked_view
from .._stats import PixelStats

__all__ = ["check_nodata", "masked_stats"]


def masked_stats(pixels: np.ndarray, nodata: tuple) -> PixelStats:
    """Exact statistics of one image ``(H, W)`` or ``(H, W, C)``, nodata left out.

    The statistics engine's masked kernels (exact integer sums for integer
    pixels); a channel with no valid value counts 0.
    """
    channels = 1 if pixels.ndim == 2 else pixels.shape[-1]
    view, valid = masked_view(pixels.reshape(1, -1, 1, channels), (-1, None), nodata)
    return PixelStats.from_view(view, valid=valid)
