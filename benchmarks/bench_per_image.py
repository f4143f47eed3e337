"""Per-image standardization (each image by its own mean and std), global, per channel.

``PixelStandardizer(scope="image")`` makes two blocked passes: exact integer
statistics of each image, then the affine map.  The anchors compute the same
thing their usual way.  A constant image is included: every candidate must give
finite output (sk_pixels maps a zero std to 1, as scikit-learn does).

Run: ``python benchmarks/bench_per_image.py`` (about a minute).
"""

from __future__ import annotations

import argparse

import numpy as np
from _timing import (
    Threads,
    compare,
    fmt_bytes,
    fmt_ms,
    markdown_table,
    peak_memory,
    report,
)

from sk_pixels import PixelStandardizer


def reference(X: np.ndarray, per_channel: bool) -> np.ndarray:
    axes = (1, 2) if per_channel else (1, 2, 3)
    x = X.astype(np.float64)
    mean = x.mean(axis=axes, keepdims=True)
    std = x.std(axis=axes, keepdims=True)
    return (x - mean) / np.where(std == 0, 1.0, std)


def numpy_best(X: np.ndarray, per_channel: bool) -> np.ndarray:
    """Best plain-NumPy effort: per image, exact float64 sums, float32 output."""
    out = np.empty(X.shape, dtype=np.float32)
    axes = (0, 1) if per_channel else None
    for img, y in zip(X, out, strict=True):
        np.copyto(y, img)
        mean = y.mean(axis=axes, dtype=np.float64)
        std = y.std(axis=axes, dtype=np.float64)
        std = np.where(std == 0, 1.0, std)
        y -= np.float32(mean) if not per_channel else mean.astype(np.float32)
        y *= (1 / std).astype(np.float32)
    return out


def tutorial_float64(X: np.ndarray, per_channel: bool) -> np.ndarray:
    axes = (1, 2) if per_channel else (1, 2, 3)
    x = X.astype(np.float64)
    mean = x.mean(axis=axes, keepdims=True)
    std = x.std(axis=axes, keepdims=True)
    return ((x - mean) / np.where(std == 0, 1.0, std)).astype(np.float32)


def candidates(X: np.ndarray, per_channel: bool, threads: Threads) -> dict:
    one, two = (lambda f: threads.wrap(f, 1)), (lambda f: threads.wrap(f, 2))
    prealloc = np.empty(X.shape, dtype=np.float32)
    scaler = PixelStandardizer(scope="image", per_channel=per_channel)
    rows = {
        "floor: np.copyto into preallocated float32": (
            one(lambda: np.copyto(prealloc, X)),
            "prealloc",
        ),
        "floor: np.empty + np.copyto": (
            one(lambda: np.copyto(np.empty(X.shape, np.float32), X)),
            "alloc",
        ),
        "sk_pixels scope='image'": (one(lambda: scaler.transform(X)), "alloc"),
        "sk_pixels scope='image', out=buf": (
            one(lambda: scaler.transform(X, out=prealloc)),
            "prealloc",
        ),
        "sk_pixels scope='image', 2 threads": (
            two(lambda: scaler.transform(X)),
            "alloc",
        ),
        "NumPy best effort (per image)": (
            one(lambda: numpy_best(X, per_channel)),
            "alloc",
        ),
        "tutorial NumPy float64 -> float32": (
            one(lambda: tutorial_float64(X, per_channel)),
            "alloc",
        ),
    }
    try:
        import torch

        t = torch.from_numpy(np.ascontiguousarray(np.moveaxis(X, -1, 1)))
        dims = (2, 3) if per_channel else (1, 2, 3)

        def torch_recipe():
            y = t.to(torch.float32).div_(255.0)
            mean = y.mean(dim=dims, keepdim=True)
            std = y.std(dim=dims, keepdim=True, correction=0)
            return y.sub_(mean).div_(torch.where(std == 0, 1.0, std))

        rows["PyTorch CPU float32 (NCHW)"] = (one(torch_recipe), "alloc")
    except ImportError:
        print("note: torch missing, its row is skipped")
    try:
        import albucore

        mode = "image_per_channel" if per_channel else "image"

        def albucore_per_image():
            return [albucore.normalize_per_image(img, mode) for img in X]

        rows[f"albucore normalize_per_image({mode!r})"] = (
            one(albucore_per_image),
            "alloc",
        )
    except ImportError:
        print("note: albucore (with OpenCV) missing, its row is skipped")
    return rows


def _as_nhwc(result, X):
    if isinstance(result, list):
        return np.stack(result).astype(np.float64)
    try:
        import torch

        if isinstance(result, torch.Tensor):
            return np.moveaxis(result.numpy(), 1, -1).astype(np.float64)
    except ImportError:
        pass
    return np.asarray(result, dtype=np.float64).reshape(X.shape)


def run(X: np.ndarray, per_channel: bool, repeats: int) -> str:
    threads = Threads()
    rows = candidates(X, per_channel, threads)
    timings = compare({k: f for k, (f, _) in rows.items()}, repeats=repeats)
    floors = {
        "prealloc": timings["floor: np.copyto into preallocated float32"].median,
        "alloc": timings["floor: np.empty + np.copyto"].median,
    }
    ref = reference(X, per_channel)
    table = []
    for name, (fn, _) in rows.items():
        t = timings[name]
        err, finite = "-", "-"
        with threads.limit(1):
            result = fn()
            if not name.startswith("floor"):
                values = _as_nhwc(result, X)
                finite = "yes" if np.isfinite(values).all() else "NO"
                # Candidates in 0-1 units (PyTorch, albucore) give the same z-scores.
                err = f"{float(np.max(np.abs(values - ref))):.1e}"
            del result
            peak = None if name.startswith("PyTorch") else peak_memory(fn)
        table.append(
            [
                name,
                fmt_ms(t),
                f"{X.nbytes / t.median / 1e6:,.0f}",
                f"{t.median / floors['prealloc']:.2f}x",
                f"{t.median / floors['alloc']:.2f}x",
                "-"
                if peak is None
                else f"{fmt_bytes(peak)} ({peak / (X.size * 4):.2f})",
                err,
                finite,
            ]
        )
    header = [
        "candidate",
        "ms (median ± MAD)",
        "input MB/s",
        "vs prealloc floor",
        "vs alloc floor",
        "peak extra memory (x output)",
        "max abs error",
        "finite",
    ]
    scope = "per channel" if per_channel else "global"
    return "\n".join(
        [
            f"### Per-image standardization, {scope}: uint8 {X.shape} -> float32",
            "",
            markdown_table(header, table),
        ]
    )


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (args.n, args.size, args.size, 3), dtype=np.uint8)
    X[0] = 117  # a constant image: its std is 0
    tables = [run(X, per_channel, args.repeats) for per_channel in (False, True)]
    return report(
        None,
        f"{args.repeats} interleaved rounds; one thread unless a row says so; "
        "PyTorch's memory is not visible to tracemalloc.",
        *tables,
    )


if __name__ == "__main__":
    main()
