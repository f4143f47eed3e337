"""The one map every transform of this library applies: ``clip(x * scale + offset)``."""

from __future__ import annotations

import numpy as np


class Affine:
    """Per-channel (or per-image and channel) affine map, optionally clipped.

    Parameters
    ----------
    scale, offset : array-like of shape (), (n_channels,) or (n_images, n_channels)
        Coefficients of ``y = x * scale + offset``, float64, in input pixel
        units (``x``) to output units (``y``).
    clip : (lo, hi) or None, default=None
        Bounds applied after the map (in output units).
    """

    def __init__(self, scale, offset, clip: tuple[float, float] | None = None):
        self.scale = np.asarray(scale, dtype=np.float64)
        self.offset = np.asarray(offset, dtype=np.float64)
        self.clip = clip

    def for_view(
        self, n_channels: int, per_image: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scale and offset shaped ``(C,)``, or ``(n, 1, 1, C)`` per image."""
        scale, offset = np.broadcast_arrays(self.scale, self.offset)
        if per_image:
            shape = (scale.shape[0], n_channels)
            return tuple(
                np.broadcast_to(a, shape).reshape(shape[0], 1, 1, n_channels)
                for a in (scale, offset)
            )
        return tuple(
            np.broadcast_to(a.reshape(-1), (n_channels,)) for a in (scale, offset)
        )

    def inverse(self) -> Affine:
        """The map ``x = (y - offset) / scale`` (clipping is not undone)."""
        return Affine(1.0 / self.scale, -self.offset / self.scale)
