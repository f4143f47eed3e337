"""PixelStats: the exact, mergeable per-channel statistics behind every estimator.

Two accumulation modes, chosen by the input dtype:

* **Exact** (integer pixels of at most 16 bits: ``uint8``, ``uint16``, ``int8``,
  ``int16``).  Counts, sums and sums of squares are Python integers, so they
  never overflow and never round.  The mean ``sum / count`` and the variance
  ``(count * sumsq - sum**2) / (count * (count - ddof))`` are exact rationals
  rounded once to float64 (Python's integer true division is correctly rounded),
  so the fitted statistics are identical to the bit whatever the order or the
  partition of the batches, and whatever the number of workers merged.
* **Float** (every other numeric dtype).  Per block, a corrected two-pass mean
  and sum of squared deviations in float64; blocks, batches and workers are
  combined with the pairwise update of Chan, Golub and LeVeque (1979),
  "Updating formulae and a pairwise algorithm for computing sample variances",
  the formula behind scikit-learn's ``_incremental_mean_and_var``.  NaN values
  are ignored, so counts may differ between channels.

Blocks keep every temporary cache-sized: accumulating a batch of any size needs
a fixed amount of extra memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ._layout import image_view

#: Number of array elements processed at a time (a 1 MiB float64 temporary).
BLOCK_ELEMENTS = 1 << 17

#: Integer dtypes whose sums of squares are exact in float64 over a block:
#: ``BLOCK_ELEMENTS * 65535**2 < 2**53``.
_EXACT_MAX_ITEMSIZE = 2


def iter_blocks(
    shape: tuple[int, int, int, int], block: int = BLOCK_ELEMENTS
) -> Iterator[tuple[slice, slice]]:
    """Yield ``(images, rows)`` slices that cut an ``(n, H, W, C)`` array in blocks.

    Whole images are grouped while they fit in ``block`` elements; a larger
    image is cut along its rows.  Every block holds at least one row.
    """
    n, height, width, channels = shape
    per_image = height * width * channels
    if per_image <= block:
        step = max(1, block // max(per_image, 1))
        for start in range(0, n, step):
            yield slice(start, min(start + step, n)), slice(None)
        return
    rows = max(1, block // max(width * channels, 1))
    for i in range(n):
        for start in range(0, height, rows):
            yield slice(i, i + 1), slice(start, min(start + rows, height))


def iter_image_groups(
    shape: tuple[int, int, int, int], block: int = BLOCK_ELEMENTS
) -> Iterator[slice]:
    """Yield slices of whole images: groups that fit in ``block``, or one image."""
    n, height, width, channels = shape
    step = max(1, block // max(height * width * channels, 1))
    for start in range(0, n, step):
        yield slice(start, min(start + step, n))


def is_exact_dtype(dtype: np.dtype) -> bool:
    """Whether pixels of ``dtype`` are accumulated exactly (integers of <= 16 bits)."""
    dtype = np.dtype(dtype)
    return dtype.kind in "ui" and dtype.itemsize <= _EXACT_MAX_ITEMSIZE


def _as_int_objects(values: np.ndarray) -> np.ndarray:
    """Integer-valued float64 (exact, < 2**53) -> object array of Python ints."""
    out = np.empty(values.shape, dtype=object)
    out.ravel()[:] = [int(v) for v in values.ravel()]
    return out


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Elementwise ``num / den`` of Python ints (correctly rounded), NaN for 0/0."""
    out = np.empty(num.shape, dtype=np.float64)
    flat = out.ravel()
    for k, (a, b) in enumerate(zip(num.ravel(), den.ravel(), strict=True)):
        flat[k] = a / b if b > 0 else np.nan
    return out


class PixelStats:
    """Exact, mergeable per-channel pixel statistics.

    Accumulates, per channel, the count, sum and sum of squares (or, for float
    input, the mean and sum of squared deviations), minimum and maximum of the
    pixels of any number of image batches.  Statistics computed on separate
    workers are combined with :meth:`merge` (or ``+``) and give the same result
    as one pass over all the pixels: exactly, to the bit, for integer pixels of
    up to 16 bits.

    Parameters
    ----------
    None. Create with :meth:`from_array`, or empty and fill with :meth:`update`.

    Attributes
    ----------
    n_images : int
        Number of images accumulated.
    dtype : str or None
        Input dtype (``"uint8"``...); None while empty.
    exact : bool
        Whether the accumulation is exact (integer input of at most 16 bits).

    See Also
    --------
    PixelStandardizer, PixelCenterer, PixelNormalizer : estimators fitted from
        these statistics (``fit_stats``).

    Notes
    -----
    ``var`` and ``std`` are population statistics (``ddof=0``), equal to
    ``numpy.var(x, ddof=0)`` over the pixels of a channel; :meth:`variance`
    takes ``ddof``.  NaN pixels are ignored.  For integer dtypes wider than 16
    bits and for floats, accumulation is float64 with Chan et al.'s merge.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_pixels import PixelStats
    >>> X = np.arange(24, dtype=np.uint8).reshape(2, 2, 2, 3)
    >>> whole = PixelStats.from_array(X)
    >>> halves = PixelStats.from_array(X[:1]) + PixelStats.from_array(X[1:])
    >>> whole.mean
    array([ 9., 10., 11.])
    >>> bool(np.all(halves.std == whole.std)), whole.std.round(4)
    (True, array([6.7082, 6.7082, 6.7082]))
    >>> whole.pooled().mean, whole.count
    (array([10.5]), array([8, 8, 8]))
    """

    def __init__(self) -> None:
        self.n_images: int = 0
        self.dtype: str | None = None
        self.exact: bool = False
        self._count: np.ndarray | None = None  # object (exact) or int64 (float)
        self._sum: np.ndarray | None = None  # exact mode: Python ints
        self._sumsq: np.ndarray | None = None  # exact mode: Python ints
        self._mean: np.ndarray | None = None  # float mode
        self._m2: np.ndarray | None = None  # float mode: sum of squared deviations
        self._min: np.ndarray | None = None
        self._max: np.ndarray | None = None

    # -- construction -------------------------------------------------------
    @classmethod
    def from_array(
        cls,
        X: Any,
        channel_axis: int | None = -1,
        image_shape: tuple[int, ...] | None = None,
    ) -> PixelStats:
        """Return the statistics of an image batch.

        Parameters
        ----------
        X : array-like of shape (n, H, W, C), (n, C, H, W), (n, H, W) or (n, n_features)
            Image batch, any numeric dtype; see the layout table in the README.
        channel_axis : int or None, default=-1
            Axis holding the channels.
        image_shape : tuple of int, default=None
            Shape of one image when ``X`` is flattened to 2-D.

        Returns
        -------
        stats : PixelStats
        """
        return cls().update(X, channel_axis=channel_axis, image_shape=image_shape)

    def update(
        self,
        X: Any,
        channel_axis: int | None = -1,
        image_shape: tuple[int, ...] | None = None,
    ) -> PixelStats:
        """Accumulate the pixels of another batch (in place) and return self."""
        X = _check_pixels(X)
        return self.merge_inplace(
            self.from_view(image_view(X, channel_axis, image_shape))
        )

    @classmethod
    def from_view(cls, view: np.ndarray, per_image: bool = False) -> PixelStats:
        """Statistics of a channels-last ``(n, H, W, C)`` view, blockwise.

        With ``per_image=True`` the statistics keep one row per image: every
        array has shape ``(n, C)``.  Internal: used by the estimators.
        """
        n, height, width, channels = view.shape
        if per_image:
            # Fused per-image reduction: images in groups that fit a block; a
            # larger image is reduced over its row blocks.
            parts = []
            for images in iter_image_groups(view.shape):
                group = cls._empty_like_view(view, images.stop - images.start)
                for _, rows in iter_blocks(view[images].shape):
                    group.merge_inplace(
                        cls._block(view[images, rows], axes=(1, 2), n_images=0)
                    )
                group.n_images = images.stop - images.start
                parts.append(group)
            return cls._concatenate(parts) if parts else cls._empty_like_view(view, 0)
        stats = cls._empty_like_view(view, None)
        for images, rows in iter_blocks(view.shape):
            stats.merge_inplace(cls._block(view[images, rows], axes=(0, 1, 2)))
        stats.n_images = n
        return stats

    @classmethod
    def _empty_like_view(cls, view: np.ndarray, n_rows: int | None) -> PixelStats:
        shape = (view.shape[-1],) if n_rows is None else (n_rows, view.shape[-1])
        stats = cls()
        stats.dtype = view.dtype.name
        stats.exact = is_exact_dtype(view.dtype)
        stats._min = np.full(shape, np.nan)
        stats._max = np.full(shape, np.nan)
        if stats.exact:
            stats._count = _as_int_objects(np.zeros(shape))
            stats._sum = _as_int_objects(np.zeros(shape))
            stats._sumsq = _as_int_objects(np.zeros(shape))
        else:
            stats._count = np.zeros(shape, dtype=np.int64)
            stats._mean = np.full(shape, np.nan)
            stats._m2 = np.zeros(shape)
        return stats

    @classmethod
    def _block(cls, block: np.ndarray, axes: tuple[int, ...], n_images: int = 0):
        """Statistics of one cache-sized block, reduced over ``axes``."""
        stats = cls()
        stats.dtype = block.dtype.name
        stats.exact = is_exact_dtype(block.dtype)
        stats.n_images = n_images
        shape = tuple(s for k, s in enumerate(block.shape) if k not in axes)
        n = int(np.prod([block.shape[k] for k in axes]))
        if stats.exact:
            # float64 sums of <= 16-bit integers are exact below 2**53 (see
            # BLOCK_ELEMENTS), so each block sum converts to an exact Python int.
            values = block.astype(np.float64)
            total = values.sum(axis=axes)
            np.multiply(values, values, out=values)
            stats._count = _as_int_objects(np.full(shape, float(n)))
            stats._sum = _as_int_objects(total)
            stats._sumsq = _as_int_objects(values.sum(axis=axes))
            stats._min = block.min(axis=axes).astype(np.float64)
            stats._max = block.max(axis=axes).astype(np.float64)
            return stats
        values = block.astype(np.float64)
        nan = np.isnan(values)
        has_nan = bool(nan.any())
        if has_nan:
            values[nan] = 0.0
            count = np.logical_not(nan).sum(axis=axes, keepdims=True)
        else:
            count = np.full([1 if k in axes else s for k, s in enumerate(block.shape)], n)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = values.sum(axis=axes, keepdims=True) / count
            # Corrected two-pass algorithm: the second pass removes the rounding
            # error of the first mean (Chan, Golub and LeVeque, eq. 1.7).
            values -= mean
            if has_nan:
                values[nan] = 0.0
            correction = values.sum(axis=axes, keepdims=True)
            np.multiply(values, values, out=values)
            m2 = values.sum(axis=axes, keepdims=True) - correction**2 / count
            mean = mean + correction / count
        stats._count = count.reshape(shape).astype(np.int64)
        stats._mean = mean.reshape(shape)
        stats._m2 = np.where(stats._count > 0, np.maximum(m2.reshape(shape), 0.0), 0.0)
        stats._min = np.fmin.reduce(block, axis=axes).astype(np.float64)
        stats._max = np.fmax.reduce(block, axis=axes).astype(np.float64)
        return stats

    @classmethod
    def _concatenate(cls, parts: list[PixelStats]) -> PixelStats:
        """Stack per-image statistics of consecutive image groups."""
        out = cls()
        first = parts[0]
        out.dtype, out.exact = first.dtype, first.exact
        out.n_images = sum(p.n_images for p in parts)
        for name in ("_count", "_sum", "_sumsq", "_mean", "_m2", "_min", "_max"):
            if getattr(first, name) is not None:
                setattr(out, name, np.concatenate([getattr(p, name) for p in parts]))
        return out

    # -- merging ------------------------------------------------------------
    def merge(self, other: PixelStats) -> PixelStats:
        """Return the statistics of the pixels of ``self`` and ``other`` together.

        Neither operand is modified.  Exact statistics merge exactly; float
        statistics use the pairwise update of Chan, Golub and LeVeque (1979).
        """
        return self.copy().merge_inplace(other)

    __add__ = merge

    def merge_inplace(self, other: PixelStats) -> PixelStats:
        """Merge ``other`` into ``self`` and return self."""
        if not isinstance(other, PixelStats):
            raise TypeError(
                f"Can only merge PixelStats with PixelStats, got {type(other).__name__}."
            )
        if other.dtype is None:
            return self
        if self.dtype is None:
            self.__dict__.update(other.copy().__dict__)
            return self
        self._check_compatible(other)
        self.n_images += other.n_images
        self._min = np.fmin(self._min, other._min)
        self._max = np.fmax(self._max, other._max)
        if self.exact:
            self._count = self._count + other._count
            self._sum = self._sum + other._sum
            self._sumsq = self._sumsq + other._sumsq
            return self
        self.dtype = np.promote_types(self.dtype, other.dtype).name
        n_a, n_b = self._count, other._count
        n = n_a + n_b
        with np.errstate(invalid="ignore", divide="ignore"):
            delta = other._mean - self._mean
            mean = self._mean + delta * (n_b / n)
            m2 = self._m2 + other._m2 + delta**2 * (n_a * (n_b / n))
        self._mean = np.where(n_a == 0, other._mean, np.where(n_b == 0, self._mean, mean))
        self._m2 = np.where(n_a == 0, other._m2, np.where(n_b == 0, self._m2, m2))
        self._count = n
        return self

    def _check_compatible(self, other: PixelStats) -> None:
        if self._count.shape != other._count.shape:
            raise ValueError(
                f"Cannot merge statistics of {self.n_channels} channels with "
                f"statistics of {other.n_channels} channels."
            )
        if self.exact != other.exact or (self.exact and self.dtype != other.dtype):
            raise ValueError(
                f"Cannot merge statistics of {self.dtype} pixels with statistics of "
                f"{other.dtype} pixels: their units differ (e.g. 0-255 vs 0-65535 "
                "or 0-1). Convert all images to one dtype before accumulating."
            )

    def copy(self) -> PixelStats:
        """Return an independent copy."""
        out = PixelStats()
        for key, value in self.__dict__.items():
            setattr(out, key, value.copy() if isinstance(value, np.ndarray) else value)
        return out

    def pooled(self) -> PixelStats:
        """Return the statistics of all channels pooled into one (global) channel.

        The result has one channel (shape ``(1,)``, or ``(n, 1)`` per image).
        """
        self._require_data()
        out = PixelStats()
        out.dtype, out.exact, out.n_images = self.dtype, self.exact, self.n_images
        out._min = np.fmin.reduce(self._min, axis=-1, keepdims=True)
        out._max = np.fmax.reduce(self._max, axis=-1, keepdims=True)
        if self.exact:
            out._count = self._count.sum(axis=-1, keepdims=True)
            out._sum = self._sum.sum(axis=-1, keepdims=True)
            out._sumsq = self._sumsq.sum(axis=-1, keepdims=True)
            return out
        count = self._count.sum(axis=-1, keepdims=True)
        weights = self._count / np.maximum(count, 1)
        with np.errstate(invalid="ignore"):
            mean = np.nansum(weights * self._mean, axis=-1, keepdims=True)
            between = np.nansum(self._count * (self._mean - mean) ** 2, axis=-1, keepdims=True)
        out._count = count
        out._mean = np.where(count > 0, mean, np.nan)
        out._m2 = self._m2.sum(axis=-1, keepdims=True) + between
        return out

    # -- results ------------------------------------------------------------
    def _require_data(self) -> None:
        if self.dtype is None:
            raise ValueError(
                "These PixelStats are empty: accumulate images with update() or "
                "PixelStats.from_array() first."
            )

    @property
    def n_channels(self) -> int:
        """Number of channels."""
        self._require_data()
        return int(self._count.shape[-1])

    @property
    def count(self) -> np.ndarray:
        """Pixels counted per channel (NaN excluded), int64 array of shape (n_channels,)."""
        self._require_data()
        return np.asarray(self._count.tolist(), dtype=np.int64).reshape(self._count.shape)

    @property
    def n_pixels(self) -> int:
        """Pixels per channel over all images (the largest channel count), an int."""
        self._require_data()
        return int(max(self._count.ravel().tolist(), default=0))

    @property
    def sum(self) -> np.ndarray:
        """Per-channel sum of pixel values: exact Python ints (object array) or float64."""
        self._require_data()
        if self.exact:
            return self._sum.copy()
        return self._mean * self._count

    @property
    def mean(self) -> np.ndarray:
        """Per-channel mean, float64 array of shape (n_channels,), in pixel units."""
        self._require_data()
        if self.exact:
            return _ratio(self._sum, self._count)
        return np.where(self._count > 0, self._mean, np.nan)

    def variance(self, ddof: int = 0) -> np.ndarray:
        """Per-channel variance ``sum((x - mean)**2) / (count - ddof)``, float64.

        NaN where ``count <= ddof``.
        """
        self._require_data()
        if self.exact:
            num = self._count * self._sumsq - self._sum * self._sum
            den = self._count * (self._count - ddof)
            return _ratio(num, den)
        dof = self._count - ddof
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(dof > 0, self._m2 / np.maximum(dof, 1), np.nan)

    @property
    def var(self) -> np.ndarray:
        """Per-channel population variance (``ddof=0``), float64, pixel units squared."""
        return self.variance(0)

    @property
    def std(self) -> np.ndarray:
        """Per-channel population standard deviation (``ddof=0``), pixel units."""
        return np.sqrt(self.var)

    @property
    def min(self) -> np.ndarray:
        """Per-channel minimum, float64, pixel units (NaN ignored)."""
        self._require_data()
        return self._min.copy()

    @property
    def max(self) -> np.ndarray:
        """Per-channel maximum, float64, pixel units (NaN ignored)."""
        self._require_data()
        return self._max.copy()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PixelStats):
            return NotImplemented
        if self.dtype is None or other.dtype is None:
            return self.dtype is other.dtype
        keys = ("_count", "_sum", "_sumsq", "_mean", "_m2", "_min", "_max")
        return (
            (self.dtype, self.exact, self.n_images)
            == (other.dtype, other.exact, other.n_images)
            and all(
                (getattr(self, k) is None and getattr(other, k) is None)
                or np.array_equal(
                    getattr(self, k),
                    getattr(other, k),
                    equal_nan=getattr(self, k).dtype != object,
                )
                for k in keys
            )
        )

    __hash__ = None  # mutable

    def __repr__(self) -> str:
        if self.dtype is None:
            return "PixelStats(empty)"
        with np.printoptions(precision=4, suppress=True):
            return (
                f"PixelStats(n_images={self.n_images}, n_pixels={self.n_pixels}, "
                f"dtype={self.dtype}, exact={self.exact}, mean={self.mean}, "
                f"std={self.std}, min={self.min}, max={self.max})"
            )

    # -- plain data, for files and for sending between processes ---------------
    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serializable dict (exact sums as Python ints).

        Examples
        --------
        >>> import numpy as np
        >>> stats = PixelStats.from_array(np.full((1, 2, 2, 1), 7, np.uint8))
        >>> stats.to_dict()["sum"]
        [28]
        """
        self._require_data()
        data: dict[str, Any] = {
            "dtype": self.dtype,
            "exact": self.exact,
            "n_images": self.n_images,
            "count": [int(c) for c in self._count.tolist()],
            "min": self._min.tolist(),
            "max": self._max.tolist(),
        }
        if self.exact:
            data["sum"] = [int(v) for v in self._sum.tolist()]
            data["sumsq"] = [int(v) for v in self._sumsq.tolist()]
        else:
            data["mean"] = self._mean.tolist()
            data["m2"] = self._m2.tolist()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PixelStats:
        """Rebuild statistics written by :meth:`to_dict` (validated)."""
        from ._validation import check_stats_dict

        data = check_stats_dict(data)
        out = cls()
        out.dtype, out.exact, out.n_images = data["dtype"], data["exact"], data["n_images"]
        out._min = np.asarray(data["min"], dtype=np.float64)
        out._max = np.asarray(data["max"], dtype=np.float64)
        if out.exact:
            out._count = np.asarray(data["count"], dtype=object).reshape(-1)
            out._sum = np.asarray(data["sum"], dtype=object).reshape(-1)
            out._sumsq = np.asarray(data["sumsq"], dtype=object).reshape(-1)
        else:
            out._count = np.asarray(data["count"], dtype=np.int64)
            out._mean = np.asarray(data["mean"], dtype=np.float64)
            out._m2 = np.asarray(data["m2"], dtype=np.float64)
        return out


def _check_pixels(X: Any) -> np.ndarray:
    """Light validation for PixelStats' own entry points (estimators do more)."""
    from sklearn.utils import check_array

    X = check_array(
        X,
        dtype="numeric",
        allow_nd=True,
        ensure_all_finite="allow-nan",
        input_name="X",
    )
    if X.dtype.kind == "b":
        raise ValueError(
            "X has dtype bool: pixel statistics need numeric pixels. Convert masks "
            "with X.astype(np.uint8)."
        )
    return X
