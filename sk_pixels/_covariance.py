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
exactly, whatever order the BLAS sums them in.  So the Gram matrix is kept in
float64, and BLAS (``dsyrk``, half of GEMM's work) adds each block into it in
place, for as long as the row count stays within that bound: ``1.4e11`` rows
for 8-bit pixels (in practice always), ``2^21`` for 16-bit.  Past it, the
total moves to int64, each block's (exact) float64 Gram matrix is added to it,
and it moves to Python integers (an object array) once ``n m^2 < 2^62`` could
be crossed.  The row sums are int64 (exact below ``2^47`` rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.linalg.blas import dsyr, dsyrk

#: Largest integer below which every float64 integer is exact.
_EXACT_FLOAT = 2**53
#: Largest int64.
_INT64_MAX = 2**63 - 1
#: Values of one strip of the finished covariance.
_STRIP = 2**18
#: Bytes of float64 rows converted at once (a cache-friendly block for BLAS).
_BLOCK_BYTES = 32 * 2**20


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


def _symmetric_rows(upper: NDArray, rows: slice) -> NDArray:
    """Rows ``rows`` of the symmetric matrix stored in the upper triangle."""
    strip = upper[rows]
    row_index = np.arange(upper.shape[0])[rows, None]
    below = np.arange(upper.shape[1])[None, :] < row_index
    return np.where(below, upper[:, rows].T, strip)


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
    n_images : int
        Images the rows came from (set by whoever adds the rows of images;
        added up by :meth:`merge`).
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
        self.n_images = 0
        self._bound = _exact_bound(dtype)
        self.exact = self._bound is not None
        d = self.n_features
        if self.exact:
            self._sum: NDArray = np.zeros(d, dtype=np.int64)
            # float64 while exact (see the module docstring), then int64/object.
            self._gram: NDArray = np.zeros((d, d), order="F")
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

        Rows are converted to float64 a block at a time (about 32 MiB); the
        extra memory is that block: BLAS adds its products into the running
        sums in place.
        """
        rows = np.asarray(rows)
        if rows.ndim != 2 or rows.shape[1] != self.n_features:
            raise ValueError(
                f"Expected rows of shape (n, {self.n_features}), got shape "
                f"{rows.shape}. Flatten each image (or patch) to one row."
            )
        if rows.shape[0] == 0:
            return self
        if self.exact and _exact_bound(rows.dtype) is None:
            self._to_float()
        elif self.exact:  # e.g. uint16 rows into a uint8 accumulator
            self._bound = max(self._bound, _exact_bound(rows.dtype))
        step = max(1, _BLOCK_BYTES // (8 * self.n_features))
        if self.exact:
            return self._update_exact(rows, step)
        for start in range(0, rows.shape[0], step):
            # A copy (never a view of float64 input): it is centred in place.
            block = np.array(rows[start : start + step], dtype=np.float64)
            mean = block.mean(axis=0)
            block -= mean
            self._merge_float(block.shape[0], mean, centred=block)
        return self

    def _update_exact(self, rows: NDArray, step: int) -> PixelCovariance:
        per_float_sum = _EXACT_FLOAT // self._bound**2  # rows, module docstring
        step = min(step, per_float_sum)
        for start in range(0, rows.shape[0], step):
            block = np.asarray(rows[start : start + step], dtype=np.float64)
            n_block = block.shape[0]
            if self._gram.dtype == np.float64:
                if self.n_samples + n_block <= per_float_sum:
                    self._gram = _gram_upper(block, self._gram)  # in place
                    self.n_samples += n_block
                    continue
            self._to_integers(n_block)
            self._gram += (
                _gram_upper(block, None).astype(np.int64).astype(self._gram.dtype)
            )
            self.n_samples += n_block
        sums = rows.sum(axis=0, dtype=np.int64)
        self._sum = self._sum + sums.astype(self._sum.dtype)
        return self

    def _to_integers(self, added_rows: int) -> None:
        """Move the Gram total to int64, or to Python ints before int64 could
        overflow once ``added_rows`` more rows are in (entries <= n m^2)."""
        if self._gram.dtype == np.float64:
            self._gram = self._gram.astype(np.int64)  # integers below 2^53
        big = (self.n_samples + added_rows) * self._bound**2 > _INT64_MAX // 2
        if big and self._gram.dtype != object:
            self._gram = self._gram.astype(object)
            self._sum = self._sum.astype(object)

    def _to_float(self) -> None:
        """Switch an exact accumulator to the float representation (mixed dtypes)."""
        if self.n_samples == 0:
            images = self.n_images
            self.__init__(self.n_features, np.float64)
            self.n_images = images
            return
        self._mean = self.mean
        self._m2 = np.asfortranarray(self.covariance())
        self._m2 *= self.n_samples
        self.exact, self._bound = False, None
        self.dtype = "float64"
        del self._sum, self._gram

    def _merge_float(
        self,
        n_b: int,
        mean_b: NDArray,
        *,
        centred: NDArray | None = None,
        m2_b: NDArray | None = None,
    ) -> None:
        """Chan et al.'s pairwise update of ``(n, mean, M2)``, in place.

        The other part is given by its centred rows (their Gram matrix is
        added by ``dsyrk``) or by its co-moment matrix ``m2_b``; the rank-one
        correction is BLAS ``dsyr``. Only upper triangles are read or written.
        """
        n_a = self.n_samples
        n = n_a + n_b
        delta = mean_b - self._mean
        if centred is not None:
            self._m2 = _gram_upper(centred, self._m2)
        else:
            self._m2 += m2_b
        if n_a:
            self._m2 = dsyr(n_a * n_b / n, delta, a=self._m2, overwrite_a=1)
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
        return self.copy().absorb(other)

    def absorb(self, other: PixelCovariance) -> PixelCovariance:
        """Add the rows of ``other`` into this accumulator, in place; return self."""
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
        self.n_images += other.n_images
        if other.n_samples == 0:
            return self
        if self.exact and other.exact:
            self._bound = max(self._bound, other._bound)
            n = self.n_samples + other.n_samples
            both_float = self._gram.dtype == other._gram.dtype == np.float64
            if both_float and n <= _EXACT_FLOAT // self._bound**2:
                self._gram += other._gram
            else:
                self._to_integers(other.n_samples)
                gram = other._gram
                if gram.dtype == np.float64:
                    gram = gram.astype(np.int64)
                self._gram = self._gram + gram.astype(self._gram.dtype)
            self._sum = self._sum + other._sum.astype(self._sum.dtype)
            self.n_samples = n
            return self
        if self.exact:
            self._to_float()
        if other.exact:
            other = other.copy()
            other._to_float()
        self._merge_float(other.n_samples, other._mean, m2_b=other._m2)
        return self

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
        Exact sums give the exact integer co-moment ``n G - S S^T`` (int64 when
        ``n^2 m^2 < 2^62``, Python integers otherwise), divided by ``n^2``: the
        exact rational value correctly rounded in the Python-integer case and
        whenever the co-moment is below ``2^53``, within one ulp otherwise.
        Computed a strip of rows at a time: the only ``d x d`` allocation is
        the result.
        """
        n, d = self.n_samples, self.n_features
        if n == 0:
            return np.full((d, d), np.nan)
        out = np.empty((d, d))
        step = max(1, _STRIP // d)
        small = n * n * (self._bound or 0) ** 2 < _INT64_MAX // 2
        for top in range(0, d, step):
            rows = slice(top, min(top + step, d))
            if not self.exact:
                out[rows] = _symmetric_rows(self._m2, rows) / n
                continue
            gram = _symmetric_rows(self._gram, rows)
            if gram.dtype == np.float64:
                gram = gram.astype(np.int64)  # integers below 2^53
            if gram.dtype != object and small:
                comoment = n * gram - np.outer(self._sum[rows], self._sum)
                out[rows] = comoment / float(n * n)
                continue
            sums = self._sum.astype(object)
            comoment = n * gram.astype(object) - np.outer(sums[rows], sums)
            # Python int / int is correctly rounded.
            out[rows] = [[v / (n * n) for v in row] for row in comoment.tolist()]
        return out

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
    epsilon: float

    def inverse(self) -> NDArray:
        """``(d, d)`` or ``(d, k)``: ``x - mean = inverse @ y`` (not kept: one
        ``d x d`` matrix less while the plan lives)."""
        u = self.components.T
        spread = np.sqrt(self.variances + self.epsilon)
        return (u * spread) @ self.components if self.key[0] == "zca" else u * spread


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
    sigma = cov.covariance()
    sigma /= max_value**2
    s, u = np.linalg.eigh(sigma)
    del sigma
    k = n_components or s.size
    s, u = np.clip(s[::-1][:k], 0.0, None), u[:, ::-1][:, :k]
    # Deterministic signs: the largest entry of each component is positive.
    signs = np.sign(u[np.argmax(np.abs(u), axis=0), np.arange(k)])
    components = np.ascontiguousarray(u.T * np.where(signs == 0, 1.0, signs)[:, None])
    del u
    gain = 1.0 / np.sqrt(s + epsilon)
    if method == "zca":
        matrix = (components.T * gain) @ components
    else:
        matrix = gain[:, None] * components
    key = (method, n_components, float(epsilon), float(max_value))
    return WhiteningPlan(
        key, cov.mean / max_value, s, components, matrix, float(epsilon)
    )
