"""Error bars of dataset statistics, from the variability between images.

The pixels of one image are not independent draws: neighbours are alike, and
a whole photograph can be darker than the next one.  The unit of sampling is
therefore the image, and the per-channel mean over all pixels is a *ratio
estimator*,

.. math::

    \\hat\\mu = \\frac{\\sum_i s_i}{\\sum_i n_i},

over images ``i`` with ``n_i`` pixels and pixel sum ``s_i`` (cluster sampling,
Cochran, *Sampling Techniques*, 3rd ed., 1977, sections 6.2-6.4 and 9.2).  Its
variance is estimated by linearisation (Taylor / delta method): each image
contributes the *influence*

.. math::

    u_i = \\frac{s_i - \\hat\\mu\\, n_i}{\\bar n}
        = \\frac{n_i (m_i - \\hat\\mu)}{\\bar n},
    \\qquad
    \\widehat{\\mathrm{Var}}(\\hat\\mu)
        = (1 - f)\\, \\frac{1}{n}\\, \\frac{\\sum_i u_i^2}{n - 1},

with ``m_i`` the image's own mean, ``nbar`` the mean pixel count of the ``n``
images read and ``f = n / N`` the sampled fraction of the ``N`` images of the
dataset (the finite-population correction; 0 for a full run, whose error bars
describe the dataset as a sample of the population its images come from).

The pooled variance ``sigma^2 = sum_i sum_pixels (x - mu)^2 / sum_i n_i`` is a
ratio too; its influence is written with centred per-image moments (``M2_i``,
the sum of squared deviations about the image's own mean), which never cancel
catastrophically the way ``q_i - mu s_i`` would for pixels far from zero:

.. math::

    v_i = \\frac{M2_i + n_i (m_i - \\hat\\mu)^2 - \\hat\\sigma^2 n_i}{\\bar n},
    \\qquad
    \\mathrm{SE}(\\hat\\sigma) = \\frac{\\mathrm{SE}_v}{2 \\hat\\sigma}

(delta method for the square root).  The 95% intervals are
``estimate +/- t_{n-1} SE`` (Student's t with ``n - 1`` degrees of freedom, the
usual choice for ``n`` clusters), the std's clipped at 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from ._stats import PixelStats

#: Confidence level of the intervals.
CONFIDENCE = 0.95

#: The standard normal quantile of 0.975 (two-sided 95%).
_Z975 = 1.959963984540054


#: Student's t 0.975 quantiles for 1 to 4 degrees of freedom, where the
#: expansion below is least accurate.
_T975 = {1: 12.706204736, 2: 4.302652730, 3: 3.182446305, 4: 2.776445105}


def t_quantile_975(dof: int) -> float:
    """Student's t quantile of 0.975 with ``dof`` degrees of freedom.

    Tabulated for 1 to 4 degrees of freedom; from 5 on, the Cornish-Fisher
    expansion around the normal quantile (Abramowitz and Stegun, 26.7.5),
    within 3e-4 of the exact value at 5 and 1e-5 from 10, without SciPy
    (``sk-pixels stats`` imports neither SciPy nor scikit-learn).

    Examples
    --------
    >>> round(t_quantile_975(1), 3), round(t_quantile_975(9), 3)
    (12.706, 2.262)
    >>> round(t_quantile_975(10**6), 4)
    1.96
    """
    if dof < 1:
        return math.nan
    if dof in _T975:
        return _T975[dof]
    z = _Z975
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / dof + g2 / dof**2 + g3 / dof**3 + g4 / dof**4


@dataclass(frozen=True, eq=False)
class SampledStats:
    """Dataset statistics with error bars from the variability between images.

    What :func:`sk_pixels.io.dataset_stats` returns with ``sample=`` or
    ``error_bars=True``.  All values are per channel, in the pixel units of the
    mode the images were read in (0-255 for ``"RGB"``).

    Attributes
    ----------
    stats : PixelStats
        Exact statistics of the images read (the sample, or all images).
    mean : ndarray of shape (n_channels,)
        Estimated per-channel mean (``stats.mean``), pixel units.
    std : ndarray of shape (n_channels,)
        Estimated per-channel std over all pixels (``stats.std``, ``ddof=0``),
        pixel units.
    mean_se, std_se : ndarray of shape (n_channels,)
        Standard errors of ``mean`` and ``std``, pixel units.  NaN with fewer
        than two images read.
    mean_ci, std_ci : ndarray of shape (2, n_channels)
        95% intervals: row 0 the lower bounds, row 1 the upper bounds
        (``low, high = result.mean_ci``), pixel units.
    n_images_sampled : int
        Images read (after skipped files).
    n_images_total : int
        Image files of the dataset the sample was drawn from.
    fpc : float
        Finite-population correction ``1 - n_images_sampled / n_images_total``
        applied to the variances for a sample; 1.0 (none) for a full run,
        whose error bars then say how far the dataset's statistics may be from
        those of the population its images come from.
    confidence : float
        Level of the intervals, 0.95.

    Notes
    -----
    Images are the sampling units (clusters of correlated pixels): the mean is
    a ratio estimator over per-image pixel sums and its standard error comes
    from the spread of the images' own means, weighted by their pixel counts;
    the std's by the delta method.  With ``n`` images the intervals use
    Student's t with ``n - 1`` degrees of freedom.  Standard errors shrink
    about as ``1 / sqrt(n)``: with ``k`` times more images, divide them by
    ``sqrt(k)``.  Two results compare by identity (``==`` of arrays has no
    single truth value): compare their ``stats`` or their arrays.
    """

    stats: PixelStats
    mean: np.ndarray
    std: np.ndarray
    mean_se: np.ndarray
    std_se: np.ndarray
    mean_ci: np.ndarray
    std_ci: np.ndarray
    n_images_sampled: int
    n_images_total: int
    fpc: float
    confidence: float = field(default=CONFIDENCE)

    def to_dict(self) -> dict[str, Any]:
        """The error bars as JSON-ready lists (what ``sk-pixels stats --json``
        writes under ``"error_bars"``)."""
        return {
            "n_images_sampled": self.n_images_sampled,
            "n_images_total": self.n_images_total,
            "fpc": self.fpc,
            "confidence": self.confidence,
            "mean_se": _floats(self.mean_se),
            "mean_ci": [_floats(row) for row in self.mean_ci],
            "std_se": _floats(self.std_se),
            "std_ci": [_floats(row) for row in self.std_ci],
        }

    def __repr__(self) -> str:
        with np.printoptions(precision=4, suppress=True):
            return (
                f"SampledStats(n_images_sampled={self.n_images_sampled}, "
                f"n_images_total={self.n_images_total}, mean={self.mean}, "
                f"mean_se={self.mean_se}, std={self.std}, std_se={self.std_se})"
            )


def _floats(values: np.ndarray) -> list[float | None]:
    """Floats for JSON, None where not finite (JSON has no NaN)."""
    return [float(v) if math.isfinite(v) else None for v in np.ravel(values)]


def image_moments(stats: PixelStats) -> np.ndarray:
    """``(count, mean, M2)`` per channel of one image's statistics: shape (3, C).

    ``M2`` is the sum of squared deviations from the image's own mean; a
    channel with no pixel (all nodata) has count 0 and zero moments.
    """
    count = stats.count.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, stats.mean, 0.0)
        m2 = np.where(count > 0, stats.variance(0) * count, 0.0)
    return np.stack([count, mean, m2])


def cluster_error_bars(
    stats: PixelStats,
    moments: np.ndarray,
    *,
    n_total: int,
    finite_population: bool,
) -> SampledStats:
    """Error bars of ``stats`` from the per-image ``moments``.

    Parameters
    ----------
    stats : PixelStats
        Statistics of all the images read (their merge).
    moments : ndarray of shape (n_images, 3, n_channels)
        :func:`image_moments` of each image read.
    n_total : int
        Images in the dataset the images were drawn from.
    finite_population : bool
        Apply the finite-population correction ``1 - n / n_total`` (a sample
        drawn without replacement); otherwise none (a full run).

    Returns
    -------
    SampledStats

    Examples
    --------
    Two images of one pixel each, 0 and 2: mean 1, and the influence of each
    image is -1 and 1, so the standard error is ``sqrt(2 / 1) / sqrt(2) = 1``.

    >>> from sk_pixels import PixelStats
    >>> images = [PixelStats.from_array(np.array([[[[v]]]])) for v in (0, 2)]
    >>> moments = np.stack([image_moments(s) for s in images])
    >>> bars = cluster_error_bars(images[0].merge(images[1]), moments,
    ...                           n_total=2, finite_population=False)
    >>> bars.mean, bars.mean_se, bars.std, bars.std_se
    (array([1.]), array([1.]), array([1.]), array([0.]))
    """
    moments = np.asarray(moments, dtype=np.float64).reshape(-1, 3, stats.n_channels)
    count, means, m2 = moments[:, 0], moments[:, 1], moments[:, 2]
    n = moments.shape[0]
    mean = np.asarray(stats.mean, dtype=np.float64)
    var = np.asarray(stats.var, dtype=np.float64)
    std = np.sqrt(var)
    fpc = max(0.0, 1.0 - n / n_total) if finite_population and n_total else 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        nbar = count.mean(axis=0)
        dev = means - mean
        u = count * dev / nbar
        v = (m2 + count * dev**2 - var * count) / nbar
        scale = fpc / (n * (n - 1)) if n > 1 else math.nan
        # Influences sum to zero by construction: their plain sum of squares
        # is (n - 1) times their sample variance.
        mean_se = np.sqrt(scale * np.sum(u**2, axis=0))
        var_se = np.sqrt(scale * np.sum(v**2, axis=0))
        std_se = np.where(std > 0, var_se / (2 * std), var_se**0.5)
    t = t_quantile_975(n - 1)
    mean_ci = np.stack([mean - t * mean_se, mean + t * mean_se])
    std_ci = np.stack([np.maximum(std - t * std_se, 0.0), std + t * std_se])
    return SampledStats(
        stats=stats,
        mean=mean,
        std=std,
        mean_se=mean_se,
        std_se=std_se,
        mean_ci=mean_ci,
        std_ci=std_ci,
        n_images_sampled=n,
        n_images_total=int(n_total),
        fpc=float(fpc),
    )
