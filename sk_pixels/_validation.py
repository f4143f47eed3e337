"""Validation of plain-data documents (stats dicts, JSON files): never trust input."""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np


class InvalidStatsError(ValueError):
    """A statistics document is malformed; the message says which field and why."""


def _number_list(data: dict, key: str, *, integer: bool = False, length=None) -> list:
    value = data.get(key)
    if not isinstance(value, list) or not value:
        raise InvalidStatsError(
            f"Field {key!r} must be a non-empty list, got {value!r:.80}."
        )
    kind = Integral if integer else Real
    plain = (int,) if integer else (int, float)  # what JSON and tolist() give
    for item in value if not all(type(v) in plain for v in value) else ():
        if isinstance(item, bool) or not isinstance(item, kind):
            what = "integers" if integer else "numbers"
            raise InvalidStatsError(
                f"Field {key!r} must hold {what}, got {item!r:.80}."
            )
    if length is not None and len(value) != length:
        raise InvalidStatsError(
            f"Field {key!r} has {len(value)} values but 'count' has {length} channels."
        )
    return value


def check_stats_dict(data: Any) -> dict[str, Any]:
    """Validate a dict written by :meth:`PixelStats.to_dict` and return it."""
    if not isinstance(data, dict):
        raise InvalidStatsError(
            f"Statistics must be a JSON object, got {type(data).__name__}."
        )
    dtype = data.get("dtype")
    try:
        dtype_ok = isinstance(dtype, str) and np.dtype(dtype).kind in "uif"
    except TypeError:
        dtype_ok = False
    if not dtype_ok:
        raise InvalidStatsError(
            f"Field 'dtype' must name a numeric dtype, got {dtype!r:.80}."
        )
    if not isinstance(data.get("exact"), bool):
        raise InvalidStatsError(
            f"Field 'exact' must be true or false, got {data.get('exact')!r:.40}."
        )
    n_images = data.get("n_images")
    if isinstance(n_images, bool) or not isinstance(n_images, Integral) or n_images < 0:
        raise InvalidStatsError(
            f"Field 'n_images' must be a count >= 0, got {n_images!r:.80}."
        )
    count = _number_list(data, "count", integer=True)
    if any(c < 0 for c in count):
        raise InvalidStatsError("Field 'count' must not be negative.")
    n = len(count)
    # A channel that counted no pixel has NaN extrema (and mean), which strict
    # JSON writes as null (``sk-pixels stats --json``): read null back as NaN.
    data = {
        **data,
        **{
            key: [math.nan if v is None and c == 0 else v for c, v in zip(count, value)]
            for key in ("min", "max", "mean")
            if isinstance(value := data.get(key), list) and len(value) == n
        },
    }
    keys = ("sum", "sumsq") if data["exact"] else ("mean", "m2")
    if not data["exact"] and "mean_lo" in data:
        keys = (*keys, "mean_lo")  # optional: the rounding error of "mean"
    for key in ("min", "max", *keys):
        values = _number_list(
            data, key, integer=data["exact"] and key in keys, length=n
        )
        if key in ("mean", "mean_lo", "m2", "min", "max"):
            # NaN is legitimate only where a channel counted no pixel.
            for c, v in zip(count, values, strict=True):
                if c > 0 and not math.isfinite(v):
                    raise InvalidStatsError(
                        f"Field {key!r} holds {v} for a channel of {c} pixels; "
                        "only a channel that counted no pixel may hold NaN."
                    )
        if key in ("m2", "sumsq") and any(v < 0 for v in values):
            raise InvalidStatsError(f"Field {key!r} must not be negative.")
    return data


def stats_fields(data: dict[str, Any]) -> tuple:
    """The fields of a :meth:`PixelStats.to_dict` document, validated.

    Returns ``(input_dtype, n_images, moments, min, max)``; raises
    :class:`InvalidStatsError` for a malformed field or fields that
    contradict each other (``exact`` not matching ``dtype``, a minimum above
    its maximum, or moments no set of pixels has: ``count * sumsq < sum**2``).
    """
    from ._moments import ExactMoments, FloatMoments, as_ints
    from ._reduce import is_exact_dtype

    data = check_stats_dict(data)
    if data["exact"] != is_exact_dtype(data["dtype"]):
        kind = "exact" if is_exact_dtype(data["dtype"]) else "float"
        raise InvalidStatsError(
            f"Field 'exact' is {str(data['exact']).lower()} for dtype "
            f"{data['dtype']}, but {data['dtype']} statistics are {kind} (exact "
            "only for integers of at most 16 bits)."
        )
    count = data["count"]
    if not data["exact"] and max(count) > np.iinfo(np.int64).max:
        raise InvalidStatsError(
            f"Field 'count' holds {max(count)}, more than the float statistics "
            f"of one channel can count (2**63 - 1)."
        )
    kind = ExactMoments if data["exact"] else FloatMoments
    moments = kind.from_fields(count, data)
    lo = np.asarray(data["min"], dtype=np.float64)
    hi = np.asarray(data["max"], dtype=np.float64)
    counted = as_ints(count) > 0
    if data["exact"]:  # (float documents: check_stats_dict refuses m2 < 0)
        bad = np.flatnonzero(counted & moments.inconsistent()).tolist()
    if data["exact"] and bad:
        raise InvalidStatsError(
            f"Fields 'count', 'sum' and 'sumsq' are inconsistent in channel(s) "
            f"{bad}: count * sumsq < sum**2, which no set of pixels gives."
        )
    bad = np.flatnonzero(counted & (lo > hi)).tolist()
    if bad:
        raise InvalidStatsError(
            f"Field 'min' exceeds field 'max' in channel(s) {bad} "
            f"(min={lo[bad].tolist()}, max={hi[bad].tolist()})."
        )
    return data["dtype"], data["n_images"], moments, lo, hi
