"""PixelHistogram: mergeable per-channel histograms, and the percentiles they give.

Two kinds, chosen by the input dtype, as for :class:`~sk_pixels.PixelStats`:

* **Exact** (``uint8``, ``int8``, ``uint16``, ``int16``): one bin per value
  (256 or 65,536 per channel; signed values offset by 128 or 32,768).  Counts
  are integers (int64, promoted to Python ints before a merge could overflow),
  so percentiles are exact whatever the split, order or number of workers.
* **Float** (every other numeric dtype): 65,536 bins per channel on the top 16
  bits of each value's float32 bit pattern, mapped to an order-preserving key
  (sign, 8 exponent bits, 7 mantissa bits).  Bounded memory (512 KiB per
  channel), mergeable, one pass; each percentile is within ``2**-7`` (0.8 %)
  relative of the exact one (see :meth:`PixelHistogram.quantile`).
"""

from __future__ import annotations

from fractions import Fraction
from numbers import Integral
from typing import Any

import numpy as np

from ._blocks import BLOCK_BYTES, iter_blocks
from ._nodata import check_valid, masked_view, split_masked

__all__ = ["PixelHistogram", "histogram_dtype"]

#: dtype -> (value of bin 0, number of bins) for the exact kinds.
_EXACT_BINS = {
    "uint8": (0, 256),
    "int8": (-128, 256),
    "uint16": (0, 65536),
    "int16": (-32768, 65536),
}
#: Bins of the float kind: the top 16 bits of a float32 order-preserving key.
_FLOAT_BINS = 65536
_KEY_SHIFT = 16
#: Relative error bound of the float kind: one bin spans 2**16 float32 ulps.
FLOAT_RELATIVE_ERROR = 2.0**-7
_INT64_MAX = np.iinfo(np.int64).max


def histogram_dtype(dtype: Any) -> str:
    """The kind of histogram of pixels of ``dtype``: a dtype name, or ``"float"``.

    Examples
    --------
    >>> histogram_dtype(np.uint16), histogram_dtype(np.float32)
    ('uint16', 'float')
    """
    dtype = np.dtype(dtype)
    if dtype.name in _EXACT_BINS:
        return dtype.name
    if dtype.kind in "uif":
        return "float"
    raise ValueError(
        f"Pixel histograms need numeric pixels; got dtype {dtype}. Convert X to "
        "an integer or float dtype first."
    )


def _float_keys(values: np.ndarray) -> np.ndarray:
    """Order-preserving bin of each (non-NaN) value: top 16 bits of its key."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    negative = (bits >> 31).astype(bool)
    keys = np.where(negative, ~bits, bits | np.uint32(0x80000000))
    return (keys >> np.uint32(_KEY_SHIFT)).astype(np.intp)


def _float_edges() -> tuple[np.ndarray, np.ndarray]:
    """Smallest and largest float32 value of every float bin, as float64."""
    low = np.arange(_FLOAT_BINS, dtype=np.uint64) << np.uint64(_KEY_SHIFT)
    high = low | np.uint64((1 << _KEY_SHIFT) - 1)

    def value(keys):
        keys = keys.astype(np.uint32)
        positive = (keys >> 31).astype(bool)
        bits = np.where(positive, keys & np.uint32(0x7FFFFFFF), ~keys)
        with np.errstate(invalid="ignore"):  # NaN bit patterns: never counted
            return bits.view(np.float32).astype(np.float64)

    lo, hi = value(low), value(high)
    # Negative bins hold values from -|hi| to -|lo|: order each pair.
    return np.minimum(lo, hi), np.maximum(lo, hi)


class PixelHistogram:
    """Mergeable per-channel pixel histograms, with exact percentiles.

    Counts, per channel, how many pixels take each value (integer pixels of at
    most 16 bits) or fall in each of 65,536 order-preserving bins (float
    pixels).  Histograms of separate batches or workers merge with
    :meth:`merge` (or ``+``) into the histogram of all their pixels, so
    dataset percentiles can be computed in one streaming pass, in bounded
    memory (``65,536 x n_channels`` counts at most).

    Create with :meth:`from_array`, :meth:`from_view`, :meth:`from_histogram`
    (Pillow's 8-bit histograms) or :meth:`from_dict`.

    Attributes
    ----------
    input_dtype : str
        Dtype of the pixels counted (``"uint16"``...).
    exact : bool
        Whether every value has its own bin (integers of at most 16 bits).
    n_images : int
        Number of images counted.
    counts : ndarray of shape (n_channels, n_bins)
        ``counts[c, i]`` pixels of channel ``c`` fall in bin ``i``; for exact
        kinds bin ``i`` is the value ``i + offset``.
    offset : int
        Value of bin 0 (``-128`` for ``int8``, ``-32768`` for ``int16``, else 0).

    See Also
    --------
    PixelStats : The mergeable moments, minimum and maximum.
    PixelNormalizer : ``quantile_range=(lo, hi)`` scales by percentiles.

    Notes
    -----
    Masked and nodata pixels (``valid`` of :meth:`from_view`; the estimators'
    ``nodata``) are not counted.

    NaN pixels are not counted (as ``numpy.nanpercentile``).  :meth:`quantile`
    follows ``numpy.quantile``'s default ``method="linear"``: with ``N`` pixels
    sorted as ``x[0] <= ... <= x[N-1]``, ``h = (N - 1) q``, the result is
    ``x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h])``.  For exact
    kinds the order statistics ``x[k]`` are read exactly from the cumulative
    counts (Python integers), and the interpolation uses the same float64
    operations as NumPy, so the result equals ``numpy.quantile`` on the same
    pixels to the bit (for ``int8`` / ``int16`` pixels: on the pixels as
    ``int64``, since NumPy subtracts neighbouring order statistics in the
    pixel dtype, which wraps around when they are more than the dtype's
    maximum apart, e.g. ``0 - (-128)`` in ``int8``).

    Examples
    --------
    >>> import numpy as np
    >>> from sk_pixels import PixelHistogram
    >>> X = np.array([[[[0], [10], [20], [1000]]]], dtype=np.uint16)
    >>> hist = PixelHistogram.from_array(X[:, :, :2]) + PixelHistogram.from_array(
    ...     X[:, :, 2:])
    >>> hist.percentile([50, 90])
    array([[ 15.],
           [706.]])
    >>> np.percentile(X, [50, 90])
    array([ 15., 706.])
    """

    __slots__ = ("counts", "input_dtype", "n_images")

    def __init__(self, counts: np.ndarray, input_dtype: str, n_images: int) -> None:
        self.counts = counts
        self.input_dtype = input_dtype
        self.n_images = int(n_images)

    # -- constructors -----------------------------------------------------------
    @classmethod
    def from_view(cls, view: Any, valid: Any = None) -> PixelHistogram:
        """Histogram of a channels-last ``(n, H, W, C)`` view.

        Arrays of other namespaces (PyTorch, CuPy...) are copied to the host
        one block at a time.  ``valid`` (a boolean array of the view's shape
        and namespace, or None) says which values count: masked and nodata
        pixels are left out of their channel, as from the moments.
        """
        if len(view.shape) != 4:
            raise ValueError(
                f"view must be a channels-last (n, H, W, C) array, got shape "
                f"{tuple(view.shape)}. Use PixelHistogram.from_array for other "
                "layouts."
            )
        valid = check_valid(valid, view)
        if isinstance(view, np.ma.MaskedArray):  # its mask, never ignored
            view, keep = masked_view(view, (-1, None), None)
            valid = keep if valid is None else keep & valid
        kind = histogram_dtype(_numpy_dtype(view))
        n, _, _, channels = (int(s) for s in view.shape)
        offset, n_bins = _EXACT_BINS.get(kind, (0, _FLOAT_BINS))
        counts = np.zeros((n_bins, channels), dtype=np.int64)
        span = np.arange(channels, dtype=np.intp)
        # An intp key per value: keep one block of keys at a time.
        block = max(1, BLOCK_BYTES // 8)
        for images, rows in iter_blocks((n, *view.shape[1:3], channels), block):
            values = _to_host(view[images, rows, ...]).reshape(-1, channels)
            keep = None
            if valid is not None:
                keep = _to_host(valid[images, rows, ...]).reshape(-1, channels)
            if kind == "float":
                finite = values == values  # NaN is not counted
                keys = _float_keys(values)
                keep = finite if keep is None else keep & finite
            else:
                keys = values.astype(np.intp)
                if offset:
                    keys -= offset
            if keep is not None and not keep.all():
                keys = np.where(keep, keys, -1)
            keys *= channels
            keys += span
            keys = keys.ravel()
            if keep is not None and (keys < 0).any():  # left out: not counted
                keys = keys[keys >= 0]
            counts += np.bincount(keys, minlength=n_bins * channels).reshape(
                n_bins, channels
            )
        return cls(np.ascontiguousarray(counts.T), _dtype_name(view), n)

    @classmethod
    def from_array(
        cls, X: Any, channel_axis: int | None = -1, image_shape=None
    ) -> PixelHistogram:
        """Histogram of a batch of images in any accepted layout.

        Parameters
        ----------
        X : array of shape (n, H, W, C), (n, C, H, W), (n, H, W) or (n, n_features)
            Images.
        channel_axis, image_shape
            Layout, as for the estimators.  A :class:`numpy.ma.MaskedArray`
            counts only its unmasked values.
        """
        from ._stats import _check_pixels

        X, mask = split_masked(X)
        X = _check_pixels(X)
        if mask is not None:
            X = np.ma.MaskedArray(X, mask=mask)
        return cls.from_view(*masked_view(X, (channel_axis, image_shape), None))

    @classmethod
    def from_histogram(cls, hist: Any, n_images: int = 1) -> PixelHistogram:
        """Exact histogram of ``uint8`` pixels from per-channel counts (Pillow's).

        Parameters
        ----------
        hist : array-like of int, shape (n_channels, 256)
            ``hist[c, v]`` pixels of channel ``c`` have value ``v``, e.g.
            ``np.reshape(image.histogram(), (-1, 256))`` for a Pillow image.
        n_images : int, default=1
            Number of images counted.

        Examples
        --------
        >>> hist = np.zeros((1, 256), dtype=int)
        >>> hist[0, [3, 7]] = 1
        >>> PixelHistogram.from_histogram(hist).percentile(50)
        array([5.])
        """
        return cls._checked(hist, "uint8", n_images)

    @classmethod
    def _checked(cls, hist: Any, input_dtype: str, n_images: Any) -> PixelHistogram:
        if isinstance(n_images, bool) or not isinstance(n_images, Integral):
            raise ValueError(f"n_images must be an int >= 0, got {n_images!r}.")
        if n_images < 0:
            raise ValueError(f"n_images must be an int >= 0, got {n_images}.")
        n_bins = _EXACT_BINS.get(input_dtype, (0, _FLOAT_BINS))[1]
        hist = np.asarray(hist)
        kind_ok = hist.dtype.kind in "ui" or (
            hist.dtype == object
            and all(
                isinstance(v, Integral) and not isinstance(v, bool)
                for v in hist.ravel().tolist()
            )
        )
        if hist.ndim != 2 or hist.shape[1] != n_bins or not kind_ok:
            raise ValueError(
                f"hist must be integer counts of shape (n_channels, {n_bins}), one "
                f"row per channel of {input_dtype} pixels; got {hist.dtype} of "
                f"shape {hist.shape}."
            )
        rows = hist.tolist()
        if any(h < 0 for row in rows for h in row):
            raise ValueError(
                f"hist holds negative counts (smallest {min(map(min, rows))}); "
                "counts of pixels must be >= 0."
            )
        return cls(_as_counts(rows), input_dtype, n_images)

    # -- merging ----------------------------------------------------------------
    def merge(self, other: PixelHistogram) -> PixelHistogram:
        """The histogram of the pixels of ``self`` and ``other`` together.

        Counts stay exact: int64, or Python integers past int64's range.
        """
        if not isinstance(other, PixelHistogram):
            raise TypeError(
                f"Can only merge PixelHistogram with PixelHistogram, got "
                f"{type(other).__name__}."
            )
        if self.kind != other.kind or self.counts.shape != other.counts.shape:
            raise ValueError(
                f"Cannot merge a histogram of {self.n_channels} channel(s) of "
                f"{self.input_dtype} pixels with one of {other.n_channels} channel(s) "
                f"of {other.input_dtype} pixels: the bins differ. Convert the "
                "batches to one dtype and channel count."
            )
        a, b = self.counts, other.counts
        if a.dtype == object or b.dtype == object or a.max() > _INT64_MAX - b.max():
            counts = _as_counts(
                [[x + y for x, y in zip(r, s)] for r, s in zip(a.tolist(), b.tolist())]
            )
        else:
            counts = a + b
        return PixelHistogram(counts, self.input_dtype, self.n_images + other.n_images)

    __add__ = merge

    def copy(self) -> PixelHistogram:
        return PixelHistogram(self.counts.copy(), self.input_dtype, self.n_images)

    def pooled(self) -> PixelHistogram:
        """The histogram of all channels as one channel."""
        counts = self.counts.sum(axis=0, keepdims=True)
        if counts.dtype != object and counts.max() < 0:  # pragma: no cover
            counts = _as_counts(self.counts.tolist())
        return PixelHistogram(counts, self.input_dtype, self.n_images)

    # -- properties -------------------------------------------------------------
    @property
    def kind(self) -> str:
        return histogram_dtype(self.input_dtype)

    @property
    def exact(self) -> bool:
        return self.kind != "float"

    @property
    def offset(self) -> int:
        return _EXACT_BINS.get(self.kind, (0, 0))[0]

    @property
    def n_channels(self) -> int:
        return int(self.counts.shape[0])

    @property
    def count(self) -> np.ndarray:
        """Pixels counted per channel (NaN excluded), shape (n_channels,)."""
        return np.asarray([sum(row) for row in self.counts.tolist()], dtype=object)

    # -- percentiles ------------------------------------------------------------
    def quantile(self, q: Any, per_channel: bool = True) -> np.ndarray:
        """Quantiles ``q`` (in [0, 1]) per channel, as ``numpy.quantile``.

        Parameters
        ----------
        q : float or sequence of float in [0, 1]
            Quantiles to compute.
        per_channel : bool, default=True
            False pools the channels (the quantiles of all pixels).

        Returns
        -------
        values : ndarray of shape (len(q), n_channels), or (len(q), 1) pooled
            float64, NaN for a channel with no pixel.  A scalar ``q`` gives
            shape ``(n_channels,)``.

        Notes
        -----
        Exact kinds equal ``numpy.quantile(x, q)`` (``method="linear"``) on
        the channel's pixels to the bit.  The float kind returns, for each
        order statistic ``x[k]``, a value of the bin that holds it (placed by
        rank inside the bin), so each result differs from the exact one by at
        most ``2**-7 * max(|x[k]|, |x[k+1]|)`` plus float32 rounding of
        float64 input (and ``1.2e-38`` absolute near zero).
        """
        scalar = np.ndim(q) == 0
        qs = np.atleast_1d(np.asarray(q, dtype=np.float64))
        if qs.ndim != 1 or not np.all((qs >= 0) & (qs <= 1)):
            raise ValueError(
                f"Quantiles must be in the range [0, 1]; got q={np.asarray(q)!r}."
            )
        hist = self if per_channel else self.pooled()
        out = np.array(
            [[hist._one(c, float(v)) for c in range(hist.n_channels)] for v in qs],
            dtype=np.float64,
        )
        return out[0] if scalar else out

    def percentile(self, p: Any, per_channel: bool = True) -> np.ndarray:
        """Percentiles ``p`` in [0, 100], as ``numpy.percentile`` (see ``quantile``)."""
        p = np.asarray(p, dtype=np.float64)
        if not np.all((p >= 0) & (p <= 100)):
            raise ValueError(f"Percentiles must be in the range [0, 100]; got p={p!r}.")
        return self.quantile(np.true_divide(p, 100), per_channel=per_channel)

    def _one(self, channel: int, q: float) -> float:
        row = self.counts[channel]
        cum = (
            np.cumsum(row)
            if row.dtype != object
            else np.asarray(np.cumsum(row.tolist()), dtype=object)
        )
        n = int(cum[-1])
        if n == 0:
            return float("nan")
        # numpy's "linear" method: virtual index, its floor and the weight, in
        # float64 exactly as numpy.quantile computes them.
        virtual = np.float64(n - 1) * np.float64(q)
        k = int(np.floor(virtual))
        gamma = np.float64(virtual - k) if k < n - 1 else np.float64(0.0)
        k = min(max(k, 0), n - 1)
        a = self._order_statistic(cum, k)
        b = self._order_statistic(cum, min(k + 1, n - 1))
        if self.exact:
            a_f, diff = np.float64(a), np.float64(int(b) - int(a))
        else:
            a_f, diff = np.float64(a), np.float64(b) - np.float64(a)
        if gamma >= 0.5:
            return float(np.float64(b) - diff * (1 - gamma))
        return float(a_f + diff * gamma)

    def _order_statistic(self, cum: np.ndarray, k: int):
        """The value of rank ``k`` (0-based) of one channel."""
        i = int(np.searchsorted(cum, k, side="right"))
        if self.exact:
            return i + self.offset
        lo, hi = _FLOAT_EDGES_CACHE.get()
        before = int(cum[i - 1]) if i else 0
        inside = int(cum[i]) - before
        # Place the rank inside the bin, at the middle of its share.
        t = (Fraction(k - before) + Fraction(1, 2)) / inside
        return float(lo[i] + (hi[i] - lo[i]) * float(t))

    # -- plain data -------------------------------------------------------------
    def to_dict(self, sparse: bool = True) -> dict[str, Any]:
        """JSON-serializable dict; ``sparse`` stores only non-zero bins.

        Sparse bins are ``[[bin, count], ...]`` per channel (bin index, not
        value: value = bin + offset for exact kinds).
        """
        rows = [[int(v) for v in row] for row in self.counts.tolist()]
        data: dict[str, Any] = {
            "dtype": self.input_dtype,
            "n_images": self.n_images,
            "n_bins": int(self.counts.shape[1]),
        }
        if sparse:
            data["bins"] = [[[i, v] for i, v in enumerate(row) if v] for row in rows]
        else:
            data["counts"] = rows
        return data

    @classmethod
    def from_dict(cls, data: Any) -> PixelHistogram:
        """Rebuild a histogram written by :meth:`to_dict` (validated).

        Raises
        ------
        ValueError
            When a field is missing, of the wrong type, or out of range.
        """
        if not isinstance(data, dict):
            raise ValueError(f"A histogram must be a dict, got {type(data).__name__}.")
        dtype = data.get("dtype")
        try:
            ok = isinstance(dtype, str) and np.dtype(dtype).name == dtype
            ok = ok and np.dtype(dtype).kind in "uif"
        except TypeError:
            ok = False
        if not ok:
            raise ValueError(
                "Histogram field 'dtype' must name a numeric dtype, got "
                f"{str(dtype)[:80]!r}."
            )
        n_bins = _EXACT_BINS.get(histogram_dtype(dtype), (0, _FLOAT_BINS))[1]
        if data.get("n_bins") != n_bins:
            raise ValueError(
                f"Histogram field 'n_bins' must be {n_bins} for {dtype} pixels, got "
                f"{data.get('n_bins')!r}."
            )
        if ("bins" in data) == ("counts" in data):
            raise ValueError("A histogram needs exactly one of 'bins' and 'counts'.")
        if "counts" in data:
            return cls._checked(
                _int_rows(data["counts"], "counts"), dtype, data.get("n_images")
            )
        sparse = data["bins"]
        if not isinstance(sparse, list) or not sparse:
            raise ValueError("Histogram field 'bins' must be a non-empty list.")
        # Only non-zero bins are read: time linear in the document; memory
        # n_channels x n_bins counts (callers bound n_channels first).
        index, values, channels = [], [], []
        for channel, pairs in enumerate(sparse):
            if not isinstance(pairs, list):
                raise ValueError(
                    f"Histogram bins of channel {channel} must be a list of [bin, "
                    f"count] pairs, got {type(pairs).__name__}."
                )
            seen = set()
            for pair in pairs:
                ok = (
                    isinstance(pair, list)
                    and len(pair) == 2
                    and all(type(v) is int for v in pair)
                    and 0 <= pair[0] < n_bins
                    and pair[1] >= 0
                    and pair[0] not in seen
                )
                if not ok:
                    raise ValueError(
                        f"Histogram bins of channel {channel} must be distinct "
                        f"[bin, count] pairs with 0 <= bin < {n_bins} and count "
                        f">= 0; got {str(pair)[:80]}."
                    )
                seen.add(pair[0])
                channels.append(channel)
                index.append(pair[0])
                values.append(pair[1])
        if max(values, default=0) <= _INT64_MAX // 2:
            rows = np.zeros((len(sparse), n_bins), dtype=np.int64)
            rows[channels, index] = values
        else:
            rows = np.zeros((len(sparse), n_bins), dtype=object)
            for c, i, v in zip(channels, index, values):
                rows[c, i] = v
        return cls._checked(rows, dtype, data.get("n_images"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PixelHistogram):
            return NotImplemented
        return (
            self.input_dtype == other.input_dtype
            and self.n_images == other.n_images
            and self.counts.shape == other.counts.shape
            and self.counts.tolist() == other.counts.tolist()
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"PixelHistogram(input_dtype={self.input_dtype!r}, "
            f"n_channels={self.n_channels}, n_images={self.n_images})"
        )


class _EdgesCache:
    """The float bins' edges, computed on first use."""

    def __init__(self) -> None:
        self._edges: tuple[np.ndarray, np.ndarray] | None = None

    def get(self) -> tuple[np.ndarray, np.ndarray]:
        if self._edges is None:
            self._edges = _float_edges()
        return self._edges


_FLOAT_EDGES_CACHE = _EdgesCache()


def _int_rows(rows: Any, name: str) -> np.ndarray:
    ok = isinstance(rows, list) and all(
        isinstance(row, list) and all(type(v) is int for v in row) for row in rows
    )
    if not ok or not rows:
        raise ValueError(
            f"Histogram field {name!r} must be a non-empty list of lists of "
            f"integers (one per channel), got {str(rows)[:80]}."
        )
    return np.asarray(rows, dtype=object)


def _as_counts(rows: list) -> np.ndarray:
    """Counts as int64 when they fit, else as an object array of Python ints."""
    if max((v for row in rows for v in row), default=0) <= _INT64_MAX // 2:
        return np.asarray(rows, dtype=np.int64).reshape(len(rows), -1)
    return np.asarray(rows, dtype=object).reshape(len(rows), -1)


def _numpy_dtype(view: Any) -> np.dtype:
    from ._xp import numpy_dtype

    return np.dtype(numpy_dtype(view))


def _dtype_name(view: Any) -> str:
    return _numpy_dtype(view).name


def _to_host(block: Any) -> np.ndarray:
    if isinstance(block, np.ndarray):
        return block
    from ._xp import to_numpy

    return to_numpy(block)
