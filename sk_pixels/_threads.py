"""Threads over blocks for large batches, without oversubscribing the machine.

NumPy's element-wise loops and reductions release the GIL, so the blocked
kernels (the transform of :mod:`sk_pixels._kernels`, the exact statistics of
:mod:`sk_pixels._reduce`) run on several cores from plain Python threads, which
take consecutive chunks of blocks (or images) in turn.  Two rules keep that
from ever costing time:

* **Only for large work.**  Below :data:`MIN_PARALLEL_BYTES` of memory
  traffic a thread start-up costs more than it saves, so the kernels stay on
  the calling thread (and allocate nothing more).
* **Respect the caller's limits.**  The number of threads is the smallest of
  the CPUs this process may run on, the ``SK_PIXELS_NUM_THREADS`` environment
  variable, :func:`set_num_threads`, and the thread limits of the BLAS and
  OpenMP libraries as ``threadpoolctl`` sees them.  Code that is already
  parallel (a joblib worker, ``threadpoolctl.threadpool_limits(1)``, a
  scikit-learn ``n_jobs`` loop) therefore gets one thread here too.

Results never depend on the number of threads: integer statistics are exact
sums, and every output block is written by exactly one thread.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

#: Work below this many bytes of memory traffic stays on the calling thread.
MIN_PARALLEL_BYTES = 16 * 2**20

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_controller: Any = None
_user_limit: int | None = None


def set_num_threads(n: int | None) -> None:
    """Cap the threads the kernels may use (None: automatic, the default).

    Parameters
    ----------
    n : int or None
        At most this many threads; 1 keeps every kernel on the calling thread.
    """
    global _user_limit
    if n is not None and (not isinstance(n, int) or n < 1):
        raise ValueError(f"n must be None or an int >= 1. Got n={n!r}.")
    _user_limit = n


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _library_limit() -> int | None:
    """Smallest thread limit of the loaded BLAS / OpenMP libraries, or None."""
    global _controller
    try:
        if _controller is None:
            from threadpoolctl import ThreadpoolController

            _controller = ThreadpoolController()
        limits = [lib.num_threads for lib in _controller.lib_controllers]
    except Exception:  # pragma: no cover - threadpoolctl missing or failing
        return None
    limits = [n for n in limits if isinstance(n, int) and n > 0]
    return min(limits) if limits else None


def get_num_threads(n_bytes: int | None = None) -> int:
    """Threads that a kernel moving ``n_bytes`` of memory would use now."""
    if n_bytes is not None and n_bytes < MIN_PARALLEL_BYTES:
        return 1
    candidates = [_cpu_count()]
    env = os.environ.get("SK_PIXELS_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        candidates.append(int(env))
    if _user_limit is not None:
        candidates.append(_user_limit)
    if min(candidates) > 1:
        library = _library_limit()
        if library is not None:
            candidates.append(library)
    return max(1, min(candidates))


def split(items: Sequence, n_parts: int) -> list[Sequence]:
    """Cut ``items`` into at most ``n_parts`` consecutive, non-empty slices whose
    sizes differ by at most one (the larger ones first).

    Examples
    --------
    >>> split(list(range(10)), 4)
    [[0, 1, 2], [3, 4, 5], [6, 7], [8, 9]]
    """
    n_parts = max(1, min(n_parts, len(items)))
    size, extra = divmod(len(items), n_parts)
    bounds = [k * size + min(k, extra) for k in range(n_parts + 1)]
    return [items[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


def run(
    fn: Callable[[Sequence], Any],
    items: Sequence,
    n_threads: int,
    chunks_per_thread: int = 8,
) -> list:
    """Return ``[fn(part) for part in parts]`` with parts of ``items``, in threads.

    ``items`` is cut into consecutive parts, about ``chunks_per_thread`` per
    thread, which the threads take in turn as they finish the previous one:
    a thread slowed down by another process on its core then does less work
    instead of holding the others up.  The calling thread works too, so one
    thread means no thread pool at all.  Results come back in ``items`` order.
    """
    if n_threads <= 1 or len(items) <= 1:
        return [fn(items)]
    parts = split(items, min(len(items), n_threads * chunks_per_thread))
    results: list = [None] * len(parts)
    next_part = itertools.count()  # next() on it is atomic under the GIL
    # NumPy's floating-point error state is per thread (a context variable):
    # the workers take the caller's, so np.errstate(over="raise") around a
    # transform holds in every thread.
    errstate = np.geterr()

    def worker() -> None:
        with np.errstate(**errstate):
            for k in next_part:
                if k >= len(parts):
                    return
                results[k] = fn(parts[k])

    pool = _get_pool(n_threads - 1)
    futures = [pool.submit(worker) for _ in range(n_threads - 1)]
    worker()
    for future in futures:
        future.result()
    return results


def _get_pool(size: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size < size:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(size, thread_name_prefix="sk_pixels")
            _pool_size = size
        return _pool
