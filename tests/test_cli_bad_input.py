"""Bad command lines of ``sk-pixels``: every subcommand, wrong arguments.

The law: a bad command line exits 2 (usage) or 1 (data), prints one
``sk-pixels: error:`` line naming the problem as its last stderr line (no
traceback), and writes nothing.  The files are those of the ``bad_files``
fixture (``tests/conftest.py``); ``t`` is a scratch folder holding a saved
``model.json`` and a fake ``m.joblib``.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from sk_pixels import PixelCenterer, PixelStandardizer, save_json
from sk_pixels.cli import main

from ._outcomes import Exits, check

USAGE, DATA = 2, 1


def _fit(r, t, *options):
    return ["fit", r / "good", *options, "-o", t / "m.json"]


#: id -> (argv given the root folder ``r`` and scratch folder ``t``, outcome)
ARGV = {
    "no-subcommand": (lambda r, t: [], Exits(USAGE, "required")),
    "unknown-subcommand": (lambda r, t: ["frobnicate"], Exits(USAGE, "invalid choice")),
    "stats-missing-folder": (
        lambda r, t: ["stats", r / "nope"],
        Exits(DATA, "No such file"),
    ),
    "stats-missing-folder-existing-json": (
        lambda r, t: ["stats", r / "nope", "--json", t / "model.json"],
        Exits(DATA, "No such file"),
    ),
    "stats-empty-folder": (
        lambda r, t: ["stats", r / "empty"],
        Exits(DATA, "No image files"),
    ),
    "stats-text-file": (
        lambda r, t: ["stats", r / "text.png"],
        Exits(DATA, "text.png"),
    ),
    "stats-bad-mode": (
        lambda r, t: ["stats", r / "good", "--mode", "XYZ"],
        Exits(USAGE, "invalid choice"),
    ),
    "stats-jobs-zero": (
        lambda r, t: ["stats", r / "good", "--jobs", "0"],
        Exits(USAGE, "--jobs: must be a non-zero integer"),
    ),
    "stats-jobs-not-int": (
        lambda r, t: ["stats", r / "good", "--jobs", "two"],
        Exits(USAGE, "invalid int value"),
    ),
    "stats-bad-on-error": (
        lambda r, t: ["stats", r / "good", "--on-error", "x"],
        Exits(USAGE, "invalid choice"),
    ),
    "stats-json-into-missing-dir": (
        lambda r, t: ["stats", r / "good", "--json", t / "no" / "s.json"],
        Exits(DATA, "s.json|no"),
    ),
    "fit-no-estimator": (lambda r, t: _fit(r, t), Exits(USAGE, "--estimator")),
    "fit-bad-suffix": (
        lambda r, t: ["fit", r / "good", "--estimator", "centerer", "-o", t / "m.txt"],
        Exits(USAGE, ".json or .joblib"),
    ),
    "fit-preset-normalizer": (
        lambda r, t: _fit(r, t, "--estimator", "normalizer", "--preset", "imagenet"),
        Exits(USAGE, "--preset applies to the standardizer and the centerer, not the"),
    ),
    "fit-preset-global": (
        lambda r, t: _fit(
            r, t, "--estimator", "standardizer", "--preset", "imagenet", "--global"
        ),
        Exits(USAGE, "--preset imagenet holds per-channel statistics; drop --global"),
    ),
    "fit-preset-gray": (
        lambda r, t: _fit(
            r, t, "--estimator", "standardizer", "--preset", "imagenet", "--mode", "L"
        ),
        Exits(USAGE, "is for RGB images but --mode is L; pass --mode RGB"),
    ),
    "fit-caffe-standardizer": (
        lambda r, t: _fit(
            r, t, "--estimator", "standardizer", "--preset", "caffe", "--mode", "BGR"
        ),
        Exits(USAGE, "preset 'caffe' has no std"),
    ),
    "fit-empty-folder": (
        lambda r, t: [
            "fit",
            r / "empty",
            "--estimator",
            "centerer",
            "-o",
            t / "m.json",
        ],
        Exits(DATA, "No image files"),
    ),
    "apply-missing-model": (
        lambda r, t: ["apply", t / "none.json", r / "good", "-o", t / "o.npy"],
        Exits(DATA, "none.json"),
    ),
    "apply-model-is-folder": (
        lambda r, t: ["apply", r / "good", r / "good", "-o", t / "o.npy"],
        Exits(DATA, "good"),
    ),
    "apply-missing-images": (
        lambda r, t: ["apply", t / "model.json", r / "nope", "-o", t / "o.npy"],
        Exits(DATA, "No such file"),
    ),
    "apply-wrong-mode-for-model": (
        lambda r, t: [
            "apply",
            t / "model.json",
            r / "good",
            "--mode",
            "L",
            "-o",
            t / "o.npy",
        ],
        Exits(USAGE, "fitted on RGB images but --mode is L"),
    ),
    "apply-joblib-missing": (
        lambda r, t: [
            *("apply", t / "none.joblib", r / "good", "--trust-pickle"),
            *("-o", t / "o.npy"),
        ],
        Exits(DATA, "model file not found: .*none.joblib"),
    ),
    "apply-joblib-unloadable": (
        lambda r, t: [
            *("apply", t / "m.joblib", r / "good", "--trust-pickle"),
            *("-o", t / "o.npy"),
        ],
        Exits(DATA, "cannot load .*m.joblib with joblib"),
    ),
    "apply-model-of-bgra-images": (
        lambda r, t: ["apply", t / "bgra.json", r / "good", "-o", t / "o.npy"],
        Exits(DATA, "fitted on BGRA images, which no image mode reads"),
    ),
    "apply-all-unreadable": (
        lambda r, t: [
            *("apply", t / "model.json", r / "text.png", "--on-error", "skip"),
            *("-o", t / "o.npy"),
        ],
        Exits(DATA, "all 1 image files were unreadable; nothing written"),
    ),
    "apply-two-files-one-name": (
        lambda r, t: [
            *("apply", t / "model.json", r / "good" / "0.png", t / "0.png"),
            *("-o", t / "out"),
        ],
        Exits(DATA, r"would both be written to 0\.npy; rename one"),
    ),
    "apply-no-output": (
        lambda r, t: ["apply", t / "model.json", r / "good"],
        Exits(USAGE, "-o/--output"),
    ),
    "tour-missing-image": (
        lambda r, t: ["tour", r / "nope.jpg"],
        Exits(DATA, "nope.jpg"),
    ),
    "tour-text-file": (lambda r, t: ["tour", r / "text.png"], Exits(DATA, "text.png")),
    "plot-missing-folder": (
        lambda r, t: ["plot", r / "nope", "-o", t / "h.png"],
        Exits(DATA, "No such file"),
    ),
    "plot-no-extension": (
        lambda r, t: ["plot", r / "good", "-o", t / "histogram"],
        Exits(USAGE, "-o needs a file extension such as .png"),
    ),
    "plot-batch-scope-model": (
        lambda r, t: [
            "plot",
            r / "good",
            "--model",
            t / "batch.json",
            "-o",
            t / "h.png",
        ],
        Exits(USAGE, "scope='batch': its map changes with every image"),
    ),
    "plot-all-unreadable": (
        lambda r, t: [
            *("plot", r / "text.png", "--on-error", "skip"),
            *("-o", t / "h.png"),
        ],
        Exits(DATA, "all 1 image files were unreadable; nothing to plot"),
    ),
    "plot-joblib-model-untrusted": (
        lambda r, t: ["plot", r / "good", "--model", t / "m.joblib", "-o", t / "h.png"],
        Exits(USAGE, "joblib.load runs code.*--trust-pickle"),
    ),
}


@pytest.mark.parametrize("case", list(ARGV))
def test_bad_command_line_exits_with_one_error_line_and_writes_nothing(
    bad_files, tmp_path, capsys, case
):
    X = np.random.default_rng(0).integers(0, 256, (2, 4, 5, 4), dtype=np.uint8)
    save_json(
        PixelCenterer().fit(X[..., :3]), tmp_path / "model.json", channel_order="RGB"
    )
    save_json(PixelCenterer().fit(X), tmp_path / "bgra.json", channel_order="BGRA")
    batch = PixelStandardizer(scope="batch").fit(X[..., :3])
    save_json(batch, tmp_path / "batch.json", channel_order="RGB")
    (tmp_path / "m.joblib").write_bytes(b"\x80\x04not really a pickle")
    (tmp_path / "0.png").write_bytes((bad_files / "good" / "0.png").read_bytes())
    make, outcome = ARGV[case]
    argv = [str(a) for a in make(bad_files, tmp_path)]
    check(outcome, lambda: main(argv))
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("sk-pixels: error:"), err
    assert "Traceback" not in err
    assert re.search(outcome.match, lines[-1]), (outcome.match, lines[-1])
    # Nothing is written by a failing command.
    assert not (tmp_path / "o.npy").exists()
    assert not (tmp_path / "m.json").exists()
    assert not (tmp_path / "out").exists() and not (tmp_path / "h.png").exists()


def test_help_and_version_of_every_subcommand_exit_0(capsys):
    assert main(["--version"]) == 0
    assert main(["--help"]) == 0
    for command in ("stats", "fit", "apply", "tour", "plot"):
        assert main([command, "--help"]) == 0
    capsys.readouterr()
