"""
======================================================
Statistics of a folder of images, and their histograms
======================================================

Deep-learning datasets are folders of image files that do not fit in memory.
:func:`sk_pixels.io.dataset_stats` streams them, one image at a time, into an
exact :class:`~sk_pixels.PixelStats`; a scaler is then fitted from those
statistics alone. This example writes a small folder of images of mixed sizes
and formats, computes its statistics, and plots the per-channel histograms
before and after standardization.
"""

# %%
# A folder of images
# ------------------
# Random crops of scikit-learn's two sample photos, saved as JPEG and PNG, in
# two subfolders.
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image
from sklearn.datasets import load_sample_images

from sk_pixels import PixelStandardizer, PixelStats
from sk_pixels.io import dataset_stats, iter_images, list_images

rng = np.random.default_rng(0)
photos = load_sample_images().images
folder = Path(tempfile.mkdtemp()) / "photos"
for i in range(24):
    photo = photos[i % 2]
    h, w = rng.integers(64, 200, size=2)
    top = rng.integers(0, photo.shape[0] - h)
    left = rng.integers(0, photo.shape[1] - w)
    crop = photo[top : top + h, left : left + w]
    sub = folder / ("china" if i % 2 == 0 else "flower")
    sub.mkdir(parents=True, exist_ok=True)
    suffix = ".jpg" if i % 3 else ".png"
    Image.fromarray(crop).save(sub / f"crop_{i:02d}{suffix}")
print(len(list_images(folder)), "images in", folder.name)

# %%
# Exact statistics, streamed
# --------------------------
# The sums of 8-bit pixels are exact integers, so the statistics do not depend on
# the order of the files, on how they are split between workers (``n_jobs``), or
# on whether they are computed from the files or from the decoded arrays.
stats = dataset_stats(folder)
print(f"{stats.n_images} images, {stats.n_pixels:,} pixels per channel")
print("mean:", stats.mean.round(3))
print("std: ", stats.std.round(3))

in_memory = PixelStats()
for image in iter_images(folder):
    in_memory = in_memory + PixelStats.from_array(image[None])
same = bool(np.all(in_memory.std == stats.std))
print("same as the decoded arrays, to the bit:", same)

# %%
# A scaler from the statistics alone
# ----------------------------------
# ``fit_stats`` fits exactly as ``fit`` on all the pixels would, without loading
# them; ``to_torchvision`` gives the numbers for torchvision's ``Normalize``.
scaler = PixelStandardizer().fit_stats(stats)
for key, values in scaler.to_torchvision().items():
    print(key, [round(v, 4) for v in values])

# %%
# Histograms before and after
# ---------------------------
# Per-channel histograms of the whole folder, accumulated one image at a time:
# counts of each 8-bit value before, and of the standardized values after.
edges = np.linspace(-2.5, 2.5, 101)
before = np.zeros((3, 256), dtype=np.int64)
after = np.zeros((3, len(edges) - 1), dtype=np.int64)
for image in iter_images(folder):
    z = scaler.transform(image[None])[0]
    for c in range(3):
        before[c] += np.bincount(image[..., c].ravel(), minlength=256)
        after[c] += np.histogram(z[..., c], bins=edges)[0]

centers = (edges[:-1] + edges[1:]) / 2
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.2), layout="constrained")
for c, color in enumerate(("tab:red", "tab:green", "tab:blue")):
    label = "RGB"[c]
    ax0.plot(np.arange(256), before[c] / before[c].sum(), color=color, label=label)
    ax1.plot(centers, after[c] / after[c].sum(), color=color, label=label)
ax0.set(title="before: pixel values (0-255)", xlabel="value", ylabel="fraction")
ax1.set(title="after: standardized values", xlabel="value")
ax0.legend()
plt.show()
