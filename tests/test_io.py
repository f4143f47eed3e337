"""sk_pixels.io: decoding in every mode, bad files, exact streamed statistics."""

from __future__ import annotations

import io
import os
import pickle
import sys
import tracemalloc
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from PIL import Image

from sk_pixels import PixelCenterer, PixelNormalizer, PixelStandardizer, PixelStats
from sk_pixels._progress import SimpleProgress, progress_bar
from sk_pixels.io import (
    DecodeWarning,
    SkippedImagesWarning,
    UnreadableImageError,
    dataset_stats,
    iter_images,
    list_images,
    load_image,
)

from .image_files import (
    bad_folder,
    mixed_jpeg_folder,
    save,
    tiffs_that_make_libtiff_write,
)

N_JPEGS = 1000


@pytest.fixture(scope="module")
def jpeg_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("jpegs")
    mixed_jpeg_folder(root, N_JPEGS)
    return root


@pytest.fixture
def bad(tmp_path):
    good, bad_files = bad_folder(tmp_path / "bad")
    return tmp_path / "bad", good, bad_files


def _reference(paths, mode="RGB"):
    """float64 NumPy statistics of the decoded pixels, and exact integer sums."""
    flats = [
        load_image(p, mode=mode).reshape(-1, 1 if mode in ("L", "I;16") else 3)
        for p in paths
    ]
    pixels = np.concatenate(flats)
    sums = [int(s) for s in pixels.astype(np.int64).sum(axis=0)]
    sumsq = [int(s) for s in (pixels.astype(np.int64) ** 2).sum(axis=0)]
    as_float = pixels.astype(np.float64)
    return sums, sumsq, as_float.mean(axis=0), as_float.std(axis=0), len(flats)


# -- load_image ----------------------------------------------------------------------
RGB = np.array(
    [[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [10, 20, 30]]], dtype=np.uint8
)


def test_load_image_rgb_png_is_exact_and_writable(tmp_path):
    path = save(tmp_path / "x.png", RGB)
    image = load_image(path)
    assert image.dtype == np.uint8 and image.shape == (2, 2, 3)
    assert_array_equal(image, RGB)
    image[0, 0, 0] = 1  # a new, writable array


@pytest.mark.parametrize(
    "mode, expected",
    [
        ("RGB", RGB),
        ("BGR", RGB[..., ::-1]),
        ("RGBA", np.concatenate([RGB, np.full((2, 2, 1), 255, np.uint8)], axis=-1)),
        ("L", np.asarray(Image.fromarray(RGB).convert("L"))),
        (
            "LA",
            np.stack(
                [
                    np.asarray(Image.fromarray(RGB).convert("L")),
                    np.full((2, 2), 255, np.uint8),
                ],
                axis=-1,
            ),
        ),
        ("I;16", np.asarray(Image.fromarray(RGB).convert("L")).astype(np.uint16) * 257),
    ],
    ids=["RGB", "BGR", "RGBA-opaque", "L", "LA", "I16-from-8bit"],
)
def test_load_image_converts_rgb_to_each_mode(tmp_path, mode, expected):
    path = save(tmp_path / "x.png", RGB)
    image = load_image(path, mode=mode)
    assert image.dtype == expected.dtype and image.shape == expected.shape
    assert_array_equal(image, expected)


def test_load_image_rgba_drops_alpha_keeps_stored_colours(tmp_path):
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., :3] = RGB
    rgba[0, 0, 3] = 0  # fully transparent pixel keeps its stored red
    path = save(tmp_path / "x.png", rgba)
    assert_array_equal(load_image(path, mode="RGB"), RGB)
    assert_array_equal(load_image(path, mode="RGBA"), rgba)


def test_load_image_palette_with_transparency_gives_colours_without_warning(tmp_path):
    palette = Image.fromarray(RGB).quantize(colors=4)
    palette.info["transparency"] = 0
    path = tmp_path / "p.png"
    palette.save(path, transparency=0)
    with Image.open(path) as stored:
        assert stored.mode == "P"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = load_image(path)
    assert_array_equal(image, np.asarray(palette.convert("RGB")))


@pytest.mark.parametrize("mode", ["L", "LA", "CMYK", "1"])
def test_load_image_other_pillow_modes_to_rgb(tmp_path, mode):
    source = Image.fromarray(RGB).convert(mode)
    path = tmp_path / ("x.jpg" if mode == "CMYK" else "x.png")
    source.save(path, **({"quality": 100} if mode == "CMYK" else {}))
    image = load_image(path, mode="RGB")
    assert image.shape == (2, 2, 3) and image.dtype == np.uint8
    if mode != "CMYK":  # lossless: equal to Pillow's documented conversion
        assert_array_equal(image, np.asarray(source.convert("RGB")))


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_load_image_16bit_is_exact_and_rounded_not_clipped_to_8bit(tmp_path, suffix):
    values = np.array(
        [[0, 128, 129, 257], [1000, 32768, 65534, 65535]], dtype=np.uint16
    )
    path = save(tmp_path / f"g16{suffix}", values)
    wide = load_image(path, mode="I;16")
    assert wide.dtype == np.uint16
    assert_array_equal(wide, values)
    narrow = load_image(path, mode="L")
    assert_array_equal(narrow, np.round(values / 257).astype(np.uint8))
    assert (
        narrow.max() == 255 and narrow[0, 3] == 1
    )  # Pillow's own L would clip 257 -> 255
    assert_array_equal(
        load_image(path, mode="RGB"), np.repeat(narrow[..., None], 3, axis=-1)
    )


def test_load_image_applies_exif_orientation(tmp_path):
    tall = np.zeros((4, 2, 3), np.uint8)
    tall[0, 0] = 255  # top-left marker
    image = Image.fromarray(tall)
    exif = image.getexif()
    exif[0x0112] = 6  # stored rotated: display = rotate 90 clockwise
    path = tmp_path / "rotated.png"
    image.save(path, exif=exif.tobytes())
    loaded = load_image(path)
    assert loaded.shape == (2, 4, 3)
    assert_array_equal(
        loaded, np.asarray(Image.fromarray(tall).transpose(Image.Transpose.ROTATE_270))
    )


def test_load_image_rejects_unknown_mode(tmp_path):
    path = save(tmp_path / "x.png", RGB)
    with pytest.raises(ValueError, match="Unsupported mode 'HSV'"):
        load_image(path, mode="HSV")


def test_load_image_refuses_float_images(tmp_path):
    path = tmp_path / "f.tif"
    Image.fromarray(np.ones((2, 2), np.float32)).save(path)
    with pytest.raises(UnreadableImageError, match="unknown units"):
        load_image(path)


def test_load_image_bad_files_name_the_file(bad):
    _, _, bad_files = bad
    reasons = [
        "decompression bomb",
        "truncated",
        "not an image file",
        "not an image file",
    ]
    for path, reason in zip(bad_files, reasons, strict=True):
        with pytest.raises(UnreadableImageError, match=reason) as info:
            load_image(path)
        assert info.value.path == str(path) and str(path) in str(info.value)


def test_load_image_size_limit_is_configurable(tmp_path, monkeypatch):
    path = save(tmp_path / "x.png", np.zeros((30, 40, 3), np.uint8))
    with pytest.raises(
        UnreadableImageError, match="1200 pixels exceeds the limit of 1000"
    ):
        load_image(path, max_pixels=1000)
    assert load_image(path, max_pixels=1200).shape == (30, 40, 3)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)
    with pytest.raises(UnreadableImageError, match="decompression bomb"):
        load_image(path)


def test_unreadable_image_error_pickles():
    error = pickle.loads(pickle.dumps(UnreadableImageError("a.jpg", "truncated")))
    assert (error.path, error.reason) == ("a.jpg", "truncated")
    assert str(error) == "Cannot read image 'a.jpg': truncated"


# -- list_images / iter_images -------------------------------------------------------
def test_list_images_folder_glob_and_files(tmp_path):
    for name in ["b.png", "a.JPG", "sub/c.png", ".hidden.png", ".cache/d.png"]:
        save(tmp_path / name, RGB)
    (tmp_path / "notes.txt").write_text("x")
    names = [p.replace(str(tmp_path) + "/", "") for p in list_images(tmp_path)]
    assert names == ["a.JPG", "b.png", "sub/c.png"]
    assert len(list_images(tmp_path, recursive=False)) == 2
    assert list_images(str(tmp_path / "**" / "*.png")) == [
        str(tmp_path / "b.png"),
        str(tmp_path / "sub" / "c.png"),
    ]
    mixed = list_images([tmp_path / "sub", tmp_path / "b.png", tmp_path / "b.png"])
    assert mixed == [str(tmp_path / "sub" / "c.png"), str(tmp_path / "b.png")]


def test_list_images_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such file or folder"):
        list_images(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="matches no file"):
        list_images(str(tmp_path / "*.png"))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match="No image files found"):
        list_images(tmp_path)


def test_iter_images_streams_in_order(tmp_path):
    for k in range(3):
        save(tmp_path / f"{k}.png", np.full((k + 1, 2, 3), k, np.uint8))
    images = iter_images(tmp_path)
    first = next(images)
    assert first.shape == (1, 2, 3)
    assert [int(im[0, 0, 0]) for im in images] == [1, 2]
    pairs = list(iter_images(tmp_path, mode="L", with_paths=True))
    assert [p.rsplit("/", 1)[1] for p, _ in pairs] == ["0.png", "1.png", "2.png"]
    assert pairs[2][1].shape == (3, 2)


def test_iter_images_skip_reports_every_bad_file_at_the_end(bad):
    root, good, bad_files = bad
    images = iter_images(root, on_error="skip")
    with pytest.warns(SkippedImagesWarning, match="Skipped 4 unreadable") as record:
        loaded = list(images)
    assert len(loaded) == len(good)
    assert [p for p, _ in images.skipped] == [str(p) for p in bad_files]
    assert record[0].message.skipped == images.skipped


def test_iter_images_raise_names_first_bad_file(bad):
    root, good, bad_files = bad
    images = iter_images(root)
    assert next(images).shape == (9, 7, 3)
    with pytest.raises(UnreadableImageError, match="b_bomb.png"):
        next(images)


# -- dataset_stats -------------------------------------------------------------------
def test_dataset_stats_1000_jpegs_equal_float64_reference(jpeg_folder):
    paths = list_images(jpeg_folder)
    assert len(paths) == N_JPEGS
    stats = dataset_stats(jpeg_folder)
    sums, sumsq, mean, std, n_images = _reference(paths)
    assert stats.exact and stats.n_images == n_images == N_JPEGS
    assert stats.sum.tolist() == sums  # exact integer sums
    assert stats.to_dict()["sumsq"] == sumsq
    np.testing.assert_allclose(stats.mean, mean, rtol=1e-13)
    np.testing.assert_allclose(stats.std, std, rtol=1e-12)
    sizes = {load_image(p).shape[:2] for p in paths[:50]}
    assert len(sizes) > 10  # mixed sizes


def test_dataset_stats_two_jobs_equal_one_job(jpeg_folder):
    one = dataset_stats(jpeg_folder, n_jobs=1)
    two = dataset_stats(jpeg_folder, n_jobs=2)
    assert two == one
    assert_array_equal(two.std, one.std)
    assert dataset_stats(jpeg_folder, n_jobs=2, chunk_size=7) == one


def test_dataset_stats_memory_does_not_grow_with_images(tmp_path):
    rng = np.random.default_rng(3)
    shape = (96, 96, 3)
    paths = [
        save(tmp_path / f"{k:03d}.png", rng.integers(0, 256, shape, dtype=np.uint8))
        for k in range(150)
    ]

    def peak(files):
        tracemalloc.start()
        try:
            dataset_stats(files)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    dataset_stats(paths[:2])  # first-call caches (Pillow plugins...) out of the way
    small, large = peak(paths[:25]), peak(paths)
    extra_pixels = (len(paths) - 25) * int(np.prod(shape))  # bytes of the extra images
    # 6x the images: the peak stays a few images' worth plus PixelStats' fixed
    # block buffers; only the list of paths grows, by a few hundred bytes per
    # file: under 5% of what holding the extra 125 images would take.
    assert large - small < 125 * 400, (small, large)
    assert large - small < 0.05 * extra_pixels, (small, large)


def test_dataset_stats_skip_counts_only_good_images(bad):
    root, good, bad_files = bad
    expected = dataset_stats(good)
    for n_jobs in (1, 2):
        stats, skipped = dataset_stats(
            root, n_jobs=n_jobs, on_error="skip", return_skipped=True
        )
        assert stats == expected and stats.n_images == 3
        assert [p for p, _ in skipped] == [str(p) for p in bad_files]
    with pytest.warns(SkippedImagesWarning, match="d_truncated.jpg"):
        assert dataset_stats(root, on_error="skip") == expected


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_dataset_stats_raise_names_first_bad_file(bad, n_jobs):
    root, _, _ = bad
    with pytest.raises(UnreadableImageError, match=r"b_bomb\.png.*decompression bomb"):
        dataset_stats(root, n_jobs=n_jobs, chunk_size=1)


def test_dataset_stats_bomb_limit_reaches_workers(tmp_path, monkeypatch):
    for k in range(4):
        save(tmp_path / f"{k}.png", np.zeros((10 + 20 * k, 10, 3), np.uint8))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 350)
    stats, skipped = dataset_stats(
        tmp_path, n_jobs=2, on_error="skip", chunk_size=1, return_skipped=True
    )
    assert stats.n_images == 2 and [p[-5:] for p, _ in skipped] == ["2.png", "3.png"]


def test_dataset_stats_all_bad_is_an_error(tmp_path):
    (tmp_path / "x.png").write_text("no")
    with pytest.raises(ValueError, match="All 1 image files were skipped"):
        dataset_stats(tmp_path, on_error="skip")


def test_dataset_stats_16bit_is_exact(tmp_path):
    rng = np.random.default_rng(4)
    paths = [
        save(tmp_path / f"{k}.png", rng.integers(0, 65536, (5 + k, 6), dtype=np.uint16))
        for k in range(5)
    ]
    stats = dataset_stats(tmp_path, mode="I;16")
    sums, sumsq, mean, _, _ = _reference(paths, "I;16")
    assert stats.input_dtype == "uint16" and stats.sum.tolist() == sums
    assert stats.to_dict()["sumsq"] == sumsq


@pytest.mark.parametrize(
    "estimator",
    [
        PixelStandardizer(),
        PixelStandardizer(per_channel=False, ddof=1),
        PixelCenterer(),
        PixelNormalizer(scope="dataset"),
        PixelNormalizer(scope="dataset", per_channel=False),
    ],
    ids=[
        "standardizer",
        "standardizer-global-ddof1",
        "centerer",
        "normalizer",
        "normalizer-global",
    ],
)
def test_fit_stats_from_dataset_equals_fit_on_pixels(tmp_path, estimator):
    rng = np.random.default_rng(5)
    X = rng.integers(0, 256, (6, 8, 9, 3), dtype=np.uint8)
    for k, image in enumerate(X):
        save(tmp_path / f"{k}.png", image)
    from sklearn.base import clone

    on_pixels = clone(estimator).fit(X)
    on_stats = clone(estimator).fit_stats(dataset_stats(tmp_path))
    for name in (
        "mean_",
        "std_",
        "data_min_",
        "data_max_",
        "n_samples_seen_",
        "max_value_",
    ):
        if hasattr(on_pixels, name):
            assert_array_equal(getattr(on_stats, name), getattr(on_pixels, name))
    assert_array_equal(on_stats.transform(X), on_pixels.transform(X))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mode": "HSV"}, "Unsupported mode"),
        ({"on_error": "ignore"}, "on_error must be"),
        ({"n_jobs": 0}, "n_jobs must be"),
        ({"chunk_size": 0}, "chunk_size must be"),
        ({"max_pixels": -1}, "max_pixels must be"),
    ],
)
def test_dataset_stats_rejects_bad_arguments(tmp_path, kwargs, message):
    save(tmp_path / "x.png", RGB)
    with pytest.raises(ValueError, match=message):
        dataset_stats(tmp_path, **kwargs)


def test_dataset_stats_doctest_numbers_match_sample_photos(sample_photos):
    from sklearn.datasets import load_sample_images

    stats = dataset_stats(load_sample_images().filenames)
    assert stats == PixelStats.from_array(sample_photos)


# -- progress ------------------------------------------------------------------------
def test_simple_progress_shows_count_rate_and_eta():
    out = io.StringIO()
    with SimpleProgress(4, file=out, min_interval=0.0) as bar:
        bar.update(2)
        assert bar.text().startswith("images: 2/4 (50%) ")
        assert " img/s ETA " in bar.text()
        bar.update(2)
    drawn = out.getvalue()
    assert "\rimages: 2/4 (50%)" in drawn
    assert drawn.rsplit("\r", 1)[1].startswith("images: 4/4 (100%) ")
    assert drawn.endswith("\n")


def test_simple_progress_before_any_image_has_no_eta():
    bar = SimpleProgress(4, file=io.StringIO())
    assert bar.text().endswith(" 0.0 img/s ETA ?")


def test_progress_bar_without_tqdm_is_the_simple_one(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm: ImportError
    assert isinstance(progress_bar(3), SimpleProgress)


def test_progress_bar_disabled_is_silent(capsys):
    with progress_bar(3, enabled=False) as bar:
        bar.update(3)
    assert capsys.readouterr().err == ""


def test_dataset_stats_progress_goes_to_stderr(tmp_path, capsys):
    save(tmp_path / "x.png", RGB)
    dataset_stats(tmp_path, progress=True)
    captured = capsys.readouterr()
    assert captured.out == "" and "1/1" in captured.err


@pytest.mark.parametrize("source_mode", ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK"])
@pytest.mark.parametrize("mode", ["RGB", "BGR", "RGBA", "L", "LA", "I;16"])
def test_histogram_statistics_equal_statistics_of_the_loaded_pixels(
    tmp_path, source_mode, mode
):
    rng = np.random.default_rng(3)
    rgba = rng.integers(0, 256, size=(9, 7, 4), dtype=np.uint8)
    suffix = ".tif" if source_mode == "CMYK" else ".png"
    path = save(tmp_path / f"img{suffix}", rgba, mode=source_mode)
    stats = dataset_stats([path], mode=mode)  # counted from Pillow's histograms
    assert stats == PixelStats.from_array(load_image(path, mode=mode)[None])


# -- what C decoders write to fd 2 -----------------------------------------------------
@pytest.fixture
def libtiff_files(tmp_path):
    pytest.importorskip("tifffile", reason="writing the TIFFs needs tifffile")
    return tiffs_that_make_libtiff_write(tmp_path / "tiffs")


def test_load_image_turns_libtiff_output_into_a_decode_warning(capfd, libtiff_files):
    decodable, _ = libtiff_files
    with pytest.warns(DecodeWarning, match="custom tag 65000") as record:
        image = load_image(decodable[0])
    assert image.shape == (12, 16, 3)
    assert record[0].message.files[0][0] == str(decodable[0])
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_dataset_stats_reports_libtiff_output_with_its_file(
    capfd, libtiff_files, n_jobs
):
    decodable, truncated = libtiff_files
    with pytest.warns(DecodeWarning) as record:
        stats, skipped = dataset_stats(
            decodable + truncated, on_error="skip", n_jobs=n_jobs, return_skipped=True
        )
    [warning] = [w.message for w in record]
    assert [path for path, _ in warning.files] == [str(p) for p in decodable]
    assert [path for path, _ in skipped] == [str(p) for p in truncated]
    assert all("(decoder: TIFFFillStrip" in reason for _, reason in skipped)
    with pytest.warns(DecodeWarning):
        assert stats == dataset_stats(decodable)
    assert capfd.readouterr().err == ""  # nothing reached fd 2


def test_iter_images_lists_files_decoded_with_warnings(libtiff_files):
    decodable, _ = libtiff_files
    images = iter_images(decodable)
    with pytest.warns(DecodeWarning, match="2 file"):
        assert len(list(images)) == 2
    assert [path for path, _ in images.warned] == [str(p) for p in decodable]


def test_every_public_name_of_sk_pixels_io_resolves():
    import sk_pixels.io as io_package

    namespace: dict = {}
    exec("from sk_pixels.io import *", namespace)
    assert set(io_package.__all__) <= set(namespace) & set(dir(io_package))
    assert namespace["MODES"] == {
        "RGB": 3,
        "BGR": 3,
        "RGBA": 4,
        "L": 1,
        "LA": 2,
        "I;16": 1,
        "RGB;16": 3,
        "BGR;16": 3,
        "RGBA;16": 4,
        "LA;16": 2,
    }


def test_libtiff_output_of_concurrent_threads_stays_with_its_file(capfd, libtiff_files):
    from concurrent.futures import ThreadPoolExecutor

    decodable, truncated = libtiff_files
    paths = (decodable + truncated) * 8

    def outcome(path):
        images = iter_images([path], on_error="skip")
        list(images)
        return (images.warned or images.skipped)[0][1]

    with warnings.catch_warnings():  # once, for all threads
        warnings.simplefilter("ignore", DecodeWarning)
        warnings.simplefilter("ignore", SkippedImagesWarning)
        with ThreadPoolExecutor(4) as pool:
            said = list(pool.map(outcome, paths))
    for path, message in zip(paths, said):
        if path in decodable:
            assert f"custom tag {65000 + decodable.index(path)} " in message
            assert "strip" not in message
        else:
            assert "Read error on strip" in message and "custom tag" not in message
    assert capfd.readouterr().err == ""


# -- what decoders write to fd 2 -------------------------------------------------------
def test_stderr_capture_without_fd_2_captures_nothing():
    from sk_pixels.io._stderr import captured_stderr

    saved = os.dup(2)
    os.close(2)  # as in a daemon started without a stderr
    try:
        with captured_stderr() as text:
            pass
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    assert text == []


def test_stderr_capture_without_a_python_stdout(monkeypatch):
    from sk_pixels.io._stderr import captured_stderr

    monkeypatch.setattr(sys, "stdout", None)  # pythonw, or a closed stream
    with captured_stderr() as text:
        os.write(2, b"from C\n")
    assert text == ["from C"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX fork only")
# Python >= 3.12 warns on fork() beside threads; the child only reads a variable.
@pytest.mark.filterwarnings(
    "ignore:.*fork\\(\\) may lead to deadlocks:DeprecationWarning"
)
def test_a_forked_child_never_reuses_the_parents_capture_file():
    from sk_pixels.io import _stderr

    with _stderr.captured_stderr():
        pass  # the parent now holds its capture file
    assert _stderr._sink >= 0
    pid = os.fork()
    if pid == 0:  # the child: its own file, opened on first use
        os._exit(0 if _stderr._sink == -1 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
