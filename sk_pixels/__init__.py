"""sk_pixels: image pixel scaling for deep learning as scikit-learn estimators."""

from . import presets
from ._stats import PixelStats
from ._version import __version__
from .centerer import PixelCenterer
from .normalizer import PixelNormalizer
from .standardizer import PixelStandardizer

__all__ = [
    "PixelCenterer",
    "PixelNormalizer",
    "PixelStandardizer",
    "PixelStats",
    "presets",
    "__version__",
]
