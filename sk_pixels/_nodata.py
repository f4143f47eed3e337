"""Which pixels count: nodata sentinels (GDAL's per-band rule) and numpy.ma masks.

Geospatial rasters and microscopy stacks mark missing pixels with a sentinel
(0, -9999, 65535), and masked arrays (:mod:`numpy.ma`) with a mask.  Both
become one boolean *valid* view of a channels-last ``(n, H, W, C)`` view, which
the statistics engine takes as an argument (:func:`sk_pixels._reduce.reduce_view`,
:meth:`PixelStats.from_view`, :meth:`PixelHistogram.from_view`): a pixel value
that is masked, or equal to the sentinel of its channel, is left out of that
channel's statistics, and only of that channel's, so each channel keeps its own
exact pixel count.

*Equal* is NumPy's ``==`` between the pixel and the sentinel as a Python
number: a sentinel that no pixel of the dtype can hold (``-9999`` or ``2.5``
for ``uint8``, NaN for integers) matches nothing; a float sentinel is compared
in the pixels' float dtype (``0.1`` matches ``float32(0.1)``); NaN as the
sentinel of float pixels means "NaN is nodata" (NaN pixels are always left out
of the statistics).  ``sk_pixels.io.dataset_stats(..., nodata=)`` and the
estimators' ``nodata`` parameter share these helpers.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

import numpy as np

from ._layout import image_view
from ._xp import numpy_dtype


def check_nodata(
    nodata: Any, n_channels: int | None, units: str = "in pixel units of the mode"
) -> tuple[float, ...] | None:
    """``nodata`` as a tuple of one value or one per channel (None stays None).

    ``n_channels`` None: any length is accepted here (checked per image later).
    Raises a ValueError that names the value and the forms accepted.

    Examples
    --------
    >>> check_nodata(0, 3), check_nodata([0, 255, 7.5], 3)
    ((0,), (0, 255, 7.5))
    """
    if nodata is None:
        return None
    if isinstance(nodata, np.ndarray) and nodata.ndim == 0:
        nodata = nodata.item()
    values = (nodata,) if isinstance(nodata, Real) else nodata
    if isinstance(values, str | bytes):
        values = None
    try:
        values = tuple(values.tolist() if hasattr(values, "tolist") else values)
    except TypeError:
        values = None
    if (
        not values
        or any(isinstance(v, bool | np.bool_) for v in values)
        or not all(isinstance(v, Real) for v in values)
        or (len(values) != 1 and n_channels is not None and len(values) != n_channels)
    ):
        per = f"or {n_channels} numbers, one per channel" if n_channels else "or a list"
        raise ValueError(
            f"nodata must be a number {per} ({units}). Got nodata={nodata!r:.80}."
        )
    return tuple(
        int(v) if isinstance(v, int | np.integer) else float(v) for v in values
    )


def per_channel(nodata: tuple, channels: int) -> tuple:
    """One sentinel per channel (a single value serves every channel)."""
    if len(nodata) not in (1, channels):
        raise ValueError(
            f"nodata has {len(nodata)} values but the images have {channels} "
            f"channels. Pass one value, or one per channel. Got nodata={nodata!r}."
        )
    return nodata * channels if len(nodata) == 1 else nodata


def _can_hold(dtype: np.dtype, value: float) -> bool:
    """Whether a pixel of ``dtype`` (integer or float: validated pixels) can equal
    ``value`` (so comparing is needed)."""
    if dtype.kind == "f":  # a finite sentinel beyond the range would round to inf
        try:
            largest = float(np.finfo(dtype).max)
            return not math.isfinite(value) or abs(float(value)) <= largest
        except OverflowError:  # an int beyond every float
            return False
    if isinstance(value, float) and (math.isnan(value) or not value.is_integer()):
        return False
    info = np.iinfo(dtype)
    return int(info.min) <= int(value) <= int(info.max)


def _matcher(dtype: np.dtype, sentinel: float):
    """``"nan"``, the sentinel itself, or None when no pixel of ``dtype`` equals it."""
    if isinstance(sentinel, float) and math.isnan(sentinel):
        return "nan" if dtype.kind == "f" else None
    return sentinel if _can_hold(dtype, sentinel) else None


def invalid_of(X: Any, nodata: tuple | None, index: Any, xp: Any = np, mask=None):
    """Boolean array of X's shape: True where a value is masked or nodata.

    ``X`` is an array of namespace ``xp`` in any layout, ``index`` the channel
    of each value (:func:`sk_pixels._layout.channel_index`, or
    ``numpy.arange(C)`` for a channels-last view), broadcastable against X;
    ``mask`` (None, or a boolean array of X's shape) is OR-ed in.  One pass
    over X per distinct sentinel.  None when nothing is left out (no sentinel
    that a pixel can equal, no mask), so callers keep their unmasked paths.
    """
    if nodata is None:
        return mask
    index = np.asarray(index)
    channels = int(index.max()) + 1
    dtype = numpy_dtype(X)
    # A mean image has a "channel" per value of an image: the sentinels are
    # grouped by value with dict lookups and one array of codes, never a
    # Python loop over the channels.
    values = nodata if len(nodata) == 1 else per_channel(nodata, channels)
    sentinels = list(dict.fromkeys(values))  # the distinct ones, in order
    keys = [_matcher(dtype, sentinel) for sentinel in sentinels]
    code = None
    if len(sentinels) > 1:  # the sentinel of each channel, as its position
        lookup = {sentinel: i for i, sentinel in enumerate(sentinels)}
        code = np.fromiter(map(lookup.__getitem__, values), np.intp, channels)
    invalid = None
    fresh = isinstance(X, np.ndarray)  # comparisons give new NumPy arrays
    for key in dict.fromkeys(k for k in keys if k is not None):
        hit = xp.isnan(X) if key == "nan" else X == key
        mine = np.asarray([k is not None and k == key for k in keys])
        if code is not None and not mine[code].all():  # some channels only
            picked = mine[code][index]
            if xp is not np:
                import array_api_compat

                picked = xp.asarray(picked, device=array_api_compat.device(X))
            hit = np.logical_and(hit, picked, out=hit) if fresh else hit & picked
        invalid = hit if invalid is None else _or(invalid, hit, fresh)
    if invalid is None or mask is None:
        return mask if invalid is None else invalid
    return _or(invalid, mask, fresh)


def _or(invalid: Any, other: Any, fresh: bool) -> Any:
    """``invalid | other``, in place in a NumPy array made here (no new pass
    over memory that the kernel would page-fault for a large batch)."""
    return np.logical_or(invalid, other, out=invalid) if fresh else invalid | other


def check_valid(valid: Any, view: Any) -> Any:
    """Refuse a ``valid`` argument that is not a boolean array of ``view``'s shape.

    Any other shape would be reshaped onto the view block by block (values
    misaligned), and other dtypes read differently by the kernels.
    """
    if valid is None:
        return None
    shape = tuple(getattr(valid, "shape", ()))
    dtype = getattr(valid, "dtype", None)
    if shape != tuple(view.shape) or "bool" not in str(dtype):
        raise ValueError(
            f"valid must be a boolean array of the view's shape "
            f"{tuple(view.shape)}; got shape {shape} and dtype {dtype}. Pass e.g. "
            "view != nodata, or numpy.broadcast_to(mask, view.shape) for a mask "
            "that broadcasts."
        )
    return valid


def masked_view(X: Any, layout: tuple, nodata: tuple | None, xp: Any = np):
    """``(view, valid)``: the channels-last view of validated X, and which of
    its values count (None: all of them).

    A NumPy masked array gives the view of its data (validated: finite under
    the mask) and leaves its masked values out; ``nodata`` leaves out the
    values equal to the sentinel of their channel.
    """
    mask = None
    if isinstance(X, np.ma.MaskedArray):
        X, mask = np.ma.getdata(X), np.ma.getmaskarray(X)
    view = image_view(X, *layout, xp=xp)
    if mask is not None:
        mask = image_view(mask, *layout)
    invalid = invalid_of(view, nodata, np.arange(view.shape[-1]), xp, mask)
    if invalid is None or invalid is mask or not isinstance(invalid, np.ndarray):
        return view, None if invalid is None else ~invalid  # never X's own mask
    return view, np.logical_not(invalid, out=invalid)


def split_masked(X: Any) -> tuple[Any, Any]:
    """``(data, mask)`` of a NumPy masked array (mask None for other arrays).

    ``data`` is a plain ndarray in which masked float values are replaced by
    0, so that nothing hidden under the mask (inf, NaN, huge values) reaches
    validation or a kernel; integer data is X's own (every integer is a
    valid pixel; the kernels leave masked values out).  ``mask`` is the full
    boolean mask.  ``data`` may share memory with X: never write into it.
    """
    if not isinstance(X, np.ma.MaskedArray):
        return X, None
    mask = np.ma.getmaskarray(X)
    data = np.ma.getdata(X)
    if data.dtype.kind not in "uib":
        data = np.where(mask, data.dtype.type(0), data)
    return data, mask


def check_fill(fill: float, dtype: Any) -> None:
    """Refuse a ``nodata_fill`` that the output dtype turns into inf."""
    info = np.finfo(np.dtype(dtype))
    if abs(fill) > float(info.max):
        raise ValueError(
            f"nodata_fill={fill!r} does not fit in the {np.dtype(dtype)} output "
            f"(largest {float(info.max):g}). Pass a smaller nodata_fill, or "
            "dtype='float64'."
        )


def refuse_foreign_mask(X: Any) -> None:
    """Refuse a masked array of another library (``torch.masked.MaskedTensor``).

    The Array API has no masked array, so such a mask could only be ignored
    (wrong statistics) or crash deep inside the library: say so instead.
    """
    if isinstance(X, np.ndarray) or not callable(getattr(X, "get_mask", None)):
        return
    raise TypeError(
        f"X is a {type(X).__name__}, a masked array that sk_pixels cannot read "
        "(the Array API has no masked array). Pass its data with the masked "
        "values set to a sentinel and nodata=<sentinel> (e.g. X.get_data() after "
        "filling), or a numpy.ma.MaskedArray."
    )
