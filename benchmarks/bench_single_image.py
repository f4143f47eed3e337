"""One image per call (a data-loader worker's view), and a real DataLoader loop.

Part 1, per call, one thread: ImageNet normalization of one uint8 image,
``(1, 224, 224, 3)`` and ``(1, 2, 2, 3)`` (where per-call overhead is all there
is), by sk_pixels (fast path, NumPy kernel, full validation path), a plain NumPy
implementation, the PyTorch ops of torchvision v2 ``ToDtype(scale=True)`` +
``Normalize`` (torchvision itself is not installed: its two steps are
``x.to(float32).div_(255)`` and ``sub_(mean).div_(std)``), albumentations'
``Normalize`` and albucore's ``normalize`` where installed, against the
allocating cast ``x.astype(np.float32)``.

Part 2: a ``torch.utils.data.DataLoader`` over in-memory uint8 images
(``num_workers=2``, batches of 32): the transform per item in ``__getitem__``
(sk_pixels vs the PyTorch ops), and normalization of the collated uint8 batch
(``to_torch()`` module vs the PyTorch ops); time per epoch.

Run: ``python benchmarks/bench_single_image.py`` (about a minute); prints
ready-to-paste Markdown tables.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _timing import Threads, compare, markdown_table, report

from sk_pixels import PixelStandardizer, _fastpath, _fused

MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])


def _full_path(fn):
    """``fn`` with transform's fast path off (the full validation every call)."""

    def run():
        saved = _fastpath.transform
        _fastpath.transform = lambda *args: None
        try:
            return fn()
        finally:
            _fastpath.transform = saved

    return run


def _numpy_kernel(fn):
    """``fn`` with the compiled kernel off (sk_pixels' NumPy steps)."""

    def run():
        saved = _fused._loaded
        _fused._loaded = False
        try:
            return fn()
        finally:
            _fused._loaded = saved

    return run


def per_call_candidates(img: np.ndarray) -> dict:
    """Candidates normalizing one HWC uint8 image ``img``."""
    batch = np.ascontiguousarray(img[None])
    scaler = PixelStandardizer(mean="imagenet", std="imagenet").fit(batch)
    mean32 = MEAN.astype(np.float32)
    std32 = STD.astype(np.float32)
    buf = np.empty(batch.shape, np.float32)
    rows = {
        "floor: img.astype(np.float32)": lambda: img.astype(np.float32),
        "sk_pixels transform(img[None])": lambda: scaler.transform(img[None]),
        "sk_pixels transform(img[None], out=buf)": lambda: scaler.transform(
            img[None], out=buf
        ),
        "sk_pixels, NumPy kernel (no numba)": _numpy_kernel(
            lambda: scaler.transform(img[None])
        ),
        "sk_pixels, full validation path": _full_path(
            lambda: scaler.transform(img[None])
        ),
        "plain NumPy (x / 255 - mean) / std, float32": lambda: (
            (img.astype(np.float32) / np.float32(255) - mean32) / std32
        ),
    }
    try:
        import torch

        tm = torch.tensor(MEAN, dtype=torch.float32).reshape(3, 1, 1)
        ts = torch.tensor(STD, dtype=torch.float32).reshape(3, 1, 1)

        def torch_ops():
            t = torch.from_numpy(img).permute(2, 0, 1).contiguous()  # v2.ToImage
            return t.to(torch.float32).div_(255.0).sub_(tm).div_(ts)

        rows["PyTorch ops = v2 ToDtype(scale=True) + Normalize"] = torch_ops
    except ImportError:
        print("note: torch missing, its row is skipped")
    try:
        import albumentations as A

        norm = A.Normalize(mean=tuple(MEAN), std=tuple(STD), max_pixel_value=255.0)
        rows["albumentations Normalize"] = lambda: norm(image=img)["image"]
    except ImportError:
        print("note: albumentations missing, its row is skipped")
    try:
        import albucore

        mean255 = (MEAN * 255).astype(np.float32)
        denominator = (1 / (STD * 255)).astype(np.float32)
        rows["albucore normalize"] = lambda: albucore.normalize(
            img, mean255, denominator
        )
    except ImportError:
        print("note: albucore missing, its row is skipped")
    return rows


def per_call_table(size: int, repeats: int, threads: Threads) -> str:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    rows = per_call_candidates(img)
    calls = 2000 if size <= 16 else 200  # calls per timed round

    def loop(fn):
        def run():
            for _ in range(calls):
                fn()

        return threads.wrap(run, 1)

    timings = compare({k: loop(f) for k, f in rows.items()}, repeats=repeats)
    floor = timings["floor: img.astype(np.float32)"].median
    anchor = timings.get("albumentations Normalize")
    table = []
    for name, t in timings.items():
        table.append(
            [
                name,
                f"{t.median / calls * 1e6:.1f} ± {t.mad / calls * 1e6:.1f}",
                f"{t.median / floor:.2f}x",
                "-" if anchor is None else f"{t.median / anchor.median:.2f}x",
            ]
        )
    header = ["candidate", "us per call (median ± MAD)", "vs cast", "vs albumentations"]
    return "\n".join(
        [
            f"### One uint8 image per call, {size}x{size}x3 -> float32 (ImageNet)",
            "",
            markdown_table(header, table),
        ]
    )


def dataloader_table(n_images: int, repeats: int) -> str:
    try:
        import torch
        from torch.utils.data import DataLoader, Dataset
    except ImportError:
        return "(DataLoader loop skipped: torch missing)"
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (n_images, 224, 224, 3), dtype=np.uint8)
    scaler = PixelStandardizer(mean="imagenet", std="imagenet").fit(images[:1])
    module = scaler.to_torch()
    tm = torch.tensor(MEAN, dtype=torch.float32).reshape(3, 1, 1)
    ts = torch.tensor(STD, dtype=torch.float32).reshape(3, 1, 1)

    class Images(Dataset):
        def __init__(self, per_item):
            self.per_item = per_item

        def __len__(self):
            return len(images)

        def __getitem__(self, i):
            return self.per_item(images[i])

    def sk_item(img):  # HWC float32, as the estimator's layout
        return torch.from_numpy(scaler.transform(img[None])[0])

    def torch_item(img):
        t = torch.from_numpy(img).permute(2, 0, 1).contiguous()
        return t.to(torch.float32).div_(255.0).sub_(tm).div_(ts)

    def raw_item(img):
        return torch.from_numpy(img)

    def torch_batch(b):  # collated NHWC uint8 -> NCHW float32
        t = b.permute(0, 3, 1, 2)
        return t.to(torch.float32).div_(255.0).sub_(tm).div_(ts)

    variants = {  # name: (per-item function, batch function, workers)
        "per item: sk_pixels transform": (sk_item, None, 2),
        "per item: PyTorch ops (v2 ToDtype + Normalize)": (torch_item, None, 2),
        "after collation: sk_pixels to_torch() module": (raw_item, module, 2),
        "after collation: PyTorch ops": (raw_item, torch_batch, 2),
        "after collation: sk_pixels transform(batch.numpy())": (
            raw_item,
            lambda b: scaler.transform(b.numpy()),
            2,
        ),
        # In the main process: the transforms' own cost, no items between processes.
        "num_workers=0, per item: sk_pixels transform": (sk_item, None, 0),
        "num_workers=0, per item: PyTorch ops": (torch_item, None, 0),
    }
    loaders = {
        name: (
            DataLoader(
                Images(item),
                batch_size=32,
                num_workers=workers,
                persistent_workers=workers > 0,
            ),
            batch_fn,
        )
        for name, (item, batch_fn, workers) in variants.items()
    }

    def epoch(loader, batch_fn):
        def run():
            for batch in loader:
                if batch_fn is not None:
                    batch_fn(batch)

        return run

    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # the main process, as each worker
    try:
        timings = compare(
            {k: epoch(*v) for k, v in loaders.items()}, repeats=repeats, warmup=1
        )
    finally:
        torch.set_num_threads(previous)
        del loaders
    table = [
        [
            name,
            f"{t.median * 1e3:.0f} ± {t.mad * 1e3:.0f}",
            f"{n_images / t.median:,.0f}",
        ]
        for name, t in timings.items()
    ]
    return "\n".join(
        [
            f"### DataLoader: {n_images} uint8 224x224x3 images per epoch, "
            "num_workers=2 unless a row says so, batch_size=32",
            "",
            markdown_table(
                ["variant", "ms per epoch (median ± MAD)", "images/s"], table
            ),
        ]
    )


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--no-dataloader", action="store_true")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    _fused.available()  # numba's import and compilation are reported elsewhere
    threads = Threads()
    tables = [per_call_table(size, args.repeats, threads) for size in (224, 2)]
    if not args.no_dataloader:
        tables.append(dataloader_table(args.images, max(3, args.repeats // 2)))
    return report(
        None,
        f"{args.repeats} interleaved rounds (each many calls); one thread; numba "
        f"kernel {'on' if _fused.available() else 'off (not installed)'}; "
        f"{time.perf_counter() - start:.0f} s.",
        *tables,
    )


if __name__ == "__main__":
    main()
