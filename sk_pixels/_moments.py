"""The two kinds of per-channel moments behind :class:`~sk_pixels.PixelStats`.

* :class:`ExactMoments`: count, sum and sum of squares as Python ints (object
  arrays), for integer pixels of at most 16 bits.  Merging adds integers, so it
  is exact and associative: any split, order or thread count gives the same
  integers.  The mean ``sum / count`` and the variance
  ``(count * sumsq - sum**2) / (count * (count - ddof))`` are exact rationals
  rounded once to float64 (Python's integer true division is correctly rounded).
* :class:`FloatMoments`: count (int64), mean as a double-double ``mean + mean_lo``
  and the sum of squared deviations ``m2`` (float64), merged with the pairwise
  update of Chan, Golub and LeVeque (1979), "Updating formulae and a pairwise
  algorithm for computing sample variances" (the formula behind scikit-learn's
  ``_incremental_mean_and_var``).

:class:`ExactSums` is the running form of exact moments over many tiles
(float64 while provably exact, then Python ints), for the masked exact path.

Both moments are immutable values with the same small interface (``merge``,
``pooled``, ``concatenate``, ``mean``, ``variance``, ``total_sum``, ``fields``,
``equals``); arrays have shape ``(C,)`` or ``(n, C)`` (one row per image).
PixelStats holds one of them and never branches on the kind.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._blocks import fold


def as_ints(values: Any) -> np.ndarray:
    """Integer values (ints, lists, integer arrays) -> object array of Python ints."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        return values.astype(object)  # NumPy makes Python ints, in C
    if isinstance(values, np.ndarray) and values.dtype == object:
        # Made by the moments themselves (sums of Python ints, astype(object)
        # of integer arrays): no per-value loop, which costs as much as the
        # reduction for the 150,528 "channels" of a 224x224x3 mean image.
        # Lists (files, user input) are still checked value by value below.
        return values
    values = np.asarray(values, dtype=object)
    out = np.empty(values.shape, dtype=object)
    out.ravel()[:] = [int(v) for v in values.ravel()]
    return out


#: Integers below this are exact in float64.
_EXACT_FLOAT = 2**53


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Elementwise ``num / den`` of Python ints (correctly rounded), NaN for 0/0."""
    if num.size and max(np.abs(num).max(), den.max()) < _EXACT_FLOAT:
        # Both exact in float64, and IEEE division is correctly rounded: the
        # same float as Python's int / int, without a loop over the values.
        num, den = num.astype(np.float64), den.astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    out = np.empty(num.shape, dtype=np.float64)
    flat = out.ravel()
    for k, (a, b) in enumerate(zip(num.ravel(), den.ravel(), strict=True)):
        flat[k] = a / b if b > 0 else np.nan
    return out


class _Moments:
    """What both kinds share: a tuple of same-shaped arrays (``_arrays``)."""

    __slots__ = ()

    def _arrays(self) -> tuple[np.ndarray, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    @classmethod
    def concatenate(cls, parts: list) -> Any:
        return cls(*(np.concatenate(a) for a in zip(*(p._arrays() for p in parts))))

    def reshape(self, shape: tuple[int, ...]) -> Any:
        return type(self)(*(a.reshape(shape) for a in self._arrays()))

    def moveaxis(self, source: int, destination: int) -> Any:
        """The same moments with axis ``source`` moved to ``destination``
        (per-pixel statistics pool their channel axis as the last one)."""
        return type(self)(
            *(np.moveaxis(a, source, destination) for a in self._arrays())
        )

    def equals(self, other: Any) -> bool:
        return type(other) is type(self) and all(
            np.array_equal(a, b, equal_nan=a.dtype != object)
            for a, b in zip(self._arrays(), other._arrays(), strict=True)
        )


class ExactMoments(_Moments):
    """Count, sum and sum of squares per channel, as Python ints (exact)."""

    exact = True
    __slots__ = ("count", "total", "squares")

    def __init__(self, count: Any, total: Any, squares: Any) -> None:
        self.count = as_ints(count)
        self.total = as_ints(total)
        self.squares = as_ints(squares)

    @classmethod
    def zeros(cls, shape: tuple[int, ...]) -> ExactMoments:
        zero = np.zeros(shape, dtype=np.int64)
        return cls(zero, zero, zero)

    def merge(self, other: ExactMoments) -> ExactMoments:
        return ExactMoments(
            self.count + other.count,
            self.total + other.total,
            self.squares + other.squares,
        )

    def pooled(self) -> ExactMoments:
        return ExactMoments(*(a.sum(axis=-1, keepdims=True) for a in self._arrays()))

    def total_sum(self) -> np.ndarray:
        return self.total.copy()

    def mean(self) -> np.ndarray:
        return _ratio(self.total, self.count)

    def variance(self, ddof: int) -> np.ndarray:
        num = self.count * self.squares - self.total * self.total
        return _ratio(num, self.count * (self.count - ddof))

    def fields(self) -> dict[str, list]:
        return {
            "sum": [int(v) for v in self.total.tolist()],
            "sumsq": [int(v) for v in self.squares.tolist()],
        }

    @classmethod
    def from_fields(cls, count: list, data: dict[str, Any]) -> ExactMoments:
        return cls(count, data["sum"], data["sumsq"])

    def inconsistent(self) -> np.ndarray:
        """Channels whose moments no set of pixels has (``count * sumsq < sum**2``)."""
        return self.count * self.squares < self.total * self.total


class ExactSums:
    """Running exact moments and extrema per column of masked integer pixels.

    Tiles of a ``(rows, width)`` stream of pixels are added as the exact
    kernel gives them (:func:`sk_pixels._reduce.exact_block` with ``valid``).
    Sums are held in float64 while every sum is an integer below 2**53 (exact),
    which is provable from the rows added so far and the dtype's largest
    square (a column holds 1.4e11 uint8 or 2.1e6 uint16 values); beyond, they
    are added to Python ints and start again.  So the result is exact for any
    number of pixels, with no per-value Python loop while the bound holds.
    """

    def __init__(self, width: int, largest_square: int) -> None:
        self._largest = max(int(largest_square), 1)
        self._fast = np.zeros((3, width))  # sum, squares, count (exact integers)
        self._big: np.ndarray | None = None
        self._held = 0  # rows in ``_fast``: values per column, at most
        self._lo, self._hi = np.full(width, np.inf), np.full(width, -np.inf)

    def add(self, rows: slice, columns: slice, sums, lo, hi) -> None:
        """Add a tile: ``sums`` (3, 1, k) of x, x * x and valid (integers in
        float64), ``lo``/``hi`` (1, k); tiles of new rows start at column 0."""
        if columns.start == 0:
            n_rows = rows.stop - rows.start
            if (self._held + n_rows) * self._largest >= 2**53:
                big = self._fast.astype(np.int64).astype(object)
                self._big = big if self._big is None else self._big + big
                self._fast[...], self._held = 0.0, 0
            self._held += n_rows
        self._fast[:, columns] += sums[:, 0]
        np.fmin(self._lo[columns], lo[0], out=self._lo[columns])
        np.fmax(self._hi[columns], hi[0], out=self._hi[columns])

    def result(self, channels: int) -> tuple[ExactMoments, np.ndarray, np.ndarray]:
        """Moments, minima and maxima per channel (column ``j`` is channel
        ``j % channels``); a channel with no valid value has NaN extrema."""
        fast = self._fast.astype(np.int64)  # exact: integers below 2**53
        width = fast.shape[1]
        if self._big is not None or (
            self._held * (width // channels) * self._largest >= 2**63
        ):
            fast = fast.astype(object)  # the fold could overflow int64
            fast = fast if self._big is None else fast + self._big
        total, squares, count = fold(fast, channels, np.add)
        empty = np.asarray(count == 0, dtype=bool)
        lo, hi = (
            fold(self._lo, channels, np.minimum),
            fold(self._hi, channels, np.maximum),
        )
        return (
            ExactMoments(count, total, squares),
            np.where(empty, np.nan, lo),
            np.where(empty, np.nan, hi),
        )


def fast_two_sum(hi: np.ndarray, lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Renormalize ``hi + lo`` (``|lo| <= |hi|``) into a double-double pair."""
    with np.errstate(invalid="ignore"):
        total = hi + lo
        err = lo - (total - hi)
    return total, np.where(np.isfinite(err), err, 0.0)


class FloatMoments(_Moments):
    """Count (int64), double-double mean and ``m2`` per channel (float64).

    ``mean_lo`` is the rounding error of ``mean``, so that merging batches with
    a large offset and a tiny variance keeps the variance to ~1e-15 instead of
    ~1e-7.  A channel with no pixel has ``mean`` NaN and ``m2`` 0.
    """

    exact = False
    __slots__ = ("count", "mean_hi", "mean_lo", "m2")

    def __init__(self, count: Any, mean: Any, mean_lo: Any, m2: Any) -> None:
        self.count = np.asarray(count, dtype=np.int64)
        self.mean_hi = np.asarray(mean, dtype=np.float64)
        self.mean_lo = np.asarray(mean_lo, dtype=np.float64)
        self.m2 = np.asarray(m2, dtype=np.float64)

    @classmethod
    def zeros(cls, shape: tuple[int, ...]) -> FloatMoments:
        return cls(
            np.zeros(shape), np.full(shape, np.nan), np.zeros(shape), np.zeros(shape)
        )

    def merge(self, other: FloatMoments) -> FloatMoments:
        """Chan, Golub and LeVeque's pairwise update, means as double-doubles.

        The difference of two close means ``mb - ma`` is exact in float64
        (Sterbenz) and their rounding errors are added back, so the
        between-set term stays accurate when the offset dwarfs the spread.
        """
        n_a, hi_a, lo_a, m2_a = self._arrays()
        n_b, hi_b, lo_b, m2_b = other._arrays()
        n = n_a + n_b
        with np.errstate(invalid="ignore", divide="ignore"):
            delta = (hi_b - hi_a) + (lo_b - lo_a)
            frac_b = n_b / n
            hi, lo = fast_two_sum(hi_a, lo_a + delta * frac_b)
            m2 = m2_a + m2_b + delta**2 * (n_a * frac_b)
        a_empty, b_empty = n_a == 0, n_b == 0
        return FloatMoments(
            n,
            np.where(a_empty, hi_b, np.where(b_empty, hi_a, hi)),
            np.where(a_empty, lo_b, np.where(b_empty, lo_a, lo)),
            np.where(a_empty, m2_b, np.where(b_empty, m2_a, m2)),
        )

    def pooled(self) -> FloatMoments:
        # The channels are merged like batches, one at a time.
        acc = FloatMoments(*(a[..., :1] for a in self._arrays()))
        for c in range(1, self.count.shape[-1]):
            acc = acc.merge(FloatMoments(*(a[..., c : c + 1] for a in self._arrays())))
        return acc

    def total_sum(self) -> np.ndarray:
        return (self.mean_hi + self.mean_lo) * self.count

    def mean(self) -> np.ndarray:
        return np.where(self.count > 0, self.mean_hi + self.mean_lo, np.nan)

    def variance(self, ddof: int) -> np.ndarray:
        dof = self.count - ddof
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(dof > 0, self.m2 / np.maximum(dof, 1), np.nan)

    def fields(self) -> dict[str, list]:
        return {
            "mean": self.mean_hi.tolist(),
            "mean_lo": self.mean_lo.tolist(),
            "m2": self.m2.tolist(),
        }

    @classmethod
    def from_fields(cls, count: list, data: dict[str, Any]) -> FloatMoments:
        mean = np.asarray(data["mean"], dtype=np.float64)
        lo = data.get("mean_lo", np.zeros_like(mean))  # absent in older files
        return cls(count, mean, lo, data["m2"])
