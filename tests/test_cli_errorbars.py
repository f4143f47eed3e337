"""``sk-pixels stats --sample/--seed/--error-bars``."""

from __future__ import annotations

import json

import pytest
from numpy.testing import assert_allclose

from sk_pixels.io import dataset_stats

from .image_files import mixed_jpeg_folder
from .test_cli import _imports_after, assert_one_line_error, run


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_sampled")
    mixed_jpeg_folder(root, 20, seed=3)
    return root


def test_sample_json_carries_the_error_bars_of_dataset_stats(capsys, folder):
    code, out, _ = run(capsys, "stats", folder, "--sample", "0.5", "--seed", "4",
                       "--json", "-")  # fmt: skip
    assert code == 0
    report = json.loads(out)
    bars = dataset_stats(folder, sample=0.5, random_state=4)
    assert report["n_images"] == bars.n_images_sampled == 10
    assert report["error_bars"]["sampled"] and report["error_bars"]["seed"] == 4
    assert report["error_bars"]["n_images_total"] == 20
    assert_allclose(report["error_bars"]["mean_se"], bars.mean_se, rtol=1e-15)
    assert_allclose(report["error_bars"]["std_ci"], bars.std_ci, rtol=1e-15)
    assert report["statistics"] == bars.stats.to_dict()


def test_sample_is_the_same_every_run_by_default(capsys, folder):
    first = run(capsys, "stats", folder, "--sample", "5", "--json", "-")[1]
    again = run(capsys, "stats", folder, "--sample", "5", "--json", "-")[1]
    assert first == again
    assert json.loads(first)["error_bars"]["seed"] == 0


def test_error_bars_print_a_table_per_channel(capsys, folder):
    code, out, _ = run(capsys, "stats", folder, "--error-bars")
    assert code == 0
    assert "95% intervals from all 20 images, as a sample of their population" in out
    table = out.split("in pixel units:")[1].strip().splitlines()
    assert table[0].split() == ["channel", "mean", "se", "interval", "std", "se",
                                "interval"]  # fmt: skip
    assert [row.split()[0] for row in table[1:]] == ["R", "G", "B"]


def test_stats_without_error_bars_has_no_error_bars_key(capsys, folder):
    assert "error_bars" not in json.loads(
        run(capsys, "stats", folder, "--json", "-")[1]
    )


@pytest.mark.parametrize(
    ("argv", "code", "fragment"),
    [
        (["--sample", "0"], 2, "a number of images must be >= 1, got '0'"),
        (["--sample", "1.5"], 2, "a fraction must be in (0, 1], got '1.5'"),
        (["--sample", "nan"], 2, "a fraction must be in (0, 1], got 'nan'"),
        (["--sample", "5%"], 2, "expected a fraction such as 0.05"),
        (["--seed", "x"], 2, "invalid int value: 'x'"),
        (["--sample", "21"], 1, "sample=21 images, but the source lists only 20"),
    ],
)
def test_bad_sampling_arguments_are_one_line_errors(
    capsys, folder, argv, code, fragment
):
    result, out, err = run(capsys, "stats", folder, *argv)
    assert result == code
    assert_one_line_error(err, fragment)


def test_sampled_stats_never_import_sklearn(folder, tmp_path):
    out = tmp_path / "s.json"
    modules = _imports_after(f"stats {folder} --sample 3 --error-bars --json {out}")
    assert modules == ["PIL", "numpy"]


def test_full_run_with_a_skipped_file_is_not_reported_as_a_sample(
    capsys, folder, tmp_path
):
    # --error-bars without --sample reads every file: one that cannot be read
    # is skipped, which does not make the run a random sample (seed None).
    mixed_jpeg_folder(tmp_path, 4, seed=5)
    (tmp_path / "bad.png").write_bytes(b"not a png")
    argv = ("stats", tmp_path, "--error-bars", "--on-error", "skip")
    report = json.loads(run(capsys, *argv, "--json", "-")[1])
    assert report["error_bars"]["sampled"] is False
    assert report["error_bars"]["fpc"] == 1.0
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert "from all 4 images, as a sample of their population" in out
