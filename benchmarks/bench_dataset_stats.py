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

Needs ``sk_pixels.io``; skipped with a note where it is missing.
Run: ``python benchmarks/bench_dataset_stats.py`` (about a minute).
"""

from __future__ import annotations

import argparse
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


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="JPEG files")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
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
        dataset_stats(files[:4], n_jobs=2)  # start the worker processes once
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
