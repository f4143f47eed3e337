"""Safe statistics files: save and load a fitted estimator as validated JSON.

:func:`save_json` writes a small, human-readable JSON document;
:func:`load_json` reads it back into an estimator whose ``transform`` equals
the original's exactly.  Unlike ``pickle``/``joblib``, loading never executes
code: the file is parsed as plain JSON data, every field is checked, and only
the four sk_pixels estimators can be rebuilt.  Use it to ship normalization
statistics to inference or to share them; use ``joblib`` for whole fitted
Pipelines, and only with files you trust (``joblib.load`` runs code).

Format, version 1
-----------------
One JSON object with exactly these keys::

    {
      "format": "sk_pixels.estimator",
      "format_version": 1,              # integer; readers refuse newer versions
      "library_version": "0.1.0",       # sk_pixels version that wrote the file
      "class": "PixelStandardizer",     # or "PixelCenterer", "PixelNormalizer"
      "params": {...},                  # get_params(): every constructor parameter
      "channel_order": "RGB",           # RGB, BGR, RGBA, BGRA, L, LA or null
      "provenance": {...},              # version 2 only: see below
      "fitted": null | {
        "n_samples_seen": 2,            # images seen in fit
        "n_channels": 3,
        "n_features_in": 819840,        # values per image in fit, or null
        "feature_names_in": null,       # column names when fit saw a DataFrame
        "input_dtype": "uint8",         # dtype of the training pixels
        "max_value": 255.0,             # units: the domain maximum of those pixels
        "statistics": {...} | null,     # PixelStats.to_dict(): counts, exact sums...
        "mean": [...], "std": [...], "var": [...],     # as the estimator has them,
        "data_min": [...], "data_max": [...]           # in pixel units (checked)
      }
    }

Parameter values are JSON scalars or lists: tuples (``feature_range``,
``image_shape``) come back as tuples, arrays as lists of numbers, and a
``dtype`` parameter as its name (``"float32"``).  The derived statistics
(``mean``...) are redundant with ``statistics`` and are there for people and
other tools to read; on loading they are recomputed from ``statistics`` and
must match exactly, so a hand-edited number is caught rather than silently
ignored.  Non-finite numbers (NaN, Infinity) are not valid anywhere, nor is
a number beyond the float64 range (an integer of more than 309 digits); a
derived statistic that is undefined (the ``ddof=1`` std of a single pixel) is
``null``.  The fitted fields must agree with each other as a fit would leave
them: ``max_value`` is what the ``max_value`` parameter gives for
``input_dtype``; ``statistics.dtype`` is ``input_dtype`` (float statistics may
be wider, after batches of several float dtypes); ``statistics.n_images`` is
``n_samples_seen``; ``min <= max``; and exact statistics hold integers in the
dtype's range whose sums some pixels can have (``count * sumsq >= sum**2``).

Version 2 adds the optional key ``"provenance"`` (written only when the
estimator has ``provenance_``, see ``set_provenance``; a file without it is
written as version 1): ``note``, ``source``, ``mode``, ``sampling`` (strings
or null, bounded in length, no control characters), ``n_skipped``,
``library_version``, ``created`` (UTC, ISO 8601), and the counts of the fit,
``n_images`` (``fitted.n_samples_seen``) and ``n_pixels`` (pixels per
channel in ``fitted.statistics``), which must match the fit.

Version 3 adds array-valued fitted state, as array blocks (base64 with a
declared dtype and shape, checked before decoding; see
:mod:`sk_pixels._persist_arrays`): a mean image (``per_pixel=True``) stores
``fitted.pixel_shape``, its ``statistics`` fields as blocks of that shape and
its ``mean``/``std``/``var`` as blocks; a ``PixelWhitener`` stores
``fitted.input_image_shape`` and ``fitted.covariance`` (see
:mod:`sk_pixels._persist_whitener`) and ``statistics: null``.  Files without
arrays stay version 1 or 2.  Such files are larger than the default 1 MiB
``max_bytes`` of :func:`load_json` for large images: pass a larger one.

Guarantees: what :func:`save_json` writes, :func:`load_json` loads (the file
is read back before it is written); every malformed file raises
:class:`InvalidModelFileError` naming the field; and every check is linear in
the size of the file (:mod:`sk_pixels._persist_read`), so a hostile file at
the size limit is refused in well under a second.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np

from ._files import atomic_open
from ._persist_arrays import encode, pixel_stats_doc
from ._persist_parse import (
    MAX_BYTES,
    InvalidModelFileError,
    _parse,
    _read_text,
    _Reader,
)
from ._persist_quantiles import fitted_fields as quantile_fields
from ._persist_read import (
    _CHANNEL_ORDERS,
    _CLASSES,
    _DERIVED,
    FORMAT,
    FORMAT_VERSION,
    read_document,
)
from ._persist_whitener import whitener_fitted_fields
from ._provenance import counts_of
from ._version import __version__
from .presets import PRESETS

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "InvalidModelFileError",
    "atomic_open",
    "load_json",
    "save_json",
]


# -- writing -------------------------------------------------------------------------
def _encode_param(name: str, value: Any) -> Any:
    if name == "dtype" and value is not None:
        return np.dtype(value).name
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (tuple, list)):
        if any(isinstance(v, (tuple, list, np.ndarray)) for v in value):
            raise ValueError(
                f"Parameter {name!r} is nested ({value!r:.80}); a file stores flat "
                "lists. Pass one value per channel, e.g. np.ravel(value)."
            )
        return [_encode_param(name, v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if name == "nodata" and isinstance(value, float) and math.isnan(value):
        return "nan"  # NaN marks nodata; JSON has no NaN (read back by _persist_read)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(
            f"Parameter {name!r} holds a non-finite value ({value}), which a fit "
            "refuses too. Set a finite value before saving."
        )
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(
        f"Parameter {name}={value!r} of type {type(value).__name__} cannot be stored "
        "in JSON; use a number, a string, a list or None."
    )


def _encode_stat(values: np.ndarray) -> Any:
    """Derived statistic -> JSON; null where it is undefined (e.g. ``ddof=1`` of
    one pixel gives a NaN std, which the estimator applies as 1)."""
    values = np.asarray(values, dtype=np.float64)
    encoded = [float(v) if math.isfinite(v) else None for v in values.ravel()]
    return encoded if values.ndim else encoded[0]


def _preset_channel_order(estimator: Any) -> str | None:
    orders = {
        PRESETS[getattr(estimator, name)].channel_order
        for name in estimator._STAT_PARAMS
        if isinstance(getattr(estimator, name), str)
    }
    return orders.pop() if len(orders) == 1 else None


def save_json(
    estimator: Any,
    path: str | os.PathLike,
    *,
    channel_order: str | None = None,
    include_histogram: bool = False,
) -> None:
    """Write an estimator (fitted or not) to a validated, pickle-free JSON file.

    Parameters
    ----------
    estimator : PixelNormalizer, PixelCenterer, PixelStandardizer or PixelWhitener
        The estimator to save. Pipelines and other objects are refused (use
        ``joblib`` for them).
    path : str or path-like
        Destination, written atomically (temporary file + rename).
    channel_order : {"RGB", "BGR", "RGBA", "BGRA", "L", "LA"} or None, default=None
        Channel order of the training images, recorded so that inference can
        check it. None takes the order of a preset the estimator uses, if
        any, and otherwise records null (unknown).
    include_histogram : bool, default=False
        Also store the histogram of a ``PixelNormalizer`` fitted with
        ``quantile_range`` (up to 65,536 counts per channel, stored sparsely;
        raise ``load_json``'s ``max_bytes`` for large ones), so that the loaded
        estimator can continue ``partial_fit``. Its fitted percentiles are
        stored either way.

    Raises
    ------
    TypeError
        ``estimator`` is not one of the four estimators.
    ValueError
        ``channel_order`` contradicts the estimator (channel count, preset),
        or :func:`load_json` would refuse the file (e.g. a parameter given as
        strings, ``feature_range=("0", "1")``); nothing is written then.

    See Also
    --------
    load_json : read the file back.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sk_pixels import PixelStandardizer, load_json, save_json
    >>> X = np.array([[[[0, 100, 200]], [[50, 150, 250]]]], dtype=np.uint8)
    >>> scaler = PixelStandardizer().fit(X)
    >>> path = os.path.join(tempfile.mkdtemp(), "scaler.json")
    >>> save_json(scaler, path, channel_order="RGB")
    >>> loaded = load_json(path)
    >>> loaded.mean_, loaded.std_
    (array([ 25., 125., 225.]), array([25., 25., 25.]))
    >>> bool(np.array_equal(loaded.transform(X), scaler.transform(X)))
    True

    With a note of the preprocessing (file format version 2):

    >>> _ = scaler.set_provenance("resize 256, center-crop 224", mode="RGB")
    >>> save_json(scaler, path)
    >>> load_json(path).provenance_ == scaler.provenance_
    True
    """
    cls = type(estimator)
    if _CLASSES.get(cls.__name__) is not cls:
        raise TypeError(
            "save_json stores PixelNormalizer, PixelCenterer, PixelStandardizer or "
            f"PixelWhitener; "
            f"got {cls.__name__}. Save a whole Pipeline with joblib.dump (and load "
            "it only from a trusted source)."
        )
    preset_order = _preset_channel_order(estimator)
    if channel_order is None:
        channel_order = preset_order
    elif channel_order not in _CHANNEL_ORDERS:
        raise ValueError(
            f"channel_order must be one of {sorted(_CHANNEL_ORDERS)} or None. Got "
            f"channel_order={channel_order!r}."
        )
    elif preset_order is not None and channel_order[:3] != preset_order:
        raise ValueError(
            f"channel_order={channel_order!r} contradicts the preset the estimator "
            f"uses, whose numbers are for {preset_order} images. Load the images in "
            f"{preset_order} order (mode={preset_order!r}) or use another preset."
        )
    params = {
        name: _encode_param(name, value)
        for name, value in estimator.get_params(deep=False).items()
    }
    provenance = getattr(estimator, "provenance_", None)
    doc: dict[str, Any] = {
        "format": FORMAT,
        # Version 2 only adds "provenance": a file without it stays version 1,
        # readable by every sk_pixels release.
        "format_version": _version_needed(estimator, provenance),
        "library_version": __version__,
        "class": cls.__name__,
        "params": params,
        "channel_order": channel_order,
        "fitted": None,
    }
    if hasattr(estimator, "n_samples_seen_"):
        fitted = _fitted_doc(estimator)
        fitted.update(quantile_fields(estimator, include_histogram))
        if (
            channel_order is not None
            and _CHANNEL_ORDERS[channel_order] != fitted["n_channels"]
        ):
            raise ValueError(
                f"channel_order={channel_order!r} has {_CHANNEL_ORDERS[channel_order]} "
                f"channels, but the estimator was fitted on {fitted['n_channels']}."
            )
        doc["fitted"] = fitted
    if provenance is not None:
        doc["provenance"] = {**provenance, **counts_of(estimator)}
    text = json.dumps(doc, indent=2, allow_nan=False)
    try:  # what is saved always loads: read it back the way load_json will
        read_document(_parse(text, _Reader(os.fspath(path))), _Reader(os.fspath(path)))
    except InvalidModelFileError as exc:
        raise ValueError(
            f"{cls.__name__} cannot be saved: load_json would refuse the file ({exc}). "
            "Give numeric parameters as numbers (e.g. feature_range=(0, 1), not "
            "('0', '1')) and fit again."
        ) from exc
    with atomic_open(path, "w") as fh:
        fh.write(text + "\n")


def _version_needed(estimator: Any, provenance: Any) -> int:
    """Version 3 for array blocks (mean images, whitening), 2 for provenance,
    else 1: a file is readable by every release that knows what it holds."""
    if getattr(estimator, "per_pixel", False) or isinstance(
        estimator, _CLASSES["PixelWhitener"]
    ):
        return FORMAT_VERSION  # a mean image, or a whitener (array blocks)
    return 2 if provenance is not None else 1


def _fitted_doc(estimator: Any) -> dict[str, Any]:
    whitener = isinstance(estimator, _CLASSES["PixelWhitener"])
    # (a whitener's statistics are its covariance: stored as array blocks below)
    stats = None if whitener else getattr(estimator, "stats_", None)
    per_pixel = bool(getattr(estimator, "per_pixel", False))
    if stats is not None:
        if np.any(stats.count == 0):
            raise ValueError(
                "The estimator's statistics have a channel that counted no pixel "
                "(all NaN, masked or nodata), so they cannot be stored as finite "
                "JSON numbers. Refit on data with at least one valid pixel per "
                "channel."
            )
        stats_doc = pixel_stats_doc(stats) if per_pixel else stats.to_dict()
    else:
        stats_doc = None
    names = getattr(estimator, "feature_names_in_", None)
    fitted: dict[str, Any] = {
        "n_samples_seen": int(estimator.n_samples_seen_),
        "n_channels": int(estimator.n_channels_),
        "n_features_in": (
            int(estimator.n_features_in_)
            if hasattr(estimator, "n_features_in_")
            else None
        ),
        "feature_names_in": None if names is None else [str(n) for n in names],
        "input_dtype": str(estimator.input_dtype_),
        "max_value": float(estimator.max_value_),
        "statistics": stats_doc,
    }
    if whitener:  # its covariance, as array blocks
        return {**fitted, **whitener_fitted_fields(estimator)}
    if per_pixel:  # a mean image: its shape, and its statistics as array blocks
        fitted["pixel_shape"] = [int(s) for s in estimator.pixel_shape_]
    for key, attr in _DERIVED.items():
        if hasattr(estimator, attr):
            value = getattr(estimator, attr)
            fitted[key] = encode(value) if per_pixel else _encode_stat(value)
    return fitted


def load_json(
    path: str | os.PathLike,
    *,
    max_bytes: int = MAX_BYTES,
    return_metadata: bool = False,
) -> Any:
    """Read an estimator written by :func:`save_json`, validating everything.

    Loading never executes code: the file is parsed as JSON data and only
    PixelNormalizer, PixelCenterer, PixelStandardizer or PixelWhitener can be
    built from it.

    Parameters
    ----------
    path : str or path-like
        File written by :func:`save_json`.
    max_bytes : int, default=1048576
        Refuse larger files (a version-1 file is a few KiB; a mean image of
        224x224x3 pixels is about 13 MB, a whitener of 32x32x3 images 50 MB).
    return_metadata : bool, default=False
        Also return a dict with ``"channel_order"``, ``"library_version"`` and
        ``"format_version"``.

    The estimator's ``provenance_`` (see ``set_provenance``) is restored
    when the file holds one.

    Returns
    -------
    estimator : PixelNormalizer, PixelCenterer, PixelStandardizer or PixelWhitener
        Fitted (when it was saved fitted), with the same parameters and
        fitted attributes; its ``transform`` equals the original's exactly.
    metadata : dict
        Only with ``return_metadata=True``.

    Raises
    ------
    InvalidModelFileError
        (A ``ValueError``.) The file is missing, empty, too large, not UTF-8,
        a pickle, invalid or too deeply nested JSON, of a newer format
        version, names an unknown class, or has a field of the wrong type or
        length, a non-finite or out-of-range number, a ``max_value`` that is
        not finite and > 0, a negative std, or statistics that contradict
        each other or the other fields. The message names the file and the
        field.

    See Also
    --------
    save_json : write the file.
    """
    path = os.fspath(path)
    reader = _Reader(path)
    estimator, metadata = read_document(
        _parse(_read_text(path, reader, max_bytes), reader), reader
    )
    return (estimator, metadata) if return_metadata else estimator
