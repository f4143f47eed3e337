"""The shared timer of the benchmark scripts (albucore's benchmark style).

``compare(candidates)`` times several callables *interleaved*: each round runs
every candidate once, in a rotating order, so slow drift of the machine (other
processes, frequency scaling, the host reclaiming memory) hits all of them
alike.  Each result holds the median and the median absolute deviation (MAD) of
the repetitions, after warm-up runs that are not counted.

``bench(fn)`` times one callable the same way.  Peak extra memory is measured
separately (``peak_memory``), never inside a timed run: tracing allocations
slows NumPy down.
"""

from __future__ import annotations

import datetime
import gc
import os
import platform
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    """Median and spread of the repetitions of one candidate, in seconds."""

    median: float
    mad: float
    repeats: int

    @property
    def spread(self) -> float:
        """MAD relative to the median."""
        return self.mad / self.median if self.median else float("nan")


def _summary(times: list[float]) -> Timing:
    med = statistics.median(times)
    mad = statistics.median(abs(t - med) for t in times)
    return Timing(med, mad, len(times))


def compare(
    candidates: dict[str, Callable[[], object]],
    repeats: int = 11,
    warmup: int = 3,
) -> dict[str, Timing]:
    """Time every candidate in interleaved rounds; return name -> Timing.

    Parameters
    ----------
    candidates : dict of str to callable
        Functions of no argument; their results are dropped at once.
    repeats : int, default=11
        Timed rounds (at least 7 is the convention of these scripts).
    warmup : int, default=3
        Untimed rounds first (imports, caches, page faults of reused buffers).
    """
    names = list(candidates)
    times: dict[str, list[float]] = {name: [] for name in names}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for round_ in range(warmup + repeats):
            shift = round_ % len(names)
            for name in names[shift:] + names[:shift]:
                start = time.perf_counter()
                result = candidates[name]()
                elapsed = time.perf_counter() - start
                del result
                if round_ >= warmup:
                    times[name].append(elapsed)
    finally:
        if gc_was_enabled:
            gc.enable()
    return {name: _summary(times[name]) for name in names}


def bench(fn: Callable[[], object], repeats: int = 11, warmup: int = 3) -> Timing:
    """Median and MAD of ``fn``'s run time (see :func:`compare`)."""
    return compare({"fn": fn}, repeats=repeats, warmup=warmup)["fn"]


def peak_memory(fn: Callable[[], object]) -> int:
    """Peak bytes allocated through Python/NumPy while ``fn`` runs (tracemalloc).

    Counts NumPy arrays and Python objects; memory that a library allocates
    behind NumPy's back (PyTorch's tensors, OpenCV's buffers) is invisible to
    it, see :func:`peak_rss` for those.
    """
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
        del result
        return peak
    finally:
        tracemalloc.stop()


def peak_rss(fn: Callable[[], object]) -> int | None:
    """Growth of the process's peak resident memory while ``fn`` runs, or None.

    Coarse (page granularity, never shrinks), but sees every allocator; None
    without psutil or where the OS does not report a peak.
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    gc.collect()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = fn()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    del result
    return (after - before) * 1024


def machine_info() -> str:
    """One line: CPU, cores, Python, and the versions of the compared packages."""
    import numpy as np

    parts = [
        platform.processor() or platform.machine(),
        f"{os.cpu_count()} CPUs",
        f"Python {platform.python_version()}",
        f"numpy {np.__version__}",
    ]
    for name in ("sklearn", "torch", "albucore", "PIL", "sk_pixels"):
        try:
            module = __import__(name)
            parts.append(f"{name} {module.__version__}")
        except ImportError:
            parts.append(f"{name} missing")
    cpu = _cpu_model()
    if cpu:
        parts[0] = cpu
    blas = _blas_info()
    if blas:
        parts.append(blas)
    if hasattr(os, "getloadavg"):
        # Other processes on a small machine skew the 2-thread rows first.
        parts.append(f"load average {os.getloadavg()[0]:.1f} at the end of the run")
    return ", ".join(parts)


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def _blas_info() -> str | None:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    # NumPy's own BLAS (PyTorch and others may bundle another one).
    libs = [lib for lib in threadpool_info() if lib.get("user_api") == "blas"]
    libs.sort(key=lambda lib: "numpy" not in lib.get("filepath", ""))
    for lib in libs:
        arch = lib.get("architecture")
        return f"NumPy's BLAS {lib.get('internal_api')} {lib.get('version')} ({arch})"
    return None


def report(title: str | None, note: str, *sections: str) -> str:
    """Print and return a result block: title, date and machine, a note on how
    it was measured, then the sections (tables), separated by blank lines."""
    lines = [] if title is None else [title, ""]
    lines += [f"{datetime.date.today()} - {machine_info()}", note]
    for section in sections:
        lines += ["", section]
    text = "\n".join(lines)
    print(text)
    return text


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """Format a Markdown table."""
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


class Threads:
    """Thread limits for the benchmark rows: one thread unless a row says more.

    ``Threads.limit(n)`` caps BLAS/OpenMP (threadpoolctl), PyTorch and sk_pixels'
    own kernels at ``n`` threads; a no-op for the parts that are missing.
    """

    def __init__(self) -> None:
        try:
            from threadpoolctl import ThreadpoolController

            self._controller = ThreadpoolController()
        except ImportError:  # pragma: no cover
            self._controller = None

    def limit(self, n: int):
        import contextlib

        from sk_pixels import _threads

        stack = contextlib.ExitStack()
        if self._controller is not None:
            stack.enter_context(self._controller.limit(limits=n))
        _threads.set_num_threads(n)
        stack.callback(_threads.set_num_threads, None)
        try:
            import torch

            previous = torch.get_num_threads()
            torch.set_num_threads(n)
            stack.callback(torch.set_num_threads, previous)
        except ImportError:
            pass
        return stack

    def wrap(self, fn: Callable[[], object], n: int) -> Callable[[], object]:
        """``fn`` run under a limit of ``n`` threads."""

        def run():
            with self.limit(n):
                return fn()

        return run


def fmt_ms(t: Timing) -> str:
    return f"{t.median * 1e3:.1f} ± {t.mad * 1e3:.1f}"


def fmt_bytes(n: int | None) -> str:
    if n is None:
        return "n/a"
    return f"{n / 2**20:.1f} MiB"
