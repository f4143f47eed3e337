"""The README's "Tested against" block, counted from the collected tests.

Every figure is a count of collected test items (or a bound that a test
asserts), so it is known without running anything, the same on every machine,
and checked by ``tests/test_tested_against.py``, which fails while the README's
block differs from what the current tests give.

Regenerate the block (a collection-only pytest run, a few seconds)::

    python -m tests._tested_against --write      # rewrite README.md's block
    python -m tests._tested_against              # print the block
    python -m tests._tested_against --check      # exit 1 when README.md is stale

A plain ``pytest`` never writes README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import io
import os
import sys
from pathlib import Path

START = "<!-- tested-against:start -->"
END = "<!-- tested-against:end -->"
ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
COMMAND = "python -m tests._tested_against --write"


def _module(item) -> str:
    return item.nodeid.split("::", 1)[0].rsplit("/", 1)[-1]


def _max_examples(item) -> int:
    # Hypothesis keeps the settings a test runs with on the test function (the
    # one place this module reads a name of hypothesis's internals).
    from hypothesis import settings

    chosen = getattr(item.obj, "_hypothesis_internal_use_settings", None)
    return (chosen or settings.default).max_examples


def figures(items) -> dict:
    """The figures of the block, from collected pytest items."""
    per_module: dict[str, int] = {}
    cases = set()
    properties = examples = xfails = 0
    load: dict[str, object] = {}
    for item in items:
        module = _module(item)
        per_module[module] = per_module.get(module, 0) + 1
        params = getattr(getattr(item, "callspec", None), "params", {})
        if module.endswith("_bad_input.py"):
            if "array" in params:
                # The shared bad arrays count once for all their entry points.
                cases.add(("array", str(params["array"])))
            elif "case" in params:
                cases.add((module, params["case"]))
        if item.get_closest_marker("hypothesis") is not None:
            properties += 1
            examples += _max_examples(item)
        if item.get_closest_marker("xfail") is not None:
            xfails += 1
        if module == "test_load.py":
            for name in ("N_THREADS", "N_SMALL", "N_LARGE", "MAX_RSS_RATIO"):
                if hasattr(item.module, name):
                    load[name] = getattr(item.module, name)
    bad_input_checks = sum(
        n for m, n in per_module.items() if m.endswith("_bad_input.py")
    )
    return {
        "bad_input_cases": len(cases),
        "bad_input_checks": bad_input_checks,
        "fault_scenarios": per_module.get("test_faults.py", 0),
        "security_checks": per_module.get("test_security.py", 0),
        "exactness_checks": per_module.get("test_exactness.py", 0),
        "property_tests": properties,
        "hypothesis_examples": examples,
        "xfailed": xfails,
        **load,
    }


def markdown(figures: dict) -> str:
    """The block, markers included."""
    from sk_pixels import __version__

    rows = [
        (
            "Bad inputs (empty, 1-D/5-D, NaN/inf, bool/complex/object/str, 11 numeric "
            "dtypes, strided/read-only views, DataFrames, lists, uint16 at 65535...) "
            "through fit, partial_fit, transform, inverse_transform, fit_stats, "
            "save/load_json, PixelStats, dataset_stats and every CLI subcommand",
            f"{figures['bad_input_cases']} inputs, "
            f"{figures['bad_input_checks']:,} checks "
            "against a float64 NumPy reference or a pinned error message",
        ),
        (
            "Fault scenarios: interrupted `fit`/`apply` (exceptions, SIGKILL), damaged "
            "stats files, files vanishing or changing during `dataset_stats`",
            f"{figures['fault_scenarios']}",
        ),
        (
            "Security checks: `load_json` schema, size limit, files opened; pickles "
            "refused without `--trust-pickle`",
            f"{figures['security_checks']}",
        ),
        (
            "Property tests (hypothesis)",
            f"{figures['property_tests']} tests, up to "
            f"{figures['hypothesis_examples']:,} examples a run",
        ),
        (
            "Exact integer statistics at scale (merged PixelStats of uint16 at 65535)",
            f"{figures['exactness_checks']} checks, up to 2^70 pixels per channel",
        ),
    ]
    if {"N_SMALL", "N_LARGE", "MAX_RSS_RATIO"} <= figures.keys():
        rows.append(
            (
                f"Peak memory of `dataset_stats`, {figures['N_LARGE']:,} vs "
                f"{figures['N_SMALL']:,} images",
                f"at most x{figures['MAX_RSS_RATIO']:.2f}",
            )
        )
    if "N_THREADS" in figures:
        rows.append(
            (
                "Threads sharing one fitted estimator (identical results)",
                f"{figures['N_THREADS']}",
            )
        )
    lines = [
        START,
        f"_Counted from the test suite (sk_pixels {__version__}; "
        f"{figures['xfailed']} expected failures, each declared with its reason); "
        f"regenerate with `{COMMAND}`._",
        "",
        "| Tested against | Count |",
        "|---|---|",
        *[f"| {what} | {count} |" for what, count in rows],
        END,
    ]
    return "\n".join(lines)


def read_block(path: Path = README) -> str | None:
    """The block currently in ``path`` (markers included), or None."""
    text = path.read_text(encoding="utf-8")
    if START not in text or END not in text:
        return None
    return START + text.split(START, 1)[1].split(END, 1)[0] + END


def write_block(block: str, path: Path = README) -> None:
    """Put ``block`` between the markers of ``path``."""
    text = path.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise SystemExit(f"{path} has no '{START}' ... '{END}' markers; add them.")
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(head + block + tail, encoding="utf-8")
    os.replace(tmp, path)


def stale_message(current: str | None, block: str, path: Path = README) -> str:
    diff = "\n".join(
        difflib.unified_diff(
            (current or "").splitlines(),
            block.splitlines(),
            "README (current)",
            "tests (collected)",
            lineterm="",
        )
    )
    return (
        f"The 'Tested against' block of {path.name} is stale: run `{COMMAND}`.\n{diff}"
    )


# -- the collected items of a run ------------------------------------------------------
class Recorder:
    """A pytest plugin that keeps the collected items, and whether any was
    deselected (``-k``, ``-m``, ``--deselect``, ``--lf``)."""

    NAME = "tested-against-recorder"

    def __init__(self):
        self.items = []
        self.deselected = False

    def pytest_deselected(self, items):
        self.deselected = self.deselected or bool(items)

    def pytest_collection_finish(self, session):
        self.items = list(session.items)


def complete_items(config) -> list | None:
    """The items this pytest run collected, if they are the whole suite."""
    recorder = config.pluginmanager.get_plugin(Recorder.NAME)
    if recorder is None or recorder.deselected or any("::" in a for a in config.args):
        return None
    files = {path.name for path in (ROOT / "tests").glob("test_*.py")}
    if not files <= {_module(item) for item in recorder.items}:
        return None
    return recorder.items


def collected_items() -> list:
    """Collect the whole suite (``--collect-only``, README's test command)."""
    import pytest

    recorder = Recorder()
    with contextlib.redirect_stdout(io.StringIO()) as out:
        code = pytest.main(
            ["--collect-only", "-qq", "-p", "no:cacheprovider", f"--rootdir={ROOT}"],
            plugins=[recorder],
        )
    if code != 0:
        raise RuntimeError(f"collecting the tests failed:\n{out.getvalue()}")
    return recorder.items


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests._tested_against", description=__doc__.split("\n")[0]
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help="rewrite the block")
    action.add_argument(
        "--check", action="store_true", help="exit 1 when the block is stale"
    )
    parser.add_argument("readme", nargs="?", type=Path, default=README)
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    block = markdown(figures(collected_items()))
    if args.write:
        write_block(block, args.readme)
        print(f"wrote the 'Tested against' block of {args.readme}")
    elif args.check:
        current = read_block(args.readme)
        if current != block:
            print(stale_message(current, block, args.readme), file=sys.stderr)
            return 1
    else:
        print(block)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
