"""Dask support: fit on arrays larger than memory, transform lazily, stats on a cluster.

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

Folder statistics on a cluster
    :func:`dataset_stats_on_cluster` partitions a list of image files and runs
    the per-partition worker of :mod:`sk_pixels.io` on the workers of a
    ``distributed`` cluster, then merges the statistics.
"""

from __future__ import annotations

import copy
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from functools import reduce
from typing import Any

import numpy as np

from . import _kernels, _threads
from ._dispatch import proxy
from ._layout import image_view
from ._stats import PixelStats
from ._units import output_float_dtype, resolve_max_value

#: How many statistics one merge task combines (the fan-in of the tree).
SPLIT_EVERY = 8

#: Partitions per worker thread for folder statistics (load balancing), and
#: the most files in one partition (so that progress and failures come early).
_PARTITIONS_PER_THREAD = 4
_MAX_PARTITION = 256


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


# -- folder statistics on a cluster ----------------------------------------------------
def partition(items: Sequence, n_parts: int) -> list[list]:
    """Cut ``items`` into at most ``n_parts`` contiguous lists of near-equal size.

    Examples
    --------
    >>> partition(list("abcdefg"), 3)
    [['a', 'b', 'c'], ['d', 'e'], ['f', 'g']]
    """
    return [list(part) for part in _threads.split(list(items), n_parts)]


def _connect(client: Any):
    """``(client, owned)``: a ``distributed.Client``, connected here from an address."""
    try:
        from distributed import Client
    except ImportError:
        raise ImportError(
            "Computing on a Dask cluster needs the 'distributed' package: "
            'pip install "sk_pixels[dask]".'
        ) from None
    if isinstance(client, str):
        return Client(client, set_as_default=False), True
    if not isinstance(client, Client):
        raise TypeError(
            f"client must be a distributed.Client or a scheduler address such as "
            f"'tcp://scheduler:8786', got {type(client).__name__}."
        )
    return client, False


def _cluster_threads(client) -> int:
    return max(1, sum(client.nthreads().values()))


def map_group(group: list, fn: Callable, args: tuple, kwargs: dict) -> list:
    """``[fn(item, *args, **kwargs) for item in group]``: one task, many items."""
    return [fn(item, *args, **kwargs) for item in group]


def map_in_order(
    client: Any,
    fn: Callable,
    items: Sequence,
    *args: Any,
    items_per_task: int | None = None,
    **kwargs: Any,
) -> Iterator:
    """Yield ``fn(item, *args, **kwargs)`` for each item in order, run on a cluster.

    Consecutive items are grouped into tasks (about 4 per worker thread by
    default), submitted at once, and their results are yielded as soon as
    every earlier one is: a caller can stop at the first failure in item
    order, which is what ``on_error="raise"`` needs. An exception raised by
    ``fn`` on a worker is re-raised here. Closing the generator cancels the
    tasks not yet done, and closes a client connected from an address.

    Parameters
    ----------
    client : distributed.Client or str
        A client, or a scheduler address to connect to for the iteration.
    fn : callable
        A top-level (importable) function: workers unpickle it by name.
    items : sequence
        Its first arguments.
    *args, **kwargs
        More arguments, the same for every item.
    items_per_task : int, default=None
        Items per task; default ``ceil(len(items) / (4 * threads))``.
    """
    client, owned = _connect(client)
    futures = []
    try:
        items = list(items)
        if items_per_task is None:
            threads = _cluster_threads(client)
            items_per_task = math.ceil(len(items) / (_PARTITIONS_PER_THREAD * threads))
        groups = [
            items[i : i + max(1, items_per_task)]
            for i in range(0, len(items), max(1, items_per_task))
        ]
        futures = client.map(
            map_group, groups, fn=fn, args=args, kwargs=kwargs, pure=False
        )
        for future in futures:
            yield from future.result()
    finally:
        client.cancel(futures)
        if owned:
            client.close()


def dataset_stats_on_cluster(
    paths: Sequence,
    client: Any,
    mode: str = "RGB",
    on_error: str = "raise",
    *,
    worker: Callable | None = None,
    worker_kwargs: dict | None = None,
    n_partitions: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[PixelStats, list]:
    """Decode and accumulate image files on the workers of a Dask cluster.

    The file list is cut into contiguous partitions; each partition is one task
    that decodes its files one at a time and returns their :class:`PixelStats`
    and the files it skipped; the driver merges the statistics in partition
    order. Memory per worker stays bounded by a few images, and the result
    equals the local computation (exactly: pixels are integers).

    Parameters
    ----------
    paths : sequence of str or path-like
        Image files, in a fixed order; the workers must see the same paths
        (a shared or network file system).
    client : distributed.Client or str
        A connected client, or a scheduler address (``"tcp://host:8786"``),
        connected for this call and closed after.
    mode : str, default="RGB"
        Pillow mode the images are converted to.
    on_error : {"raise", "skip"}, default="raise"
        With ``"raise"`` the error of the first bad file in ``paths`` order is
        raised (the remaining partitions are cancelled); ``"skip"`` collects
        the bad files.
    worker : callable, default=None
        ``worker(paths, mode=..., on_error=..., **worker_kwargs) -> (PixelStats,
        skipped)``, a top-level (importable) function; default
        ``sk_pixels.io._stats_of_files``, the unit of work of
        :func:`sk_pixels.io.dataset_stats`.
    worker_kwargs : dict, default=None
        More keyword arguments for ``worker`` (e.g. ``max_pixels``).
    n_partitions : int, default=None
        Number of tasks; default about 4 per worker thread, with at most 256
        files each.
    progress : callable, default=None
        Called with the number of files of each finished partition, in order.

    Returns
    -------
    stats : PixelStats
        Statistics of all images (empty if there were none).
    skipped : list
        What the worker reported as skipped, in ``paths`` order.
    """
    client, owned = _connect(client)
    try:
        if worker is None:
            from .io import _stats_of_files as worker
        paths = [str(p) for p in paths]
        if n_partitions is None:
            n_partitions = max(
                _cluster_threads(client) * _PARTITIONS_PER_THREAD,
                math.ceil(len(paths) / _MAX_PARTITION),
            )
        parts = partition(paths, n_partitions)
        results = map_in_order(
            client,
            worker,
            parts,
            items_per_task=1,
            mode=mode,
            on_error=on_error,
            **(worker_kwargs or {}),
        )
        total, skipped = PixelStats(), []
        try:
            # In order: the first failing partition holds the first bad file,
            # and float statistics (if any) merge in a reproducible order.
            for part, (stats, part_skipped) in zip(parts, results, strict=True):
                total.merge_inplace(stats)
                skipped.extend(part_skipped)
                if progress is not None:
                    progress(len(part))
        finally:
            results.close()
        return total, skipped
    finally:
        if owned:
            client.close()
