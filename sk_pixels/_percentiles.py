"""Percentiles where the pixels live: histograms per backend, batch and image.

:func:`histogram_of` counts validated pixels on their backend (NumPy, Array API,
Dask: one histogram task per chunk, merged in a tree, like the statistics);
:func:`transform_quantiles` gives the two percentiles the normalizer's
``scope="batch"`` / ``"image"`` maps use.
"""

from __future__ import annotations

import warnings
from numbers import Real
from typing import Any

import numpy as np

from ._histogram import PixelHistogram
from ._nodata import masked_view


def check_quantile_range(value: Any, name: str = "quantile_range") -> tuple:
    """``(lo, hi)`` percents with ``0 <= lo < hi <= 100``, as floats."""
    ok = (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, Real) and not isinstance(v, bool) for v in value)
    )
    if ok:
        lo, hi = float(value[0]), float(value[1])
        ok = 0 <= lo < hi <= 100
    if not ok:
        raise ValueError(
            f"{name} must be two percents (lo, hi) with 0 <= lo < hi <= 100, e.g. "
            f"(1, 99.8). Got {name}={value!r}."
        )
    return lo, hi


def histogram_of(
    backend: Any, X: Any, layout: tuple, nodata: tuple | None = None
) -> PixelHistogram:
    """The histogram of validated X on its backend (see :mod:`sk_pixels._backends`).

    NumPy and Array API input is counted block by block (device blocks are
    copied to the host); a Dask array becomes one histogram task per chunk of
    whole images, merged in a tree, computed in one pass.  Masked
    (``numpy.ma``) and ``nodata`` values are not counted.
    """
    if backend.name == "dask":
        import dask

        (hist,) = dask.compute(_dask_graph(X, layout, nodata=nodata))
        return hist
    xp = np
    if backend.name != "numpy":
        from ._backends._array_api import namespace

        xp = namespace(X)[0]
    return PixelHistogram.from_view(*masked_view(X, layout, nodata, xp=xp))


def _chunk_histogram(block: np.ndarray, layout: tuple, nodata=None) -> PixelHistogram:
    from ._backends._common import check_no_inf

    check_no_inf(block, np, block.dtype)
    return PixelHistogram.from_view(*masked_view(block, layout, nodata))


def _merge_histograms(*parts: PixelHistogram) -> PixelHistogram:
    total = parts[0]
    for part in parts[1:]:
        total = total.merge(part)
    return total


def _dask_graph(X: Any, layout: tuple, split_every: int = 8, nodata=None):
    import dask

    from ._backends._dask import _whole_images

    blocks = _whole_images(X).to_delayed().ravel().tolist()
    chunk = dask.delayed(_chunk_histogram, pure=True)
    merge = dask.delayed(_merge_histograms, pure=True)
    parts = [chunk(block, layout, nodata) for block in blocks]
    while len(parts) > 1:
        parts = [
            merge(*parts[i : i + split_every])
            for i in range(0, len(parts), split_every)
        ]
    return parts[0]


def transform_quantiles(
    backend, X, layout, percents, per_image, per_channel, nodata=None
):
    """The two percentiles of the batch, or of each image: (lo, hi) arrays.

    Shapes: ``(C,)`` / ``(1,)`` for the batch, ``(n, C)`` / ``(n, 1)`` per image.
    NumPy pixels are exact (histograms for integers of up to 16 bits,
    ``numpy.nanpercentile`` for the others); Dask and device batches go through
    :func:`~sk_pixels._histogram.histogram_of`.  Masked and ``nodata`` values
    are left out.
    """
    if per_image:
        if backend.name != "numpy":  # device arrays: the batch copied to the host
            from ._xp import to_numpy

            X = to_numpy(X)
        view, valid = masked_view(X, layout, nodata)
        rows = [
            _view_quantiles(
                view[i : i + 1],
                percents,
                per_channel,
                None if valid is None else valid[i : i + 1],
            )
            for i in range(view.shape[0])
        ]
        return np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows])
    if backend.name == "numpy":
        view, valid = masked_view(X, layout, nodata)
        return _view_quantiles(view, percents, per_channel, valid)
    values = histogram_of(backend, X, layout, nodata).percentile(percents, per_channel)
    return values[0], values[1]


def _view_quantiles(view, percents, per_channel, valid=None):
    """Exact percentiles of a NumPy ``(n, H, W, C)`` view: rows (lo, hi)."""
    if view.dtype.name in ("uint8", "int8", "uint16", "int16"):
        hist = PixelHistogram.from_view(view, valid)
        values = hist.percentile(percents, per_channel)
        return values[0], values[1]
    if valid is not None:  # left out as NaN, which nanpercentile ignores
        view = np.where(valid, view, np.nan)
    pixels = view.reshape(-1, view.shape[-1]) if per_channel else view.reshape(-1, 1)
    if pixels.shape[0] * pixels.shape[1] == 0:  # pragma: no cover - refused earlier
        raise ValueError("No pixel to take percentiles of.")
    with warnings.catch_warnings():
        # An all-NaN channel has NaN percentiles (refused where they are applied).
        warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
        values = np.nanpercentile(pixels, percents, axis=0)
    return values[0], values[1]
