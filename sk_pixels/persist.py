"""Safe statistics files: save and load a fitted estimator as validated JSON.

:func:`save_json` writes a small, human-readable JSON document;
:func:`load_json` reads it back into an estimator whose ``transform`` equals
the original's exactly.  Unlike ``pickle``/``joblib``, loading never executes
code: the file is parsed as plain JSON data, every field is checked, and only
the three sk_pixels estimators can be rebuilt.  Use it to ship normalization
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
ignored.  Non-finite numbers (NaN, Infinity) are not valid anywhere; a derived
statistic that is undefined (the ``ddof=1`` std of a single pixel) is ``null``.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from numbers import Real
from pathlib import Path
from typing import IO, Any

import numpy as np

from ._stats import PixelStats, is_exact_dtype
from ._validation import InvalidStatsError
from ._version import __version__
from .centerer import PixelCenterer
from .normalizer import PixelNormalizer
from .presets import PRESETS
from .standardizer import PixelStandardizer

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "InvalidModelFileError",
    "load_json",
    "save_json",
]

FORMAT = "sk_pixels.estimator"
FORMAT_VERSION = 1

#: The only classes a file can name.
_CLASSES = {
    cls.__name__: cls for cls in (PixelNormalizer, PixelCenterer, PixelStandardizer)
}

#: Channel orders a file may declare -> number of channels.
_CHANNEL_ORDERS = {"RGB": 3, "BGR": 3, "RGBA": 4, "BGRA": 4, "L": 1, "LA": 2}

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

#: Default size limit of a file to load; a version-1 file is a few KiB.
MAX_BYTES = 1 << 20
#: JSON nesting allowed (a version-1 file nests 3 levels).
_MAX_DEPTH = 16


class InvalidModelFileError(InvalidStatsError):
    """A file given to :func:`load_json` is not a valid sk_pixels estimator file.

    A ``ValueError``; the message names the file, the field, what was found and
    what to do.
    """


# -- writing -------------------------------------------------------------------------
@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path``; on success rename it onto ``path``.

    Readers never see a half-written file: ``path`` is replaced in one
    ``os.replace`` after the data is flushed to disk, and an error leaves the
    previous ``path`` untouched.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 -> the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"Parameter {name!r} holds a non-finite value ({value}).")
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
    estimator: Any, path: str | os.PathLike, *, channel_order: str | None = None
) -> None:
    """Write an estimator (fitted or not) to a validated, pickle-free JSON file.

    Parameters
    ----------
    estimator : PixelNormalizer, PixelCenterer or PixelStandardizer
        The estimator to save. Pipelines and other objects are refused (use
        ``joblib`` for them).
    path : str or path-like
        Destination, written atomically (temporary file + rename).
    channel_order : {"RGB", "BGR", "RGBA", "BGRA", "L", "LA"} or None, default=None
        Channel order of the training images, recorded so that inference can
        check it. None takes the order of a preset the estimator uses, if
        any, and otherwise records null (unknown).

    Raises
    ------
    TypeError
        ``estimator`` is not one of the three estimators.
    ValueError
        ``channel_order`` contradicts the estimator (channel count, preset).

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
    """
    cls = type(estimator)
    if _CLASSES.get(cls.__name__) is not cls:
        raise TypeError(
            f"save_json stores PixelNormalizer, PixelCenterer or PixelStandardizer; "
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
    doc: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "class": cls.__name__,
        "params": params,
        "channel_order": channel_order,
        "fitted": None,
    }
    if hasattr(estimator, "n_samples_seen_"):
        fitted = _fitted_doc(estimator)
        if (
            channel_order is not None
            and _CHANNEL_ORDERS[channel_order] != fitted["n_channels"]
        ):
            raise ValueError(
                f"channel_order={channel_order!r} has {_CHANNEL_ORDERS[channel_order]} "
                f"channels, but the estimator was fitted on {fitted['n_channels']}."
            )
        doc["fitted"] = fitted
    text = json.dumps(doc, indent=2, allow_nan=False)
    with atomic_open(path, "w") as fh:
        fh.write(text + "\n")


def _fitted_doc(estimator: Any) -> dict[str, Any]:
    stats = getattr(estimator, "stats_", None)
    if stats is not None:
        stats_doc = stats.to_dict()
        if any(c == 0 for c in stats_doc["count"]):
            raise ValueError(
                "The estimator's statistics have a channel that counted no pixel "
                "(all NaN), so they cannot be stored as finite JSON numbers. Refit "
                "on data with at least one valid pixel per channel."
            )
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
    for key, attr in _DERIVED.items():
        if hasattr(estimator, attr):
            fitted[key] = _encode_stat(getattr(estimator, attr))
    return fitted


# -- reading -------------------------------------------------------------------------
class _Reader:
    """Validation helpers that prefix every message with the file name."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, message: str) -> InvalidModelFileError:
        return InvalidModelFileError(f"{self.path}: {message}")

    def integer(self, value: Any, field: str, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(
                f"field {field!r} must be an integer >= {minimum}, got {value!r:.80}."
            )
        return value

    def number(self, value: Any, field: str) -> float:
        if isinstance(value, bool) or not isinstance(value, Real):
            raise self.fail(f"field {field!r} must be a number, got {value!r:.80}.")
        return float(value)

    def keys(self, obj: Any, field: str, allowed: set[str], required: set[str]) -> dict:
        if not isinstance(obj, dict):
            raise self.fail(
                f"field {field!r} must be a JSON object, got {type(obj).__name__}."
            )
        unknown = sorted(set(obj) - allowed)
        if unknown:
            raise self.fail(
                f"field {field!r} has unknown key(s) {unknown}; expected "
                f"{sorted(allowed)}."
            )
        missing = sorted(required - set(obj))
        if missing:
            raise self.fail(f"field {field!r} is missing key(s) {missing}.")
        return obj


def _reject_constant(token: str) -> float:
    raise ValueError(f"non-finite number {token} (JSON has no NaN or Infinity)")


def _finite_float(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise ValueError(f"number {token} overflows to infinity")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


def _nesting_depth(text: str) -> int:
    """Deepest nesting of ``[``/``{`` outside strings, without recursion."""
    skeleton = _JSON_STRING.sub('""', text).encode("utf-8")
    codes = np.frombuffer(skeleton, dtype=np.uint8)
    steps = np.zeros(codes.shape, dtype=np.int64)
    steps[(codes == ord("[")) | (codes == ord("{"))] = 1
    steps[(codes == ord("]")) | (codes == ord("}"))] = -1
    return int(np.cumsum(steps).max(initial=0))


def _read_text(path: str, reader: _Reader, max_bytes: int) -> str:
    try:
        size = os.path.getsize(path)
        if size > max_bytes:
            raise reader.fail(
                f"the file is {size} bytes, more than the {max_bytes}-byte limit "
                "for an "
                "estimator file (a few KiB is usual). Pass a larger max_bytes if the "
                "file is genuine."
            )
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise reader.fail(f"cannot read the file ({exc.strerror or exc}).") from exc
    if not data.strip():
        raise reader.fail(
            "the file is empty; expected an sk_pixels JSON estimator file."
        )
    if data[:1] == b"\x80":
        raise reader.fail(
            "this is a pickle/joblib file, not JSON. load_json never unpickles "
            "(unpickling runs code); use joblib.load only if you trust the "
            "file's source."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise reader.fail(
            f"the file is not UTF-8 text (byte {exc.start}); expected an "
            "sk_pixels JSON "
            "estimator file (binary data such as a pickle is never loaded)."
        ) from exc


def _parse(text: str, reader: _Reader) -> Any:
    depth = _nesting_depth(text)
    if depth > _MAX_DEPTH:
        raise reader.fail(
            f"JSON nested {depth} levels deep (at most {_MAX_DEPTH} allowed)."
        )
    try:
        return json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            object_pairs_hook=_unique_keys,
        )
    except (ValueError, RecursionError) as exc:
        raise reader.fail(
            f"invalid JSON ({exc}); the file is truncated, corrupt or not an "
            "estimator file."
        ) from exc


def _decode_params(cls: type, params: Any, reader: _Reader) -> dict[str, Any]:
    expected = set(cls().get_params(deep=False))
    params = reader.keys(params, "params", expected, expected)
    out = {}
    for name, value in params.items():
        if isinstance(value, dict):
            raise reader.fail(
                f"parameter {name!r} must be a number, string, list or null, "
                "got an object."
            )
        if isinstance(value, list):
            if not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
            ):
                raise reader.fail(
                    f"parameter {name!r} must be a flat list of numbers, "
                    f"got {value!r:.80}."
                )
            if name in ("feature_range", "image_shape"):
                value = tuple(value)
        out[name] = value
    return out


def _check_array_stat(
    reader: _Reader, key: str, stored: Any, recomputed: np.ndarray
) -> None:
    field = f"fitted.{key}"
    items = stored if isinstance(stored, list) else [stored]
    for v in items:
        if v is not None:  # null: undefined, recomputed as NaN below
            reader.number(v, field)
    values = np.asarray([np.nan if v is None else v for v in items], dtype=np.float64)
    if not isinstance(stored, list):
        values = values.reshape(())
    if key in ("std", "var") and np.any(values < 0):
        raise reader.fail(
            f"field {field!r} holds a negative value {values.tolist()}; "
            f"a {key} is >= 0."
        )
    recomputed = np.asarray(recomputed, dtype=np.float64)
    if values.shape != recomputed.shape:
        raise reader.fail(
            f"field {field!r} has {values.size} value(s) but the estimator has "
            f"{recomputed.size} (shape {recomputed.shape}); the file was edited or "
            "is corrupt."
        )
    if not np.array_equal(values, recomputed, equal_nan=True):
        raise reader.fail(
            f"field {field!r} = {values.tolist()} does not match the value recomputed "
            f"from 'statistics', {recomputed.tolist()}; the file was edited or is "
            "corrupt. Refit and save again rather than editing statistics by hand."
        )


def _restore_fitted(estimator: Any, fitted: Any, reader: _Reader) -> None:
    allowed = _FITTED_KEYS | set(_DERIVED)
    fitted = reader.keys(fitted, "fitted", allowed, _FITTED_KEYS)
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
    if not max_value > 0:
        raise reader.fail(
            "field 'fitted.max_value' must be > 0 (the domain maximum), "
            f"got {max_value}."
        )

    stats_doc = fitted["statistics"]
    if stats_doc is None:
        if estimator._learns():
            raise reader.fail(
                f"{type(estimator).__name__} with these parameters learns statistics, "
                "but 'fitted.statistics' is null."
            )
        estimator._validate_params()
        estimator._check_params()
        estimator._check_fixed_lengths(n_channels)
    else:
        try:
            stats = PixelStats.from_dict(stats_doc)
        except InvalidStatsError as exc:
            raise reader.fail(f"field 'fitted.statistics' is invalid: {exc}") from exc
        if stats.exact != is_exact_dtype(stats.input_dtype):
            raise reader.fail(
                f"field 'fitted.statistics' says exact={stats.exact} for dtype "
                f"{stats.input_dtype}, but {stats.input_dtype} statistics are "
                f"{'exact' if is_exact_dtype(stats.input_dtype) else 'float'}."
            )
        if stats.n_channels != n_channels:
            raise reader.fail(
                f"field 'fitted.statistics' has {stats.n_channels} channels but "
                f"'fitted.n_channels' is {n_channels}."
            )
        if any(c == 0 for c in stats_doc["count"]):
            raise reader.fail("field 'fitted.statistics' has a channel with no pixel.")
        estimator.fit_stats(stats, max_value=max_value)
    estimator.n_samples_seen_ = n_seen
    estimator.n_channels_ = n_channels
    estimator.input_dtype_ = dtype
    estimator.max_value_ = max_value
    if stats_doc is None and estimator.scope == "dataset":
        estimator._store_fitted()  # fixed statistics in the units of max_value
    if n_features is not None:
        estimator.n_features_in_ = n_features
    if names is not None:
        estimator.feature_names_in_ = np.asarray(names, dtype=object)
    for key, attr in _DERIVED.items():
        has_attr = hasattr(estimator, attr)
        if key in fitted and not has_attr:
            raise reader.fail(
                f"field 'fitted.{key}' is not an attribute of this estimator."
            )
        if has_attr and key not in fitted:
            raise reader.fail(f"field 'fitted.{key}' is missing.")
        if has_attr:
            _check_array_stat(reader, key, fitted[key], getattr(estimator, attr))


def load_json(
    path: str | os.PathLike,
    *,
    max_bytes: int = MAX_BYTES,
    return_metadata: bool = False,
) -> Any:
    """Read an estimator written by :func:`save_json`, validating everything.

    Loading never executes code: the file is parsed as JSON data and only
    PixelNormalizer, PixelCenterer or PixelStandardizer can be built from it.

    Parameters
    ----------
    path : str or path-like
        File written by :func:`save_json`.
    max_bytes : int, default=1048576
        Refuse larger files (a version-1 file is a few KiB).
    return_metadata : bool, default=False
        Also return a dict with ``"channel_order"``, ``"library_version"`` and
        ``"format_version"``.

    Returns
    -------
    estimator : PixelNormalizer, PixelCenterer or PixelStandardizer
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
        length, a non-finite number, a negative std, or statistics that do
        not match. The message names the file and the field.

    See Also
    --------
    save_json : write the file.
    """
    path = os.fspath(path)
    reader = _Reader(path)
    doc = _parse(_read_text(path, reader, max_bytes), reader)
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
    reader.keys(doc, "(top level)", _TOP_KEYS, _TOP_KEYS)
    if not isinstance(doc["library_version"], str):
        raise reader.fail("field 'library_version' must be a string.")
    name = doc["class"]
    cls = _CLASSES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise reader.fail(
            f"unknown class {name!r:.80}; a file can hold one of {sorted(_CLASSES)}."
        )
    order = doc["channel_order"]
    if order is not None and order not in _CHANNEL_ORDERS:
        raise reader.fail(
            f"field 'channel_order' must be one of {sorted(_CHANNEL_ORDERS)} or "
            f"null, got {order!r:.80}."
        )
    estimator = cls(**_decode_params(cls, doc["params"], reader))
    try:
        estimator._validate_params()
        estimator._check_params()
        if doc["fitted"] is not None:
            _restore_fitted(estimator, doc["fitted"], reader)
    except InvalidModelFileError:
        raise
    except (ValueError, TypeError) as exc:
        raise reader.fail(f"invalid estimator: {exc}") from exc
    if (
        order is not None
        and doc["fitted"] is not None
        and _CHANNEL_ORDERS[order] != estimator.n_channels_
    ):
        raise reader.fail(
            f"field 'channel_order' is {order!r} ({_CHANNEL_ORDERS[order]} "
            "channels) but "
            f"the estimator was fitted on {estimator.n_channels_} channels."
        )
    if return_metadata:
        return estimator, {
            "channel_order": order,
            "library_version": doc["library_version"],
            "format_version": version,
        }
    return estimator
