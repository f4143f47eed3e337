"""PixelStandardizer: subtract a mean and divide by a standard deviation."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ._affine import Affine
from ._base import _BasePixelTransformer
from ._docstrings import fill_doc
from ._per_pixel import _PerPixelMixin
from ._percentiles import check_quantile_range, fitted_quantiles
from ._quantile_scaling import QuantileScalingMixin
from .presets import PRESETS


@fill_doc
class PixelStandardizer(_PerPixelMixin, QuantileScalingMixin, _BasePixelTransformer):
    """Standardize pixels: subtract a mean, divide by a standard deviation.

    .. math::

        z = (x - \\mu) / \\sigma, \\qquad
        y = \\operatorname{clip}(z, -k, k), \\qquad
        y' = (y + k) / 2k \\;\\text{(rescale=True)}

    ``clip=1.0, rescale=True`` is the "positive standardization" of the
    tutorial literature: standardized values clipped to [-1, 1], then mapped
    onto [0, 1].

    Parameters
    ----------
    scope : {"dataset", "batch", "image"}, default="dataset"
        Where mean and std come from: the images given to ``fit`` /
        ``partial_fit``, the whole batch given to ``transform``, or each
        image on its own (TensorFlow's ``per_image_standardization``).

    %(per_channel)s

    %(per_pixel)s

    mean : None, str or array-like of shape (n_channels,) or (), default=None
        None learns the mean; a preset name (``"imagenet"``, ``"clip"``,
        ``"inception"``) is converted to the input's units through
        ``max_value``; an array-like is in input pixel units.

    std : None, str or array-like of shape (n_channels,) or (), default=None
        Like ``mean``. A learned std is pooled over all pixels (never an
        average of per-batch stds).

    ddof : int, default=0
        Delta degrees of freedom: ``std = sqrt(sum((x - mean)**2) / (N - ddof))``.
        0 equals ``numpy.std``.

    clip : float or None, default=None
        Clip standardized values to ``[-clip, clip]``.

    rescale : bool, default=False
        Map ``[-clip, clip]`` linearly onto [0, 1]; needs ``clip``.

    adjusted_std : bool, default=False
        Use ``max(std, 1 / sqrt(N))``, N the number of pixel values the std was
        computed on, as TensorFlow's ``per_image_standardization`` does. By
        default a zero (or rounding-noise) std is replaced by 1, as
        scikit-learn's ``StandardScaler`` does.

    quantile_range : tuple (q_lo, q_hi) or None, default=None
        Robust standardization, as scikit-learn's ``RobustScaler``: subtract
        the median and divide by the spread between the ``q_lo``-th and
        ``q_hi``-th percentiles (in percent, ``0 <= q_lo < q_hi <= 100``;
        ``(25, 75)`` is the interquartile range, IQR) instead of the mean and
        std. None (default) standardizes by mean and std. Needs ``mean`` and
        ``std`` None and ``adjusted_std=False``; ``ddof`` is unused; ``clip``
        and ``rescale`` apply to the robust values. Percentiles follow
        ``numpy.percentile``'s linear rule (exact for integer pixels of up to
        16 bits; see :class:`PixelNormalizer` for the others).

    %(max_value)s

    %(layout)s

    %(nodata)s

    Attributes
    ----------
    mean_ : ndarray of shape (n_channels,), () or ``pixel_shape_``
        Mean, in input pixel units (dataset scope). With ``per_pixel=True``,
        the mean image: of shape ``pixel_shape_``, or without its channel
        axis when ``per_channel=False`` (so are ``std_`` and ``var_``).

    std_ : ndarray of shape (n_channels,), () or ``pixel_shape_``
        Standard deviation with ``ddof``, in input pixel units, as computed
        (a zero std is reported as 0 and applied as 1).

    var_ : ndarray of shape (n_channels,), () or ``pixel_shape_``
        Variance, ``std_ ** 2``, in squared pixel units.

    center_ : ndarray of shape (n_channels,) or ()
        Median subtracted, in input pixel units (dataset scope with
        ``quantile_range``; ``mean_`` and ``std_`` stay the moments).

    scale_ : ndarray of shape (n_channels,) or ()
        Percentile spread ``q_hi - q_lo`` divided by, in input pixel units
        (a spread of 0 is reported as 0 and applied as 1).

    quantiles_ : ndarray of shape (3, n_channels) or (3,)
        The ``q_lo``-th, 50th and ``q_hi``-th percentiles of the training
        pixels, in input pixel units.

    histogram_ : PixelHistogram
        Per-channel histogram the percentiles come from.

    %(pixel_shape)s

    %(common_attributes)s

    See Also
    --------
    PixelCenterer : Subtract a mean only.
    PixelNormalizer : Scale by the domain maximum or min-max.
    PixelStats : The statistics behind all three.

    Notes
    -----
    %(layout_note)s

    %(nodata_note)s

    Statistics of integer pixels of up to 16 bits are exact: the same to the
    bit however the data is split into batches. Clipping loses information:
    :meth:`inverse_transform` returns clipped values at the clipping bound.

    Why ``quantile_range`` on this class: robust standardization is the same
    map ``(x - center) / scale`` with other statistics (the median for the
    mean, a percentile spread for the std), so it shares ``scope``,
    ``per_channel``, ``clip``, ``rescale``, the exports and persistence with
    the moments' version, as ``RobustScaler``'s ``quantile_range`` does. The
    median and percentiles are learned from a mergeable
    :class:`PixelHistogram`: ``partial_fit`` in any split, Dask chunks and
    ``fit_stats(stats, histogram=...)`` from ``dataset_stats(...,
    histogram=True)`` give the same values. A constant channel (zero spread)
    is divided by 1.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_pixels import PixelStandardizer
    >>> X = np.array([[[[0, 100, 200]], [[50, 150, 250]]]], dtype=np.uint8)
    >>> scaler = PixelStandardizer().fit(X)
    >>> scaler.mean_, scaler.std_
    (array([ 25., 125., 225.]), array([25., 25., 25.]))
    >>> scaler.transform(X)[0, :, 0]
    array([[-1., -1., -1.],
           [ 1.,  1.,  1.]], dtype=float32)
    >>> imagenet = PixelStandardizer(mean="imagenet", std="imagenet")
    >>> imagenet.fit_transform(X)[0, 0, 0].round(4)
    array([-2.1179, -0.285 ,  1.6814], dtype=float32)

    Median and interquartile range, which a hot pixel does not move:

    >>> X = np.array([[[10], [20], [30], [40], [4000]]], dtype=np.uint16)
    >>> robust = PixelStandardizer(quantile_range=(25, 75)).fit(X)
    >>> robust.center_, robust.scale_
    (array([30.]), array([20.]))
    >>> robust.transform(X).ravel()
    array([ -1. ,  -0.5,   0. ,   0.5, 198.5], dtype=float32)
    """

    _parameter_constraints: dict = {
        **_BasePixelTransformer._parameter_constraints,
        "scope": [StrOptions({"dataset", "batch", "image"})],
        "mean": [None, StrOptions(set(PRESETS)), "array-like", Real],
        "std": [None, StrOptions(set(PRESETS)), "array-like", Real],
        "ddof": [Interval(Integral, 0, None, closed="left")],
        "clip": [Interval(Real, 0, None, closed="neither"), None],
        "rescale": ["boolean"],
        "adjusted_std": ["boolean"],
        "quantile_range": [tuple, list, None],
        "per_pixel": ["boolean"],
    }
    _STAT_PARAMS = ("mean", "std")

    def __init__(
        self,
        *,
        scope="dataset",
        per_channel=True,
        per_pixel=False,
        mean=None,
        std=None,
        ddof=0,
        clip=None,
        rescale=False,
        adjusted_std=False,
        quantile_range=None,
        max_value="auto",
        channel_axis=-1,
        image_shape=None,
        dtype=None,
        nodata=None,
        nodata_fill=0.0,
    ):
        self.scope = scope
        self.per_channel = per_channel
        self.per_pixel = per_pixel
        self.mean = mean
        self.std = std
        self.ddof = ddof
        self.clip = clip
        self.rescale = rescale
        self.adjusted_std = adjusted_std
        self.quantile_range = quantile_range
        self.max_value = max_value
        self.channel_axis = channel_axis
        self.image_shape = image_shape
        self.dtype = dtype
        self.nodata = nodata
        self.nodata_fill = nodata_fill

    def _check_params(self) -> None:
        super()._check_params()
        if self.rescale and self.clip is None:
            raise ValueError(
                "rescale=True maps [-clip, clip] onto [0, 1], so it needs clip "
                "(e.g. clip=1.0 for positive standardization). Got clip=None."
            )
        if self.std is not None and not isinstance(self.std, str):
            if np.any(~(np.asarray(self.std, dtype=np.float64) > 0)):
                raise ValueError(
                    f"std must hold values > 0 (it divides the pixels). Got "
                    f"std={self.std!r}."
                )
        if self.quantile_range is not None:
            check_quantile_range(self.quantile_range)
            fixed = {k: getattr(self, k) for k in ("mean", "std") if getattr(self, k)}
            if fixed or self.adjusted_std:
                raise ValueError(
                    "quantile_range learns a median and a percentile spread in "
                    "place of the mean and std, so it cannot be combined with a "
                    "fixed mean or std or with adjusted_std. Pass quantile_range="
                    f"None, or drop those. Got {fixed or {'adjusted_std': True}}."
                )
            if self.per_pixel:
                raise ValueError(
                    "quantile_range takes percentiles of each channel, and "
                    "per_pixel=True learns one mean and std per pixel position; "
                    "they cannot be combined. Pass per_pixel=False for the robust "
                    "standardizer, or quantile_range=None for a mean/std image."
                )

    def _learns_quantiles(self) -> bool:
        return self.scope == "dataset" and self.quantile_range is not None

    def _percents(self) -> list:
        lo, hi = self.quantile_range
        return [lo, 50, hi]

    def _check_learned_stats(self, stats) -> None:
        super()._check_learned_stats(stats)
        if self.std is not None:
            return
        # A channel with no pixel yet (all NaN so far) may be filled by later
        # batches; transform refuses it if it never is.
        count = np.asarray(self._pool(stats).count, dtype=np.float64)
        if np.any((count > 0) & (count <= self.ddof)):
            if count.ndim > 1:  # a mean image: the distinct counts, not each one
                count = np.unique(count)
            raise ValueError(
                f"ddof={self.ddof} needs more than {self.ddof} pixel(s) per "
                f"channel to estimate a std, but the statistics count "
                f"{count.astype(np.int64).tolist()}. Fit on more pixels, or use "
                "ddof=0."
            )

    def _store_fitted(self) -> None:
        stats = self._pool(getattr(self, "stats_", None))
        mean = self._fixed("mean", self.max_value_)
        std = self._fixed("std", self.max_value_)
        self.mean_ = self._fitted_stat(stats.mean if mean is None else mean)
        if std is None:
            self.var_ = self._fitted_stat(stats.variance(self.ddof))
            self.std_ = np.sqrt(self.var_)
        else:
            self.std_ = self._fitted_stat(std)
            self.var_ = self.std_**2
        if self._learns_quantiles() and hasattr(self, "histogram_"):
            lo, hi = self._fitted_stat(stats.min), self._fitted_stat(stats.max)
            self.quantiles_ = fitted_quantiles(
                self.histogram_, self._percents(), self.per_channel, lo, hi
            )
        if hasattr(self, "quantiles_"):  # learned, or read from a file
            self.center_ = self.quantiles_[1]
            self.scale_ = self.quantiles_[2] - self.quantiles_[0]

    def _quantile_map(self, q_lo, median, q_hi) -> Affine:
        """``(x - median) / (q_hi - q_lo)``, a spread below 10 eps applied as 1."""
        spread = np.asarray(q_hi, dtype=np.float64) - np.asarray(q_lo, np.float64)
        # As RobustScaler (_handle_zeros_in_scale); NaN (an all-NaN channel,
        # refused in fit) is left to give NaN.
        constant = spread < 10 * np.finfo(np.float64).eps
        return self._map(np.asarray(median), np.where(constant, 1.0, spread))

    def _coefficients(self, stats, max_value, dtype=None) -> Affine:
        if self.quantile_range is not None and stats is None:
            return self._quantile_map(*self.quantiles_)
        mean = self._fixed("mean", max_value)
        std = self._fixed("std", max_value)
        source = self._pool(self.stats_) if stats is None and self._learns() else stats
        if mean is None:
            mean = self.mean_ if stats is None else stats.mean
        if std is None:
            std = self.std_ if stats is None else np.sqrt(stats.variance(self.ddof))
            count = source.count
            if self.adjusted_std:
                std = np.maximum(std, 1.0 / np.sqrt(np.maximum(count, 1)))
            # The rounding-noise bound depends on the data's magnitude (its
            # mean), not on the mean that is subtracted (which may be fixed).
            std = _handle_zero_std(
                np.asarray(std), np.asarray(source.mean), count, exact=source.exact
            )
        return self._map(mean, std)

    def _map(self, mean, std) -> Affine:
        """``(x - mean) / std``, then ``clip`` and ``rescale``."""
        scale = 1.0 / np.asarray(std)
        if self.clip is None:
            return Affine.centered(scale, center=mean)
        k = float(self.clip)
        if not self.rescale:
            return Affine.centered(scale, center=mean, clip=(-k, k))
        # clip(z, -k, k) mapped onto [0, 1] == clip(z / 2k + 1/2, 0, 1): fold the
        # rescale into the affine map so the kernel still makes one pass.
        return Affine.centered(scale / (2 * k), mean, base=0.5, clip=(0.0, 1.0))


def _handle_zero_std(
    std: np.ndarray, mean: np.ndarray, count, exact: bool = False
) -> np.ndarray:
    """Replace a zero or near-zero std by 1, as scikit-learn's StandardScaler does.

    A std below the float64 rounding noise of the variance computation (the
    bound of ``sklearn.preprocessing._data._is_constant_feature``) means a
    constant channel; dividing by it would blow rounding noise up to O(1).
    Exact statistics (integer pixels) have no rounding noise: only a zero std
    is constant there.  (The noise bound grows with ``count`` and would call
    every channel constant past ~1/eps = 4.5e15 pixels.)
    """
    std = np.asarray(std, dtype=np.float64)
    constant = ~np.isfinite(std) | (std == 0)
    if not exact:
        eps = np.finfo(np.float64).eps
        count = np.asarray(count, dtype=np.float64)
        var = std**2
        bound = count * eps * var + (count * np.abs(mean) * eps) ** 2
        # A variance below float64's smallest normal number (std < 1.5e-154)
        # was summed from squares that underflowed: it has lost its precision,
        # so it cannot be told from rounding noise either.
        constant |= (var <= bound) | (var < np.finfo(np.float64).tiny)
    return np.where(constant, 1.0, std)
