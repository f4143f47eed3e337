"""``--percentiles`` and ``--quantile-range`` on the command line: exact values in
``stats`` (text and JSON), percentile models from ``fit``, marks in ``plot``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sk_pixels import PixelNormalizer, PixelStandardizer, load_json
from sk_pixels.cli import main
from sk_pixels.cli._plot import histogram_figure
from sk_pixels.io import list_images, load_image

from .image_files import png16, save

PERCENTS = [0, 1, 50, 99.8, 100]


def run(capsys, *argv):
    code = main(list(map(str, argv)))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """RGB PNGs of mixed sizes, and 16-bit gray PNGs with hot pixels."""
    root = tmp_path_factory.mktemp("cli_pct")
    rng = np.random.default_rng(4)
    for k in range(4):
        save(root / "rgb" / f"{k}.png", rng.integers(0, 256, (5 + k, 7, 3), np.uint8))
        frame = rng.normal(400, 60, (9 + k, 8, 1)).clip(0, 65535).astype(np.uint16)
        frame[k, k] = 65535
        png16(root / "gray16" / f"{k}.png", frame)
    return root


def _pixels(folder, mode, channels):
    paths = list_images(folder)
    return np.concatenate(
        [load_image(p, mode=mode).reshape(-1, channels) for p in paths]
    )


@pytest.mark.parametrize(
    "sub, mode, channels",
    [("rgb", "RGB", 3), ("gray16", "I;16", 1)],
    ids=["rgb", "u16"],
)
def test_stats_json_percentiles_equal_numpy_on_the_loaded_pixels(
    capsys, folders, sub, mode, channels
):
    text = ",".join(f"{p:g}" for p in PERCENTS)
    code, out, _ = run(
        capsys,
        "stats",
        folders / sub,
        "--mode",
        mode,
        "--percentiles",
        text,
        "--json",
        "-",
    )
    assert code == 0
    report = json.loads(out)
    pixels = _pixels(folders / sub, mode, channels)
    want = np.percentile(pixels, PERCENTS, axis=0)
    got = np.array([report["percentiles"][f"{p:g}"] for p in PERCENTS])
    assert_array_equal(got, want)
    pooled = [report["global"]["percentiles"][f"{p:g}"] for p in PERCENTS]
    assert_array_equal(pooled, np.percentile(pixels, PERCENTS))


def test_stats_prints_a_row_per_percentile(capsys, folders):
    code, out, _ = run(capsys, "stats", folders / "rgb", "--percentiles", "1,99.8")
    assert code == 0
    table = out[out.index("percentile") :].splitlines()
    assert table[0].split() == ["percentile", "R", "G", "B", "all"]
    pixels = _pixels(folders / "rgb", "RGB", 3)
    row = table[2].split()
    assert row[0] == "p99.8"
    assert_allclose([float(v) for v in row[1:4]], np.percentile(pixels, 99.8, axis=0))


def test_stats_without_percentiles_has_no_percentile_key(capsys, folders):
    code, out, _ = run(capsys, "stats", folders / "rgb", "--json", "-")
    assert code == 0 and "percentiles" not in json.loads(out)


#: (argv after the folder) -> fragment of the one-line error (exit 2).
BAD_LISTS = {
    "word": (["stats", "--percentiles", "1,x"], "'x' is not"),
    "over-100": (["stats", "--percentiles", "1,100.5"], "'100.5' is not"),
    "negative": (["stats", "--percentiles", "-1"], "from 0 to 100"),
    "empty": (["stats", "--percentiles", ""], "from 0 to 100"),
    "empty-item": (["stats", "--percentiles", "1,,2"], "'' is not"),
    "nan": (["stats", "--percentiles", "nan"], "'nan' is not"),
    "plot": (["plot", "--percentiles", "inf", "-o", "h.png"], "'inf' is not"),
    "range-reversed": (["fit", "--quantile-range", "99,1", "-o", "m.json"], "LO < HI"),
    "range-one": (["fit", "--quantile-range", "50", "-o", "m.json"], "two percents"),
    "range-centerer": (
        ["fit", "--estimator", "centerer", "--quantile-range", "1,99", "-o", "m.json"],
        "for the normalizer or the standardizer",
    ),
}


@pytest.mark.parametrize("case", list(BAD_LISTS))
def test_bad_percentile_lists_exit_2_with_one_line(capsys, folders, tmp_path, case):
    argv, fragment = BAD_LISTS[case]
    command, *rest = argv
    rest = [str(tmp_path / a) if a.endswith((".png", ".json")) else a for a in rest]
    if command == "fit" and "--estimator" not in rest:
        rest = ["--estimator", "normalizer", *rest]
    code, _, err = run(capsys, command, folders / "rgb", *rest)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], err


@pytest.mark.parametrize(
    "estimator, cls",
    [("normalizer", PixelNormalizer), ("standardizer", PixelStandardizer)],
)
def test_fit_quantile_range_from_the_folder_equals_fit_in_memory(
    capsys, folders, tmp_path, estimator, cls
):
    model = tmp_path / "m.json"
    argv = ["fit", folders / "gray16", "--mode", "I;16", "--estimator", estimator]
    code, _, _ = run(capsys, *argv, "--quantile-range", "1,99.8", "-o", model)
    assert code == 0
    pixels = _pixels(folders / "gray16", "I;16", 1)[None, :, None, :]
    fitted = load_json(model)
    in_memory = cls(quantile_range=(1, 99.8), **_scope(cls)).fit(pixels)
    assert_array_equal(fitted.quantiles_, in_memory.quantiles_)


def _scope(cls):
    return {"scope": "dataset"} if cls is PixelNormalizer else {}


def test_plot_marks_the_percentiles_in_the_figure_file(capsys, folders, tmp_path):
    pytest.importorskip("matplotlib")
    figure = tmp_path / "h.svg"
    code, out, _ = run(
        capsys,
        "plot",
        folders / "rgb",
        "-o",
        figure,
        "--percentiles",
        "1,99.8",
        "--log",
    )
    assert code == 0 and figure.exists()
    svg = figure.read_text()
    for p in ("1", "99.8"):
        for channel in "RGB":
            for where in ("before", "after"):
                assert f'id="percentile-p{p}-{channel}-{where}"' in svg
    png = tmp_path / "h.png"
    assert run(capsys, "plot", folders / "gray16", "--mode", "I;16", "-o", png,
               "--estimator", "normalizer", "--quantile-range", "1,99.8",
               "--percentiles", "1,50,99.8")[0] == 0  # fmt: skip
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_histogram_figure_draws_each_percentile_where_numpy_puts_it():
    pytest.importorskip("matplotlib")
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (500, 2))
    counts = np.stack([np.bincount(pixels[:, c], minlength=256) for c in range(2)])
    after = np.arange(256)[:, None] / 255.0 * np.array([1.0, 2.0])
    fig = histogram_figure(
        counts, after, ["R", "G"], mode="RGB", title="t", percentiles=[5, 95]
    )
    top, bottom = fig.axes
    for c, name in enumerate("RG"):
        want = np.percentile(pixels[:, c], [5, 95])
        for p, value in zip(["5", "95"], want):
            (line,) = [
                ln
                for ln in top.lines
                if ln.get_gid() == f"percentile-p{p}-{name}-before"
            ]
            assert line.get_xdata()[0] == value
            (line,) = [
                ln
                for ln in bottom.lines
                if ln.get_gid() == f"percentile-p{p}-{name}-after"
            ]
            assert_allclose(line.get_xdata()[0], value / 255.0 * (c + 1))
