"""What the Dask and Array API paths share: validation by proxy.

Arrays that are not NumPy arrays (a lazy Dask array, a CUDA tensor) cannot go
through scikit-learn's ``check_array`` without being pulled into memory. Their
*metadata* can: :func:`proxy` builds a NumPy array of one image with the same
shape and dtype, and the estimator's own validation runs on it, so the errors
(wrong channel count, bool dtype, 1-D input, bad layout...) and the recorded
shapes (``n_features_in_``, ``n_channels_``) are exactly those of in-memory
input. What depends on the pixel values (NaN/inf, statistics) is then computed
where the data lives, and the batch is committed with the estimator's own
``_record_batch``, as in-memory batches are.
"""

from __future__ import annotations

import math

import numpy as np


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
