"""Input validation shared by the estimators: one place for what X may be.

The checks run on a NumPy array: the input itself, or the stand-in of a device
or Dask array (see :mod:`sk_pixels._backends`), so that every backend raises
the same errors and records the same shapes (``n_features_in_``,
``n_channels_``).
"""

from __future__ import annotations

import warnings
from numbers import Real

import numpy as np
from sklearn.utils import check_array
from sklearn.utils.validation import validate_data

from ._backends import backend_for
from ._backends._common import nanmax as _nanmax
from ._layout import LayoutWarning, image_view
from ._nodata import check_nodata, per_channel, refuse_foreign_mask, split_masked
from ._units import resolve_max_value, usable_max_value, warn_if_scale_differs
from .presets import get_preset


def _is_preset(value) -> bool:
    return isinstance(value, str)


class _InputMixin:
    """Parameter, input and statistics checks of the pixel transformers
    (``_base``): everything that is refused before fitted state changes."""

    def _check_params(self) -> None:
        """Cross-parameter rules (sklearn's constraints check each one alone)."""
        if isinstance(self.max_value, Real) and not usable_max_value(self.max_value):
            raise ValueError(
                f"max_value must be 'auto' or a finite number > 0 whose inverse is "
                f"finite (the domain maximum, e.g. 255). Got "
                f"max_value={self.max_value!r}."
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
            if not _is_preset(value) and not np.all(
                np.isfinite(np.asarray(value, dtype=np.float64))
            ):
                raise ValueError(
                    f"{name} must hold finite numbers (NaN or inf would turn every "
                    f"pixel into NaN or inf). Got {name}={value!r}."
                )
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
        self._nodata()  # raises for a malformed nodata
        fill = getattr(self, "nodata_fill", 0.0)
        if isinstance(fill, bool) or not (isinstance(fill, Real) and np.isfinite(fill)):
            raise ValueError(
                "nodata_fill must be a finite number: the value, in output units, "
                "that transform writes where a pixel is nodata or masked (e.g. 0.0). "
                f"Got nodata_fill={fill!r}."
            )

    def _nodata(self) -> tuple | None:
        """The ``nodata`` parameter as a tuple (one value or one per channel)."""
        return check_nodata(
            getattr(self, "nodata", None),
            None,
            "in input pixel units, e.g. nodata=0 or nodata=(0, 0, 65535); "
            "float('nan') for NaN",
        )

    def _fill(self) -> dict:
        """Keyword arguments of ``backend.apply``: which values are nodata, and
        the value transform writes there (and at masked positions)."""
        return {
            "nodata": self._nodata(),
            "fill": float(getattr(self, "nodata_fill", 0.0)),
        }

    def _validate(self, X, *, reset: bool, fitting: bool, check_names: bool = True):
        """Check X on its backend; return ``(backend, X, numpy dtype)``.

        The checks run on the backend's stand-in (X itself for NumPy, one zero
        image of X's shape and dtype for a device or Dask array), so every
        backend raises the same errors and records the same shapes; what
        depends on the values (``inf``) is then checked where the data lives.
        """
        refuse_foreign_mask(X)
        backend = backend_for(X)
        # A masked array: its data (0 under the mask, whatever was hidden
        # there) is checked, then masked again for the statistics and the map.
        X, mask = split_masked(X)
        if mask is not None and not hasattr(self, "nodata"):
            raise TypeError(
                f"{type(self).__name__} cannot leave masked pixels out (it needs "
                "every pixel of an image or patch), and X is a masked array. Fill "
                "it first, e.g. X.filled(0), or pass plain data."
            )
        checked = self._check_input(
            backend.stand_in(X), reset=reset, fitting=fitting, check_names=check_names
        )
        data = checked if backend.name == "numpy" else X
        backend.check_values(data, checked.dtype)
        if mask is not None:
            data = np.ma.MaskedArray(data, mask=mask.reshape(data.shape))
        return backend, data, checked.dtype

    def _check_input(
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
        _warn_if_layout_is_ambiguous(X.shape, self.channel_axis, self.image_shape)
        view = image_view(X, *self._layout())
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
                hint = ""
                if X.ndim == 3 and X.shape[-1] == self.n_channels_:
                    hint = (
                        f" X of shape {X.shape} looks like a single (H, W, C) image "
                        "read as a batch of grayscale images: pass X[None]."
                    )
                raise ValueError(
                    f"X has {n_channels} channels, but {type(self).__name__} is "
                    f"expecting {self.n_channels_} channels as input.{hint}"
                )
        if not fitting or reset:
            self._check_fixed_lengths(n_channels)
        return X

    def _check_same_units(self, dtype: np.dtype, stats) -> None:
        """A batch merged into fitted statistics must be in the same units.

        Other units (a different domain maximum for its dtype) are refused; the
        same units on another scale (maxima >= 50x apart, e.g. 0-1 floats after
        0-255 floats) warn, as transform's scale check does.
        """
        name = type(self).__name__
        batch_max = resolve_max_value(dtype, self.max_value)
        if batch_max != self.max_value_:
            raise ValueError(
                f"This batch holds {dtype} pixels in 0-{batch_max:g} units, but "
                f"{name} was fitted on {self.input_dtype_} pixels in "
                f"0-{self.max_value_:g} units: merging them would mix two scales. "
                f"Convert the batch to {self.input_dtype_} (or pass max_value= so "
                "that both dtypes share one domain)."
            )
        batch_largest = self._observed_max(stats)
        if dtype.kind == "f" and batch_largest is not None:  # (integers: fixed)
            warn_if_scale_differs(
                self._observed_max(self.stats_),
                self.input_dtype_,
                batch_largest,
                dtype,
                name,
            )

    def _check_learned_stats(self, stats) -> None:
        """Refuse statistics that cannot be applied (subclasses add their rules)."""
        self._check_finite_stats(stats)

    def _check_finite_stats(self, stats) -> None:
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

    def _check_fixed_lengths(self, n_channels: int) -> None:
        nodata = self._nodata()
        if nodata is not None:
            per_channel(nodata, n_channels)  # one value, or one per channel
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

    def _layout(self) -> tuple:
        """``(channel_axis, image_shape)``: how to read an image batch."""
        shape = self.image_shape
        return self.channel_axis, None if shape is None else tuple(shape)


def _warn_if_layout_is_ambiguous(shape: tuple, channel_axis, image_shape) -> None:
    """Warn when the default layout probably misreads X (once per call).

    ``channel_axis=-1`` (the default) reads 3-D input as grayscale images; a
    last axis of 3 or 4 under a longer one is far more often one colour image
    that lost its batch axis. 4-D input whose last axis is long while axis 1
    holds 1, 3 or 4 values is probably channels-first. An explicit layout
    (``channel_axis=None``, ``1``, or any value other than -1) never warns.
    """
    message = _ambiguous_layout(shape, channel_axis, image_shape)
    if message is not None:
        warnings.warn(message, LayoutWarning, stacklevel=4)


def _ambiguous_layout(shape: tuple, channel_axis, image_shape) -> str | None:
    """The warning of :func:`_warn_if_layout_is_ambiguous` for ``shape``, or None."""
    if channel_axis != -1 or image_shape is not None:
        return None
    if len(shape) == 3 and shape[-1] in (3, 4) and shape[1] > shape[-1]:
        return (
            f"X of shape {shape} is read as {shape[0]} grayscale images of "
            f"{shape[1]}x{shape[2]} pixels. If it is one colour image, pass X[None] "
            "(a batch of one); if it is grayscale, pass channel_axis=None to say "
            "so."
        )
    if len(shape) == 4 and shape[-1] > 4 and shape[1] in (1, 3, 4):
        return (
            f"X of shape {shape} is read as channels-last, with {shape[-1]} "
            f"channels. If it is channels-first (n, C, H, W), pass channel_axis=1."
        )
    return None
