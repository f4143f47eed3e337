"""PixelStats: the exact, mergeable per-channel statistics behind every estimator.

A value type: the moments of one of two kinds (:mod:`sk_pixels._moments`),
chosen by the input dtype, plus the per-channel minimum and maximum.

* **Exact** (integer pixels of at most 16 bits: ``uint8``, ``uint16``, ``int8``,
  ``int16``).  Counts, sums and sums of squares are Python integers, so they
  never overflow and never round; mean and variance are exact rationals
  rounded once to float64.  The fitted statistics are identical to the bit
  whatever the order or the partition of the batches, the number of workers
  merged, the memory layout, the thread count, or the array namespace.
* **Float** (every other numeric dtype).  Count, mean and sum of squared
  deviations in float64, combined with the pairwise update of Chan, Golub and
  LeVeque (1979).  NaN values are ignored, so counts may differ between
  channels.

The reductions (one exact and one float kernel, shared by NumPy and the array
API namespaces) live in :mod:`sk_pixels._reduce`.
"""

from __future__ import annotations

import warnings
from numbers import Integral
from typing import Any

import numpy as np

from ._layout import image_view
from ._moments import ExactMoments, FloatMoments
from ._nodata import check_valid, masked_view, split_masked
from ._reduce import is_exact_dtype, reduce_view
from ._xp import numpy_dtype

__all__ = ["PixelStats", "is_exact_dtype"]

_INT64_MAX = np.iinfo(np.int64).max


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
    None. Create with :meth:`from_array` (or :meth:`from_view`,
    :meth:`from_histogram`, :meth:`from_dict`), or empty and fill with
    :meth:`update`.

    Attributes
    ----------
    n_images : int
        Number of images accumulated.
    input_dtype : str or None
        Dtype of the pixels accumulated (``"uint8"``...); None while empty.  Not
        to be confused with the estimators' ``dtype`` parameter, the dtype of
        their output.
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
    takes ``ddof``.  NaN pixels are ignored, and so are masked values of a
    :class:`numpy.ma.MaskedArray` (counts may then differ between channels).
    For integer dtypes wider than 16 bits and for floats, accumulation is
    float64 with Chan et al.'s merge.

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
    >>> whole.pooled().mean, whole.count, whole.input_dtype
    (array([11.5]), array([8, 8, 8]), 'uint8')
    """

    def __init__(self) -> None:
        self._set(None, 0, None, None, None)

    def _set(self, input_dtype, n_images, moments, lo, hi) -> PixelStats:
        # The one writer of the fields (the private constructor below and
        # merge_inplace go through it).
        self._input_dtype: str | None = input_dtype
        self._n_images: int = int(n_images)
        self._moments: ExactMoments | FloatMoments | None = moments
        self._min: np.ndarray | None = lo
        self._max: np.ndarray | None = hi
        return self

    @classmethod
    def _make(cls, input_dtype, n_images, moments, lo, hi) -> PixelStats:
        """The private constructor: every non-empty PixelStats is made here."""
        lo = np.asarray(lo, dtype=np.float64)
        hi = np.asarray(hi, dtype=np.float64)
        return cls.__new__(cls)._set(
            np.dtype(input_dtype).name, n_images, moments, lo, hi
        )

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

    @classmethod
    def from_batches(
        cls,
        batches: Any,
        channel_axis: int | None = -1,
        image_shape: tuple[int, ...] | None = None,
    ) -> PixelStats:
        """Return the statistics of a stream of batches, without an estimator.

        Parameters
        ----------
        batches : iterable
            A generator, ``iter_images(...)``, a PyTorch ``DataLoader``...: the
            items that the estimators' ``fit`` streams (see ``partial_fit``).
            A list is a list of single images.
        channel_axis, image_shape
            Layout of each batch, as for :meth:`from_array`.

        Returns
        -------
        stats : PixelStats
            Equal to :meth:`from_array` on all the images at once (to the bit
            for integer pixels of up to 16 bits).

        Examples
        --------
        >>> import numpy as np
        >>> batches = (np.full((2, 3, 3, 1), v, np.uint8) for v in (10, 20))
        >>> PixelStats.from_batches(batches).mean
        array([15.])
        """
        from ._images import stats_of_batches

        return stats_of_batches(cls(), batches, channel_axis, image_shape)

    def update(
        self,
        X: Any,
        channel_axis: int | None = -1,
        image_shape: tuple[int, ...] | None = None,
    ) -> PixelStats:
        """Accumulate the pixels of another batch (in place) and return self.

        A :class:`numpy.ma.MaskedArray` counts only its unmasked values.
        """
        X, mask = split_masked(X)
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
        valid = None if mask is None else ~image_view(mask, channel_axis, image_shape)
        return self.merge_inplace(self.from_view(view, valid=valid))

    @classmethod
    def from_view(
        cls, view: Any, per_image: bool = False, valid: Any = None
    ) -> PixelStats:
        """Statistics of a channels-last ``(n, H, W, C)`` view of any array namespace.

        Parameters
        ----------
        view : array of shape (n, H, W, C)
            A NumPy array, or an array of any array API namespace (PyTorch,
            CuPy, array_api_strict...: detected with ``array_api_compat``),
            reduced on its own device.
        per_image : bool, default=False
            Keep one row of statistics per image: every array then has shape
            ``(n, C)``.
        valid : bool array of shape (n, H, W, C), default=None
            Which values count (masked or nodata pixels do not), in the view's
            namespace; a channel with no valid value counts 0.

        Returns
        -------
        stats : PixelStats
            The same for every namespace: to the bit for integer pixels of up
            to 16 bits, within float64 rounding for other dtypes (float32
            rounding on a device without float64).

        Examples
        --------
        >>> import numpy as np
        >>> view = np.arange(12, dtype=np.uint8).reshape(2, 2, 1, 3)
        >>> PixelStats.from_view(view, per_image=True).mean
        array([[1.5, 2.5, 3.5],
               [7.5, 8.5, 9.5]])
        """
        if len(view.shape) != 4:
            raise ValueError(
                f"view must be a channels-last (n, H, W, C) array, got shape "
                f"{tuple(view.shape)}. Use PixelStats.from_array for other layouts."
            )
        valid = check_valid(valid, view)
        if isinstance(view, np.ma.MaskedArray):  # its mask, never ignored
            view, keep = masked_view(view, (-1, None), None)
            valid = keep if valid is None else keep & valid
        input_dtype = numpy_dtype(view)
        moments, lo, hi = reduce_view(view, per_image=per_image, valid=valid)
        return cls._make(input_dtype, view.shape[0], moments, lo, hi)

    @classmethod
    def from_histogram(cls, hist: Any, n_images: int = 1) -> PixelStats:
        """Exact statistics of ``uint8`` pixels from their per-channel histogram.

        Parameters
        ----------
        hist : array-like of int, shape (n_channels, 256)
            ``hist[c, v]`` pixels of channel ``c`` have value ``v`` (what
            Pillow's ``Image.histogram()`` returns, reshaped).  Counts of any
            size (Python ints beyond int64 too) are summed exactly.
        n_images : int, default=1
            Number of images the histogram counts (>= 0).

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
        if isinstance(n_images, bool) or not isinstance(n_images, Integral):
            raise ValueError(
                f"n_images must be an int >= 0, got {n_images!r}. Pass the number "
                "of images the histogram counts."
            )
        if n_images < 0:
            raise ValueError(
                f"n_images must be >= 0, got {n_images}. Pass the number of images "
                "the histogram counts."
            )
        hist = np.asarray(hist)
        kind_ok = hist.dtype.kind in "ui" or (
            hist.dtype == object
            and all(isinstance(v, Integral) for v in hist.ravel().tolist())
        )
        if hist.ndim != 2 or hist.shape[1] != 256 or not kind_ok:
            raise ValueError(
                "hist must be integer counts of shape (n_channels, 256), one row per "
                f"channel of uint8 pixels; got {hist.dtype} of shape {hist.shape}."
            )
        rows = hist.tolist()  # Python ints: exact whatever the counts
        if any(h < 0 for row in rows for h in row):
            raise ValueError(
                f"hist holds negative counts (smallest {min(map(min, rows))}); "
                "counts of pixels must be >= 0."
            )
        count = [sum(row) for row in rows]
        empty = [c for c, n in enumerate(count) if n == 0]
        if empty or not count:
            raise ValueError(
                f"hist counts no pixel in channel(s) {empty} of {len(count)}; every "
                "channel needs at least one pixel. Drop the empty channels."
            )
        values = np.arange(256, dtype=np.int64)
        if max(count) <= _INT64_MAX // (255 * 255):
            h = np.asarray(rows, dtype=np.int64)  # no sum below can overflow int64
            total, squares = (h @ values).tolist(), (h @ (values * values)).tolist()
        else:
            total = [sum(v * h for v, h in enumerate(row)) for row in rows]
            squares = [sum(v * v * h for v, h in enumerate(row)) for row in rows]
        seen = np.asarray([[h > 0 for h in row] for row in rows])
        lo = seen.argmax(axis=1)
        hi = 255 - seen[:, ::-1].argmax(axis=1)
        moments = ExactMoments(count, total, squares)
        return cls._make("uint8", n_images, moments, lo, hi)

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
        if other._moments is None:
            return self
        if self._moments is None:
            return self._set(*other._fields())
        self._check_compatible(other)
        dtype = self._input_dtype
        if not self.exact:
            dtype = np.promote_types(dtype, other._input_dtype).name
        return self._set(
            dtype,
            self._n_images + other._n_images,
            self._moments.merge(other._moments),
            np.fmin(self._min, other._min),
            np.fmax(self._max, other._max),
        )

    def _fields(self) -> tuple:
        return self._input_dtype, self._n_images, self._moments, self._min, self._max

    def _check_compatible(self, other: PixelStats) -> None:
        if self._min.shape != other._min.shape:
            raise ValueError(
                f"Cannot merge statistics of {self.n_channels} channels with "
                f"statistics of {other.n_channels} channels."
            )
        if self.exact != other.exact or (
            self.exact and self._input_dtype != other._input_dtype
        ):
            raise ValueError(
                f"Cannot merge statistics of {self._input_dtype} pixels with "
                f"statistics of {other._input_dtype} pixels: exact integer sums "
                "and float moments (or two integer units, e.g. 0-255 and "
                "0-65535) do not mix. Convert all images to one dtype before "
                "accumulating."
            )

    def copy(self) -> PixelStats:
        """Return an independent copy."""
        # The moments are immutable values and the arrays are never written in
        # place (merge_inplace rebinds them): sharing them is safe.
        return PixelStats.__new__(PixelStats)._set(*self._fields())

    def pooled(self, axis: int = -1) -> PixelStats:
        """Return the statistics of all channels pooled into one (global) channel.

        The result has one channel (shape ``(1,)``, or ``(n, 1)`` per image).
        ``axis`` is the channel axis of statistics with more axes (per-pixel
        statistics of shape ``(C, H, W)`` pool ``axis=0``); it is kept, of
        length 1.
        """
        self._require_data()
        return self._make(
            self._input_dtype,
            self._n_images,
            self._moments.moveaxis(axis, -1).pooled().moveaxis(-1, axis),
            np.fmin.reduce(self._min, axis=axis, keepdims=True),
            np.fmax.reduce(self._max, axis=axis, keepdims=True),
        )

    # -- results ------------------------------------------------------------
    def _require_data(self) -> None:
        if self._moments is None:
            raise ValueError(
                "These PixelStats are empty: accumulate images with update() or "
                "PixelStats.from_array() first."
            )

    @property
    def n_images(self) -> int:
        """Number of images accumulated."""
        return self._n_images

    @property
    def input_dtype(self) -> str | None:
        """Dtype of the accumulated pixels (``"uint8"``...), None while empty."""
        return self._input_dtype

    @property
    def dtype(self) -> str | None:
        """Deprecated alias of :attr:`input_dtype`."""
        warnings.warn(
            "PixelStats.dtype is deprecated and will be removed: it is the dtype "
            "of the input pixels, now named PixelStats.input_dtype (the "
            "estimators' dtype parameter is their output dtype).",
            FutureWarning,
            stacklevel=2,
        )
        return self._input_dtype

    @property
    def exact(self) -> bool:
        """Whether the accumulation is exact (integer input of at most 16 bits)."""
        return self._moments is not None and self._moments.exact

    @property
    def n_channels(self) -> int:
        """Number of channels."""
        self._require_data()
        return int(self._min.shape[-1])

    @property
    def count(self) -> np.ndarray:
        """Pixels counted per channel (NaN excluded): int64, shape (n_channels,).

        The same type for exact and float statistics.  Exact statistics hold
        counts of any size (see :attr:`n_pixels` and :meth:`to_dict`, Python
        ints); past ``2**63 - 1`` pixels per channel, which only merged exact
        statistics reach, ``count`` raises OverflowError.
        """
        self._require_data()
        counts = self._moments.count
        if counts.dtype == object and max(counts.ravel().tolist()) > _INT64_MAX:
            raise OverflowError(
                f"These statistics count {self.n_pixels} pixels per channel, more "
                "than an int64 array holds. Read n_pixels or to_dict()['count'] "
                "(Python ints) instead."
            )
        return counts.astype(np.int64)

    @property
    def n_pixels(self) -> int:
        """Pixels per channel over all images (the largest channel count), an int."""
        self._require_data()
        return int(max(self._moments.count.ravel().tolist(), default=0))

    @property
    def sum(self) -> np.ndarray:
        """Per-channel sum of pixel values: exact Python ints (object) or float64."""
        self._require_data()
        return self._moments.total_sum()

    @property
    def mean(self) -> np.ndarray:
        """Per-channel mean, float64 array of shape (n_channels,), in pixel units."""
        self._require_data()
        return self._moments.mean()

    def variance(self, ddof: int = 0) -> np.ndarray:
        """Per-channel variance ``sum((x - mean)**2) / (count - ddof)``, float64.

        NaN where ``count <= ddof``.
        """
        self._require_data()
        return self._moments.variance(ddof)

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
        if self._moments is None or other._moments is None:
            return self._moments is other._moments
        return (
            (self._input_dtype, self._n_images) == (other._input_dtype, other._n_images)
            and self._moments.equals(other._moments)
            and np.array_equal(self._min, other._min, equal_nan=True)
            and np.array_equal(self._max, other._max, equal_nan=True)
        )

    __hash__ = None  # compared by value, merged in place

    def __repr__(self) -> str:
        if self._moments is None:
            return "PixelStats(empty)"
        with np.printoptions(precision=4, suppress=True):
            return (
                f"PixelStats(n_images={self.n_images}, n_pixels={self.n_pixels}, "
                f"input_dtype={self.input_dtype}, exact={self.exact}, "
                f"mean={self.mean}, std={self.std}, min={self.min}, max={self.max})"
            )

    # -- plain data, for files and for sending between processes ---------------
    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serializable dict (exact sums as Python ints).

        The key ``"dtype"`` holds :attr:`input_dtype` (the name files have
        always used).

        Examples
        --------
        >>> import numpy as np
        >>> stats = PixelStats.from_array(np.full((1, 2, 2, 1), 7, np.uint8))
        >>> stats.to_dict()["sum"]
        [28]
        """
        self._require_data()
        return {
            "dtype": self._input_dtype,
            "exact": self.exact,
            "n_images": self._n_images,
            "count": [int(c) for c in self._moments.count.tolist()],
            "min": self._min.tolist(),
            "max": self._max.tolist(),
            **self._moments.fields(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PixelStats:
        """Rebuild statistics written by :meth:`to_dict` (validated).

        Raises
        ------
        InvalidStatsError
            When a field is malformed, or when the fields contradict each
            other: ``exact`` not matching ``dtype``, a minimum above its
            maximum, or moments no set of pixels has (``count * sumsq <
            sum**2``).
        """
        from ._validation import stats_fields

        return cls._make(*stats_fields(data))


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
