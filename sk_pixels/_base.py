"""The base of the three pixel transformers: validation, layout, fit, transform.

Every transform in this library is a per-channel affine map ``x * scale +
offset``, optionally clipped, whose coefficients come from statistics: fitted
(``scope="dataset"``), fixed (a preset or an array), or computed on the batch
(``scope="batch"``) or on each image (``scope="image"``) being transformed.  The
base class owns everything but the map; each concrete class only says which
coefficients its statistics give (``_coefficients``).
"""

from __future__ import annotations

import copy
from functools import partial
from numbers import Integral, Real

import numpy as np

# scikit-learn's private fit preamble (parameter validation + nested-validation
# skipping) and set_output's container wrapper; kept in this one place so that
# an upgrade breaks one line.
from sklearn.base import (
    BaseEstimator,
    OneToOneFeatureMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import StrOptions
from sklearn.utils._set_output import _wrap_data_with_container
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from . import _fastpath
from ._backends._common import nanmax as _nanmax
from ._commit import _COMMIT_LOCK, _CommitMixin
from ._export import _ExportMixin
from ._images import as_image_list, stream
from ._input import _InputMixin, _is_preset
from ._percentiles import histogram_of
from ._units import (
    check_batch_scale,
    output_float_dtype,
    resolve_max_value,
    warn_if_float_outside_unit_range,
)

_SCOPES = ("domain", "dataset", "batch", "image")

#: Fitted attributes removed by ``_reset``.
_FITTED = (
    "n_samples_seen_",
    "n_channels_",
    "n_features_in_",
    "feature_names_in_",
    "max_value_",
    "input_dtype_",
    "stats_",
    "mean_",
    "std_",
    "var_",
    "data_min_",
    "data_max_",
    "provenance_",
    "histogram_",
    "quantiles_",
    "center_",
    "scale_",
)


def _can_invert(estimator) -> bool:
    """Whether the map can be inverted: only scopes that keep their statistics.

    ``available_if`` hides ``inverse_transform`` otherwise (``hasattr`` is
    False, ``Pipeline.inverse_transform`` too); the reason is the cause of the
    AttributeError.
    """
    scope = getattr(estimator, "scope", "dataset")
    if scope in ("batch", "image"):
        raise AttributeError(
            f"scope={scope!r} computes statistics from each {scope} and keeps "
            "none, so the transform cannot be inverted. Use scope='dataset' to "
            "invert."
        )
    return True


class _BasePixelTransformer(
    _CommitMixin,
    _InputMixin,
    _ExportMixin,
    OneToOneFeatureMixin,
    TransformerMixin,
    BaseEstimator,
    # transform wraps its own output for set_output (and leaves a lazy Dask
    # result lazy), instead of scikit-learn's wrapper that would materialise it.
    auto_wrap_output_keys=None,
):
    """Shared machinery; subclasses implement ``_coefficients``.

    Subclass hooks:

    - ``_STAT_PARAMS``: names of the parameters that fix a statistic (``mean``,
      ``std``); a statistic left as None is learned.
    - ``_coefficients(stats, max_value, dtype)``: the affine map from statistics
      (``stats`` None: the fitted or fixed ones) for pixels of ``dtype``.
    - ``_store_fitted()``: set the public fitted attributes from ``stats_`` (or
      from the fixed statistics).
    - ``_learns_quantiles()``: whether fit learns percentiles too: a histogram
      of each batch is committed with its statistics into ``histogram_``.
    """

    _parameter_constraints: dict = {
        "scope": [StrOptions(set(_SCOPES))],
        "per_channel": ["boolean"],
        "max_value": [StrOptions({"auto"}), Real],
        "channel_axis": [Integral, None],
        "image_shape": [tuple, list, None],
        "dtype": [None, type, np.dtype, StrOptions({"float16", "float32", "float64"})],
        "nodata": [None, Real, "array-like"],
        "nodata_fill": [Real],
    }

    _STAT_PARAMS: tuple[str, ...] = ()
    #: Whether the transform depends on float pixels lying in [0, 1].
    _uses_domain = False

    # -- scikit-learn protocol ----------------------------------------------
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.requires_fit = self._learns()
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        # Stateless scopes may transform without fit (their tags say
        # requires_fit=False), but only fit validates and records the units.
        return hasattr(self, "n_samples_seen_")

    def _learns(self) -> bool:
        """Whether ``fit`` learns statistics (robust to unvalidated parameters)."""
        scope = getattr(self, "scope", "dataset")
        if scope != "dataset":
            return False
        return not self._STAT_PARAMS or any(
            getattr(self, name, None) is None for name in self._STAT_PARAMS
        )

    def _learns_quantiles(self) -> bool:
        """Whether fit learns percentiles (a histogram) beside the statistics."""
        return False

    def _reset(self) -> None:
        for name in _FITTED:
            self.__dict__.pop(name, None)

    # -- fitting ----------------------------------------------------------------
    def fit(self, X, y=None):
        """Learn the statistics of X (or only check it, for stateless scopes).

        Parameters
        ----------
        X : array-like of shape (n, ..., C), (n, C, ...), (n, H, W) or \
(n, n_features); a list of single images; a PIL image; or an iterable of batches
            Training images (see :meth:`partial_fit` for lists and iterables).
        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        self._reset()
        return self.partial_fit(X, y)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Accumulate the statistics of one more batch of images.

        Batches may hold images of different sizes as long as the number of
        channels stays the same; the result equals :meth:`fit` on all batches
        at once (to the bit for integer pixels of up to 16 bits). Calls from
        several threads are safe: each batch is committed once, under a lock.

        Parameters
        ----------
        X : array-like of shape (n, ..., C), (n, C, ...), (n, H, W) or \
(n, n_features); a list of single images; a PIL image; or an iterable of batches
            A batch of training images. A list (or tuple) of single images of
            any sizes (arrays laid out like one row of a batch, or PIL images)
            is pooled over every pixel; any other iterable (a generator,
            ``iter_images(...)``, a PyTorch ``DataLoader``) is streamed, each
            item a batch, a PIL image, an ``(images, labels)`` pair or a
            mapping with a ``"pixel_values"``, ``"image"`` or ``"images"`` key.
        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        self._check_params()
        batches = stream(X)
        if batches is None:
            return self._partial_fit_batch(X)
        empty = True
        for batch in batches:
            self._partial_fit_batch(batch)
            empty = False
        if empty:
            raise ValueError(
                f"X is an empty iterable ({type(X).__name__}): it yielded no batch "
                "of images to fit on."
            )
        return self

    def _partial_fit_batch(self, X):
        """partial_fit of one batch, or of one ragged list of single images."""
        images = as_image_list(X)
        parts = [X] if images is None else images
        with _COMMIT_LOCK:
            first_call = not hasattr(self, "n_samples_seen_")
            checked = [
                self._validate(part, reset=first_call and k == 0, fitting=True)
                for k, part in enumerate(parts)
            ]
        dtype = _one_dtype(checked)
        stats, hist, n_images, observed_max = None, None, 0, None
        for backend, data, _ in checked:
            if self._learns():
                part = self._batch_stats(backend, data)
                stats = part if stats is None else stats.merge(part)
                if self._learns_quantiles():
                    counts = histogram_of(backend, data, self._layout(), self._nodata())
                    hist = counts if hist is None else hist.merge(counts)
                continue
            n_images += backend.n_images(data)
            if dtype.kind == "f" and self._depends_on_unit_range():
                nodata = self._nodata()  # a sentinel is not a pixel's units
                largest = (
                    backend.maximum(data)
                    if nodata is None
                    else _nanmax(backend.stats(data, self._layout(), nodata=nodata).max)
                )
                observed_max = np.fmax(observed_max or -np.inf, largest)
        n_images = stats.n_images if stats is not None else n_images
        if n_images == 0:
            raise ValueError(
                f"Found array with 0 sample(s) (shape={checked[0][1].shape}) while "
                "a minimum of 1 is required."
            )
        self._commit(
            input_dtype=dtype,
            n_images=n_images,
            stats=stats,
            observed_max=observed_max,
            histogram=hist,
        )
        return self

    # -- transforming -------------------------------------------------------------
    def _prepare_transform(self, X):
        if self._learns():
            check_is_fitted(self)
        elif not hasattr(self, "n_samples_seen_"):
            # Stateless and not fitted: validate the parameters now.
            self._validate_params()
            self._check_params()
        return self._validate(X, reset=False, fitting=False)

    def transform(self, X, out=None):
        """Scale X.

        Parameters
        ----------
        X : array-like of shape (n, H, W, C), (n, C, H, W), (n, H, W) or (n, n_features)
            Images to scale, in the layout given at construction.
        out : array of X's shape and a float dtype, default=None
            Write the result into this preallocated array (computed in its
            dtype) and return it, so that no output is allocated; ``out=X``
            transforms float input in place.  It must not otherwise overlap X.
            NumPy input takes a NumPy array, device input an array of its
            namespace; Dask input (a lazy result) refuses ``out``.

        Returns
        -------
        X_out : array of the same shape as X
            Scaled images, float32 for integer input, else X's float dtype
            (or ``dtype`` when set); an array of X's namespace for device input,
            a lazy Dask array for Dask input.
        """
        fast = _fastpath.transform(self, X, out)  # small NumPy calls seen before
        if fast is not None:
            return fast
        images = as_image_list(X)
        if images is not None:
            return self._transform_images(images, out)
        backend, data, dtype = self._prepare_transform(X)
        result = self._scale(backend, data, dtype, out)
        if not backend.eager:  # set_output never materialises a lazy result
            return result
        _fastpath.remember(self, X, dtype)
        return _wrap_data_with_container("transform", result, X, self)

    def fit_transform(self, X, y=None):
        """Fit to X, then transform it.

        Parameters
        ----------
        X : array-like of shape (n, H, W, C), (n, C, H, W), (n, H, W) or (n, n_features)
            Training images.
        y : None
            Ignored.

        Returns
        -------
        X_out : array of the same shape as X
            Scaled images (see :meth:`transform`).
        """
        return self.fit(X, y).transform(X)

    def _transform_images(self, images: list, out=None) -> list:
        """transform of a ragged list: a list of arrays of the images' shapes."""
        if out is not None:
            raise TypeError(
                "out= is not supported for a list of images: transform returns a "
                "list of arrays. Pass one batch array to write into out."
            )
        checked = [self._prepare_transform(image) for image in images]
        dtype = _one_dtype(checked)
        stats = None
        if self.scope == "batch":  # the batch is the whole list
            for backend, data, _ in checked:
                part = self._batch_stats(backend, data)
                stats = part if stats is None else stats.merge(part)
        return [
            self._scale(backend, data, dtype, stats=stats)[0]
            for backend, data, _ in checked
        ]

    def _scale(self, backend, X, dtype: np.dtype, out=None, stats=None):
        """The map of this estimator applied to validated X on its backend.

        ``stats``: the batch statistics of ``scope="batch"``, when the batch is
        more than X (a ragged list).
        """
        layout = self._layout()
        out_dtype = output_float_dtype(dtype, self.dtype)
        max_value = resolve_max_value(dtype, self.max_value)
        if self.scope in ("domain", "dataset"):
            affine, check = self._fixed_map(dtype)
            return backend.apply(
                X, affine, out_dtype, layout, out=out, check_max=check, **self._fill()
            )
        per_image = self.scope == "image"
        if per_image and not backend.eager:
            # Statistics of each image, blockwise: each chunk of whole images is
            # transformed by a snapshot of this estimator on the NumPy path.
            snapshot = copy.deepcopy(self)
            return backend.map_images(
                X, partial(_transform_chunk, snapshot), out_dtype, out=out
            )
        if stats is None:
            stats = backend.stats(X, layout, per_image=per_image, nodata=self._nodata())
        stats = self._pool(stats)
        self._warn_domain(dtype, _nanmax(stats.max), "transform")
        affine = self._coefficients(stats, max_value, dtype)
        return backend.apply(
            X, affine, out_dtype, layout, per_image=per_image, out=out, **self._fill()
        )

    def _fixed_map(self, dtype: np.dtype):
        """The map of a kept-statistics scope for pixels of ``dtype``, and the
        check of a batch's maximum (None when X's range needs no look)."""
        self._check_learned_counts()
        max_value = resolve_max_value(dtype, self.max_value)
        affine = self._coefficients(None, max_value, dtype)
        check = self._scale_check(dtype) if self._should_track_max(dtype) else None
        return affine, check

    def _check_learned_counts(self) -> None:
        """Refuse to apply statistics learned from no pixel (all NaN in fit).

        Their mean is NaN, which would turn finite pixels into NaN.
        """
        if not (hasattr(self, "stats_") and self._learns()):
            return
        count = self._pool(self.stats_).count
        empty = np.flatnonzero(count.reshape(-1) == 0)
        if empty.size and hasattr(self, "pixel_shape_"):  # a mean image: positions
            where = [tuple(int(i) for i in p) for p in np.argwhere(count == 0)[:5]]
            raise ValueError(
                f"{type(self).__name__} learned no statistics at {empty.size} "
                f"position(s) of its mean image of shape {count.shape}, e.g. "
                f"{where}: every pixel seen there in fit was NaN, masked or "
                "nodata, so the transform would turn finite pixels into NaN. Fit "
                "on data with at least one valid pixel per position."
            )
        if empty.size:
            raise ValueError(
                f"{type(self).__name__} learned no statistics for channel(s) "
                f"{empty.tolist()}: every pixel of those channels seen in fit was "
                "NaN, masked or nodata, so the transform would turn finite pixels "
                "into NaN. Fit on data with at least one valid pixel per channel."
            )

    def _should_track_max(self, dtype: np.dtype) -> bool:
        """Whether transform must look at X's range (a cheap in-cache max)."""
        if np.dtype(dtype).kind == "f" and self._depends_on_unit_range():
            return True
        fitted = getattr(self, "input_dtype_", None)
        learned = hasattr(self, "stats_") and self._learns()
        return learned and not (
            np.dtype(dtype) == np.dtype(fitted) and np.dtype(dtype).kind in "ui"
        )

    def _scale_check(self, dtype: np.dtype):
        """A picklable check of a batch's maximum against the units of this fit."""
        fitted = None
        if hasattr(self, "stats_") and self._learns():
            fitted = (_nanmax(self.stats_.max), self.input_dtype_)
        return partial(
            check_batch_scale,
            dtype=np.dtype(dtype),
            unit_range=self._depends_on_unit_range(),
            max_value=self.max_value,
            fitted=fitted,
            name=type(self).__name__,
        )

    def _depends_on_unit_range(self) -> bool:
        """Whether float input must lie in [0, 1] for the result to be right."""
        uses_preset = any(_is_preset(getattr(self, name)) for name in self._STAT_PARAMS)
        return uses_preset or self._uses_domain

    def _warn_domain(self, dtype, observed_max: float, what: str) -> None:
        if self._depends_on_unit_range():
            warn_if_float_outside_unit_range(dtype, self.max_value, observed_max, what)

    @available_if(_can_invert)
    def inverse_transform(self, X, *, restore_dtype: bool = False):
        """Map scaled data back to the original pixel units.

        Exact up to float rounding, except where ``clip`` cut values (those
        stay at the clipping bound).  Only scopes whose statistics are kept
        (``"dataset"``, ``"domain"``) have this method.

        Parameters
        ----------
        X : array-like of the shape returned by :meth:`transform`
            Scaled images.
        restore_dtype : bool, default=False
            Round and clip to the range of the dtype seen in :meth:`fit` and
            return that dtype (e.g. ``uint8``), to look at an image again.

        Returns
        -------
        X_original : array of the same shape as X
            Images in pixel units (float, or the fitted dtype).
        """
        images = as_image_list(X)
        if images is not None:
            return [
                self.inverse_transform(image, restore_dtype=restore_dtype)[0]
                for image in images
            ]
        if not hasattr(self, "n_samples_seen_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet: "
                "inverse_transform needs the pixel units seen in fit. Call 'fit' "
                "with appropriate arguments before using this estimator."
            )
        fast = _fastpath.inverse_transform(self, X, restore_dtype)
        if fast is not None:
            return fast
        # The same checks as transform (dtype, layout, channels, feature names),
        # then float: rejects bool/string input instead of parsing it.
        backend, data, _ = self._validate(
            X, reset=False, fitting=False, check_names=False
        )
        data = backend.as_float(data)
        out_dtype = output_float_dtype(backend.dtype(data), self.dtype)
        result = backend.apply(data, self._inverse_map(), out_dtype, self._layout())
        _fastpath.remember_inverse(self, X)
        return backend.restore(result, self.input_dtype_) if restore_dtype else result

    def _inverse_map(self):
        """The inverse of the fitted map (pixels of the dtype seen in fit)."""
        self._check_learned_counts()
        dtype = np.dtype(self.input_dtype_)
        return self._coefficients(None, self.max_value_, dtype).inverse()


def _transform_chunk(estimator, block: np.ndarray) -> np.ndarray:
    """One chunk of whole images through the NumPy path (Dask, per-image scopes)."""
    return np.asanyarray(estimator.transform(block))  # keeps a chunk's mask


def _one_dtype(checked: list) -> np.dtype:
    """The dtype shared by the images of a ragged list (refuse a mix)."""
    dtypes = {np.dtype(dtype) for _, _, dtype in checked}
    if len(dtypes) > 1:
        raise ValueError(
            f"The images of X have different dtypes {sorted(d.name for d in dtypes)}: "
            "their units differ. Convert them to one dtype first."
        )
    return dtypes.pop()
