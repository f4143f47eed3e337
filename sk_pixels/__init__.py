"""sk_pixels: image pixel scaling for deep learning as scikit-learn estimators.

The public names are imported on first use (PEP 562), so that a worker process
that only decodes images and accumulates :class:`PixelStats` (``sk_pixels.io``)
starts without importing scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._version import __version__

#: Public name -> module that defines it.
_EXPORTS = {
    "PixelCenterer": ".centerer",
    "PixelNormalizer": ".normalizer",
    "PixelStandardizer": ".standardizer",
    "PixelStats": "._stats",
    "PixelHistogram": "._histogram",
    "PixelWhitener": ".whitener",
    "PixelCovariance": "._covariance",
    "LayoutWarning": "._layout",
    "load_json": ".persist",
    "save_json": ".persist",
}

__all__ = [*_EXPORTS, "presets", "__version__"]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    # Re-exports (listed in __all__ above), imported lazily at run time.
    from . import presets  # noqa: F401
    from ._covariance import PixelCovariance  # noqa: F401
    from ._histogram import PixelHistogram  # noqa: F401
    from ._layout import LayoutWarning  # noqa: F401
    from ._stats import PixelStats  # noqa: F401
    from .centerer import PixelCenterer  # noqa: F401
    from .normalizer import PixelNormalizer  # noqa: F401
    from .persist import load_json, save_json  # noqa: F401
    from .standardizer import PixelStandardizer  # noqa: F401
    from .whitener import PixelWhitener  # noqa: F401


def __getattr__(name: str):
    if name == "presets":
        return importlib.import_module(".presets", __name__)
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
