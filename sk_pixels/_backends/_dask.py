"""The Dask backend: statistics in one pass over the chunks, lazy transforms.

Nothing here imports Dask at module import: sk_pixels works without it, and a
Dask array can only reach this backend if ``dask.array`` is already imported
(:meth:`DaskBackend.matches` looks in ``sys.modules``).

Statistics
    The array is cut along the sample axis only (other axes are rechunked to a
    single chunk if needed, so that every chunk holds whole images). Each chunk
    becomes one :class:`~sk_pixels.PixelStats` (a task that reads one chunk and
    returns a few numbers per channel); the statistics are merged in a tree of
    :data:`SPLIT_EVERY` at a time and computed once, with whatever scheduler is
    active (threads, processes, or a ``distributed.Client``). No task holds more
    than one chunk, so memory per worker is bounded by a few chunks whatever the
    size of the array. Integer pixels of up to 16 bits are summed exactly, so
    the statistics equal in-memory ones to the bit.

Transforms
    ``apply`` returns a lazy array with the input's chunks (``map_blocks`` of
    the NumPy backend's ``apply``, with coefficients computed when the graph is
    built: refitting before ``compute()`` does not change it). ``scope="batch"``
    means *the whole Dask array is the batch*: the estimator computes its
    statistics at once (one pass), then the map is applied lazily.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from functools import reduce
from typing import Any

import numpy as np

from .._affine import Affine
from .._stats import PixelStats
from ._common import check_no_inf, proxy
from ._numpy import NUMPY

#: How many statistics one merge task combines (the fan-in of the tree).
SPLIT_EVERY = 8


# -- tasks: top-level functions, so that workers unpickle them by reference ------
def pixel_stats_chunk(
    block: np.ndarray, layout: tuple, per_image: bool, nodata=None
) -> PixelStats:
    """Statistics of one chunk of whole images (values checked as in memory).

    A masked chunk (``dask.array.ma``) leaves its masked values out, as
    ``nodata`` leaves out the values equal to it.
    """
    check_no_inf(block, np, block.dtype)
    return NUMPY.stats(block, layout, per_image, nodata=nodata)


def pixel_stats_merge(*parts: PixelStats) -> PixelStats:
    """Merge statistics (one node of the reduction tree)."""
    return reduce(PixelStats.merge_inplace, parts[1:], parts[0].copy())


def _apply_block(
    block: np.ndarray, affine, out_dtype, layout, check_max, nodata=None, fill=0.0
):
    check_no_inf(block, np, block.dtype)
    return NUMPY.apply(
        block, affine, out_dtype, layout, check_max=check_max, nodata=nodata, fill=fill
    )


def _whole_images(X):
    """``X`` with one chunk along every axis but the first (a no-op if so already)."""
    if all(len(c) == 1 for c in X.chunks[1:]):
        return X
    return X.rechunk({axis: -1 for axis in range(1, X.ndim)})


def stats_graph(X, layout: tuple, split_every: int = SPLIT_EVERY, nodata=None):
    """A ``dask.delayed`` PixelStats of ``X``: one task per chunk, merged in a tree."""
    import dask

    blocks = _whole_images(X).to_delayed().ravel().tolist()
    chunk = dask.delayed(pixel_stats_chunk, pure=True)
    merge = dask.delayed(pixel_stats_merge, pure=True)
    parts = [chunk(block, layout, False, nodata) for block in blocks]
    while len(parts) > 1:
        parts = [
            merge(*parts[i : i + split_every])
            for i in range(0, len(parts), split_every)
        ]
    return parts[0]


def _meta(X: Any, dtype: np.dtype) -> np.ndarray:
    """An empty chunk of the result: masked when X's chunks are (``dask.array.ma``)."""
    meta = np.empty((0,) * X.ndim, dtype=dtype)
    masked = isinstance(getattr(X, "_meta", None), np.ma.MaskedArray)
    return np.ma.masked_array(meta) if masked else meta


def _refuse_out(out: Any) -> None:
    if out is not None:
        raise TypeError(
            "out= is not supported for Dask arrays: transform returns a lazy "
            "array. Write the result with dask.array.store(result, target) "
            "instead."
        )


class DaskBackend:
    """``dask.array.Array`` input."""

    name = "dask"
    #: Transforms return a lazy graph (never materialised by set_output).
    eager = False

    @staticmethod
    def matches(X: Any) -> bool:
        da = sys.modules.get("dask.array")
        return da is not None and isinstance(X, da.Array)

    @staticmethod
    def stand_in(X: Any) -> np.ndarray:
        return proxy(X.shape, X.dtype)

    @staticmethod
    def dtype(X: Any) -> np.dtype:
        return np.dtype(X.dtype)

    @staticmethod
    def check_values(X: Any, dtype: np.dtype) -> None:
        """Nothing now: each chunk task checks its values (the graph is lazy)."""

    @staticmethod
    def stats(
        X: Any, layout: tuple, per_image: bool = False, nodata=None
    ) -> PixelStats:
        """Statistics of the whole array, computed now in one pass (per-image
        work on Dask is blockwise: :meth:`map_images`)."""
        import dask

        (stats,) = dask.compute(stats_graph(X, layout, nodata=nodata))
        return stats

    def maximum(self, X: Any) -> float:
        return float(np.fmax.reduce(self.stats(X, (-1, None)).max, axis=None))

    @staticmethod
    def n_images(X: Any) -> int:
        n = X.shape[0]
        if isinstance(n, float) and math.isnan(n):
            X = X.compute_chunk_sizes()
            n = X.shape[0]
        return int(n)

    @staticmethod
    def apply(
        X: Any,
        affine: Affine,
        out_dtype: np.dtype,
        layout: tuple,
        *,
        per_image: bool = False,
        out: Any = None,
        check_max: Callable[[float], None] | None = None,
        nodata: tuple | None = None,
        fill: float = 0.0,
    ) -> Any:
        """A lazy ``clip(X * scale + offset)`` with X's chunks (masked chunks and
        nodata values as on NumPy)."""
        _refuse_out(out)
        whole = _whole_images(X)
        meta = _meta(X, out_dtype)
        result = whole.map_blocks(
            _apply_block,
            affine,
            np.dtype(out_dtype),
            layout,
            check_max,
            nodata,
            fill,
            dtype=out_dtype,
            meta=meta,
            token="pixel_affine",
        )
        return result if whole is X else result.rechunk(X.chunks)

    @staticmethod
    def map_images(X: Any, fn: Callable, out_dtype: np.dtype, out: Any = None) -> Any:
        """``fn`` applied lazily to each chunk of whole images (per-image scopes)."""
        _refuse_out(out)
        whole = _whole_images(X)
        meta = _meta(X, out_dtype)
        result = whole.map_blocks(
            fn, dtype=out_dtype, meta=meta, token="pixel_transform_images"
        )
        return result if whole is X else result.rechunk(X.chunks)

    @staticmethod
    def as_float(X: Any) -> Any:
        return X if X.dtype in (np.float32, np.float64) else X.astype(np.float64)

    @staticmethod
    def restore(Y: Any, dtype: np.dtype) -> Any:
        # NUMPY.restore keeps the mask of masked chunks.
        return Y.map_blocks(NUMPY.restore, np.dtype(dtype), dtype=np.dtype(dtype))


DASK = DaskBackend()
