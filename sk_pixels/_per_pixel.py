"""Mean and std images: ``per_pixel=True`` on PixelCenterer and PixelStandardizer.

Per-pixel statistics are the per-channel statistics of the batch seen as
``(n, 1, 1, D)``: each of the ``D`` values of one image (a position and a
channel, in the input's own memory order) is a "channel" of its own.  The one
statistics engine then reduces over the image axis only, with its existing
kernels: exact integer sums for pixels of up to 16 bits (to the bit for any
batch split), float64 moments with Chan et al.'s merge otherwise, Dask's
per-chunk statistics merged in a tree, Array API blocks on their device.  The
transform is the same centred kernel with ``D`` per-"channel" coefficients,
so the accuracy bound of :mod:`sk_pixels._kernels` holds value by value.

:class:`PositionBackend` wraps the backend of the input (NumPy, Dask, Array
API) so that the estimators' protocol in :mod:`sk_pixels._base` runs
unchanged; :class:`_PerPixelMixin` holds the estimators' per-pixel rules
(shapes, scopes, pooling over channels at each position).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._affine import Affine
from ._layout import _normalize_axis
from ._xp import namespace_of


def pixel_layout(
    shape_in: tuple[int, ...], channel_axis: int | None, image_shape
) -> tuple[tuple[int, ...], int | None]:
    """``(shape of one image, its channel axis or None)`` in the input's layout.

    Flattened 2-D input is read as ``image_shape`` when given, else as
    ``n_features`` values of no channel axis (like scikit-learn's scalers).

    Examples
    --------
    >>> pixel_layout((3, 8, 8), 1, None)  # channel_axis=1: (C, H, W)
    ((3, 8, 8), 0)
    >>> pixel_layout((8, 8), -1, None)  # grayscale (n, H, W)
    ((8, 8), None)
    >>> pixel_layout((12,), -1, (2, 2, 3))
    ((2, 2, 3), 2)
    """
    shape = tuple(int(s) for s in shape_in)
    if len(shape) == 1 and image_shape is not None:
        shape = tuple(int(s) for s in image_shape)
    if len(shape) <= 2 or channel_axis is None:
        return shape, None
    return shape, _normalize_axis(channel_axis, len(shape) + 1, shape) - 1


def reshaped(stats: Any, shape: tuple[int, ...]) -> Any:
    """``stats`` (a PixelStats) with its arrays reshaped to ``shape``: the
    per-"channel" statistics of ``(n, 1, 1, D)`` as those of each position."""
    shape = tuple(shape)
    return type(stats)._make(
        stats.input_dtype,
        stats.n_images,
        stats._moments.reshape(shape),
        stats.min.reshape(shape),
        stats.max.reshape(shape),
    )


def _flat(X: Any, size: int) -> Any:
    """``X`` of shape ``(n, *image)`` as ``(n, size)``, in its own namespace."""
    if isinstance(X, np.ndarray):
        return X.reshape(-1, size)
    if hasattr(X, "dask"):
        return _dask_reshape(X, (size,))
    return namespace_of(X).reshape(X, (-1, size))


def _dask_reshape(X: Any, image: tuple[int, ...]) -> Any:
    """A Dask array ``(n, ...)`` with each image reshaped to ``image``, chunk by
    chunk of whole images (the number of images may be unknown)."""
    from ._backends._dask import _whole_images

    whole = _whole_images(X)
    return whole.map_blocks(
        lambda block: block.reshape(block.shape[0], *image),
        chunks=(whole.chunks[0], *((s,) for s in image)),
        drop_axis=list(range(1 + len(image), X.ndim)),
        new_axis=list(range(X.ndim, 1 + len(image))),
        dtype=X.dtype,
    )


def flat_values(values: Any, shape: tuple[int, ...], channel_axis) -> np.ndarray:
    """Per-pixel values (of ``shape``, or pooled: without its channel axis)
    broadcast over ``shape`` and flattened in C order (float64)."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim and values.ndim < len(shape) and channel_axis is not None:
        values = np.expand_dims(values, channel_axis)
    return np.broadcast_to(values, shape).reshape(-1)


def flat_affine(affine: Affine, shape: tuple[int, ...], channel_axis) -> Affine:
    """The per-pixel map with its coefficients broadcast over ``shape``, flattened.

    Coefficients of the pooled form (``per_channel=False``) miss the channel
    axis and are broadcast along it.
    """

    def flat(values) -> np.ndarray:
        return flat_values(values, shape, channel_axis)

    out = Affine(flat(affine.scale), flat(affine.offset), affine.clip)
    out.center, out.base = flat(affine.center), flat(affine.base)
    return out


class PositionBackend:
    """A backend (NumPy, Dask, Array API) seen with each image value a channel.

    ``stats`` returns statistics of the image's shape; ``apply`` takes a map
    whose coefficients have the image's shape (or lack its channel axis).
    Everything else is the wrapped backend's.
    """

    def __init__(self, inner: Any, shape: tuple[int, ...], channel_axis) -> None:
        self.inner = inner
        self.shape = shape
        self.channel_axis = channel_axis
        self.size = int(np.prod(shape))
        #: The layout of the flattened batch: one row of ``size`` channels.
        self.layout = (-1, (1, 1, self.size))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def positions(self, nodata: tuple | None) -> tuple | None:
        """``nodata`` (one value, or one per channel) as one value per position."""
        if nodata is None or len(nodata) == 1:
            return nodata
        values = np.asarray(nodata, dtype=object)
        where = [1] * len(self.shape)
        where[self.channel_axis] = len(nodata)
        return tuple(np.broadcast_to(values.reshape(where), self.shape).ravel())

    def stats(self, X: Any, layout: tuple, per_image: bool = False, nodata=None):
        flat = _flat(X, self.size)
        stats = self.inner.stats(flat, self.layout, nodata=self.positions(nodata))
        return reshaped(stats, self.shape)

    def apply(
        self,
        X: Any,
        affine: Affine,
        out_dtype: np.dtype,
        layout: tuple,
        *,
        per_image: bool = False,
        out: Any = None,
        check_max=None,
        nodata=None,
        fill: float = 0.0,
    ) -> Any:
        flat = flat_affine(affine, self.shape, self.channel_axis)
        flat_out = None
        if isinstance(out, np.ndarray):
            from ._kernels import check_out

            out = check_out(out, tuple(X.shape), X)
            out_dtype = out.dtype
            # A view, or nothing: a reshape that copies would lose the result
            # (a C-contiguous array always reshapes to a view).
            if out.flags.c_contiguous:
                flat_out = out.reshape(out.shape[0], self.size)
        elif out is not None and self.inner.name == "dask":
            flat_out = out  # refused by the Dask backend, with its message
        elif out is not None:  # a device array: checked, then written whole
            from ._backends._array_api import _check_out

            out_dtype = _check_out(out, X, namespace_of(X))
        result = self.inner.apply(
            _flat(X, self.size),
            flat,
            out_dtype,
            self.layout,
            out=flat_out,
            check_max=check_max,
            nodata=self.positions(nodata),
            fill=fill,
        )
        if flat_out is not None:
            return out
        if hasattr(result, "dask"):
            shaped = _dask_reshape(result, tuple(X.shape[1:]))
        elif isinstance(result, np.ndarray):
            shaped = result.reshape(X.shape)
        else:
            shaped = namespace_of(result).reshape(result, tuple(X.shape))
        if out is None:
            return shaped
        if isinstance(out, np.ndarray):
            np.copyto(out, shaped)  # out's strides allow no flat view
        else:
            out[...] = shaped  # (a device reshape may copy: never write through one)
        return out


class _PerPixelMixin:
    """The per-pixel rules of PixelCenterer and PixelStandardizer.

    With ``per_pixel=True`` the validated batch comes with a
    :class:`PositionBackend`, so that fitting and transforming run the base's
    protocol unchanged; this mixin adds the shape rules (one image size) and
    the pooling over channels at each position (``per_channel=False``).
    """

    def _per_pixel(self) -> bool:
        return bool(getattr(self, "per_pixel", False))

    def _check_params(self) -> None:
        super()._check_params()
        if not self._per_pixel():
            return
        name = type(self).__name__
        if self.scope == "image":
            raise ValueError(
                f"per_pixel=True learns one statistic per pixel position over many "
                f"images, but scope='image' computes the statistics of each image "
                f"alone, whose mean image is the image itself (every output 0). Use "
                f"scope='dataset' (a mean image of the training set) or "
                f"scope='batch' with per_pixel=True. Got scope={self.scope!r}."
            )
        fixed = [p for p in self._STAT_PARAMS if getattr(self, p) is not None]
        if fixed:
            raise ValueError(
                f"per_pixel=True learns a mean image, but {fixed[0]}="
                f"{getattr(self, fixed[0])!r:.60} fixes per-channel statistics. Use "
                f"{name}(per_pixel=False) with fixed statistics, or leave "
                f"{fixed[0]}=None to learn them per pixel."
            )

    def _reset(self) -> None:
        super()._reset()
        self.__dict__.pop("pixel_shape_", None)
        self.__dict__.pop("_pixel_axis", None)

    def _validate(self, X, *, reset: bool, fitting: bool, check_names: bool = True):
        backend, data, dtype = super()._validate(
            X, reset=reset, fitting=fitting, check_names=check_names
        )
        fitted = not reset and self._learns() and hasattr(self, "stats_")
        if fitted and self._per_pixel() != hasattr(self, "pixel_shape_"):
            raise ValueError(
                f"{type(self).__name__} was fitted with per_pixel="
                f"{not self._per_pixel()}, but per_pixel is now {self._per_pixel()}: "
                "the statistics describe "
                f"{'channels' if self._per_pixel() else 'pixel positions'}. Call fit "
                "again after changing per_pixel."
            )
        if not self._per_pixel():
            return backend, data, dtype
        shape, axis = pixel_layout(tuple(data.shape[1:]), *self._layout())
        if reset:
            self.pixel_shape_, self._pixel_axis = shape, axis
        elif self.scope == "dataset" and getattr(self, "_pixel_axis", axis) != axis:
            # The mean image is in the layout of fit: a channel axis moved by
            # set_params would misplace every position (silently where the
            # image's shape reads the same, e.g. 3x3x3).
            raise ValueError(
                f"{type(self).__name__}(per_pixel=True) learned its mean image with "
                f"the channel axis at position {self._pixel_axis} of images of "
                f"shape {self.pixel_shape_}, but channel_axis={self.channel_axis!r}"
                f" (image_shape={self.image_shape!r}) now puts it at {axis}. Set "
                "the layout of fit back, or call fit again."
            )
        elif (
            self.scope == "dataset"
            and hasattr(self, "pixel_shape_")
            and shape != self.pixel_shape_
        ):
            raise ValueError(
                f"X holds images of shape {shape}, but {type(self).__name__}"
                f"(per_pixel=True) was fitted on images of shape "
                f"{self.pixel_shape_}: a mean image applies to images of its own "
                f"size. Resize or crop the images to {self.pixel_shape_}, or use "
                "per_pixel=False for statistics that apply to any size."
            )
        return PositionBackend(backend, shape, axis), data, dtype

    def _channel_axis_of(self, shape: tuple[int, ...]) -> int | None:
        return pixel_layout(shape, *self._layout())[1]

    def _pool(self, stats):
        """Per-channel statistics, or pooled over the channel axis at each
        position (that axis dropped: the shape of ``mean_``)."""
        if stats is None or not self._per_pixel() or self.per_channel:
            return super()._pool(stats)
        shape = stats.min.shape
        axis = self._channel_axis_of(shape)
        if axis is None:
            return stats
        return reshaped(stats.pooled(axis), shape[:axis] + shape[axis + 1 :])

    def _fitted_stat(self, values: np.ndarray) -> np.ndarray:
        return values if self._per_pixel() else super()._fitted_stat(values)

    def fit_stats(self, stats, *, max_value=None, histogram=None):
        """Fit from precomputed :class:`PixelStats` (e.g. from ``dataset_stats``).

        Equivalent to :meth:`fit` on the pixels the statistics were computed
        on. Refused with ``per_pixel=True``: a mean image is learned from the
        images (``fit``, ``partial_fit``).

        Parameters
        ----------
        stats : PixelStats
            Statistics of the training pixels.
        max_value : float, default=None
            Domain maximum of the pixels (finite, > 0); default resolves
            ``self.max_value`` for the statistics' input dtype.
        histogram : PixelHistogram, default=None
            Histogram of the same pixels; required with ``quantile_range``
            and ``scope="dataset"``.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        if self._per_pixel():
            raise ValueError(
                f"{type(self).__name__}(per_pixel=True) learns a mean image from "
                "the images themselves, but fit_stats takes per-channel PixelStats. "
                "Call fit or partial_fit with the images, or use per_pixel=False."
            )
        return super().fit_stats(stats, max_value=max_value, histogram=histogram)
