"""Statistics that leave out *nodata* values, channel by channel (GDAL's rule).

Geospatial rasters and microscopy stacks mark missing pixels with a sentinel
(0, -9999, 65535).  With ``nodata`` given, a value equal to the sentinel of its
channel is left out of that channel's statistics, and only of that channel's:
each channel keeps its own exact pixel count.  An image in which a channel is
all nodata adds nothing to that channel; a dataset in which a channel has no
valid pixel at all is an error when its statistics are read.
"""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np

from .._stats import PixelStats


def check_nodata(nodata: Any, n_channels: int | None) -> tuple[float, ...] | None:
    """``nodata`` as one value per channel (None stays None), or a ValueError.

    ``n_channels`` None (``mode="native"``): a sequence is checked per image.
    """
    if nodata is None:
        return None
    values = (nodata,) if isinstance(nodata, Real) else nodata
    try:
        values = tuple(values)
    except TypeError:
        values = None
    if (
        not values
        or any(isinstance(v, bool) or not isinstance(v, Real) for v in values)
        or (len(values) != 1 and n_channels is not None and len(values) != n_channels)
    ):
        per = f"or {n_channels} numbers, one per channel" if n_channels else "or a list"
        raise ValueError(
            f"nodata must be a number {per} (in pixel units of the mode). "
            f"Got nodata={nodata!r:.80}."
        )
    return tuple(float(v) if isinstance(v, float) else int(v) for v in values)


def masked_stats(pixels: np.ndarray, nodata: tuple) -> PixelStats:
    """Exact statistics of one image ``(H, W)`` or ``(H, W, C)``, nodata left out.

    Each channel's valid values go through :meth:`PixelStats.from_array`
    (exact integer sums for integer pixels) and the channels are joined with
    :meth:`PixelStats.from_dict`; a channel with no valid value counts 0.
    """
    planes = (
        pixels.reshape(-1, 1)
        if pixels.ndim == 2
        else pixels.reshape(-1, pixels.shape[-1])
    )
    channels = planes.shape[1]
    if len(nodata) not in (1, channels):
        raise ValueError(
            f"nodata has {len(nodata)} values but the image has {channels} channels"
        )
    values = nodata * channels if len(nodata) == 1 else nodata
    joined: dict[str, Any] = {}
    for c, sentinel in enumerate(values):
        plane = planes[:, c]
        invalid = np.isnan(plane) if sentinel != sentinel else plane == sentinel
        valid = plane[~invalid]
        sample = valid if valid.size else plane[:1]
        part = PixelStats.from_array(sample.reshape(1, -1, 1, 1)).to_dict()
        if not valid.size:  # nothing valid: an empty channel
            part = {
                key: [0 if isinstance(v[0], int) else 0.0] if isinstance(v, list) else v
                for key, v in part.items()
            }
            part["min"], part["max"] = [float("inf")], [float("-inf")]
        for key, value in part.items():
            if isinstance(value, list):
                joined.setdefault(key, []).extend(value)
            else:
                joined[key] = value
    joined["n_images"] = 1
    return PixelStats.from_dict(joined)
