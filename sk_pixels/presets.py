"""Named normalization statistics, with their units and channel order.

A preset's numbers are stored in the units they were published in
(``max_value`` 1.0 for "0-1" units, 255.0 for "0-255" units).  Estimators
convert them to the units of the input through ``max_value``: a preset mean
``m`` in 0-1 units becomes ``m * 255`` for ``uint8`` input and stays ``m`` for
float input in [0, 1], so ``mean="imagenet"`` gives the same output on both.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

# NumPy is imported by the two methods that use it: the command line reads the
# preset names for its --help and should not wait for NumPy to load.

__all__ = ["Preset", "PRESETS", "get_preset"]


@dataclass(frozen=True)
class Preset:
    """Published per-channel statistics.

    Parameters
    ----------
    name : str
        Key in :data:`PRESETS`.
    mean : tuple of float
        Per-channel mean, in ``units``.
    std : tuple of float or None
        Per-channel standard deviation, in ``units``; None when the recipe only
        subtracts a mean (Caffe).
    max_value : float
        The units: 1.0 when the numbers are for pixels in [0, 1], 255.0 for 0-255.
    channel_order : {"RGB", "BGR"}
        Order of the channels the numbers refer to.
    source : str
        Where the numbers come from.
    """

    name: str
    mean: tuple[float, ...]
    std: tuple[float, ...] | None
    max_value: float
    channel_order: str
    source: str

    def mean_in(self, max_value: float) -> np.ndarray:
        """Return the mean in units where the domain maximum is ``max_value``.

        Examples
        --------
        >>> PRESETS["imagenet"].mean_in(255.0).round(3)
        array([123.675, 116.28 , 103.53 ])
        """
        import numpy as np

        return np.asarray(self.mean, dtype=np.float64) * (max_value / self.max_value)

    def std_in(self, max_value: float) -> np.ndarray:
        """Return the std in units where the domain maximum is ``max_value``."""
        if self.std is None:
            raise ValueError(
                f"Preset {self.name!r} defines no std (its recipe only subtracts a "
                "mean). Use PixelCenterer(mean=...) or pass std explicitly."
            )
        import numpy as np

        return np.asarray(self.std, dtype=np.float64) * (max_value / self.max_value)


#: All presets by name.  Sources:
#:
#: - ``"imagenet"``: torchvision's ImageNet normalization, ``Normalize(mean=[0.485,
#:   0.456, 0.406], std=[0.229, 0.224, 0.225])`` after ``ToTensor``; RGB, 0-1.
#: - ``"inception"``: Inception / ``tf.keras`` "tf" mode, ``x / 127.5 - 1``, i.e.
#:   mean 0.5 and std 0.5 in 0-1 units; RGB.
#: - ``"clip"``: OpenAI CLIP's image preprocessing; RGB, 0-1.
#: - ``"caffe"``: Caffe / ``tf.keras`` "caffe" mode, mean subtraction only, BGR
#:   order, 0-255 units (103.939, 116.779, 123.68).
PRESETS: MappingProxyType[str, Preset] = MappingProxyType(
    {
        p.name: p
        for p in (
            Preset(
                "imagenet",
                (0.485, 0.456, 0.406),
                (0.229, 0.224, 0.225),
                1.0,
                "RGB",
                "torchvision ImageNet normalization",
            ),
            Preset(
                "inception",
                (0.5, 0.5, 0.5),
                (0.5, 0.5, 0.5),
                1.0,
                "RGB",
                "Inception / tf.keras 'tf' mode: x / 127.5 - 1",
            ),
            Preset(
                "clip",
                (0.48145466, 0.4578275, 0.40821073),
                (0.26862954, 0.26130258, 0.27577711),
                1.0,
                "RGB",
                "OpenAI CLIP image preprocessing",
            ),
            Preset(
                "caffe",
                (103.939, 116.779, 123.68),
                None,
                255.0,
                "BGR",
                "Caffe / tf.keras 'caffe' mode: BGR mean subtraction, 0-255 units",
            ),
        )
    }
)


def get_preset(name: str) -> Preset:
    """Return the preset called ``name``, with a clear error for unknown names."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(
            f"Unknown preset {name!r}; choose one of {sorted(PRESETS)} or pass the "
            "statistics as an array-like."
        ) from None
