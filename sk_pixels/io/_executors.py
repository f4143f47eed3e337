"""Where the work runs: this process, a pool of local processes, or a Dask cluster.

Each executor takes a top-level function and a list of items and yields
``fn(item, *args)`` **in item order**, as soon as every earlier result is in,
so that a caller can stop at the first failure in file order and merges
statistics in a reproducible order.  Closing the generator early cancels the
work not yet started.  Nothing here knows about images.
"""

from __future__ import annotations

import itertools
import math
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from numbers import Integral
from typing import Any

from .. import _threads

#: Tasks per worker thread of a cluster (load balancing), and the most files
#: in one partition of :func:`sk_pixels.io.dataset_stats_on_cluster` (so
#: that progress and failures come early).
PARTITIONS_PER_THREAD = 4
MAX_PARTITION = 256


# -- local processes -----------------------------------------------------------------
def n_workers(n_jobs: int | None, n_items: int) -> int:
    """Processes for ``n_jobs`` (None: 1; -1: all cores; -2: all but one...)."""
    if n_jobs is None:
        n_jobs = 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, Integral) or n_jobs == 0:
        raise ValueError(
            "n_jobs must be a non-zero integer (-1 for all cores) or None. "
            f"Got {n_jobs!r}."
        )
    n_jobs = int(n_jobs)
    cores = os.cpu_count() or 1
    workers = n_jobs if n_jobs > 0 else max(1, cores + 1 + n_jobs)
    return max(1, min(workers, n_items))


#: How :func:`map_local` runs several workers.  Threads are the default:
#: Pillow releases the GIL while it decodes, converts and counts histograms,
#: so threads scale like processes on this work without their start-up cost
#: (see benchmarks/README.md, "Folder statistics").
BACKENDS = ("threads", "processes")


class WorkerDiedError(ChildProcessError):
    """A worker process ended abruptly (killed, or a decoder crashed it).

    An ``OSError`` (the environment's fault, not the caller's): the command
    line reports it as one line with exit code 1.
    """


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}. Got backend={backend!r}.")
    return backend


def _pool(workers: int, backend: str) -> Any:
    """A pool of its own for one call: never joblib's global (reusable) executor.

    A process pool is loky's plain ``ProcessPoolExecutor`` (no
    ``if __name__ == "__main__"`` guard needed in scripts, and a dead worker
    is reported instead of hanging), owned by this call and shut down after
    it, so that ``joblib.Parallel`` and ``GridSearchCV(n_jobs=...)`` later in
    the same process find joblib's executor as they left it.
    """
    if backend == "threads":
        from concurrent.futures import ThreadPoolExecutor

        return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sk_pixels")
    from joblib.externals.loky.process_executor import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=workers)


def map_local(
    fn: Callable, items: Sequence, *args: Any, workers: int, backend: str = "threads"
) -> Iterator:
    """Yield ``fn(item, *args)`` in order, in this thread or ``workers`` workers.

    With several workers (threads or processes, see :data:`BACKENDS`), at
    most two items per worker are in flight, so memory stays bounded whatever
    the number of items.  A worker process that dies raises
    :class:`WorkerDiedError`.
    """
    if workers == 1:
        for item in items:
            yield fn(item, *args)
        return
    from concurrent.futures.process import BrokenProcessPool

    pool = _pool(workers, check_backend(backend))
    todo = iter(items)
    pending: deque[Future] = deque()
    try:
        pending.extend(
            pool.submit(fn, item, *args) for item in itertools.islice(todo, 2 * workers)
        )
        while pending:
            try:
                result = pending.popleft().result()
            except BrokenProcessPool as exc:
                raise WorkerDiedError(
                    f"a worker process died abruptly ({type(exc).__name__}: "
                    f"{' '.join(str(exc).split())[:200]}); a decoder may have "
                    "crashed on one of the files or the process was killed. "
                    "Rerun with n_jobs=1 (--jobs 1) to find the file."
                ) from None
            for item in itertools.islice(todo, 1):
                pending.append(pool.submit(fn, item, *args))
            yield result
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True)


# -- a Dask cluster ------------------------------------------------------------------
def partition(items: Sequence, n_parts: int) -> list[list]:
    """Cut ``items`` into at most ``n_parts`` contiguous lists of near-equal size.

    Examples
    --------
    >>> partition(list("abcdefg"), 3)
    [['a', 'b', 'c'], ['d', 'e'], ['f', 'g']]
    """
    return [list(part) for part in _threads.split(list(items), n_parts)]


def check_scheduler_address(address: str) -> str:
    """``address`` if it reads as a Dask scheduler address, else a ``ValueError``.

    Checked before connecting: a malformed address (``"notaurl"``, ``""``)
    otherwise makes ``distributed.Client`` retry for the whole connect timeout.
    """
    _distributed()
    from distributed.comm import parse_address
    from distributed.comm.addressing import parse_host_port
    from distributed.comm.registry import backends

    problem = None
    try:
        scheme, location = parse_address(address)
        if scheme not in backends:
            problem = f"unknown protocol {scheme!r}"
        elif scheme != "inproc" and not parse_host_port(location)[0]:
            problem = "no host"
    except (ValueError, TypeError) as exc:
        problem = str(exc)
    if problem is not None:
        raise ValueError(
            f"{address!r} is not a Dask scheduler address ({problem}); pass one "
            "such as 'tcp://scheduler:8786'."
        )
    return address


def _distributed() -> Any:
    """The ``distributed`` package, or an ImportError that says how to install it."""
    try:
        import distributed
    except ImportError:
        raise ImportError(
            "Computing on a Dask cluster needs the 'distributed' package: "
            'pip install "sk_pixels[dask]".'
        ) from None
    return distributed


def connect(client: Any) -> tuple[Any, bool]:
    """``(client, owned)``: a ``distributed.Client``, connected here from an address."""
    Client = _distributed().Client
    if isinstance(client, str):
        address = check_scheduler_address(client)
        return Client(address, set_as_default=False), True
    if not isinstance(client, Client):
        raise TypeError(
            f"client must be a distributed.Client or a scheduler address such as "
            f"'tcp://scheduler:8786', got {type(client).__name__}."
        )
    return client, False


def cluster_threads(client: Any) -> int:
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
    client, owned = connect(client)
    futures = []
    try:
        items = list(items)
        if items_per_task is None:
            threads = cluster_threads(client)
            items_per_task = math.ceil(len(items) / (PARTITIONS_PER_THREAD * threads))
        step = max(1, items_per_task)
        groups = [items[i : i + step] for i in range(0, len(items), step)]
        futures = client.map(
            map_group, groups, fn=fn, args=args, kwargs=kwargs, pure=False
        )
        for future in futures:
            yield from future.result()
    finally:
        client.cancel(futures)
        if owned:
            client.close()
