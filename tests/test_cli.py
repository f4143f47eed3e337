"""The sk-pixels command: main([...]) return codes, output, and the pure workers."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import time
import warnings

import joblib
import numpy as np
import pytest
from numpy.testing import assert_array_equal
from PIL import Image

from sk_pixels import PixelStandardizer, PixelStats, load_json
from sk_pixels.cli import compute_stats, main, tour
from sk_pixels.io import dataset_stats, list_images, load_image

from .image_files import (
    bad_folder,
    mixed_jpeg_folder,
    save,
    tiffs_that_make_libtiff_write,
)


@pytest.fixture(scope="module")
def jpegs(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_jpegs")
    mixed_jpeg_folder(root, 1000, seed=7)
    return root


@pytest.fixture
def same_size(tmp_path):
    """Five 8x6 RGB PNGs (lossless) in a folder with a sub-folder."""
    rng = np.random.default_rng(1)
    X = rng.integers(0, 256, (5, 8, 6, 3), dtype=np.uint8)
    for k, image in enumerate(X):
        save(tmp_path / "imgs" / ("sub" if k % 2 else "") / f"{k}.png", image)
    order = [int(os.path.basename(p)[0]) for p in list_images(tmp_path / "imgs")]
    return tmp_path / "imgs", X[order]


def run(capsys, *argv):
    code = main(list(map(str, argv)))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err, *fragments):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sk-pixels: error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], err


# -- stats ---------------------------------------------------------------------------
def test_stats_without_source_runs_on_sample_photos(capsys, sample_photos):
    code, out, err = run(capsys, "stats")
    assert code == 0 and err == ""
    first, blank, summary = out.splitlines()[:3]
    assert first.startswith(
        "No SOURCE given: the statistics of scikit-learn's sample photos "
        "china.jpg and flower.jpg ("
    )
    assert summary.startswith(
        "2 images, 546,560 pixels per channel (uint8, RGB, max_value 255)"
    )
    expected = PixelStats.from_array(sample_photos)
    mean_01 = ", ".join(f"{v:.4f}" for v in expected.mean / 255)
    assert f"Normalize(mean=[{mean_01}], std=[" in out
    for name in ("R", "G", "B", "all"):
        assert f"\n{name} " in out


def test_stats_json_to_stdout_has_the_documented_keys(capsys, sample_photos):
    code, out, _ = run(capsys, "stats", "--json", "-")
    assert code == 0
    report = json.loads(out)
    for key in (
        "n_images",
        "n_pixels",
        "max_value",
        "mean",
        "std",
        "min",
        "max",
        "mean_01",
        "std_01",
        "skipped",
    ):
        assert key in report
    expected = PixelStats.from_array(sample_photos)
    assert report["n_images"] == 2 and report["n_pixels"] == expected.n_pixels
    assert (
        report["mean"] == expected.mean.tolist()
        and report["std"] == expected.std.tolist()
    )
    assert report["mean_01"] == (expected.mean / 255).tolist()
    assert report["skipped"] == [] and report["max_value"] == 255
    assert PixelStats.from_dict(report["statistics"]) == expected


def test_stats_1000_jpegs_jobs_2_equals_jobs_1_and_reference(capsys, jpegs, tmp_path):
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    assert run(capsys, "stats", jpegs, "--json", one, "--no-progress")[0] == 0
    assert run(capsys, "stats", jpegs, "--jobs", "2", "--json", two)[0] == 0
    report = json.loads(one.read_text())
    assert json.loads(two.read_text()) == report
    pixels = np.concatenate([load_image(p).reshape(-1, 3) for p in list_images(jpegs)])
    assert report["n_images"] == 1000 and report["n_pixels"] == len(pixels)
    assert report["statistics"]["sum"] == [
        int(s) for s in pixels.sum(axis=0, dtype=np.int64)
    ]
    as_float = pixels.astype(np.float64)
    np.testing.assert_allclose(report["mean"], as_float.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(report["std"], as_float.std(axis=0), rtol=1e-12)
    np.testing.assert_allclose(report["global"]["std"], as_float.std(), rtol=1e-12)


def test_stats_skip_lists_every_bad_file_and_counts_good_ones(capsys, tmp_path):
    good, bad = bad_folder(tmp_path / "bad")
    code, out, err = run(
        capsys, "stats", tmp_path / "bad", "--on-error", "skip", "--json", "-"
    )
    assert code == 0
    report = json.loads(out)
    assert report["n_images"] == len(good) == 3
    assert report["skipped"] == [str(p) for p in bad]
    assert "skipped 4 unreadable file(s)" in err
    for path in bad:
        assert str(path) in err


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_stats_raise_fails_naming_the_first_bad_file(capsys, tmp_path, jobs):
    bad_folder(tmp_path / "bad")
    code, out, err = run(capsys, "stats", tmp_path / "bad", "--jobs", jobs)
    assert code == 1 and out == ""
    assert_one_line_error(err, "b_bomb.png", "decompression bomb")


@pytest.mark.parametrize(
    "argv, code, fragment",
    [
        (["stats", "{tmp}/missing"], 1, "No such file or folder"),
        (["stats", "{tmp}"], 1, "No image files found"),
        (["stats", "--jobs", "two"], 2, "invalid int value: 'two'"),
        (["stats", "--mode", "HSV"], 2, "invalid choice: 'HSV'"),
        (["frobnicate"], 2, "invalid choice: 'frobnicate'"),
        ([], 2, "required: COMMAND"),
        (["fit", "{tmp}"], 2, "required: --estimator, -o/--output"),
    ],
)
def test_user_errors_are_one_line_with_exit_code(
    capsys, tmp_path, argv, code, fragment
):
    (tmp_path / "notes.txt").write_text("no images here")
    argv = [a.format(tmp=tmp_path) for a in argv]
    result, out, err = run(capsys, *argv)
    assert result == code
    assert_one_line_error(err, fragment)


def test_help_and_version_exit_zero(capsys):
    assert main(["--help"]) == 0
    assert "stats" in capsys.readouterr().out
    assert main(["stats", "--help"]) == 0
    assert "--on-error" in capsys.readouterr().out
    assert main(["--version"]) == 0


def test_progress_bar_only_on_a_terminal(capsys, monkeypatch, same_size):
    folder, _ = same_size
    assert "img/s" not in run(capsys, "stats", folder)[2]  # capsys is not a TTY

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    for argv, shown in (([], True), (["--no-progress"], False)):
        fake = Terminal()
        monkeypatch.setattr(sys, "stderr", fake)
        assert main(["stats", str(folder), *argv]) == 0
        assert ("5/5" in fake.getvalue()) is shown
        monkeypatch.undo()


def test_compute_stats_is_the_pure_worker(same_size):
    folder, X = same_size
    report = compute_stats([str(folder)], mode="L")
    assert report["channels"] == ["L"] and report["n_images"] == 5
    assert report["statistics"] == dataset_stats(folder, mode="L").to_dict()


# -- fit / apply ---------------------------------------------------------------------
def test_fit_json_equals_fit_on_pixels(capsys, same_size, tmp_path):
    folder, X = same_size
    model = tmp_path / "model.json"
    code, out, _ = run(
        capsys, "fit", folder, "--estimator", "standardizer", "-o", model
    )
    assert code == 0 and f"wrote {model}" in out and "torchvision: {'mean': [" in out
    loaded, meta = load_json(model, return_metadata=True)
    reference = PixelStandardizer().fit(X)
    assert_array_equal(loaded.mean_, reference.mean_)
    assert_array_equal(loaded.std_, reference.std_)
    assert meta["channel_order"] == "RGB"
    assert_array_equal(loaded.transform(X), reference.transform(X))


@pytest.mark.parametrize(
    "args, check",
    [
        (["--estimator", "centerer", "--global"], lambda m: m.mean_.shape == ()),
        (
            ["--estimator", "normalizer"],
            lambda m: m.scope == "dataset" and m.data_max_.shape == (3,),
        ),
        (
            ["--estimator", "standardizer", "--preset", "imagenet"],
            lambda m: m.mean == "imagenet",
        ),
        (
            ["--estimator", "centerer", "--preset", "caffe", "--mode", "BGR"],
            lambda m: m.mean == "caffe",
        ),
        (
            ["--estimator", "standardizer", "--mode", "I;16"],
            lambda m: m.input_dtype_ == "uint16",
        ),
    ],
)
def test_fit_options(capsys, same_size, tmp_path, args, check):
    folder, _ = same_size
    code, _, err = run(capsys, "fit", folder, *args, "-o", tmp_path / "m.json")
    assert code == 0, err
    assert check(load_json(tmp_path / "m.json"))


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--estimator", "normalizer", "--preset", "imagenet"], "not the normalizer"),
        (
            ["--estimator", "centerer", "--preset", "imagenet", "--global"],
            "drop --global",
        ),
        (["--estimator", "centerer", "--preset", "caffe"], "pass --mode BGR"),
        (
            ["--estimator", "standardizer", "--preset", "caffe", "--mode", "BGR"],
            "has no std",
        ),
        (
            ["--estimator", "centerer", "-o", "model.txt"],
            "must end in .json or .joblib",
        ),
    ],
)
def test_fit_usage_errors(capsys, same_size, tmp_path, args, fragment):
    folder, _ = same_size
    if "-o" not in args:
        args = [*args, "-o", str(tmp_path / "m.json")]
    code, _, err = run(capsys, "fit", folder, *args)
    assert code == 2
    assert_one_line_error(err, fragment)


def test_apply_streams_into_one_npy(capsys, same_size, tmp_path):
    folder, X = same_size
    model = tmp_path / "m.json"
    assert (
        run(capsys, "fit", folder, "--estimator", "standardizer", "-o", model)[0] == 0
    )
    out_path = tmp_path / "out.npy"
    code, out, _ = run(capsys, "apply", model, folder, "-o", out_path)
    assert code == 0 and "wrote 5 transformed image(s)" in out
    result = np.load(out_path)
    assert result.shape == (5, 8, 6, 3) and result.dtype == np.float32
    assert_array_equal(result, load_json(model).transform(X))
    assert sorted(os.listdir(tmp_path)) == [
        "imgs",
        "m.json",
        "out.npy",
        "out.paths.txt",
    ]  # no temp files
    rows = (tmp_path / "out.paths.txt").read_text().splitlines()
    assert rows == list_images(folder)  # the file of each row, in order


def test_apply_to_a_folder_mirrors_sources_and_mixed_sizes(capsys, tmp_path):
    for k, shape in enumerate([(4, 5, 3), (6, 2, 3), (3, 3, 3)]):
        save(
            tmp_path / "src" / ("deep" if k == 1 else "") / f"{k}.png",
            np.full(shape, 10 * k, np.uint8),
        )
    model = tmp_path / "m.json"
    assert (
        run(capsys, "fit", tmp_path / "src", "--estimator", "normalizer", "-o", model)[
            0
        ]
        == 0
    )
    code, _, err = run(
        capsys, "apply", model, tmp_path / "src", "-o", tmp_path / "one.npy"
    )
    assert code == 1
    assert_one_line_error(
        err, "2.png has shape (3, 3, 3) but the first image had (4, 5, 3)", "folder"
    )
    assert not (tmp_path / "one.npy").exists()
    assert run(capsys, "apply", model, tmp_path / "src", "-o", tmp_path / "out")[0] == 0
    assert np.load(tmp_path / "out" / "deep" / "1.npy").shape == (6, 2, 3)
    assert_array_equal(
        np.load(tmp_path / "out" / "2.npy"), np.ones((3, 3, 3), np.float32)
    )
    assert_array_equal(
        np.load(tmp_path / "out" / "0.npy"), np.zeros((4, 5, 3), np.float32)
    )


def test_joblib_models_need_trust_pickle(capsys, same_size, tmp_path):
    folder, X = same_size
    model = tmp_path / "m.joblib"
    assert run(capsys, "fit", folder, "--estimator", "centerer", "-o", model)[0] == 0
    code, _, err = run(capsys, "apply", model, folder, "-o", tmp_path / "o.npy")
    assert code == 2
    assert_one_line_error(
        err, "refusing to load", "joblib.load runs code", "--trust-pickle"
    )
    assert not (tmp_path / "o.npy").exists()
    code, _, _ = run(
        capsys, "apply", model, folder, "-o", tmp_path / "o.npy", "--trust-pickle"
    )
    assert code == 0
    assert_array_equal(np.load(tmp_path / "o.npy"), joblib.load(model).transform(X))


@pytest.mark.parametrize(
    "content, fragment",
    [
        (None, "cannot read the file"),
        (b"\x80\x04K\x01.", "pickle/joblib file, not JSON"),
        (b'{"format": "sk_pixels.estimator", "format_version": 9}', "format version 9"),
    ],
)
def test_apply_unreadable_model_is_a_data_error(
    capsys, same_size, tmp_path, content, fragment
):
    folder, _ = same_size
    model = tmp_path / "m.json"
    if content is not None:
        model.write_bytes(content)
    code, _, err = run(capsys, "apply", model, folder, "-o", tmp_path / "o.npy")
    assert code == 1
    assert_one_line_error(err, fragment)


def test_apply_mode_must_match_model(capsys, same_size, tmp_path):
    folder, _ = same_size
    model = tmp_path / "m.json"
    assert run(capsys, "fit", folder, "--estimator", "centerer", "-o", model)[0] == 0
    code, _, err = run(
        capsys, "apply", model, folder, "-o", tmp_path / "o.npy", "--mode", "L"
    )
    assert code == 2
    assert_one_line_error(err, "fitted on RGB images but --mode is L")


def test_grayscale_images_3_or_4_wide_run_without_layout_warnings(capsys, tmp_path):
    # A mode-L image (H, W) goes to the estimator as (1, H, W): a batch the
    # library would warn about when W is 3 or 4, which a command user cannot act on.
    rng = np.random.default_rng(3)
    X = rng.integers(0, 256, (2, 5, 3), dtype=np.uint8)
    for k, image in enumerate(X):
        save(tmp_path / "imgs" / f"{k}.png", image)
    model, out = tmp_path / "m.json", tmp_path / "o.npy"
    folder = tmp_path / "imgs"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = ("fit", folder, "--mode", "L", "--estimator", "standardizer", "-o", model)
        assert run(capsys, *fit)[0] == 0
        code, _, err = run(capsys, "apply", model, folder, "-o", out)
        assert code == 0 and "grayscale" not in err, err
        code, _, err = run(
            capsys,
            "plot",
            folder,
            "--mode",
            "L",
            "--estimator",
            "standardizer",
            "-o",
            tmp_path / "h.png",
        )
        assert code == 0 and "grayscale" not in err, err
    assert not [w for w in caught if "grayscale images" in str(w.message)]
    expected = PixelStandardizer(channel_axis=None).fit(X).transform(X)
    assert_array_equal(np.load(out), expected)


# -- tour / plot / entry points ------------------------------------------------------
def test_tour_prints_the_classic_walk_through(capsys):
    code, out, _ = run(capsys, "tour")
    assert code == 0 and out == tour() + "\n"
    assert out.startswith("Image china.jpg: format JPEG, mode RGB, size 640x427")
    assert "Pixels: array (427, 640, 3) uint8 (read as RGB), min 0, max 255" in out
    positive = out.split("5. Positive standardization")[1].split("\n\n")[0]
    after = positive.split("after: ")[1]
    mean = float(after.split("mean ")[1].split(",")[0])
    std = float(after.split("std ")[1].split(",")[0])
    assert 0.45 < mean < 0.55 and 0.3 < std < 0.45
    assert "min 0.000, max 1.000" in after
    assert "stds [1.000, 1.000, 1.000]" in out


def test_tour_on_a_bad_image_is_a_data_error(capsys, tmp_path):
    (tmp_path / "x.jpg").write_text("not a photo")
    code, _, err = run(capsys, "tour", tmp_path / "x.jpg")
    assert code == 1
    assert_one_line_error(err, "x.jpg")


def test_plot_writes_histograms(capsys, same_size, tmp_path):
    pytest.importorskip("matplotlib")
    folder, _ = same_size
    figure = tmp_path / "hist.png"
    code, out, _ = run(
        capsys, "plot", folder, "-o", figure, "--estimator", "standardizer"
    )
    assert code == 0 and f"wrote {figure}" in out
    with Image.open(figure) as image:
        assert image.format == "PNG" and image.size == (900, 650)
    model = tmp_path / "m.json"
    assert run(capsys, "fit", folder, "--estimator", "normalizer", "-o", model)[0] == 0
    assert (
        run(capsys, "plot", folder, "-o", tmp_path / "h2.png", "--model", model)[0] == 0
    )


def test_plot_without_matplotlib_says_how_to_install(
    capsys, same_size, tmp_path, monkeypatch
):
    folder, _ = same_size
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    code, _, err = run(capsys, "plot", folder, "-o", tmp_path / "h.png")
    assert code == 1
    assert_one_line_error(err, "needs matplotlib", "pip install 'sk_pixels[plot]'")


def test_python_dash_m_is_the_command():
    result = subprocess.run(
        [sys.executable, "-m", "sk_pixels", "stats", "/definitely/missing"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == "sk-pixels: error: No such file or folder: '/definitely/missing'."
    )


# -- quiet output: what C decoders write never reaches the terminal raw ---------------
@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("verbose", [False, True], ids=["counted", "listed"])
def test_stats_folds_libtiff_output_into_its_reports(capfd, tmp_path, jobs, verbose):
    pytest.importorskip("tifffile", reason="writing the TIFFs needs tifffile")
    decodable, truncated = tiffs_that_make_libtiff_write(tmp_path / "tiffs")
    argv = ["stats", tmp_path / "tiffs", "--on-error", "skip", "--jobs", jobs]
    code = main([str(a) for a in argv + (["--verbose"] if verbose else [])])
    out, err = capfd.readouterr()  # fd level: what libtiff writes is seen here
    assert code == 0 and out.startswith("2 images, ")
    lines = err.splitlines()
    # Every line is the command's own: a report line, or one of its list items.
    assert all(line.startswith(("sk-pixels: ", "  ")) for line in lines), err
    listed = [line for line in lines if line.startswith("  ")]
    skipped = [line for line in listed if "cut" in line]
    assert len(skipped) == len(truncated)
    assert all("(decoder: " in line and "strip" in line for line in skipped)
    if verbose:
        assert "sk-pixels: 2 file(s) decoded with warnings:" in lines
        warned = [line for line in listed if "tag" in line.split(":")[0]]
        assert [line.split(": ")[0].strip() for line in warned] == [
            str(p) for p in decodable
        ]
        assert all("custom tag" in line for line in warned)
    else:
        assert "sk-pixels: 2 file(s) decoded with warnings; --verbose lists them" in (
            lines
        )
        assert len(listed) == len(truncated)


# -- a command line that answers at once ----------------------------------------------
_IMPORTS_AFTER = textwrap.dedent(
    """
    import sys
    from sk_pixels.cli import main
    for argv in sys.argv[1:]:
        main(argv.split())
    print(sorted(m for m in ("numpy", "sklearn", "PIL") if m in sys.modules))
    """
)


def _imports_after(*argvs: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", _IMPORTS_AFTER, *argvs],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1].replace("'", '"'))


def test_version_and_help_import_neither_numpy_nor_sklearn():
    argvs = ["--version", "--help", "stats --help", "fit --help", "apply --help"]
    assert _imports_after(*argvs) == []


def test_stats_never_imports_sklearn(tmp_path):
    rng = np.random.default_rng(0)
    paths = [
        save(tmp_path / f"{k}.png", rng.integers(0, 256, (4, 5, 3), dtype=np.uint8))
        for k in range(2)
    ]
    json_out = tmp_path / "stats.json"
    modules = _imports_after(f"stats {paths[0]} {paths[1]} --json {json_out}")
    assert modules == ["PIL", "numpy"]  # decoding and statistics, nothing else
    assert json.loads(json_out.read_text())["n_images"] == 2


_INTERRUPT_DURING_IMPORT = textwrap.dedent(
    """
    import os, signal, sys
    # Python's own Ctrl-C handler, as at a terminal: a process started in the
    # background by a shell (CI run with "&") inherits SIGINT ignored, and the
    # kill below would then do nothing.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    class Interrupt:  # Ctrl-C while the command imports this module
        def find_spec(self, name, path=None, target=None):
            if name == sys.argv[1]:
                os.kill(os.getpid(), signal.SIGINT)
            return None
    sys.meta_path.insert(0, Interrupt())
    from sk_pixels.cli import main
    sys.exit(main(sys.argv[2:]))
    """
)


@pytest.mark.parametrize("module", ["numpy", "PIL", "sklearn"])
def test_ctrl_c_during_the_imports_is_one_line_and_exit_130(tmp_path, module):
    image = save(tmp_path / "a.png", np.zeros((2, 2, 3), np.uint8))
    command = ["fit", str(image), "--estimator", "centerer", "-o", "m.json"]
    result = subprocess.run(
        [sys.executable, "-c", _INTERRUPT_DURING_IMPORT, module, *command],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert (result.returncode, result.stderr) == (130, "sk-pixels: interrupted\n")


# -- bad arguments and bad model files: one line each (issue 11, items 12, 14, 15) ----
@pytest.fixture
def model_files(tmp_path):
    """An image, and model files that are wrong in the ways the table names."""
    save(tmp_path / "a.png", np.full((4, 4, 3), 7, np.uint8))
    fitted = PixelStandardizer().fit(np.arange(48, dtype=np.uint8).reshape(1, 4, 4, 3))
    good = tmp_path / "good.json"
    from sk_pixels import save_json

    save_json(fitted, good, channel_order="RGB")
    doc = json.loads(good.read_text())
    for name, edit in {
        "shape4": lambda d: d["params"].update(image_shape=[1, 2, 3, 4]),
        "hugemean": lambda d: d["params"].update(mean=10**400),
    }.items():
        changed = json.loads(good.read_text())
        edit(changed)
        (tmp_path / f"{name}.json").write_text(json.dumps(changed))
    assert doc["params"]["image_shape"] is None
    joblib.dump({"not": "an estimator"}, tmp_path / "dict.joblib")
    joblib.dump(np.arange(3), tmp_path / "array.joblib")
    return tmp_path


APPLY = ["apply", "{tmp}/{model}", "{tmp}/a.png", "-o", "{tmp}/o.npy"]
BAD_COMMAND_LINES = {
    # argv, exit code, what the one line says
    "scheduler-not-a-url": (
        ["stats", "{tmp}/a.png", "--scheduler", "notaurl"],
        2,
        "--scheduler: 'notaurl' is not a Dask scheduler address",
    ),
    "scheduler-empty": (
        ["stats", "{tmp}/a.png", "--scheduler", ""],
        2,
        "--scheduler: '' is not a Dask scheduler address",
    ),
    "scheduler-no-host": (
        ["stats", "{tmp}/a.png", "--scheduler", "tcp://:8786"],
        2,
        "'tcp://:8786' is not a Dask scheduler address (no host)",
    ),
    "scheduler-unknown-protocol": (
        ["stats", "{tmp}/a.png", "--scheduler", "carrier-pigeon://host:1"],
        2,
        "unknown protocol 'carrier-pigeon'",
    ),
    "pickle-of-a-dict": (
        [*APPLY, "--trust-pickle"],
        1,
        "dict.joblib holds a dict, not a fitted scaler",
    ),
    "pickle-of-an-array": (
        [*APPLY, "--trust-pickle"],
        1,
        "array.joblib holds a ndarray, not a fitted scaler",
    ),
    "model-image-shape-4-entries": (APPLY, 1, "image_shape=(1, 2, 3, 4)"),
    "model-integer-beyond-float": (APPLY, 1, "hugemean.json"),
}
_MODEL_OF_CASE = {
    "pickle-of-a-dict": "dict.joblib",
    "pickle-of-an-array": "array.joblib",
    "model-image-shape-4-entries": "shape4.json",
    "model-integer-beyond-float": "hugemean.json",
}


@pytest.mark.parametrize("case", list(BAD_COMMAND_LINES))
def test_bad_command_lines_are_one_line_with_exit_code(capsys, model_files, case):
    argv, expected_code, fragment = BAD_COMMAND_LINES[case]
    if "scheduler" in case:
        pytest.importorskip("distributed")
    model = _MODEL_OF_CASE.get(case, "")
    argv = [a.format(tmp=model_files, model=model) for a in argv]
    start = time.perf_counter()
    code, out, err = run(capsys, *argv)
    assert (code, out) == (expected_code, "")
    assert_one_line_error(err, fragment)
    assert time.perf_counter() - start < 30  # no wait for a connection timeout
    assert not (model_files / "o.npy").exists()


# -- warnings: one line each, the way errors are ---------------------------------------
@pytest.mark.filterwarnings("always::UserWarning")  # shown, as outside the test suite
def test_a_warning_while_images_are_read_is_one_warning_line(
    capsys, same_size, monkeypatch
):
    import warnings

    from sk_pixels.io import _dataset

    real = _dataset.list_images

    def listing(*args, **kwargs):  # a library warning while the files are listed
        warnings.warn("the disk is slow\nvery slow", UserWarning, stacklevel=2)
        return real(*args, **kwargs)

    monkeypatch.setattr(_dataset, "list_images", listing)
    folder, _ = same_size
    code, _, err = run(capsys, "stats", folder)
    assert code == 0
    assert "sk-pixels: warning: the disk is slow very slow\n" in err


def test_load_json_failing_unexpectedly_is_one_error_line(capsys, same_size, tmp_path):
    from sk_pixels import PixelCenterer, persist, save_json

    folder, X = same_size
    save_json(PixelCenterer().fit(X), tmp_path / "m.json", channel_order="RGB")

    def broken(*args, **kwargs):
        raise RuntimeError("an unexpected failure")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(persist, "load_json", broken)
        code, _, err = run(
            capsys, "apply", tmp_path / "m.json", folder, "-o", tmp_path / "o.npy"
        )
    assert code == 1
    assert_one_line_error(err, "not a valid sk_pixels model file: an unexpected")


def test_main_runs_outside_the_main_thread(capsys):
    import threading

    codes = []
    worker = threading.Thread(target=lambda: codes.append(main(["--version"])))
    worker.start()
    worker.join()
    assert codes == [0] and capsys.readouterr().out.startswith("sk-pixels ")


def test_sample_photos_are_found_through_scikit_learn_too(monkeypatch):
    from sk_pixels.cli import _common

    expected = _common.sample_photos()  # read from sklearn's folder directly
    monkeypatch.setattr(_common, "find_spec", lambda name: None)
    assert sorted(_common.sample_photos()) == expected
