"""Reading side of :mod:`sk_pixels.persist`: parse and validate an estimator file.

Every check here is linear in the size of the file (a hostile 1 MiB file is
refused in well under a second): the nesting depth is measured in one
left-to-right pass, numbers are bounded as they are parsed, and every field is
checked once.  Nothing here writes an estimator attribute except
:func:`_commit_fitted`, which takes the plain values that
:func:`_fitted_values` read from the file.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._per_pixel import pixel_layout, reshaped
from ._persist_arrays import check_pixel_shape, check_stat, read_pixel_stats
from ._persist_parse import InvalidModelFileError, _Reader
from ._persist_quantiles import KEYS as _QUANTILE_KEYS
from ._persist_quantiles import restore as _restore_quantiles
from ._persist_whitener import WHITENER_KEYS, restore_whitener
from ._provenance import read_provenance
from ._stats import PixelStats, is_exact_dtype
from ._units import resolve_max_value
from ._validation import InvalidStatsError
from ._version import __version__
from .centerer import PixelCenterer
from .io._modes import CHANNEL_ORDERS
from .normalizer import PixelNormalizer
from .standardizer import PixelStandardizer
from .whitener import PixelWhitener

FORMAT = "sk_pixels.estimator"
FORMAT_VERSION = 3

#: The only classes a file can name.
_CLASSES = {
    cls.__name__: cls
    for cls in (PixelNormalizer, PixelCenterer, PixelStandardizer, PixelWhitener)
}

#: Channel orders a file may declare -> number of channels.
_CHANNEL_ORDERS = {order: len(names) for order, names in CHANNEL_ORDERS.items()}

#: Fitted attribute name in the file -> estimator attribute (derived statistics).
_DERIVED = {
    "mean": "mean_",
    "std": "std_",
    "var": "var_",
    "data_min": "data_min_",
    "data_max": "data_max_",
}

_TOP_KEYS = {
    "format",
    "format_version",
    "library_version",
    "class",
    "params",
    "channel_order",
    "fitted",
}
_FITTED_KEYS = {
    "n_samples_seen",
    "n_channels",
    "n_features_in",
    "feature_names_in",
    "input_dtype",
    "max_value",
    "statistics",
}

# -- the document -> an estimator ------------------------------------------------------
#: Parameters added after files were first written: optional (their default).
_NODATA = {"nodata", "nodata_fill"}
_NEWER_PARAMS = {
    "PixelNormalizer": {"quantile_range", "clip", *_NODATA},
    "PixelCenterer": {"per_pixel", *_NODATA},
    "PixelStandardizer": {"quantile_range", "per_pixel", *_NODATA},
}


def _decode_params(cls: type, params: Any, reader: _Reader) -> dict[str, Any]:
    expected = set(cls().get_params(deep=False))
    required = expected - _NEWER_PARAMS.get(cls.__name__, set())
    params = reader.keys(params, "params", expected, required)
    out = {}
    for name, value in params.items():
        if name == "nodata":  # "nan" (alone or in the list) is NaN: see save_json
            value = _nan_nodata(value)
        if isinstance(value, dict):
            raise reader.fail(
                f"parameter {name!r} must be a number, string, list or null, "
                "got an object."
            )
        if isinstance(value, list):
            shape = name == "image_shape"
            if not all(
                isinstance(v, int if shape else (int, float))
                and not isinstance(v, bool)
                and (not shape or v > 0)
                for v in value
            ):
                what = "integers > 0" if shape else "numbers"
                raise reader.fail(
                    f"parameter {name!r} must be a flat list of {what}, "
                    f"got {value!r:.80}."
                )
            if name in ("feature_range", "image_shape", "quantile_range"):
                value = tuple(value)
        out[name] = value
    return out


def _nan_nodata(value: Any) -> Any:
    if value == "nan":
        return float("nan")
    if isinstance(value, list):
        return [float("nan") if v == "nan" else v for v in value]
    return value


def _check_statistics(stats_doc: Any, fitted: dict, reader: _Reader) -> PixelStats:
    """``fitted.statistics`` -> PixelStats, consistent with the rest of ``fitted``."""
    field = "fitted.statistics"
    shape = fitted.get("pixel_shape")
    if shape is not None:  # a mean image: blocks of the image's shape
        stats_doc = read_pixel_stats(stats_doc, reader, field, tuple(shape))
    count = stats_doc.get("count") if isinstance(stats_doc, dict) else None
    if shape is None and isinstance(count, list) and len(count) != fitted["n_channels"]:
        raise reader.fail(  # before the per-value checks of a possibly huge list
            f"field {field!r} has {len(count)} channels but 'fitted.n_channels' is "
            f"{fitted['n_channels']}."
        )
    try:
        stats = PixelStats.from_dict(stats_doc)
    except (InvalidStatsError, TypeError, ArithmeticError) as exc:
        raise reader.fail(f"field {field!r} is invalid: {exc}") from exc
    # partial_fit records the dtype of the first batch; float statistics may be
    # promoted by later batches (float32 then float64), exact ones never are.
    input_dtype = np.dtype(fitted["input_dtype"])
    if stats.exact:
        consistent = input_dtype == np.dtype(stats.input_dtype)
    else:
        promoted = np.promote_types(input_dtype, stats.input_dtype)
        consistent = not is_exact_dtype(input_dtype) and promoted == stats.input_dtype
    if not consistent:
        raise reader.fail(
            f"field '{field}.dtype' is {stats.input_dtype!r} but "
            f"'fitted.input_dtype' is {input_dtype.name!r}: statistics of "
            f"{stats.input_dtype} pixels cannot come "
            f"from {input_dtype.name} images. The file was edited or is corrupt."
        )
    if stats.n_images != fitted["n_samples_seen"]:
        raise reader.fail(
            f"field '{field}.n_images' is {stats.n_images} but "
            f"'fitted.n_samples_seen' is {fitted['n_samples_seen']}; both count the "
            "images seen in fit."
        )
    if any(c == 0 for c in count):
        raise reader.fail(f"field {field!r} has a channel with no pixel.")
    if stats.exact:
        _check_exact_moments(stats_doc, np.iinfo(stats.input_dtype), reader)
    return stats if shape is None else reshaped(stats, shape)


def _check_exact_moments(doc: dict, info: np.iinfo, reader: _Reader) -> None:
    """Integer moments that some pixels in ``[min, max]`` can have (exact checks)."""
    field = "fitted.statistics"
    for key in ("min", "max"):
        values = np.asarray(doc[key], dtype=np.float64)  # finite: checked before
        if not np.all((values == np.round(values)) & (values >= info.min)) or not (
            np.all(values <= info.max)
        ):
            raise reader.fail(
                f"field '{field}.{key}' must hold integers in [{info.min}, "
                f"{info.max}] for {info.dtype} pixels, got {doc[key]!r:.80}."
            )
    for n, s, s2, lo, hi in zip(
        doc["count"], doc["sum"], doc["sumsq"], doc["min"], doc["max"], strict=True
    ):
        if not n * int(lo) <= s <= n * int(hi):
            raise reader.fail(
                f"field '{field}.sum' ({s}) is outside count * [min, max] "
                f"= [{n * int(lo)}, {n * int(hi)}]."
            )


def _fitted_values(estimator: Any, fitted: Any, reader: _Reader) -> dict[str, Any]:
    """Read and check what ``fitted`` hands to the estimator, as plain values.

    Returns ``stats`` (PixelStats or None), ``n_samples_seen``, ``input_dtype``,
    ``max_value``, ``n_channels``, ``n_features_in`` and ``feature_names_in``
    (None or a list of str).  Writes nothing: :func:`_commit_fitted` does.
    """
    whitener = isinstance(estimator, PixelWhitener)
    allowed = _FITTED_KEYS | set(_DERIVED) | _QUANTILE_KEYS | {"pixel_shape"}
    if whitener:
        allowed = allowed | WHITENER_KEYS
    fitted = reader.keys(fitted, "fitted", allowed, _FITTED_KEYS)
    per_pixel = bool(getattr(estimator, "per_pixel", False))
    pixel_shape = check_pixel_shape(fitted, reader, per_pixel, estimator._layout())
    n_seen = reader.integer(fitted["n_samples_seen"], "fitted.n_samples_seen", 0)
    n_channels = reader.integer(fitted["n_channels"], "fitted.n_channels", 1)
    n_features = fitted["n_features_in"]
    if n_features is not None:
        n_features = reader.integer(n_features, "fitted.n_features_in", 1)
    names = fitted["feature_names_in"]
    if names is not None and (
        not isinstance(names, list)
        or not all(isinstance(n, str) for n in names)
        or n_features is None
        or len(names) != n_features
    ):
        raise reader.fail(
            "field 'fitted.feature_names_in' must be null or n_features_in strings."
        )
    dtype = fitted["input_dtype"]
    try:
        dtype_ok = (
            isinstance(dtype, str)
            and np.dtype(dtype).kind in "uif"
            and np.dtype(dtype).name == dtype
        )
    except TypeError:
        dtype_ok = False
    if not dtype_ok:
        raise reader.fail(
            "field 'fitted.input_dtype' must name a numeric dtype such as "
            f"'uint8', got {dtype!r:.80}."
        )
    max_value = reader.number(fitted["max_value"], "fitted.max_value")
    if not (math.isfinite(max_value) and max_value > 0):
        raise reader.fail(
            "field 'fitted.max_value' must be > 0 and finite (the domain "
            f"maximum), got {max_value}."
        )
    expected_max = resolve_max_value(np.dtype(dtype), estimator.max_value)
    if max_value != expected_max:
        raise reader.fail(
            f"field 'fitted.max_value' is {max_value}, but max_value="
            f"{estimator.max_value!r} for {dtype} images is {expected_max}. The file "
            "was edited or is corrupt."
        )
    stats = None
    if fitted["statistics"] is not None and not whitener:
        stats = _check_statistics(fitted["statistics"], fitted, reader)
    elif estimator._learns() and not whitener:  # (its covariance: see below)
        raise reader.fail(
            f"{type(estimator).__name__} with these parameters learns statistics, "
            "but 'fitted.statistics' is null."
        )
    return {
        "stats": stats,
        "n_samples_seen": n_seen,
        "input_dtype": dtype,
        "max_value": max_value,
        "n_channels": n_channels,
        "n_features_in": n_features,
        "feature_names_in": names,
        "pixel_shape": pixel_shape,
    }


def _commit_fitted(estimator: Any, values: dict[str, Any]) -> None:
    """Write the values of :func:`_fitted_values` onto ``estimator``.

    Loading commits through the estimators' one writer of fitted state
    (``_commit``, shared with ``partial_fit`` and ``fit_stats``), then restores
    the feature names and counts that scikit-learn's validation records.
    """
    estimator._validate_params()
    estimator._check_params()
    estimator._check_fixed_lengths(values["n_channels"])
    if values["pixel_shape"] is not None:  # (as validation records them at fit)
        estimator.pixel_shape_ = values["pixel_shape"]
        _, estimator._pixel_axis = pixel_layout(
            tuple(values["pixel_shape"]), *estimator._layout()
        )
    estimator._commit(
        input_dtype=np.dtype(values["input_dtype"]),
        n_images=values["n_samples_seen"],
        stats=values["stats"],
        max_value=values["max_value"],
        n_channels=values["n_channels"],
    )
    if values["n_features_in"] is not None:
        estimator.n_features_in_ = values["n_features_in"]
    if values["feature_names_in"] is not None:
        estimator.feature_names_in_ = np.asarray(
            values["feature_names_in"], dtype=object
        )


def _check_derived(estimator: Any, fitted: dict, reader: _Reader) -> None:
    """The derived statistics in the file must be the estimator's, exactly."""
    for key, attr in _DERIVED.items():
        has_attr = hasattr(estimator, attr)
        if key in fitted and not has_attr:
            raise reader.fail(
                f"field 'fitted.{key}' is not an attribute of this estimator."
            )
        if has_attr and key not in fitted:
            raise reader.fail(f"field 'fitted.{key}' is missing.")
        if has_attr:
            check_stat(reader, key, fitted[key], getattr(estimator, attr))


def read_document(doc: Any, reader: _Reader) -> tuple[Any, dict[str, Any]]:
    """A parsed document -> ``(estimator, metadata)``, or InvalidModelFileError.

    Shared by :func:`~sk_pixels.persist.load_json` and by
    :func:`~sk_pixels.persist.save_json`, which checks that what it writes loads.
    """
    if isinstance(doc, dict) and "format" not in doc and "statistics" in doc:
        raise reader.fail(  # what ``sk-pixels stats --json`` writes
            "this is a statistics report (sk-pixels stats --json), not an estimator "
            "file: rebuild its statistics with PixelStats.from_dict(report"
            "['statistics']) and fit with PixelStandardizer().fit_stats(stats)."
        )
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise reader.fail(
            f'not an sk_pixels estimator file (expected "format": {FORMAT!r}, found '
            f"{found!r:.80}). Write one with sk_pixels.save_json."
        )
    version = reader.integer(doc.get("format_version"), "format_version", 1)
    if version > FORMAT_VERSION:
        raise reader.fail(
            f"format version {version} was written by a newer sk_pixels "
            f"({doc.get('library_version')!r:.40}); this sk_pixels {__version__} reads "
            f"format version {FORMAT_VERSION}. Upgrade sk_pixels to load it."
        )
    optional = {"provenance"} if version >= 2 else set()  # version 2 adds it
    reader.keys(doc, "(top level)", _TOP_KEYS | optional, _TOP_KEYS)
    if not isinstance(doc["library_version"], str):
        raise reader.fail("field 'library_version' must be a string.")
    name = doc["class"]
    cls = _CLASSES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise reader.fail(
            f"unknown class {name!r:.80}; a file can hold one of {sorted(_CLASSES)}."
        )
    order = doc["channel_order"]
    if order is not None and (
        not isinstance(order, str) or order not in _CHANNEL_ORDERS
    ):
        raise reader.fail(
            f"field 'channel_order' must be one of {sorted(_CHANNEL_ORDERS)} or "
            f"null, got {order!r:.80}."
        )
    estimator = cls(**_decode_params(cls, doc["params"], reader))
    fitted = doc["fitted"]
    try:
        estimator._validate_params()
        estimator._check_params()
        if fitted is not None:
            values = _fitted_values(estimator, fitted, reader)
        if fitted is not None and isinstance(estimator, PixelWhitener):
            restore_whitener(estimator, fitted, values, reader, _FITTED_KEYS)
        elif fitted is not None:
            # A saved file holds finite derived statistics: an overflow while
            # recomputing them (a fixed std of 1e308 squared) is a forged file.
            try:
                with np.errstate(over="raise"):
                    _commit_fitted(estimator, values)
            except FloatingPointError as exc:
                raise reader.fail(
                    f"fields 'params' and 'fitted' give fitted statistics that "
                    f"overflow float64 ({exc}): a number in 'params' (such as std) "
                    "or 'fitted.statistics' is too large. The file was edited or "
                    "is corrupt."
                ) from exc
            _check_derived(estimator, fitted, reader)
            _restore_quantiles(estimator, fitted, reader)
    except InvalidModelFileError:
        raise
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise reader.fail(f"invalid estimator: {exc}") from exc
    if order is not None and fitted is not None:
        if _CHANNEL_ORDERS[order] != estimator.n_channels_:
            raise reader.fail(
                f"field 'channel_order' is {order!r} ({_CHANNEL_ORDERS[order]} "
                f"channels) but the estimator was fitted on {estimator.n_channels_} "
                "channels."
            )
    if "provenance" in doc:
        read_provenance(estimator, doc["provenance"], reader)
    metadata = {
        "channel_order": order,
        "library_version": doc["library_version"],
        "format_version": version,
    }
    return estimator, metadata
