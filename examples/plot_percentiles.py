"""The README picture: exact percentiles marked on a 16-bit image's histograms.

A synthetic fluorescence-microscopy frame (dim background, a few bright
cells, a handful of saturated hot pixels) is written as a 16-bit PNG, then
``sk-pixels plot`` fits a percentile normalizer on it and marks the 1st, 50th
and 99.8th percentiles. Run from the repository root::

    python examples/plot_percentiles.py  # writes docs/images/percentiles.png
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from sk_pixels.cli import main


def microscopy_frame(seed: int = 0, size: int = 256) -> np.ndarray:
    """A ``(size, size)`` uint16 frame: background ~200, cells up to ~3,000,
    and 20 hot pixels at 65,535 (a sensor's stuck pixels)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size]
    frame = rng.normal(200, 20, (size, size))
    for cy, cx, r, peak in zip(
        rng.uniform(20, size - 20, 12),
        rng.uniform(20, size - 20, 12),
        rng.uniform(6, 14, 12),
        rng.uniform(1500, 3000, 12),
    ):
        frame += peak * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * r**2))
    frame += rng.poisson(frame / 4) - frame / 4  # shot noise
    hot = rng.integers(0, size, (20, 2))
    frame[hot[:, 0], hot[:, 1]] = 65535
    return np.clip(frame, 0, 65535).astype(np.uint16)


def main_(output: str = "docs/images/percentiles.png") -> int:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cells.png"
        Image.fromarray(microscopy_frame()).save(path)
        return main(
            [
                "plot",
                str(path),
                "--mode",
                "I;16",
                "--estimator",
                "normalizer",
                "--quantile-range",
                "1,99.8",
                "--percentiles",
                "1,50,99.8",
                "--log",
                "-o",
                output,
                "--no-progress",
            ]
        )


if __name__ == "__main__":
    sys.exit(main_(*sys.argv[1:]))
