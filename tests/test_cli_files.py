"""The command line and its files (issue 10, item 6): outputs checked before
any image is read, an output that is an input refused, permissions kept, no
temporary file after SIGTERM, the trace of each row of ``apply -o out.npy``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from sk_pixels import (
    PixelCenterer,
    PixelStats,
    load_json,
    save_json,
)
from sk_pixels.cli import main
from sk_pixels.io import _dataset, _decode, _sources
from sk_pixels.persist import InvalidModelFileError

from .image_files import save

USAGE, DATA = 2, 1


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    for k in range(3):
        save(tmp_path / "imgs" / f"{k}.png", rng.integers(0, 256, (4, 5, 3), np.uint8))
    model = PixelCenterer().fit(rng.integers(0, 256, (2, 4, 5, 3), dtype=np.uint8))
    save_json(model, tmp_path / "model.json", channel_order="RGB")
    return tmp_path


@pytest.fixture
def no_decoding(monkeypatch):
    """Fail the test if any image is decoded."""

    def refuse(path, *args, **kwargs):
        raise AssertionError(f"{path} was decoded")

    for module in (_decode, _sources, _dataset):
        monkeypatch.setattr(module, "decode", refuse)


#: id -> (argv given the scratch folder ``t``, exit code, message)
OUTPUTS = {
    "stats-json-in-missing-folder": (
        lambda t: ["stats", t / "imgs", "--json", t / "no" / "s.json"],
        DATA,
        "folder .*no does not exist",
    ),
    "stats-json-is-an-input-file": (
        lambda t: ["stats", t / "imgs" / "0.png", "--json", t / "imgs" / "0.png"],
        USAGE,
        "refusing to write --json .*0.png: it is one of the input images",
    ),
    "stats-json-is-an-image-of-the-folder": (
        lambda t: ["stats", t / "imgs", "--json", t / "imgs" / "1.png"],
        USAGE,
        "it is one of the input images",
    ),
    "stats-json-is-a-folder": (
        lambda t: ["stats", t / "imgs", "--json", t / "imgs"],
        DATA,
        "it is a folder",
    ),
    "fit-output-in-missing-folder": (
        lambda t: ["fit", t / "imgs", "--estimator", "centerer", "-o", t / "x/m.json"],
        DATA,
        "does not exist",
    ),
    "apply-npy-in-missing-folder": (
        lambda t: ["apply", t / "model.json", t / "imgs", "-o", t / "x" / "o.npy"],
        DATA,
        "does not exist",
    ),
    "jobs-zero": (lambda t: ["stats", t / "imgs", "--jobs", "0"], USAGE, "--jobs"),
    "fit-jobs-zero": (
        lambda t: (
            ["fit", t / "imgs", "--estimator", "centerer", "--jobs", "0"]
            + ["-o", t / "m.json"]
        ),
        USAGE,
        "--jobs: must be a non-zero integer",
    ),
}


@pytest.mark.parametrize("case", list(OUTPUTS))
def test_outputs_are_checked_before_any_image_is_read(
    folder, no_decoding, capsys, case
):
    make, code, match = OUTPUTS[case]
    before = {p: p.read_bytes() for p in (folder / "imgs").iterdir()}
    assert main([str(a) for a in make(folder)]) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sk-pixels: error:"), err
    assert pytest.importorskip("re").search(match, err), err
    assert {p: p.read_bytes() for p in (folder / "imgs").iterdir()} == before


def test_apply_npy_writes_the_source_of_each_row_skipped_ones_left_out(folder, capsys):
    (folder / "imgs" / "1b.png").write_text("not an image")
    out = folder / "out.npy"
    argv = ["apply", folder / "model.json", folder / "imgs", "-o", out]
    assert main([*map(str, argv), "--on-error", "skip"]) == 0
    rows = (folder / "out.paths.txt").read_text().splitlines()
    assert [Path(r).name for r in rows] == ["0.png", "1.png", "2.png"]
    assert np.load(out).shape[0] == len(rows)
    assert "out.paths.txt" in capsys.readouterr().out


@pytest.mark.parametrize("permissions", [0o600, 0o640, 0o664])
@pytest.mark.parametrize("command", ["stats", "fit"])
def test_rewriting_a_file_keeps_its_permissions(folder, permissions, command):
    target = folder / "out.json"
    target.write_text("{}")
    os.chmod(target, permissions)
    if command == "stats":
        argv = ["stats", folder / "imgs", "--json", target]
    else:
        argv = ["fit", folder / "imgs", "--estimator", "centerer", "-o", target]
    assert main([str(a) for a in argv]) == 0
    assert os.stat(target).st_mode & 0o7777 == permissions
    assert json.loads(target.read_text())


#: ``sk-pixels ARGS`` whose atomic writes stop for 30 s after writing a little.
_SLOW_WRITER = """
import sys, time
from contextlib import contextmanager
import sk_pixels._files as files
real_open = files.atomic_open

@contextmanager
def slow_open(path, mode="w"):
    with real_open(path, mode) as fh:
        fh.write("partial")
        fh.flush()
        print("writing", flush=True)
        time.sleep(30)
        yield fh

files.atomic_open = slow_open
from sk_pixels.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_sigterm_while_writing_leaves_no_temporary_file(folder):
    target = folder / "s.json"
    process = subprocess.Popen(
        [sys.executable, "-c", _SLOW_WRITER, "stats", str(folder / "imgs")]
        + ["--json", str(target)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    deadline = time.monotonic() + 60
    line = ""
    while "writing" not in line and time.monotonic() < deadline:
        line = process.stdout.readline()
    assert "writing" in line, process.stderr.read()
    assert [p.name for p in folder.iterdir() if p.name.startswith(".s.json")]
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert "terminated" in err
    assert sorted(p.name for p in folder.iterdir()) == ["imgs", "model.json"]


def test_fit_with_a_preset_decodes_no_image(folder, no_decoding, capsys):
    out = folder / "m.json"
    argv = ["fit", folder / "imgs", "--estimator", "standardizer", "--preset"]
    assert main([*map(str, argv), "imagenet", "-o", str(out)]) == 0
    model = load_json(out)
    assert_array_equal(model.mean_, np.array([0.485, 0.456, 0.406]) * 255)
    capsys.readouterr()


def test_fit_with_a_preset_still_names_a_missing_folder(folder, capsys):
    argv = ["fit", folder / "nope", "--estimator", "centerer", "--preset"]
    assert main([*map(str, argv), "imagenet", "-o", str(folder / "m.json")]) == DATA
    assert "No such file or folder" in capsys.readouterr().err


def test_load_json_on_a_stats_report_names_pixelstats_from_dict(folder, capsys):
    report = folder / "s.json"
    assert main(["stats", str(folder / "imgs"), "--json", str(report)]) == 0
    with pytest.raises(InvalidModelFileError, match=r"PixelStats\.from_dict"):
        load_json(report)
    stats = PixelStats.from_dict(json.loads(report.read_text())["statistics"])
    assert stats.n_images == 3


@pytest.mark.parametrize("orientation, size", [(1, "5x4"), (6, "4x5"), (8, "4x5")])
def test_tour_reports_the_size_after_exif_rotation(tmp_path, orientation, size):
    from PIL import Image

    from sk_pixels.cli import tour

    image = Image.fromarray(
        np.random.default_rng(0).integers(0, 256, (4, 5, 3), np.uint8)
    )
    exif = Image.Exif()
    exif[0x0112] = orientation
    image.save(tmp_path / "x.jpg", exif=exif, quality=95)
    first = tour(str(tmp_path / "x.jpg")).splitlines()[0]
    assert f"size {size} (width x height" in first
    assert ("after EXIF rotation; stored 5x4" in first) == (orientation != 1)


def test_tour_of_a_16bit_image_uses_its_16_bits(tmp_path):
    from sk_pixels.cli import tour

    from .image_files import png16

    samples = np.random.default_rng(0).integers(0, 65536, (6, 7, 3), dtype=np.uint16)
    text = tour(str(png16(tmp_path / "x.png", samples)))
    assert "uint16 (read as RGB;16)" in text
    assert "(x / 65535)" in text
