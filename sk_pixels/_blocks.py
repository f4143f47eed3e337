"""Block geometry shared by the statistics and the transform kernels.

Both stream a batch through blocks of a fixed size, so that no temporary grows
with the batch: :data:`BLOCK_BYTES` is that size (the statistics' accumulator;
the transform's float32 output block and the device blocks derive from it),
:func:`iter_blocks` cuts an ``(n, H, W, C)`` array into blocks (and
:func:`iter_tiles` a stream of rows into tiles) and :func:`_row_length` the
rows a block is viewed as for long inner loops; :func:`fold`,
:func:`_column_sums`, :func:`masked_columns` and a per-thread :func:`_scratch`
buffer are what the statistics kernels (:mod:`sk_pixels._reduce`) sum blocks
with.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator

import numpy as np

#: THE block size of the statistics: bytes of the accumulator a NumPy block is
#: cast into (a 224x224 RGB image in float32, so whole images are summed in one
#: go, well inside a 1 MiB L2 cache).  Everything else derives from it.
BLOCK_BYTES = 768 * 2**10

#: Preferred length of the rows a block is cut into (a multiple of the channels).
_TARGET_ROW = 8192

#: Rows narrower than this are summed by NumPy rather than by BLAS calls.
_MIN_BLAS_ROW = 64


def iter_blocks(shape: tuple[int, ...], block: int) -> Iterator[tuple[slice, slice]]:
    """Yield ``(images, rows)`` slices that cut an ``(n, H, W, C)`` array in blocks.

    Whole images are grouped while they fit in ``block`` elements; a larger
    image is cut along its rows.  Every block holds at least one row.

    Examples
    --------
    >>> [(im.start, im.stop) for im, _ in iter_blocks((3, 2, 2, 1), 8)]
    [(0, 2), (2, 3)]
    """
    n, height, width, channels = shape
    per_image = height * width * channels
    if per_image <= block:
        step = max(1, block // max(per_image, 1))
        for start in range(0, n, step):
            yield slice(start, min(start + step, n)), slice(None)
        return
    rows = max(1, block // max(width * channels, 1))
    for i in range(n):
        for start in range(0, height, rows):
            yield slice(i, i + 1), slice(start, min(start + rows, height))


def iter_tiles(shape: tuple[int, int], block: int) -> Iterator[tuple[slice, slice]]:
    """Yield ``(rows, columns)`` slices that cut a 2-D array in tiles of about
    ``block`` elements, row chunks outermost: rows wider than two target rows
    (a mean image's ``(n, H*W*C)``) are cut into columns too, so that every
    tile sums several rows in one go.

    Examples
    --------
    >>> tiles = list(iter_tiles((3, 20000), 16384))
    >>> [(r.start, r.stop, c.start, c.stop) for r, c in tiles[:3]]
    [(0, 2, 0, 8192), (0, 2, 8192, 16384), (0, 2, 16384, 20000)]
    >>> len(tiles)
    6
    """
    n_rows, width = shape
    cols = width if width <= 2 * _TARGET_ROW else _TARGET_ROW
    rows = max(1, block // max(cols, 1))
    for start in range(0, n_rows, rows):
        for col in range(0, width, cols):
            yield (
                slice(start, min(start + rows, n_rows)),
                slice(col, min(col + cols, width)),
            )


@functools.lru_cache(maxsize=256)
def _row_length(
    n_pixels: int, channels: int, width: int, target: int = _TARGET_ROW
) -> int:
    """Length of the rows that ``n_pixels`` pixels of one image are cut into.

    A multiple of ``channels`` dividing ``n_pixels * channels``: at least
    ``target`` values when such a divisor is near, else one image row of
    ``width`` pixels.
    """
    need = -(-target // channels)
    if n_pixels <= need:
        return n_pixels * channels
    for d in range(need, min(n_pixels, 8 * need) + 1):
        if n_pixels % d == 0:
            return d * channels
    return width * channels


# -- summing blocks (helpers of the kernels of _reduce) --------------------------------
_local = threading.local()


def _scratch(size: int, dtype: np.dtype) -> np.ndarray:
    """A reusable 1-D buffer of at least ``size`` elements, one per thread.

    Fresh large arrays are page-faulted (and zeroed by the kernel) on first
    touch, which costs as much as summing a small image; one block-sized
    buffer per thread is kept instead.
    """
    dtype = np.dtype(dtype)
    buffers = _local.__dict__.setdefault("buffers", {})
    buf = buffers.get(dtype)
    if buf is None or buf.size < size:
        buf = buffers[dtype] = np.empty(size, dtype=dtype)
    return buf[:size]


@functools.lru_cache(maxsize=256)
def _fold_split(n_groups: int) -> int:
    """A divisor of ``n_groups`` near its square root (for two-step folds)."""
    d = max(1, int(n_groups**0.5))
    while n_groups % d:
        d -= 1
    return d


def fold(a: np.ndarray, channels: int, ufunc: np.ufunc) -> np.ndarray:
    """Reduce ``a`` of shape (..., k * C) to (..., C) with ``ufunc``.

    NumPy is slow at reductions over an axis followed by a short inner axis of
    length C, so: one contiguous reduction for one channel; else two steps
    through a divisor of ``k`` near its square root; else (``k`` prime or
    nearly) one strided reduction per channel.
    """
    if a.shape[-1] == channels:
        return a
    if channels == 1:
        return ufunc.reduce(a, axis=-1, keepdims=True)
    lead = a.shape[:-1]
    k = a.shape[-1] // channels
    d = _fold_split(k)
    if d >= 8 or k <= 64:
        a = ufunc.reduce(a.reshape(*lead, k // d, d * channels), axis=-2)
        return ufunc.reduce(a.reshape(*lead, d, channels), axis=-2)
    return np.stack(
        [ufunc.reduce(a[..., c::channels], axis=-1) for c in range(channels)],
        axis=-1,
    )


def _column_sums(rows, xp, max_rows: int | None = None, out=None):
    """Sums of ``rows`` (..., k, L) over its rows: (..., L), into ``out`` if given.

    NumPy: BLAS products with a vector of ones, at most ``max_rows`` rows at a
    time in the rows' own float type (exact for the exact kernel, see the
    module notes), added up in float64.
    """
    if xp is not np:
        return xp.sum(rows, axis=-2)
    k, width = rows.shape[-2:]
    if out is None:
        out = np.empty((*rows.shape[:-2], width))
    if width >= _MIN_BLAS_ROW and out.dtype == rows.dtype and k <= (max_rows or k):
        return np.matmul(_ones(k, rows.dtype), rows, out=out)  # the common case
    step = max_rows or k
    for start in range(0, max(k, 1), step):
        part = rows[..., start : start + step, :]
        # The first sums go straight into ``out`` when it has the rows' type.
        direct = out if start == 0 and out.dtype == rows.dtype else None
        if width < _MIN_BLAS_ROW:
            total = np.add.reduce(part, axis=-2, out=direct)
        else:
            total = np.matmul(_ones(part.shape[-2], rows.dtype), part, out=direct)
        if start == 0 and direct is None:
            np.copyto(out, total)
        elif start > 0:
            out += total
    return out


def masked_columns(rows, valid, spare, dtype, max_rows, sums, lo_hi, pick) -> None:
    """The masked part of the exact kernel: column extrema and counts of the
    values of ``rows`` (..., k, L) that ``valid`` keeps, and ``rows`` zeroed
    where it does not (so that its column sums are those of the valid values).

    ``rows`` holds integers of ``dtype`` in a float type; ``spare`` is two
    scratch arrays of its shape (fresh block-sized temporaries are
    page-faulted on every call).  Branch-free, as random masks defeat branch
    prediction: ``keep`` (0/1) zeroes invalid values exactly, in ``rows`` and
    in ``(max - x)`` and ``(x - min)``, which are >= 0 so their maxima give
    the extrema (a column with no valid value gets the dtype's max and min).
    Writes ``sums[2, pick]`` (counts) and ``lo_hi[:, pick]``.
    """
    info = np.iinfo(dtype)
    keep, work = spare
    np.copyto(keep, np.reshape(valid, rows.shape))
    np.multiply(np.subtract(info.max, rows, out=work), keep, out=work)
    lo_hi[0, pick] = info.max - np.maximum.reduce(work, axis=-2)
    _column_sums(keep, np, max_rows, sums[2, pick])
    np.multiply(rows, keep, out=rows)
    if info.min:  # signed: (x - min) * keep = x * keep - min * keep
        work = np.add(rows, np.multiply(keep, -info.min, out=work), out=work)
    lo_hi[1, pick] = np.maximum.reduce(work if info.min else rows, axis=-2) + info.min


@functools.lru_cache(maxsize=64)
def _ones(n: int, dtype: np.dtype) -> np.ndarray:
    ones = np.ones(n, dtype=dtype)
    ones.flags.writeable = False
    return ones
