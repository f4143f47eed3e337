"""PixelStandardizer: subtract a mean and divide by a standard deviation."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ._affine import Affine
from ._base import _BasePixelTransformer
from ._docstrings import fill_doc
from ._per_pixel import _PerPixelMixin
from .presets import PRESETS


@fill_doc
class PixelStandardizer(_PerPixelMixin, _BasePixelTransformer):
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

    %(max_value)s

    %(layout)s

    Attributes
    ----------
    mean_ : ndarray of shape (n_channels,), () or pixel_shape_
        Mean, in input pixel units (dataset scope). With ``per_pixel=True``,
        the mean image: of shape ``pixel_shape_``, or without its channel
        axis when ``per_channel=False`` (so are ``std_`` and ``var_``).

    std_ : ndarray of shape (n_channels,), () or pixel_shape_
        Standard deviation with ``ddof``, in input pixel units, as computed
        (a zero std is reported as 0 and applied as 1).

    var_ : ndarray of shape (n_channels,), () or pixel_shape_
        Variance, ``std_ ** 2``, in squared pixel units.

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

    Statistics of integer pixels of up to 16 bits are exact: the same to the
    bit however the data is split into batches. Clipping loses information:
    :meth:`inverse_transform` returns clipped values at the clipping bound.

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
        max_value="auto",
        channel_axis=-1,
        image_shape=None,
        dtype=None,
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
        self.max_value = max_value
        self.channel_axis = channel_axis
        self.image_shape = image_shape
        self.dtype = dtype

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

    def _coefficients(self, stats, max_value, dtype=None) -> Affine:
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
