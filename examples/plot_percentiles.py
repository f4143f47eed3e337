"""
===========================================================
Percentile scaling of a 16-bit microscopy frame, hot pixels
===========================================================

A fluorescence-microscopy frame has a dim background, a few bright cells and
a handful of hot pixels stuck at 65,535. Min-max scaling lets the hot pixels
decide the range; percentile scaling (CSBDeep's ``normalize(x, 1, 99.8)``)
does not. This example writes such a frame as a 16-bit PNG, computes its exact
percentiles while the folder is read, fits a percentile normalizer from those
folder statistics, and draws the README's picture with ``sk-pixels plot``.

Run as a script with a path, it writes the picture there::

    python examples/plot_percentiles.py docs/images/percentiles.png
"""

# %%
# A synthetic frame
# -----------------
# Background around 200, twelve Gaussian cells up to ~3,000, shot noise, and
# 20 hot pixels at 65,535.
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from sk_pixels import PixelNormalizer
from sk_pixels.cli import main
from sk_pixels.io import dataset_stats

rng = np.random.default_rng(0)
size = 256
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
frame = np.clip(frame, 0, 65535).astype(np.uint16)

folder = Path(tempfile.mkdtemp())
Image.fromarray(frame).save(folder / "cells.png")

# %%
# Exact percentiles from the folder
# ---------------------------------
# ``dataset_stats(..., histogram=True)`` counts every 16-bit value per channel
# while it reads the files; the percentiles equal ``np.percentile`` on all the
# pixels, and a percentile normalizer is fitted without holding them.
stats, hist = dataset_stats(folder, mode="I;16", histogram=True)
print("p1, p50, p99.8:", hist.percentile([1, 50, 99.8]).ravel())
print("np.percentile: ", np.percentile(frame, [1, 50, 99.8]))
print("min, max:      ", stats.min, stats.max)
norm = PixelNormalizer(scope="dataset", quantile_range=(1, 99.8), clip=True)
norm.fit_stats(stats, histogram=hist)
minmax = PixelNormalizer(scope="dataset").fit_stats(stats)
cells = frame > 1000
for name, scaler in (("min-max", minmax), ("percentiles", norm)):
    scaled = scaler.transform(frame[None])[0]
    print(f"{name:>11}: median cell pixel -> {np.median(scaled[cells]):.3f}")

# %%
# The histograms, percentiles marked
# ----------------------------------
# ``sk-pixels plot`` fits the same normalizer and marks the exact percentiles
# (dashed) before and after scaling; ``--log`` shows the hot pixels, alone at
# 65,535, which percentile scaling sends far past 1 (``clip=True`` caps them).
output = sys.argv[1] if len(sys.argv) > 1 else str(folder / "percentiles.png")
argv = ["plot", str(folder / "cells.png"), "--mode", "I;16", "--no-progress"]
argv += ["--estimator", "normalizer", "--quantile-range", "1,99.8"]
argv += ["--percentiles", "1,50,99.8", "--log", "-o", output]
assert main(argv) == 0

fig, ax = plt.subplots(figsize=(9, 6.5))
ax.imshow(plt.imread(output))
ax.set_axis_off()
plt.show()
