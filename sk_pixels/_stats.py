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
a fixed amount of extra memory (plus a few int64 per image and channel when
per-image statistics are asked for).

Speed (see "the exact fast path" below): exact integer sums are taken by BLAS
in float32 (8-bit pixels) or float64 (16-bit pixels) over blocks whose partial
sums provably stay below 2**24 or 2**53, so they are exact; a contiguous batch
is read as one stream of fixed blocks, any other layout block by block
(channels-first batches plane by plane), large batches on several threads.
The result does not depend on the block size, the batch split, the order or
the thread count: it is the same integers.  Float blocks without NaN take BLAS
sums too (``_float_block``), with the same corrected two-pass algorithm.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from ._layout import image_view

#: Array elements per block of the float path (a 1 MiB float64 temporary).
BLOCK_ELEMENTS = 1 << 17

#: Integer dtypes accumulated exactly: up to 16 bits, whose block sums of
#: squares stay exact in float32/float64 partial sums (see ``_exact_plan``).
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


def _as_int_objects(values) -> np.ndarray:
    """Integer values (a list of ints, or an integer-valued array of any shape)
    -> an object array of Python ints of the same shape."""
    values = np.asarray(values, dtype=object)
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
    array([10.5, 11.5, 12.5])
    >>> bool(np.all(halves.std == whole.std)), whole.std.round(4)
    (True, array([6.8739, 6.8739, 6.8739]))
    >>> whole.pooled().mean, whole.count
    (array([11.5]), array([8, 8, 8]))
    """

    def __init__(self) -> None:
        self.n_images: int = 0
        self.dtype: str | None = None
        self.exact: bool = False
        self._count: np.ndarray | None = None  # object (exact) or int64 (float)
        self._sum: np.ndarray | None = None  # exact mode: Python ints
        self._sumsq: np.ndarray | None = None  # exact mode: Python ints
        self._mean: np.ndarray | None = None  # float mode
        # float mode: the rounding error of _mean (mean = _mean + _mean_lo, a
        # double-double), so that merging batches with a large offset and a tiny
        # variance keeps the variance to ~1e-15 instead of ~1e-7.
        self._mean_lo: np.ndarray | None = None
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
        view = image_view(X, channel_axis, image_shape)
        n, height, width, channels = view.shape
        if channels == 0:
            raise ValueError(
                f"X (shape {X.shape}) has 0 channels; each pixel needs at least one "
                "value. Check channel_axis."
            )
        if height * width == 0:
            raise ValueError(
                f"X holds images with no pixels (shape {X.shape}); each image needs "
                "at least one pixel."
            )
        return self.merge_inplace(self.from_view(view))

    @classmethod
    def from_histogram(cls, hist: Any, n_images: int = 1) -> PixelStats:
        """Exact statistics of ``uint8`` pixels from their per-channel histogram.

        Parameters
        ----------
        hist : array-like of int, shape (n_channels, 256)
            ``hist[c, v]`` pixels of channel ``c`` have value ``v`` (what
            Pillow's ``Image.histogram()`` returns, reshaped).
        n_images : int, default=1
            Number of images the histogram counts.

        Returns
        -------
        stats : PixelStats
            Equal, to the bit, to :meth:`from_array` on the same pixels.

        Examples
        --------
        >>> import numpy as np
        >>> X = np.array([[[[0, 10], [255, 10]]]], dtype=np.uint8)
        >>> hist = np.stack([np.bincount(X[..., c].ravel(), minlength=256)
        ...                  for c in range(2)])
        >>> PixelStats.from_histogram(hist) == PixelStats.from_array(X)
        True
        """
        hist = np.asarray(hist)
        if hist.ndim != 2 or hist.shape[1] != 256 or hist.dtype.kind not in "ui":
            raise ValueError(
                "hist must be integer counts of shape (n_channels, 256), one row per "
                f"channel of uint8 pixels; got {hist.dtype} of shape {hist.shape}."
            )
        if np.any(hist < 0):
            raise ValueError("hist holds negative counts.")
        values = np.arange(256, dtype=np.int64)
        hist = hist.astype(np.int64)
        # Python ints: exact whatever the counts.
        count = [int(c) for c in hist.sum(axis=1).tolist()]
        if min(count, default=0) == 0:
            raise ValueError("hist counts no pixel in some channel.")
        stats = cls()
        stats.dtype, stats.exact, stats.n_images = "uint8", True, int(n_images)
        stats._count = _as_int_objects(count)
        stats._sum = _as_int_objects((hist @ values).tolist())
        if max(count) < np.iinfo(np.int64).max // (255 * 255):
            sumsq = (hist @ (values * values)).tolist()  # cannot overflow int64
        else:
            sumsq = [sum(h * v * v for v, h in enumerate(r)) for r in hist.tolist()]
        stats._sumsq = _as_int_objects(sumsq)
        seen = hist > 0
        stats._min = seen.argmax(axis=1).astype(np.float64)
        stats._max = (255 - seen[:, ::-1].argmax(axis=1)).astype(np.float64)
        return stats

    @classmethod
    def from_view(cls, view: np.ndarray, per_image: bool = False) -> PixelStats:
        """Statistics of a channels-last ``(n, H, W, C)`` view, blockwise.

        With ``per_image=True`` the statistics keep one row per image: every
        array has shape ``(n, C)``.  Internal: used by the estimators.
        """
        n, height, width, channels = view.shape
        if is_exact_dtype(view.dtype):
            if n * height * width * channels == 0:
                empty = cls._empty_like_view(view, n if per_image else None)
                empty.n_images = n
                return empty
            return _exact_from_view(view, per_image)
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
            stats._mean_lo = np.zeros(shape)
            stats._m2 = np.zeros(shape)
        return stats

    @classmethod
    def _block(cls, block: np.ndarray, axes: tuple[int, ...], n_images: int = 0):
        """Float statistics of one cache-sized block, reduced over ``axes``.

        Exact (integer) input never gets here: ``_exact_from_view`` streams it.
        """
        stats = cls()
        stats.dtype = block.dtype.name
        stats.exact = is_exact_dtype(block.dtype)
        stats.n_images = n_images
        shape = tuple(s for k, s in enumerate(block.shape) if k not in axes)
        n = int(np.prod([block.shape[k] for k in axes]))
        fast = _float_block(block, per_image=axes == (1, 2))
        if fast is not None:  # no NaN in the block
            stats._count = np.full(shape, n, dtype=np.int64)
            mean, lo, stats._m2, stats._min, stats._max = (
                a.reshape(shape) for a in fast
            )
            stats._mean, stats._mean_lo = _fast_two_sum(mean, lo)
            return stats
        values = block.astype(np.float64)
        nan = np.isnan(values)
        has_nan = bool(nan.any())
        if has_nan:
            values[nan] = 0.0
            count = np.logical_not(nan).sum(axis=axes, keepdims=True)
        else:
            count = np.full(
                [1 if k in axes else s for k, s in enumerate(block.shape)], n
            )
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
            lo = np.where(count > 0, correction / np.maximum(count, 1), 0.0)
        stats._count = count.reshape(shape).astype(np.int64)
        stats._mean, stats._mean_lo = _fast_two_sum(
            mean.reshape(shape), lo.reshape(shape)
        )
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
        for name in (
            "_count",
            "_sum",
            "_sumsq",
            "_mean",
            "_mean_lo",
            "_m2",
            "_min",
            "_max",
        ):
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
                "Can only merge PixelStats with PixelStats, got "
                f"{type(other).__name__}."
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
        self._count, self._mean, self._mean_lo, self._m2 = _chan_merge(
            (self._count, self._mean, self._mean_lo, self._m2),
            (other._count, other._mean, other._mean_lo, other._m2),
        )
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
        # The channels are merged like batches (Chan et al.), one at a time.
        parts = (self._count, self._mean, self._mean_lo, self._m2)
        acc = tuple(a[..., :1] for a in parts)
        for c in range(1, self._count.shape[-1]):
            acc = _chan_merge(acc, tuple(a[..., c : c + 1] for a in parts))
        out._count, out._mean, out._mean_lo, out._m2 = (np.array(a) for a in acc)
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
        """Pixels counted per channel (NaN excluded), array of shape (n_channels,).

        int64, or an object array of Python ints past ``2**63 - 1`` pixels (merged
        exact statistics have no bound).
        """
        self._require_data()
        counts = self._count.tolist()
        flat = np.ravel(counts)
        wide = flat.size and int(max(int(c) for c in flat)) > np.iinfo(np.int64).max
        return np.asarray(counts, dtype=object if wide else np.int64)

    @property
    def n_pixels(self) -> int:
        """Pixels per channel over all images (the largest channel count), an int."""
        self._require_data()
        return int(max(self._count.ravel().tolist(), default=0))

    @property
    def sum(self) -> np.ndarray:
        """Per-channel sum of pixel values: exact Python ints (object) or float64."""
        self._require_data()
        if self.exact:
            return self._sum.copy()
        return (self._mean + self._mean_lo) * self._count

    @property
    def mean(self) -> np.ndarray:
        """Per-channel mean, float64 array of shape (n_channels,), in pixel units."""
        self._require_data()
        if self.exact:
            return _ratio(self._sum, self._count)
        return np.where(self._count > 0, self._mean + self._mean_lo, np.nan)

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
        """Per-channel population variance (``ddof=0``), float64, pixel units**2."""
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
        keys = ("_count", "_sum", "_sumsq", "_mean", "_mean_lo", "_m2", "_min", "_max")
        return (self.dtype, self.exact, self.n_images) == (
            other.dtype,
            other.exact,
            other.n_images,
        ) and all(
            (getattr(self, k) is None and getattr(other, k) is None)
            or np.array_equal(
                getattr(self, k),
                getattr(other, k),
                equal_nan=getattr(self, k).dtype != object,
            )
            for k in keys
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
            data["mean_lo"] = self._mean_lo.tolist()
            data["m2"] = self._m2.tolist()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PixelStats:
        """Rebuild statistics written by :meth:`to_dict` (validated)."""
        from ._validation import check_stats_dict

        data = check_stats_dict(data)
        out = cls()
        out.dtype, out.exact, out.n_images = (
            data["dtype"],
            data["exact"],
            data["n_images"],
        )
        out._min = np.asarray(data["min"], dtype=np.float64)
        out._max = np.asarray(data["max"], dtype=np.float64)
        if out.exact:
            out._count = np.asarray(data["count"], dtype=object).reshape(-1)
            out._sum = np.asarray(data["sum"], dtype=object).reshape(-1)
            out._sumsq = np.asarray(data["sumsq"], dtype=object).reshape(-1)
        else:
            out._count = np.asarray(data["count"], dtype=np.int64)
            out._mean = np.asarray(data["mean"], dtype=np.float64)
            out._mean_lo = np.asarray(
                data.get("mean_lo", np.zeros_like(out._mean)), dtype=np.float64
            )
            out._m2 = np.asarray(data["m2"], dtype=np.float64)
        return out


# -- the exact fast path ------------------------------------------------------
# Integer pixels of at most 16 bits are summed in floating point, exactly.  Each
# block is cast once into a cache-sized float buffer (float32 for 8-bit pixels,
# float64 for 16-bit ones) and its columns are summed by BLAS, as a product with
# a vector of ones, over at most ``max_rows`` rows at a time.  Every partial sum
# is then an integer below 2**24 (float32) or 2**53 (float64), which the format
# holds exactly, so no rounding can happen whatever order BLAS adds in.  The
# block sums go to int64 per image (and to Python ints across images), so the
# result is the same to the bit for any block size, batch split or thread count.

#: Size of the float buffer a block is cast into: a 224x224 RGB image in float32,
#: so that whole images are summed in one go, and well inside a 1 MiB L2 cache.
_EXACT_BLOCK_BYTES = 768 * 2**10

#: Unfolded float64 column sums are flushed to Python ints before they could
#: reach this bound (half the 2**53 of exact float64 integers).
_FLUSH_LIMIT = 1 << 52

#: Unfolded per-image sums and extrema kept before folding them into channels.
_FOLD_CHUNK_BYTES = 2**20

#: Rows narrower than this are summed by NumPy rather than by BLAS calls.
_MIN_BLAS_ROW = 64

#: Preferred length of the rows a block is cut into (a multiple of the channels).
_TARGET_ROW = 8192


_local = threading.local()


def _scratch(size: int, dtype: np.dtype) -> np.ndarray:
    """A reusable 1-D buffer of at least ``size`` elements, one per thread.

    Fresh large arrays are page-faulted (and zeroed by the kernel) on first
    touch, which costs as much as summing a small image; one block-sized
    buffer per thread is kept instead.
    """
    dtype = np.dtype(dtype)
    buffers = _local.__dict__.setdefault("buffers", {})
    buf = buffers.get(dtype)
    if buf is None or buf.size < size:
        buf = buffers[dtype] = np.empty(size, dtype=dtype)
    return buf[:size]


def _exact_plan(dtype: np.dtype) -> tuple[np.dtype, int]:
    """Float accumulator of an exact dtype and the rows it may sum exactly."""
    info = np.iinfo(dtype)
    largest_square = max(-int(info.min), int(info.max)) ** 2
    if np.dtype(dtype).itemsize == 1:
        return np.dtype(np.float32), (1 << 24) // largest_square
    return np.dtype(np.float64), (1 << 53) // largest_square


@functools.lru_cache(maxsize=256)
def _row_length(
    n_pixels: int, channels: int, width: int, target: int = _TARGET_ROW
) -> int:
    """Length of the rows that ``n_pixels`` pixels of one image are cut into.

    A multiple of ``channels`` dividing ``n_pixels * channels``: at least
    ``target`` values when such a divisor is near, else one image row of
    ``width`` pixels.
    """
    need = -(-target // channels)
    if n_pixels <= need:
        return n_pixels * channels
    for d in range(need, min(n_pixels, 8 * need) + 1):
        if n_pixels % d == 0:
            return d * channels
    return width * channels


def _sum_rows(f: np.ndarray, max_rows: int, out: np.ndarray) -> None:
    """Column sums of ``f`` of shape (g, rows, L) into float64 ``out`` of shape (g, L).

    At most ``max_rows`` rows are added in ``f``'s own float type (exact, see
    above); longer columns are added up in float64.
    """
    g, rows, width = f.shape
    for start in range(0, rows, max_rows):
        part = f[:, start : start + max_rows]
        if width < _MIN_BLAS_ROW:
            total = np.add.reduce(part, axis=1)
        else:
            total = np.matmul(np.ones(part.shape[1], dtype=f.dtype), part)
        if start == 0:
            out[...] = total
        else:
            out += total


@functools.lru_cache(maxsize=256)
def _fold_split(n_groups: int) -> int:
    """A divisor of ``n_groups`` near its square root (for two-step folds)."""
    d = max(1, int(n_groups**0.5))
    while n_groups % d:
        d -= 1
    return d


def _fold(a: np.ndarray, channels: int, ufunc: np.ufunc) -> np.ndarray:
    """Reduce ``a`` of shape (..., k * C) to (..., C) with ``ufunc``.

    NumPy is slow at reductions over an axis followed by a short inner axis of
    length C, so: one contiguous reduction for one channel; else two steps
    through a divisor of ``k`` near its square root; else (``k`` prime or
    nearly) one strided reduction per channel.
    """
    if channels == 1:
        return ufunc.reduce(a, axis=-1, keepdims=True)
    lead = a.shape[:-1]
    k = a.shape[-1] // channels
    d = _fold_split(k)
    if d >= 8 or k <= 64:
        a = ufunc.reduce(a.reshape(*lead, k // d, d * channels), axis=-2)
        return ufunc.reduce(a.reshape(*lead, d, channels), axis=-2)
    return np.stack(
        [ufunc.reduce(a[..., c::channels], axis=-1) for c in range(channels)],
        axis=-1,
    )


def _exact_block(x: np.ndarray, buf: np.ndarray, max_rows: int):
    """Per-image exact sums and extrema of an integer block ``x`` of shape (g, r, W, C).

    Returns ``sums`` of shape (2, g, C), int64 (sums, then sums of squares), and
    ``lo``, ``hi`` of shape (g, C) in the input dtype.
    """
    g, r, w, c = x.shape
    b = buf[: x.size].reshape(x.shape)
    np.copyto(b, x, casting="unsafe")  # the one pass that reads the pixels
    f = b.reshape(g, -1, _row_length(r * w, c, w))
    # Extrema of the integer source when its images are contiguous (it is 4 or
    # 8 times smaller than the float copy), else of the float copy.
    source = x.reshape(f.shape) if x[0].flags.c_contiguous else f
    lo = _fold(np.minimum.reduce(source, axis=1), c, np.minimum)
    hi = _fold(np.maximum.reduce(source, axis=1), c, np.maximum)
    sums = np.empty((2, g, f.shape[2]))
    _sum_rows(f, max_rows, sums[0])
    np.multiply(f, f, out=f)
    _sum_rows(f, max_rows, sums[1])
    # Exact: per image and block, these integers stay far below 2**53.
    return _fold(sums, c, np.add).astype(np.int64), lo, hi


def _exact_stream(
    flat: np.ndarray, channels: int
) -> tuple[list, list, np.ndarray, np.ndarray]:
    """Exact per-channel sums and extrema of a contiguous channels-last stream.

    ``flat`` is 1-D, pixel after pixel (channel = index % channels): a whole
    C-contiguous batch, read in fixed blocks that ignore image boundaries.
    Column sums are kept unfolded across blocks (one small add per block) and
    flushed to Python ints before they could leave the exact float64 range; the
    last partial row is summed in float64 (exact: it holds few values).
    """
    ftype, max_rows = _exact_plan(flat.dtype)
    info = np.iinfo(flat.dtype)
    largest_square = max(-int(info.min), int(info.max)) ** 2
    width = min(channels * max(1, _TARGET_ROW // channels), flat.size)
    rows = max(1, min(max_rows, _EXACT_BLOCK_BYTES // ftype.itemsize // width))
    flush_rows = max(1, _FLUSH_LIMIT // largest_square)
    buf = _scratch(rows * width, ftype)
    ones = np.ones(rows, dtype=ftype)
    sums = np.zeros((2, width))
    part = np.empty(width, dtype=ftype)
    ext = np.empty(width, dtype=flat.dtype)
    lo = hi = None
    totals = [[0] * channels, [0] * channels]
    pending = 0

    def add(folded: np.ndarray) -> None:
        for k, values in enumerate(folded.tolist()):
            totals[k] = [a + int(b) for a, b in zip(totals[k], values, strict=True)]

    def flush() -> None:
        column = sums.astype(np.int64)  # exact: integers below 2**53
        if int(column.max()) < 2**62 // (width // channels):
            add(_fold(column, channels, np.add))  # no overflow
        else:
            add(_fold(column.astype(object), channels, np.add))
        sums[...] = 0.0

    n_full = flat.size // width
    for start in range(0, n_full, rows):
        k = min(rows, n_full - start)
        x = flat[start * width : (start + k) * width].reshape(k, width)
        f = buf[: k * width].reshape(k, width)
        np.copyto(f, x, casting="unsafe")
        if lo is None:
            lo = np.minimum.reduce(x, axis=0)
            hi = np.maximum.reduce(x, axis=0)
        else:
            np.minimum.reduce(x, axis=0, out=ext)
            np.minimum(lo, ext, out=lo)
            np.maximum.reduce(x, axis=0, out=ext)
            np.maximum(hi, ext, out=hi)
        for q in range(2):
            if q:
                np.multiply(f, f, out=f)
            if width < _MIN_BLAS_ROW:
                np.add.reduce(f, axis=0, out=part)
            else:
                np.matmul(ones[:k], f, out=part)
            sums[q] += part
        pending += k
        if pending + rows > flush_rows:
            flush()
            pending = 0
    flush()
    tail = flat[n_full * width :]
    if tail.size:
        t = tail.reshape(1, -1)
        tf = t.astype(np.float64)  # at most _TARGET_ROW values: exact sums
        add(_fold(np.concatenate([tf, tf * tf]), channels, np.add).astype(np.int64))
        lo_t, hi_t = _fold(t, channels, np.minimum), _fold(t, channels, np.maximum)
        if lo is None:
            lo, hi = lo_t[0], hi_t[0]
        else:
            lo = np.minimum(_fold(lo, channels, np.minimum), lo_t[0])
            hi = np.maximum(_fold(hi, channels, np.maximum), hi_t[0])
    else:
        lo, hi = _fold(lo, channels, np.minimum), _fold(hi, channels, np.maximum)
    return totals[0], totals[1], lo.astype(np.float64), hi.astype(np.float64)


def _fast_two_sum(hi: np.ndarray, lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Renormalize ``hi + lo`` (``|lo| <= |hi|``) into a double-double pair."""
    with np.errstate(invalid="ignore"):
        total = hi + lo
        err = lo - (total - hi)
    return total, np.where(np.isfinite(err), err, 0.0)


def _chan_merge(a: tuple, b: tuple) -> tuple:
    """Merge ``(count, mean_hi, mean_lo, m2)`` of two disjoint sets of pixels.

    Chan, Golub and LeVeque (1979)'s pairwise update, with the means carried
    as double-doubles: the difference of two close means ``mb - ma`` is exact
    in float64 (Sterbenz) and their rounding errors are added back, so the
    between-set term stays accurate when the offset dwarfs the spread.
    """
    n_a, hi_a, lo_a, m2_a = a
    n_b, hi_b, lo_b, m2_b = b
    n = n_a + n_b
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = (hi_b - hi_a) + (lo_b - lo_a)
        frac_b = n_b / n
        hi, lo = _fast_two_sum(hi_a, lo_a + delta * frac_b)
        m2 = m2_a + m2_b + delta**2 * (n_a * frac_b)
    hi = np.where(n_a == 0, hi_b, np.where(n_b == 0, hi_a, hi))
    lo = np.where(n_a == 0, lo_b, np.where(n_b == 0, lo_a, lo))
    m2 = np.where(n_a == 0, m2_b, np.where(n_b == 0, m2_a, m2))
    return n, hi, lo, m2


def _float_block(block: np.ndarray, per_image: bool):
    """Mean (first-pass value and its correction), sum of squared deviations,
    min and max of a NaN-free float block.

    The block ``(g, r, W, C)`` is cast once into a float64 buffer viewed as rows
    of a few thousand values; column sums are BLAS products with a vector of
    ones, folded into channels.  The corrected two-pass algorithm of the
    ``_block`` docstring (Chan, Golub and LeVeque, eq. 1.7) removes the
    rounding error of the first mean.  Returns arrays of shape (g, C) when
    ``per_image``, else (1, C); None when the block holds NaN (``_block``'s
    general path handles those).
    """
    g, r, w, c = block.shape
    f = _scratch(block.size, np.float64).reshape(block.shape)
    np.copyto(f, block, casting="unsafe")
    width = _row_length(r * w, c, w)
    groups = g if per_image else 1
    rows = f.reshape(groups, -1, width)
    source = block if block[0].flags.c_contiguous else f
    if groups == 1 and not block.flags.c_contiguous:
        source = f
    source = source.reshape(rows.shape)
    ones = np.ones(rows.shape[1])
    total = _fold(np.matmul(ones, rows), c, np.add)
    if not np.isfinite(total).all():
        return None
    lo = _fold(np.minimum.reduce(source, axis=1), c, np.minimum)
    hi = _fold(np.maximum.reduce(source, axis=1), c, np.maximum)
    count = rows.shape[1] * width // c
    mean = total / count
    rows -= np.tile(mean.reshape(groups, 1, c), (1, 1, width // c))
    correction = _fold(np.matmul(ones, rows), c, np.add)
    np.multiply(rows, rows, out=rows)
    m2 = _fold(np.matmul(ones, rows), c, np.add) - correction**2 / count
    return (
        mean,
        correction / count,
        np.maximum(m2, 0.0),
        lo.astype(np.float64),
        hi.astype(np.float64),
    )


def _channel_planes(view: np.ndarray) -> np.ndarray | None:
    """``(n*C, H, W, 1)`` view of a channels-first batch whose planes are contiguous.

    Statistics per (image, channel) do not depend on the order of the pixels,
    so a channels-first batch is read plane by plane, in memory order, instead
    of gathering its channels.  None when that view would need a copy.
    """
    n, h, w, c = view.shape
    if c == 1 or view[0].flags.c_contiguous:
        return None
    planes = view.transpose(0, 3, 1, 2)
    if not planes[0].flags.c_contiguous:
        return None
    if n > 1 and planes.strides[0] != c * planes.strides[1]:
        return None
    return planes.reshape(n * c, h, w, 1)


def _exact_whole_images(
    work: np.ndarray, blocks: list, buffer_size: int, ftype: np.dtype, max_rows: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-image exact sums and extrema when every block holds whole images.

    Like :func:`_exact_block`, but the column sums and extrema of up to
    ``_FOLD_CHUNK_BYTES`` worth of images are kept unfolded and folded into
    channels together: a few NumPy calls per chunk instead of per image.
    Sums run over rows short enough to need one BLAS call per image, extrema
    over long rows of the integer source (when its images are contiguous).
    """
    n, h, w, c = work.shape
    m = h * w
    width = _row_length(m, c, w, -(-(m * c) // max_rows))
    ext_width = _row_length(m, c, w)
    contiguous = work[0].flags.c_contiguous
    ext_dtype = work.dtype if contiguous else ftype
    per_image = 2 * width * 8 + 2 * ext_width * ext_dtype.itemsize
    largest_group = max(im.stop - im.start for im, _ in blocks)
    chunk = max(largest_group, _FOLD_CHUNK_BYTES // per_image)
    sums = np.empty((2, n, c), dtype=np.int64)
    lo = np.empty((n, c))
    hi = np.empty((n, c))
    buf = _scratch(buffer_size, ftype)
    acc = np.empty((2, chunk, width))
    ext = np.empty((2, chunk, ext_width), dtype=ext_dtype)
    start = filled = 0

    def flush() -> None:
        nonlocal start, filled
        done = slice(start, start + filled)
        # Exact: integers below 2**53 per image, folded in float64.
        sums[:, done] = _fold(acc[:, :filled], c, np.add)
        lo[done] = _fold(ext[0, :filled], c, np.minimum)
        hi[done] = _fold(ext[1, :filled], c, np.maximum)
        start, filled = start + filled, 0

    for images, _ in blocks:
        x = work[images]
        g = x.shape[0]
        if filled + g > chunk:
            flush()
        b = buf[: x.size].reshape(x.shape)
        np.copyto(b, x, casting="unsafe")  # the one pass that reads the pixels
        source = x if contiguous else b
        here = slice(filled, filled + g)
        np.minimum.reduce(source.reshape(g, -1, ext_width), axis=1, out=ext[0, here])
        np.maximum.reduce(source.reshape(g, -1, ext_width), axis=1, out=ext[1, here])
        f = b.reshape(g, -1, width)
        _sum_rows(f, max_rows, acc[0, here])
        np.multiply(f, f, out=f)
        _sum_rows(f, max_rows, acc[1, here])
        filled += g
    flush()
    return sums, lo, hi


def _exact_from_view(view: np.ndarray, per_image: bool) -> PixelStats:
    """Exact statistics of an integer ``(n, H, W, C)`` view (see the fast path).

    Large batches are split by images over threads (see ``_threads``); the
    parts merge exactly, so the result does not depend on the thread count.
    """
    from . import _threads

    n = view.shape[0]
    n_threads = 1
    if n > 1:
        n_threads = _threads.get_num_threads(view.size * (view.itemsize + 4))
    if n_threads == 1:
        return _exact_from_view_serial(view, per_image)
    parts = _threads.run(
        lambda images: _exact_from_view_serial(
            view[images.start : images.stop], per_image
        ),
        range(n),
        n_threads,
    )
    if per_image:
        return PixelStats._concatenate(parts)
    stats = parts[0]
    for part in parts[1:]:
        stats.merge_inplace(part)
    return stats


def _exact_from_view_serial(view: np.ndarray, per_image: bool) -> PixelStats:
    n, h, w, c = view.shape
    if not per_image and view.flags.c_contiguous:
        total, squares, lo, hi = _exact_stream(view.reshape(-1), c)
        stats = PixelStats()
        stats.dtype, stats.exact, stats.n_images = view.dtype.name, True, n
        stats._count = np.full((c,), n * h * w, dtype=object)
        stats._sum, stats._sumsq = _as_int_objects(total), _as_int_objects(squares)
        stats._min, stats._max = lo, hi
        return stats
    planes = _channel_planes(view)
    work = planes if planes is not None else view
    rows, channels = work.shape[0], work.shape[-1]
    ftype, max_rows = _exact_plan(view.dtype)
    blocks = list(iter_blocks(work.shape, _EXACT_BLOCK_BYTES // ftype.itemsize))
    row_values = work.shape[2] * channels
    buffer_size = max(
        (im.stop - im.start) * len(range(*rs.indices(work.shape[1]))) * row_values
        for im, rs in blocks
    )
    if all(rs == slice(None) for _, rs in blocks):
        sums, lo, hi = _exact_whole_images(work, blocks, buffer_size, ftype, max_rows)
    else:
        sums = np.zeros((2, rows, channels), dtype=np.int64)
        lo = np.full((rows, channels), np.inf)
        hi = np.full((rows, channels), -np.inf)
        buf = _scratch(buffer_size, ftype)
        for images, row_slice in blocks:
            block_sums, mn, mx = _exact_block(work[images, row_slice], buf, max_rows)
            sums[:, images] += block_sums
            np.fmin(lo[images], mn, out=lo[images])
            np.fmax(hi[images], mx, out=hi[images])
    total, squares = sums
    if planes is not None:
        total, squares = total.reshape(n, c), squares.reshape(n, c)
        lo, hi = lo.reshape(n, c), hi.reshape(n, c)

    stats = PixelStats()
    stats.dtype = view.dtype.name
    stats.exact = True
    stats.n_images = n
    if per_image:
        stats._count = np.full((n, c), h * w, dtype=object)
        stats._sum = total.astype(object)
        stats._sumsq = squares.astype(object)
        stats._min, stats._max = lo, hi
        return stats
    # Sums over the images: int64 while it cannot overflow, else Python ints.
    info = np.iinfo(view.dtype)
    largest_square = max(-int(info.min), int(info.max)) ** 2
    if n * h * w * largest_square < 2**62:
        total, squares = total.sum(axis=0), squares.sum(axis=0)
    else:
        total = total.astype(object).sum(axis=0)
        squares = squares.astype(object).sum(axis=0)
    stats._count = np.full((c,), n * h * w, dtype=object)
    stats._sum = np.asarray(total).astype(object)
    stats._sumsq = np.asarray(squares).astype(object)
    stats._min, stats._max = lo.min(axis=0), hi.max(axis=0)
    return stats


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
