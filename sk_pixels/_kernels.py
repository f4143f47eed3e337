"""Blocked transform kernels: one pass over cache-sized blocks, no batch temporaries.

Every transform of this library is a per-channel affine map ``y = x * scale +
offset``, optionally clipped.  :func:`affine` writes it straight into the
output, block by block (:data:`BLOCK_ELEMENTS` values, 768 KiB of float32, so
a block stays in the L2 cache between its steps):

1. ``np.copyto(y, x)`` casts the input block into the output (``uint8`` ->
   ``float32`` is exact; it is NumPy's fastest conversion loop, faster than the
   casting buffers of a mixed-type ``x * scale``);
2. ``y *= scale`` and ``y += offset`` run in place on the cached block.

No float64 copy and no temporary the size of the batch is ever made: the peak
extra memory of a transform is its output.  How the coefficients meet the
block is chosen from the output's memory layout:

* **channels-last** output (``(n, H, W, C)``, grayscale, flattened): each block
  is viewed as rows of a few thousand values and the per-channel coefficients
  are tiled once into a row of that length, so NumPy's inner loops run over
  contiguous rows instead of over the C channels of one pixel;
* **channels-first** output (``(n, C, H, W)``): each channel plane gets its
  scalar coefficients;
* any other layout (a caller's ``out`` with odd strides) broadcasts the
  ``(C,)`` coefficients as they are: correct, slower.

Per-image coefficients (``scope="image"``/``"batch"``) are tiled per block.
Large batches (more than :data:`sk_pixels._threads.MIN_PARALLEL_BYTES` of
memory traffic) are split over threads (NumPy releases the GIL inside each
step); see :mod:`sk_pixels._threads` for the limits that are respected.

Accuracy: ``scale`` and ``offset`` are rounded to the output dtype, and the
result ``fl(fl(x * scale) + offset)`` differs from the float64 reference
(``(x - mean) / std``, cast to the output dtype) by at most a few units in the
last place of the largest term: the tests bound it by
``4 * eps * (|x * scale| + |offset|)`` with ``eps`` the machine epsilon of the
output dtype (``2**-23`` for float32), plus ``eps * |x|`` when an integer input
wider than the output's mantissa (``int32`` -> ``float32``) is rounded by the
cast.  Clipping is exact.  A 256-entry float32 lookup table per channel for
``uint8`` (albucore's trick) was measured slower here: NumPy's gather needs the
indices as ``intp``, an 8-byte copy of every pixel.
"""

from __future__ import annotations

import numpy as np

from . import _threads
from ._blocks import BLOCK_BYTES, _row_length, iter_blocks

#: Length of the coefficient rows tiled for channels-last blocks (values).
_TILE_ROW = 1024

#: Values per block: the statistics' block size (``_blocks.BLOCK_BYTES``) of
#: float32 output, so a 224x224 RGB image (150,528 values) is one block, and a
#: block stays in a 1 MiB L2 cache between the steps.
BLOCK_ELEMENTS = BLOCK_BYTES // 4


def _layout(dst: np.ndarray) -> str:
    """How the coefficients meet ``dst``: "last", "first" or "any"."""
    n, h, w, c = dst.shape
    if n == 0 or dst[0].flags.c_contiguous:
        return "last"
    if dst.transpose(0, 3, 1, 2)[0, 0].flags.c_contiguous:
        return "first"
    return "any"


def _tile_size(shape: tuple[int, ...], images: slice, rows: slice) -> int:
    """Values of one coefficient row per image of a block (see ``operands``)."""
    n, h, w, c = shape
    g = len(range(*images.indices(n)))
    r = len(range(*rows.indices(h)))
    return g * _row_length(r * w, c, w, _TILE_ROW)


def _same_memory(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``a`` and ``b`` are the same elements (an in-place transform)."""
    return (
        a.shape == b.shape
        and a.strides == b.strides
        and a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
    )


def affine(
    src: np.ndarray,
    dst: np.ndarray,
    scale: np.ndarray,
    offset: np.ndarray,
    clip: tuple[float, float] | None = None,
    track_max: bool = False,
    n_threads: int | None = None,
    block: int = BLOCK_ELEMENTS,
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
    n_threads : int or None
        Threads to use; None decides from the batch size and the limits of
        :mod:`sk_pixels._threads`.
    block : int
        Values per block.

    Returns
    -------
    max : float
        ``nanmax(src)`` when ``track_max``, else NaN.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([0, 51, 255], dtype=np.uint8).reshape(1, 1, 3, 1)
    >>> y = np.empty(x.shape, dtype=np.float32)
    >>> affine(x, y, np.array([1 / 255]), np.array([-0.5]), track_max=True)
    255.0
    >>> y.ravel().round(4)
    array([-0.5, -0.3,  0.5], dtype=float32)
    """
    ftype = dst.dtype
    if _needs_float64(src.dtype, ftype, scale, offset):
        return _affine_float64(src, dst, scale, offset, clip, track_max, block)
    scale = np.asarray(scale, dtype=ftype)
    offset = np.asarray(offset, dtype=ftype)
    per_image = scale.ndim == 4
    layout = _layout(dst)
    in_place = _same_memory(src, dst)
    if n_threads is None:
        n_threads = _threads.get_num_threads(src.nbytes + dst.nbytes)
    if clip is not None:
        clip = (ftype.type(clip[0]), ftype.type(clip[1]))
    tiles: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    # x / 255 needs no add, a pure shift no multiply: one pass less each.
    unit_scale = bool(np.all(scale == 1))
    zero_offset = not np.any(offset)

    def operands(y: np.ndarray, images: slice, tile_buf=None):
        """``y`` reshaped for fast inner loops, with matching coefficients."""
        g, r, w, c = y.shape
        s = scale[images].reshape(g, 1, c) if per_image else scale.reshape(1, c)
        o = offset[images].reshape(g, 1, c) if per_image else offset.reshape(1, c)
        if layout == "last":
            width = _row_length(r * w, c, w, _TILE_ROW)
            if per_image:
                # Tile each image's coefficients along a row (one C-level copy).
                ts = tile_buf[0, : g * width].reshape(g, 1, width // c, c)
                to = tile_buf[1, : g * width].reshape(g, 1, width // c, c)
                np.copyto(ts, s.reshape(g, 1, 1, c))
                np.copyto(to, o.reshape(g, 1, 1, c))
                return (
                    y.reshape(g, -1, width),
                    ts.reshape(g, 1, width),
                    to.reshape(g, 1, width),
                )
            if width not in tiles:
                tiles[width] = (np.tile(s[0], width // c), np.tile(o[0], width // c))
            return (y.reshape(g, -1, width), *tiles[width])
        if layout == "first":
            planes = y.transpose(0, 3, 1, 2)
            if per_image:
                return planes, s.reshape(g, c, 1, 1), o.reshape(g, c, 1, 1)
            return planes, s.reshape(c, 1, 1), o.reshape(c, 1, 1)
        if per_image:
            return y, s.reshape(g, 1, 1, c), o.reshape(g, 1, 1, c)
        return y, s[0], o[0]

    def run(blocks) -> float:
        observed = -np.inf
        tile_buf = None
        if per_image and layout == "last":
            # Coefficient rows of the largest block (its images x one row).
            size = max(_tile_size(src.shape, im, rs) for im, rs in blocks)
            tile_buf = np.empty((2, size), dtype=ftype)
        for images, rows in blocks:
            x = src[images, rows]
            y = dst[images, rows]
            if track_max:
                observed = max(observed, float(np.fmax.reduce(x, axis=None)))
            if not in_place:
                np.copyto(y, x, casting="unsafe")
            view, s, o = operands(y, images, tile_buf if per_image else None)
            if not unit_scale:
                np.multiply(view, s, out=view)
            if not zero_offset:
                np.add(view, o, out=view)
            if clip is not None:
                np.clip(view, clip[0], clip[1], out=view)
        return observed

    if src.size == 0:
        return -np.inf if track_max else np.nan
    blocks = list(iter_blocks(src.shape, block))
    observed = max(_threads.run(run, blocks, n_threads))
    return observed if track_max else np.nan


#: Above this ratio of ``|offset|`` to ``max(1, |scale|)`` the float32 path would
#: cancel away more than 10 of its 24 bits (``(x - mean) / std`` with
#: ``|mean| >> std``, e.g. a nearly constant 16-bit image).
_CANCELLATION = 2.0**10


def _needs_float64(src_dtype, ftype, scale, offset) -> bool:
    """Whether the output-precision path would lose accuracy for these operands.

    True when the input does not convert exactly to the output dtype (``int32``
    or ``float64`` pixels into float32, ``uint16`` into float16), when a
    coefficient does not fit the output dtype (a std of 1e-39 in float32 data),
    or when the offset is so large against the scale that ``x * scale + offset``
    cancels (see :data:`_CANCELLATION`).  Those cases run in float64 blocks.
    """
    if ftype == np.float64:
        return False
    if not np.can_cast(src_dtype, ftype, "safe"):
        return True
    info = np.finfo(ftype)
    scale = np.abs(np.asarray(scale, dtype=np.float64))
    offset = np.abs(np.asarray(offset, dtype=np.float64))
    nonzero = scale[scale > 0]
    if np.any(scale > info.max) or np.any(offset > info.max):
        return True
    if nonzero.size and nonzero.min() < info.smallest_normal:
        return True
    return bool(np.max(offset, initial=0.0) > _CANCELLATION * max(1.0, scale.max()))


def _affine_float64(src, dst, scale, offset, clip, track_max, block) -> float:
    """:func:`affine` computed in float64 blocks, then cast to ``dst``'s dtype.

    The exact path for the cases of :func:`_needs_float64`: one float64
    temporary of one block, never of the batch.
    """
    scale = np.asarray(scale, dtype=np.float64)
    offset = np.asarray(offset, dtype=np.float64)
    per_image = scale.ndim == 4
    observed = -np.inf
    for images, rows in iter_blocks(src.shape, block):
        x = src[images, rows]
        if track_max:
            observed = max(observed, float(np.fmax.reduce(x, axis=None)))
        t = x.astype(np.float64)
        np.multiply(t, scale[images] if per_image else scale, out=t)
        np.add(t, offset[images] if per_image else offset, out=t)
        if clip is not None:
            np.clip(t, clip[0], clip[1], out=t)
        # A value beyond the output's range overflows here, under the caller's
        # np.errstate (transform turns it into a clear error).
        np.copyto(dst[images, rows], t, casting="unsafe")
    return observed if track_max else np.nan


def check_out(out, shape: tuple[int, ...], X: np.ndarray) -> np.ndarray:
    """Validate the ``out=`` argument of ``transform``: a float array of X's shape.

    ``out`` may be ``X`` itself (an in-place transform of float input), but
    must not otherwise overlap it.
    """
    if not isinstance(out, np.ndarray):
        raise TypeError(
            f"out must be a NumPy array, got {type(out).__name__}. Allocate one "
            "with np.empty(X.shape, dtype=np.float32)."
        )
    if out.shape != tuple(shape):
        raise ValueError(
            f"out has shape {out.shape}, but the output has shape {tuple(shape)}. "
            "Pass an array of X's shape."
        )
    if out.dtype.kind != "f":
        raise ValueError(
            f"out has dtype {out.dtype}, but scaled pixels are float. Pass a "
            "float32 or float64 array."
        )
    if not out.flags.writeable:
        raise ValueError("out is read-only. Pass a writeable array.")
    if np.may_share_memory(out, X) and not (
        out is X or _same_memory(out, np.asarray(X))
    ):
        raise ValueError(
            "out overlaps X without being X. Pass X itself (an in-place "
            "transform of float input) or a separate array."
        )
    return out
