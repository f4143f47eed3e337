"""PixelWhitener in estimator files (format version 3): its covariance as blocks.

The whitener's fitted state is its :class:`~sk_pixels._covariance.PixelCovariance`
(everything it transforms with is derived from it, deterministically), plus
the shape of its training images.  The file holds, next to the fields every
estimator file has::

    "input_image_shape": [32, 32, 3],
    "covariance": {
      "dtype": "uint8", "exact": true, "n_samples": 1000, "n_features": 3072,
      "bound": 255,                        # largest pixel magnitude (exact only)
      "sum": <block (d,)>,                 # exact: integer row sums
      "gram": <block (d*(d+1)/2,)>,        # exact: upper triangle of sum(x x^T)
      "mean": <block (d,)>, "m2": <block (d*(d+1)/2,)>   # float instead
    }

The upper triangles are stored row by row (the accumulator reads nothing
else), in the number type they were held in (float64, int64, or Python
integers as ``bigint``), so the loaded whitener continues ``partial_fit``
and transforms exactly like the original, to the bit.  Loading checks the
blocks (:mod:`sk_pixels._persist_arrays`) and what an accumulator of real
pixels satisfies: integer sums within ``n * bound``, diagonals within
``[0, n * bound**2]`` with ``n * G_ii >= S_i**2``, finite float moments with
a non-negative diagonal, and sizes that match the image shape and mode.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._covariance import _EXACT_FLOAT, PixelCovariance, _exact_bound
from ._per_pixel import pixel_layout
from ._persist_arrays import decode, encode

#: Fields of a whitener file's "fitted" object on top of the shared ones.
WHITENER_KEYS = frozenset({"input_image_shape", "covariance"})
_COV_KEYS = {"dtype", "exact", "n_samples", "n_features", "bound"}
_EXACT_KEYS = {"sum", "gram"}
_FLOAT_KEYS = {"mean", "m2"}
#: Largest pixel magnitudes of the exact dtypes (int8, uint8, int16, uint16).
_BOUNDS = {128, 255, 32768, 65535}


def _pack_upper(matrix: np.ndarray) -> np.ndarray:
    d = matrix.shape[0]
    return np.concatenate([matrix[i, i:] for i in range(d)])


def _unpack_upper(packed: np.ndarray, d: int) -> np.ndarray:
    out = np.zeros((d, d), dtype=packed.dtype, order="F")
    start = 0
    for i in range(d):
        out[i, i:] = packed[start : start + d - i]
        start += d - i
    return out


def whitener_fitted_fields(estimator: Any) -> dict[str, Any]:
    """``input_image_shape`` and ``covariance`` of a fitted whitener."""
    cov = estimator.cov_
    doc: dict[str, Any] = {
        "dtype": cov.dtype,
        "exact": bool(cov.exact),
        "n_samples": int(cov.n_samples),
        "n_features": int(cov.n_features),
        "bound": int(cov._bound) if cov.exact else None,
    }
    if cov.exact:
        doc["sum"] = encode(cov._sum, keep_object=True)
        doc["gram"] = encode(_pack_upper(cov._gram), keep_object=True)
    else:
        doc["mean"] = encode(cov._mean)
        doc["m2"] = encode(_pack_upper(cov._m2))
    return {
        "input_image_shape": [int(s) for s in estimator.input_image_shape_],
        "covariance": doc,
    }


def _image_shape(fitted: dict, estimator: Any, reader: Any) -> tuple[int, ...]:
    shape = fitted.get("input_image_shape")
    if (
        not isinstance(shape, list)
        or not 1 <= len(shape) <= 4
        or not all(type(s) is int and s >= 1 for s in shape)
    ):
        raise reader.fail(
            "field 'fitted.input_image_shape' must be the shape of one training "
            f"image (1 to 4 integers >= 1), got {shape!r:.80}."
        )
    try:  # from the shape alone: a hostile shape must allocate nothing
        image, axis = pixel_layout(tuple(shape), *estimator._layout())
    except ValueError as exc:
        raise reader.fail(
            f"field 'fitted.input_image_shape' is invalid: {exc}"
        ) from None
    channels = 1 if axis is None else image[axis]
    if channels != fitted["n_channels"]:
        raise reader.fail(
            f"field 'fitted.input_image_shape' {shape} holds {channels} "
            f"channel(s), but 'fitted.n_channels' is {fitted['n_channels']}."
        )
    return tuple(shape)


def read_covariance(
    doc: Any, reader: Any, d: int, n_images: int, input_dtype: str, whole: bool
) -> PixelCovariance:
    """``fitted.covariance`` -> a checked PixelCovariance of ``d`` features."""
    field = "fitted.covariance"
    exact = doc.get("exact") if isinstance(doc, dict) else None
    kind_keys = _EXACT_KEYS if exact is True else _FLOAT_KEYS
    reader.keys(doc, field, _COV_KEYS | kind_keys, _COV_KEYS | kind_keys)
    dtype = doc["dtype"]
    try:
        ok = isinstance(dtype, str) and np.dtype(dtype).name == dtype
        ok = ok and np.dtype(dtype).kind in "uif"
    except TypeError:
        ok = False
    if (
        not ok
        or not isinstance(exact, bool)
        or exact != (_exact_bound(dtype) is not None)
    ):
        raise reader.fail(
            f"field '{field}.dtype'/'exact' must name a numeric dtype and whether "
            f"its sums are exact (integers of <= 16 bits), got {dtype!r:.40}/{exact!r}."
        )
    if (
        exact
        and dtype != input_dtype
        or not exact
        and dtype
        not in (
            input_dtype,
            "float64",
        )
    ):
        raise reader.fail(
            f"field '{field}.dtype' is {dtype!r} but 'fitted.input_dtype' is "
            f"{input_dtype!r}; the file was edited or is corrupt."
        )
    n = reader.integer(doc["n_samples"], f"{field}.n_samples", 1)
    if doc["n_features"] != d or type(doc["n_features"]) is not int:
        raise reader.fail(
            f"field '{field}.n_features' is {doc['n_features']!r:.40}, but the image "
            f"shape and patch_size give rows of {d} values."
        )
    if whole and n != n_images:
        raise reader.fail(
            f"field '{field}.n_samples' is {n} but 'fitted.n_samples_seen' is "
            f"{n_images}; whole-image whitening has one row per image."
        )
    packed = d * (d + 1) // 2
    cov = PixelCovariance.__new__(PixelCovariance)
    cov.n_features, cov.dtype, cov.n_samples, cov.exact = d, dtype, n, exact

    def diagonal() -> np.ndarray:  # offsets of G_ii (once the blocks, of
        return np.cumsum(np.r_[0, np.arange(d, 1, -1)])  # d*d values, decoded)

    if not exact:
        if doc["bound"] is not None:
            raise reader.fail(f"field '{field}.bound' must be null for float sums.")
        cov._bound = None
        cov._mean = decode(
            doc["mean"], reader, f"{field}.mean", kinds=("float64",), shape=(d,)
        )
        m2 = decode(
            doc["m2"], reader, f"{field}.m2", kinds=("float64",), shape=(packed,)
        )
        if np.any(m2[diagonal()] < 0):
            raise reader.fail(f"field '{field}.m2' has a negative diagonal entry.")
        cov._m2 = _unpack_upper(m2, d)
        return cov
    bound = doc["bound"]
    if type(bound) is not int or bound not in _BOUNDS or bound < _exact_bound(dtype):
        raise reader.fail(
            f"field '{field}.bound' must be the largest pixel magnitude of a 16-bit "
            f"dtype seen ({sorted(_BOUNDS)}, at least {_exact_bound(dtype)} for "
            f"{dtype}), got {bound!r:.40}."
        )
    kinds = ("float64", "int64", "bigint")
    sums = decode(doc["sum"], reader, f"{field}.sum", kinds=kinds[1:], shape=(d,))
    gram = decode(doc["gram"], reader, f"{field}.gram", kinds=kinds, shape=(packed,))
    if gram.dtype == np.float64:
        if n > _EXACT_FLOAT // bound**2 or np.any(gram != np.round(gram)):
            raise reader.fail(
                f"field '{field}.gram' holds float64 sums that cannot be exact for "
                f"{n} rows; the file was edited or is corrupt."
            )
    if (sums.dtype == object) != (gram.dtype == object):
        raise reader.fail(f"fields '{field}.sum' and '.gram' differ in number type.")
    s = sums.astype(object)
    g = gram[diagonal()]
    g = (g.astype(np.int64) if g.dtype == np.float64 else g).astype(object)
    if not (
        np.all(np.abs(s) <= n * bound)
        and np.all(g >= 0)
        and np.all(g <= n * bound**2)
        and np.all(n * g >= s * s)
    ):
        raise reader.fail(
            f"fields '{field}.sum' and '{field}.gram' are sums that no {n} rows of "
            f"pixels within +/-{bound} have; the file was edited or is corrupt."
        )
    cov._bound = bound
    cov._sum = sums
    cov._gram = _unpack_upper(gram, d)
    return cov


def restore_whitener(
    estimator: Any, fitted: dict, values: dict, reader: Any, shared: set
) -> None:
    """Check the whitener's fields and commit them through the one writer,
    ``_commit``.

    ``values``: the shared fields, read by ``_persist_read._fitted_values``;
    ``shared``: the keys every estimator file has.
    """
    stray = sorted(set(fitted) - set(shared) - WHITENER_KEYS)
    if stray or fitted.get("statistics") is not None:
        raise reader.fail(
            f"field 'fitted.{(stray or ['statistics'])[0]}' is not a PixelWhitener "
            "field (a whitener stores 'covariance')."
        )
    missing = sorted(WHITENER_KEYS - set(fitted))
    if missing:
        raise reader.fail(f"field 'fitted' is missing key(s) {missing}.")
    shape = _image_shape(fitted, estimator, reader)
    c = fitted["n_channels"]
    k = estimator.patch_size
    d = math.prod(shape) if k is None else k * k * c
    if values["n_features_in"] not in (None, math.prod(shape)):
        raise reader.fail(
            f"field 'fitted.n_features_in' is {values['n_features_in']}, but images "
            f"of shape {list(shape)} hold {math.prod(shape)} values."
        )
    cov = read_covariance(
        fitted["covariance"],
        reader,
        d,
        values["n_samples_seen"],
        values["input_dtype"],
        whole=k is None,
    )
    estimator._validate_params()
    estimator._check_params()
    dtype = np.dtype(values["input_dtype"])
    cov.n_images = values["n_samples_seen"]
    estimator.input_image_shape_ = tuple(int(s) for s in shape)
    estimator._fitted_patch_size = k
    estimator._commit(
        input_dtype=dtype, n_images=values["n_samples_seen"], stats=cov, n_channels=c
    )
    estimator.n_features_in_ = values["n_features_in"] or math.prod(shape)
    if values["feature_names_in"] is not None:
        estimator.feature_names_in_ = np.asarray(
            values["feature_names_in"], dtype=object
        )
