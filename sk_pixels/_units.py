"""Pixel units: the value range of each dtype and the ``max_value`` convention.

The convention, stated once (scikit-image's): integer images span their dtype's
range, ``[0, 255]`` for ``uint8`` and ``[0, 65535]`` for ``uint16``; float images
are assumed to lie in ``[0, 1]``.  ``max_value="auto"`` resolves to that maximum,
and an explicit number overrides it (``max_value=255`` for float data still in
0-255 units, ``max_value=4095`` for 12-bit data stored in ``uint16``).
"""

from __future__ import annotations

import warnings
from numbers import Real

import numpy as np

# Float images are assumed to hold values in [0, 1]; integer images span their
# dtype.  This table is the single source of that convention.
_FLOAT_MAX = 1.0

#: Below this ratio between the maxima of two batches their scales are "the same".
#: 0-255 vs 0-1 gives 255, uint16 vs uint8 gives 257; a dark batch rarely gives 50.
_SCALE_RATIO = 50.0

#: A float batch whose maximum exceeds this is "clearly outside [0, 1]".
_FLOAT_RANGE_SLACK = 1.5


def dtype_max(dtype: np.dtype) -> float:
    """Return the domain maximum of ``dtype``: its ``iinfo.max``, or 1.0 for floats."""
    dtype = np.dtype(dtype)
    if dtype.kind in "ui":
        return float(np.iinfo(dtype).max)
    return _FLOAT_MAX


def resolve_max_value(dtype: np.dtype, max_value: str | Real) -> float:
    """Resolve the ``max_value`` parameter for input of ``dtype``.

    Examples
    --------
    >>> import numpy as np
    >>> resolve_max_value(np.uint8, "auto"), resolve_max_value(np.float32, "auto")
    (255.0, 1.0)
    >>> resolve_max_value(np.uint16, 4095)
    4095.0
    """
    if isinstance(max_value, str):  # "auto"; validated by the estimator's constraints
        return dtype_max(dtype)
    return float(max_value)


def domain_min(dtype: np.dtype, max_value: str | Real) -> float:
    """Return the domain minimum of ``dtype``: its ``iinfo.min`` for signed
    integers with ``max_value="auto"``, else 0.

    Examples
    --------
    >>> import numpy as np
    >>> domain_min(np.int8, "auto"), domain_min(np.uint8, "auto")
    (-128.0, 0.0)
    >>> domain_min(np.int16, 4095)
    0.0
    """
    dtype = np.dtype(dtype)
    if dtype.kind == "i" and isinstance(max_value, str):
        return float(np.iinfo(dtype).min)
    return 0.0


def output_float_dtype(
    input_dtype: np.dtype, dtype: np.dtype | None = None
) -> np.dtype:
    """Return the float dtype that a transform of ``input_dtype`` produces.

    ``dtype`` (the estimator parameter) wins when given.  Otherwise float32 and
    float64 input keep their dtype; every other dtype (integers, float16) gives
    float32, which holds a ``uint16`` pixel exactly.
    """
    if dtype is not None:
        return np.dtype(dtype)
    input_dtype = np.dtype(input_dtype)
    if input_dtype in (np.float32, np.float64):
        return input_dtype
    return np.dtype(np.float32)


def warn_if_float_outside_unit_range(
    dtype: np.dtype, max_value: str | Real, observed_max: float, what: str
) -> None:
    """Warn when float data with ``max_value="auto"`` clearly lies outside [0, 1].

    Only called where the [0, 1] assumption matters (a preset, ``normalize=True``,
    ``scope="domain"``).  ``what`` names the operation for the message.
    """
    if np.dtype(dtype).kind != "f" or not isinstance(max_value, str):
        return
    if np.isfinite(observed_max) and observed_max > _FLOAT_RANGE_SLACK:
        warnings.warn(
            f"Float input has max value {observed_max:g} but max_value='auto' "
            f"assumes float pixels in [0, 1] ({what}). If the pixels are in "
            "0-255 units, pass max_value=255.",
            UserWarning,
            stacklevel=3,
        )


def warn_if_scale_differs(
    fit_max: float, fit_dtype: str, batch_max: float, batch_dtype: np.dtype, who: str
) -> None:
    """Warn when a batch is clearly on another scale than the data seen in ``fit``.

    This is the most common silent failure in the field: statistics learned on
    0-255 pixels applied to 0-1 pixels, or images divided by 255 twice.  Two
    maxima more than ``_SCALE_RATIO`` apart are taken as two scales.
    """
    if not (np.isfinite(fit_max) and np.isfinite(batch_max)):
        return
    if fit_max <= 0 or batch_max <= 0:
        return
    ratio = max(fit_max / batch_max, batch_max / fit_max)
    if ratio >= _SCALE_RATIO:
        warnings.warn(
            f"{who} was fitted on {fit_dtype} pixels with max value {fit_max:g}, but "
            f"X ({np.dtype(batch_dtype)}) has max value {batch_max:g}: the two are "
            f"{ratio:.0f}x apart, so the fitted statistics are probably in other "
            "units than X (0-255 vs 0-1, or pixels divided by 255 twice). Convert X "
            "to the units used in fit, or refit on data in X's units.",
            UserWarning,
            stacklevel=3,
        )


def check_max_value(max_value) -> float:
    """A domain maximum given at fit time (``fit_stats``, files): finite and > 0."""
    value = np.nan
    if isinstance(max_value, Real) and not isinstance(max_value, bool):
        try:
            value = float(max_value)
        except OverflowError:  # a Python int beyond float64
            value = np.inf
    if not usable_max_value(value):
        raise ValueError(
            f"max_value must be a finite number > 0 (the domain maximum of the "
            f"pixels, e.g. 255). Got max_value={max_value!r}."
        )
    return value


def usable_max_value(value: float) -> bool:
    """Finite, > 0, and with a finite inverse (1e-320 would divide to inf)."""
    with np.errstate(divide="ignore", over="ignore"):
        return bool(np.isfinite(value) and value > 0 and np.isfinite(1.0 / value))


def check_batch_scale(
    observed_max: float, *, dtype, unit_range: bool, max_value, fitted, name: str
) -> None:
    """Warn when a transformed batch is on other units than expected."""
    if unit_range:
        warn_if_float_outside_unit_range(dtype, max_value, observed_max, "transform")
    if fitted is not None:
        warn_if_scale_differs(fitted[0], fitted[1], observed_max, dtype, name)
