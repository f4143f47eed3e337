"""Fused transform kernels against the memory floors, one thread, in one run.

Candidates for ``uint8 (n, 224, 224, 3) -> float32`` with ImageNet statistics
(the centred form ``(x - c_hi) * scale + base'`` of ``sk_pixels._kernels``):

- floors: the allocating cast (``np.empty`` + ``np.copyto``) and the cast into a
  preallocated array: no map at all;
- sk_pixels' transform with the compiled kernel (numba, the ``fast`` extra) and
  with its NumPy steps (cast, ``-=``, ``*=``, ``+=`` per cache-sized block),
  allocating and with ``out=``;
- a NumPy variant that folds the cast into the subtraction
  (``np.subtract(x, c_hi, out=y)``: three passes instead of four);
- per-image standardization (``scope="image"``, global and per channel);
- exact uint8 / uint16 statistics (``PixelStats.from_array``: the numba pass
  and the NumPy/BLAS engine) against one read of the batch (``np.max``).

The first-call costs (importing numba; compiling the kernel, or loading it from
numba's on-disk cache) are measured apart, in fresh processes.

Run: ``python benchmarks/bench_fused.py`` (about a minute); prints ready-to-paste
Markdown tables.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
from _timing import Threads, compare, markdown_table, report

from sk_pixels import PixelStandardizer, PixelStats, _fused
from sk_pixels._blocks import iter_blocks
from sk_pixels._kernels import split_center

MEAN = np.array([0.485, 0.456, 0.406]) * 255
STD = np.array([0.229, 0.224, 0.225]) * 255


def _numpy_kernel(fn):
    def run():
        saved = _fused._loaded
        _fused._loaded = False
        try:
            return fn()
        finally:
            _fused._loaded = saved

    return run


def three_pass(X: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The centred form with the cast folded into the subtraction, per block."""
    scale, c_hi, base = split_center(1 / STD, MEAN, np.zeros(3), np.float32)
    for images, rows in iter_blocks(X.shape, 196_608):
        y = out[images, rows]
        np.subtract(X[images, rows], c_hi, out=y)
        y *= scale
        y += base
    return out


def transform_rows(X: np.ndarray, threads: Threads) -> dict:
    one = lambda f: threads.wrap(f, 1)  # noqa: E731
    prealloc = np.empty(X.shape, np.float32)
    scaler = PixelStandardizer(mean="imagenet", std="imagenet").fit(X[:1])
    global_scaler = PixelStandardizer(scope="image", per_channel=False)
    channel_scaler = PixelStandardizer(scope="image")
    per_image_global = lambda: global_scaler.transform(X)  # noqa: E731
    per_image = lambda: channel_scaler.transform(X)  # noqa: E731
    return {
        "floor: np.empty + np.copyto (allocating cast)": (
            one(lambda: np.copyto(np.empty(X.shape, np.float32), X)),
            "alloc",
        ),
        "floor: np.copyto into preallocated": (
            one(lambda: np.copyto(prealloc, X)),
            "prealloc",
        ),
        "sk_pixels transform, numba kernel": (
            one(lambda: scaler.transform(X)),
            "alloc",
        ),
        "sk_pixels transform(out=), numba kernel": (
            one(lambda: scaler.transform(X, out=prealloc)),
            "prealloc",
        ),
        "sk_pixels transform, NumPy steps": (
            one(_numpy_kernel(lambda: scaler.transform(X))),
            "alloc",
        ),
        "sk_pixels transform(out=), NumPy steps": (
            one(_numpy_kernel(lambda: scaler.transform(X, out=prealloc))),
            "prealloc",
        ),
        "NumPy 3 passes (cast folded into subtract), out=": (
            one(lambda: three_pass(X, prealloc)),
            "prealloc",
        ),
        # Per-image scopes: one numba pass for every image's exact statistics,
        # then one fused map with per-image coefficient rows (two calls a batch).
        "per image, global (scope='image')": (one(per_image_global), "alloc"),
        "per image, per channel (scope='image')": (one(per_image), "alloc"),
        "per image, global, NumPy engine and steps": (
            one(_numpy_kernel(per_image_global)),
            "alloc",
        ),
        "per image, per channel, NumPy engine and steps": (
            one(_numpy_kernel(per_image)),
            "alloc",
        ),
    }


def transform_table(X: np.ndarray, repeats: int, threads: Threads) -> str:
    rows = transform_rows(X, threads)
    timings = compare({k: f for k, (f, _) in rows.items()}, repeats=repeats)
    floors = {
        "alloc": timings["floor: np.empty + np.copyto (allocating cast)"].median,
        "prealloc": timings["floor: np.copyto into preallocated"].median,
    }
    table = [
        [
            name,
            f"{timings[name].median * 1e3:.1f} ± {timings[name].mad * 1e3:.1f}",
            f"{X.nbytes / timings[name].median / 1e6:,.0f}",
            f"{timings[name].median / floors[kind]:.2f}x ({kind})",
        ]
        for name, (_, kind) in rows.items()
    ]
    header = ["candidate", "ms (median ± MAD)", "input MB/s", "vs its floor"]
    return "\n".join(
        [
            f"### Transform kernels, one thread: uint8 {X.shape} -> float32",
            "",
            markdown_table(header, table),
        ]
    )


def stats_table(X8: np.ndarray, repeats: int, threads: Threads) -> str:
    X16 = (X8.astype(np.uint16) * 257)[: max(1, len(X8) // 2)]
    one = lambda f: threads.wrap(f, 1)  # noqa: E731
    rows = {}
    for name, X in (("uint8", X8), ("uint16", X16)):
        rows[f"{name}: one read (np.max)"] = one(lambda X=X: X.max())
        rows[f"{name}: PixelStats.from_array, numba pass"] = one(
            lambda X=X: PixelStats.from_array(X)
        )
        rows[f"{name}: PixelStats.from_array, NumPy/BLAS engine"] = one(
            _numpy_kernel(lambda X=X: PixelStats.from_array(X))
        )
    timings = compare(rows, repeats=repeats)
    table = []
    for name, t in timings.items():
        read = timings[name.split(":")[0] + ": one read (np.max)"].median
        table.append(
            [
                name,
                f"{t.median * 1e3:.1f} ± {t.mad * 1e3:.1f}",
                f"{t.median / read:.1f}x",
            ]
        )
    return "\n".join(
        [
            f"### Exact statistics, one thread: uint8 {X8.shape}, uint16 {X16.shape}",
            "",
            markdown_table(["candidate", "ms (median ± MAD)", "vs one read"], table),
        ]
    )


_FIRST_CALL = """
import time
t0 = time.perf_counter()
import numpy as np
from sk_pixels import PixelStandardizer
t1 = time.perf_counter()
X = np.zeros((1, 224, 224, 3), np.uint8)
s = PixelStandardizer(mean="imagenet", std="imagenet").fit(X)
s.transform(X)
t2 = time.perf_counter()
s.transform(X)
t3 = time.perf_counter()
print(f"{t1 - t0:.4f} {t2 - t1:.4f} {t3 - t2:.4f}")
"""


def first_call_table() -> str:
    """Import and first transform in fresh processes: cold and warm numba cache."""
    cases = {"without numba (SK_PIXELS_FUSED=0)": {"SK_PIXELS_FUSED": "0"}}
    with tempfile.TemporaryDirectory() as cache:
        cases["numba, empty cache (compiles)"] = {"NUMBA_CACHE_DIR": cache}
        cases["numba, cache on disk (loads)"] = {"NUMBA_CACHE_DIR": cache}
        rows = []
        for name, env in cases.items():
            out = subprocess.run(
                [sys.executable, "-c", _FIRST_CALL],
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            imp, first, second = (float(v) * 1e3 for v in out)
            rows.append([name, f"{imp:.0f}", f"{first:.1f}", f"{second:.2f}"])
    return "\n".join(
        [
            "### First call in a fresh process (224x224x3 uint8, ImageNet)",
            "",
            markdown_table(
                [
                    "case",
                    "import sk_pixels (ms)",
                    "fit + first transform (ms)",
                    "second transform (ms)",
                ],
                rows,
            ),
        ]
    )


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (args.n, 224, 224, 3), dtype=np.uint8)
    threads = Threads()
    _fused.available()
    tables = [
        transform_table(X, args.repeats, threads),
        stats_table(X, args.repeats, threads),
        first_call_table(),
    ]
    return report(
        None,
        f"{args.repeats} interleaved rounds; one thread; numba "
        f"{'installed' if _fused.available() else 'NOT installed (rows = NumPy)'}.",
        *tables,
    )


if __name__ == "__main__":
    main()
