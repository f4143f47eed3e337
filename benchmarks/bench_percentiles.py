"""Percentiles: exact 16-bit dataset percentiles, per-image scaling, float candidates.

Three tables:

1. **Dataset percentiles of 16-bit images** (``--images`` 512x512 ``uint16``
   images, default 1,000 = 524 MB): sk_pixels streams batches of 50 images
   through ``PixelNormalizer(scope="dataset", quantile_range=(1, 99.8))``
   (histogram + exact moments) and through ``PixelHistogram`` alone, never
   holding more than one batch; NumPy computes ``np.percentile`` on the
   concatenated array (which it copies to partition).  Results must be equal
   to the bit.
2. **Per-image percentile scaling** (CSBDeep's ``normalize(x, 1, 99.8)``): a
   batch of 16 images, ``PixelNormalizer(scope="image")`` against plain NumPy
   (``np.percentile`` per image, then ``(x - lo) / (hi - lo)`` in float32).
3. **Folder histograms**: ``dataset_stats(folder)`` against
   ``dataset_stats(folder, histogram=True)`` (the percentiles' histogram counted
   in the same pass) on ``--files`` 256x256 RGB JPEGs (8-bit: Pillow's histogram
   gives both) and 16-bit gray PNGs (the array path), one thread.
4. **Float percentiles** (10 batches of 10^6 lognormal float32): the one-pass
   float histogram sk_pixels uses, a two-pass exact refinement (histogram,
   then the values of the bins that hold the requested ranks), and Apache
   DataSketches' KLL sketch (``pip install datasketches``; skipped without it),
   by worst rank error, worst relative value error, state size and time.

Run: ``python benchmarks/bench_percentiles.py [--images N]`` (~2 minutes on an
idle machine, under 5 when shared).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import compare, markdown_table, peak_memory, report  # noqa: E402

from sk_pixels import PixelHistogram, PixelNormalizer  # noqa: E402

PERCENTS = [1, 99.8]
BATCH = 50
SIDE = 512


def _base_images(rng: np.random.Generator, n: int = BATCH) -> np.ndarray:
    """Microscopy-like uint16 images: background, blobs, noise, hot pixels."""
    yy, xx = np.mgrid[:SIDE, :SIDE]
    images = rng.normal(400, 40, (n, SIDE, SIDE))
    for i in range(n):
        for cy, cx, r, amp in rng.uniform(
            (0, 0, 5, 500), (SIDE, SIDE, 40, 6000), (8, 4)
        ):
            images[i] += amp * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
    images = images.clip(0, 65535).astype(np.uint16)
    hot = rng.integers(0, images.size, images.size // 5000)
    images.flat[hot] = 65535
    return images


def _batch(base: np.ndarray, i: int) -> np.ndarray:
    """Batch ``i``: the base images shifted by a per-batch offset (cheap, distinct)."""
    return base + np.uint16(i % 97)


def dataset_table(n_images: int) -> str:
    base = _base_images(np.random.default_rng(0))
    n_batches = -(-n_images // BATCH)

    def batches():
        for i in range(n_batches):
            b = _batch(base, i)
            yield b[: n_images - i * BATCH]

    def ours_normalizer():
        norm = PixelNormalizer(
            scope="dataset", quantile_range=PERCENTS, per_channel=False
        )
        for b in batches():
            norm.partial_fit(b)
        return norm.quantiles_

    def ours_histogram():
        hist = None
        for b in batches():
            h = PixelHistogram.from_array(b, channel_axis=None)
            hist = h if hist is None else hist + h
        return hist.percentile(PERCENTS)

    def batches_only():
        for b in batches():
            pass

    start = time.perf_counter()
    whole = np.concatenate(list(batches()))
    concat_s = time.perf_counter() - start

    def numpy_percentile():
        return np.percentile(whole, PERCENTS)

    want = numpy_percentile()
    got = ours_normalizer().ravel()
    assert np.array_equal(got, want), (got, want)
    assert np.array_equal(ours_histogram().ravel(), want)
    times = compare(
        {
            "batches": batches_only,
            "normalizer": ours_normalizer,
            "histogram": ours_histogram,
            "numpy": numpy_percentile,
        },
        repeats=3,
        warmup=0,  # the assertions above ran every candidate once
    )
    mem = {name: peak_memory(fn) for name, fn in
           [("normalizer", ours_normalizer), ("histogram", ours_histogram),
            ("numpy", numpy_percentile), ("batches", batches_only)]}  # fmt: skip
    gen = times["batches"].median
    mb = whole.nbytes / 1e6
    rows = [
        [
            "sk_pixels `PixelNormalizer.partial_fit` (histogram + exact moments)",
            f"{times['normalizer'].median - gen:.2f}",
            f"{(mem['normalizer'] - mem['batches']) / 1e6:.1f}",
            "yes",
        ],
        [
            "sk_pixels `PixelHistogram` alone",
            f"{times['histogram'].median - gen:.2f}",
            f"{(mem['histogram'] - mem['batches']) / 1e6:.1f}",
            "yes",
        ],
        [
            "`np.percentile` on the concatenated array",
            f"{times['numpy'].median:.2f} (+ {concat_s:.2f} to concatenate)",
            f"{mem['numpy'] / 1e6:.0f} (+ the array: {mb:.0f})",
            "reference",
        ],
    ]
    note = (
        f"{n_images} images {SIDE}x{SIDE} uint16 ({mb:.0f} MB), batches of {BATCH}; "
        f"percentiles {PERCENTS}. sk_pixels' times exclude making the batches "
        f"({gen:.2f} s, timed alone) and their memory ({mem['batches'] / 1e6:.0f} "
        "MB: two batches alive while the next is made); medians of 3 rounds."
    )
    return (
        note
        + "\n\n"
        + markdown_table(
            ["method", "time (s)", "peak extra memory (MB)", "bit-identical"], rows
        )
    )


def per_image_table() -> str:
    X = _base_images(np.random.default_rng(1), 16)

    def numpy_csbdeep():
        lo, hi = np.percentile(X, PERCENTS, axis=(1, 2), keepdims=True)
        return ((X - lo) / (hi - lo)).astype(np.float32)

    norm = PixelNormalizer(scope="image", quantile_range=PERCENTS, per_channel=False)
    got, want = norm.transform(X), numpy_csbdeep()
    err = float(np.abs(got.astype(np.float64) - want).max())
    times = compare(
        {"sk_pixels": lambda: norm.transform(X), "numpy": numpy_csbdeep},
        repeats=7,
        warmup=2,
    )
    rows = [
        [name, f"{t.median * 1e3:.0f} ± {t.mad * 1e3:.0f}",
         f"{peak_memory(fn) / 1e6:.0f}",
         f"{err:.1e}" if "sk_pixels" in name else ""]
        for name, t, fn in [
            ("sk_pixels `PixelNormalizer(scope='image', quantile_range=(1, 99.8))`",
             times["sk_pixels"], lambda: norm.transform(X)),
            ("NumPy/CSBDeep: `np.percentile` per image, `(x - lo) / (hi - lo)`",
             times["numpy"], numpy_csbdeep),
        ]
    ]  # fmt: skip
    note = (
        f"16 images {SIDE}x{SIDE} uint16 -> float32 ({X.nbytes / 1e6:.0f} MB in); "
        "median ± MAD of 7 rounds."
    )
    return (
        note
        + "\n\n"
        + markdown_table(
            ["method", "time (ms)", "peak extra memory (MB)", "max abs diff"], rows
        )
    )


def _two_pass(batches, qs):
    """Exact percentiles in two passes: histogram, then the bins holding the ranks."""
    hist = None
    for b in batches():
        h = PixelHistogram.from_array(b.reshape(1, -1, 1, 1))
        hist = h if hist is None else hist + h
    cum = np.cumsum(hist.counts[0])
    n = int(cum[-1])
    ranks = set()
    for q in qs:
        v = np.float64(n - 1) * np.float64(q)
        k = int(np.floor(v))
        ranks |= {k, min(k + 1, n - 1)}
    bins = sorted({int(np.searchsorted(cum, k, side="right")) for k in ranks})
    from sk_pixels._histogram import _float_keys

    kept = {b: [] for b in bins}
    for b in batches():
        keys = _float_keys(b)
        for i in bins:
            kept[i].append(b[keys == i])
    values = {i: np.sort(np.concatenate(kept[i]).astype(np.float64)) for i in bins}
    stored = sum(v.size for v in values.values())

    def stat(k):
        i = int(np.searchsorted(cum, k, side="right"))
        before = int(cum[i - 1]) if i else 0
        return values[i][k - before]

    out = []
    for q in qs:
        v = np.float64(n - 1) * np.float64(q)
        k = int(np.floor(v))
        g = v - k
        a, b = stat(k), stat(min(k + 1, n - 1))
        out.append(b - (b - a) * (1 - g) if g >= 0.5 else a + (b - a) * g)
    return np.asarray(out), hist.counts.nbytes + stored * 4


def float_table() -> str:
    rng = np.random.default_rng(2)
    data = [rng.lognormal(0, 1.5, 10**6).astype(np.float32) for _ in range(10)]
    everything = np.sort(np.concatenate(data).astype(np.float64))
    qs = [0.01, 0.02, 0.5, 0.98, 0.99, 0.998]
    exact = np.quantile(everything, qs)

    def batches():
        yield from data

    def hist_one_pass():
        hist = None
        for b in batches():
            h = PixelHistogram.from_array(b.reshape(1, -1, 1, 1))
            hist = h if hist is None else hist + h
        return hist.quantile(qs)[:, 0], hist.counts.nbytes

    candidates = {
        "sk_pixels float histogram (one pass, mergeable)": hist_one_pass,
        "two-pass exact refinement (histogram, then the rank bins)": lambda: _two_pass(
            batches, qs
        ),
    }
    try:
        import datasketches

        def kll():
            sketches = []
            for b in batches():
                s = datasketches.kll_floats_sketch(200)
                s.update(b)
                sketches.append(s)
            total = sketches[0]
            for s in sketches[1:]:
                total.merge(s)
            return np.asarray(total.get_quantiles(qs)), len(total.serialize())

        candidates["DataSketches KLL, k=200 (one pass, merged per batch)"] = kll
    except ImportError:
        pass
    times = compare(candidates, repeats=3, warmup=1)
    rows = []
    n = everything.size
    for name, fn in candidates.items():
        values, size = fn()
        # Ranks (0-based) the result may hold: those of the equal values, or
        # the gap between two neighbours; the target is (n - 1) q, interpolated.
        lo = np.searchsorted(everything, values, side="left")
        hi = np.searchsorted(everything, values, side="right") - 1
        target = np.asarray(qs) * (n - 1)
        gap = np.maximum(
            np.floor(target) - np.maximum(hi, lo - 1), lo - np.ceil(target)
        )
        rank_err = np.maximum(0, gap).max() / n
        value_err = np.max(np.abs(values - exact) / np.abs(exact))
        rows.append(
            [name, f"{rank_err:.2e}", f"{value_err:.2e}", f"{size / 1024:.0f}",
             f"{times[name].median:.2f}"]
        )  # fmt: skip
    start = time.perf_counter()
    np.quantile(np.concatenate(data), qs)
    rows.append(
        ["`np.quantile` on the concatenated array (exact, 40 MB in memory)", "0", "0",
         f"{4 * n / 1024:.0f}", f"{time.perf_counter() - start:.2f}"]
    )  # fmt: skip
    note = (
        "10 batches of 10^6 lognormal float32; quantiles "
        f"{qs}; rank error = distance of the result's rank to (n-1)q, over n."
    )
    return note + "\n\n" + markdown_table(
        ["method", "worst rank error", "worst relative error", "state (KiB)",
         "time (s)"],
        rows,
    )  # fmt: skip


def folder_table(n_files: int) -> str:
    import tempfile

    from PIL import Image

    from sk_pixels.io import dataset_stats

    rng = np.random.default_rng(3)
    rows = []
    with tempfile.TemporaryDirectory() as root:
        folders = {"RGB JPEG (8-bit)": (Path(root) / "jpeg", "RGB"),
                   "gray PNG (16-bit)": (Path(root) / "png16", "I;16")}  # fmt: skip
        for path, _ in folders.values():
            path.mkdir()
        base = _base_images(rng, 4)[:, :256, :256]
        for k in range(n_files):
            frame = base[k % 4]
            Image.fromarray(frame).save(folders["gray PNG (16-bit)"][0] / f"{k}.png")
            rgb = np.repeat((frame >> 4).clip(0, 255).astype(np.uint8)[..., None], 3, 2)
            Image.fromarray(rgb).save(
                folders["RGB JPEG (8-bit)"][0] / f"{k}.jpg", quality=90
            )
        for name, (path, mode) in folders.items():
            times = compare(
                {
                    "stats": lambda: dataset_stats(path, mode=mode),
                    "hist": lambda: dataset_stats(path, mode=mode, histogram=True),
                },
                repeats=5,
                warmup=1,
            )
            a, b = times["stats"], times["hist"]
            rows.append(
                [name, f"{a.median * 1e3:.0f} ± {a.mad * 1e3:.0f}",
                 f"{b.median * 1e3:.0f} ± {b.mad * 1e3:.0f}",
                 f"{(b.median / a.median - 1) * 100:+.0f} %"]
            )  # fmt: skip
    note = f"{n_files} files of 256x256 pixels, n_jobs=1; median ± MAD of 5 rounds."
    return (
        note
        + "\n\n"
        + markdown_table(
            ["folder", "statistics (ms)", "statistics + histogram (ms)", "overhead"],
            rows,
        )
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--files", type=int, default=200)
    args = parser.parse_args(argv)
    report(
        "## bench_percentiles",
        "One thread; tracemalloc peaks measured apart from the timed runs.",
        "### Exact dataset percentiles, 16-bit\n\n" + dataset_table(args.images),
        "### Per-image percentile scaling\n\n" + per_image_table(),
        "### Folder histograms\n\n" + folder_table(args.files),
        "### Float percentiles: candidates\n\n" + float_table(),
    )


if __name__ == "__main__":
    main()
