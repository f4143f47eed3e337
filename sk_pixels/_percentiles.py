"""Percentiles where the pixels live: histograms per backend, batch and image.

:func:`histogram_of` counts validated pixels on their backend (NumPy, Array API,
Dask: one histogram task per chunk, merged in a tree, like the statistics);
:func:`fitted_quantiles` reads the learned percentiles from a merged histogram;
:func:`transform_quantiles` gives the percentiles the ``scope="batch"`` /
``"image"`` maps use (:func:`scale_by_quantiles`), for the normalizer
(``q_lo``, ``q_hi``) and the robust standardizer (``q_lo``, median, ``q_hi``).
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


def histogram_to_learn(
    estimator: Any, histogram: Any, stats: Any
) -> PixelHistogram | None:
    """``fit_stats(histogram=)``: a copy to commit, or None when not learned.

    Refuses a histogram that is not that of the pixels of ``stats``.
    """
    if not estimator._learns_quantiles():
        return None
    name = type(estimator).__name__
    if not isinstance(histogram, PixelHistogram):
        raise ValueError(
            f"{name} with quantile_range and scope='dataset' needs the pixels' "
            "histogram: pass histogram=PixelHistogram.from_array(X), or the one "
            "of dataset_stats(..., histogram=True) (PixelStats hold no "
            f"percentiles). Got histogram={type(histogram).__name__}."
        )
    if histogram.n_channels != stats.n_channels:
        raise ValueError(
            f"histogram has {histogram.n_channels} channel(s) but stats have "
            f"{stats.n_channels}. Pass the histogram of the same pixels."
        )
    counts = [int(c) for c in histogram.count.tolist()]
    expected = [int(c) for c in np.asarray(stats.count).tolist()]
    if histogram.input_dtype != stats.input_dtype or counts != expected:
        raise ValueError(
            f"histogram counts {counts} {histogram.input_dtype} pixels per channel "
            f"but stats count {expected} {stats.input_dtype} pixels. Pass the "
            "histogram of the same pixels."
        )
    return histogram.copy()


def merged_histogram(estimator: Any, histogram: PixelHistogram) -> PixelHistogram:
    """``estimator.histogram_`` merged with one more batch's (``_commit``)."""
    if not hasattr(estimator, "histogram_"):
        raise ValueError(
            f"This {type(estimator).__name__} was loaded from a file without its "
            "histogram, so more batches cannot be merged into its percentiles. "
            "Save it with save_json(..., include_histogram=True), or refit with fit."
        )
    return estimator.histogram_.merge(histogram)


def fitted_quantiles(
    hist: PixelHistogram, percents: list, per_channel: bool, lo: Any, hi: Any
) -> np.ndarray:
    """Percentiles of a fitted histogram: shape (len(percents), C) or (len,).

    ``lo``, ``hi``: the fitted minimum and maximum (pooled when global).
    """
    values = hist.percentile(percents, per_channel)
    values = values if per_channel else values.reshape(len(percents))
    # The 0th and 100th percentiles are the exact minimum and maximum, and
    # every percentile lies between them (the float histogram's estimates
    # are placed inside their bins, which may reach past the data).
    values = np.clip(values, lo, hi)
    for row, percent in enumerate(percents):
        if float(percent) in (0.0, 100.0):
            values[row] = lo if float(percent) == 0.0 else hi
    return values


def scale_by_quantiles(
    estimator: Any, backend: Any, X: Any, dtype: Any, out, affine, rows=None
):
    """Apply ``affine(*rows)``, rows the percentiles of the batch or of each image.

    The transform of ``scope="batch"`` / ``"image"`` with ``quantile_range``;
    ``estimator._percents()`` names the percentiles; ``rows`` given: those of
    a larger batch (a ragged list).
    """
    from ._units import output_float_dtype

    layout = estimator._layout()
    per_image = estimator.scope == "image"
    if rows is None:
        rows = transform_quantiles(
            backend,
            X,
            layout,
            estimator._percents(),
            per_image,
            estimator.per_channel,
            estimator._nodata(),
        )
    out_dtype = output_float_dtype(dtype, estimator.dtype)
    return backend.apply(
        X,
        affine(*rows),
        out_dtype,
        layout,
        per_image=per_image,
        out=out,
        **estimator._fill(),
    )


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
    """The percentiles of the batch, or of each image: one array per percent.

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
        return tuple(np.stack(values) for values in zip(*rows))
    if backend.name == "numpy":
        view, valid = masked_view(X, layout, nodata)
        return _view_quantiles(view, percents, per_channel, valid)
    hist = histogram_of(backend, X, layout, nodata)
    return tuple(hist.percentile(percents, per_channel))


def _view_quantiles(view, percents, per_channel, valid=None):
    """Exact percentiles of a NumPy ``(n, H, W, C)`` view: one row per percent."""
    if view.dtype.name in ("uint8", "int8", "uint16", "int16"):
        hist = PixelHistogram.from_view(view, valid)
        return tuple(hist.percentile(percents, per_channel))
    if valid is not None:  # left out as NaN, which nanpercentile ignores
        view = np.where(valid, view, np.nan)
    pixels = view.reshape(-1, view.shape[-1]) if per_channel else view.reshape(-1, 1)
    if pixels.shape[0] * pixels.shape[1] == 0:  # pragma: no cover - refused earlier
        raise ValueError("No pixel to take percentiles of.")
    with warnings.catch_warnings():
        # An all-NaN channel has NaN percentiles (refused where they are applied).
        warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
        values = np.nanpercentile(pixels, percents, axis=0)
    return tuple(values)
