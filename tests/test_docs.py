"""The API reference (docs/api.rst) lists every public name, and nothing else.

The reference names each object by the module users import it from; these tests
read the reST source (no Sphinx needed) and compare it with each public module's
``__all__``, so that a name added to, or removed from, the API cannot be left
out of the documentation.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

API = Path(__file__).resolve().parent.parent / "docs" / "api.rst"
PUBLIC_MODULES = ["sk_pixels", "sk_pixels.io", "sk_pixels.persist"]

_DIRECTIVE = re.compile(r"^\.\. ([\w:-]+)::\s*(.*?)\s*$")


def documented_names(text: str) -> dict[str, set[str]]:
    """``{module: names}`` from the autosummary lists and ``.. data::`` entries.

    ``.. currentmodule:: M`` sets the module of the entries that follow; an
    autosummary entry is an indented line of its body that is not an option.
    """
    names: dict[str, set[str]] = {}
    module = None
    in_autosummary = False
    for line in text.splitlines():
        directive = _DIRECTIVE.match(line)
        if directive:
            kind, argument = directive.groups()
            in_autosummary = kind == "autosummary"
            if kind == "currentmodule":
                module = argument
            elif kind in ("data", "autodata", "py:data"):
                names.setdefault(module, set()).add(argument)
            continue
        if in_autosummary and line.strip():
            if not line.startswith(" "):
                in_autosummary = False
            elif not line.strip().startswith(":"):
                names.setdefault(module, set()).add(line.strip())
    return names


CASES = [
    # (reST, expected {module: names})
    (
        ".. currentmodule:: m\n\n.. autosummary::\n   :toctree: g/\n\n   A\n   b\n",
        {"m": {"A", "b"}},
    ),
    (
        ".. currentmodule:: m\n\n.. data:: X\n\n   Text.\n\n"
        ".. currentmodule:: n\n\n.. autosummary::\n\n   f\n\nProse f.\n",
        {"m": {"X"}, "n": {"f"}},
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_documented_names_reads_autosummary_and_data_entries(text, expected):
    assert documented_names(text) == expected


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_api_reference_lists_exactly_the_public_names(module):
    documented = documented_names(API.read_text(encoding="utf-8")).get(module, set())
    public = set(importlib.import_module(module).__all__)
    assert sorted(public - documented) == [], "public but not in docs/api.rst"
    assert sorted(documented - public) == [], "in docs/api.rst but not in __all__"


def test_every_documented_name_exists():
    for module, names in documented_names(API.read_text(encoding="utf-8")).items():
        imported = importlib.import_module(module)
        missing = [name for name in sorted(names) if not hasattr(imported, name)]
        assert missing == [], f"{module} has no {missing}"
