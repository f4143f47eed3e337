"""Folder statistics on a Dask cluster (partitions of files, merged in order)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from . import _threads
from ._stats import PixelStats

#: Partitions per worker thread for folder statistics (load balancing), and
#: the most files in one partition (so that progress and failures come early).
_PARTITIONS_PER_THREAD = 4
_MAX_PARTITION = 256


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
            raise TypeError("worker is required: pass sk_pixels.io._stats_of_files.")
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
