"""Streaming exact statistics over a dataset larger than one batch, vs a one-pass read.

2,000 RGB images 224x224 (301 MB of uint8) arrive in batches of 250; each
candidate accumulates the per-channel mean and std over all of them.  The floor
is one pass that reads every byte (``np.bitwise_or.reduce`` over a ``uint64``
view of each batch).  The slowest anchors run on the first 500 images and their
time is scaled to the 2,000 (marked "x4"); the ratio is always to the full
read.  A second table shows that ``fit``'s peak extra memory does not grow
with the batch size.

Run: ``python benchmarks/bench_partial_fit.py`` (about two minutes).
"""

from __future__ import annotations

import argparse

import numpy as np
from _timing import (
    Threads,
    compare,
    fmt_bytes,
    markdown_table,
    peak_memory,
    report,
)

from sk_pixels import PixelStandardizer


def exact_reference(batches):
    total = np.zeros(3, dtype=object)
    squares = np.zeros(3, dtype=object)
    count = 0
    for b in batches:
        x = b.reshape(-1, 3).astype(np.int64)
        total += np.array([int(v) for v in x.sum(axis=0)], dtype=object)
        squares += np.array([int(v) for v in (x * x).sum(axis=0)], dtype=object)
        count += len(x)
    mean = np.array([t / count for t in total])
    var = np.array(
        [(count * q - t * t) / (count * count) for t, q in zip(total, squares)]
    )
    return mean, np.sqrt(var)


def one_pass_read(batches):
    for b in batches:
        np.bitwise_or.reduce(b.reshape(-1).view(np.uint64))


def sk_pixels_fit(batches):
    est = PixelStandardizer()
    for b in batches:
        est.partial_fit(b)
    return est.mean_, est.std_


def sklearn_partial_fit(batches):
    from sklearn.preprocessing import StandardScaler

    est = StandardScaler()
    for b in batches:
        est.partial_fit(b.reshape(-1, 3))
    return est.mean_, est.scale_


def numpy_float64(batches):
    total, squares, count = np.zeros(3), np.zeros(3), 0
    for b in batches:
        x = b.reshape(-1, 3).astype(np.float64)
        total += x.sum(axis=0)
        squares += (x * x).sum(axis=0)
        count += len(x)
    mean = total / count
    return mean, np.sqrt(squares / count - mean**2)


def numpy_histograms(batches):
    hist = np.zeros((3, 256), dtype=np.int64)
    for b in batches:
        flat = b.reshape(-1, 3)
        for c in range(3):
            hist[c] += np.bincount(flat[:, c], minlength=256)
    values = np.arange(256)
    count = hist.sum(axis=1)
    mean = hist @ values / count
    return mean, np.sqrt(hist @ values**2 / count - mean**2)


def torch_float64(batches):
    import torch

    total = torch.zeros(3, dtype=torch.float64)
    squares = torch.zeros(3, dtype=torch.float64)
    count = 0
    for b in batches:
        x = torch.from_numpy(b).reshape(-1, 3).to(torch.float64)
        total += x.sum(dim=0)
        squares += (x * x).sum(dim=0)
        count += x.shape[0]
    mean = total / count
    return mean.numpy(), (squares / count - mean**2).sqrt().numpy()


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="images in the dataset")
    parser.add_argument("--batch", type=int, default=250)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--slow-subset", type=int, default=500)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, (args.n, args.size, args.size, 3), dtype=np.uint8)
    batches = [data[i : i + args.batch] for i in range(0, args.n, args.batch)]
    subset = [b for b in batches if b.base is data][
        : max(1, args.slow_subset // args.batch)
    ]
    scale = args.n / sum(len(b) for b in subset)
    threads = Threads()
    one = lambda f: threads.wrap(f, 1)  # noqa: E731

    rows = {
        "floor: one-pass read (bitwise_or.reduce, uint64 view)": (
            one(lambda: one_pass_read(batches)),
            1.0,
        ),
        "sk_pixels PixelStandardizer.partial_fit (exact)": (
            one(lambda: sk_pixels_fit(batches)),
            1.0,
        ),
        "sk_pixels PixelStandardizer.partial_fit (exact), 2 threads": (
            threads.wrap(lambda: sk_pixels_fit(batches), 2),
            1.0,
        ),
        "NumPy integer histograms (np.bincount per channel, exact)": (
            one(lambda: numpy_histograms(batches)),
            1.0,
        ),
        f"NumPy float64 sums (x{scale:g})": (one(lambda: numpy_float64(subset)), scale),
        f"scikit-learn StandardScaler.partial_fit (x{scale:g})": (
            one(lambda: sklearn_partial_fit(subset)),
            scale,
        ),
    }
    try:
        import torch  # noqa: F401

        rows[f"PyTorch float64 loop (x{scale:g})"] = (
            one(lambda: torch_float64(subset)),
            scale,
        )
    except ImportError:
        print("note: torch missing, its row is skipped")

    timings = compare(
        {k: f for k, (f, _) in rows.items()}, repeats=args.repeats, warmup=1
    )
    floor = timings["floor: one-pass read (bitwise_or.reduce, uint64 view)"].median
    mean_ref, std_ref = exact_reference(batches)
    sub_mean, sub_std = exact_reference(subset)
    table = []
    for name, (fn, factor) in rows.items():
        t = timings[name]
        err = "-"
        with threads.limit(1):
            result = fn()
            if result is not None:
                ref = (mean_ref, std_ref) if factor == 1.0 else (sub_mean, sub_std)
                err = max(
                    float(np.max(np.abs(np.asarray(r, dtype=np.float64) - e)))
                    for r, e in zip(result, ref)
                )
                err = f"{err:.1e}"
            peak = None if name.startswith("PyTorch") else peak_memory(fn)
        median = t.median * factor
        table.append(
            [
                name,
                f"{median * 1e3:,.1f} ± {t.mad * factor * 1e3:,.1f}",
                f"{data.nbytes / median / 1e6:,.0f}",
                f"{median / floor:,.1f}x",
                fmt_bytes(peak),
                err,
            ]
        )
    header = [
        "candidate",
        "ms for the dataset (median ± MAD)",
        "MB/s",
        "vs one-pass read",
        "peak extra memory",
        "max abs error of mean/std",
    ]

    # fit's peak extra memory against the batch size.
    memory = []
    for n_images in (16, 64, 256, 1024):
        X = data[:n_images]
        peak = peak_memory(lambda X=X: PixelStandardizer().fit(X))
        memory.append([n_images, f"{X.nbytes / 2**20:.1f} MiB", fmt_bytes(peak)])

    return report(
        f"### Streaming exact statistics: {args.n} images {data.shape[1:]} uint8 "
        f"({data.nbytes / 1e6:.0f} MB) in batches of {args.batch}",
        f"{args.repeats} interleaved rounds, one thread unless a row says so; "
        f"rows marked x{scale:g} "
        f"ran on {args.slow_subset} images and are scaled to {args.n}.",
        markdown_table(header, table),
        "#### Peak extra memory of `PixelStandardizer().fit(X)` by batch size\n\n"
        + markdown_table(["images", "batch size", "peak extra memory"], memory),
    )


if __name__ == "__main__":
    main()
