"""What the Dask and Array API paths share: validation by proxy, fitted-state update.

Arrays that are not NumPy arrays (a lazy Dask array, a CUDA tensor) cannot go
through scikit-learn's ``check_array`` without being pulled into memory. Their
*metadata* can: :func:`proxy` builds a NumPy array of one image with the same
shape and dtype, and the estimator's own validation runs on it, so the errors
(wrong channel count, bool dtype, 1-D input, bad layout...) and the recorded
shapes (``n_features_in_``, ``n_channels_``) are exactly those of in-memory
input. What depends on the pixel values (NaN/inf, statistics) is then computed
where the data lives.
"""

from __future__ import annotations

import math

import numpy as np

from ._stats import PixelStats
from ._units import resolve_max_value


def proxy(shape: tuple, dtype: np.dtype) -> np.ndarray:
    """A zero NumPy array of at most one image with the given shape and dtype.

    An empty batch gives an empty proxy, so that validation rejects it as it
    rejects empty in-memory input.

    Examples
    --------
    >>> proxy((100, 8, 8, 3), np.uint8).shape
    (1, 8, 8, 3)
    >>> proxy((0, 8, 8, 3), np.uint8).shape
    (0, 8, 8, 3)
    """
    shape = tuple(shape)
    if len(shape) == 0:
        return np.zeros((), dtype=dtype)
    if any(isinstance(s, float) and math.isnan(s) for s in shape[1:]):
        raise ValueError(
            f"X has unknown image dimensions (shape {shape}); only the number of "
            "images may be unknown. Call X.compute_chunk_sizes() first."
        )
    n = shape[0]
    rows = 1 if isinstance(n, float) and math.isnan(n) else min(int(n), 1)
    return np.zeros((rows, *(int(s) for s in shape[1:])), dtype=dtype)


def update_fitted(
    estimator,
    *,
    first_call: bool,
    dtype: np.dtype,
    n_images: int,
    stats: PixelStats | None,
) -> None:
    """Record one batch in the estimator's fitted state, as ``partial_fit`` does.

    Mirrors the tail of ``_BasePixelTransformer.partial_fit`` for a batch
    whose statistics were computed elsewhere (on a cluster, on a device).
    ``stats`` may be None only for stateless scopes.
    """
    from ._base import _nanmax

    if first_call:
        estimator.n_samples_seen_ = 0
        estimator.input_dtype_ = np.dtype(dtype).name
        estimator.max_value_ = resolve_max_value(dtype, estimator.max_value)
    estimator.n_samples_seen_ += int(n_images)
    if not estimator._learns():
        if stats is not None and np.dtype(dtype).kind == "f":
            estimator._warn_domain(dtype, _nanmax(stats.max), "fit")
        if estimator.scope == "dataset":
            estimator._store_fitted()  # fixed statistics, in the units of X
        return
    estimator.stats_ = stats if first_call else estimator.stats_.merge(stats)
    estimator._warn_domain(dtype, _nanmax(stats.max), "fit")
    estimator._store_fitted()
