"""
======================================
The classic pixel-scaling walk-through
======================================

Normalize, center and standardize one photo, globally and per channel, the way
the deep-learning tutorials describe it, and see what each step does to the
distribution of pixel values. The photo is scikit-learn's bundled picture of a
Chinese temple (``china.jpg``, 427 x 640 pixels, RGB, ``uint8``).
"""

# %%
# The image
# ---------
# sk_pixels estimators take a batch of images: the first axis holds the images,
# here one, channels last ``(n, H, W, C)``.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_sample_images

from sk_pixels import PixelCenterer, PixelNormalizer, PixelStandardizer

X = load_sample_images().images[0][None]
print(X.shape, X.dtype, X.min(), X.max())

# %%
# Normalize to [0, 1]
# -------------------
# :class:`~sk_pixels.PixelNormalizer` divides by the domain maximum, 255 for
# ``uint8``. It learns nothing and returns float32.
Xn = PixelNormalizer().fit_transform(X)
print(Xn.dtype, float(Xn.min()), float(Xn.max()))

# %%
# Center, globally and per channel
# --------------------------------
# The mean is learned by ``fit`` in input pixel units (0-255 here).
print("global mean:", PixelCenterer(per_channel=False).fit(X).mean_.round(3))
centerer = PixelCenterer().fit(X)
print("per-channel means:", centerer.mean_.round(3))
Xc = centerer.transform(X)
print("means after:", Xc.mean(axis=(0, 1, 2), dtype=np.float64).round(4))

# %%
# Standardize: global, per channel, and "positive"
# ------------------------------------------------
# Positive standardization clips the standardized values to [-1, 1] and maps
# that interval onto [0, 1].
glob = PixelStandardizer(per_channel=False).fit(X)
print(f"global: mean {float(glob.mean_):.3f}, std {float(glob.std_):.3f}")
per_channel = PixelStandardizer().fit(X)
print("per-channel stds:", per_channel.std_.round(3))
Z = per_channel.transform(X)
positive = PixelStandardizer(per_channel=False, clip=1.0, rescale=True)
P = positive.fit_transform(X)
print(f"positive: min {P.min():.1f}, max {P.max():.1f}, mean {P.mean():.3f}")

# %%
# What each step does to the pixel values
# ---------------------------------------
# Histograms of the red, green and blue values before and after each scaling.
# Centering and standardizing shift and stretch the distributions; clipping piles
# the tails up at 0 and 1. (The sky saturates the blue channel at 255: the tall
# bars are cut at the top of each panel.)
steps = {
    "pixels (0-255)": X,
    "centered per channel": Xc,
    "standardized per channel": Z,
    "positive standardization": P,
}
fig, axes = plt.subplots(2, 2, figsize=(9, 5.5), layout="constrained")
for ax, (title, values) in zip(axes.ravel(), steps.items()):
    tallest = 0.0
    for channel, color in enumerate(("tab:red", "tab:green", "tab:blue")):
        density, edges = np.histogram(values[..., channel], bins=64, density=True)
        ax.stairs(density, edges, color=color, label="RGB"[channel])
        tallest = max(tallest, np.percentile(density, 95))
    ax.set_ylim(0, 1.5 * tallest)
    ax.set_title(title)
    ax.set_yticks([])
axes[0, 0].legend()
plt.show()

# %%
# The photo after each scaling
# ----------------------------
# To display a scaled image, map it back to [0, 1]; ``inverse_transform`` returns
# the original pixels (up to float32 rounding, when nothing was clipped).
fig, axes = plt.subplots(1, 3, figsize=(12, 3), layout="constrained")
axes[0].imshow(X[0])
axes[0].set_title("original")
axes[1].imshow(P[0, ..., 0], cmap="gray")
axes[1].set_title("positive standardization, red channel")
back = per_channel.inverse_transform(Z)
axes[2].imshow(np.clip(back[0] / 255, 0, 1))
axes[2].set_title(f"inverse_transform (max error {np.abs(back - X).max():.1e})")
for ax in axes:
    ax.set_axis_off()
plt.show()

# %%
# Presets carry their units
# -------------------------
# Published statistics (ImageNet here) are converted to the input's units, so the
# same estimator gives the same numbers on ``uint8`` and on float [0, 1] input.
imagenet = PixelStandardizer(mean="imagenet", std="imagenet")
a = imagenet.fit_transform(X)
b = imagenet.fit_transform(X / np.float32(255))
print("largest difference:", float(np.abs(a - b).max()))
print("torchvision Normalize:", imagenet.to_torchvision())
