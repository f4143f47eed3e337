"""Dataset-statistics transform: uint8 images -> float32 standardized, vs the floors.

The grid (``--shape``, ``--layout``) defaults to the case of issue 4: a batch of
256 RGB images 224x224 (38.5 MB of uint8), channels-last, standardized with the
ImageNet mean and std.  Every candidate produces the same numbers; the table
gives the median time (± MAD), input MB/s, the ratio to both floors, the peak
extra memory and the largest error vs a float64 reference.

Floors: ``np.copyto(out, X)`` into a preallocated float32 array (the bare cast,
"prealloc floor") and ``np.empty`` + ``np.copyto`` ("alloc floor").  Large fresh
allocations are expensive on VMs (the pages are zeroed on first touch), so a
transform that returns a new array is compared with the alloc floor, one that
writes into a caller's buffer (``out=``) with the prealloc floor.

Run: ``python benchmarks/bench_transform.py`` (about a minute).
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

MEAN = np.array([0.485, 0.456, 0.406]) * 255
STD = np.array([0.229, 0.224, 0.225]) * 255


def numpy_best(X: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Best plain-NumPy effort: cast, then scale and shift in cache-sized blocks."""
    if out is None:
        out = np.empty(X.shape, dtype=np.float32)
    row = X.shape[-2] * X.shape[-1]
    scale = np.tile((1 / STD).astype(np.float32), X.shape[-2])
    offset = np.tile((-MEAN / STD).astype(np.float32), X.shape[-2])
    xs, ys = X.reshape(-1, row), out.reshape(-1, row)
    step = max(1, 2**17 // row)
    for start in range(0, len(xs), step):
        y = ys[start : start + step]
        np.copyto(y, xs[start : start + step])
        y *= scale
        y += offset
    return out


def tutorial_float64(X: np.ndarray) -> np.ndarray:
    """The recipe of the tutorials: float64 arithmetic, then float32."""
    return ((X.astype(np.float64) - MEAN) / STD).astype(np.float32)


def tutorial_float64_kept(X: np.ndarray) -> np.ndarray:
    return (X / 255.0 - MEAN / 255) / (STD / 255)


def candidates(X: np.ndarray, threads: Threads) -> dict:
    """name -> (function, compare with "alloc" or "prealloc" floor)."""
    prealloc = np.empty(X.shape, dtype=np.float32)
    scaler = PixelStandardizer(mean="imagenet", std="imagenet").fit(X[:1])
    one, two = (lambda f: threads.wrap(f, 1)), (lambda f: threads.wrap(f, 2))
    rows = {
        "floor: np.copyto into preallocated float32": (
            one(lambda: np.copyto(prealloc, X)),
            "prealloc",
        ),
        "floor: np.empty + np.copyto": (
            one(lambda: np.copyto(np.empty(X.shape, np.float32), X)),
            "alloc",
        ),
        "sk_pixels transform(X)": (one(lambda: scaler.transform(X)), "alloc"),
        "sk_pixels transform(X, out=buf)": (
            one(lambda: scaler.transform(X, out=prealloc)),
            "prealloc",
        ),
        "sk_pixels transform(X), 2 threads": (
            two(lambda: scaler.transform(X)),
            "alloc",
        ),
        "sk_pixels transform(X, out=buf), 2 threads": (
            two(lambda: scaler.transform(X, out=prealloc)),
            "prealloc",
        ),
        "NumPy best effort (blocked, tiled constants)": (
            one(lambda: numpy_best(X)),
            "alloc",
        ),
        "NumPy best effort, into buf": (
            one(lambda: numpy_best(X, prealloc)),
            "prealloc",
        ),
        "tutorial NumPy float64 -> float32": (
            one(lambda: tutorial_float64(X)),
            "alloc",
        ),
        "tutorial NumPy float64 (kept float64)": (
            one(lambda: tutorial_float64_kept(X)),
            "alloc",
        ),
    }
    try:
        from sklearn.preprocessing import StandardScaler

        sk = StandardScaler().fit(np.zeros((2, 3)))
        sk.mean_, sk.scale_, sk.var_ = MEAN.copy(), STD.copy(), STD**2
        rows["scikit-learn StandardScaler on X.reshape(-1, 3) (float64)"] = (
            one(lambda: sk.transform(X.reshape(-1, 3)).reshape(X.shape)),
            "alloc",
        )
    except ImportError:
        print("note: scikit-learn missing, its row is skipped")
    try:
        import torch

        t = torch.from_numpy(np.ascontiguousarray(np.moveaxis(X, -1, 1)))
        mean_t = torch.tensor(MEAN / 255, dtype=torch.float32).view(3, 1, 1)
        std_t = torch.tensor(STD / 255, dtype=torch.float32).view(3, 1, 1)

        def torch_recipe():
            # torchvision.transforms.v2: ToDtype(torch.float32, scale=True),
            # then Normalize(mean, std), emulated with the same tensor ops.
            y = t.to(torch.float32).div_(255.0)
            return y.sub_(mean_t).div_(std_t)

        rows["PyTorch CPU ToDtype(scale=True) + Normalize (NCHW)"] = (
            one(torch_recipe),
            "alloc",
        )
    except ImportError:
        print("note: torch missing, its row is skipped")
    try:
        import albucore

        mean255, denominator = MEAN.astype(np.float32), (1 / STD).astype(np.float32)

        def albucore_per_image():
            return [albucore.normalize(img, mean255, denominator) for img in X]

        rows["albucore normalize, per image (uint8 LUT)"] = (
            one(albucore_per_image),
            "alloc",
        )
    except ImportError:
        print("note: albucore (with OpenCV) missing, its row is skipped")
    return rows


def _as_nhwc(result, X):
    if isinstance(result, list):
        return np.stack(result)
    try:
        import torch

        if isinstance(result, torch.Tensor):
            return np.moveaxis(result.numpy(), 1, -1)
    except ImportError:
        pass
    return np.asarray(result).reshape(X.shape)


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256, help="images per batch")
    parser.add_argument("--size", type=int, default=224, help="image height = width")
    parser.add_argument("--repeats", type=int, default=11)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (args.n, args.size, args.size, 3), dtype=np.uint8)
    reference = (X - MEAN) / STD
    threads = Threads()
    rows = candidates(X, threads)
    timings = compare({k: f for k, (f, _) in rows.items()}, repeats=args.repeats)
    floors = {
        "prealloc": timings["floor: np.copyto into preallocated float32"].median,
        "alloc": timings["floor: np.empty + np.copyto"].median,
    }
    out_bytes = X.size * 4
    table = []
    for name, (fn, floor) in rows.items():
        t = timings[name]
        with threads.limit(1):
            result = fn()
            err = float("nan")
            if not name.startswith("floor"):
                err = float(np.max(np.abs(_as_nhwc(result, X) - reference)))
            del result
            is_torch = name.startswith("PyTorch")
            peak = None if is_torch else peak_memory(fn)
        table.append(
            [
                name,
                fmt_ms(t),
                f"{X.nbytes / t.median / 1e6:,.0f}",
                f"{t.median / floors['prealloc']:.2f}x",
                f"{t.median / floors['alloc']:.2f}x",
                "-" if peak is None else f"{fmt_bytes(peak)} ({peak / out_bytes:.2f})",
                "-" if np.isnan(err) else f"{err:.1e}",
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
    ]
    return report(
        f"### Transform: uint8 {X.shape} -> float32, ImageNet mean/std",
        f"{args.repeats} interleaved rounds; one thread unless a row says so; "
        "PyTorch's memory is not visible to tracemalloc.",
        markdown_table(header, table),
    )


if __name__ == "__main__":
    main()
