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

The map is one expression per namespace: ``torch.addcmul(offset, x, scale)`` on
PyTorch (one fused kernel that reads ``uint8`` and writes ``float32``, followed
by an in-place clamp when clipping), ``astype(x) * scale + offset`` computed in
place elsewhere. Where the NumPy kernel would switch to float64 blocks (inputs
that do not convert exactly, cancelling offsets: ``_kernels.needs_float64``),
the device computes in float64 too when it has it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn import get_config

from .. import _kernels
from .._affine import Affine
from .._layout import channel_index, image_view
from .._stats import PixelStats, is_exact_dtype, iter_blocks
from ._common import check_no_inf, proxy, restore_dtype


def namespace(X: Any) -> tuple[Any, Any]:
    """The array API namespace of ``X`` (``array_api_compat``'s) and its device."""
    import array_api_compat

    return array_api_compat.array_namespace(X), array_api_compat.device(X)


def to_numpy(array: Any) -> np.ndarray:
    """A (small) device array as a NumPy array on the host."""
    if hasattr(array, "detach"):  # PyTorch, on any device
        return array.detach().cpu().numpy()
    if hasattr(array, "get"):  # CuPy
        return np.asarray(array.get())
    try:
        return np.asarray(array)
    except (TypeError, ValueError, RuntimeError):
        return np.from_dlpack(array)


def numpy_dtype(X: Any) -> np.dtype:
    """The NumPy dtype with the name of ``X.dtype`` (ValueError if there is none).

    ``torch.uint8``, ``array_api_strict.uint8`` and CuPy's ``uint8`` all print
    as their namespace and the standard's dtype name.
    """
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
    def stats(X: Any, layout: tuple, per_image: bool = False) -> PixelStats:
        xp, device = namespace(X)
        view = image_view(X, *layout, xp=xp)
        return device_stats(view, xp, device, per_image=per_image, dtype=numpy_dtype(X))

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
    ) -> Any:
        """``clip(X * scale + offset)`` as an array of X's namespace and device.

        ``out``, when given, must be an array of X's namespace with X's shape and
        a float dtype; the result is written into it and returned.
        """
        xp, device = namespace(X)
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
        if _kernels._needs_float64(numpy_dtype(X), out_np, affine.scale, affine.offset):
            if float_dtype(xp, device) == xp.float64:
                work = np.dtype(np.float64)
        n_channels = image_view(proxy(X.shape, np.uint8), *layout).shape[-1]
        index = channel_index(tuple(X.shape[1:]), *_hashable(layout))
        scale, offset = (
            xp.asarray(
                (
                    values.reshape(values.shape[0], -1)[:, index]
                    if per_image
                    else values.reshape(-1)[index][None]
                ).astype(work),
                device=device,
            )
            for values in affine.for_view(n_channels, per_image)
        )
        result = _affine(X, xp, scale, offset, affine.clip, out_np, work)
        if out is None:
            return result
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


def _affine(X, xp, scale, offset, clip, out_np: np.dtype, work_np: np.dtype):
    """``clip(X * scale + offset)`` computed in ``work_np``, returned as ``out_np``."""
    out_xp, work_xp = getattr(xp, out_np.name), getattr(xp, work_np.name)
    if work_xp != out_xp:
        wide = xp.astype(X, work_xp, copy=True)
        wide *= scale
        wide += offset
        if clip is not None:
            wide = xp.clip(wide, *clip)
        return xp.astype(wide, out_xp)
    if xp.isdtype(X.dtype, "real floating") and X.dtype != out_xp:
        X = xp.astype(X, out_xp)
    if "torch" in xp.__name__:
        import torch

        try:
            # One fused kernel: reads X once (uint8 or float), writes the output.
            result = torch.addcmul(offset, X, scale)
        except (RuntimeError, TypeError):  # pragma: no cover - dtypes torch lacks
            result = None
        if result is not None and result.dtype == out_xp:
            if clip is not None:
                result.clamp_(*clip)
            return result
    result = xp.astype(X, out_xp, copy=True)
    result *= scale
    result += offset
    if clip is not None:
        result = xp.clip(result, *clip)
    return result


ARRAY_API = ArrayApiBackend()
# -- statistics on the device ------------------------------------------------------
#: Elements reduced at a time on a device (bounds the int64/float temporaries to
#: 32 MiB and keeps int64 sums of squares of 16-bit pixels below 2**63).
DEVICE_BLOCK = 1 << 22


def device_stats(
    view_: Any, xp, device, *, per_image: bool = False, dtype: np.dtype, acc=None
) -> PixelStats:
    """Statistics of a channels-last ``(n, H, W, C)`` array, computed on its device.

    Parameters
    ----------
    view_ : array of shape (n, H, W, C)
        Channels-last view of the images (any array API namespace).
    xp, device
        Its namespace and device.
    per_image : bool, default=False
        Keep one row of statistics per image (arrays of shape ``(n, C)``).
    dtype : numpy dtype
        NumPy equivalent of ``view_.dtype``.
    acc : xp float dtype, default=None
        Accumulation dtype of float input: default float64 where the device
        supports it, else float32 (the compensated scheme of the module notes).

    Returns
    -------
    stats : PixelStats
        Equal to ``PixelStats.from_view`` on the same pixels in NumPy: to the
        bit for integer pixels of up to 16 bits.
    """
    exact = is_exact_dtype(dtype)
    if not exact and acc is None:
        acc = float_dtype(xp, device)
    n = view_.shape[0]
    rows: list[PixelStats | None] = [None] * (n if per_image else 1)
    for images, rows_slice in iter_blocks(tuple(view_.shape), DEVICE_BLOCK):
        block = view_[images, rows_slice, :, :]
        first_rows = rows_slice.start in (None, 0)
        k = images.stop - images.start
        if exact:
            parts = _block_exact(block, xp, per_image)
        else:
            parts = _block_float(block, xp, device, acc, per_image)
        for r, row in enumerate(parts):
            row["dtype"], row["exact"] = dtype.name, exact
            row["n_images"] = (1 if per_image else k) if first_rows else 0
            stats = PixelStats.from_dict(row)
            slot = images.start + r if per_image else 0
            rows[slot] = (
                stats if rows[slot] is None else rows[slot].merge_inplace(stats)
            )
    if not per_image:
        return rows[0]
    # One row per image, stacked: the layout PixelStats.from_view(per_image=True)
    # gives (a private helper of PixelStats: this is the one place that uses it).
    return PixelStats._concatenate([_as_rows(stats) for stats in rows])


def _as_rows(stats: PixelStats) -> PixelStats:
    """Per-channel (C,) statistics as a one-row (1, C) table."""
    out = stats.copy()
    for name, value in vars(out).items():
        if isinstance(value, np.ndarray):
            setattr(out, name, value.reshape(1, -1))
    return out


def _reduce_axes(per_image: bool) -> tuple[int, ...]:
    return (1, 2) if per_image else (0, 1, 2)


def _block_exact(block, xp, per_image: bool) -> list[dict]:
    """Exact int64 sums of one block, as ``PixelStats.to_dict`` rows."""
    axes = _reduce_axes(per_image)
    wide = xp.astype(block, xp.int64)
    host = to_numpy(
        xp.stack(
            [
                xp.sum(wide, axis=axes),
                xp.sum(wide * wide, axis=axes),
                xp.min(wide, axis=axes),  # on int64: torch has no uint16 min
                xp.max(wide, axis=axes),
            ]
        )
    ).reshape(4, -1, block.shape[-1])
    count = int(np.prod([block.shape[a] for a in axes]))
    return [
        {
            "count": [count] * block.shape[-1],
            "sum": [int(v) for v in host[0, r]],
            "sumsq": [int(v) for v in host[1, r]],
            "min": [float(v) for v in host[2, r]],
            "max": [float(v) for v in host[3, r]],
        }
        for r in range(host.shape[1])
    ]


def _block_float(block, xp, device, acc, per_image: bool) -> list[dict]:
    """Corrected two-pass mean and M2 of one block in ``acc``, as to_dict rows."""
    axes = _reduce_axes(per_image)
    x = xp.astype(block, acc)
    nan = xp.isnan(x)
    has_nan = bool(xp.any(nan))
    if has_nan:
        inf = xp.full((), xp.inf, dtype=acc, device=device)
        low = xp.min(xp.where(nan, inf, x), axis=axes)
        high = xp.max(xp.where(nan, -inf, x), axis=axes)
        x = xp.where(nan, xp.zeros_like(x), x)
        count = xp.sum(xp.astype(~nan, acc), axis=axes, keepdims=True)
    else:
        low, high = xp.min(x, axis=axes), xp.max(x, axis=axes)
        n = int(np.prod([block.shape[a] for a in axes]))
        count = xp.full(
            tuple(1 if a in axes else s for a, s in enumerate(block.shape)),
            float(n),
            dtype=acc,
            device=device,
        )
    safe = xp.maximum(count, xp.ones_like(count))
    mean = xp.sum(x, axis=axes, keepdims=True) / safe
    dev = x - mean
    if has_nan:
        dev = xp.where(nan, xp.zeros_like(dev), dev)
    correction = xp.sum(dev, axis=axes, keepdims=True)
    m2 = xp.sum(dev * dev, axis=axes, keepdims=True) - correction * correction / safe
    mean = mean + correction / safe
    shape = low.shape
    host = (
        to_numpy(
            xp.stack(
                [
                    xp.reshape(count, shape),
                    xp.reshape(mean, shape),
                    xp.reshape(m2, shape),
                    low,
                    high,
                ]
            )
        )
        .astype(np.float64)
        .reshape(5, -1, block.shape[-1])
    )
    rows = []
    for r in range(host.shape[1]):
        count_r = host[0, r].astype(np.int64)
        empty = count_r == 0
        rows.append(
            {
                "count": count_r.tolist(),
                "mean": np.where(empty, np.nan, host[1, r]).tolist(),
                "m2": np.where(empty, 0.0, np.maximum(host[2, r], 0.0)).tolist(),
                "min": np.where(empty, np.nan, host[3, r]).tolist(),
                "max": np.where(empty, np.nan, host[4, r]).tolist(),
            }
        )
    return rows
