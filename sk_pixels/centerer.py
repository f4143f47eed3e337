"""PixelCenterer: subtract a mean (global or per channel)."""

from __future__ import annotations

from numbers import Real

from sklearn.utils._param_validation import StrOptions

from ._affine import Affine
from ._base import _BasePixelTransformer
from ._docstrings import fill_doc
from ._per_pixel import _PerPixelMixin
from .presets import PRESETS


@fill_doc
class PixelCenterer(_PerPixelMixin, _BasePixelTransformer):
    """Center pixels by subtracting a mean.

    .. math::

        y = x - \\mu \\quad \\text{or, with normalize=True,} \\quad
        y = (x - \\mu) / \\text{max\\_value}

    The mean ``mu`` is learned on the training set (``scope="dataset"``),
    fixed (a preset name or an array), or computed on each batch or image
    passed to :meth:`transform`.

    Parameters
    ----------
    scope : {"dataset", "batch", "image"}, default="dataset"
        Where the mean comes from: the images given to ``fit`` /
        ``partial_fit``, the whole batch given to ``transform``, or each
        image on its own.

    %(per_channel)s

    %(per_pixel)s

    mean : None, str or array-like of shape (n_channels,) or (), default=None
        None learns the mean. A preset name (``"imagenet"``, ``"clip"``,
        ``"inception"``, ``"caffe"``; see :mod:`sk_pixels.presets`) is
        converted to the input's units through ``max_value``. An array-like is
        in input pixel units.

    normalize : bool, default=False
        Divide by ``max_value`` too, so that output lies around 0 in [-1, 1];
        False keeps pixel units.

    %(max_value)s

    %(layout)s

    %(nodata)s

    Attributes
    ----------
    mean_ : ndarray of shape (n_channels,), () or ``pixel_shape_``
        Mean subtracted, in input pixel units (dataset scope). With
        ``per_pixel=True``, the mean image: of shape ``pixel_shape_``, or
        without its channel axis when ``per_channel=False``.

    %(pixel_shape)s

    %(common_attributes)s

    See Also
    --------
    PixelStandardizer : Also divide by a standard deviation.
    PixelNormalizer : Scale by the domain maximum or min-max.
    PixelStats : The statistics behind all three.

    Notes
    -----
    %(layout_note)s

    %(nodata_note)s

    Examples
    --------
    >>> import numpy as np
    >>> from sk_pixels import PixelCenterer
    >>> X = np.array([[[[0, 100, 200]], [[50, 150, 250]]]], dtype=np.uint8)
    >>> X.shape
    (1, 2, 1, 3)
    >>> centerer = PixelCenterer().fit(X)
    >>> centerer.mean_
    array([ 25., 125., 225.])
    >>> centerer.transform(X)[0, :, 0]
    array([[-25., -25., -25.],
           [ 25.,  25.,  25.]], dtype=float32)
    >>> PixelCenterer(per_channel=False).fit(X).mean_
    array(125.)

    A mean image (one mean per pixel position and channel):

    >>> PixelCenterer(per_pixel=True).fit(np.concatenate([X, X // 2])).mean_[:, 0]
    array([[  0. ,  75. , 150. ],
           [ 37.5, 112.5, 187.5]])
    """

    _parameter_constraints: dict = {
        **_BasePixelTransformer._parameter_constraints,
        "scope": [StrOptions({"dataset", "batch", "image"})],
        "mean": [None, StrOptions(set(PRESETS)), "array-like", Real],
        "normalize": ["boolean"],
        "per_pixel": ["boolean"],
    }
    _STAT_PARAMS = ("mean",)

    def __init__(
        self,
        *,
        scope="dataset",
        per_channel=True,
        per_pixel=False,
        mean=None,
        normalize=False,
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
        self.normalize = normalize
        self.max_value = max_value
        self.channel_axis = channel_axis
        self.image_shape = image_shape
        self.dtype = dtype
        self.nodata = nodata
        self.nodata_fill = nodata_fill

    @property
    def _uses_domain(self) -> bool:
        return self.normalize

    def _store_fitted(self) -> None:
        stats = self._pool(getattr(self, "stats_", None))
        mean = self._fixed("mean", self.max_value_)
        self.mean_ = self._fitted_stat(stats.mean if mean is None else mean)

    def _coefficients(self, stats, max_value, dtype=None) -> Affine:
        mean = self._fixed("mean", max_value)
        if mean is None:
            mean = self.mean_ if stats is None else stats.mean
        scale = 1.0 / max_value if self.normalize else 1.0
        return Affine.centered(scale, center=mean)
