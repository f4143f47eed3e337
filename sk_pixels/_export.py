"""Export fitted statistics to the frameworks where they are used.

Every transform of this library is a per-channel affine map ``y = x * a + b``
(``x`` in input pixel units).  The frameworks' recipes are affine maps too:

- torchvision: ``ToDtype(torch.float32, scale=True)`` then
  ``Normalize(mean, std)``: ``y = (x / D - mean) / std`` with ``D`` the dtype's
  maximum (255 for uint8, 65535 for uint16, 1 for float tensors, which
  ``ToDtype`` leaves unscaled).
- Hugging Face image processors: ``rescale`` then ``normalize``:
  ``y = (x * rescale_factor - image_mean) / image_std``.

Matching the two maps channel by channel gives ``std = 1 / (a * D)`` and
``mean = -b * std``: the exported numbers reproduce our transform exactly (up
to float rounding).  They are the numbers the transform applies, not the raw
statistics: a constant channel (std or range 0, which the transform treats as
1, as scikit-learn's scalers do) exports the 1 it is divided by, with a
warning, never a 0 that would divide by zero in the framework.  A transform
that is not one fixed affine map per channel (statistics computed per batch or
per image, or clipping), or not one per channel (a mean image), or that writes
``nodata_fill`` at nodata pixels has no such numbers, and exporting it raises a
``ValueError`` that says why and which export can (``to_onnx``/``to_torch``).
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from ._affine import Affine
from ._backends._common import nanmax as _nanmax
from ._deploy import _DeployMixin
from ._per_pixel import flat_affine, flat_values
from ._provenance import _ProvenanceMixin, describe
from ._units import dtype_max
from .presets import get_preset


class _ExportMixin(_DeployMixin, _ProvenanceMixin):
    """``to_torchvision()``, ``to_hf_config()`` and ``summary()``: what a fitted
    transformer tells the outside world (``to_keras()``, ``to_onnx()``,
    ``to_torch()`` and ``set_provenance()`` come from the two bases)."""

    def _export_affine(self, target: str) -> tuple[np.ndarray, np.ndarray, str, float]:
        """Per-channel ``(a, b)``, the input dtype, and ``max_value`` resolved."""
        affine, dtype, max_value = self._export_map(target, clip_ok=False)
        return affine.scale, affine.offset, dtype, max_value

    def _export_map(
        self,
        target: str,
        *,
        clip_ok: bool,
        per_pixel_ok: bool = False,
        nodata_ok: bool = False,
    ) -> tuple[Affine, str, float]:
        """The map :meth:`transform` applies, for the exports: the one source.

        Returns the :class:`~sk_pixels._affine.Affine` with per-channel
        ``scale`` and ``offset`` of shape ``(n_channels,)`` (float64), its
        centred form (``center``, ``base``: what ONNX and PyTorch evaluate), its
        ``clip`` (None, or the bounds in output units, ``rescale`` folded in),
        the input dtype its coefficients are for, and ``max_value`` resolved.
        A mean image (``per_pixel=True``) gives one coefficient per value of an
        image instead, ``pixel_shape_`` flattened in C order, as the transform
        applies them.  ``clip_ok=False`` refuses an estimator that clips (the
        target has no clipping); ``per_pixel_ok=False`` one with a mean image
        (the target takes per-channel numbers); ``nodata_ok=False`` one with
        ``nodata`` (the target scales every pixel).
        """
        name = type(self).__name__
        if self.scope in ("batch", "image"):
            raise ValueError(
                f"{name}(scope={self.scope!r}) computes its statistics from each "
                f"{self.scope} at transform time, so no fixed mean/std describe it for "
                f"{target}. Use scope='dataset' (fitted statistics) to export."
            )
        per_pixel = bool(getattr(self, "per_pixel", False))
        if per_pixel and not per_pixel_ok:
            shape = getattr(self, "pixel_shape_", None)
            raise ValueError(
                f"{name}(per_pixel=True) subtracts a mean image (one value per pixel "
                f"position{f', shape {shape}' if shape else ''}), but {target} "
                "takes one mean and std per channel. Use to_torch(), to_onnx() or "
                "to_keras(), which take a mean image, or fit per_pixel=False for "
                "per-channel numbers."
            )
        if not nodata_ok and getattr(self, "nodata", None) is not None:
            raise ValueError(
                f"{name}(nodata={self.nodata!r}) writes nodata_fill="
                f"{float(getattr(self, 'nodata_fill', 0.0))!r} where a pixel equals "
                f"nodata, which {target} cannot express: it would scale nodata "
                "pixels like any other. Use to_onnx() or to_torch(), which apply the "
                "nodata rule, or call set_params(nodata=None) first to export the map "
                "without it (the fitted statistics stay those of the valid pixels)."
            )
        # None (standardizer) or False (normalizer): no clip.
        if not clip_ok and getattr(self, "clip", None) not in (None, False):
            raise ValueError(
                f"{name}(clip={self.clip!r}) clips the "
                f"{'scaled' if isinstance(self.clip, bool) else 'standardized'} values"
                f"{' and rescales them' if getattr(self, 'rescale', False) else ''}, "
                f"which {target}'s normalization (an affine map) cannot express. "
                "Export an estimator without clip, and clip after normalizing."
            )
        if hasattr(self, "n_samples_seen_"):
            n_channels, dtype, max_value = (
                self.n_channels_,
                self.input_dtype_,
                self.max_value_,
            )
        else:
            presets = [
                get_preset(getattr(self, p))
                for p in self._STAT_PARAMS
                if isinstance(getattr(self, p), str)
            ]
            if self._learns() or len(presets) != len(self._STAT_PARAMS) or not presets:
                raise NotFittedError(
                    f"This {name} instance is not fitted yet: call fit (or fit_stats) "
                    "first, so that its statistics, channel count and pixel units are "
                    f"known before exporting them to {target}."
                )
            self._validate_params()
            self._check_params()
            # A preset with max_value="auto" gives the same 0-1 numbers for every
            # dtype; float32 in [0, 1] is torchvision's own convention.
            n_channels, dtype = len(presets[0].mean), "float32"
            max_value = (
                1.0 if isinstance(self.max_value, str) else float(self.max_value)
            )
        coef = self._coefficients(None, max_value, np.dtype(dtype))
        if per_pixel:  # one coefficient per value of an image, as transform has
            shape = tuple(self.pixel_shape_)
            coef = flat_affine(coef, shape, self._channel_axis_of(shape))
            n_channels = int(np.prod(shape))
        a, c, base = (
            np.array(v, dtype=np.float64)
            for v in coef.centered_for_view(n_channels, False)
        )
        _warn_constant_channels(self, a, n_channels, target)
        _warn_float_units(self, target)
        return Affine.centered(a, c, base, coef.clip), dtype, max_value

    def to_torchvision(self) -> dict[str, list[float]]:
        """Return ``mean`` and ``std`` for ``torchvision.transforms.Normalize``.

        The numbers are for the tensor that ``ToDtype(torch.float32,
        scale=True)`` makes from images of the dtype seen in ``fit``: 0-1 units
        for ``uint8`` / ``uint16`` images (divided by 255 / 65535) and for float
        images in [0, 1]. ``Normalize(**estimator.to_torchvision())`` after that
        ``ToDtype`` gives the same values as :meth:`transform`, channel for
        channel, in the estimator's channel order.

        Returns
        -------
        normalize_kwargs : dict
            ``{"mean": [...], "std": [...]}``, one float per channel.

        Raises
        ------
        ValueError
            ``scope="batch"`` / ``"image"`` or ``clip``: not one fixed
            affine map per channel.

        Warns
        -----
        UserWarning
            A fitted channel is constant (std or range 0): its exported std is
            the 1 the transform divides by (in pixel units), not 0.
        sklearn.exceptions.NotFittedError
            Statistics still to be learned.

        Examples
        --------
        >>> import numpy as np
        >>> from sk_pixels import PixelStandardizer, PixelNormalizer
        >>> X = np.array([[[[0, 102, 255]], [[51, 153, 204]]]], dtype=np.uint8)
        >>> PixelStandardizer().fit(X).to_torchvision()
        {'mean': [0.1, 0.5, 0.9], 'std': [0.1, 0.1, 0.1]}
        >>> PixelStandardizer(mean="imagenet", std="imagenet").to_torchvision()
        {'mean': [0.485, 0.456, 0.406], 'std': [0.229, 0.224, 0.225]}
        >>> PixelNormalizer(feature_range=(-1, 1)).fit(X).to_torchvision()
        {'mean': [0.5, 0.5, 0.5], 'std': [0.5, 0.5, 0.5]}
        """
        a, b, dtype, _ = self._export_affine("torchvision's Normalize")
        units = dtype_max(np.dtype(dtype))  # what ToDtype(scale=True) divides by
        std = 1.0 / (a * units)
        mean = -b * std
        return {"mean": _rounded(mean), "std": _rounded(std)}

    def to_hf_config(self) -> dict[str, Any]:
        """Return the normalization keys of a Hugging Face ``preprocessor_config.json``.

        An image processor rescales (``x * rescale_factor``) and then
        normalizes (``(x - image_mean) / image_std``); with these keys it gives
        the same values as :meth:`transform`. ``rescale_factor`` is
        ``1 / max_value_`` (1/255 for ``uint8`` images); float images in [0, 1]
        get ``do_rescale=False``.

        Returns
        -------
        config : dict
            ``do_rescale``, ``rescale_factor``, ``do_normalize``,
            ``image_mean`` and ``image_std`` (one float per channel).

        Raises
        ------
        ValueError
            ``scope="batch"`` / ``"image"`` or ``clip``.

        Warns
        -----
        UserWarning
            A fitted channel is constant: see :meth:`to_torchvision`.
        sklearn.exceptions.NotFittedError
            Statistics still to be learned.

        Examples
        --------
        >>> import numpy as np
        >>> from sk_pixels import PixelStandardizer
        >>> X = np.array([[[[0, 102, 255]], [[51, 153, 204]]]], dtype=np.uint8)
        >>> config = PixelStandardizer().fit(X).to_hf_config()
        >>> config["do_rescale"], round(config["rescale_factor"] * 255, 12)
        (True, 1.0)
        >>> config["image_mean"], config["image_std"]
        ([0.1, 0.5, 0.9], [0.1, 0.1, 0.1])
        """
        a, b, _, max_value = self._export_affine("a Hugging Face image processor")
        std = 1.0 / (a * max_value)
        mean = -b * std
        return {
            "do_rescale": bool(max_value != 1.0),
            "rescale_factor": 1.0 / max_value,
            "do_normalize": True,
            "image_mean": _rounded(mean),
            "image_std": _rounded(std),
        }

    def summary(self) -> str:
        """Describe what the statistics were computed on, in a few lines.

        Returns
        -------
        text : str
            Images and pixels seen, input dtype and units, per-channel
            mean, std, min and max, and the provenance (see
            :meth:`set_provenance`), if any.

        Examples
        --------
        >>> import numpy as np
        >>> from sk_pixels import PixelStandardizer
        >>> X = np.array([[[[0, 102, 255]], [[51, 153, 204]]]], dtype=np.uint8)
        >>> scaler = PixelStandardizer().fit(X).set_provenance(
        ...     "resize 256, center-crop 224", source="photos/", n_skipped=0)
        >>> print(scaler.summary())  # doctest: +ELLIPSIS
        PixelStandardizer(scope='dataset', per_channel=True)
          fitted on 1 images, 2 pixels per channel, dtype uint8, units 0-255
          observed range [0, 255]
          mean per channel: [ 25.5 127.5 229.5]
          std  per channel: [25.5 25.5 25.5]
          min  per channel: [  0. 102. 204.]
          max  per channel: [ 51. 153. 255.]
          preprocessing: resize 256, center-crop 224
          computed on: source photos/, skipped files 0
          recorded by sk_pixels ... at ...Z
        """
        name = type(self).__name__
        provenance = describe(getattr(self, "provenance_", None))
        if not self._learns():
            return "\n".join(
                [f"{name}(scope={self.scope!r}): stateless; nothing was learned."]
                + provenance
            )
        check_is_fitted(self)
        stats = self.stats_
        units = f"units 0-{self.max_value_:g}"  # max_value, resolved
        largest = _nanmax(stats.max)
        if np.dtype(stats.input_dtype).kind == "f" and largest > 1.5 * self.max_value_:
            units = (
                f"units: the data's own (up to {largest:g}; max_value "
                f"{self.max_value_:g} assumed 0-{self.max_value_:g})"
            )
        lines = [
            f"{name}(scope={self.scope!r}, per_channel={self.per_channel})",
            f"  fitted on {stats.n_images} images, {stats.n_pixels} pixels per "
            f"channel, dtype {stats.input_dtype}, {units}",
            f"  observed range [{_nanmin(stats.min):g}, {_nanmax(stats.max):g}]",
        ]
        if getattr(self, "per_pixel", False):  # a mean image: its shape and range
            for label, values in (("mean", stats.mean), ("std", stats.std)):
                lines.append(
                    f"  {label} image of shape {values.shape}: values in "
                    f"[{_nanmin(values):.4g}, {_nanmax(values):.4g}]"
                )
            return "\n".join(lines + provenance)
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
            if hasattr(self, "quantiles_"):  # the percentiles the map applies
                where = "per channel" if self.per_channel else "pooled"
                for percent, values in zip(self._percents(), self.quantiles_):
                    lines.append(f"  p{percent:g} {where}: {values}")
        return "\n".join(lines + provenance)


def _rounded(values: np.ndarray) -> list[float]:
    """Plain floats, with float64 noise below 1e-12 (relative) rounded away.

    ``1 / (1/std * 255)`` may come back as ``0.22900000000000004``; 15
    significant digits keep every number exact to far below float32 resolution
    while printing ``0.229``; ``+ 0.0`` turns ``-0.0`` into ``0.0``.
    """
    return [float(f"{v:.15g}") + 0.0 for v in np.asarray(values, dtype=np.float64)]


def _warn_constant_channels(
    estimator: Any, scale: np.ndarray, n_channels: int, target: str
) -> None:
    """Warn when the exported scale of a channel is not its fitted statistic's.

    A learned std (PixelStandardizer) or range (PixelNormalizer,
    ``scope="dataset"``) of 0, NaN or rounding noise is applied as 1 by the
    transform, so ``scale`` (1 / std applied) disagrees with the statistic.
    """
    if getattr(estimator, "scope", None) != "dataset":
        return
    if hasattr(estimator, "scale_"):  # robust: median and percentile spread
        name, spread = "scale_", np.asarray(estimator.scale_, dtype=np.float64)
    elif getattr(estimator, "std", "fixed") is None and hasattr(estimator, "std_"):
        name, spread = "std_", np.asarray(estimator.std_, dtype=np.float64)
    elif hasattr(estimator, "data_min_"):
        lo, hi = (float(v) for v in estimator.feature_range)
        # The map's range: the fitted percentiles (quantile_range), or min-max.
        low, high = getattr(
            estimator, "quantiles_", (estimator.data_min_, estimator.data_max_)
        )
        half = (
            np.asarray(high, dtype=np.float64) / 2
            - np.asarray(low, dtype=np.float64) / 2
        )
        name = (
            "percentile range"
            if hasattr(estimator, "quantiles_")
            else ("data_max_ - data_min_")
        )
        spread = half * (2 / (hi - lo))
    else:
        return
    per_pixel = bool(getattr(estimator, "per_pixel", False))
    if per_pixel:  # a std image: one value per position, as the coefficients
        shape = tuple(estimator.pixel_shape_)
        spread = flat_values(spread, shape, estimator._channel_axis_of(shape))
    spread = np.broadcast_to(spread, (n_channels,))
    with np.errstate(all="ignore"):
        constant = ~np.isfinite(spread) | ~np.isclose(spread * scale, 1.0, rtol=1e-9)
    if not np.any(constant):
        return
    channels = np.flatnonzero(constant).tolist()
    where = f"channel(s) {channels} ({name} = {spread[constant].tolist()})"
    if per_pixel:
        where = (
            f"{len(channels)} of the {n_channels} values of its {name[:-1]} image "
            f"(pixel_shape_ {tuple(estimator.pixel_shape_)}, flat indices "
            f"{channels[:5]}{'...' if len(channels) > 5 else ''})"
        )
    warnings.warn(
        f"{type(estimator).__name__} was fitted on data that is constant in "
        f"{where}: the transform "
        "divides those values by 1 instead (as scikit-learn's scalers do), and the "
        f"numbers exported for {target} are those it applies, so that they never "
        "divide by zero. Fit on images that vary if "
        f"{'those values' if per_pixel else 'the channels'} should not be constant.",
        UserWarning,
        stacklevel=_outside_stacklevel(),
    )


def _outside_stacklevel() -> int:
    """``stacklevel`` of the first caller outside sk_pixels (for a warning).

    The exports reach the warning through helpers of different depths; the
    warning names the user's line whichever export they called.
    """
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith(
        "sk_pixels."
    ):
        frame, level = frame.f_back, level + 1
    return level


def _nanmin(values) -> float:
    """``nanmin`` as a float, NaN (without a RuntimeWarning) when all are NaN."""
    values = np.asarray(values)
    return float(np.fmin.reduce(values, axis=None)) if values.size else np.nan


def _warn_float_units(estimator: Any, target: str) -> None:
    """Warn when learned statistics are in the data's units, not the target's.

    Statistics learned on float pixels beyond [0, 1] with ``max_value="auto"``
    are in the data's units (e.g. 0-255): transform is right in those units,
    but an export says "these are 0-1 numbers", which they are not.
    """
    stats = getattr(estimator, "stats_", None)
    if (
        stats is None
        or not estimator._learns()
        or not isinstance(estimator.max_value, str)
        or np.dtype(estimator.input_dtype_).kind != "f"
    ):
        return
    largest = _nanmax(stats.max)
    if np.isfinite(largest) and largest > 1.5:
        warnings.warn(
            f"{type(estimator).__name__} learned its statistics on float pixels "
            f"up to {largest:g} with max_value='auto', so they are in the data's "
            f"units (e.g. 0-255), while {target} expects pixels in [0, 1]. Refit "
            f"with max_value=255 (the data's maximum) to export them.",
            UserWarning,
            stacklevel=4,
        )
