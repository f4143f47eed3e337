"""Patch whitening: the covariance of all k x k patches, and the convolution.

Both work on channels-last ``(n, H, W, C)`` views (:mod:`sk_pixels._layout`)
and order a patch's values as ``(k, k, C)`` (row, column, channel), the
order of a flattened channels-last image.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from ._covariance import PixelCovariance

#: Values of one block of patch rows (about 8 MiB of float64).
_BLOCK = 2**20


def patch_rows(view: NDArray, k: int) -> NDArray:
    """Every ``k x k x C`` patch inside the images, as ``(k, k, C)``-ordered rows.

    Examples
    --------
    >>> import numpy as np
    >>> view = np.arange(9).reshape(1, 3, 3, 1)
    >>> patch_rows(view, 3)
    array([[0, 1, 2, 3, 4, 5, 6, 7, 8]])
    >>> patch_rows(view, 1).shape
    (9, 1)
    """
    c = view.shape[-1]
    windows = sliding_window_view(view, (k, k), axis=(1, 2))  # (n, h', w', C, k, k)
    return windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, k * k * c)


def patch_covariance(view: NDArray, k: int) -> PixelCovariance:
    """Covariance of all patches inside the images of a channels-last view.

    Patches are copied out a few images at a time (about 4 million values),
    never all at once: a 32x32 image holds 784 patches of 5x5.
    """
    n, h, w, c = view.shape
    if h < k or w < k:
        largest = min(h, w) if min(h, w) % 2 else min(h, w) - 1
        raise ValueError(
            f"X holds images of {h}x{w} pixels, smaller than patch_size={k}: "
            f"they contain no {k}x{k} patch. Use a smaller odd patch_size (at "
            f"most {largest})."
        )
    cov = PixelCovariance(k * k * c, view.dtype)
    per_image = (h - k + 1) * (w - k + 1) * k * k * c
    step = max(1, 4 * _BLOCK // per_image)
    for start in range(0, n, step):
        cov.update(patch_rows(view[start : start + step], k))
    return cov


def convolve(
    view: NDArray, out: NDArray, filters: NDArray, mean: NDArray, max_value: float
) -> None:
    """``out[.., c] = filters[c] . (patch / max_value - mean)`` at every pixel.

    Parameters
    ----------
    view : ndarray of shape (n, H, W, C)
        Channels-last images, in pixel units.
    out : ndarray of shape (n, H, W, C_out), float
        Channels-last view of the output, written in its dtype.
    filters : ndarray of shape (C_out, k, k, C)
        One filter per output channel.
    mean : ndarray of shape (k * k * C,)
        Mean patch in ``[0, 1]`` units.
    max_value : float
        Pixel units.

    Notes
    -----
    Each image is padded by ``k // 2`` pixels with NumPy's ``"reflect"`` mode,
    so the output has the input's size. Pixels are first moved to
    ``x / max_value - m_c`` (``m_c`` the mean of channel ``c`` over the mean
    patch) so that float32 dot products sum small centred values; the rest of
    the mean patch becomes a bias per output channel. Rows of patches are
    copied out a block at a time (about ``2**20`` values) and multiplied by the
    ``(k * k * C, C_out)`` filter matrix with one BLAS call per block.
    """
    c_out, k, _, c = filters.shape
    r = k // 2
    dt = out.dtype
    channel_mean = mean.reshape(k, k, c).mean(axis=(0, 1))
    residual = mean - np.tile(channel_mean, k * k)
    flat = filters.reshape(c_out, -1)
    bias = (flat @ residual).astype(dt)
    weights = np.ascontiguousarray(flat.T.astype(dt))
    scale = dt.type(1.0 / max_value)
    rows_per_block = max(1, _BLOCK // (view.shape[2] * k * k * c))
    for i in range(view.shape[0]):
        image = view[i].astype(dt) * scale
        image -= channel_mean.astype(dt)
        padded = np.pad(image, ((r, r), (r, r), (0, 0)), mode="reflect")
        windows = sliding_window_view(padded, (k, k), axis=(0, 1))  # (H, W, C, k, k)
        for top in range(0, view.shape[1], rows_per_block):
            block = windows[top : top + rows_per_block]
            patches = block.transpose(0, 1, 3, 4, 2).reshape(-1, k * k * c)
            values = patches @ weights
            values -= bias
            out[i, top : top + rows_per_block] = values.reshape(
                block.shape[0], block.shape[1], c_out
            )
