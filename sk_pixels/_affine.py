"""The one map every transform of this library applies: ``clip((x - c) * s + o)``."""

from __future__ import annotations

import numpy as np


class Affine:
    """Per-channel (or per-image and channel) affine map, optionally clipped.

    The map is ``y = x * scale + offset``. It also has a *centred* form,
    ``y = (x - center) * scale + base`` with ``offset = base - center * scale``,
    which is how the kernels evaluate it: ``x - center`` is exact where the two
    are close, so the result is accurate relative to itself, not to ``|offset|``
    (``(x - mean) / std`` of a nearly constant image, a constant image mapping
    to exactly 0). :meth:`centered` builds a map from that form; a map built
    from ``(scale, offset)`` has ``center = 0`` and ``base = offset``.

    Parameters
    ----------
    scale, offset : array-like of shape (), (n_channels,) or (n_images, n_channels)
        Coefficients of ``y = x * scale + offset``, float64, in input pixel
        units (``x``) to output units (``y``).
    clip : (lo, hi) or None, default=None
        Bounds applied after the map (in output units).

    Examples
    --------
    >>> m = Affine.centered(scale=0.5, center=249.0)
    >>> float(m.offset), float(m.center), float(m.base)
    (-124.5, 249.0, 0.0)
    >>> float(m.inverse().scale), float(m.inverse().offset)
    (2.0, 249.0)
    """

    def __init__(self, scale, offset, clip: tuple[float, float] | None = None):
        self.scale = np.asarray(scale, dtype=np.float64)
        self.offset = np.asarray(offset, dtype=np.float64)
        self.clip = clip
        self.center = np.zeros((), dtype=np.float64)
        self.base = self.offset

    @classmethod
    def centered(
        cls, scale, center, base=0.0, clip: tuple[float, float] | None = None
    ) -> Affine:
        """The map ``y = (x - center) * scale + base`` (then clipped).

        ``center`` is in input units (a mean, a minimum), ``base`` in output
        units (0, ``feature_range[0]``, 0.5): an input equal to ``center`` maps
        to exactly ``base``.
        """
        scale = np.asarray(scale, dtype=np.float64)
        center = np.asarray(center, dtype=np.float64)
        base = np.asarray(base, dtype=np.float64)
        affine = cls(scale, base - center * scale, clip)
        affine.center, affine.base = center, base
        return affine

    def centered_for_view(
        self, n_channels: int, per_image: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scale, center and base shaped ``(C,)``, or ``(n, 1, 1, C)`` per image."""
        return _shape_for_view(
            (self.scale, self.center, self.base), n_channels, per_image
        )

    def inverse(self) -> Affine:
        """The map ``x = (y - base) / scale + center`` (clipping is not undone).

        Evaluated as ``y / scale + (center - base / scale)``: its inputs are
        output values (z-scores, [0, 1]), so the natural centre is 0, and its
        offset is the input value that maps to 0 (the mean, the mid-range).
        """
        inverse = 1.0 / self.scale
        return Affine(inverse, self.center - self.base * inverse)


def _shape_for_view(arrays, n_channels: int, per_image: bool) -> tuple:
    """Broadcast coefficient arrays to ``(C,)`` or ``(n, 1, 1, C)``."""
    arrays = np.broadcast_arrays(*arrays)
    if per_image:
        shape = (arrays[0].shape[0], n_channels)
        return tuple(
            np.broadcast_to(a, shape).reshape(shape[0], 1, 1, n_channels)
            for a in arrays
        )
    return tuple(np.broadcast_to(a.reshape(-1), (n_channels,)) for a in arrays)
