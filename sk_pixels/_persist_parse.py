"""Safe JSON parsing of estimator files, linear in the size of the file.

The nesting depth is measured in one left-to-right pass before parsing, every
number is bounded as it is parsed (no float overflow, no giant integer), and
duplicate keys are refused; :class:`_Reader` prefixes every message with the
file name. :mod:`sk_pixels._persist_read` turns the parsed document into an
estimator.
"""

from __future__ import annotations

import json
import math
import os
import re
from numbers import Real
from typing import Any

import numpy as np

from ._validation import InvalidStatsError

#: Default size limit of a file to load; a version-1 file is a few KiB.
MAX_BYTES = 1 << 20
#: JSON nesting allowed (a version-1 file nests 3 levels).
_MAX_DEPTH = 16
#: Largest integer a file may hold: every number must convert to a finite float64.
_MAX_INT = int(np.finfo(np.float64).max)
#: Digits of ``_MAX_INT``; a longer integer token is refused without parsing it.
_MAX_DIGITS = len(str(_MAX_INT))


class InvalidModelFileError(InvalidStatsError):
    """A file given to :func:`load_json` is not a valid sk_pixels estimator file.

    A ``ValueError``; the message names the file, the field, what was found and
    what to do.
    """

    __module__ = "sk_pixels.persist"


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
        return float(value)  # finite: _check_numbers bounded every number

    def keys(self, obj: Any, field: str, allowed: set[str], required: set[str]) -> dict:
        if not isinstance(obj, dict):
            raise self.fail(
                f"field {field!r} must be a JSON object, got {type(obj).__name__}."
            )
        unknown = sorted(set(obj) - allowed)
        if unknown:
            shown = ", ".join(repr(k)[:40] for k in unknown[:5])
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            raise self.fail(
                f"field {field!r} has unknown key(s) [{shown}]{more}; expected "
                f"{sorted(allowed)}."
            )
        missing = sorted(required - set(obj))
        if missing:
            raise self.fail(f"field {field!r} is missing key(s) {missing}.")
        return obj


# -- parsing: linear in the size of the file -------------------------------------------
class _BadNumber:
    """A number token that a file may not hold, kept until its field is known.

    The JSON parser does not know where a token sits; :func:`_check_numbers`
    finds these placeholders in the parsed document and names the field.
    """

    __slots__ = ("problem",)

    def __init__(self, problem: str) -> None:
        self.problem = problem


def _constant(token: str) -> _BadNumber:
    return _BadNumber(f"the non-finite number {token} (JSON has no NaN or Infinity)")


def _float(token: str) -> float | _BadNumber:
    value = float(token)
    if not math.isfinite(value):
        return _BadNumber(f"the number {token:.40} that overflows to infinity")
    return value


def _integer(token: str) -> int | _BadNumber:
    digits = len(token.lstrip("-"))
    if digits > _MAX_DIGITS or abs(value := int(token)) > _MAX_INT:
        return _BadNumber(
            f"an integer of {digits} digits ({token:.20}...), beyond the float64 "
            "range (about 1.8e308)"
        )
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r:.80}")
        out[key] = value
    return out


#: A JSON string, closed or not (an unclosed one stops at the end of the text,
#: where the parser then reports it).  Its two alternatives never match the same
#: character and the closing quote is optional, so a match never backtracks and
#: every character is read once: the search is linear even for a megabyte of
#: ``\"`` (the closed-string pattern, retried at every quote, was quadratic).
#: Runs of plain characters are taken whole (``+``): the optional closing quote
#: always matches, so nothing backtracks, and a megabyte-long base64 block is
#: one fast C loop instead of a step per character.
_STRING = re.compile(r'"(?:[^"\\]+|\\.)*"?', re.DOTALL)


def _nesting_depth(text: str) -> int:
    """Deepest nesting of ``[``/``{`` outside strings, in one linear pass."""
    skeleton = _STRING.sub('""', text).encode("utf-8")
    codes = np.frombuffer(skeleton, dtype=np.uint8)
    steps = np.zeros(codes.shape, dtype=np.int64)
    steps[(codes == ord("[")) | (codes == ord("{"))] = 1
    steps[(codes == ord("]")) | (codes == ord("}"))] = -1
    return int(np.cumsum(steps).max(initial=0))


def _check_numbers(doc: Any, reader: _Reader) -> None:
    """Refuse the first number the file may not hold, naming its field."""
    stack: list[tuple[Any, str]] = [(doc, "")]
    while stack:
        value, field = stack.pop()
        if isinstance(value, _BadNumber):
            raise reader.fail(
                f"field {field or '(top level)'!r:.120} holds {value.problem}."
            )
        if isinstance(value, dict):
            stack.extend(
                (v, f"{field}.{k}" if field else str(k)) for k, v in value.items()
            )
        elif isinstance(value, list):
            stack.extend((v, f"{field}[{i}]") for i, v in enumerate(value))


def _read_text(path: str, reader: _Reader, max_bytes: int) -> str:
    try:
        size = os.path.getsize(path)
        if size > max_bytes:
            raise reader.fail(
                f"the file is {size} bytes, more than the {max_bytes}-byte limit "
                "for an estimator file (a few KiB is usual). Pass a larger "
                "max_bytes if the file is genuine."
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
            "sk_pixels JSON estimator file (binary data such as a pickle is "
            "never loaded)."
        ) from exc


def _parse(text: str, reader: _Reader) -> Any:
    depth = _nesting_depth(text)
    if depth > _MAX_DEPTH:
        raise reader.fail(
            f"JSON nested {depth} levels deep (at most {_MAX_DEPTH} allowed)."
        )
    bad: list[_BadNumber] = []  # found by the hooks: walk the document only then

    def keep(number: Any) -> Any:
        if type(number) is _BadNumber:
            bad.append(number)
        return number

    try:
        doc = json.loads(
            text,
            parse_constant=lambda token: keep(_constant(token)),
            parse_float=lambda token: keep(_float(token)),
            parse_int=lambda token: keep(_integer(token)),
            object_pairs_hook=_unique_keys,
        )
    except (ValueError, RecursionError) as exc:
        raise reader.fail(
            f"invalid JSON ({exc}); the file is truncated, corrupt or not an "
            "estimator file."
        ) from exc
    if bad:
        _check_numbers(doc, reader)
    return doc
