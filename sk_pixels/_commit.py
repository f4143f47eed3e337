"""The one writer of fitted state, and what the estimators learn.

:meth:`_CommitMixin._commit` is the only method that writes fitted attributes:
``partial_fit`` (every backend), :meth:`~_CommitMixin.fit_stats` and
``load_json`` all come here, under one lock, so every rule (units, channels,
finiteness of the learned statistics) is checked once. The statistics are a
:class:`~sk_pixels.PixelStats` for the three scalers; ``PixelWhitener``
overrides the three small hooks (``_batch_stats``, ``_merged_stats``,
``_observed_max``) to learn a covariance through the same commit.
"""

from __future__ import annotations

import threading

import numpy as np

from ._backends._common import nanmax as _nanmax
from ._histogram import PixelHistogram
from ._input import _is_preset
from ._percentiles import histogram_to_learn, merged_histogram
from ._stats import PixelStats
from ._units import check_max_value, resolve_max_value
from .presets import get_preset

#: Serialises commits of fitted state (partial_fit from several threads).
_COMMIT_LOCK = threading.RLock()


class _CommitMixin:
    """Commits fitted state; a base of ``_BasePixelTransformer``."""

    def _commit(
        self,
        *,
        input_dtype: np.dtype,
        n_images: int,
        stats: PixelStats | None = None,
        observed_max: float | None = None,
        max_value: float | None = None,
        n_channels: int | None = None,
        histogram: PixelHistogram | None = None,
    ) -> None:
        """Commit one validated batch, or precomputed statistics, to the fitted state.

        The one writer of fitted state: ``partial_fit`` (NumPy, Dask and device
        batches alike), :meth:`fit_stats` and ``load_json`` all come here, so
        every rule (units, finiteness, channel count) is checked once.

        Parameters
        ----------
        input_dtype : numpy dtype
            Dtype of the pixels.
        n_images : int
            Images in the batch.
        stats : PixelStats or None
            Their statistics; required when the estimator learns. For stateless
            scopes they (or ``observed_max``) only feed the [0, 1] range check.
        observed_max : float or None
            Largest pixel, when no statistics were computed.
        max_value : float or None
            Domain maximum (``fit_stats``, files); default resolves the
            ``max_value`` parameter for ``input_dtype``. Must be finite and > 0.
        n_channels : int or None
            Channels, when no batch was validated (``fit_stats``, files).
        histogram : PixelHistogram or None
            Of the same pixels, merged into ``histogram_`` if ``_learns_quantiles()``.
        """
        dtype = np.dtype(input_dtype)
        if max_value is not None:
            max_value = check_max_value(max_value)
        with _COMMIT_LOCK:
            first_call = not hasattr(self, "n_samples_seen_")
            merged = None
            if self._learns():
                if not first_call and histogram is not None:
                    histogram = merged_histogram(self, histogram)
                if not first_call:
                    self._check_same_units(dtype, stats)
                with np.errstate(over="ignore", invalid="ignore"):
                    merged = stats if first_call else self._merged_stats(stats)
                try:
                    self._check_learned_stats(merged)
                except ValueError:
                    if first_call:
                        self._reset()  # validation already recorded the shapes
                    raise
            if stats is not None:
                observed_max = self._observed_max(stats)
            if n_channels is not None:
                self.n_channels_ = int(n_channels)
            if first_call:
                self.n_samples_seen_ = 0
                self.input_dtype_ = dtype.name
                self.max_value_ = (
                    resolve_max_value(dtype, self.max_value)
                    if max_value is None
                    else max_value
                )
            self.n_samples_seen_ += int(n_images)
            if merged is not None:
                self.stats_ = merged
            if histogram is not None and self._learns_quantiles():
                self.histogram_ = histogram
            if self.scope == "dataset":
                self._store_fitted()  # learned, or fixed in the units of X
        if observed_max is not None:
            self._warn_domain(dtype, observed_max, "fit")

    def fit_stats(self, stats: PixelStats, *, max_value=None, histogram=None):
        """Fit from precomputed :class:`PixelStats` (e.g. from ``dataset_stats``).

        Equivalent to :meth:`fit` on the pixels the statistics were computed on.

        Parameters
        ----------
        stats : PixelStats
            Statistics of the training pixels.
        max_value : float, default=None
            Domain maximum of the pixels (finite, > 0); default resolves
            ``self.max_value`` for the statistics' input dtype.
        histogram : PixelHistogram, default=None
            Of the same pixels (``dataset_stats(..., histogram=True)``); needed
            to learn percentiles (``quantile_range``, ``scope="dataset"``).

        Returns
        -------
        self : object
            Fitted transformer.
        """
        if not isinstance(stats, PixelStats):
            held = isinstance(getattr(stats, "stats", None), PixelStats)
            raise TypeError(
                f"fit_stats expects a PixelStats, got {type(stats).__name__}. "
                + (
                    "It holds one: pass its .stats (fit_stats(sampled.stats))."
                    if held
                    else "Compute one with PixelStats.from_array(X) or "
                    "sk_pixels.io.dataset_stats()."
                )
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
        histogram = histogram_to_learn(self, histogram, stats)
        self._commit(
            input_dtype=np.dtype(stats.input_dtype),
            n_images=stats.n_images,
            stats=stats.copy(),
            max_value=max_value,
            n_channels=stats.n_channels,
            histogram=histogram,
        )
        return self

    # -- what fit learns: PixelStats here, overridden by PixelWhitener ----------
    def _batch_stats(self, backend, X):
        """The mergeable statistics of one validated batch (``_commit`` merges them)."""
        return backend.stats(X, self._layout(), nodata=self._nodata())

    def _merged_stats(self, stats):
        """``stats_`` merged with one more batch's, under the commit lock (a new
        value: the fitted state is untouched if the merged statistics are refused)."""
        return self.stats_.merge(stats)

    def _observed_max(self, stats) -> float | None:
        """The largest pixel the statistics saw, for the units checks (or None)."""
        return _nanmax(stats.max)

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
        # A scalar is global (shape ()), an array-like per channel (C,).
        value = np.asarray(value, dtype=np.float64)
        return value if value.ndim == 0 else value.ravel()
