"""Reductions: per-channel moments and extrema of a channels-last image view.

One exact kernel (:func:`exact_block`) and one float kernel
(:func:`float_block`), each written against an array namespace ``xp``: NumPy
arrays take NumPy (``xp is numpy``), any other array API array (PyTorch, CuPy,
array_api_strict...) its own namespace, on its own device.  Both kernels
reduce one block of at most a cache-sized (NumPy) or launch-sized (device)
number of values, so accumulating a batch of any size needs a fixed amount of
extra memory.

**Exact** (integer pixels of at most 16 bits).  A block is cast once into an
accumulator in which its column sums of ``x`` and ``x * x`` are provably exact:

* NumPy: float32 (8-bit pixels) or float64 (16-bit pixels), summed by BLAS as
  a product with a vector of ones over at most ``max_rows`` rows at a time, so
  every partial sum is an integer below 2**24 or 2**53, which the format holds
  exactly whatever order BLAS adds in;
* devices: int64, where a block sum of squares is at most
  ``block * 65535**2 < 2**63``.

Block sums go to Python ints on the host, so the result is the same integers,
to the bit, for any block size, batch split, layout, thread count or namespace.
On NumPy a C-contiguous batch is read as one stream of fixed blocks that
ignore image boundaries, a channels-first batch plane by plane in memory
order, any other layout block by block, and large batches on several threads
(see :mod:`sk_pixels._threads`).

**Float** (every other dtype).  Per block, the corrected two-pass algorithm:
the mean of the block, then the sum of the deviations from it (which removes
the rounding error of the first mean) and the sum of squared deviations
(Chan, Golub and LeVeque 1983, eq. 1.7), in float64, or in float32 on a device
without float64 (a relative error of about ``eps(float32) * log2(block)`` per
block).  Blocks are merged on the host in float64 with Chan et al.'s pairwise
update (:class:`~sk_pixels._moments.FloatMoments`), so the error does not grow
with the number of blocks.  NaN values are ignored.

**Masks** (:mod:`sk_pixels._nodata`: ``numpy.ma`` masks, nodata sentinels).
Both kernels take an optional boolean ``valid`` block: the exact kernel zeroes
invalid values before summing and sums ``valid`` as a third row (the counts);
the float kernel turns invalid values into NaN, which it ignores.  Extrema skip
invalid values; a channel with no valid value has count 0 and NaN extrema.  A
C-contiguous NumPy view is read as rows in tiles (a mean image's wide rows cut
into columns) whose exact sums add up in float64 while provably exact.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from . import _fused
from ._blocks import (
    _TARGET_ROW,
    BLOCK_BYTES,
    _column_sums,
    _row_length,
    _scratch,
    fold,
    iter_blocks,
    iter_tiles,
    masked_columns,
)
from ._moments import ExactMoments, ExactSums, FloatMoments, fast_two_sum
from ._xp import float_dtype, namespace_of, numpy_dtype, to_numpy

#: Device blocks are this many times ``BLOCK_BYTES``: each is a few kernel launches and
#: one host transfer, whose fixed cost a cache-sized block would not amortize
#: (24 MiB of int64/float64 temporaries; 3 Mi values keep int64 sums of squares
#: of 16-bit pixels far below 2**63).
DEVICE_BLOCK_FACTOR = 32

#: Integer dtypes accumulated exactly: up to 16 bits.
_EXACT_MAX_ITEMSIZE = 2

#: Unfolded float64 column sums are flushed to Python ints before they could
#: reach this bound (half the 2**53 of exact float64 integers).
_FLUSH_LIMIT = 1 << 52

#: Unfolded per-image sums and extrema kept before folding them into channels.
_FOLD_CHUNK_BYTES = 2**20


def is_exact_dtype(dtype: np.dtype) -> bool:
    """Whether pixels of ``dtype`` are accumulated exactly (integers of <= 16 bits)."""
    dtype = np.dtype(dtype)
    return dtype.kind in "ui" and dtype.itemsize <= _EXACT_MAX_ITEMSIZE


def _largest_square(dtype: np.dtype) -> int:
    info = np.iinfo(dtype)
    return max(-int(info.min), int(info.max)) ** 2


def exact_plan(dtype: np.dtype, xp) -> tuple[Any, int]:
    """Accumulator of an exact dtype in ``xp`` and the rows it may sum exactly."""
    largest = _largest_square(dtype)
    if xp is not np:
        return xp.int64, (2**63 - 1) // largest
    if np.dtype(dtype).itemsize == 1:
        return np.dtype(np.float32), (1 << 24) // largest
    return np.dtype(np.float64), (1 << 53) // largest


# -- the two kernels -------------------------------------------------------------------
def exact_block(
    block,
    xp,
    width: int,
    acc,
    max_rows: int,
    ext_width=None,
    out=None,
    ext_out=None,
    valid=None,
):
    """Exact unfolded column sums and extrema of an integer block.

    Parameters
    ----------
    block : array of shape (g, r, W, C)
        Integer pixels of at most 16 bits, in namespace ``xp``.
    width : int
        Row length (a multiple of C dividing ``r * W * C``): the block is
        viewed as ``(g, r * W * C // width, width)``.
    acc, max_rows
        Accumulator dtype and exact row count (:func:`exact_plan`).
    ext_width : int, default=None
        Row length for the extrema (NumPy; default ``width``): long rows make
        the fewest NumPy calls, while sums need rows short enough that one
        image has at most ``max_rows`` of them.
    out : ndarray of shape (2, g, width), default=None
        Where NumPy writes the sums (float64, or ``acc`` when the block has at
        most ``max_rows`` rows per image).
    ext_out : ndarray of shape (2, g, ext_width), default=None
        Where NumPy writes the extrema (of the source's dtype).
    valid : bool array of shape (g, r, W, C), default=None
        Which values count (see the module notes); with it, ``ext_width`` must
        be ``width`` (or None) and ``out``/``ext_out`` None.

    Returns
    -------
    sums : array of shape (2, g, width), or (3, g, width) with ``valid``
        Column sums of ``x`` and ``x * x`` (and of ``valid``: the counts):
        exact integers (float64 on NumPy, int64 on devices).
    lo, hi : arrays of shape (g, ext_width)
        Column minima and maxima (on NumPy of the input dtype when the block's
        images are contiguous, else of ``acc``; int64 on devices).  With
        ``valid``, a column with no valid value holds the largest (minima) or
        smallest (maxima) value of the source's dtype (of int64 on devices).
    """
    g = block.shape[0]
    if xp is not np:
        # int64: torch has no uint16 min, and no block can overflow (see plan).
        rows = xp.reshape(xp.astype(block, acc), (g, -1, width))
        if valid is None:
            sums = xp.stack([xp.sum(rows, axis=1), xp.sum(rows * rows, axis=1)])
            return sums, xp.min(rows, axis=1), xp.max(rows, axis=1)
        import array_api_compat

        keep = xp.reshape(valid, (g, -1, width))
        device = array_api_compat.device(block)
        info = np.iinfo(np.int64)
        top, bottom = (
            xp.full((), int(v), dtype=acc, device=device) for v in (info.max, info.min)
        )
        lo = xp.min(xp.where(keep, rows, top), axis=1)
        hi = xp.max(xp.where(keep, rows, bottom), axis=1)
        rows = rows * xp.astype(keep, acc)
        sums = [rows, rows * rows, xp.astype(keep, acc)]
        return xp.stack([xp.sum(a, axis=1) for a in sums]), lo, hi
    ext_width = ext_width or width
    contiguous = valid is None and (
        block.flags.c_contiguous or block[0].flags.c_contiguous
    )
    sums = np.empty((2 if valid is None else 3, g, width)) if out is None else out
    lo_hi = ext_out
    if lo_hi is None:
        lo_hi = np.empty((2, g, ext_width), block.dtype if contiguous else acc)
    # One image: 2-D views (NumPy's loops over stacked views cost up to ~50% more).
    lead, pick = ((g,), slice(None)) if g > 1 else ((), 0)
    f = _scratch(block.size * (1 if valid is None else 3), acc).reshape(-1, block.size)
    rows = f[0].reshape(*lead, -1, width)
    if contiguous:
        np.copyto(rows, block.reshape(rows.shape), casting="unsafe")
        # Extrema of the integer source (4 or 8 times smaller than the float
        # copy) when its images are contiguous, else of the float copy.
        source = block.reshape(*lead, -1, ext_width)
    else:
        np.copyto(f[0].reshape(block.shape), block, casting="unsafe")
        source = f[0].reshape(*lead, -1, ext_width)
    if valid is not None:  # extrema and counts; invalid values zeroed in rows
        spare = f[1:].reshape(2, *rows.shape)
        masked_columns(rows, valid, spare, block.dtype, max_rows, sums, lo_hi, pick)
    else:
        np.minimum.reduce(source, axis=-2, out=lo_hi[0, pick])
        np.maximum.reduce(source, axis=-2, out=lo_hi[1, pick])
    _column_sums(rows, np, max_rows, sums[0, pick])
    np.multiply(rows, rows, out=rows)
    _column_sums(rows, np, max_rows, sums[1, pick])
    return sums, lo_hi[0], lo_hi[1]


def _astype(a, dtype, xp):
    return a.astype(dtype) if xp is np else xp.astype(a, dtype)


def float_block(block, xp, acc, width: int, per_image: bool, device=None, valid=None):
    """Corrected two-pass moments and extrema of a float block, on the host.

    ``block`` (g, r, W, C) of any numeric dtype is cast once to ``acc``
    (float64 on NumPy) and viewed as rows of ``width`` values per image
    (``per_image``) or for the whole block; values where ``valid`` (a boolean
    array of the block's shape) is False become NaN there.  Returns
    ``(count, mean, mean_correction, m2, min, max)``, NumPy arrays of shape
    (g, C) or (1, C); channels with no pixel (all NaN) have NaN mean and
    extrema and ``m2`` 0.
    """
    g, r, w, c = block.shape
    groups = g if per_image else 1
    if xp is np:
        x = _scratch(block.size, np.float64).reshape(block.shape)
        np.copyto(x, block, casting="unsafe")
        contiguous = valid is None and (
            block.flags.c_contiguous
            or block[0].flags.c_contiguous
            and (per_image or block.flags.c_contiguous)
        )
        if valid is not None:
            np.copyto(x, np.nan, where=~np.asarray(valid))
        source = block if contiguous else x
    else:
        x = source = xp.astype(block, acc, copy=True)
        if valid is not None:
            nan = xp.full((), xp.nan, dtype=acc, device=device)
            x = source = xp.where(valid, x, nan)
    rows = xp.reshape(x, (groups, -1, width))
    source = xp.reshape(source, (groups, -1, width))
    n = rows.shape[1] * width // c

    def fold_sum(a):
        a = _column_sums(a, xp)
        if xp is np:
            return fold(a, c, np.add)
        return xp.sum(xp.reshape(a, (groups, -1, c)), axis=1)

    total = fold_sum(rows)
    nan = None if bool(xp.all(xp.isfinite(total))) else xp.isnan(rows)
    if xp is np:
        ufuncs = (np.minimum, np.maximum) if nan is None else (np.fmin, np.fmax)
        lo, hi = (fold(u.reduce(source, axis=1), c, u) for u in ufuncs)
    elif nan is None:
        lo, hi = xp.min(source, axis=1), xp.max(source, axis=1)
    else:
        inf = xp.full((), xp.inf, dtype=acc, device=device)
        lo = xp.min(xp.where(nan, inf, source), axis=1)
        hi = xp.max(xp.where(nan, -inf, source), axis=1)
    if nan is None:
        safe = float(max(n, 1))
    else:
        zero = xp.zeros((), dtype=rows.dtype) if xp is np else None
        if zero is None:
            zero = xp.zeros((), dtype=rows.dtype, device=device)
        count = fold_sum(_astype(~nan, rows.dtype, xp))
        safe = xp.where(count > 0, count, xp.ones_like(count))
        rows = xp.where(nan, zero, rows)
        total = fold_sum(rows)
    mean = total / safe
    if xp is np:
        rows -= np.tile(mean.reshape(groups, 1, c), (1, 1, width // c))
        dev = rows
    else:
        dev = rows - xp.reshape(mean, (groups, 1, c))
    if nan is not None:
        dev = xp.where(nan, zero, dev)
    correction = fold_sum(dev)
    square = np.multiply(dev, dev, out=dev) if xp is np else dev * dev
    m2 = fold_sum(square) - correction * correction / safe
    host = [to_numpy(a) for a in (mean, correction / safe, m2, lo, hi)]
    mean, corr, m2, lo, hi = (np.asarray(a, dtype=np.float64) for a in host)
    if nan is None:
        count = np.full(mean.shape, n, dtype=np.int64)
    else:
        count = to_numpy(count).astype(np.int64)
    empty = count == 0
    return (
        count,
        np.where(empty, np.nan, mean),
        np.where(empty, 0.0, corr),
        np.where(empty, 0.0, np.maximum(m2, 0.0)),
        np.where(empty, np.nan, lo),
        np.where(empty, np.nan, hi),
    )


# -- drivers ---------------------------------------------------------------------------
Reduction = tuple[Any, np.ndarray, np.ndarray]  # (moments, min, max)


def reduce_view(view, per_image: bool = False, valid=None) -> Reduction:
    """Moments, minima and maxima of a channels-last ``(n, H, W, C)`` view.

    ``view`` is a NumPy array or an array of any array API namespace; the
    result lives on the host, arrays of shape (C,), or (n, C) when
    ``per_image``.  Exact moments for integers of at most 16 bits.  ``valid``
    (a boolean array of the view's shape and namespace, or None) says which
    values count: the others are left out of their channel (module notes).
    """
    xp = namespace_of(view)
    exact = is_exact_dtype(numpy_dtype(view))
    n, _, _, c = view.shape
    shape = (n, c) if per_image else (c,)
    if n * view.shape[1] * view.shape[2] * c == 0:
        kind = ExactMoments if exact else FloatMoments
        return kind.zeros(shape), np.full(shape, np.nan), np.full(shape, np.nan)
    if exact and xp is np and valid is None:
        return _exact_numpy(view, per_image)
    if exact and xp is np and not per_image and view.flags.c_contiguous:
        if np.asarray(valid).flags.c_contiguous:  # else (broadcast): block by block
            return _exact_masked(view, np.asarray(valid))
    return _blockwise(view, xp, per_image, exact, valid)


def _merge(a: Reduction, b: Reduction) -> Reduction:
    return a[0].merge(b[0]), np.fmin(a[1], b[1]), np.fmax(a[2], b[2])


def _concatenate(parts: list[Reduction]) -> Reduction:
    moments, lo, hi = zip(*parts, strict=True)
    kind = type(moments[0])
    return kind.concatenate(list(moments)), np.concatenate(lo), np.concatenate(hi)


def _blockwise(view, xp, per_image: bool, exact: bool, valid=None) -> Reduction:
    """Float statistics on any namespace, exact ones on devices or with a mask:
    the kernels over blocks, merged on the host (one row per image when
    ``per_image``)."""
    n, h, w, c = view.shape
    device = None
    if xp is not np:
        import array_api_compat

        device = array_api_compat.device(view)
    if exact:
        acc, max_rows = exact_plan(numpy_dtype(view), xp)
    else:
        acc = np.float64 if xp is np else float_dtype(xp, device)
    size = BLOCK_BYTES // 8 * (1 if xp is np else DEVICE_BLOCK_FACTOR)
    parts: list[Reduction] = []
    for images, rows in iter_blocks(tuple(view.shape), size):
        block = view[images, rows, ...]
        keep = None if valid is None else valid[images, rows, ...]
        g, r = block.shape[:2]
        width = _row_length(r * w, c, w) if xp is np else c
        if exact:
            sums, lo, hi = (
                to_numpy(a)
                for a in exact_block(block, xp, width, acc, max_rows, valid=keep)
            )
            sums = fold(sums.astype(np.int64), c, np.add)
            lo, hi = fold(lo, c, np.minimum), fold(hi, c, np.maximum)
            if not per_image:
                sums, lo, hi = (
                    sums.sum(axis=1, keepdims=True),
                    lo.min(0, keepdims=True),
                    hi.max(0, keepdims=True),
                )
            count = np.full(lo.shape, r * w * (1 if per_image else g))
            lo, hi = lo.astype(np.float64), hi.astype(np.float64)
            if keep is not None:  # counts of valid values; no value: NaN extrema
                count = sums[2]
                lo, hi = (np.where(count > 0, a, np.nan) for a in (lo, hi))
            part = (ExactMoments(count, sums[0], sums[1]), lo, hi)
        else:
            count, mean, corr, m2, lo, hi = float_block(
                block, xp, acc, width, per_image, device, keep
            )
            part = (FloatMoments(count, *fast_two_sum(mean, corr), m2), lo, hi)
        if not parts or (per_image and rows.start in (None, 0)):
            parts.append(part)
        else:  # the next rows of the same image, or the next block of the batch
            parts[-1] = _merge(parts[-1], part)
    moments, lo, hi = _concatenate(parts)
    if not per_image:
        return moments.reshape((c,)), lo.reshape(c), hi.reshape(c)
    return moments, lo, hi


def _exact_masked(view: np.ndarray, valid: np.ndarray) -> Reduction:
    """Exact statistics of a C-contiguous integer view over the values ``valid``
    keeps: rows of pixels (as in :func:`_exact_stream`) read tile by tile."""
    n, h, w, c = view.shape
    acc, max_rows = exact_plan(view.dtype, np)
    width = _row_length(n * h * w, c, w)
    x, keep = view.reshape(-1, width), valid.reshape(-1, width)
    sums = ExactSums(width, _largest_square(view.dtype))
    for rows, cols in iter_tiles(x.shape, BLOCK_BYTES // 2 // acc.itemsize):
        t, k = (None, rows, None, cols), cols.stop - cols.start
        sums.add(rows, cols, *exact_block(x[t], np, k, acc, max_rows, valid=keep[t]))
    return sums.result(c)


def _exact_numpy(view: np.ndarray, per_image: bool) -> Reduction:
    """Exact statistics of an integer NumPy view; large batches split by images
    over threads (the parts merge exactly: the result does not depend on the
    thread count)."""
    from . import _threads

    n = view.shape[0]
    n_threads = 1
    if n > 1:
        n_threads = _threads.get_num_threads(view.size * (view.itemsize + 4))
        # A part costs a few Python-int operations per channel to merge: parts
        # with few pixels per channel (per-pixel statistics) stay on one thread.
        n_threads = min(n_threads, max(1, n * view.shape[1] * view.shape[2] // 4096))
    if n_threads == 1:
        return _exact_numpy_serial(view, per_image)
    parts = _threads.run(
        lambda images: _exact_numpy_serial(view[images.start : images.stop], per_image),
        range(n),
        n_threads,
    )
    if per_image:
        return _concatenate(parts)
    return functools.reduce(_merge, parts)


def _exact_numpy_serial(view: np.ndarray, per_image: bool) -> Reduction:
    n, h, w, c = view.shape
    if not per_image and view.flags.c_contiguous:
        flat = view.reshape(-1)
        stream = _fused.exact_sums if _fused.applies_sums(flat) else _exact_stream
        total, squares, lo, hi = stream(flat, c)
        return ExactMoments(np.full(c, n * h * w), total, squares), lo, hi
    if per_image and _fused.applies_sums(view):
        total, squares, lo, hi = _fused.exact_sums_per_image(view)
        return ExactMoments(np.full((n, c), h * w), total, squares), lo, hi
    planes = _channel_planes(view)
    work = planes if planes is not None else view
    acc, max_rows = exact_plan(view.dtype, np)
    blocks = list(iter_blocks(work.shape, BLOCK_BYTES // acc.itemsize))
    if all(rs == slice(None) for _, rs in blocks):
        sums, lo, hi = _exact_whole_images(work, blocks, acc, max_rows)
    else:  # images larger than a block, cut along their rows
        rows, channels = work.shape[0], work.shape[-1]
        sums = np.zeros((2, rows, channels), dtype=np.int64)
        lo = np.full((rows, channels), np.inf)
        hi = np.full((rows, channels), -np.inf)
        for images, row_slice in blocks:
            x = work[images, row_slice]
            width = _row_length(x.shape[1] * x.shape[2], channels, x.shape[2])
            s, mn, mx = exact_block(x, np, width, acc, max_rows)
            # Exact: per image and block, these integers stay far below 2**53.
            sums[:, images] += fold(s, channels, np.add).astype(np.int64)
            np.fmin(lo[images], fold(mn, channels, np.minimum), out=lo[images])
            np.fmax(hi[images], fold(mx, channels, np.maximum), out=hi[images])
    total, squares = sums
    if planes is not None:
        total, squares = total.reshape(n, c), squares.reshape(n, c)
        lo, hi = lo.reshape(n, c), hi.reshape(n, c)
    lo, hi = lo.astype(np.float64), hi.astype(np.float64)
    if per_image:
        return ExactMoments(np.full((n, c), h * w), total, squares), lo, hi
    # Sums over the images: int64 while it cannot overflow, else Python ints.
    if n * h * w * _largest_square(view.dtype) >= 2**62:
        total, squares = total.astype(object), squares.astype(object)
    moments = ExactMoments(np.full(c, n * h * w), total.sum(0), squares.sum(0))
    return moments, lo.min(axis=0), hi.max(axis=0)


def _channel_planes(view: np.ndarray) -> np.ndarray | None:
    """``(n*C, H, W, 1)`` view of a channels-first batch whose planes are contiguous.

    Statistics per (image, channel) do not depend on the order of the pixels,
    so a channels-first batch is read plane by plane, in memory order, instead
    of gathering its channels.  None when that view would need a copy.
    """
    n, h, w, c = view.shape
    if c == 1 or view[0].flags.c_contiguous:
        return None
    planes = view.transpose(0, 3, 1, 2)
    if not planes[0].flags.c_contiguous:
        return None
    if n > 1 and planes.strides[0] != c * planes.strides[1]:
        return None
    return planes.reshape(n * c, h, w, 1)


def _exact_whole_images(work: np.ndarray, blocks: list, acc, max_rows: int):
    """Per-image exact sums (2, n, C) and extrema when blocks hold whole images.

    Column sums and extrema of up to ``_FOLD_CHUNK_BYTES`` worth of images are
    kept unfolded and folded into channels together: a few NumPy calls per
    chunk instead of per image.  Rows are short enough to need one BLAS call
    per image.
    """
    n, h, w, c = work.shape
    m = h * w
    width = _row_length(m, c, w, -(-(m * c) // max_rows))
    ext_width = _row_length(m, c, w)
    ext_dtype = work.dtype if work[0].flags.c_contiguous else acc
    per_image = 2 * width * 8 + 2 * ext_width * ext_dtype.itemsize
    largest_group = max(im.stop - im.start for im, _ in blocks)
    chunk = max(largest_group, _FOLD_CHUNK_BYTES // per_image)
    sums = np.empty((2, n, c), dtype=np.int64)
    lo = np.empty((n, c), dtype=ext_dtype)
    hi = np.empty((n, c), dtype=ext_dtype)
    unfolded = np.empty((2, chunk, width))
    ext = np.empty((2, chunk, ext_width), dtype=ext_dtype)
    start = filled = 0

    def flush() -> None:
        nonlocal start, filled
        done = slice(start, start + filled)
        # Exact: integers below 2**53 per image, folded in float64.
        sums[:, done] = fold(unfolded[:, :filled], c, np.add)
        lo[done] = fold(ext[0, :filled], c, np.minimum)
        hi[done] = fold(ext[1, :filled], c, np.maximum)
        start, filled = start + filled, 0

    for images, _ in blocks:
        x = work[images]
        g = x.shape[0]
        if filled + g > chunk:
            flush()
        here = slice(filled, filled + g)
        exact_block(
            x, np, width, acc, max_rows, ext_width, unfolded[:, here], ext[:, here]
        )
        filled += g
    flush()
    return sums, lo, hi


def _exact_stream(flat: np.ndarray, channels: int):
    """Exact per-channel sums (Python ints) and extrema of a contiguous stream.

    ``flat`` is 1-D, pixel after pixel (channel = index % channels): a whole
    C-contiguous batch, read in fixed blocks that ignore image boundaries.
    Column sums are kept unfolded across blocks and flushed to Python ints
    before they could leave the exact float64 range; the last partial row is
    summed in float64 (exact: it holds few values).
    """
    acc, max_rows = exact_plan(flat.dtype, np)
    width = min(channels * max(1, _TARGET_ROW // channels), flat.size)
    rows = max(1, min(max_rows, BLOCK_BYTES // acc.itemsize // width))
    flush_rows = max(1, _FLUSH_LIMIT // _largest_square(flat.dtype))
    sums = np.zeros((2, width))
    part = np.empty((2, 1, width), dtype=acc)  # exact: < 2**24 or 2**53
    lo = hi = None
    # int64 while no sum overflows it, then Python ints: per-pixel statistics have
    # a "channel" per image value, too many for a loop over Python ints.
    totals = np.zeros((2, channels), dtype=np.int64)
    pending = 0

    def add(folded: np.ndarray) -> None:
        nonlocal totals
        if totals.dtype == folded.dtype == np.int64 and (
            int(np.abs(totals).max()) + int(np.abs(folded).max()) < 2**63
        ):
            totals += folded
        else:
            totals = totals.astype(object) + folded.astype(object)

    def flush() -> None:
        column = sums.astype(np.int64)  # exact: integers below 2**53
        if int(column.max()) >= 2**62 // (width // channels):
            column = column.astype(object)  # the fold would overflow int64
        add(fold(column, channels, np.add))
        sums[...] = 0.0

    n_full = flat.size // width
    for start in range(0, n_full, rows):
        k = min(rows, n_full - start)
        x = flat[start * width : (start + k) * width]
        block = x.reshape(1, k, width // channels, channels)
        _, mn, mx = exact_block(block, np, width, acc, max_rows, out=part)
        sums += part[:, 0]
        lo = mn[0] if lo is None else np.minimum(lo, mn[0], out=lo)
        hi = mx[0] if hi is None else np.maximum(hi, mx[0], out=hi)
        pending += k
        if pending + rows > flush_rows:
            flush()
            pending = 0
    flush()
    if lo is not None:
        lo, hi = fold(lo, channels, np.minimum), fold(hi, channels, np.maximum)
    tail = flat[n_full * width :].reshape(1, -1)
    if tail.size:
        t = tail.astype(np.float64)  # at most _TARGET_ROW values: exact sums
        add(fold(np.concatenate([t, t * t]), channels, np.add).astype(np.int64))
        lo_t = fold(tail, channels, np.minimum)[0]
        hi_t = fold(tail, channels, np.maximum)[0]
        lo = lo_t if lo is None else np.minimum(lo, lo_t)
        hi = hi_t if hi is None else np.maximum(hi, hi_t)
    total, squares = totals.astype(object)  # Python ints, as the moments hold
    return total, squares, lo.astype(np.float64), hi.astype(np.float64)
