"""The Array API backend: PyTorch, CuPy, array_api_strict arrays, on their device.

With ``sklearn.set_config(array_api_dispatch=True)`` (or inside
``sklearn.config_context(array_api_dispatch=True)``), the estimators accept any
array of a namespace that ``array-api-compat`` supports and compute where the
array lives: a CUDA tensor is reduced and scaled on its GPU, never copied to the
host. Outputs are arrays of the input's namespace, on its device.

Fitted statistics stay on the host, as NumPy float64 and an exact
:class:`~sk_pixels.PixelStats`: a few numbers per channel, which lets one fitted
estimator serve every namespace (fit on NumPy, transform CUDA tensors; fit on a
GPU, save as JSON, transform NumPy). Each transform sends its per-channel
coefficients to the device as two small arrays shaped to broadcast against the
batch in its own layout (the batch is never transposed).

The map is the NumPy kernel's centred form ``(x - c_hi) * scale + base'`` with
the same coefficients (``_kernels.split_center``): on PyTorch ``torch.sub(x,
c_hi)`` (reads ``uint8``, writes ``float32``) then ``torch.addcmul`` in place
(and an in-place clamp when clipping); ``astype(x)``, ``-=``, ``*=``, ``+=``
elsewhere.  Where the NumPy kernel switches to float64 blocks (inputs that do
not convert exactly, coefficients beyond float32: ``_kernels._needs_float64``),
the device computes in float64 too when it has it.  The result is computed
into a new array before any ``out=`` is written, so ``out`` may overlap ``X``
in any way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn import get_config

from .. import _kernels
from .._affine import Affine
from .._layout import channel_index, image_view
from .._nodata import check_fill, invalid_of, masked_view
from .._stats import PixelStats
from .._xp import float_dtype, numpy_dtype, to_numpy  # noqa: F401 (to_numpy: re-export)
from ._common import check_no_inf, proxy, restore_dtype


def namespace(X: Any) -> tuple[Any, Any]:
    """The array API namespace of ``X`` (``array_api_compat``'s) and its device."""
    import array_api_compat

    return array_api_compat.array_namespace(X), array_api_compat.device(X)


class ArrayApiBackend:
    """Arrays of a non-NumPy Array API namespace, with dispatch switched on."""

    name = "array_api"
    eager = True

    @staticmethod
    def matches(X: Any) -> bool:
        """Dispatch on, and ``X`` an Array API array that is neither NumPy nor Dask.

        NumPy input keeps the NumPy path (with or without dispatch), and without
        dispatch every input keeps scikit-learn's usual conversion.
        """
        if isinstance(X, np.ndarray) or not get_config()["array_api_dispatch"]:
            return False
        try:
            import array_api_compat
        except ImportError:  # pragma: no cover - scikit-learn checks it at set_config
            return False
        return (
            array_api_compat.is_array_api_obj(X)
            and not array_api_compat.is_numpy_array(X)
            and not array_api_compat.is_dask_array(X)
        )

    @staticmethod
    def stand_in(X: Any) -> np.ndarray:
        return proxy(X.shape, numpy_dtype(X))

    @staticmethod
    def dtype(X: Any) -> np.dtype:
        return numpy_dtype(X)

    @staticmethod
    def check_values(X: Any, dtype: np.dtype) -> None:
        check_no_inf(X, namespace(X)[0], dtype)

    @staticmethod
    def stats(
        X: Any, layout: tuple, per_image: bool = False, nodata=None
    ) -> PixelStats:
        """Statistics on X's device, nodata values left out (a ``valid`` mask)."""
        view, valid = masked_view(X, layout, nodata, xp=namespace(X)[0])
        return PixelStats.from_view(view, per_image=per_image, valid=valid)

    @staticmethod
    def maximum(X: Any) -> float:
        xp, device = namespace(X)
        value = float(xp.max(X))
        if value != value:  # NaN: some pixels are NaN
            low = xp.full((), -xp.inf, dtype=X.dtype, device=device)
            value = float(xp.max(xp.where(xp.isnan(X), low, X)))
            value = np.nan if value == -np.inf else value
        return value

    @staticmethod
    def n_images(X: Any) -> int:
        return int(X.shape[0])

    def apply(
        self,
        X: Any,
        affine: Affine,
        out_dtype: np.dtype,
        layout: tuple,
        *,
        per_image: bool = False,
        out: Any = None,
        check_max: Callable[[float], None] | None = None,
        nodata: tuple | None = None,
        fill: float = 0.0,
    ) -> Any:
        """``clip(X * scale + offset)`` as an array of X's namespace and device.

        ``out``, when given, must be an array of X's namespace with X's shape and
        a float dtype; the result is written into it and returned.  Values equal
        to the ``nodata`` of their channel are written as ``fill`` (there is no
        standard masked array: masks come from ``nodata`` here, via ``where``).
        """
        xp, device = namespace(X)
        if nodata is not None:
            index = channel_index(tuple(X.shape[1:]), *_hashable(layout))
            invalid = invalid_of(X, nodata, index, xp)
            if invalid is not None:
                if out is not None:
                    out_dtype = _check_out(out, X, xp)
                zero = xp.zeros((), dtype=X.dtype, device=device)
                result = self.apply(
                    xp.where(invalid, zero, X),  # a sentinel never reaches the map
                    affine,
                    out_dtype,
                    layout,
                    per_image=per_image,
                    check_max=check_max,
                )
                check_fill(fill, numpy_dtype(result))
                value = xp.full((), fill, dtype=result.dtype, device=device)
                result = xp.where(invalid, value, result)
                if out is None:
                    return result
                out[...] = result
                return out
        if check_max is not None:
            check_max(self.maximum(X))
        if out is not None:
            out_dtype = _check_out(out, X, xp)
        out_np = np.dtype(out_dtype)
        if out_np == np.float64 and float_dtype(xp, device) != xp.float64:
            raise ValueError(
                f"The output dtype is float64, but device {device!r} has no float64. "
                "Pass dtype='float32' (or give float32 input)."
            )
        work = out_np
        coefficients = affine.centered_for_view(
            image_view(proxy(X.shape, np.uint8), *layout).shape[-1], per_image
        )
        if _kernels._needs_float64(numpy_dtype(X), out_np, *_fused(coefficients)):
            if float_dtype(xp, device) == xp.float64:
                work = np.dtype(np.float64)
        # The centred form of the NumPy kernel, with its coefficients rounded
        # the same way: (X - c_hi) * scale + base' (see _kernels.split_center).
        scale, center, base = _kernels.split_center(*coefficients, work)
        index = channel_index(tuple(X.shape[1:]), *_hashable(layout))
        scale, center, base = (
            xp.asarray(
                (
                    values.reshape(values.shape[0], -1)[:, index]
                    if per_image
                    else values.reshape(-1)[index][None]
                ).astype(work),
                # An explicit dtype: array-api-strict 2.6 casts an array given
                # with a device but no dtype to the device's default float.
                dtype=getattr(xp, work.name),
                device=device,
            )
            for values in (scale, center, base)
        )
        result = _affine(X, xp, scale, center, base, affine.clip, out_np, work)
        if out is None:
            return result
        # result never shares memory with X: writing it into out cannot change
        # what was read, whatever out overlaps.
        out[...] = result
        return out

    @staticmethod
    def as_float(X: Any) -> Any:
        """X as float32/float64 (other dtypes as the device's widest float)."""
        if numpy_dtype(X) in (np.float32, np.float64):
            return X
        xp, device = namespace(X)
        return xp.astype(X, float_dtype(xp, device))

    @staticmethod
    def restore(Y: Any, dtype: np.dtype) -> Any:
        return restore_dtype(Y, dtype, namespace(Y)[0])


def _hashable(layout: tuple) -> tuple:
    channel_axis, image_shape = layout
    return channel_axis, None if image_shape is None else tuple(image_shape)


def _check_out(out: Any, X: Any, xp: Any) -> np.dtype:
    """Validate ``out=`` for a device array and return its (NumPy) dtype."""
    import array_api_compat

    if not array_api_compat.is_array_api_obj(out) or (
        array_api_compat.array_namespace(out) is not xp
    ):
        raise TypeError(
            f"out must be an array of X's namespace ({xp.__name__}), got "
            f"{type(out).__name__}. Allocate one with xp.empty(X.shape, "
            "dtype=xp.float32, device=X.device)."
        )
    if tuple(out.shape) != tuple(X.shape):
        raise ValueError(
            f"out has shape {tuple(out.shape)}, but the output has shape "
            f"{tuple(X.shape)}. Pass an array of X's shape."
        )
    dtype = numpy_dtype(out)
    if dtype.kind != "f":
        raise ValueError(
            f"out has dtype {dtype}, but scaled pixels are float. Pass a float32 "
            "or float64 array."
        )
    return dtype


def _fused(coefficients):
    """``(scale, offset, center)`` of a centred ``(scale, center, base)``."""
    scale, center, base = coefficients
    return scale, base, center


def _affine(X, xp, scale, center, base, clip, out_np: np.dtype, work_np: np.dtype):
    """``clip((X - center) * scale + base)`` computed in ``work_np``, as ``out_np``.

    The result is always a new array (never a view of ``X``).
    """
    out_xp, work_xp = getattr(xp, out_np.name), getattr(xp, work_np.name)
    if xp.isdtype(X.dtype, "real floating") and X.dtype != work_xp:
        X = xp.astype(X, work_xp)
    if "torch" in xp.__name__ and work_xp == out_xp:
        import torch

        # Two kernels: the subtraction reads X (uint8 or float) and writes the
        # output dtype; addcmul scales and shifts it in place.
        result = torch.sub(X, center)
        if result.dtype == out_xp and result.data_ptr() != X.data_ptr():
            torch.addcmul(base, result, scale, out=result)
            if clip is not None:
                result.clamp_(*clip)
            return result
    result = xp.astype(X, work_xp, copy=True)
    result -= center
    result *= scale
    result += base
    if clip is not None:
        result = xp.clip(result, *clip)
    return result if work_xp == out_xp else xp.astype(result, out_xp)


ARRAY_API = ArrayApiBackend()
