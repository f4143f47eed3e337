"""PixelNormalizer: scale by the domain maximum, or min-max."""

from __future__ import annotations

import numpy as np

from ._affine import Affine
from ._base import _BasePixelTransformer
from ._docstrings import fill_doc
from ._units import domain_min


@fill_doc
class PixelNormalizer(_BasePixelTransformer):
    """Scale pixels into ``feature_range``: by the domain maximum, or min-max.

    .. math::

        y = lo + (hi - lo) \\cdot \\frac{x - m}{M - m}

    with ``m = 0, M = max_value`` for ``scope="domain"`` (``x / 255`` for
    ``uint8``; ``feature_range=(-1, 1)`` gives ``x / 127.5 - 1``; signed
    integers with ``max_value="auto"`` span their dtype's limits, ``m = -128,
    M = 127`` for ``int8``, as skimage's ``rescale_intensity(in_range="dtype")``,
    so that every pixel lands in ``feature_range``), and the
    minimum and maximum of the training set, of the batch, or of each image
    for the other scopes.

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

    %(layout)s

    Attributes
    ----------
    data_min_ : ndarray of shape (n_channels,) or ()
        Minimum seen in ``fit``, in input pixel units (dataset scope).

    data_max_ : ndarray of shape (n_channels,) or ()
        Maximum seen in ``fit``, in input pixel units (dataset scope).

    %(common_attributes)s

    See Also
    --------
    PixelCenterer : Subtract a mean.
    PixelStandardizer : Subtract a mean and divide by a standard deviation.
    PixelStats : The statistics behind all three.

    Notes
    -----
    %(layout_note)s

    A constant channel (min == max) maps to ``lo``, never to inf or NaN.

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
    """

    _parameter_constraints: dict = {
        **_BasePixelTransformer._parameter_constraints,
        "feature_range": [tuple, list],
    }

    def __init__(
        self,
        *,
        scope="domain",
        per_channel=True,
        feature_range=(0.0, 1.0),
        max_value="auto",
        channel_axis=-1,
        image_shape=None,
        dtype=None,
    ):
        self.scope = scope
        self.per_channel = per_channel
        self.feature_range = feature_range
        self.max_value = max_value
        self.channel_axis = channel_axis
        self.image_shape = image_shape
        self.dtype = dtype

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

    def _store_fitted(self) -> None:
        stats = self._pool(getattr(self, "stats_", None))
        self.data_min_ = self._fitted_stat(stats.min)
        self.data_max_ = self._fitted_stat(stats.max)

    def _coefficients(self, stats, max_value, dtype=None) -> Affine:
        lo, hi = (float(v) for v in self.feature_range)
        if self.scope == "domain":
            low = 0.0 if dtype is None else domain_min(dtype, self.max_value)
            scale = (hi - lo) / (max_value - low)
            return Affine.centered(scale, center=low, base=lo)
        if stats is None:
            data_min, data_max = self.data_min_, self.data_max_
        else:
            data_min, data_max = stats.min, stats.max
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
        return Affine.centered(scale, center=np.nan_to_num(data_min), base=lo)
