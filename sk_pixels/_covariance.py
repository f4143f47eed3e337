"""A mergeable accumulator of the mean and covariance of row vectors.

:class:`PixelCovariance` is to :class:`~sk_pixels.PixelWhitener` what
:class:`~sk_pixels.PixelStats` is to the per-channel scalers: streaming
(``update``), mergeable (``merge`` / ``+``) and exact for small integers.  A
row is a flattened image (whole-image whitening) or a flattened ``k x k x C``
patch (patch whitening).

Two representations, chosen by the dtype of the first rows:

- **Exact** (integers of at most 16 bits: ``uint8``, ``int8``, ``uint16``,
  ``int16``): the row count ``n``, the integer sum ``S = sum(x)`` and the
  integer Gram matrix ``G = sum(x x^T)``.  The covariance is
  ``(n G - S S^T) / n^2``, computed in integers and rounded once.
- **Float** (every other dtype): ``n``, the float64 mean and the co-moment
  matrix ``M2 = sum((x - mean)(x - mean)^T)``, merged with the pairwise update
  of Chan, Golub and LeVeque (1979, "Updating formulae and a pairwise
  algorithm for computing sample variances"), generalised to cross-products:
  ``M2 = M2_a + M2_b + (n_a n_b / n) d d^T`` with ``d = mean_b - mean_a``.
  Each block of rows is centred on its own mean before its Gram matrix is
  taken, so no large uncentred sum is ever subtracted.

Why the exact Gram matrix may use float64 BLAS: every product of two pixels
of a 16-bit dtype is an integer of magnitude at most ``m^2 <= 2^32`` (``m``
the dtype's largest magnitude), so every partial sum of at most
``2^53 / m^2`` such products is an integer below ``2^53``, which float64 holds
exactly, whatever order the BLAS sums them in.  The Gram matrix of each block
of at most that many rows (``1.4e11`` for 8-bit pixels, ``2^21`` for 16-bit)
is therefore exact in float64; it is then added into an int64 total, which
switches to Python integers (an object array) only once the bound
``n m^2 < 2^63`` could be crossed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.linalg.blas import dsyrk

#: Largest integer below which every float64 integer is exact.
_EXACT_FLOAT = 2**53
#: Largest int64.
_INT64_MAX = 2**63 - 1
#: Bytes of float64 rows converted at once (a cache-friendly block for BLAS).
_BLOCK_BYTES = 16 * 2**20


def _exact_bound(dtype: np.dtype) -> int | None:
    """Largest pixel magnitude of an exact dtype, or None for the float path."""
    dtype = np.dtype(dtype)
    if dtype.kind in "ui" and dtype.itemsize <= 2:
        info = np.iinfo(dtype)
        return max(abs(int(info.min)), int(info.max))
    return None


def _gram_upper(rows: NDArray, c: NDArray | None) -> NDArray:
    """``rows^T rows`` added into ``c`` (upper triangle only), float64, F-ordered.

    ``dsyrk`` computes half of the symmetric product (half GEMM's work); a
    C-ordered ``rows`` is F-ordered ``rows.T``, so it is read without a copy.
    """
    if c is None:
        return dsyrk(1.0, rows.T, trans=0, lower=0)
    return dsyrk(1.0, rows.T, beta=1.0, c=c, trans=0, lower=0, overwrite_c=1)


def _symmetric(upper: NDArray) -> NDArray:
    """The full symmetric matrix from its upper triangle."""
    lower = np.tril(upper.T, -1)
    return np.triu(upper) + lower


class PixelCovariance:
    """Mean and covariance of row vectors, exact for integer pixels up to 16 bits.

    Parameters
    ----------
    n_features : int
        Length ``d`` of each row (``H * W * C`` for whole images, ``k * k * C``
        for patches).
    dtype : numpy dtype
        Dtype of the rows; integers of at most 16 bits accumulate exactly.

    Attributes
    ----------
    n_samples : int
        Rows accumulated.
    n_features : int
        Length of each row.
    dtype : str
        Dtype of the rows (the first dtype seen).
    exact : bool
        Whether the sums are exact integers.

    Examples
    --------
    >>> import numpy as np
    >>> rows = np.array([[0, 10], [2, 20], [4, 60]], dtype=np.uint8)
    >>> cov = PixelCovariance.from_rows(rows[:2]) + PixelCovariance.from_rows(rows[2:])
    >>> cov.n_samples, cov.exact
    (3, True)
    >>> cov.mean
    array([ 2., 30.])
    >>> cov.covariance()
    array([[  2.66666667,  33.33333333],
           [ 33.33333333, 466.66666667]])
    """

    def __init__(self, n_features: int, dtype: np.dtype) -> None:
        self.n_features = int(n_features)
        self.dtype = np.dtype(dtype).name
        self.n_samples = 0
        self._bound = _exact_bound(dtype)
        self.exact = self._bound is not None
        d = self.n_features
        if self.exact:
            self._sum: NDArray = np.zeros(d, dtype=np.int64)
            self._gram: NDArray = np.zeros((d, d), dtype=np.int64, order="F")
        else:
            self._mean: NDArray = np.zeros(d)
            self._m2: NDArray = np.zeros((d, d), order="F")

    # -- building -----------------------------------------------------------
    @classmethod
    def from_rows(cls, rows: NDArray) -> PixelCovariance:
        """Accumulator of the rows of a 2-D array ``(n, d)``."""
        rows = np.asarray(rows)
        return cls(rows.shape[1], rows.dtype).update(rows)

    def update(self, rows: NDArray) -> PixelCovariance:
        """Add the rows of ``rows`` (shape ``(n, d)``); return self.

        Rows are converted to float64 a block at a time (about 16 MiB), so
        the extra memory is one block plus one ``d x d`` matrix.
        """
        rows = np.asarray(rows)
        if rows.ndim != 2 or rows.shape[1] != self.n_features:
            raise ValueError(
                f"Expected rows of shape (n, {self.n_features}), got shape "
                f"{rows.shape}."
            )
        if rows.shape[0] == 0:
            return self
        if self.exact and _exact_bound(rows.dtype) is None:
            self._to_float()
        step = max(1, _BLOCK_BYTES // (8 * self.n_features))
        if self.exact:
            return self._update_exact(rows, step)
        for start in range(0, rows.shape[0], step):
            block = np.asarray(rows[start : start + step], dtype=np.float64)
            mean = block.mean(axis=0)
            block = block - mean
            m2 = _gram_upper(np.ascontiguousarray(block), None)
            self._merge_float(block.shape[0], mean, m2)
        return self

    def _update_exact(self, rows: NDArray, step: int) -> PixelCovariance:
        # The float64 Gram of at most `per_sum` rows is exact (module docstring).
        per_sum = max(1, _EXACT_FLOAT // (self._bound**2))
        total, in_total = None, 0
        for start in range(0, rows.shape[0], step):
            block = np.asarray(rows[start : start + step], dtype=np.float64)
            if in_total + block.shape[0] > per_sum:
                self._add_gram(total)
                total, in_total = None, 0
            total = _gram_upper(block, total)
            in_total += block.shape[0]
        self._add_gram(total)
        # Row sums: at most 2^16 per value, summed in int64 (exact below 2^47
        # rows); Python ints past the int64 bound of the Gram matrix.
        sums = rows.sum(axis=0, dtype=np.int64)
        self._sum = self._sum.astype(self._gram.dtype) + sums.astype(self._gram.dtype)
        self.n_samples += int(rows.shape[0])
        return self

    def _add_gram(self, block_gram: NDArray | None) -> None:
        if block_gram is None:
            return
        self._promote_if_needed(int(np.max(block_gram)) if block_gram.size else 0)
        exact = block_gram.astype(np.int64)  # integer-valued floats below 2^53
        if self._gram.dtype == object:
            exact = exact.astype(object)
        self._gram += exact

    def _promote_if_needed(self, added: int) -> None:
        """Switch the integer totals to Python ints before int64 could overflow."""
        if self._gram.dtype == object:
            return
        largest = int(np.max(self._gram)) if self._gram.size else 0
        if largest + added > _INT64_MAX // 2:
            self._gram = self._gram.astype(object)
            self._sum = self._sum.astype(object)

    def _to_float(self) -> None:
        """Switch an exact accumulator to the float representation (mixed dtypes)."""
        self._mean = self.mean
        self._m2 = np.asfortranarray(self.covariance() * self.n_samples)
        self.exact, self._bound = False, None
        self.dtype = "float64"
        del self._sum, self._gram

    def _merge_float(self, n_b: int, mean_b: NDArray, m2_b_upper: NDArray) -> None:
        """Chan et al.'s pairwise update of ``(n, mean, M2)`` (upper triangles)."""
        n_a = self.n_samples
        n = n_a + n_b
        delta = mean_b - self._mean
        self._m2 += m2_b_upper
        if n_a:
            self._m2 += np.outer(delta, delta * (n_a * n_b / n))
        self._mean = self._mean + delta * (n_b / n)
        self.n_samples = n

    # -- merging ------------------------------------------------------------
    def copy(self) -> PixelCovariance:
        new = PixelCovariance.__new__(PixelCovariance)
        new.__dict__.update(
            {
                k: v.copy() if isinstance(v, np.ndarray) else v
                for k, v in vars(self).items()
            }
        )
        return new

    def merge(self, other: PixelCovariance) -> PixelCovariance:
        """A new accumulator holding the rows of both (neither is modified).

        Exact + exact stays exact (the integer totals add); anything else is
        merged in float64 with Chan et al.'s update.
        """
        if not isinstance(other, PixelCovariance):
            raise TypeError(
                f"Can only merge a PixelCovariance, got {type(other).__name__}."
            )
        if other.n_features != self.n_features:
            raise ValueError(
                f"Cannot merge covariances of rows of {self.n_features} and "
                f"{other.n_features} values: they describe images (or patches) of "
                "different sizes."
            )
        merged = self.copy()
        if other.n_samples == 0:
            return merged
        if merged.exact and other.exact:
            big = merged._gram.dtype == object or other._gram.dtype == object
            merged._promote_if_needed(int(np.max(other._gram)))
            if big and merged._gram.dtype != object:
                merged._gram = merged._gram.astype(object)
                merged._sum = merged._sum.astype(object)
            merged._gram = merged._gram + other._gram.astype(merged._gram.dtype)
            merged._sum = merged._sum + other._sum.astype(merged._sum.dtype)
            merged.n_samples += other.n_samples
            return merged
        if merged.exact:
            merged._to_float()
        other = other.copy()
        if other.exact:
            other._to_float()
        merged._merge_float(other.n_samples, other._mean, np.triu(other._m2))
        return merged

    __add__ = merge

    # -- results ------------------------------------------------------------
    @property
    def mean(self) -> NDArray:
        """Mean row, float64 of shape ``(d,)``."""
        if not self.exact:
            return self._mean.copy()
        if self.n_samples == 0:
            return np.zeros(self.n_features)
        return np.array([s / self.n_samples for s in self._sum.tolist()])

    def covariance(self) -> NDArray:
        """Covariance ``(1/n) sum (x - mean)(x - mean)^T``, float64 ``(d, d)``.

        ``ddof=0``: equal to ``numpy.cov(rows, rowvar=False, bias=True)``.
        Exact sums give the covariance rounded once from its exact rational
        value ``(n G - S S^T) / n^2`` (in int64 when ``n^2 m^2 < 2^62``, in
        Python integers otherwise).
        """
        n, d = self.n_samples, self.n_features
        if n == 0:
            return np.full((d, d), np.nan)
        if not self.exact:
            return _symmetric(self._m2) / n
        gram = _symmetric(self._gram)
        if self._gram.dtype != object and n * n * self._bound**2 < _INT64_MAX // 2:
            comoment = n * gram - np.outer(self._sum, self._sum)
            return comoment / float(n * n)
        sums = self._sum.astype(object)
        comoment = n * gram.astype(object) - np.outer(sums, sums)
        # Python int / int is correctly rounded.
        return np.array(
            [[v / (n * n) for v in row] for row in comoment.tolist()],
            dtype=np.float64,
        )

    @staticmethod
    def nbytes(n_features: int) -> int:
        """Bytes of one ``d x d`` float64 matrix."""
        return 8 * int(n_features) ** 2

    def __repr__(self) -> str:
        kind = "exact" if self.exact else "float64"
        return (
            f"PixelCovariance(n_samples={self.n_samples}, "
            f"n_features={self.n_features}, dtype={self.dtype!r}, {kind})"
        )


@dataclass(frozen=True)
class WhiteningPlan:
    """A whitening derived from a covariance (all in ``[0, 1]`` pixel units)."""

    key: tuple  # the parameters it was derived with
    mean: NDArray  # (d,)
    variances: NDArray  # (k,), eigenvalues of the covariance, descending
    components: NDArray  # (k, d), unit eigenvectors as rows
    matrix: NDArray  # (d, d) ZCA or (k, d) PCA: y = matrix @ (x - mean)
    inverse: NDArray  # (d, d) or (d, k): x - mean = inverse @ y


class PlanMemo:
    """A mutable holder of the plan derived from one fitted state."""

    __slots__ = ("plan",)

    def __init__(self) -> None:
        self.plan: WhiteningPlan | None = None

    def __getstate__(self):
        return {"plan": self.plan}

    def __setstate__(self, state) -> None:
        self.plan = state["plan"]


def whitening_plan(
    cov: PixelCovariance,
    max_value: float,
    method: str,
    n_components: int | None,
    epsilon: float,
) -> WhiteningPlan:
    """ZCA or PCA whitening of the covariance of ``cov`` in ``[0, 1]`` units.

    ``Sigma = cov / max_value^2 = U diag(s) U^T`` (``numpy.linalg.eigh``,
    eigenvalues sorted descending, those below 0 from rounding taken as 0);
    ``W_zca = U diag(1 / sqrt(s + epsilon)) U^T`` and
    ``W_pca = diag(1 / sqrt(s + epsilon)) U^T`` over the ``n_components``
    largest ``s``.

    Examples
    --------
    >>> import numpy as np
    >>> rows = np.array([[0, 0], [2, 2], [4, 2]], dtype=np.uint8)
    >>> plan = whitening_plan(PixelCovariance.from_rows(rows), 1.0, "pca", 1, 0.0)
    >>> plan.components.round(4), plan.variances.round(4)
    (array([[0.8817, 0.4719]]), array([3.3802]))
    """
    sigma = cov.covariance() / max_value**2
    s, u = np.linalg.eigh(sigma)
    s, u = np.clip(s[::-1], 0.0, None), u[:, ::-1]
    k = n_components or s.size
    s, u = s[:k], u[:, :k]
    # Deterministic signs: the largest entry of each component is positive.
    signs = np.sign(u[np.argmax(np.abs(u), axis=0), np.arange(k)])
    u = u * np.where(signs == 0, 1.0, signs)
    gain = 1.0 / np.sqrt(s + epsilon)
    if method == "zca":
        matrix, inverse = (u * gain) @ u.T, (u / gain) @ u.T
    else:
        matrix, inverse = gain[:, None] * u.T, u / gain
    key = (method, n_components, float(epsilon), float(max_value))
    return WhiteningPlan(
        key, cov.mean / max_value, s, np.ascontiguousarray(u.T), matrix, inverse
    )
