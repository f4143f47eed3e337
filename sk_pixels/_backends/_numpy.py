"""The NumPy backend: blocked kernels on the host, writing through layout views."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import _kernels
from .._affine import Affine
from .._layout import channel_index, image_view
from .._nodata import check_fill, invalid_of, masked_view, split_masked
from .._stats import PixelStats
from ._common import nanmax, raise_on_overflow, restore_dtype


class NumpyBackend:
    """NumPy arrays (and whatever ``check_array`` converts to one)."""

    name = "numpy"
    #: Whether results are computed when the method returns (not a lazy graph).
    eager = True

    @staticmethod
    def stand_in(X: Any) -> Any:
        """The input itself: ``check_array`` validates and converts it whole."""
        return X

    @staticmethod
    def dtype(X: np.ndarray) -> np.dtype:
        return X.dtype

    @staticmethod
    def check_values(X: np.ndarray, dtype: np.dtype) -> None:
        """Nothing: ``check_array`` has checked the values of NumPy input."""

    @staticmethod
    def stats(
        X: np.ndarray, layout: tuple, per_image: bool = False, nodata=None
    ) -> PixelStats:
        """Statistics of X, without its masked (``numpy.ma``) or nodata values."""
        view, valid = masked_view(X, layout, nodata)
        with np.errstate(over="ignore", invalid="ignore"):  # checked at commit
            return PixelStats.from_view(view, per_image=per_image, valid=valid)

    @staticmethod
    def maximum(X: np.ndarray) -> float:
        return nanmax(X)

    @staticmethod
    def n_images(X: np.ndarray) -> int:
        return int(X.shape[0])

    @staticmethod
    def apply(
        X: np.ndarray,
        affine: Affine,
        out_dtype: np.dtype,
        layout: tuple,
        *,
        per_image: bool = False,
        out: np.ndarray | None = None,
        check_max: Callable[[float], None] | None = None,
        nodata: tuple | None = None,
        fill: float = 0.0,
    ) -> np.ndarray:
        """``clip((X - center) * scale + base)`` in ``out_dtype`` (or into ``out``).

        Masked (``numpy.ma``) and nodata values are written as ``fill``; a
        masked X gives a masked result with X's mask.
        """
        if nodata is not None or isinstance(X, np.ma.MaskedArray):
            return _apply_valid(
                X, affine, out_dtype, layout, per_image, out, check_max, nodata, fill
            )
        if out is None:
            out = np.empty(X.shape, dtype=out_dtype)
        else:
            out = _kernels.check_out(out, X.shape, X)
        src, dst = image_view(X, *layout), image_view(out, *layout)
        if dst.size and not np.may_share_memory(dst, out):
            # Odd strides that no view can fold (a caller's out): compute in a
            # contiguous buffer, then write it back in out's layout.
            result = NumpyBackend.apply(
                X, affine, out.dtype, layout, per_image=per_image, check_max=check_max
            )
            np.copyto(out, result)
            return out
        with raise_on_overflow(out.dtype):
            scale, center, base = affine.centered_for_view(src.shape[-1], per_image)
            observed = _kernels.affine(
                src,
                dst,
                scale,
                base,
                affine.clip,
                track_max=check_max is not None,
                center=center,
            )
        if check_max is not None:
            check_max(observed)
        return out

    @staticmethod
    def as_float(X: np.ndarray) -> np.ndarray:
        """X in float32/float64 (other dtypes as float64), for inverse_transform."""
        return X if X.dtype in (np.float32, np.float64) else X.astype(np.float64)

    @staticmethod
    def restore(Y: np.ndarray, dtype: np.dtype) -> np.ndarray:
        data, mask = split_masked(Y)
        restored = restore_dtype(data, dtype)
        return restored if mask is None else np.ma.MaskedArray(restored, mask=mask)


def _apply_valid(X, affine, out_dtype, layout, per_image, out, check_max, nodata, fill):
    """The map of X's valid values; masked and nodata values become ``fill``.

    Invalid values are replaced by 0 before the map (a sentinel such as
    ``-3.4e38`` would overflow it), then by ``fill`` in the result.
    """
    data, mask = split_masked(X)
    index = channel_index(data.shape[1:], layout[0], _shape(layout[1]))
    invalid = invalid_of(data, nodata, index, np, mask)
    if nodata is not None and invalid is not None:  # a copy: X is never written
        data = np.where(invalid, data.dtype.type(0), data)
    result = NumpyBackend.apply(
        data,
        affine,
        out_dtype,
        layout,
        per_image=per_image,
        out=out,
        check_max=check_max,
    )
    if invalid is not None:
        check_fill(fill, result.dtype)
        np.copyto(result, fill, where=invalid, casting="unsafe")
    return result if mask is None else np.ma.MaskedArray(result, mask=mask)


def _shape(image_shape):
    return None if image_shape is None else tuple(image_shape)


NUMPY = NumpyBackend()
