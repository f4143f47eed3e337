"""CLI start-up: how long ``sk-pixels`` takes before it answers, and what it imports.

Times, in interleaved rounds of fresh processes (``python -m sk_pixels ...``):

* ``python -c pass`` (the floor: the interpreter alone);
* ``--version`` and ``--help`` (the parser only);
* ``stats`` on two small PNGs (decoding and exact statistics);

and lists, for each command, which of NumPy, Pillow and scikit-learn it
imported.  ``--tree PATH`` (repeatable) measures other checkouts in the same
rounds, e.g. an older commit extracted with
``git archive OLD sk_pixels | tar -x -C /tmp/old`` for a before/after table.
Run: ``python benchmarks/bench_cli_startup.py`` (about half a minute per tree).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from _timing import compare, fmt_ms, markdown_table, report
from PIL import Image

_PROBE = (
    "import sys; from sk_pixels.cli import main; main(sys.argv[1:]); "
    "print('imports:', *(m for m in ('numpy', 'PIL', 'sklearn') if m in sys.modules))"
)


def _imports(env: dict, argv: list[str]) -> str:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv], env=env, capture_output=True, text=True
    ).stdout
    found = [line for line in out.splitlines() if line.startswith("imports:")]
    if not found:
        return "?"
    return ", ".join(found[-1].split()[1:]) or "none of them"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", default=None, metavar="PATH")
    parser.add_argument("--repeats", type=int, default=10)
    options = parser.parse_args()
    trees = options.tree or [str(Path(__file__).resolve().parents[1])]
    with tempfile.TemporaryDirectory() as folder:
        rng = np.random.default_rng(0)
        images = [str(Path(folder, f"{k}.png")) for k in range(2)]
        for path in images:
            pixels = rng.integers(0, 256, (32, 48, 3), np.uint8)
            Image.fromarray(pixels).save(path)
        commands = {
            "--version": ["--version"],
            "--help": ["--help"],
            "stats (2 PNGs)": ["stats", *images],
        }

        def runner(env, argv):
            return lambda: subprocess.run(
                [sys.executable, *argv], env=env, capture_output=True, check=True
            )

        candidates = {("-", "python -c pass (floor)"): runner(None, ["-c", "pass"])}
        imported = {}
        for tree in trees:
            env = dict(os.environ, PYTHONPATH=tree)
            for name, argv in commands.items():
                candidates[tree, name] = runner(env, ["-m", "sk_pixels", *argv])
                imported[tree, name] = _imports(env, argv)
        timings = compare(candidates, repeats=options.repeats, warmup=2)
    rows = [
        [tree, f"`{name}`", fmt_ms(timing) + " ms", imported.get((tree, name), "-")]
        for (tree, name), timing in timings.items()
    ]
    report(
        "CLI start-up",
        f"Fresh processes, median ± MAD of {options.repeats} interleaved rounds.",
        markdown_table(["tree", "command", "wall time", "imports"], rows),
    )


if __name__ == "__main__":
    main()
