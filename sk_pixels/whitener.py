"""PixelWhitener: ZCA / PCA whitening of whole images or of k x k patches."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils._set_output import _wrap_data_with_container
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from ._backends._common import restore_dtype as _restore
from ._base import _BasePixelTransformer
from ._covariance import PixelCovariance, PlanMemo, WhiteningPlan, whitening_plan
from ._docstrings import fill_doc
from ._layout import image_view
from ._patches import convolve, patch_covariance
from ._units import output_float_dtype
from ._whiten_export import _WhitenerExportMixin, hide_affine_exports

#: The whitener's fitted attributes, on top of the base's.
_WHITENER_FITTED = ("input_image_shape_", "_plan_cache", "_fitted_patch_size")
#: d x d float64 matrices alive at once, at most: the running sums, a batch's
#: sums, then the covariance, its eigenvectors, the whitening matrix and one
#: temporary while the whitening is derived.
_MATRICES = 5


def _never(reason: str):
    """An ``available_if`` check that hides a base-class method, saying why."""

    def check(estimator) -> bool:
        raise AttributeError(reason.format(name=type(estimator).__name__))

    return check


def _can_invert(estimator) -> bool:
    if getattr(estimator, "patch_size", None) is not None:
        raise AttributeError(
            f"patch_size={estimator.patch_size} whitens by a convolution, which "
            "has no inverse filter of the same size, so PixelWhitener has no "
            "inverse_transform in patch mode. Use patch_size=None (whole images) "
            "to invert."
        )
    return True


@fill_doc
class PixelWhitener(_WhitenerExportMixin, _BasePixelTransformer):
    """Whiten images: remove the linear correlations between their pixels.

    The covariance of the training images (flattened in channels-last order,
    ``d = H * W * C`` values; or of all their ``k x k x C`` patches,
    ``d = k * k * C``) is accumulated with ``partial_fit``, in ``[0, 1]`` units
    (pixels divided by ``max_value``):

    .. math::

        \\Sigma = \\frac{1}{n} \\sum_i (x_i - \\mu)(x_i - \\mu)^T
                = U \\operatorname{diag}(s) U^T, \\qquad
        W_{\\text{zca}} = U \\operatorname{diag}\\left(\\frac{1}{\\sqrt{s +
            \\epsilon}}\\right) U^T, \\qquad
        W_{\\text{pca}} = \\operatorname{diag}\\left(\\frac{1}{\\sqrt{s +
            \\epsilon}}\\right) U^T

    and ``transform`` returns ``y = W (x / max_value - mu)``. ZCA is Keras'
    ``ImageDataGenerator(featurewise_center=True, zca_whitening=True)``
    formula: its output looks like the image, with edges enhanced. PCA
    rotates onto the principal axes: its output has identity covariance on the
    training data (up to ``s / (s + epsilon)``).

    In patch mode (``patch_size=k``, odd), ``transform`` applies the ZCA
    filter convolutionally: output channel ``c`` at each pixel is the row of
    ``W`` for channel ``c`` of the patch centre, a ``k x k x C`` filter,
    applied to the patch around that pixel. The output has the input's shape
    for any image size, so whitening works on 224x224 images.

    Parameters
    ----------
    method : {"zca", "pca"}, default="zca"
        ZCA (output in pixel space, shape of the input) or PCA (output of
        shape ``(n, n_components)``; whole-image mode only).

    n_components : int or None, default=None
        Keep the ``n_components`` components of largest variance (at most
        ``d``). None keeps all ``d``.

    epsilon : float, default=1e-6
        Added to each variance before the inverse square root, in squared
        ``[0, 1]`` units (Keras' ``zca_epsilon`` on images scaled to [0, 1]).
        It bounds the gain of a component to ``1 / sqrt(epsilon)``.

    patch_size : int or None, default=None
        None whitens whole images (all of the same size). An odd ``k`` learns
        the covariance of every ``k x k x C`` patch inside the training images
        (of any size) and whitens by convolution (method "zca" only).

    max_memory : int, default=2 GiB
        Bytes that fitting may use for its ``d x d`` matrices; ``fit`` refuses
        larger ``d`` before allocating anything, saying how much it needs.

    %(max_value)s

    %(layout)s

    Attributes
    ----------
    cov_ : PixelCovariance
        Running mean and covariance of the training rows (flattened images or
        patches) in input pixel units; exact for integer pixels of up to 16
        bits, mergeable with ``+``.

    mean_ : ndarray of shape (d,)
        Mean row in ``[0, 1]`` units (``x / max_value``), channels-last order.

    explained_variance_ : ndarray of shape (n_components,)
        Eigenvalues ``s`` of the covariance, in squared ``[0, 1]`` units,
        descending.

    components_ : ndarray of shape (n_components, d)
        Unit eigenvectors ``U^T`` as rows (the largest entry of each positive).

    whitening_ : ndarray of shape (d, d) for ZCA or (n_components, d) for PCA
        ``W``, applied to ``x / max_value - mean_``.

    filters_ : ndarray of shape (C, k, k, C)
        Patch mode only: ``filters_[c]`` is the row of ``W`` for channel ``c``
        of the patch centre, as a ``(k, k, C)`` filter.

    input_image_shape_ : tuple of int
        Shape of one training image as passed (whole-image mode requires every
        batch to match it).

    %(seen_attributes)s

    See Also
    --------
    PixelStandardizer : Per-channel mean and std, no correlations.
    PixelCovariance : The mergeable accumulator behind ``cov_``.

    Notes
    -----
    The decomposition (``numpy.linalg.eigh`` of the ``d x d`` covariance) is
    computed once, on the first use after fitting, and again only when
    ``method``, ``n_components`` or ``epsilon`` change, so streaming
    ``partial_fit`` costs only the accumulation. Eigenvalues below 0 (float
    rounding of a singular covariance) are taken as 0.

    Patch mode pads each image by ``k // 2`` pixels with NumPy's ``"reflect"``
    mode (mirrored about the edge pixel, which is not repeated), so that every
    pixel has a full patch; the covariance only uses patches inside the
    images. The convolution has no inverse filter, so ``inverse_transform``
    does not exist in patch mode. Whole-image ``inverse_transform`` is exact
    (up to float rounding) with ``n_components=None`` and a projection onto the
    kept components otherwise.

    NaN and inf are rejected: a covariance cannot ignore single pixels.
    NumPy input only (``dask`` users can feed chunks to ``partial_fit``).

    Examples
    --------
    Four grayscale images of 1x2 pixels whose two pixels are correlated:

    >>> import numpy as np
    >>> from sk_pixels import PixelWhitener
    >>> X = np.array([[[0, 10]], [[100, 80]], [[200, 220]], [[50, 40]]], dtype=np.uint8)
    >>> zca = PixelWhitener().fit(X)
    >>> np.round(zca.explained_variance_, 4)
    array([0.182 , 0.0016])
    >>> np.round(zca.whitening_, 2)
    array([[ 14.66, -11.31],
           [-11.31,  12.72]])
    >>> Y = zca.transform(X)
    >>> Y.shape, Y.dtype
    ((4, 1, 2), dtype('float32'))
    >>> np.round(Y[:, 0], 2)
    array([[-1.59,  0.01],
           [ 1.05, -0.93],
           [ 0.59,  1.62],
           [-0.05, -0.71]], dtype=float32)
    >>> np.round(np.cov(Y.reshape(4, 2), rowvar=False, bias=True), 3)
    array([[1., 0.],
           [0., 1.]])
    >>> np.round(zca.inverse_transform(Y)[:, 0], 2)
    array([[  0.,  10.],
           [100.,  80.],
           [200., 220.],
           [ 50.,  40.]])
    """

    _parameter_constraints: dict = {
        **{
            name: rule
            for name, rule in _BasePixelTransformer._parameter_constraints.items()
            if name not in ("scope", "per_channel", "nodata", "nodata_fill")
        },
        "method": [StrOptions({"zca", "pca"})],
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "patch_size": [Interval(Integral, 1, None, closed="left"), None],
        "max_memory": [Interval(Integral, 1, None, closed="left")],
    }

    # Read by the base's validation and commit: every batch must have the
    # channel count of fit (a whitener always sees all channels together), and
    # the covariance is learned from the training set.
    per_channel = True
    scope = "dataset"

    def __init__(
        self,
        *,
        method="zca",
        n_components=None,
        epsilon=1e-6,
        patch_size=None,
        max_memory=2 * 2**30,
        max_value="auto",
        channel_axis=-1,
        image_shape=None,
        dtype=None,
    ):
        self.method = method
        self.n_components = n_components
        self.epsilon = epsilon
        self.patch_size = patch_size
        self.max_memory = max_memory
        self.max_value = max_value
        self.channel_axis = channel_axis
        self.image_shape = image_shape
        self.dtype = dtype

    # -- scikit-learn protocol ----------------------------------------------
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.requires_fit = True
        return tags

    def _learns(self) -> bool:
        return True

    def _reset(self) -> None:
        super()._reset()
        for name in _WHITENER_FITTED:
            self.__dict__.pop(name, None)

    def _check_params(self) -> None:
        super()._check_params()
        k = self.patch_size
        if k is not None and k % 2 == 0:
            raise ValueError(
                f"patch_size must be odd, so that a patch has a centre pixel whose "
                f"row of the whitening matrix is the filter. Got patch_size={k}."
            )
        if k is not None and self.method == "pca":
            raise ValueError(
                "method='pca' outputs n_components values per patch, not an image, "
                "so patch mode supports method='zca' only. Use method='zca' with "
                f"patch_size, or patch_size=None for PCA. Got patch_size={k}."
            )

    # -- fitting: the base's protocol, with a covariance for statistics --------
    def partial_fit(self, X, y=None):
        """Accumulate the covariance of one more batch of images.

        The result equals :meth:`fit` on all batches at once: to the bit for
        integer pixels of up to 16 bits (exact integer sums), to float64
        rounding otherwise. Nothing is decomposed here.

        Parameters
        ----------
        X : array-like of shape (n, H, W, C), (n, C, H, W), (n, H, W) or \
(n, n_features); a list of single images; or an iterable of batches
            A batch of training images (all of one size in whole-image mode),
            or batches to stream as for the other estimators (a generator, a
            PyTorch ``DataLoader``).
        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        return super().partial_fit(X, y)

    def _validate(self, X, *, reset: bool, fitting: bool, check_names: bool = True):
        """The base's checks, NumPy only and without NaN; when fitting, the size
        rules (memory before the first covariance, one image size after)."""
        backend, X, dtype = super()._validate(
            X, reset=reset, fitting=fitting, check_names=check_names
        )
        if backend.name != "numpy":
            raise TypeError(
                f"PixelWhitener works on NumPy arrays; got a {backend.name} array. "
                "Convert it with numpy.asarray (or pass Dask chunks to "
                "partial_fit one at a time)."
            )
        if X.dtype.kind == "f" and np.isnan(X).any():
            raise ValueError(
                "Input X contains NaN: PixelWhitener needs every pixel (a "
                "covariance cannot skip single pixels). Fill or drop the NaN "
                "pixels first."
            )
        if fitting:
            image_shape = image_view(X, *self._layout()).shape[1:]
            if hasattr(self, "stats_"):
                self._check_image_size(image_shape)
            else:
                self._check_memory(image_shape)
            if reset:  # recorded with the feature and channel counts
                self.input_image_shape_ = tuple(int(s) for s in X.shape[1:])
                self._fitted_patch_size = self.patch_size
        return backend, X, dtype

    def _batch_stats(self, backend, X) -> PixelCovariance:
        """Covariance of the rows of one batch: flattened images or all patches."""
        view = image_view(X, *self._layout())
        if self.patch_size is None:
            cov = PixelCovariance.from_rows(view.reshape(view.shape[0], -1))
        else:
            cov = patch_covariance(view, self.patch_size)
        cov.n_images = view.shape[0]
        return cov

    def _merged_stats(self, stats: PixelCovariance) -> PixelCovariance:
        # In place: a d x d copy per batch would cost more than the batch's
        # products; nothing is refused after the first batch (d is fixed).
        return self.stats_.absorb(stats)

    def _observed_max(self, stats) -> None:
        return None  # a covariance keeps no extrema; the units are the dtype's

    def _check_learned_stats(self, stats: PixelCovariance) -> None:
        self._check_n_components(stats.n_features)

    def _store_fitted(self) -> None:
        self._plan_cache = PlanMemo()  # the decomposition is derived again

    @property
    def cov_(self) -> PixelCovariance:
        return self.stats_

    def _n_features(self, image_shape: tuple) -> int:
        """``d``: values of one row (a flattened image or patch)."""
        if self.patch_size is None:
            return int(np.prod(image_shape))
        return self.patch_size**2 * int(image_shape[-1])

    def _check_memory(self, image_shape: tuple) -> None:
        """Refuse, before allocating, a covariance beyond ``max_memory``."""
        d = self._n_features(image_shape)
        needed = _MATRICES * PixelCovariance.nbytes(d)
        if needed <= self.max_memory:
            return
        h, w, c = image_shape
        k = min(5, min(h, w) if min(h, w) % 2 else min(h, w) - 1)
        if self.patch_size is None:
            what = f"whole images of {h}x{w}x{c} pixels"
            fix = f"Whiten {k}x{k} patches instead (patch_size={k})"
        else:
            what = f"{self.patch_size}x{self.patch_size}x{c} patches"
            fix = "Use a smaller patch_size (e.g. 5)"
        raise ValueError(
            f"Whitening {what} needs the {d} x {d} covariance: about "
            f"{needed / 2**30:.1f} GiB ({_MATRICES} float64 matrices of "
            f"{PixelCovariance.nbytes(d) / 2**30:.2f} GiB), more than "
            f"max_memory={self.max_memory} bytes ({self.max_memory / 2**30:.2f} "
            f"GiB). {fix}, or raise max_memory."
        )

    def _check_mode(self) -> None:
        if self.patch_size != self._fitted_patch_size:
            raise ValueError(
                f"PixelWhitener was fitted with patch_size={self._fitted_patch_size}"
                f", but patch_size is now {self.patch_size}: the covariance "
                "describes other rows. Call fit again after changing patch_size."
            )

    def _check_image_size(self, image_shape: tuple) -> None:
        self._check_mode()
        if self.patch_size is not None:
            return
        d = int(np.prod(image_shape))
        if d != self.cov_.n_features:
            h, w, c = image_shape
            raise ValueError(
                f"X holds images of {h}x{w}x{c} values ({d}), but PixelWhitener "
                f"was fitted on images of shape {self.input_image_shape_} "
                f"({self.cov_.n_features} values). Whole-image whitening needs "
                "one image size; resize the images, or use patch_size for any size."
            )

    def _check_n_components(self, d: int) -> None:
        if self.n_components is not None and self.n_components > d:
            raise ValueError(
                f"n_components={self.n_components} is larger than the "
                f"n_features={d} values of a row (a flattened image or patch), "
                "the number of components there are. Pass n_components <= "
                f"{d}, or None for all."
            )

    # -- the whitening --------------------------------------------------------------
    def _plan(self) -> WhiteningPlan:
        """The decomposition, derived from ``cov_`` and the parameters.

        Memoised on the values it depends on: the parameters, in a holder that
        every commit replaces. Filling the holder is the one write a transform
        makes, and it is invisible: the estimator's attributes stay the same
        objects (scikit-learn's ``check_dict_unchanged``).
        """
        check_is_fitted(self)
        self._check_mode()
        key = (self.method, self.n_components, float(self.epsilon), self.max_value_)
        memo = self._plan_cache
        if memo.plan is not None and memo.plan.key == key:
            return memo.plan
        self._check_n_components(self.cov_.n_features)
        plan = whitening_plan(
            self.cov_, self.max_value_, self.method, self.n_components, self.epsilon
        )
        memo.plan = plan
        return plan

    @property
    def mean_(self) -> np.ndarray:
        return self._plan().mean

    @property
    def explained_variance_(self) -> np.ndarray:
        return self._plan().variances

    @property
    def components_(self) -> np.ndarray:
        return self._plan().components

    @property
    def whitening_(self) -> np.ndarray:
        return self._plan().matrix

    @property
    def filters_(self) -> np.ndarray:
        if self.patch_size is None:
            raise AttributeError(
                "filters_ exists in patch mode only (patch_size set); whole-image "
                "whitening applies whitening_ to each flattened image."
            )
        k, c = self.patch_size, self.n_channels_
        centre = (k // 2 * k + k // 2) * c
        rows = self._plan().matrix[centre : centre + c]
        return rows.reshape(c, k, k, c)

    # -- transforming -------------------------------------------------------------
    def transform(self, X):
        """Whiten X.

        Parameters
        ----------
        X : array-like of shape (n, H, W, C), (n, C, H, W), (n, H, W) or (n, n_features)
            Images, in the layout given at construction (of the training size
            in whole-image mode, of any size in patch mode).

        Returns
        -------
        X_out : ndarray of the shape of X, or of shape (n, n_components) for PCA
            Whitened values, dimensionless (about unit variance per component
            on the training data), float32 for integer input, else X's float
            dtype (or ``dtype`` when set).
        """
        check_is_fitted(self)
        _, X, dtype = self._validate(X, reset=False, fitting=False)
        view = image_view(X, *self._layout())
        self._check_image_size(view.shape[1:])
        out_dtype = output_float_dtype(dtype, self.dtype)
        plan = self._plan()
        if self.patch_size is None:
            rows = view.reshape(view.shape[0], -1)
            centred = rows.astype(out_dtype) * out_dtype.type(1.0 / self.max_value_)
            centred -= plan.mean.astype(out_dtype)
            Y = centred @ plan.matrix.T.astype(out_dtype)
            if self.method == "pca":
                result = Y
            else:
                result = np.empty(X.shape, dtype=out_dtype)
                image_view(result, *self._layout())[...] = Y.reshape(view.shape)
        else:
            result = np.empty(X.shape, dtype=out_dtype)
            out = image_view(result, *self._layout())
            convolve(view, out, self.filters_, plan.mean, self.max_value_)
        return _wrap_data_with_container("transform", result, X, self)

    @available_if(_can_invert)
    def inverse_transform(self, X, *, restore_dtype: bool = False):
        """Map whitened data back to input pixel units (whole-image mode only).

        Exact up to float rounding with ``n_components=None``; with fewer
        components, the projection of the images onto the kept ones.

        Parameters
        ----------
        X : ndarray of the shape returned by :meth:`transform`
            Whitened images (image-shaped for ZCA, ``(n, n_components)`` for PCA).
        restore_dtype : bool, default=False
            Round and clip to the range of the dtype seen in :meth:`fit` and
            return that dtype (e.g. ``uint8``), to look at an image again.

        Returns
        -------
        X_original : ndarray of shape ``(n, *input_image_shape_)``
            Images in input pixel units: float64 (or ``dtype`` when set), or
            the fitted dtype with ``restore_dtype=True``.
        """
        if not hasattr(self, "n_samples_seen_"):
            raise NotFittedError(
                "This PixelWhitener instance is not fitted yet: inverse_transform "
                "needs the covariance learned in fit. Call 'fit' first."
            )
        plan = self._plan()
        X = np.asarray(X)
        if X.dtype.kind not in "fiu" or X.ndim < 2:
            raise ValueError(
                f"inverse_transform expects whitened data as a numeric array of "
                f"shape (n, ...); got dtype {X.dtype} and shape {X.shape}."
            )
        inverse = plan.inverse()
        expected = inverse.shape[1]
        if self.method == "zca":
            rows = image_view(X, *self._layout()).reshape(X.shape[0], -1)
        else:
            rows = X.reshape(X.shape[0], -1)
        if rows.shape[1] != expected:
            raise ValueError(
                f"X has {rows.shape[1]} values per sample, but this PixelWhitener "
                f"outputs {expected}. Pass the output of transform."
            )
        out_dtype = np.dtype(self.dtype or np.float64)
        pixels = (rows @ inverse.T + plan.mean) * self.max_value_
        result = np.empty((X.shape[0], *self.input_image_shape_), dtype=out_dtype)
        view = image_view(result, *self._layout())
        view[...] = pixels.reshape(view.shape)
        return _restore(result, self.input_dtype_) if restore_dtype else result

    def get_feature_names_out(self, input_features=None):
        """Output feature names: the input's for ZCA, ``pixelwhitener<i>`` for PCA.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input feature names (checked against ``feature_names_in_``).

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        names = _check_feature_names_in(self, input_features)
        if self.method == "zca":
            return names
        n = self._plan().matrix.shape[0]
        return np.asarray([f"pixelwhitener{i}" for i in range(n)], dtype=object)

    # -- reporting ----------------------------------------------------------------
    def summary(self) -> str:
        """Describe the fit: images, rows, dimension and the largest variances."""
        check_is_fitted(self)
        plan = self._plan()
        k = self.patch_size
        mode = "whole images" if k is None else f"{k}x{k} patches"
        top = ", ".join(f"{v:.4g}" for v in plan.variances[:5])
        return "\n".join(
            [
                f"PixelWhitener(method={self.method!r}, {mode})",
                f"  fitted on {self.n_samples_seen_} images, {self.cov_.n_samples} "
                f"rows of d={self.cov_.n_features}, dtype {self.input_dtype_}, "
                f"max_value {self.max_value_:g}",
                f"  largest variances ([0, 1] units squared): {top}",
            ]
        )

    # -- base-class methods that a whitener does not have ---------------------
    fit_stats = available_if(
        _never("{name} learns a covariance, which PixelStats do not hold; use fit.")
    )(_BasePixelTransformer.fit_stats)


hide_affine_exports(PixelWhitener, _BasePixelTransformer, _never)
