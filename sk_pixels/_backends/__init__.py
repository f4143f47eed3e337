"""Backends: where the pixels live, and the few operations the estimators need there.

The estimators' protocol (``partial_fit``, ``transform``, ``inverse_transform``)
is written once, in :mod:`sk_pixels._base`, against this table. A backend is a
small object with the same handful of methods for each place pixels can live:

================  ===========================================================
backend           input
================  ===========================================================
``NumpyBackend``  NumPy arrays and everything ``check_array`` converts
``ArrayApi``      arrays of another Array API namespace (PyTorch, CuPy,
                  ``array_api_strict``), with ``array_api_dispatch=True``:
                  computed on their device
``DaskBackend``   ``dask.array.Array``: statistics in one pass over the
                  chunks, lazy transforms
================  ===========================================================

Each backend offers:

- ``stand_in(X)``: a NumPy array with X's metadata (X itself for NumPy, one
  zero image of X's shape and dtype elsewhere) that the estimator validates,
  so every backend raises the same errors and records the same shapes;
- ``check_values(X, dtype)``: what depends on the values and was not checked
  on the stand-in (``inf``);
- ``stats(X, layout, per_image)``: a :class:`~sk_pixels.PixelStats`;
- ``maximum(X)``: the NaN-ignoring maximum, for the units warnings;
- ``apply(X, affine, out_dtype, layout, out=None, check_max=None)``: the map;
- ``as_float(X)`` and ``restore(Y, dtype)`` for ``inverse_transform``.

Backends import nothing from the estimators, and keep no state: coefficients
are derived from the estimator's parameters and fitted attributes on every
call, so an edited parameter means the same thing on every backend.
"""

from __future__ import annotations

from typing import Any

from ._common import check_no_inf, proxy
from ._numpy import NUMPY


def backend_for(X: Any):
    """The backend of ``X``: Dask, Array API (dispatch on, not NumPy) or NumPy.

    Examples
    --------
    >>> import numpy as np
    >>> backend_for(np.zeros((1, 2, 2, 3))).name
    'numpy'
    """
    from ._array_api import ARRAY_API
    from ._dask import DASK

    for backend in (DASK, ARRAY_API):
        if backend.matches(X):
            return backend
    return NUMPY


__all__ = ["backend_for", "check_no_inf", "proxy", "NUMPY"]
