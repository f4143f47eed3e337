"""The transform of percentile scalers with ``scope="batch"`` / ``"image"``.

:class:`QuantileScalingMixin` is shared by :class:`~sk_pixels.PixelNormalizer`
(``q_lo``, ``q_hi`` onto ``feature_range``) and the robust
:class:`~sk_pixels.PixelStandardizer` (``q_lo``, median, ``q_hi``): each names
its percentiles (``_percents``) and the affine map they give
(``_quantile_map``); the mixin computes them from the batch (a ragged list of
images pooled, as for the moments) or from each image. ``scope="dataset"``
needs nothing here: its percentiles are learned through the base's histogram.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import _one_dtype
from ._nodata import masked_view
from ._percentiles import _view_quantiles, scale_by_quantiles


class QuantileScalingMixin:
    """``_scale`` / ``_transform_images`` by the percentiles of a batch or image."""

    def _quantile_map(self, *rows: np.ndarray) -> Any:  # pragma: no cover
        raise NotImplementedError

    def _scale(self, backend, X, dtype, out=None, stats=None, rows=None):
        if (
            self.quantile_range is None
            or self.scope in ("domain", "dataset")
            or (self.scope == "image" and not backend.eager)  # back through here
        ):
            return super()._scale(backend, X, dtype, out, stats=stats)
        return scale_by_quantiles(
            self, backend, X, dtype, out, self._quantile_map, rows=rows
        )

    def _transform_images(self, images: list, out=None) -> list:
        """A ragged list with ``scope="batch"``: the percentiles of all its pixels."""
        if self.quantile_range is None or self.scope != "batch" or out is not None:
            return super()._transform_images(images, out)
        checked = [self._prepare_transform(image) for image in images]
        dtype = _one_dtype(checked)
        rows = _pooled_quantiles(
            [data for _, data, _ in checked],
            self._layout(),
            self._percents(),
            self.per_channel,
            self._nodata(),
        )
        return [
            self._scale(backend, data, dtype, rows=rows)[0]
            for backend, data, _ in checked
        ]


def _pooled_quantiles(
    batches: list, layout: tuple, percents, per_channel: bool, nodata=None
):
    """Exact percentiles of the pixels of several batches of any sizes, together
    (masked and ``nodata`` values left out)."""
    from ._xp import to_numpy

    views, valids = [], []
    for batch in batches:
        if not isinstance(batch, np.ndarray):
            batch = to_numpy(batch)
        view, valid = masked_view(batch, layout, nodata)
        views.append(view)
        valids.append(np.ones(view.shape, bool) if valid is None else valid)
    channels = views[0].shape[-1]
    pooled = np.concatenate([v.reshape(-1, channels) for v in views])
    valid = None
    if nodata is not None or any(isinstance(b, np.ma.MaskedArray) for b in batches):
        valid = np.concatenate([v.reshape(-1, channels) for v in valids])
        valid = valid[None, :, None, :]
    return _view_quantiles(pooled[None, :, None, :], percents, per_channel, valid)
