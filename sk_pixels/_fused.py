"""Optional compiled kernel: the transform's steps fused into one pass (numba).

With `numba <https://numba.pydata.org>`_ installed (the ``fast`` extra,
``pip install sk_pixels[fast]``), a block of the transform is computed in one
pass instead of NumPy's four (cast, ``-= c_hi``, ``*= scale``, ``+= base'``,
then the clip): each value is read, converted, mapped and written once, while
it is in a register.  Without numba, or with the environment variable
``SK_PIXELS_FUSED=0``, the NumPy steps of :mod:`sk_pixels._kernels` run.

The results are the same to the bit: the fused loop performs the same float
operations in the same order and the same precision as the NumPy steps
(numba, without ``fastmath``, neither contracts ``a * b + c`` into a fused
multiply-add nor reorders), and a step that NumPy skips is replaced by its
exact identity (``- (+0.0)``, ``* 1``, ``+ (-0.0)``, no clip as
``[-inf, inf]``), which changes no value and no sign of zero.  The tests run
both kernels on the same inputs and compare their bits.

numba is imported, and the kernel compiled for a dtype pair, on first use
(``cache=True`` keeps the machine code on disk, so only the first process
ever pays the compilation).
"""

from __future__ import annotations

import os
import threading
import warnings

import numpy as np

#: Input dtypes the fused loop takes (others run the NumPy steps).
_INPUTS = frozenset(
    np.dtype(name)
    for name in ("uint8", "uint16", "int8", "int16", "uint32", "int32", "float32")
) | {np.dtype(np.float64)}
_OUTPUTS = frozenset((np.dtype(np.float32), np.dtype(np.float64)))

#: None: not loaded yet; False: unavailable or disabled; else the kernels.
_loaded: object = None
_lock = threading.Lock()


def disabled_by_environment() -> bool:
    """Whether ``SK_PIXELS_FUSED`` turns the compiled kernel off (0, false, no, off)."""
    flag = os.environ.get("SK_PIXELS_FUSED", "").strip().lower()
    return flag in ("0", "false", "no", "off")


def _load():
    """The compiled kernels, or False (numba missing or disabled)."""
    global _loaded
    with _lock:
        if _loaded is None:
            _loaded = False if disabled_by_environment() else _compile()
    return _loaded


def _compile():
    try:
        import numba
    except ImportError:
        return False

    # Two copies that differ only in the output type of the cast: a cast
    # written as a function argument would make the kernel a closure, which
    # numba cannot cache.  max/min keep NaN and the sign of zero as np.clip does.
    @numba.njit(cache=True, nogil=True)
    def rows32(x, y, center, scale, offset, lo, hi, check):  # pragma: no cover
        n, width = x.shape
        overflowed = 0
        for r in range(n):
            xr, yr = x[r], y[r]
            if check:  # a finite value that became infinite: a step overflowed
                for j in range(width):
                    v = np.float32(xr[j])
                    t = (v - center[j]) * scale[j] + offset[j]
                    overflowed += (abs(t) == np.inf) & (abs(v) != np.inf)
                    yr[j] = min(max(t, lo), hi)
            else:
                for j in range(width):
                    t = (np.float32(xr[j]) - center[j]) * scale[j] + offset[j]
                    yr[j] = min(max(t, lo), hi)
        return overflowed

    @numba.njit(cache=True, nogil=True)
    def rows64(x, y, center, scale, offset, lo, hi, check):  # pragma: no cover
        n, width = x.shape
        overflowed = 0
        for r in range(n):
            xr, yr = x[r], y[r]
            if check:  # a finite value that became infinite: a step overflowed
                for j in range(width):
                    v = np.float64(xr[j])
                    t = (v - center[j]) * scale[j] + offset[j]
                    overflowed += (abs(t) == np.inf) & (abs(v) != np.inf)
                    yr[j] = min(max(t, lo), hi)
            else:
                for j in range(width):
                    t = (np.float64(xr[j]) - center[j]) * scale[j] + offset[j]
                    yr[j] = min(max(t, lo), hi)
        return overflowed

    @numba.njit(cache=True, nogil=True)
    def largest(x):  # pragma: no cover (compiled)
        observed = -np.inf
        for v in x.ravel():
            if v > observed:  # False for NaN: NaN is ignored, as by np.fmax
                observed = v
        return observed

    return {np.dtype(np.float32): rows32, np.dtype(np.float64): rows64}, largest


def available() -> bool:
    """Whether the compiled kernel runs (numba importable and not disabled)."""
    return bool(_loaded or (_loaded is None and _load()))


def applies(x: np.ndarray, y: np.ndarray) -> bool:
    """Whether the fused loop can run block ``x`` into ``y``."""
    return (
        x.dtype in _INPUTS
        and y.dtype in _OUTPUTS
        and x.flags.c_contiguous
        and y.flags.c_contiguous
        and available()
    )


def affine_rows(
    x: np.ndarray,
    y: np.ndarray,
    coefficients,
    bounds,
    track_max: bool,
    check_overflow: bool = True,
) -> float:
    """``y = clip((x - center) * scale + offset)`` over rows of tiled coefficients.

    Parameters
    ----------
    x, y : ndarray of shape (n_rows, width)
        C-contiguous input and output rows (``y`` may be ``x``).
    coefficients : (center, scale, offset), each ndarray of shape (width,)
        In ``y``'s dtype; a step that NumPy skips holds its exact identity.
    bounds : (lo, hi) of ``y``'s dtype
        Clip bounds, ``(-inf, inf)`` for none.
    track_max : bool
        Return ``nanmax(x)`` (read before ``y`` is written: ``y`` may be ``x``).
    check_overflow : bool
        Look for a step that overflowed (as ``np.errstate(over=...)`` would);
        False where the coefficients and the input dtype's range rule it out.

    Returns
    -------
    max : float
        ``nanmax(x)`` when ``track_max`` (-inf for no value), else NaN.
    """
    rows, largest = _loaded or _load()
    observed = np.nan
    if track_max:
        observed = float(largest(x)) if x.size else -np.inf
    if rows[y.dtype](x, y, *coefficients, *bounds, check_overflow):
        _overflow()
    return observed


def _overflow() -> None:
    """Report an overflow as NumPy's steps would, under the current ``np.errstate``."""
    mode = np.geterr()["over"]
    message = "overflow encountered in the fused transform kernel"
    if mode == "raise":
        raise FloatingPointError(message)
    if mode == "warn":
        warnings.warn(message, RuntimeWarning, stacklevel=4)
    elif mode == "call":
        np.geterrcall()("overflow", 2)
    elif mode == "log":
        np.geterrcall().write(f"Warning: {message}\n")
