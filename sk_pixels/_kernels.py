"""Blocked transform kernels: one pass over cache-sized blocks, no batch temporaries.

Every transform of this library is a per-channel affine map ``y = x * scale +
offset``, optionally clipped.  The kernel writes it straight into the output,
block by block: the integer-to-float conversion happens inside NumPy's ufunc
loop (``uint8 * float32 -> float32``), so no float64 copy and no float32
temporary the size of the batch is ever made.

Accuracy: with float32 output, scale and offset are rounded to float32 and the
result ``fl(fl(x * scale) + offset)`` differs from the float64 reference
``(x - mean) / std`` cast to float32 by at most a few units in the last place of
the largest term (``|x * scale|`` or ``|offset|``); tests bound it by
``4 * eps(float32) * (|x * scale| + |offset|)``.
"""

from __future__ import annotations

import numpy as np

from ._stats import iter_blocks


def affine(
    src: np.ndarray,
    dst: np.ndarray,
    scale: np.ndarray,
    offset: np.ndarray,
    clip: tuple[float, float] | None = None,
    track_max: bool = False,
) -> float:
    """Write ``src * scale + offset`` (clipped) into ``dst``, block by block.

    Parameters
    ----------
    src : ndarray of shape (n, H, W, C)
        Channels-last view of the input (any numeric dtype, any strides).
    dst : ndarray of shape (n, H, W, C)
        Channels-last view of the float output; may be ``src`` itself.
    scale, offset : ndarray of shape (C,) or (n, 1, 1, C)
        Per channel (or per image and channel) coefficients, float64.
    clip : (lo, hi) or None
        Bounds applied after the affine map (NaN stays NaN).
    track_max : bool
        Also return the maximum of ``src`` (NaN ignored), read while each
        block is in cache.

    Returns
    -------
    max : float
        ``nanmax(src)`` when ``track_max``, else NaN.
    """
    ftype = dst.dtype
    scale = np.asarray(scale, dtype=ftype)
    offset = np.asarray(offset, dtype=ftype)
    per_image = scale.ndim == 4
    observed = -np.inf if track_max else np.nan
    for images, rows in iter_blocks(src.shape):
        x = src[images, rows]
        y = dst[images, rows]
        s = scale[images] if per_image else scale
        o = offset[images] if per_image else offset
        if track_max:
            observed = max(observed, float(np.fmax.reduce(x, axis=None)))
        np.multiply(x, s, out=y, casting="unsafe")
        np.add(y, o, out=y)
        if clip is not None:
            np.clip(y, clip[0], clip[1], out=y)
    return observed
