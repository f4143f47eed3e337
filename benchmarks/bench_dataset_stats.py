"""Folder statistics: decode JPEGs of mixed sizes + exact stats, vs decoding alone.

Writes ``--n`` JPEGs (sizes drawn between 160 and 640 pixels a side, smooth
content plus noise, quality 90) into a temporary folder, then times, in
interleaved rounds:

* decoding alone into NumPy arrays, ``np.asarray(Image.open(p).convert("RGB"))``
  (the floor);
* decoding + Pillow's own ``Image.histogram()`` (the best anchor: exact too);
* decoding + ``PixelStats.update`` in a plain loop;
* ``sk_pixels.io.dataset_stats(paths, n_jobs=1)`` and ``n_jobs=2`` (workers
  return statistics, not pixels).

``--backends`` instead times the choice of ``dataset_stats(n_jobs=2)``'s
workers, threads against processes, against ``n_jobs=1`` on two folders: 300
JPEGs of mixed sizes and 20 small images (thumbnails of 32-64 pixels a side).
The *first call* runs in a fresh interpreter (the pool starts inside the
timed call; imports are done before), the *warm* rows are medians of
interleaved rounds in one process.

Needs ``sk_pixels.io``; skipped with a note where it is missing.
Run: ``python benchmarks/bench_dataset_stats.py`` (about a minute), or
``python benchmarks/bench_dataset_stats.py --backends`` (about two minutes).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from _timing import Threads, compare, fmt_ms, markdown_table, report
from PIL import Image

from sk_pixels import PixelStats


def write_jpegs(folder: Path, n: int, rng: np.random.Generator) -> list[Path]:
    paths = []
    for k in range(n):
        h, w = rng.integers(160, 641, size=2)
        y, x = np.mgrid[0:h, 0:w]
        base = np.stack(
            [
                127 + 100 * np.sin(x / rng.uniform(10, 60)),
                127 + 100 * np.cos(y / rng.uniform(10, 60)),
                127 + 100 * np.sin((x + y) / rng.uniform(10, 60)),
            ],
            axis=-1,
        )
        image = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        path = folder / f"{k:05d}.jpg"
        Image.fromarray(image).save(path, quality=90)
        paths.append(path)
    return paths


def decode_only(paths):
    for p in paths:
        with Image.open(p) as im:
            np.asarray(im.convert("RGB"))


def decode_histogram(paths):
    hist = np.zeros(768, dtype=np.int64)
    for p in paths:
        with Image.open(p) as im:
            hist += im.convert("RGB").histogram()
    return hist


def decode_pixelstats(paths):
    stats = PixelStats()
    for p in paths:
        with Image.open(p) as im:
            stats.update(np.asarray(im.convert("RGB"))[None])
    return stats


def write_thumbnails(folder: Path, n: int, rng: np.random.Generator) -> None:
    for k in range(n):
        h, w = rng.integers(32, 65, size=2)
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        Image.fromarray(image).save(folder / f"{k:05d}.jpg", quality=90)


#: One call in a fresh interpreter, imports excluded: prints its seconds.
_FIRST_CALL = """
import sys, time
from sk_pixels.io import dataset_stats
folder, jobs, backend = sys.argv[1], int(sys.argv[2]), sys.argv[3]
start = time.perf_counter()
dataset_stats(folder, n_jobs=jobs, backend=backend)
print(time.perf_counter() - start)
"""

CONFIGS = [(1, "threads"), (2, "threads"), (2, "processes")]


def first_call(folder: str, jobs: int, backend: str, repeats: int) -> list[float]:
    return [
        float(
            subprocess.check_output(
                [sys.executable, "-c", _FIRST_CALL, folder, str(jobs), backend],
                text=True,
            )
        )
        for _ in range(repeats)
    ]


def backends(args) -> str:
    import statistics

    from sk_pixels.io import _dataset, dataset_stats

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        big, small = Path(tmp, "mixed"), Path(tmp, "small")
        big.mkdir()
        small.mkdir()
        write_jpegs(big, 300, np.random.default_rng(0))
        write_thumbnails(small, 20, np.random.default_rng(1))
        for folder, label in [(big, "300 JPEGs, mixed sizes"), (small, "20 small")]:
            base = None
            warm = compare(
                {
                    f"{jobs} {backend}": (
                        lambda j=jobs, b=backend: dataset_stats(
                            str(folder), n_jobs=j, backend=b
                        )
                    )
                    for jobs, backend in CONFIGS
                },
                repeats=args.repeats,
                warmup=1,
            )
            for jobs, backend in CONFIGS:
                first = statistics.median(
                    first_call(str(folder), jobs, backend, args.first)
                )
                t = warm[f"{jobs} {backend}"]
                base = base or (first, t.median)
                rows.append(
                    [
                        label,
                        f"n_jobs={jobs}" + ("" if jobs == 1 else f", {backend}"),
                        f"{first * 1e3:,.0f}",
                        f"{base[0] / first:.2f}x",
                        fmt_ms(t),
                        f"{base[1] / t.median:.2f}x",
                    ]
                )
        threshold = _dataset.MIN_BYTES_PER_WORKER
    header = [
        "folder",
        "workers",
        "first call, ms",
        "speed-up",
        "warm, ms (median ± MAD)",
        "speed-up",
    ]
    return report(
        "### dataset_stats: threads or processes",
        f"First call: median of {args.first} fresh interpreters; warm: "
        f"{args.repeats} interleaved rounds. Folders under "
        f"{threshold / 2**20:g} MiB per worker are read in the calling thread.",
        markdown_table(header, rows),
    )


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="JPEG files")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--backends", action="store_true", help="threads vs processes instead"
    )
    parser.add_argument("--first", type=int, default=3, help="fresh interpreters")
    args = parser.parse_args(argv)
    if args.backends:
        return backends(args)
    try:
        from sk_pixels.io import dataset_stats
    except ImportError:
        text = "note: sk_pixels.io is missing; the folder benchmark is skipped."
        print(text)
        return text

    threads = Threads()
    one = lambda f: threads.wrap(f, 1)  # noqa: E731
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_jpegs(Path(tmp), args.n, np.random.default_rng(0))
        files = [str(p) for p in paths]
        dataset_stats(files[:4], n_jobs=2)  # warm the decoders once
        rows = {
            "floor: Pillow decode to NumPy": one(lambda: decode_only(paths)),
            "Pillow decode + Image.histogram()": one(lambda: decode_histogram(paths)),
            "Pillow decode + PixelStats.update": one(lambda: decode_pixelstats(paths)),
            "sk_pixels.io.dataset_stats, n_jobs=1": one(
                lambda: dataset_stats(files, n_jobs=1)
            ),
            "sk_pixels.io.dataset_stats, n_jobs=2": lambda: dataset_stats(
                files, n_jobs=2
            ),
        }
        timings = compare(rows, repeats=args.repeats, warmup=1)
        n_pixels = sum(Image.open(p).size[0] * Image.open(p).size[1] for p in paths)
        exact = decode_histogram(paths).reshape(3, 256)
        mean_ref = exact @ np.arange(256) / exact.sum(axis=1)
        got = dataset_stats(files, n_jobs=2).mean
        assert np.array_equal(got, mean_ref) or np.allclose(got, mean_ref, rtol=1e-15)
        total_mb = sum(p.stat().st_size for p in paths) / 1e6
    floor = timings["floor: Pillow decode to NumPy"].median
    one_job = timings["sk_pixels.io.dataset_stats, n_jobs=1"].median
    table = [
        [
            name,
            fmt_ms(t),
            f"{args.n / t.median:,.0f}",
            f"{n_pixels / t.median / 1e6:,.1f}",
            f"{t.median / floor:.2f}x",
            f"{one_job / t.median:.2f}x" if name.startswith("sk_pixels") else "-",
        ]
        for name, t in timings.items()
    ]
    header = [
        "candidate",
        "ms (median ± MAD)",
        "images/s",
        "Mpixel/s",
        "vs decode alone",
        "speed-up vs n_jobs=1",
    ]
    return report(
        f"### Folder statistics: {args.n} JPEGs of mixed sizes "
        f"({n_pixels / 1e6:.1f} Mpixel, {total_mb:.1f} MB on disk)",
        f"{args.repeats} interleaved rounds; the 1-job rows run on one thread.",
        markdown_table(header, table),
    )


if __name__ == "__main__":
    main()
