"""``dataset_stats(..., histogram=True)``: the folder's histogram equals the histogram
of its pixels loaded and concatenated, for any worker count (issue 14), and fits
percentile scalers through ``fit_stats(stats, histogram=...)``."""

from __future__ import annotations

import io
import tarfile

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from PIL import Image

from sk_pixels import PixelHistogram, PixelNormalizer, PixelStandardizer, PixelStats
from sk_pixels.io import _dataset, dataset_stats, list_images, load_image

from ._outcomes import Raises, check
from .image_files import mixed_jpeg_folder, png16, save


def _concatenated(paths, mode, channels):
    """All pixels of the files, loaded and stacked as one (1, N, 1, C) image."""
    flat = [load_image(p, mode=mode).reshape(-1, channels) for p in paths]
    return np.concatenate(flat)[None, :, None, :]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """An 8-bit folder (JPEG + PNG, mixed sizes) and a 16-bit one with hot pixels."""
    root = tmp_path_factory.mktemp("hist")
    rng = np.random.default_rng(14)
    mixed_jpeg_folder(root / "rgb", 18)
    for k in range(4):
        save(root / "rgb" / f"p{k}.png", rng.integers(0, 256, (5 + k, 9, 3), np.uint8))
    for k in range(6):
        cells = rng.normal(900, 150, (12 + k, 10, 1)).clip(0, 65535)
        cells[k, k] = 65535  # a hot pixel
        png16(root / "gray16" / f"{k}.png", cells.astype(np.uint16))
    return root


@pytest.fixture
def always_parallel(monkeypatch):
    """Let a small test folder use every worker it asks for."""
    monkeypatch.setattr(_dataset, "MIN_BYTES_PER_WORKER", 1)


@pytest.mark.usefixtures("always_parallel")
@pytest.mark.parametrize(
    "backend, n_jobs, chunk_size",
    [("threads", 1, None), ("threads", 3, 1), ("threads", 2, 5), ("processes", 2, 4)],
    ids=["serial", "threads-3", "threads-2-chunks-5", "processes-2"],
)
@pytest.mark.parametrize(
    "sub, mode, channels",
    [("rgb", "RGB", 3), ("rgb", "BGR", 3), ("rgb", "L", 1), ("gray16", "I;16", 1)],
    ids=["rgb", "bgr", "gray", "uint16"],
)
def test_folder_histogram_equals_histogram_of_concatenated_pixels_for_any_workers(
    folders, backend, n_jobs, chunk_size, sub, mode, channels
):
    paths = list_images(folders / sub)
    stats, hist = dataset_stats(
        folders / sub,
        mode=mode,
        histogram=True,
        n_jobs=n_jobs,
        chunk_size=chunk_size,
        backend=backend,
    )
    pixels = _concatenated(paths, mode, channels)
    want = PixelHistogram.from_array(pixels)
    assert hist.counts.tolist() == want.counts.tolist()
    assert (hist.input_dtype, hist.n_images) == (want.input_dtype, len(paths))
    assert stats == dataset_stats(folders / sub, mode=mode)  # unchanged by histogram
    q = [0, 1, 2.5, 50, 99.8, 100]
    per_channel = pixels.reshape(-1, channels)
    assert_array_equal(hist.percentile(q), np.percentile(per_channel, q, axis=0))


@pytest.mark.parametrize("source_mode", ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK"])
@pytest.mark.parametrize("mode", ["RGB", "BGR", "RGBA", "L", "LA", "I;16"])
def test_pillow_histogram_path_counts_the_loaded_pixels(tmp_path, source_mode, mode):
    rgba = np.random.default_rng(5).integers(0, 256, size=(9, 7, 4), dtype=np.uint8)
    suffix = ".tif" if source_mode == "CMYK" else ".png"
    path = save(tmp_path / f"img{suffix}", rgba, mode=source_mode)
    stats, hist = dataset_stats([path], mode=mode, histogram=True)
    image = load_image(path, mode=mode)
    assert hist == PixelHistogram.from_array(image[None])
    assert stats == PixelStats.from_array(image[None])


def _shard(path, arrays):
    with tarfile.open(path, "w") as tar:
        for k, array in enumerate(arrays):
            buffer = io.BytesIO()
            Image.fromarray(array).save(buffer, format="PNG")
            info = tarfile.TarInfo(f"{k:04d}.png")
            info.size = len(buffer.getvalue())
            tar.addfile(info, io.BytesIO(buffer.getvalue()))
    return path


@pytest.mark.usefixtures("always_parallel")
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_tar_shards_histogram_equals_the_in_memory_histogram(tmp_path, n_jobs):
    rng = np.random.default_rng(2)
    arrays = [rng.integers(0, 256, (4 + k, 6, 3), np.uint8) for k in range(6)]
    _shard(tmp_path / "a.tar", arrays[:3])
    _shard(tmp_path / "b.tar", arrays[3:])
    _, hist = dataset_stats(tmp_path, histogram=True, n_jobs=n_jobs)
    pixels = np.concatenate([a.reshape(-1, 3) for a in arrays])[None, :, None]
    assert hist == PixelHistogram(
        PixelHistogram.from_array(pixels).counts, "uint8", len(arrays)
    )


@pytest.mark.usefixtures("always_parallel")
@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize(
    "mode, nodata, sentinel",
    [("RGB", 0, (0, 0, 0)), ("RGB", (255, 0, 7), (255, 0, 7)), ("I;16", 65535, None)],
    ids=["rgb-one-number", "rgb-per-channel", "uint16"],
)
def test_nodata_pixels_are_left_out_of_the_histogram(
    tmp_path, n_jobs, mode, nodata, sentinel
):
    rng = np.random.default_rng(8)
    channels = 3 if mode == "RGB" else 1
    arrays = []
    for k in range(4):
        if mode == "RGB":
            a = rng.integers(0, 256, (6 + k, 7, 3), dtype=np.uint8)
            a[: 2 + k, :3] = sentinel
            save(tmp_path / f"{k}.png", a)
        else:
            a = rng.integers(0, 4000, (6 + k, 7, 1)).astype(np.uint16)
            a[: 1 + k, :2] = 65535
            png16(tmp_path / f"{k}.png", a)
        arrays.append(a)
    stats, hist = dataset_stats(tmp_path, mode=mode, nodata=nodata, histogram=True)
    flat = np.concatenate([a.reshape(-1, channels) for a in arrays])
    sentinels = np.broadcast_to(np.asarray(nodata), (channels,))
    for c in range(channels):
        valid = flat[:, c][flat[:, c] != sentinels[c]]
        assert_array_equal(
            hist.percentile([1, 50, 99.8])[:, c], np.percentile(valid, [1, 50, 99.8])
        )
        assert hist.count[c] == valid.size == stats.count[c]


def test_return_skipped_comes_after_the_histogram(tmp_path):
    save(tmp_path / "a.png", np.zeros((2, 2, 3), np.uint8))
    (tmp_path / "bad.png").write_bytes(b"not a png")
    stats, hist, skipped = dataset_stats(
        tmp_path, histogram=True, on_error="skip", return_skipped=True
    )
    assert (stats.n_images, hist.n_images) == (1, 1)
    assert [p for p, _ in skipped] == [str(tmp_path / "bad.png")]


@pytest.mark.parametrize(
    "estimator",
    [
        PixelNormalizer(scope="dataset", quantile_range=(1, 99.8), clip=True),
        PixelNormalizer(scope="dataset", quantile_range=(2, 98), per_channel=False),
        PixelStandardizer(quantile_range=(25, 75)),
        PixelStandardizer(quantile_range=(10, 90), per_channel=False, clip=3.0),
    ],
    ids=repr,
)
def test_fit_stats_from_folder_equals_fit_on_the_loaded_pixels(folders, estimator):
    stats, hist = dataset_stats(folders / "gray16", mode="I;16", histogram=True)
    pixels = _concatenated(list_images(folders / "gray16"), "I;16", 1)
    from_folder = estimator.fit_stats(stats, histogram=hist)
    in_memory = type(estimator)(**estimator.get_params()).fit(pixels)
    assert_array_equal(from_folder.quantiles_, in_memory.quantiles_)
    assert_array_equal(from_folder.transform(pixels), in_memory.transform(pixels))


def _histogram_of(X):
    return PixelHistogram.from_array(X)


X8 = np.arange(24, dtype=np.uint8).reshape(1, 2, 4, 3)

#: fit_stats(stats of X8, histogram=...) -> outcome, for a percentile estimator.
FIT_STATS_CASES = {
    "missing": (None, Raises(ValueError, "needs the pixels' histogram")),
    "not-a-histogram": (np.zeros((3, 256)), Raises(ValueError, "Got histogram=")),
    "other-channels": (
        _histogram_of(X8[..., :2]),
        Raises(ValueError, "histogram has 2 channel"),
    ),
    "other-pixels": (
        _histogram_of(X8[:, :1]),
        Raises(ValueError, r"histogram counts \[4, 4, 4\] uint8"),
    ),
    "other-dtype": (
        _histogram_of(X8.astype(np.uint16)),
        Raises(ValueError, "histogram counts .* uint16 pixels"),
    ),
}


@pytest.mark.parametrize("cls", [PixelNormalizer, PixelStandardizer])
@pytest.mark.parametrize("case", list(FIT_STATS_CASES))
def test_fit_stats_refuses_a_histogram_of_other_pixels(cls, case):
    histogram, outcome = FIT_STATS_CASES[case]
    estimator = cls(scope="dataset", quantile_range=(5, 95))
    check(
        outcome,
        lambda: estimator.fit_stats(PixelStats.from_array(X8), histogram=histogram),
    )


def test_fit_stats_ignores_a_histogram_it_does_not_need():
    scaler = PixelStandardizer().fit_stats(
        PixelStats.from_array(X8), histogram=_histogram_of(X8)
    )
    assert not hasattr(scaler, "histogram_")


def test_float_tiffs_give_percentiles_within_the_stated_relative_error(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    rng = np.random.default_rng(0)
    arrays = [rng.lognormal(0, 1.5, (20, 30)).astype(np.float32) for _ in range(3)]
    for k, array in enumerate(arrays):
        tifffile.imwrite(tmp_path / f"{k}.tif", array)
    _, hist = dataset_stats(tmp_path, mode="native", histogram=True)
    assert not hist.exact and hist.input_dtype == "float32"
    flat = np.concatenate([a.ravel() for a in arrays]).astype(np.float64)
    q = [1, 50, 99.8]
    assert_allclose(hist.percentile(q).ravel(), np.percentile(flat, q), rtol=2.0**-7)
