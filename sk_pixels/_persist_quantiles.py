"""The percentile fields of an estimator file: ``quantiles`` and ``histogram``.

A :class:`~sk_pixels.PixelNormalizer` or :class:`~sk_pixels.PixelStandardizer`
with ``quantile_range`` and ``scope="dataset"`` stores its fitted percentiles
(``"quantiles"``: a list per percentile, one value per channel, or one value
when global; the normalizer's ``q_lo, q_hi``, the standardizer's ``q_lo``,
median, ``q_hi``).  Its histogram
(``"histogram"``: :meth:`PixelHistogram.to_dict`, sparse ``[bin, count]``
pairs) is optional, since it can hold 65,536 counts per channel; when present
it is validated against the statistics, the percentiles are recomputed from it
and must equal the stored ones, and ``partial_fit`` may continue after
loading.  Without it the stored percentiles are checked for shape, order and
range (inside ``[data_min, data_max]``), and the loaded estimator transforms
but cannot ``partial_fit`` further.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._histogram import PixelHistogram

#: Keys this module reads in ``fitted`` (besides those of ``_persist_read``).
KEYS = {"quantiles", "histogram"}
_WORDS = {2: "two", 3: "three"}


def _learns_quantiles(estimator: Any) -> bool:
    return bool(getattr(estimator, "_learns_quantiles", lambda: False)())


def fitted_fields(estimator: Any, include_histogram: bool) -> dict[str, Any]:
    """``{"quantiles": ..., "histogram": ...}`` for :func:`save_json`."""
    if not hasattr(estimator, "quantiles_"):
        if include_histogram:
            raise ValueError(
                "include_histogram=True, but this estimator learned no histogram "
                "(only PixelNormalizer and PixelStandardizer with quantile_range "
                "and scope='dataset' do). Pass include_histogram=False."
            )
        return {}
    fields: dict[str, Any] = {"quantiles": np.asarray(estimator.quantiles_).tolist()}
    hist = getattr(estimator, "histogram_", None)
    if include_histogram:
        if hist is None:
            raise ValueError(
                "include_histogram=True, but this estimator was loaded from a file "
                "without its histogram. Refit it, or pass include_histogram=False."
            )
        fields["histogram"] = hist.to_dict(sparse=True)
    return fields


def restore(estimator: Any, fitted: dict, reader: Any) -> None:
    """Check ``fitted``'s percentile fields and set them on a committed estimator."""
    if not _learns_quantiles(estimator):
        for key in sorted(KEYS & set(fitted)):
            raise reader.fail(
                f"field 'fitted.{key}' is not an attribute of this estimator "
                "(it needs quantile_range and scope='dataset')."
            )
        return
    if "quantiles" not in fitted:
        raise reader.fail("field 'fitted.quantiles' is missing.")
    stored = _quantiles(fitted["quantiles"], estimator, reader)
    if "histogram" in fitted:
        estimator.histogram_ = _histogram(fitted["histogram"], estimator, reader)
        estimator._store_fitted()  # the percentiles, from the histogram
        if not np.array_equal(stored, estimator.quantiles_, equal_nan=True):
            raise reader.fail(
                f"field 'fitted.quantiles' = {stored.tolist()} does not match the "
                f"percentiles of 'fitted.histogram', {estimator.quantiles_.tolist()}; "
                "the file was edited or is corrupt."
            )
        return
    estimator.quantiles_ = stored
    estimator._store_fitted()  # what the percentiles give (center_, scale_)


def _quantiles(value: Any, estimator: Any, reader: Any) -> np.ndarray:
    field = "fitted.quantiles"
    n = len(estimator._percents())
    shape = (n, estimator.n_channels_) if estimator.per_channel else (n,)
    rows = value if isinstance(value, list) else None
    flat = (
        [v for row in rows for v in (row if isinstance(row, list) else [row])]
        if rows is not None
        else []
    )
    for v in flat:
        reader.number(v, field)
    values = np.asarray(flat, dtype=np.float64)
    nested = rows is not None and all(isinstance(r, list) for r in rows)
    if (
        rows is None
        or len(rows) != n
        or nested != estimator.per_channel
        or (nested and any(len(row) != shape[-1] for row in rows))
        or values.size != int(np.prod(shape))
    ):
        count = _WORDS.get(n, str(n))
        what = (
            f"{count} lists of one value per channel"
            if estimator.per_channel
            else f"{count} numbers"
        )
        raise reader.fail(
            f"field {field!r} must be {what} (shape {shape}), got {str(value)[:80]}."
        )
    values = values.reshape(shape)
    pooled = estimator._pool(estimator.stats_)
    lo, hi = estimator._fitted_stat(pooled.min), estimator._fitted_stat(pooled.max)
    if np.any(np.diff(values, axis=0) < 0) or np.any((values < lo) | (values > hi)):
        raise reader.fail(
            f"field {field!r} = {values.tolist()} is not {_WORDS.get(n, n)} ordered "
            f"percentiles within [data_min, data_max] = [{np.asarray(lo).tolist()}, "
            f"{np.asarray(hi).tolist()}]; the file was edited or is corrupt."
        )
    return values


def _histogram(value: Any, estimator: Any, reader: Any) -> PixelHistogram:
    field = "fitted.histogram"
    # Bound the channels before building n_channels x 65,536 counts.
    stored = value.get("bins", value.get("counts")) if isinstance(value, dict) else None
    if not isinstance(stored, list) or len(stored) != estimator.n_channels_:
        raise reader.fail(
            f"field {field!r} must hold one list of bins per channel "
            f"({estimator.n_channels_}), got {str(stored)[:80]}."
        )
    try:
        hist = PixelHistogram.from_dict(value)
    except ValueError as exc:
        raise reader.fail(f"field {field!r}: {exc}") from None
    stats = estimator.stats_
    if hist.input_dtype != estimator.input_dtype_:
        raise reader.fail(
            f"field {field!r} counts {hist.input_dtype} pixels, but the estimator "
            f"was fitted on {estimator.input_dtype_} pixels."
        )
    if hist.n_channels != stats.n_channels or hist.count.tolist() != [
        int(c) for c in stats.count.tolist()
    ]:
        raise reader.fail(
            f"field {field!r} counts {hist.count.tolist()} pixels per channel, but "
            f"'fitted.statistics' counts {stats.count.tolist()}; the file was "
            "edited or is corrupt."
        )
    return hist
