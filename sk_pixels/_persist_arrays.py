"""Array-valued fitted state in estimator files (format version 3), without pickle.

Mean images (``per_pixel=True``) and whitening covariances hold far more
numbers than JSON lists carry well, so :func:`~sk_pixels.save_json` stores
them as *array blocks* inside the same JSON document (one file, written
atomically, read by the same validating reader)::

    {"dtype": "float64", "shape": [224, 224, 3], "data": "<base64>"}

``data`` is the base64 text of the array's little-endian bytes in C order.
``dtype`` is one of:

* ``"float64"``, ``"int64"``: 8 bytes per value;
* ``"bigint"``: integers beyond int64 (exact sums of very many 16-bit
  pixels), stored as int64 pairs ``(hi, lo)`` of shape ``(2, *shape)`` with
  value ``hi * 2**62 + lo`` and ``0 <= lo < 2**62`` (so ``|value| < 2**125``:
  sums of squares of 16-bit pixels of 2**92 images).

Every block is checked before anything is allocated: exactly these three keys,
a dtype the field allows (never ``object``, so nothing can unpickle), a shape
of at most four positive integers that the field expects, and a ``data``
string whose length is exactly the base64 length of ``prod(shape) * itemsize``
bytes.  So a declared shape never allocates more than the file holds, and
the file's size is bounded by ``load_json``'s ``max_bytes``.  Then strict
base64 decoding, and float values checked finite where the field needs it.
Files without arrays keep format version 1 or 2.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

import numpy as np

#: The keys of an array block.
BLOCK_KEYS = frozenset({"dtype", "shape", "data"})
#: Bytes per value of each block dtype.
_ITEMSIZE = {"int64": 8, "float64": 8, "bigint": 16}
_MAX_NDIM = 4
_LOW_BITS = 62
_INT64 = (-(2**63), 2**63 - 1)


def is_block(value: Any) -> bool:
    """Whether a parsed JSON value is meant as an array block."""
    return isinstance(value, dict) and "data" in value and "shape" in value


# -- writing -------------------------------------------------------------------------
def encode(values: Any, keep_object: bool = False) -> dict[str, Any]:
    """An array (float, integer, or object array of Python ints) as a block.

    Integers go to ``int64`` when they fit, else to ``bigint``; with
    ``keep_object``, an object array stays ``bigint`` (so that it loads as
    Python integers again, the type its arithmetic depends on).
    """
    a = np.asarray(values)
    if a.dtype.kind == "f":
        kind, data = "float64", a.astype("<f8")
    elif a.dtype.kind in "iu" or a.dtype == object:
        ints = a.astype(object)
        fits = not (keep_object and a.dtype == object) and (
            not a.size
            or _INT64[0] <= min(ints.ravel().tolist())
            and max(ints.ravel().tolist()) <= _INT64[1]
        )
        if fits:
            kind, data = "int64", a.astype("<i8")
        else:
            kind = "bigint"
            hi = ints // (1 << _LOW_BITS)
            lo = ints - hi * (1 << _LOW_BITS)
            try:
                data = np.stack([hi.astype("<i8"), lo.astype("<i8")])
            except OverflowError:
                raise ValueError(
                    "An integer statistic exceeds 2**125, the largest a file "
                    "stores; no realistic fit reaches it (it takes 2**92 images "
                    "of 16-bit pixels)."
                ) from None
    else:
        raise TypeError(f"Cannot store an array of dtype {a.dtype} in a file.")
    raw = np.ascontiguousarray(data).tobytes()
    return {
        "dtype": kind,
        "shape": [int(s) for s in a.shape],
        "data": base64.b64encode(raw).decode("ascii"),
    }


# -- reading -------------------------------------------------------------------------
def decode(
    block: Any,
    reader: Any,
    field: str,
    *,
    kinds: tuple[str, ...],
    shape: tuple[int, ...] | None = None,
    allow_nan: bool = False,
) -> np.ndarray:
    """A validated block -> a writable NumPy array (object of ints for bigint).

    ``kinds``: the block dtypes the field allows; ``shape``: the shape it must
    have (None: any shape of at most four axes).
    """
    reader.keys(block, field, set(BLOCK_KEYS), set(BLOCK_KEYS))
    kind = block["dtype"]
    if not isinstance(kind, str) or kind not in kinds:
        raise reader.fail(
            f"field '{field}.dtype' must be one of {list(kinds)}, got {kind!r:.40} "
            "(object arrays are never loaded)."
        )
    declared = block["shape"]
    if (
        not isinstance(declared, list)
        or not 1 <= len(declared) <= _MAX_NDIM
        or not all(type(s) is int and s >= 1 for s in declared)
    ):
        raise reader.fail(
            f"field '{field}.shape' must be a list of 1 to {_MAX_NDIM} integers >= 1, "
            f"got {declared!r:.80}."
        )
    if shape is not None and tuple(declared) != tuple(shape):
        raise reader.fail(
            f"field '{field}.shape' is {declared}, but the estimator needs shape "
            f"{list(shape)}; the file was edited or is corrupt."
        )
    n_bytes = _ITEMSIZE[kind]
    for s in declared:
        n_bytes *= s  # Python ints: no overflow, whatever the file declares
    data = block["data"]
    expected = 4 * -(-n_bytes // 3)
    if not isinstance(data, str) or len(data) != expected:
        found = f"{len(data)} characters" if isinstance(data, str) else "no string"
        raise reader.fail(
            f"field '{field}.data' must be {expected} base64 characters (the "
            f"{n_bytes} bytes of shape {declared} {kind}), got {found}; the file "
            "is truncated or was edited."
        )
    try:
        raw = base64.b64decode(data.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise reader.fail(f"field '{field}.data' is not valid base64 ({exc}).") from exc
    if len(raw) != n_bytes:
        raise reader.fail(
            f"field '{field}.data' decodes to {len(raw)} bytes, not {n_bytes}."
        )
    if kind == "bigint":
        pairs = np.frombuffer(raw, dtype="<i8").reshape(2, *declared)
        hi, lo = pairs[0].astype(object), pairs[1].astype(object)
        if np.any(pairs[1] < 0):
            raise reader.fail(f"field '{field}.data' holds a negative low part.")
        return hi * (1 << _LOW_BITS) + lo
    dtype = "<f8" if kind == "float64" else "<i8"
    values = np.frombuffer(raw, dtype=dtype).reshape(declared).astype(dtype[1:])
    if kind == "float64":
        bad = np.isinf(values) if allow_nan else ~np.isfinite(values)
        if np.any(bad):
            raise reader.fail(
                f"field '{field}' holds a non-finite value "
                f"{values[bad].ravel()[0]} (allowed: finite numbers"
                f"{', NaN where undefined' if allow_nan else ''})."
            )
    return values


def decode_stat(stored: Any, reader: Any, field: str) -> np.ndarray:
    """A derived statistic (``mean``, ``std``...) stored as a block: NaN marks
    an undefined value (the ``ddof=1`` std of one image)."""
    return decode(stored, reader, field, kinds=("float64",), allow_nan=True)


def check_stat(reader: Any, key: str, stored: Any, recomputed: np.ndarray) -> None:
    """A derived statistic in the file (a number, a list, or a block) must be
    the estimator's, exactly."""
    field = f"fitted.{key}"
    if is_block(stored):
        values = decode_stat(stored, reader, field)
    else:
        items = stored if isinstance(stored, list) else [stored]
        for v in items:
            if v is not None:  # null: undefined, recomputed as NaN below
                reader.number(v, field)
        values = np.asarray(
            [np.nan if v is None else v for v in items], dtype=np.float64
        )
        if not isinstance(stored, list):
            values = values.reshape(())
    if key in ("std", "var") and np.any(values < 0):
        raise reader.fail(
            f"field {field!r} holds a negative value {values.ravel()[:8].tolist()}; "
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
            f"field {field!r} = {values.ravel()[:8].tolist()} does not match the "
            f"value recomputed from 'statistics', {recomputed.ravel()[:8].tolist()}"
            f"{' (first values)' if values.size > 8 else ''}; the file was edited "
            "or is corrupt. Refit and save again rather than editing statistics by "
            "hand."
        )


# -- per-pixel statistics (mean images) -----------------------------------------------
_INT_FIELDS = ("count", "sum", "sumsq")
_FLOAT_FIELDS = ("min", "max", "mean", "mean_lo", "m2")
_PIXEL_STATS_KEYS = {
    "dtype",
    "exact",
    "n_images",
    "shape",
    *_INT_FIELDS,
    *_FLOAT_FIELDS,
}


def pixel_stats_doc(stats: Any) -> dict[str, Any]:
    """Per-pixel :class:`PixelStats` -> ``PixelStats.to_dict()`` with blocks."""
    shape = tuple(stats.min.shape)
    from ._per_pixel import reshaped

    doc = reshaped(stats, (int(np.prod(shape)),)).to_dict()
    for key in (*_INT_FIELDS, *_FLOAT_FIELDS):
        if key in doc:
            kind = object if key in _INT_FIELDS else np.float64
            doc[key] = encode(np.asarray(doc[key], dtype=kind).reshape(shape))
    doc["shape"] = list(shape)
    return doc


def read_pixel_stats(
    doc: dict, reader: Any, field: str, shape: tuple[int, ...]
) -> dict[str, Any]:
    """Blocks of per-pixel statistics -> the flat lists of ``PixelStats.to_dict``.

    ``shape``: the image shape the file declares (``fitted.pixel_shape``).
    """
    reader.keys(doc, field, _PIXEL_STATS_KEYS, {"dtype", "exact", "n_images", "shape"})
    if doc["shape"] != list(shape):
        raise reader.fail(
            f"field '{field}.shape' is {doc['shape']!r:.80}, but "
            f"'fitted.pixel_shape' is {list(shape)}."
        )
    flat = {k: v for k, v in doc.items() if k != "shape"}
    for key in (*_INT_FIELDS, *_FLOAT_FIELDS):
        if key not in doc:
            continue  # PixelStats.from_dict says which field is missing
        kinds = ("int64", "bigint") if key in _INT_FIELDS else ("float64",)
        values = decode(doc[key], reader, f"{field}.{key}", kinds=kinds, shape=shape)
        flat[key] = values.ravel().tolist()
    return flat


def check_pixel_shape(
    fitted: dict, reader: Any, per_pixel: bool, layout: tuple
) -> tuple[int, ...] | None:
    """``fitted.pixel_shape``: present exactly for ``per_pixel=True``, and
    consistent with the channel count and the values per image."""
    from ._per_pixel import pixel_layout

    stored = fitted.get("pixel_shape")
    if not per_pixel:
        if stored is not None:
            raise reader.fail(
                "field 'fitted.pixel_shape' is for per_pixel=True estimators only."
            )
        return None
    if (
        not isinstance(stored, list)
        or not 1 <= len(stored) <= _MAX_NDIM
        or not all(type(s) is int and s >= 1 for s in stored)
    ):
        raise reader.fail(
            "field 'fitted.pixel_shape' must be the shape of one image (1 to "
            f"{_MAX_NDIM} integers >= 1), got {stored!r:.80}."
        )
    shape, axis = pixel_layout(tuple(stored), *layout)
    channels = 1 if axis is None else shape[axis]
    values = math.prod(shape)  # Python ints: no overflow, nothing allocated
    n_features = fitted.get("n_features_in")
    if (
        shape != tuple(stored)
        or channels != fitted.get("n_channels")
        or n_features not in (None, values)
    ):
        raise reader.fail(
            f"field 'fitted.pixel_shape' ({list(shape)}: {channels} channel(s), "
            f"{values} values) contradicts 'fitted.n_channels' "
            f"({fitted.get('n_channels')!r:.20}) or 'fitted.n_features_in' "
            f"({n_features!r:.20})."
        )
    return shape
