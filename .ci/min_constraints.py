"""Write pip constraints pinning every dependency floor declared in setup.cfg.

``python .ci/min_constraints.py > min.txt`` prints one ``name==floor`` line for
each requirement of ``install_requires`` and of the extras named with ``--extra``
(default: ``test``) that has a ``>=`` floor; exact pins (``==``) are kept as they
are. Use the file with ``pip install -c min.txt`` (or ``uv pip install -c``) to test
the oldest versions that setup.cfg claims to support. ``--skip NAME`` leaves a
package out (for example ``torch``, whose pinned build exists for one Python only);
a skipped package is also dropped from the requirement lines that
``--requirements`` prints.
"""

from __future__ import annotations

import argparse
import configparser
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# name, optional [extras], then the version specifiers.
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(\[[^\]]*\])?\s*(.*?)\s*$")


def requirements(extras: list[str]) -> list[str]:
    """The requirement lines of install_requires plus the given extras."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    lines = cfg["options"]["install_requires"].splitlines()
    for extra in extras:
        lines += cfg["options.extras_require"][extra].splitlines()
    return [line.strip() for line in lines if line.strip()]


def floors(lines: list[str], skip: set[str]) -> dict[str, str]:
    """``{name: "name==version"}`` for each requirement with a floor or a pin."""
    pins: dict[str, str] = {}
    for line in lines:
        match = _REQUIREMENT.match(line)
        if match is None:
            raise SystemExit(f"cannot parse requirement {line!r} in setup.cfg")
        name, _, spec = match.groups()
        if name.lower() in skip:
            continue
        for clause in filter(None, (c.strip() for c in spec.split(","))):
            op, version = re.match(r"(>=|==|<=|<|>|!=|~=)\s*(.+)", clause).groups()
            if op in (">=", "=="):
                pins[name.lower()] = f"{name}=={version}"
    return pins


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extra", action="append", default=None)
    parser.add_argument("--skip", action="append", default=[])
    parser.add_argument(
        "--requirements",
        action="store_true",
        help="print the requirement lines (less the skipped) instead of pins",
    )
    args = parser.parse_args(argv)
    skip = {name.lower() for name in args.skip}
    lines = requirements(args.extra if args.extra is not None else ["test"])
    if args.requirements:
        for line in lines:
            match = _REQUIREMENT.match(line)
            if match.group(1).lower() not in skip:
                print(line)
        return 0
    for pin in floors(lines, skip).values():
        print(pin)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
