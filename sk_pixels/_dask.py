"""Dask support: fit on arrays larger than memory, transform lazily.

Nothing here imports Dask at module import: sk_pixels works without it, and a
Dask array can only reach these functions if ``dask.array`` is already imported
(:func:`is_dask_array` looks in ``sys.modules``).

Fitting a ``dask.array.Array``
    The array is cut along the sample axis only (other axes are rechunked to a
    single chunk if needed, so that every chunk holds whole images). Each chunk
    becomes one :class:`~sk_pixels.PixelStats` (a task that reads one chunk
    and returns a few numbers per channel); the statistics are merged in a tree
    of ``split_every`` at a time and computed once, with whatever scheduler is
    active (threads, processes, or a ``distributed.Client``). No task ever
    holds more than one chunk, so memory per worker is bounded by a few chunks
    whatever the size of the array. Integer pixels of up to 16 bits are summed
    exactly, so the fitted statistics equal in-memory fitting to the bit.

Transforming a Dask array
    ``transform`` / ``inverse_transform`` return a lazy array with the input's
    chunks (``map_blocks``). ``scope="dataset"``/``"domain"`` apply the fitted
    map to each chunk; ``scope="image"`` is per image, so it is blockwise too.
    ``scope="batch"`` means *the whole Dask array is the batch*: its statistics
    are computed right away (one pass over the data, merged as in ``fit``), then
    the transform is applied lazily with them. A chunk is never used as the
    batch.

Folder statistics on a cluster live with the rest of the folder statistics,
in :mod:`sk_pixels.io` (``dataset_stats(client=...)``).
"""

from __future__ import annotations

import copy
import math
import sys
from functools import reduce
from typing import Any

import numpy as np

from . import _kernels
from ._dispatch import proxy
from ._layout import image_view
from ._stats import PixelStats
from ._units import output_float_dtype, resolve_max_value

#: How many statistics one merge task combines (the fan-in of the tree).
SPLIT_EVERY = 8


def is_dask_array(X: Any) -> bool:
    """Whether ``X`` is a ``dask.array.Array`` (without importing Dask).

    Examples
    --------
    >>> import numpy as np
    >>> is_dask_array(np.zeros(3))
    False
    """
    da = sys.modules.get("dask.array")
    return da is not None and isinstance(X, da.Array)


# -- tasks: top-level functions, so that workers unpickle them by reference ------
def pixel_stats_chunk(
    block: np.ndarray, channel_axis: int | None, image_shape: tuple | None
) -> PixelStats:
    """Statistics of one chunk of whole images (checked like in-memory input)."""
    from sklearn.utils import check_array

    block = check_array(
        block,
        dtype="numeric",
        allow_nd=True,
        ensure_all_finite="allow-nan",
        ensure_min_samples=0,
        input_name="X",
    )
    return PixelStats.from_view(image_view(block, channel_axis, image_shape))


def pixel_stats_merge(*parts: PixelStats) -> PixelStats:
    """Merge statistics (one node of the reduction tree)."""
    return reduce(PixelStats.merge_inplace, parts[1:], parts[0].copy())


def _transform_block(block: np.ndarray, estimator) -> np.ndarray:
    # np.asarray: set_output may wrap the chunk's result in a DataFrame.
    return np.asarray(estimator.transform(block))


def _affine_block(block: np.ndarray, estimator, coef) -> np.ndarray:
    # scope="batch": coefficients computed on the whole array, applied per chunk.
    # The chunk was checked (inf, layout) by the statistics pass.
    from ._base import _raise_on_overflow

    out = np.empty(block.shape, dtype=output_float_dtype(block.dtype, estimator.dtype))
    src = image_view(block, estimator.channel_axis, estimator.image_shape)
    dst = image_view(out, estimator.channel_axis, estimator.image_shape)
    with _raise_on_overflow(out.dtype):
        _kernels.affine(src, dst, *coef.for_view(src.shape[-1], False), coef.clip)
    return out


def _inverse_block(block: np.ndarray, estimator, restore_dtype: bool) -> np.ndarray:
    return estimator.inverse_transform(block, restore_dtype=restore_dtype)


# -- graph building ----------------------------------------------------------------
def whole_images(X):
    """``X`` with one chunk along every axis but the first (a no-op if so already)."""
    if all(len(c) == 1 for c in X.chunks[1:]):
        return X
    return X.rechunk({axis: -1 for axis in range(1, X.ndim)})


def stats_graph(X, channel_axis, image_shape, split_every: int = SPLIT_EVERY):
    """A ``dask.delayed`` PixelStats of ``X``: one task per chunk, merged in a tree.

    ``X`` must already hold whole images per chunk (:func:`whole_images`).
    """
    import dask

    blocks = X.to_delayed().ravel().tolist()
    chunk = dask.delayed(pixel_stats_chunk, pure=True)
    merge = dask.delayed(pixel_stats_merge, pure=True)
    parts = [chunk(block, channel_axis, image_shape) for block in blocks]
    while len(parts) > 1:
        parts = [
            merge(*parts[i : i + split_every])
            for i in range(0, len(parts), split_every)
        ]
    return parts[0]


def compute_stats(X, channel_axis=-1, image_shape=None) -> PixelStats:
    """Statistics of a Dask array of images, computed in one pass.

    Parameters
    ----------
    X : dask.array.Array of shape (n, H, W, C), (n, C, H, W), (n, H, W) or (n, n_feat)
        Images, chunked along the first axis.
    channel_axis, image_shape
        Layout, as for the estimators.

    Returns
    -------
    stats : PixelStats
        Equal to ``PixelStats.from_array(X.compute(), ...)`` (to the bit for
        integer pixels of up to 16 bits), without materializing ``X``.
    """
    import dask

    X = whole_images(X)
    (stats,) = dask.compute(stats_graph(X, channel_axis, image_shape))
    return stats


# -- estimator methods ---------------------------------------------------------------
def partial_fit(estimator, X):
    """``partial_fit`` of a Dask array: chunk statistics, tree merge, one compute."""
    estimator._check_params()
    first_call = not hasattr(estimator, "n_samples_seen_")
    X = whole_images(X)
    checked = estimator._validate(
        proxy(X.shape, X.dtype), reset=first_call, fitting=True
    )
    dtype = checked.dtype
    n_images = X.shape[0]
    known = not (isinstance(n_images, float) and math.isnan(n_images))
    needs_values = estimator._learns() or (
        dtype.kind == "f" and estimator._depends_on_unit_range()
    )
    stats = None
    if needs_values or not known:
        stats = compute_stats(X, estimator.channel_axis, estimator.image_shape)
        n_images = stats.n_images
        if n_images == 0:
            raise ValueError(
                f"Found array with 0 sample(s) (shape={X.shape}) while a minimum "
                "of 1 is required."
            )
    estimator._record_batch(
        first_call=first_call, dtype=dtype, n_images=n_images, stats=stats
    )
    return estimator


def transform(estimator, X):
    """``transform`` of a Dask array: a lazy Dask array with the same chunks."""
    chunks = X.chunks
    Xw = whole_images(X)
    checked = estimator._prepare_transform(proxy(Xw.shape, Xw.dtype))
    # The graph gets a snapshot: refitting before compute() must not change it.
    estimator = copy.deepcopy(estimator)
    out_dtype = output_float_dtype(checked.dtype, estimator.dtype)
    meta = np.empty((0,) * X.ndim, dtype=out_dtype)
    if estimator.scope == "batch":
        from ._base import _nanmax

        # The batch is the whole array: one pass for its statistics, now (not
        # lazily, which would keep every chunk in memory until the second pass).
        stats = estimator._pool(
            compute_stats(Xw, estimator.channel_axis, estimator.image_shape)
        )
        estimator._warn_domain(checked.dtype, _nanmax(stats.max), "transform")
        max_value = resolve_max_value(checked.dtype, estimator.max_value)
        coef = estimator._coefficients(stats, max_value)
        out = Xw.map_blocks(
            _affine_block,
            estimator,
            coef,
            dtype=out_dtype,
            meta=meta,
            token="pixel_transform_batch",
        )
    else:
        out = Xw.map_blocks(
            _transform_block,
            estimator,
            dtype=out_dtype,
            meta=meta,
            token="pixel_transform",
        )
    return out if Xw is X else out.rechunk(chunks)


def inverse_transform(estimator, X, *, restore_dtype: bool = False):
    """``inverse_transform`` of a Dask array: a lazy Dask array, same chunks."""
    chunks = X.chunks
    Xw = whole_images(X)
    # The in-memory method on a one-image proxy runs every check (scope, fitted,
    # channels) and gives the output dtype.
    dtype = estimator.inverse_transform(
        proxy(Xw.shape, Xw.dtype), restore_dtype=restore_dtype
    ).dtype
    estimator = copy.deepcopy(estimator)  # a snapshot, as in transform
    meta = np.empty((0,) * X.ndim, dtype=dtype)
    out = Xw.map_blocks(
        _inverse_block,
        estimator,
        restore_dtype,
        dtype=dtype,
        meta=meta,
        token="pixel_inverse_transform",
    )
    return out if Xw is X else out.rechunk(chunks)
