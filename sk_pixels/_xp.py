"""Array namespaces for the statistics: which namespace an array belongs to, its
dtype as a NumPy dtype, whether its device has float64, and small results back
to the host.  NumPy arrays are their own namespace (``numpy``); any other array
API array gets ``array_api_compat``'s namespace.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def namespace_of(X: Any) -> Any:
    """NumPy for NumPy arrays, else ``array_api_compat``'s namespace of ``X``."""
    if isinstance(X, np.ndarray):
        return np
    import array_api_compat

    return array_api_compat.array_namespace(X)


def numpy_dtype(X: Any) -> np.dtype:
    """The NumPy dtype with the name of ``X.dtype`` (ValueError if there is none).

    ``torch.uint8``, ``array_api_strict.uint8`` and CuPy's ``uint8`` all print
    as their namespace and the standard's dtype name.
    """
    if isinstance(X, np.ndarray):
        return X.dtype
    try:
        return np.dtype(str(X.dtype).rsplit(".", 1)[-1])
    except TypeError:
        raise ValueError(
            f"X has dtype {X.dtype}, which has no NumPy equivalent to compute "
            "statistics with. Convert X to float32 first."
        ) from None


def float_dtype(xp, device):
    """float64 where ``device`` supports it, else float32."""
    try:
        xp.zeros(1, dtype=xp.float64, device=device)
    except (TypeError, RuntimeError, ValueError):  # pragma: no cover - no such device
        return xp.float32
    return xp.float64


def to_numpy(array: Any) -> np.ndarray:
    """A (small) device array as a NumPy array on the host.

    No private scikit-learn helper: PyTorch and CuPy arrays have their own way
    to the host, other namespaces (``array_api_strict``) convert with
    ``np.asarray`` or through DLPack.
    """
    if isinstance(array, np.ndarray):
        return array
    if hasattr(array, "detach"):  # PyTorch, on any device
        return array.detach().cpu().numpy()
    if hasattr(array, "get"):  # CuPy
        return np.asarray(array.get())
    try:
        return np.asarray(array)
    except (TypeError, ValueError, RuntimeError):
        return np.from_dlpack(array)
