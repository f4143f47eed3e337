"""What a call should do, as data: the vocabulary of the bad-input tables.

Each row of a table names an input and one of these outcomes; :func:`check`
runs the call under it.

>>> check(OK, lambda: 3)
3
>>> check(Raises(ZeroDivisionError, "division by zero"), lambda: 1 / 0)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass(frozen=True)
class Raises:
    """The call raises ``exc`` (or a subclass) with a message matching ``match``."""

    exc: type[BaseException]
    match: str


@dataclass(frozen=True)
class Warns:
    """The call warns with ``category`` and ``match``, then returns its result."""

    category: type[Warning]
    match: str


@dataclass(frozen=True)
class Exits:
    """A command-line call returns exit ``code``; its last stderr line matches
    ``match`` (checked by the caller, which owns the captured stderr)."""

    code: int
    match: str


@dataclass(frozen=True)
class Returns:
    """The call returns normally, without warning; the table's test checks the
    result itself (against a reference)."""

    def __repr__(self) -> str:
        return "OK"


OK = Returns()

Outcome = Raises | Warns | Exits | Returns


def check(outcome: Outcome, call: Callable[[], Any]) -> Any:
    """Run ``call()`` under ``outcome``; return its result, or None if it raised.

    Warnings not declared by the outcome stay errors (the suite's
    ``filterwarnings = ["error"]``).
    """
    if isinstance(outcome, Raises):
        with pytest.raises(outcome.exc, match=outcome.match):
            call()
        return None
    if isinstance(outcome, Warns):
        with pytest.warns(outcome.category, match=outcome.match):
            return call()
    if isinstance(outcome, Exits):
        result = call()
        assert result == outcome.code, f"exit code {result}, expected {outcome.code}"
        return result
    if isinstance(outcome, Returns):
        return call()
    raise TypeError(f"Not an outcome: {outcome!r}; use Raises, Warns, Exits or OK.")
