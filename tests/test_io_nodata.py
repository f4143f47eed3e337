"""``dataset_stats(..., nodata=)`` and ``--nodata``: sentinels left out per channel
(issue 10, item 3), equal to a NumPy reference over the valid pixels."""

from __future__ import annotations

import json

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sk_pixels.cli import main
from sk_pixels.io import dataset_stats, load_image

from .image_files import png16, save


def _reference(arrays, nodata, channels):
    """Per-channel count, mean, std, min, max of the values other than nodata."""
    flat = np.concatenate([a.reshape(-1, channels) for a in arrays])
    sentinels = np.broadcast_to(np.asarray(nodata, dtype=np.float64), (channels,))
    out = []
    for c in range(channels):
        values = flat[:, c].astype(np.float64)
        valid = values[values != sentinels[c]]
        out.append((valid.size, valid.mean(), valid.std(), valid.min(), valid.max()))
    return [np.array(column) for column in zip(*out)]


def _rgb_folder(root, rng, n=4, sentinel=(0, 0, 0)):
    arrays = []
    for k in range(n):
        a = rng.integers(0, 256, (6 + k, 7, 3), dtype=np.uint8)
        a[: 2 + k, :3] = sentinel  # a nodata corner of varying size
        a[-1, -1, 1] = sentinel[1]  # and one more in the green channel only
        arrays.append(a)
        save(root / f"{k}.png", a)
    return arrays


#: id -> (mode, nodata, sentinel written into the images)
CASES = {
    "rgb-one-number": ("RGB", 0, (0, 0, 0)),
    "rgb-per-channel": ("RGB", (255, 0, 7), (255, 0, 7)),
    "bgr-per-channel": ("BGR", (7, 0, 255), (255, 0, 7)),
    "rgb-sentinel-absent": ("RGB", 300, (0, 0, 0)),
    "rgb16-per-channel": ("RGB;16", (65535, 0, 1799), (255, 0, 7)),
}


@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("case", list(CASES))
def test_nodata_statistics_equal_numpy_over_the_valid_pixels(
    tmp_path, rng, case, n_jobs
):
    mode, nodata, sentinel = CASES[case]
    _rgb_folder(tmp_path, rng, sentinel=sentinel)
    arrays = [load_image(p, mode=mode) for p in sorted(tmp_path.glob("*.png"))]
    count, mean, std, lo, hi = _reference(arrays, nodata, 3)
    stats = dataset_stats(tmp_path, mode=mode, nodata=nodata, n_jobs=n_jobs)
    assert_array_equal(stats.count, count)  # exact, per channel
    assert_allclose(stats.mean, mean, rtol=1e-13)
    assert_allclose(stats.std, std, rtol=1e-12)
    assert_array_equal(stats.min, lo)
    assert_array_equal(stats.max, hi)
    assert stats.n_images == 4


def test_nodata_16bit_gray_png(tmp_path, rng):
    arrays = []
    for k in range(3):
        a = rng.integers(0, 65536, (5, 6, 1), dtype=np.uint16)
        a[k] = 65535
        arrays.append(a[..., 0])
        png16(tmp_path / f"{k}.png", a)
    count, mean, std, lo, hi = _reference(arrays, 65535, 1)
    stats = dataset_stats(tmp_path, mode="I;16", nodata=65535)
    assert_array_equal(stats.count, count)
    assert_allclose(stats.mean, mean, rtol=1e-13)
    assert_array_equal(stats.max, hi)


def test_channel_all_nodata_in_one_image_counts_only_the_others(tmp_path):
    first = np.full((2, 2, 3), 9, np.uint8)
    first[..., 0] = 0  # red is all nodata here
    second = np.full((3, 1, 3), 4, np.uint8)
    save(tmp_path / "a.png", first)
    save(tmp_path / "b.png", second)
    stats = dataset_stats(tmp_path, nodata=0)
    assert_array_equal(stats.count, [3, 7, 7])
    assert_array_equal(stats.mean, [4.0, 48 / 7, 48 / 7])
    assert_array_equal(stats.min, [4, 4, 4])


def test_equal_to_plain_stats_when_no_value_is_nodata(tmp_path, rng):
    _rgb_folder(tmp_path, rng)
    plain = dataset_stats(tmp_path)
    masked = dataset_stats(tmp_path, nodata=-1)
    assert masked.to_dict() == plain.to_dict()


@pytest.mark.parametrize(
    "nodata, match",
    [
        ((0, 0), "3 numbers, one per channel"),
        ("0", "must be a number"),
        (True, "must be a number"),
        ((), "must be a number"),
        ([0, None, 0], "must be a number"),
    ],
    ids=["two-for-rgb", "string", "bool", "empty", "none-inside"],
)
def test_bad_nodata_is_refused_before_reading(tmp_path, nodata, match):
    save(tmp_path / "a.png", np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(ValueError, match=match):
        dataset_stats(tmp_path, nodata=nodata)


@pytest.mark.parametrize(
    "option, expected_count",
    [(["--nodata", "0"], [23, 22, 23]), (["--nodata", "0,5,0"], [23, 3, 23])],
    ids=["one", "per-channel"],
)
def test_cli_stats_and_fit_with_nodata(tmp_path, capsys, option, expected_count):
    a = np.full((5, 5, 3), 5, np.uint8)
    a[0, :2] = 0
    a[1, 0, 1] = 0
    save(tmp_path / "imgs" / "a.png", a)
    report = tmp_path / "s.json"
    argv = ["stats", str(tmp_path / "imgs"), *option, "--json", str(report)]
    assert main(argv) == 0
    counts = json.loads(report.read_text())["statistics"]["count"]
    assert counts == expected_count
    model = tmp_path / "m.json"
    argv = ["fit", str(tmp_path / "imgs"), "--estimator", "centerer", *option]
    assert main([*argv, "-o", str(model)]) == 0
    capsys.readouterr()


def test_cli_stats_json_of_a_channel_with_no_valid_pixel_is_strict_json(
    tmp_path, capsys
):
    # Every alpha value is the sentinel: that channel has no statistics. The
    # report must stay JSON (null, not NaN, which jq and JSON.parse refuse),
    # and its "statistics" must still rebuild the PixelStats.
    from sk_pixels import PixelStats

    a = np.full((4, 4, 2), 255, np.uint8)
    a[..., 0] = np.arange(16).reshape(4, 4)
    save(tmp_path / "imgs" / "a.png", a, mode="LA")
    report = tmp_path / "s.json"
    argv = ["stats", str(tmp_path / "imgs"), "--mode", "LA", "--nodata", "0,255"]
    assert main([*argv, "--percentiles", "50", "--json", str(report)]) == 0
    capsys.readouterr()

    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    data = json.loads(report.read_text(), parse_constant=refuse)
    assert data["mean"][1] is None and data["mean"][0] == np.arange(1, 16).mean()
    assert data["percentiles"]["50"][1] is None
    stats = PixelStats.from_dict(data["statistics"])
    assert stats.count.tolist() == [15, 0] and np.isnan(stats.mean[1])


def test_cli_bad_nodata_is_a_usage_error(tmp_path, capsys):
    save(tmp_path / "a.png", np.zeros((2, 2, 3), np.uint8))
    assert main(["stats", str(tmp_path), "--nodata", "zero"]) == 2
    assert "--nodata: must be a number" in capsys.readouterr().err
