"""The README's "Tested against" block states what the collected tests check."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ._tested_against import (
    COMMAND,
    README,
    ROOT,
    complete_items,
    figures,
    markdown,
    read_block,
    stale_message,
)


def test_readme_tested_against_block_matches_the_collected_tests(request):
    items = complete_items(request.config)
    if items is not None:
        block = markdown(figures(items))
    else:  # this run selected part of the suite: collect all of it apart
        block = subprocess.run(
            [sys.executable, "-m", "tests._tested_against"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.rstrip("\n")
    current = read_block(README)
    if current != block:
        pytest.fail(stale_message(current, block), pytrace=False)


def test_block_counts_each_bad_array_once_and_names_the_command():
    class Item:
        def __init__(self, nodeid, **params):
            self.nodeid = nodeid
            self.callspec = type("CallSpec", (), {"params": params})

        def get_closest_marker(self, name):
            return None

    items = [
        Item("tests/test_stats_bad_input.py::t[a]", array="a"),
        Item("tests/test_persist_bad_input.py::t[a-x]", array="a"),
        Item("tests/test_io_bad_input.py::t[a]", case="a"),
        Item("tests/test_faults.py::t"),
    ]
    counted = figures(items)
    assert counted["bad_input_cases"] == 2 and counted["bad_input_checks"] == 3
    assert counted["fault_scenarios"] == 1 and counted["property_tests"] == 0
    assert f"`{COMMAND}`" in markdown(counted)
