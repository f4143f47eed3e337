"""The base of the three pixel transformers: validation, layout, fit, transform.

Every transform in this library is a per-channel affine map ``x * scale +
offset``, optionally clipped, whose coefficients come from statistics: fitted
(``scope="dataset"``), fixed (a preset or an array), or computed on the batch
(``scope="batch"``) or on each image (``scope="image"``) being transformed.  The
base class owns everything but the map; each concrete class only says which
coefficients its statistics give (``_coefficients``).
"""

from __future__ import annotations

from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np

# scikit-learn's private fit preamble (parameter validation + nested-validation
# skipping); kept in this one place so that an upgrade breaks one line.
from sklearn.base import (
    BaseEstimator,
    OneToOneFeatureMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_array
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _array_api, _dask, _kernels
from ._export import _ExportMixin
from ._layout import image_view
from ._stats import PixelStats
from ._units import (
    output_float_dtype,
    resolve_max_value,
    warn_if_float_outside_unit_range,
    warn_if_scale_differs,
)
from .presets import get_preset

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
)


def _is_preset(value) -> bool:
    return isinstance(value, str)


class _Coefficients:
    """``y = clip(x * scale + offset)``: coefficients broadcastable to the view."""

    def __init__(self, scale, offset, clip=None):
        self.scale = np.asarray(scale, dtype=np.float64)
        self.offset = np.asarray(offset, dtype=np.float64)
        self.clip = clip

    def for_view(
        self, n_channels: int, per_image: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scale and offset shaped ``(C,)``, or ``(n, 1, 1, C)`` per image."""
        scale, offset = np.broadcast_arrays(self.scale, self.offset)
        if per_image:
            shape = (scale.shape[0], n_channels)
            return (
                np.broadcast_to(scale, shape).reshape(shape[0], 1, 1, n_channels),
                np.broadcast_to(offset, shape).reshape(shape[0], 1, 1, n_channels),
            )
        return (
            np.broadcast_to(scale.reshape(-1), (n_channels,)),
            np.broadcast_to(offset.reshape(-1), (n_channels,)),
        )

    def inverse(self) -> _Coefficients:
        """Coefficients of ``x = (y - offset) / scale`` (clipping is not undone)."""
        return _Coefficients(1.0 / self.scale, -self.offset / self.scale)


class _BasePixelTransformer(
    _ExportMixin, OneToOneFeatureMixin, TransformerMixin, BaseEstimator
):
    """Shared machinery; subclasses implement ``_coefficients``.

    Subclass hooks:

    - ``_STAT_PARAMS``: names of the parameters that fix a statistic (``mean``,
      ``std``); a statistic left as None is learned.
    - ``_coefficients(stats, max_value)``: the affine map from statistics.
    - ``_store_fitted()``: set the public fitted attributes from ``stats_`` (or
      from the fixed statistics).
    """

    _parameter_constraints: dict = {
        "scope": [StrOptions(set(_SCOPES))],
        "per_channel": ["boolean"],
        "max_value": [StrOptions({"auto"}), Real],
        "channel_axis": [Integral, None],
        "image_shape": [tuple, list, None],
        "dtype": [None, type, np.dtype, StrOptions({"float16", "float32", "float64"})],
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

    def _reset(self) -> None:
        for name in _FITTED:
            self.__dict__.pop(name, None)

    def _check_params(self) -> None:
        """Cross-parameter rules (sklearn's constraints check each one alone)."""
        if isinstance(self.max_value, Real) and not self.max_value > 0:
            raise ValueError(
                f"max_value must be 'auto' or a number > 0 (the domain maximum, e.g. "
                f"255). Got max_value={self.max_value!r}."
            )
        if self.dtype is not None and np.dtype(self.dtype).kind != "f":
            raise ValueError(
                f"dtype must be a float dtype (the output of a scaling is float). "
                f"Got dtype={self.dtype!r}."
            )
        fixed = [name for name in self._STAT_PARAMS if getattr(self, name) is not None]
        if fixed and self.scope != "dataset":
            raise ValueError(
                f"{fixed[0]}={getattr(self, fixed[0])!r} fixes the statistics, which "
                f"contradicts scope={self.scope!r} (statistics of each "
                f"{self.scope}). Use scope='dataset' with fixed statistics. Got "
                f"scope={self.scope!r}."
            )
        for name in fixed:
            value = getattr(self, name)
            if _is_preset(value):
                preset = get_preset(value)
                if not self.per_channel:
                    raise ValueError(
                        f"Preset {value!r} holds per-channel statistics, but "
                        "per_channel=False. Use per_channel=True with a preset. "
                        "Got per_channel=False."
                    )
                if name == "std":
                    preset.std_in(1.0)  # raises for presets without a std

    # -- input validation -----------------------------------------------------
    def _validate(
        self, X, *, reset: bool, fitting: bool, check_names: bool = True
    ) -> np.ndarray:
        """Check X (dtype, finiteness, layout) and return it as an ndarray.

        2-D input goes through sklearn's ``validate_data`` (feature names and
        counts) unless ``check_names=False`` (inverse_transform, whose input
        is transform's unnamed output, as in StandardScaler); image-shaped
        input may change size between batches, so only its channel count is
        checked.
        """
        params = dict(
            dtype="numeric",
            allow_nd=True,
            ensure_all_finite="allow-nan",
            ensure_min_features=1,
        )
        ndim = np.ndim(X) if hasattr(X, "shape") or isinstance(X, list) else None
        if (ndim == 2 or ndim is None) and check_names:
            X = validate_data(self, X, reset=reset, **params)
        else:
            X = check_array(X, input_name="X", **params)
            if reset:
                self.n_features_in_ = int(np.prod(X.shape[1:]))
            elif X.ndim == 2 and X.shape[1] != getattr(
                self, "n_features_in_", X.shape[1]
            ):
                raise ValueError(
                    f"X has {X.shape[1]} features, but {type(self).__name__} is "
                    f"expecting {self.n_features_in_} features as input."
                )
        if X.dtype.kind == "b":
            raise ValueError(
                "X has dtype bool, which holds no pixel intensities. Convert it "
                "first, e.g. X.astype(np.uint8) * 255 for a 0/255 image."
            )
        view = image_view(X, self.channel_axis, self.image_shape)
        if view.shape[1] * view.shape[2] == 0:
            raise ValueError(
                f"X holds images with no pixels (shape {X.shape}); each image needs "
                "at least one pixel."
            )
        if view.shape[-1] == 0:
            raise ValueError(
                f"X holds images with 0 channels (shape {X.shape}); each image needs "
                "at least one channel."
            )
        n_channels = view.shape[-1]
        if reset:
            self.n_channels_ = n_channels
        elif self.per_channel and hasattr(self, "n_channels_"):
            if n_channels != self.n_channels_:
                raise ValueError(
                    f"X has {n_channels} channels, but {type(self).__name__} is "
                    f"expecting {self.n_channels_} channels as input."
                )
        if not fitting or reset:
            self._check_fixed_lengths(n_channels)
        return X

    def _check_fixed_lengths(self, n_channels: int) -> None:
        for name in self._STAT_PARAMS:
            value = getattr(self, name)
            if value is None:
                continue
            values = get_preset(value).mean if _is_preset(value) else np.ravel(value)
            if len(values) not in (1, n_channels) or (
                _is_preset(value) and len(values) != n_channels
            ):
                source = f"preset {value!r}" if _is_preset(value) else f"{name}"
                raise ValueError(
                    f"{source} has {len(values)} channel values, but X has "
                    f"{n_channels} channels. Pass one value per channel (or a "
                    "single value)."
                )

    def _view(self, X: np.ndarray) -> np.ndarray:
        return image_view(X, self.channel_axis, self.image_shape)

    # -- fitting ----------------------------------------------------------------
    def fit(self, X, y=None):
        """Learn the statistics of X (or only check it, for stateless scopes).

        Parameters
        ----------
        X : array-like of shape (n, H, W, C), (n, C, H, W), (n, H, W) or (n, n_features)
            Training images.
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
        at once (to the bit for integer pixels of up to 16 bits).

        Parameters
        ----------
        X : array-like of shape (n, H, W, C), (n, C, H, W), (n, H, W) or (n, n_features)
            A batch of training images.
        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        if _dask.is_dask_array(X):
            return _dask.partial_fit(self, X)
        if _array_api.dispatches(X):
            return _array_api.partial_fit(self, X)
        self._check_params()
        first_call = not hasattr(self, "n_samples_seen_")
        X = self._validate(X, reset=first_call, fitting=True)
        stats, observed_max = None, None
        if self._learns():
            with np.errstate(over="ignore", invalid="ignore"):  # checked on record
                stats = PixelStats.from_view(self._view(X))
        elif X.dtype.kind == "f" and self._depends_on_unit_range():
            observed_max = _nanmax(X)
        self._record_batch(
            first_call=first_call,
            dtype=X.dtype,
            n_images=X.shape[0],
            stats=stats,
            observed_max=observed_max,
        )
        return self

    def _record_batch(
        self,
        *,
        first_call: bool,
        dtype: np.dtype,
        n_images: int,
        stats: PixelStats | None,
        observed_max: float | None = None,
    ) -> None:
        """Commit one validated batch to the fitted state.

        The one place where ``partial_fit`` changes the estimator, whether the
        batch's statistics were computed here, on a Dask cluster or on a
        device. ``stats`` is required when the estimator learns; for stateless
        scopes it (or ``observed_max``) only feeds the [0, 1] range check.
        Statistics that overflowed float64 are refused before anything changes.
        """
        merged = None
        if self._learns():
            with np.errstate(over="ignore", invalid="ignore"):
                merged = stats if first_call else self.stats_.merge(stats)
            try:
                self._check_finite_stats(merged)
            except ValueError:
                if first_call:
                    self._reset()  # validation already recorded the shapes
                raise
        if stats is not None:
            observed_max = _nanmax(stats.max)
        if first_call:
            self.n_samples_seen_ = 0
            self.input_dtype_ = np.dtype(dtype).name
            self.max_value_ = resolve_max_value(dtype, self.max_value)
        self.n_samples_seen_ += int(n_images)
        if observed_max is not None:
            self._warn_domain(dtype, observed_max, "fit")
        if merged is not None:
            self.stats_ = merged
            self._store_fitted()
        elif self.scope == "dataset":
            self._store_fitted()  # fixed statistics, in the units of X

    def _check_finite_stats(self, stats: PixelStats) -> None:
        """Refuse learned statistics that overflowed float64 (finite pixels of
        ~1e154 and beyond: their squares, or sums, exceed float64).

        Applying them would turn finite pixels into inf or NaN.  Exact
        (integer) statistics cannot overflow.
        """
        learned = [name for name in self._STAT_PARAMS if getattr(self, name) is None]
        if not learned or stats.exact:
            return
        with np.errstate(all="ignore"):
            values = {"mean": stats.mean, "std": stats.var}
        counted = stats.count > 0
        for name in learned:
            bad = counted & ~np.isfinite(values[name])
            if np.any(bad):
                largest = _nanmax(np.abs(np.concatenate([stats.min, stats.max])))
                raise ValueError(
                    f"The {'variance' if name == 'std' else 'mean'} of channel(s) "
                    f"{np.flatnonzero(bad).tolist()} overflowed float64: X holds "
                    f"values up to {largest:g}. Bring X to a smaller range (e.g. "
                    "divide by its maximum) first."
                )

    def fit_stats(self, stats: PixelStats, *, max_value=None):
        """Fit from precomputed :class:`PixelStats` (e.g. from ``dataset_stats``).

        Equivalent to :meth:`fit` on the pixels the statistics were computed on.

        Parameters
        ----------
        stats : PixelStats
            Statistics of the training pixels.
        max_value : float, default=None
            Domain maximum of the pixels; default resolves ``self.max_value``
            for ``stats.input_dtype``.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        if not isinstance(stats, PixelStats):
            raise TypeError(
                f"fit_stats expects a PixelStats, got {type(stats).__name__}. Compute "
                "one with PixelStats.from_array(X) or sk_pixels.io.dataset_stats()."
            )
        stats._require_data()
        if stats.n_channels == 0:
            raise ValueError(
                "These PixelStats hold 0 channels: they were computed on images "
                "with no channel. Each image needs at least one channel."
            )
        self._reset()
        self._validate_params()
        self._check_params()
        self._check_fixed_lengths(stats.n_channels)
        self.n_channels_ = stats.n_channels
        self.n_samples_seen_ = stats.n_images
        self.input_dtype_ = stats.input_dtype
        self.max_value_ = (
            float(max_value)
            if max_value is not None
            else resolve_max_value(np.dtype(stats.input_dtype), self.max_value)
        )
        self._check_finite_stats(stats)
        self.stats_ = stats.copy()
        self._store_fitted()
        return self

    def _store_fitted(self) -> None:
        """Set the class's public fitted attributes from ``stats_``."""

    def _pool(self, stats: PixelStats | None) -> PixelStats | None:
        if stats is None or self.per_channel:
            return stats
        return stats.pooled()

    def _fitted_stat(self, values: np.ndarray) -> np.ndarray:
        """Per-channel array of shape (C,), or a 0-d array when global."""
        return values if self.per_channel else values.reshape(())

    def _fixed(self, name: str, max_value: float) -> np.ndarray | None:
        """The statistic fixed by parameter ``name``, in units of ``max_value``."""
        value = getattr(self, name)
        if value is None:
            return None
        if _is_preset(value):
            preset = get_preset(value)
            return (
                preset.mean_in(max_value)
                if name == "mean"
                else preset.std_in(max_value)
            )
        return np.asarray(value, dtype=np.float64).ravel()

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
        out : ndarray of X's shape and a float dtype, default=None
            Write the result into this preallocated array (computed in its
            dtype) and return it, so that no output is allocated; ``out=X``
            transforms float input in place.  It must not otherwise overlap X.

        Returns
        -------
        X_out : ndarray of the same shape as X
            Scaled images, float32 for integer input, else X's float dtype
            (or ``dtype`` when set).
        """
        if _dask.is_dask_array(X):
            return _dask.transform(self, X)
        if _array_api.dispatches(X):
            return _array_api.transform(self, X)
        X = self._prepare_transform(X)
        if out is None:
            out = np.empty(X.shape, dtype=output_float_dtype(X.dtype, self.dtype))
        else:
            out = _kernels.check_out(out, X.shape, X)
        with _raise_on_overflow(out.dtype):
            self._transform_into(X, out)
        return out

    def _transform_into(self, X: np.ndarray, out: np.ndarray) -> None:
        src, dst = self._view(X), self._view(out)
        max_value = resolve_max_value(X.dtype, self.max_value)
        if self.scope in ("domain", "dataset"):
            self._check_learned_counts()
            coef = self._coefficients(None, max_value)
            track = self._should_track_max(X.dtype)
            observed = _kernels.affine(
                src, dst, *coef.for_view(src.shape[-1], False), coef.clip, track
            )
            if track:
                self._check_batch_scale(X.dtype, observed)
            return
        per_image = self.scope == "image"
        stats = self._pool(PixelStats.from_view(src, per_image=per_image))
        self._warn_domain(X.dtype, _nanmax(stats.max), "transform")
        coef = self._coefficients(stats, max_value)
        _kernels.affine(src, dst, *coef.for_view(src.shape[-1], per_image), coef.clip)

    def _check_learned_counts(self) -> None:
        """Refuse to apply statistics learned from no pixel (all NaN in fit).

        Their mean is NaN, which would turn finite pixels into NaN.
        """
        if not (hasattr(self, "stats_") and self._learns()):
            return
        empty = np.flatnonzero(self._pool(self.stats_).count.reshape(-1) == 0)
        if empty.size:
            raise ValueError(
                f"{type(self).__name__} learned no statistics for channel(s) "
                f"{empty.tolist()}: every pixel of those channels seen in fit was "
                "NaN, so the transform would turn finite pixels into NaN. Fit on "
                "data with at least one non-NaN pixel per channel."
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

    def _check_batch_scale(self, dtype: np.dtype, observed_max: float) -> None:
        self._warn_domain(dtype, observed_max, "transform")
        if hasattr(self, "stats_") and self._learns():
            warn_if_scale_differs(
                _nanmax(self.stats_.max),
                self.input_dtype_,
                observed_max,
                dtype,
                type(self).__name__,
            )

    def _depends_on_unit_range(self) -> bool:
        """Whether float input must lie in [0, 1] for the result to be right."""
        uses_preset = any(_is_preset(getattr(self, name)) for name in self._STAT_PARAMS)
        return uses_preset or self._uses_domain

    def _warn_domain(self, dtype, observed_max: float, what: str) -> None:
        if self._depends_on_unit_range():
            warn_if_float_outside_unit_range(dtype, self.max_value, observed_max, what)

    def inverse_transform(self, X, *, restore_dtype: bool = False):
        """Map scaled data back to the original pixel units.

        Exact up to float rounding, except where ``clip`` cut values (those
        stay at the clipping bound).  Only scopes whose statistics are kept
        (``"dataset"``, ``"domain"``) can be inverted.

        Parameters
        ----------
        X : array-like of the shape returned by :meth:`transform`
            Scaled images.
        restore_dtype : bool, default=False
            Round and clip to the range of the dtype seen in :meth:`fit` and
            return that dtype (e.g. ``uint8``), to look at an image again.

        Returns
        -------
        X_original : ndarray of the same shape as X
            Images in pixel units (float, or the fitted dtype).
        """
        if _dask.is_dask_array(X):
            return _dask.inverse_transform(self, X, restore_dtype=restore_dtype)
        if _array_api.dispatches(X):
            return _array_api.inverse_transform(self, X, restore_dtype=restore_dtype)
        if self.scope in ("batch", "image"):
            raise ValueError(
                f"scope={self.scope!r} computes statistics from each {self.scope} "
                "and keeps none, so the transform cannot be inverted. Use "
                "scope='dataset' to invert."
            )
        if not hasattr(self, "n_samples_seen_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet: "
                "inverse_transform needs the pixel units seen in fit. Call 'fit' "
                "with appropriate arguments before using this estimator."
            )
        # The same checks as transform (dtype, layout, channels, feature names),
        # then float: rejects bool/string input instead of parsing it.
        X = self._validate(X, reset=False, fitting=False, check_names=False)
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        self._check_learned_counts()
        coef = self._coefficients(None, self.max_value_).inverse()
        src = self._view(X)
        out = np.empty(X.shape, dtype=output_float_dtype(X.dtype, self.dtype))
        with _raise_on_overflow(out.dtype):
            _kernels.affine(src, self._view(out), *coef.for_view(src.shape[-1], False))
        if not restore_dtype:
            return out
        target = np.dtype(self.input_dtype_)
        if target.kind in "ui":
            info = np.iinfo(target)
            np.rint(out, out=out)
            np.clip(out, info.min, info.max, out=out)
        return out.astype(target)

    # -- reporting ----------------------------------------------------------------
    def summary(self) -> str:
        """Describe what the statistics were computed on, in a few lines.

        Returns
        -------
        text : str
            Images and pixels seen, input dtype and units, and per-channel
            mean, std, min and max.
        """
        name = type(self).__name__
        if not self._learns():
            return f"{name}(scope={self.scope!r}): stateless; nothing was learned."
        check_is_fitted(self)
        stats = self.stats_
        lines = [
            f"{name}(scope={self.scope!r}, per_channel={self.per_channel})",
            f"  fitted on {stats.n_images} images, {stats.n_pixels} pixels per "
            f"channel, dtype {stats.input_dtype}, max_value {self.max_value_:g}",
            f"  observed range [{_nanmin(stats.min):g}, {_nanmax(stats.max):g}]",
        ]
        with np.printoptions(precision=4, suppress=True):
            for label, values in (
                ("mean", stats.mean),
                ("std", stats.std),
                ("min", stats.min),
                ("max", stats.max),
            ):
                lines.append(f"  {label:<4} per channel: {values}")
            if not self.per_channel:
                pooled = stats.pooled()
                lines.append(
                    f"  pooled over channels: mean {pooled.mean[0]:.4f}, "
                    f"std {pooled.std[0]:.4f}"
                )
        return "\n".join(lines)


@contextmanager
def _raise_on_overflow(dtype: np.dtype):
    """Turn a float overflow (finite pixels -> inf) into a ValueError that says why."""
    try:
        with np.errstate(over="raise"):
            yield
    except FloatingPointError as exc:
        remedy = (
            "Bring X to a smaller range first"
            if np.dtype(dtype) == np.float64
            else "Pass dtype='float64', or bring X to a smaller range first"
        )
        raise ValueError(
            f"Scaling X overflowed: the result does not fit in {np.dtype(dtype)} "
            f"(finite pixels would become inf). {remedy} ({exc})."
        ) from None


def _nanmax(values) -> float:
    """``nanmax`` as a float, NaN (without a RuntimeWarning) when all are NaN."""
    values = np.asarray(values)
    return float(np.fmax.reduce(values, axis=None)) if values.size else np.nan


def _nanmin(values) -> float:
    """``nanmin`` as a float, NaN (without a RuntimeWarning) when all are NaN."""
    values = np.asarray(values)
    return float(np.fmin.reduce(values, axis=None)) if values.size else np.nan


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
        constant |= var <= bound
    return np.where(constant, 1.0, std)
