"""The README's "Tested against" figures, counted by the test run itself.

Hooks (imported by ``tests/conftest.py``) count, during a normal ``pytest``
run, the bad inputs of the matrix, the fault and security scenarios, the
property tests and the hypothesis examples they ran, and the load figures.

- Every run prints a one-line summary at the end of the terminal report.
- With ``SK_PIXELS_TESTED_AGAINST=PATH`` in the environment, a run that passes
  completely also writes the Markdown block: into ``PATH`` between the markers
  ``<!-- tested-against:start -->`` and ``<!-- tested-against:end -->`` when
  the file has them (README.md), else as the whole content of ``PATH``.
- ``python -m tests._tested_against [README.md]`` runs the test suite that
  way (default target: README.md at the repository root).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

START = "<!-- tested-against:start -->"
END = "<!-- tested-against:end -->"
ENV = "SK_PIXELS_TESTED_AGAINST"

_EXAMPLES = re.compile(r"(\d+) passing")

_outcomes: dict[str, str] = {}
_properties: dict[str, dict] = {}


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0].rsplit("/", 1)[-1]


def pytest_runtest_logreport(report) -> None:
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        outcome = (
            "xfailed"
            if hasattr(report, "wasxfail") and report.skipped
            else report.outcome
        )
        _outcomes[report.nodeid] = outcome
    if report.user_properties:
        _properties.setdefault(report.nodeid, {}).update(dict(report.user_properties))


def collect(items) -> dict:
    """Figures from the collected items and the outcomes recorded so far."""
    passed = Counter()
    xfailed = 0
    cases = set()
    properties, examples = 0, 0
    for item in items:
        outcome = _outcomes.get(item.nodeid)
        module = _module(item.nodeid)
        if outcome == "passed":
            passed[module] += 1
            passed["all"] += 1
        elif outcome == "xfailed":
            xfailed += 1
        if module.endswith("_bad_input.py") and outcome in ("passed", "xfailed"):
            passed["bad_input"] += outcome == "passed"
            params = getattr(getattr(item, "callspec", None), "params", {})
            case = params.get("array", params.get("case"))
            if case is not None:
                # Matrix cases (shared by the estimator and PixelStats tables)
                # count once; the file-level tables have their own names.
                cases.add(case.id if hasattr(case, "id") else (item.originalname, case))
        if item.get_closest_marker("hypothesis") is not None and outcome == "passed":
            properties += 1
            stats = getattr(item, "hypothesis_statistics", "")
            examples += sum(int(n) for n in _EXAMPLES.findall(stats))
    load = {}
    for values in _properties.values():
        load.update(values)
    return {
        "bad_input_cases": len(cases),
        "bad_input_checks": passed["bad_input"],
        "exactness_checks": passed["test_exactness.py"],
        "fault_scenarios": passed["test_faults.py"],
        "security_checks": passed["test_security.py"],
        "load_checks": passed["test_load.py"],
        "property_tests": properties,
        "hypothesis_examples": examples,
        "tests_passed": passed["all"],
        "xfailed": xfailed,
        **load,
    }


def summary_line(figures: dict) -> str:
    return (
        f"tested against: {figures['bad_input_cases']} bad inputs "
        f"({figures['bad_input_checks']} checks), {figures['fault_scenarios']} fault "
        f"scenarios, {figures['security_checks']} security checks, "
        f"{figures['property_tests']} property tests "
        f"({figures['hypothesis_examples']} examples)"
    )


def markdown(figures: dict) -> str:
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
            f"{figures['property_tests']} tests, "
            f"{figures['hypothesis_examples']:,} examples",
        ),
        (
            "Exact integer statistics at scale (merged PixelStats of uint16 at 65535)",
            f"{figures['exactness_checks']} checks, up to 2^70 pixels per channel",
        ),
    ]
    if "peak_rss_ratio" in figures:
        rows.append(
            (
                "Peak memory of `dataset_stats`, "
                f"{figures.get('n_images_large', 20000):,} vs "
                f"{figures.get('n_images_small', 2000):,} images",
                f"x{figures['peak_rss_ratio']:.2f}",
            )
        )
    if "threads" in figures:
        rows.append(
            (
                "Threads sharing one fitted estimator (identical results)",
                f"{figures['threads']}",
            )
        )
    lines = [
        START,
        f"_Generated by the test suite (sk_pixels {__version__}: "
        f"{figures['tests_passed']:,} tests passed, {figures['xfailed']} expected "
        "failures with documented reasons); regenerate with "
        "`python -m tests._tested_against`._",
        "",
        "| Tested against | Count |",
        "|---|---|",
        *[f"| {what} | {count} |" for what, count in rows],
        END,
    ]
    return "\n".join(lines)


def write(target: Path, block: str) -> bool:
    """Put ``block`` between the markers of ``target`` (or make it the whole of a
    new or empty file); refuse to touch a non-empty file without markers."""
    text = target.read_text(encoding="utf-8") if target.exists() else ""
    if START in text and END in text:
        head, rest = text.split(START, 1)
        _, tail = rest.split(END, 1)
        text = head + block + tail
    elif text.strip():
        return False
    else:
        text = block + "\n"
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    return True


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    figures = collect(getattr(config, "_tested_against_items", []))
    if not figures["tests_passed"]:
        return
    terminalreporter.write_line(summary_line(figures))
    target = os.environ.get(ENV)
    if not target:
        return
    complete = all(
        figures[k]
        for k in (
            "bad_input_checks",
            "fault_scenarios",
            "security_checks",
            "property_tests",
            "exactness_checks",
            "load_checks",
        )
    )
    if exitstatus != 0 or not complete:
        terminalreporter.write_line(
            f"{ENV}: not written (the run failed or did not include every test module)."
        )
        return
    if write(Path(target), markdown(figures)):
        terminalreporter.write_line(f"{ENV}: wrote the figures to {target}")
    else:
        terminalreporter.write_line(
            f"{ENV}: not written: {target} has no '{START}' ... '{END}' markers; add "
            "them where the block belongs."
        )


def pytest_collection_finish(session) -> None:
    session.config._tested_against_items = session.items


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    root = Path(__file__).resolve().parents[1]
    target = Path(argv[0]).resolve() if argv else root / "README.md"
    env = dict(os.environ, **{ENV: str(target)})
    return subprocess.call(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=root,
        env=env,
    )


if __name__ == "__main__":
    raise SystemExit(main())
