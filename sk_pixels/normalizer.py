"""PixelNormalizer: scale by the domain maximum, or min-max."""

from __future__ import annotations

import numpy as np

from ._affine import Affine
from ._base import _BasePixelTransformer
from ._docstrings import fill_doc
from ._percentiles import check_quantile_range, fitted_quantiles
from ._quantile_scaling import QuantileScalingMixin
from ._units import domain_min


@fill_doc
class PixelNormalizer(QuantileScalingMixin, _BasePixelTransformer):
    """Scale pixels into ``feature_range``: domain maximum, min-max or percentiles.

    .. math::

        y = lo + (hi - lo) \\cdot \\frac{x - m}{M - m}

    with ``m = 0, M = max_value`` for ``scope="domain"`` (``x / 255`` for
    ``uint8``; ``feature_range=(-1, 1)`` gives ``x / 127.5 - 1``; signed
    integers with ``max_value="auto"`` span their dtype's limits, ``m = -128,
    M = 127`` for ``int8``, as skimage's ``rescale_intensity(in_range="dtype")``,
    so that every pixel lands in ``feature_range``), and the
    minimum and maximum of the training set, of the batch, or of each image
    for the other scopes; with ``quantile_range=(q_lo, q_hi)``, ``m`` and ``M``
    are the ``q_lo``-th and ``q_hi``-th percentiles instead (robust scaling, as
    CSBDeep's ``normalize(x, 1, 99.8)`` per image, or dataset-wide).

    Parameters
    ----------
    scope : {"domain", "dataset", "batch", "image"}, default="domain"
        ``"domain"`` divides by ``max_value`` and learns nothing;
        ``"dataset"`` learns ``data_min_`` / ``data_max_`` in ``fit`` /
        ``partial_fit``; ``"batch"`` and ``"image"`` use the min and max of
        the batch passed to ``transform`` or of each image.

    %(per_channel)s
        Ignored with ``scope="domain"``.

    feature_range : tuple (lo, hi), default=(0.0, 1.0)
        Output range; ``lo < hi``.

    %(max_value)s

    quantile_range : tuple (q_lo, q_hi) or None, default=None
        Percentiles (in percent, ``0 <= q_lo < q_hi <= 100``) mapped onto
        ``feature_range``; None maps the minimum and maximum. ``(0, 100)``
        equals min-max exactly. Needs ``scope`` "dataset", "batch" or
        "image". Percentiles follow ``numpy.percentile``'s default linear
        interpolation; see Notes for their exactness.

    clip : bool, default=False
        Clip the output to ``feature_range`` (pixels beyond the percentiles
        otherwise map outside it). The clipped values are not restored by
        ``inverse_transform``.

    %(layout)s

    %(nodata)s

    Attributes
    ----------
    data_min_ : ndarray of shape (n_channels,) or ()
        Minimum seen in ``fit``, in input pixel units (dataset scope).

    data_max_ : ndarray of shape (n_channels,) or ()
        Maximum seen in ``fit``, in input pixel units (dataset scope).

    quantiles_ : ndarray of shape (2, n_channels) or (2,)
        The ``q_lo``-th and ``q_hi``-th percentiles of the training pixels, in
        input pixel units (dataset scope with ``quantile_range``).

    histogram_ : PixelHistogram
        Per-channel histogram of the training pixels the percentiles come
        from (dataset scope with ``quantile_range``).

    %(common_attributes)s

    See Also
    --------
    PixelCenterer : Subtract a mean.
    PixelStandardizer : Subtract a mean and divide by a standard deviation.
    PixelStats : The statistics behind all three.

    Notes
    -----
    %(layout_note)s

    %(nodata_note)s

    A constant channel (min == max) maps to ``lo``, never to inf or NaN;
    likewise a channel whose two percentiles are equal (the map is then
    ``x - m + lo``, so combine it with ``clip=True``).

    Percentiles. For integer pixels of at most 16 bits they are exact in
    every scope: dataset percentiles come from a :class:`PixelHistogram`
    (256 or 65,536 exact counts per channel) merged across ``partial_fit``
    calls and Dask chunks, and equal ``numpy.percentile`` on all training
    pixels together to the bit, whatever the split. Other pixels (floats,
    integers wider than 16 bits) are exact (``numpy.nanpercentile``) with
    ``scope="batch"`` / ``"image"`` on NumPy input; their dataset (and Dask or
    device batch) percentiles come from a one-pass 65,536-bin histogram of
    their float32 bit patterns, within ``2**-7`` (0.8 %%) relative of the
    exact value, and within ``[data_min_, data_max_]``.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_pixels import PixelNormalizer
    >>> X = np.array([[[[0, 51, 255]]]], dtype=np.uint8)
    >>> PixelNormalizer().fit_transform(X).ravel()
    array([0. , 0.2, 1. ], dtype=float32)
    >>> PixelNormalizer(feature_range=(-1, 1)).fit_transform(X).ravel()
    array([-1. , -0.6,  1. ], dtype=float32)
    >>> PixelNormalizer(scope="image", per_channel=False).fit_transform(X).ravel()
    array([0. , 0.2, 1. ], dtype=float32)

    Percentile scaling ignores a hot pixel:

    >>> X = np.array([[[10], [20], [30], [40], [4000]]], dtype=np.uint16)
    >>> norm = PixelNormalizer(scope="dataset", quantile_range=(0, 75), clip=True)
    >>> norm.fit_transform(X).ravel()
    array([0.        , 0.33333334, 0.6666667 , 1.        , 1.        ],
          dtype=float32)
    >>> norm.quantiles_  # (2, n_channels): the 0th and 75th percentiles
    array([[10.],
           [40.]])
    """

    _parameter_constraints: dict = {
        **_BasePixelTransformer._parameter_constraints,
        "feature_range": [tuple, list],
        "quantile_range": [tuple, list, None],
        "clip": ["boolean"],
    }

    def __init__(
        self,
        *,
        scope="domain",
        per_channel=True,
        feature_range=(0.0, 1.0),
        max_value="auto",
        quantile_range=None,
        clip=False,
        channel_axis=-1,
        image_shape=None,
        dtype=None,
        nodata=None,
        nodata_fill=0.0,
    ):
        self.scope = scope
        self.per_channel = per_channel
        self.feature_range = feature_range
        self.max_value = max_value
        self.quantile_range = quantile_range
        self.clip = clip
        self.channel_axis = channel_axis
        self.image_shape = image_shape
        self.dtype = dtype
        self.nodata = nodata
        self.nodata_fill = nodata_fill

    @property
    def _uses_domain(self) -> bool:
        return self.scope == "domain"

    def _check_params(self) -> None:
        super()._check_params()
        lo_hi = self.feature_range
        if len(lo_hi) != 2 or not np.all(np.isfinite(np.asarray(lo_hi, dtype=float))):
            raise ValueError(
                "feature_range must be two finite numbers (lo, hi). Got "
                f"feature_range={tuple(lo_hi)!r}."
            )
        if not float(lo_hi[0]) < float(lo_hi[1]):
            raise ValueError(
                "Minimum of desired feature range must be smaller than maximum. "
                f"Got feature_range={tuple(lo_hi)!r}."
            )
        if self.quantile_range is not None:
            check_quantile_range(self.quantile_range)
            if self.scope == "domain":
                raise ValueError(
                    "quantile_range takes the percentiles of the data, but "
                    "scope='domain' looks at no data. Pass scope='dataset', "
                    f"'batch' or 'image'. Got scope={self.scope!r}."
                )

    # -- percentiles: learned with the moments ------------------------------------
    def _learns_quantiles(self) -> bool:
        return self.scope == "dataset" and self.quantile_range is not None

    def _percents(self) -> list:
        return list(self.quantile_range)

    # -- the map ----------------------------------------------------------------
    def _store_fitted(self) -> None:
        stats = self._pool(getattr(self, "stats_", None))
        self.data_min_ = self._fitted_stat(stats.min)
        self.data_max_ = self._fitted_stat(stats.max)
        if self._learns_quantiles() and hasattr(self, "histogram_"):
            self.quantiles_ = fitted_quantiles(
                self.histogram_,
                self._percents(),
                self.per_channel,
                self.data_min_,
                self.data_max_,
            )

    def _coefficients(self, stats, max_value, dtype=None) -> Affine:
        lo, hi = (float(v) for v in self.feature_range)
        if self.scope == "domain":
            low = 0.0 if dtype is None else domain_min(dtype, self.max_value)
            scale = (hi - lo) / (max_value - low)
            return Affine.centered(scale, center=low, base=lo)
        if stats is not None:
            return self._range_map(stats.min, stats.max)
        if self.quantile_range is not None:
            return self._range_map(*self.quantiles_)
        return self._range_map(self.data_min_, self.data_max_)

    def _range_map(self, data_min, data_max) -> Affine:
        """The map of ``[data_min, data_max]`` onto ``feature_range``."""
        lo, hi = (float(v) for v in self.feature_range)
        # Half ranges: max / 2 - min / 2 cannot overflow where max - min would
        # (float64 data spanning +-1e308).  A range below 10 eps is constant, as
        # in MinMaxScaler (_handle_zeros_in_scale): dividing by it would turn
        # rounding noise (or a subnormal range) into O(1) values or inf.
        half = (
            np.asarray(data_max, dtype=np.float64) / 2
            - np.asarray(data_min, dtype=np.float64) / 2
        )
        constant = ~np.isfinite(half) | (half < 5 * np.finfo(np.float64).eps)
        scale = np.where(constant, 1.0, ((hi - lo) / 2) / np.where(constant, 1.0, half))
        clip = (lo, hi) if self.clip else None
        return Affine.centered(
            scale, center=np.nan_to_num(data_min), base=lo, clip=clip
        )

    #: The map of the batch's or image's percentiles (QuantileScalingMixin).
    _quantile_map = _range_map
