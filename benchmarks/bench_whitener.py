"""Whitening: streaming covariance of 10,000 CIFAR-sized images; patch ZCA at 224x224.

1. ``PixelWhitener.partial_fit`` over 10,000 random uint8 images of 32x32x3
   (d = 3,072; batches of 1,000) against the obvious NumPy implementation
   (``np.cov`` of the flattened data held in memory) and Keras' in-memory
   formula (``ImageDataGenerator.fit`` with ``zca_whitening``: flatten, divide
   by 255, centre, ``x^T x / n``). Error: the largest deviation of each
   covariance (in [0, 1] units squared) from the exact one; peak extra memory
   by tracemalloc in a separate (first) run.
2. ``--decomposition`` adds the one-off decomposition of that 3,072 x 3,072
   covariance, ours (``numpy.linalg.eigh``) against Keras' (``numpy.linalg.svd``),
   one run each, and the whole-image transform of 1,000 of those images, ours
   (float32) against Keras' formula (float64 ``x_centred @ W``). The two
   decompositions take 1-2 minutes on 2 busy cores, so this is off by default.
3. Patch-mode ZCA (``patch_size=5``) of a batch of 8 uint8 images of 224x224x3:
   ours against the obvious NumPy im2col (pad, every 5x5x3 patch of the batch
   as a row in float64, one matrix product). Keras cannot whiten these images:
   its covariance would be 150,528 x 150,528 (169 GiB of float64).

Run: ``python benchmarks/bench_whitener.py`` (about two minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc

import numpy as np
from _timing import Threads, compare, fmt_bytes, fmt_ms, markdown_table, report
from numpy.lib.stride_tricks import sliding_window_view

from sk_pixels import PixelWhitener


def traced(fn):
    """``fn()`` and the peak bytes it allocated (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def ours_partial_fit(batches):
    whitener = PixelWhitener()
    for batch in batches:
        whitener.partial_fit(batch)
    return whitener


def numpy_cov(data):
    return np.cov(data.reshape(len(data), -1), rowvar=False, bias=True)


def keras_sigma(data):
    x = data.reshape(len(data), -1) / 255.0
    x -= x.mean(axis=0)
    return x.T @ x / x.shape[0]


def keras_zca_matrix(sigma, eps=1e-6):
    u, s, _ = np.linalg.svd(sigma)
    return (u * (1.0 / np.sqrt(s + eps))) @ u.T


def keras_transform(data, mean, matrix):
    x = data.reshape(len(data), -1) / 255.0 - mean
    return (x @ matrix).reshape(data.shape)


def im2col_patch_zca(batch, filters, mean, k):
    """Obvious NumPy: every reflect-padded patch of the batch as a float64 row."""
    r = k // 2
    x = batch / 255.0
    padded = np.pad(x, ((0, 0), (r, r), (r, r), (0, 0)), mode="reflect")
    windows = sliding_window_view(padded, (k, k), axis=(1, 2))  # n, H, W, C, k, k
    rows = windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, k * k * batch.shape[-1])
    flat = filters.reshape(filters.shape[0], -1)
    out = rows @ flat.T - flat @ mean
    return out.reshape(batch.shape)


def decomposition_sections(data, batches, one, threads, repeats, sigma_time):
    """The one-off decomposition, and the whole-image transform it enables."""
    whitener = ours_partial_fit(batches)
    with threads.limit(1):
        start = time.perf_counter()
        whitener.whitening_
        ours = time.perf_counter() - start
        start = time.perf_counter()
        keras_zca_matrix(keras_sigma(data))
        keras = time.perf_counter() - start - sigma_time
    sections = [
        markdown_table(
            ["decomposition of the 3,072 x 3,072 covariance (one run)", "s"],
            [
                ["sk_pixels (numpy.linalg.eigh)", f"{ours:.1f}"],
                ["Keras (numpy.linalg.svd)", f"{keras:.1f}"],
            ],
        )
    ]
    subset = data[:1000]
    w64 = whitener.whitening_
    reference = keras_transform(subset, whitener.mean_, w64)
    ours_out = whitener.transform(subset)
    timings = compare(
        {
            "sk_pixels transform (float32)": one(lambda: whitener.transform(subset)),
            "Keras formula (float64)": one(
                lambda: keras_transform(subset, whitener.mean_, w64)
            ),
        },
        repeats=max(repeats, 7),
        warmup=2,
    )
    keras_t = timings["Keras formula (float64)"].median
    return sections + [
        "#### Whole-image ZCA transform of 1,000 images 32x32x3",
        markdown_table(
            ["candidate", "ms (median ± MAD)", "vs Keras", "max abs error"],
            [
                [
                    name,
                    fmt_ms(t),
                    f"{t.median / keras_t:.2f}x",
                    f"{np.abs(ours_out - reference).max():.1e}"
                    if name.startswith("sk")
                    else "-",
                ]
                for name, t in timings.items()
            ],
        ),
    ]


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="32x32x3 images")
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--decomposition", action="store_true")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    # Correlated pixels (a shared brightness per image), like photos.
    data = (
        rng.integers(0, 156, (args.n, 1, 1, 1))
        + rng.integers(0, 100, (args.n, 32, 32, 3))
    ).astype(np.uint8)
    batches = [data[i : i + args.batch] for i in range(0, args.n, args.batch)]
    threads = Threads()
    one = lambda f: threads.wrap(f, 1)  # noqa: E731

    ours_name = "sk_pixels partial_fit (exact; batches of 1,000)"
    fns = {
        ours_name: lambda: ours_partial_fit(batches).cov_.covariance() / 255.0**2,
        "NumPy np.cov of the flattened data in memory": lambda: (
            numpy_cov(data) / 255.0**2
        ),
        "Keras formula: x / 255, centred, x^T x / n": lambda: keras_sigma(data),
    }
    # One traced run each (also the warm-up): result and peak extra memory.
    results, peaks = {}, {}
    for name, fn in fns.items():
        results[name], peaks[name] = traced(fn)
    errors = {
        name: np.abs(result - results[ours_name]).max()
        for name, result in results.items()
    }
    del results
    candidates = {name: one(fn) for name, fn in fns.items()}
    timings = compare(candidates, repeats=args.repeats, warmup=0)
    base = timings["NumPy np.cov of the flattened data in memory"].median
    mb = data.nbytes / 1e6
    fit_rows = [
        [
            name,
            f"{t.median:.2f} ± {t.mad:.2f}",
            f"{mb / t.median:,.0f}",
            f"{t.median / base:.2f}x",
            fmt_bytes(peaks[name]),
            f"{errors[name]:.1e}",
        ]
        for name, t in timings.items()
    ]
    sections = [
        f"#### Covariance of {args.n:,} uint8 images 32x32x3 (d = 3,072; {mb:.0f} MB)",
        markdown_table(
            [
                "candidate",
                "s (median ± MAD)",
                "MB/s",
                "vs np.cov",
                "peak extra memory",
                "max abs error",
            ],
            fit_rows,
        ),
    ]

    if args.decomposition:
        sections += decomposition_sections(
            data,
            batches,
            one,
            threads,
            args.repeats,
            timings["Keras formula: x / 255, centred, x^T x / n"].median,
        )

    k = 5
    patch = PixelWhitener(patch_size=k).fit(data[:2000])
    big = rng.integers(0, 256, (8, 224, 224, 3), dtype=np.uint8)
    reference = im2col_patch_zca(big, patch.filters_, patch.mean_, k)
    errors = {
        "sk_pixels transform, patch_size=5 (float32)": patch.transform(big),
        "sk_pixels transform, patch_size=5, dtype=float64": patch.set_params(
            dtype="float64"
        ).transform(big),
    }
    patch.set_params(dtype=None)
    patch64 = PixelWhitener(patch_size=k, dtype="float64").fit(data[:2000])
    timings = compare(
        {
            "sk_pixels transform, patch_size=5 (float32)": one(
                lambda: patch.transform(big)
            ),
            "sk_pixels transform, patch_size=5, dtype=float64": one(
                lambda: patch64.transform(big)
            ),
            "NumPy im2col + one matrix product (float64)": one(
                lambda: im2col_patch_zca(big, patch.filters_, patch.mean_, k)
            ),
        },
        repeats=max(args.repeats, 7),
        warmup=2,
    )
    im2col_t = timings["NumPy im2col + one matrix product (float64)"].median
    sections += [
        "#### Patch ZCA (5x5x3 filters) of 8 uint8 images 224x224x3",
        markdown_table(
            [
                "candidate",
                "ms (median ± MAD)",
                "images/s",
                "vs im2col",
                "max abs error",
            ],
            [
                [
                    name,
                    fmt_ms(t),
                    f"{8 / t.median:,.0f}",
                    f"{t.median / im2col_t:.2f}x",
                    f"{np.abs(errors[name] - reference).max():.1e}"
                    if name in errors
                    else "-",
                ]
                for name, t in timings.items()
            ],
        )
        + "\n| Keras ZCA of 224x224x3 | impossible: a 150,528 x 150,528 "
        "covariance (169 GiB of float64) | | | |",
    ]
    return report(
        None,
        f"{args.repeats} interleaved rounds for the covariance, 7 for the "
        "transforms; one thread unless a row says so.",
        *sections,
    )


if __name__ == "__main__":
    main()
