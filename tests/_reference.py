"""Float64 NumPy references for the bad-input tables (tests/test_*_bad_input.py).

Written from the formulas in the docstrings, not from the library's code: the
statistics are ``np.nanmean`` / ``np.nanvar`` / ``np.nanmin`` / ``np.nanmax`` of a
float64 copy, and each transform is its affine map ``y = x * scale + offset``.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from numpy.testing import assert_array_equal

_EPS = np.finfo(np.float64).eps


def as_float64(X) -> np.ndarray:
    """Any accepted input (array, list, DataFrame, object array) as float64."""
    if hasattr(X, "to_numpy"):
        X = X.to_numpy()
    return np.array(X, dtype=np.float64)


def input_dtype(X) -> np.dtype:
    """The dtype the estimators see: object arrays become float64."""
    dtype = np.asarray(X.to_numpy() if hasattr(X, "to_numpy") else X).dtype
    return np.dtype(np.float64) if dtype.kind == "O" else dtype


def output_dtype(X) -> np.dtype:
    dtype = input_dtype(X)
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float32)


def domain_max(dtype: np.dtype) -> float:
    dtype = np.dtype(dtype)
    return float(np.iinfo(dtype).max) if dtype.kind in "ui" else 1.0


def canon(X, params: dict) -> np.ndarray:
    """``X`` as float64 ``(n, n_pixels, n_channels)``."""
    A = as_float64(X)
    n = A.shape[0]
    image_shape = params.get("image_shape")
    if A.ndim == 2 and image_shape is not None:
        A = A.reshape((n, *image_shape))
    if A.ndim == 2:
        return A[:, :, None]
    if A.ndim == 3 or params.get("channel_axis", -1) is None:
        return A.reshape(n, -1, 1)  # no channel axis: one channel
    A = np.moveaxis(A, params.get("channel_axis", -1), -1)
    return A.reshape(n, -1, A.shape[-1])  # every spatial axis pooled


def uncanon(R: np.ndarray, X, params: dict) -> np.ndarray:
    """Inverse of :func:`canon` for an array of reference results."""
    shape = np.shape(as_float64(X))
    image_shape = params.get("image_shape")
    n = shape[0]
    full = (n, *image_shape) if len(shape) == 2 and image_shape is not None else shape
    if len(full) <= 3 or params.get("channel_axis", -1) is None:
        return R.reshape(shape)
    axis = params.get("channel_axis", -1) % len(full)
    moved = [full[k] for k in range(len(full)) if k != axis] + [full[axis]]
    return np.moveaxis(R.reshape(moved), -1, axis).reshape(shape)


def _stats(P: np.ndarray, per_channel: bool, ddof: int = 0):
    """Per-channel (or pooled) statistics of ``P`` of shape (..., n_pixels, C)."""
    axis = -2 if per_channel else (-2, -1)
    count = np.sum(~np.isnan(P), axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.nansum(P, axis=axis, keepdims=True)
        mean = total / count
        var = np.nansum((P - mean) ** 2, axis=axis, keepdims=True) / (count - ddof)
        var = np.where(count - ddof > 0, var, np.nan)
    mn = np.fmin.reduce(P, axis=axis, keepdims=True) if P.size else np.nan
    mx = np.fmax.reduce(P, axis=axis, keepdims=True) if P.size else np.nan
    return count, mean, var, mn, mx


def coefficients(est, fit_pixels: np.ndarray | None, T: np.ndarray, dtype):
    """Reference ``(scale, offset, clip, extra)`` broadcastable to ``T`` (n, P, C).

    ``fit_pixels`` holds the training pixels as (1, N, C) (dataset scope).
    ``extra`` is the size of a term folded into ``offset`` (``lo`` of a
    feature range, the ``+ 1/2`` of a rescale), which may cancel in it: the
    rounding of the offset is relative to the terms, not to their sum.
    """
    name = type(est).__name__
    params = est.get_params()
    scope, per_channel = params["scope"], params["per_channel"]
    max_value = (
        domain_max(dtype) if params["max_value"] == "auto" else params["max_value"]
    )
    if scope == "dataset":
        source = fit_pixels
    elif scope == "batch":
        source = T.reshape(1, -1, T.shape[-1])
    else:
        source = T
    if name == "PixelNormalizer":
        lo, hi = (float(v) for v in params["feature_range"])
        if scope == "domain":
            # Signed integers with max_value="auto" span their dtype's limits.
            signed = np.dtype(dtype).kind == "i" and params["max_value"] == "auto"
            low = float(np.iinfo(dtype).min) if signed else 0.0
            scale = (hi - lo) / (max_value - low)
            return scale, lo - low * scale, None, abs(lo - low * scale)
        _, _, _, mn, mx = _stats(source, per_channel)
        # Constant below a range of 10 eps, as MinMaxScaler; half ranges
        # cannot overflow.
        half = mx / 2 - mn / 2
        constant = ~np.isfinite(half) | (half < 5 * _EPS)
        scale = np.where(constant, 1.0, ((hi - lo) / 2) / np.where(constant, 1.0, half))
        return scale, lo - np.nan_to_num(mn) * scale, None, abs(lo)
    from sk_pixels import presets

    def fixed(key):
        value = params.get(key)
        if value is None:
            return None
        preset = presets.PRESETS[value]
        raw = preset.mean if key == "mean" else preset.std
        return np.asarray(raw, dtype=np.float64) * (max_value / preset.max_value)

    count, mean, var, _, _ = _stats(source, per_channel, params.get("ddof", 0))
    data_mean = mean  # the rounding-noise bound is the data's, whatever is subtracted
    if fixed("mean") is not None:
        mean = fixed("mean")
    if name == "PixelCenterer":
        scale = 1.0 / max_value if params["normalize"] else 1.0
        return scale, -mean * scale, None, 0.0
    std = np.sqrt(var) if fixed("std") is None else fixed("std")
    if fixed("std") is None:
        # Zero (or rounding-noise) std is applied as 1, as in StandardScaler.
        # A variance below float64's smallest normal number is underflowed
        # noise (the docstring of PixelStandardizer's zero-std rule).
        tiny = (
            ~np.isfinite(std)
            | (std <= 16 * count * _EPS * np.abs(data_mean))
            | (std**2 < np.finfo(np.float64).tiny)
        )
        std = np.where(tiny, 1.0, std)
    scale, offset = 1.0 / std, -mean / std
    clip = params.get("clip")
    if clip is None:
        return scale, offset, None, 0.0
    k = float(clip)
    if params["rescale"]:
        return (
            scale / (2 * k),
            offset / (2 * k) + 0.5,
            (0.0, 1.0),
            np.abs(offset / (2 * k)) + 0.5,
        )
    return scale, offset, (-k, k), 0.0


def reference_transform(est, fit_batches, X, params):
    """Return ``(expected, magnitude, scale, offset)`` in X's shape/canonical form."""
    T = canon(X, params)
    fit_pixels = None
    if fit_batches:
        parts = [canon(B, params) for B in fit_batches]
        if len({P.shape[-1] for P in parts}) == 1:
            fit_pixels = np.concatenate([P.reshape(-1, P.shape[-1]) for P in parts])[
                None
            ]
        else:  # channel counts differ: only global statistics are defined
            fit_pixels = np.concatenate([P.reshape(-1) for P in parts])[None, :, None]
    scale, offset, clip, extra = coefficients(est, fit_pixels, T, input_dtype(X))
    scale = np.broadcast_to(
        scale, np.broadcast_shapes(np.shape(scale), (1, 1, T.shape[-1]))
    )
    offset = np.broadcast_to(offset, scale.shape)
    # Statistics are float64 sums of float64 pixels: a few float64 ulps of the
    # largest fitted pixel (int64 pixels near 2**63 round by 1024 when converted).
    largest = (
        np.nanmax(np.abs(fit_pixels), initial=0.0) if fit_pixels is not None else 0
    )
    stats_error = 4 * _EPS * largest * np.abs(scale)
    with np.errstate(invalid="ignore"):
        Y = T * scale + offset
        magnitude = np.abs(T * scale) + np.abs(offset) + extra + stats_error
    if clip is not None:
        Y = np.clip(Y, *clip)
    return Y, magnitude, scale, offset


def check_against_reference(est, fit_batches, X, out, params) -> None:
    """``out`` equals the float64 reference to a few ulps of the affine terms."""
    assert isinstance(out, np.ndarray)
    assert out.shape == np.shape(as_float64(X))
    assert out.dtype == (output_dtype(X) if est.dtype is None else np.dtype(est.dtype))
    expected, magnitude, scale, _ = reference_transform(est, fit_batches, X, params)
    # Statistics are float64 sums of float64 pixels: a few float64 ulps of the
    # largest fitted pixel (int64 pixels near 2**63 round by 1024 when converted).
    largest = max(
        (np.nanmax(np.abs(canon(B, params)), initial=0.0) for B in fit_batches),
        default=0.0,
    )
    stats_error = 4 * _EPS * largest * np.abs(scale)
    got = canon(out, params)
    x_nan = np.isnan(canon(X, params))
    # NaN in, NaN out; finite in, finite out.
    assert_array_equal(np.isnan(got), x_nan)
    assert np.all(np.isfinite(got[~x_nan])), "finite input gave inf/NaN"
    eps = np.finfo(out.dtype).eps
    tol = 16 * eps * magnitude + stats_error + np.finfo(out.dtype).tiny
    err = np.abs(got - expected)
    bad = ~x_nan & ~(err <= tol)
    assert not bad.any(), (
        f"{bad.sum()} values differ from the float64 reference; worst "
        f"error {err[bad].max():.3g} > tol {tol[bad].min():.3g}"
    )


def check_inverse(est, fit_batches, X, Y, Xr, params) -> None:
    """inverse_transform(Y) equals the reference inverse map of Y, and X unclipped."""
    assert Xr.shape == Y.shape and Xr.dtype == Y.dtype
    _, _, scale, offset = reference_transform(est, fit_batches, X, params)
    y = canon(Y, params)
    with np.errstate(invalid="ignore"):
        expected = (y - offset) / scale
        magnitude = np.abs(y / scale) + np.abs(offset / scale)
    got = canon(Xr, params)
    eps = np.finfo(Xr.dtype).eps
    nan = np.isnan(y)
    assert_array_equal(np.isnan(got), nan)
    assert np.all(np.abs(got - expected)[~nan] <= (16 * eps * magnitude)[~nan])
    if est.get_params().get("clip") is not None:
        return
    x = canon(X, params)
    # Round trip: X back up to the float rounding of Y (and of the inverse).
    tol = 32 * eps * (np.abs(x) + np.abs(offset / scale)) + np.finfo(Xr.dtype).tiny
    assert np.all(np.abs(got - x)[~nan] <= tol[~nan])
    dtype = input_dtype(X)
    if dtype.kind in "ui" and dtype.itemsize <= 2:
        restored = est.inverse_transform(Y, restore_dtype=True)
        assert restored.dtype == dtype
        assert_array_equal(restored, np.asarray(X))


def exact_moments(values) -> tuple[int, Fraction, Fraction]:
    """Count, mean and population variance of integer pixel values, exactly.

    Python integers and fractions: the reference that exact (integer)
    statistics must equal once rounded to float64.
    """
    ints = [int(v) for v in np.ravel(values).tolist()]
    count, total = len(ints), sum(ints)
    squares = sum(v * v for v in ints)
    return (
        count,
        Fraction(total, count),
        Fraction(count * squares - total * total, count * count),
    )
