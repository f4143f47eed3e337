"""
=====================================
ZCA whitening of photographs, patches
=====================================

Neighbouring pixels of a photograph are strongly correlated: a pixel is a good
guess of the next one. ZCA whitening removes those linear correlations and keeps
what is left, edges and texture, while the output still looks like the image
(Coates and Ng whiten small patches before learning features from them).

Whole-image whitening of a 224x224 photograph needs a covariance of
``(224 * 224 * 3)^2`` entries (about 844 GiB). :class:`~sk_pixels.PixelWhitener`
with ``patch_size=k`` learns the covariance of every ``k x k x 3`` patch instead,
streamed with ``partial_fit``, and whitens an image of any size by a
convolution with the ZCA filter of the patch centre.
"""

# %%
# Training patches: random crops of the two sample photos
# -------------------------------------------------------
import sys

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_sample_images

from sk_pixels import PixelWhitener

rng = np.random.default_rng(0)
photos = load_sample_images().images  # (427, 640, 3) uint8, twice


def crops(n, size):
    """``n`` random ``size x size`` crops, alternating between the photos."""
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        photo = photos[i % 2]
        top = rng.integers(0, photo.shape[0] - size)
        left = rng.integers(0, photo.shape[1] - size)
        out[i] = photo[top : top + size, left : left + size]
    return out


whitener = PixelWhitener(patch_size=7, epsilon=1e-3)
for _ in range(4):  # streamed: four batches of 100 crops of 32x32
    whitener.partial_fit(crops(100, 32))
print(whitener.summary())

# %%
# The filters
# -----------
# One 7x7x3 filter per output channel: a strong positive centre in its own
# channel, a negative surround that subtracts what the neighbours predict.
print("centre weights of the red filter:", whitener.filters_[0, 3, 3].round(1))

# %%
# Before and after
# ----------------
# Larger crops than the training ones (any size works in patch mode): the
# temple's roof and trees, the flower's petals and centre. The whitened images
# are shown with each image's values mapped from +-3 std to the display range.
corners = [(0, 0, 60), (0, 230, 330), (1, 110, 190), (1, 200, 330)]
shown = np.stack([photos[k][y : y + 128, x : x + 128] for k, y, x in corners])
white = whitener.transform(shown)


def display(y):
    return np.clip(0.5 + y / (6 * y.std()), 0, 1)


fig, axes = plt.subplots(2, 4, figsize=(10, 5.4), layout="constrained")
for j in range(4):
    axes[0, j].imshow(shown[j])
    axes[1, j].imshow(display(white[j]))
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
axes[0, 0].set_ylabel("photo crops (uint8)", fontsize=12)
axes[1, 0].set_ylabel("ZCA-whitened, 7x7 patches", fontsize=12)
fig.suptitle(
    "PixelWhitener(patch_size=7): correlations between neighbouring pixels removed",
    fontsize=12,
)
if len(sys.argv) > 1:  # python examples/plot_whitening.py docs/_static/whitening.png
    fig.savefig(sys.argv[1], dpi=80)
plt.show()
