"""What every backend shares: the validation stand-in and value checks."""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any

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


def check_no_inf(X: Any, xp: Any, dtype: np.dtype) -> None:
    """Refuse +/-inf, as ``check_array(..., ensure_all_finite="allow-nan")`` does."""
    if np.dtype(dtype).kind == "f" and bool(xp.any(xp.isinf(X))):
        raise ValueError(
            f"Input X contains infinity or a value too large for dtype('{dtype}')."
        )


def nanmax(values: Any) -> float:
    """``nanmax`` as a float, NaN (without a RuntimeWarning) when all are NaN."""
    values = np.asarray(values)
    return float(np.fmax.reduce(values, axis=None)) if values.size else np.nan


@contextmanager
def raise_on_overflow(dtype: np.dtype):
    """Turn a float overflow (finite pixels -> inf) into a ValueError that says why."""
    try:
        with np.errstate(over="raise"):
            yield
    except FloatingPointError as exc:
        remedy = (
            "Bring X to a smaller range first"
            if np.dtype(dtype) == np.float64
            else "Pass dtype='float64', or bring X to a smaller range first"
        )
        raise ValueError(
            f"Scaling X overflowed: the result does not fit in {np.dtype(dtype)} "
            f"(finite pixels would become inf). {remedy} ({exc})."
        ) from None


def restore_dtype(Y: Any, dtype: np.dtype, xp: Any = np) -> Any:
    """Round and clip float pixels ``Y`` into the range of ``dtype``, then cast.

    The clip bounds are the floats of ``Y``'s dtype nearest to the integer
    range's ends on its inside: ``iinfo.max`` itself rounds up in float32 (and
    float64, for 64-bit integers), and casting that back would wrap around.
    """
    target = np.dtype(dtype)
    if target.kind in "ui":
        info = np.iinfo(target)
        ftype = np.dtype(str(Y.dtype).rsplit(".", 1)[-1])
        lo = _inside(int(info.min), ftype, upper=False)
        hi = _inside(int(info.max), ftype, upper=True)
        Y = xp.clip(xp.round(Y), lo, hi)
    if xp is np:
        return np.asarray(Y).astype(target)
    return xp.astype(Y, getattr(xp, target.name))


def _inside(bound: int, ftype: np.dtype, upper: bool) -> float:
    """The float of ``ftype`` nearest to ``bound`` that does not pass it."""
    value = ftype.type(bound)
    if (int(value) > bound) if upper else (int(value) < bound):
        value = np.nextafter(value, ftype.type(0))
    return float(value)
