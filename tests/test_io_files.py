"""Files as they really are (issue 10, item 4): 16-bit colour PNGs, tar shards,
links, FIFOs and files that are not raster images."""

from __future__ import annotations

import io
import os
import pickle
import sys
import tarfile

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from PIL import Image

from sk_pixels import PixelStats
from sk_pixels.cli import main
from sk_pixels.io import (
    SkippedImagesWarning,
    UnreadableImageError,
    dataset_stats,
    iter_images,
    list_images,
    load_image,
)

from ._outcomes import OK, Raises, check
from .image_files import mixed_jpeg_folder, png16, save

CHANNELS = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}
WIDE_MODE = {"LA": "LA;16", "RGB": "RGB;16", "RGBA": "RGBA;16"}


def _samples(channels: int, shape=(11, 13), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    samples = rng.integers(0, 65536, size=(*shape, channels), dtype=np.uint16)
    samples[0, 0] = 65535  # both ends of the range
    samples[0, 1] = 0
    samples[1, 0] = 257 * 7 + 1  # not a multiple of 257: the low byte matters
    return samples


def _round257(x: np.ndarray) -> np.ndarray:
    return np.round(x.astype(np.float64) / 257).astype(np.uint8)


def _luma(rgb: np.ndarray) -> np.ndarray:
    r, g, b = (rgb[..., k].astype(np.int64) for k in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 32768) >> 16).astype(np.uint16)


# -- 16-bit colour PNGs --------------------------------------------------------------
@pytest.mark.parametrize("interlace", [False, True], ids=["plain", "adam7"])
@pytest.mark.parametrize("filter_type", range(5), ids="none sub up avg paeth".split())
@pytest.mark.parametrize("colour", ["LA", "RGB", "RGBA"])
def test_16bit_colour_png_is_read_to_the_bit(tmp_path, colour, filter_type, interlace):
    samples = _samples(CHANNELS[colour])
    path = png16(
        tmp_path / "x.png", samples, filter_type=filter_type, interlace=interlace
    )
    image = load_image(path, mode=WIDE_MODE[colour])
    assert image.dtype == np.uint16
    assert_array_equal(image, samples)


@pytest.mark.parametrize(
    "mode, expected",
    [
        ("RGB;16", lambda s: s[..., :3]),
        ("BGR;16", lambda s: s[..., 2::-1]),
        ("RGBA;16", lambda s: s),
        ("RGB", lambda s: _round257(s[..., :3])),
        ("BGR", lambda s: _round257(s[..., 2::-1])),
        ("RGBA", lambda s: _round257(s)),
        ("I;16", lambda s: _luma(s)),
        ("L", lambda s: _round257(_luma(s))),
        ("LA;16", lambda s: np.stack([_luma(s), s[..., 3]], -1)),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_16bit_rgba_png_in_every_mode_uses_all_16_bits(tmp_path, mode, expected):
    """8-bit modes round(x / 257) the full samples; I;16 is no multiple of 257."""
    samples = _samples(4)
    path = png16(tmp_path / "x.png", samples)
    assert_array_equal(load_image(path, mode=mode), expected(samples))


def test_16bit_png_i16_is_not_a_multiple_of_257(tmp_path):
    path = png16(tmp_path / "x.png", _samples(3))
    assert (load_image(path, mode="I;16") % 257 != 0).any()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_16bit_png_exif_orientation_matches_pillow_on_8_bits(tmp_path, orientation):
    samples = _samples(3, shape=(5, 8))
    wide = load_image(
        png16(tmp_path / "w.png", samples, orientation=orientation), mode="RGB;16"
    )
    high = Image.fromarray((samples >> 8).astype(np.uint8))
    exif = Image.Exif()
    exif[0x0112] = orientation
    high.save(tmp_path / "n.png", exif=exif)
    assert_array_equal(wide >> 8, load_image(tmp_path / "n.png"))


@pytest.mark.parametrize("mode", ["RGB;16", "RGB", "I;16", "RGBA;16"])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_16bit_png_dataset_stats_equal_numpy(tmp_path, mode, n_jobs):
    for k in range(4):
        png16(tmp_path / f"{k}.png", _samples(3, shape=(6 + k, 9), seed=k))
    pixels = np.concatenate(
        [
            load_image(p, mode=mode).reshape(
                -1, 1 if mode == "I;16" else len(mode[:4].rstrip(";"))
            )
            for p in sorted(tmp_path.glob("*.png"))
        ]
    )
    stats = dataset_stats(tmp_path, mode=mode, n_jobs=n_jobs, chunk_size=1)
    assert stats.n_images == 4
    assert_array_equal(stats.n_pixels, pixels.shape[0])
    np.testing.assert_allclose(stats.mean, pixels.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(stats.std, pixels.astype(float).std(axis=0), rtol=1e-12)


@pytest.mark.parametrize("mode", ["RGB;16", "RGBA;16", "LA;16", "BGR;16"])
def test_8bit_image_in_a_16bit_mode_is_scaled_by_257(tmp_path, mode):
    rgb = np.random.default_rng(1).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    path = save(tmp_path / "x.png", rgb)
    eight = load_image(path, mode=mode.split(";")[0])
    assert_array_equal(load_image(path, mode=mode), eight.astype(np.uint16) * 257)


# -- what is opened, and how often ---------------------------------------------------
def test_postscript_named_png_is_never_opened(tmp_path, monkeypatch):
    path = tmp_path / "photo.png"
    path.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    called = []
    monkeypatch.setattr(
        "subprocess.check_call", lambda *a, **k: called.append(a)
    )  # what Pillow's EPS plugin runs Ghostscript with
    with pytest.raises(UnreadableImageError, match="not an image file in a raster"):
        load_image(path)
    assert called == []


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda p: os.mkfifo(p), "FIFO"),
    ],
    ids=["fifo"],
)
def test_fifo_in_a_folder_is_skipped_with_a_reason_and_never_hangs(
    tmp_path, make, reason
):
    save(tmp_path / "a.png", np.zeros((2, 2, 3), np.uint8))
    make(tmp_path / "b.png")
    with pytest.warns(SkippedImagesWarning, match=f"b.png .*{reason}") as record:
        stats = dataset_stats(tmp_path)
    assert stats.n_images == 1
    assert record[0].message.skipped[0][0].endswith("b.png")


def test_fifo_given_as_a_file_raises_without_hanging(tmp_path):
    os.mkfifo(tmp_path / "x.png")
    with pytest.raises(UnreadableImageError, match="FIFO"):
        load_image(tmp_path / "x.png")


def test_a_folder_holding_only_a_fifo_names_it_in_the_error(tmp_path):
    os.mkfifo(tmp_path / "x.png")
    with pytest.warns(SkippedImagesWarning, match="FIFO"):
        with pytest.raises(FileNotFoundError, match=r"No image files found: .*x\.png"):
            list_images(tmp_path)


def test_a_broken_link_is_listed_and_named_when_read(tmp_path):
    save(tmp_path / "a.png", np.zeros((2, 2, 3), np.uint8))
    os.symlink("gone.png", tmp_path / "b.png")
    assert [os.path.basename(p) for p in list_images(tmp_path)] == ["a.png", "b.png"]
    stats, skipped = dataset_stats(tmp_path, on_error="skip", return_skipped=True)
    assert stats.n_images == 1 and skipped[0][0].endswith("b.png")


def test_cli_stats_with_a_fifo_skips_it_and_exits_0(tmp_path, capsys):
    save(tmp_path / "a.png", np.zeros((2, 2, 3), np.uint8))
    os.mkfifo(tmp_path / "b.png")
    assert main(["stats", str(tmp_path), "--no-progress"]) == 0
    assert "FIFO" in capsys.readouterr().err


@pytest.fixture
def looped(tmp_path):
    """Two images, and links that loop: ``a/up -> ..`` and ``a/self -> .``."""
    save(tmp_path / "a" / "x.png", np.full((2, 3, 3), 10, np.uint8))
    save(tmp_path / "y.png", np.full((4, 1, 3), 200, np.uint8))
    os.symlink("..", tmp_path / "a" / "up")
    os.symlink(".", tmp_path / "a" / "self")
    os.symlink("x.png", tmp_path / "a" / "link.png")
    return tmp_path


@pytest.mark.parametrize(
    "source",
    [
        lambda root: root,
        lambda root: str(root / "**" / "*.png"),
        lambda root: [root, root / "a", root / "a" / "x.png", root / "a" / "link.png"],
    ],
    ids=["folder", "glob", "list"],
)
def test_each_file_is_counted_once_through_links_and_loops(looped, source):
    paths = list_images(source(looped))
    assert sorted(os.path.basename(os.path.realpath(p)) for p in paths) == [
        "x.png",
        "y.png",
    ]
    stats = dataset_stats(source(looped))
    assert stats.n_images == 2
    assert_array_equal(stats.n_pixels, 10)


# -- tar shards ----------------------------------------------------------------------
def _shard(path, members):
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _encoded(array, fmt) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture
def shards(tmp_path):
    """Two WebDataset-style shards, the same files extracted, and noise members."""
    rng = np.random.default_rng(3)
    extracted = tmp_path / "extracted"
    all_members = []
    for s in range(2):
        members = []
        for k in range(5):
            key = f"{s:02d}{k:03d}"
            array = rng.integers(0, 256, (3 + k, 4 + s, 3), dtype=np.uint8)
            fmt = "PNG" if k % 2 else "JPEG"
            name = f"{key}.{'png' if k % 2 else 'jpg'}"
            members.append((f"sub/{name}", _encoded(array, fmt)))
            members.append((f"sub/{key}.cls", str(k).encode()))  # a label: ignored
            members.append((f"sub/{key}.json", b"{}"))
        all_members.append(members)
        _shard(tmp_path / f"shard-{s}.tar", members)
    for members in all_members:
        for name, data in members:
            (extracted / name).parent.mkdir(parents=True, exist_ok=True)
            (extracted / name).write_bytes(data)
    return tmp_path, extracted


@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("source", ["folder", "glob", "files"])
def test_tar_shards_equal_the_extracted_folder(shards, source, n_jobs):
    root, extracted = shards
    tars = sorted(str(p) for p in root.glob("*.tar"))
    given = {"folder": root, "glob": str(root / "*.tar"), "files": tars}[source]
    if source == "folder":  # the extracted copy lives in the folder too
        given = tars
    from_tar = dataset_stats(given, n_jobs=n_jobs)
    from_files = dataset_stats(extracted, n_jobs=n_jobs)
    assert from_tar.to_dict() == from_files.to_dict()
    assert from_tar.n_images == 10


def test_tar_members_are_listed_read_in_place_and_named(shards):
    root, extracted = shards
    before = sorted(os.listdir(root))
    names = list_images(root / "shard-0.tar")
    assert names[0] == f"{root / 'shard-0.tar'}::sub/00000.jpg"
    assert len(names) == 5
    images = list(iter_images(root / "shard-0.tar", with_paths=True))
    expected = [load_image(p) for p in sorted((extracted / "sub").glob("00*.*g"))]
    assert [path for path, _ in images] == names
    for (_, got), want in zip(images, expected):
        assert_array_equal(got, want)
    assert sorted(os.listdir(root)) == before  # nothing extracted


def test_a_listed_member_pickles_and_a_truncated_archive_is_named(shards):
    root, _ = shards
    member = list_images(root / "shard-0.tar")[-1]
    again = pickle.loads(pickle.dumps(member))  # as sent to a worker process
    assert (again.archive, again.name, again.offset, again.size) == (
        member.archive,
        member.name,
        member.offset,
        member.size,
    )
    assert_array_equal(load_image(again), load_image(member))
    tar = root / "shard-0.tar"
    tar.write_bytes(tar.read_bytes()[: member.offset + 10])  # cut after listing
    with pytest.raises(UnreadableImageError, match=r"archive ends \d+ bytes before"):
        load_image(member)


def test_each_tar_is_one_unit_of_parallel_work(shards, monkeypatch):
    from sk_pixels.io import _dataset

    root, _ = shards
    seen = []
    real = _dataset.map_local

    def spy(fn, chunks, *args, **kwargs):
        seen.extend({str(p).split("::")[0] for p in chunk} for chunk in chunks)
        return real(fn, chunks, *args, **kwargs)

    monkeypatch.setattr(_dataset, "map_local", spy)
    dataset_stats(sorted(root.glob("*.tar")), n_jobs=2)
    assert [len(archives) for archives in seen] == [1, 1]


def test_bad_member_of_a_tar_is_named_and_skippable(tmp_path):
    good = _encoded(np.zeros((2, 2, 3), np.uint8), "PNG")
    shard = _shard(tmp_path / "s.tar", [("a.png", good), ("b.png", b"garbage")])
    with pytest.raises(UnreadableImageError, match=r"s\.tar::b\.png"):
        dataset_stats(shard)
    stats, skipped = dataset_stats(shard, on_error="skip", return_skipped=True)
    assert stats.n_images == 1 and skipped[0][0].endswith("s.tar::b.png")


@pytest.mark.parametrize(
    "data, match",
    [(b"", "not a readable.*empty"), (b"not a tar" * 100, "not a readable")],
    ids=["empty", "garbage"],
)
def test_unreadable_tar_is_a_clear_error(tmp_path, data, match):
    (tmp_path / "s.tar").write_bytes(data)
    with pytest.raises(OSError, match=match):
        dataset_stats(tmp_path / "s.tar")


def test_cli_stats_on_a_tar_shard(shards, capsys):
    root, extracted = shards
    assert main(["stats", str(root / "shard-0.tar"), "--json", "-"]) == 0
    out = capsys.readouterr().out
    assert '"n_images": 5' in out


def test_tar_shards_mixed_with_a_folder_merge_like_their_parts(shards):
    root, _ = shards
    mixed_jpeg_folder(root / "jpegs", 3)
    sources = [root / "jpegs", *sorted(root.glob("*.tar"))]
    merged = PixelStats()
    for source in sources:
        merged.merge_inplace(dataset_stats(source))
    whole = dataset_stats(sources)
    assert whole.n_images == 13
    assert whole.to_dict() == merged.to_dict()


# -- TIFFs with many channels, 16 bits or floats -------------------------------------
def _write_tiff(path, array, **kwargs):
    tifffile = pytest.importorskip("tifffile")
    kwargs.setdefault("planarconfig", "contig")  # (H, W, C): one page
    tifffile.imwrite(path, array, **kwargs)
    return path


_RNG = np.random.default_rng(7)
TIFFS = {
    "rgb-uint16": (_RNG.integers(0, 65536, (5, 6, 3), dtype=np.uint16), "rgb"),
    "7-band-uint16": (_RNG.integers(0, 65536, (5, 6, 7), dtype=np.uint16), None),
    "5-band-uint8": (_RNG.integers(0, 256, (5, 6, 5), dtype=np.uint8), None),
    "rgb-float32": (_RNG.random((5, 6, 3), dtype=np.float32), "rgb"),
    "gray-float32": (_RNG.random((5, 6), dtype=np.float32), None),
    "4-band-int16": (_RNG.integers(-999, 999, (5, 6, 4), dtype=np.int16), None),
}


@pytest.mark.parametrize("case", list(TIFFS))
@pytest.mark.parametrize("planar", ["contig", "separate"])
def test_tiff_native_mode_reads_every_channel_in_its_dtype(tmp_path, case, planar):
    array, photometric = TIFFS[case]
    if array.ndim == 2 and planar == "separate":
        pytest.skip("one channel has no planar configuration")
    kwargs = {"photometric": photometric or "minisblack", "planarconfig": planar}
    stored = np.moveaxis(array, -1, 0) if planar == "separate" else array
    path = _write_tiff(tmp_path / "x.tif", stored, **kwargs)
    image = load_image(path, mode="native")
    assert image.dtype == array.dtype
    assert_array_equal(image, array)


@pytest.mark.parametrize("case", list(TIFFS))
def test_tiff_dataset_stats_native_equal_numpy(tmp_path, case):
    array, photometric = TIFFS[case]
    for k in range(3):
        _write_tiff(
            tmp_path / f"{k}.tif",
            array + k if array.dtype != np.uint16 else array // (k + 1),
            photometric=photometric or "minisblack",
        )
    stacked = np.concatenate(
        [load_image(p, mode="native")[None] for p in sorted(tmp_path.glob("*.tif"))]
    )
    channels = 1 if array.ndim == 2 else array.shape[-1]
    flat = stacked.reshape(-1, channels).astype(np.float64)
    stats = dataset_stats(tmp_path, mode="native", n_jobs=2, chunk_size=1)
    np.testing.assert_allclose(stats.mean, flat.mean(axis=0).squeeze(), rtol=1e-6)
    np.testing.assert_allclose(stats.std, flat.std(axis=0).squeeze(), rtol=1e-5)


def test_16bit_rgb_tiff_is_never_truncated_to_8_bits(tmp_path):
    array = TIFFS["rgb-uint16"][0]
    path = _write_tiff(tmp_path / "x.tif", array, photometric="rgb")
    assert_array_equal(load_image(path, mode="RGB;16"), array)
    assert_array_equal(load_image(path, mode="RGB"), _round257(array))


@pytest.mark.parametrize("case", ["7-band-uint16", "rgb-float32"])
def test_tiff_that_no_mode_fits_names_mode_native(tmp_path, case):
    array, photometric = TIFFS[case]
    path = _write_tiff(
        tmp_path / "x.tif", array, photometric=photometric or "minisblack"
    )
    with pytest.raises(UnreadableImageError, match="mode='native'"):
        load_image(path)


@pytest.mark.parametrize("case", ["rgb-uint16", "7-band-uint16"])
def test_tiff_without_tifffile_names_the_extra(tmp_path, monkeypatch, case):

    array, photometric = TIFFS[case]
    path = _write_tiff(
        tmp_path / "x.tif", array, photometric=photometric or "minisblack"
    )
    monkeypatch.setitem(sys.modules, "tifffile", None)  # import tifffile fails
    with pytest.raises(UnreadableImageError, match=r"sk_pixels\[tiff\]"):
        load_image(path, mode="RGB;16")


def test_tiff_with_samples_pillow_would_drop_goes_through_tifffile(tmp_path):
    array = _RNG.integers(0, 256, (5, 6, 2), dtype=np.uint8)  # Pillow reads "L"
    path = _write_tiff(tmp_path / "x.tif", array, photometric="minisblack")
    assert_array_equal(load_image(path, mode="LA"), array)


def test_tiff_orientation_tag_is_applied_on_the_tifffile_path(tmp_path):
    array = TIFFS["rgb-uint16"][0]
    path = _write_tiff(
        tmp_path / "x.tif", array, photometric="rgb", extratags=[(274, "H", 1, 6)]
    )  # orientation 6: the stored image is shown turned 90 degrees clockwise
    assert_array_equal(load_image(path, mode="RGB;16"), np.rot90(array, -1))


def test_tiff_volume_is_refused_naming_its_shape(tmp_path):
    volume = _RNG.integers(0, 256, (2, 5, 6, 3), dtype=np.uint8)
    path = _write_tiff(
        tmp_path / "v.tif", volume, photometric="rgb", volumetric=True, tile=(16, 16)
    )
    with pytest.raises(UnreadableImageError, match=r"shape \(2, 5, 6, 3\).*own file"):
        load_image(path, mode="native")


@pytest.mark.parametrize(
    "values, outcome",
    [
        ([[0, 1000], [65535, 7]], OK),
        ([[0, 70000], [1, 2]], Raises(UnreadableImageError, r"\[0, 70000\], outside")),
    ],
    ids=["within-16-bits", "beyond-16-bits"],
)
def test_32bit_integer_tiff_reads_as_16_bit_when_its_values_fit(
    tmp_path, values, outcome
):
    path = tmp_path / "x.tif"
    Image.fromarray(np.array(values, np.int32)).save(path)  # Pillow mode "I"
    image = check(outcome, lambda: load_image(path, mode="I;16"))
    if image is not None:
        assert image.dtype == np.uint16 and image.tolist() == values


def test_big_endian_16_bit_tiff_reads_in_native_byte_order(tmp_path):
    values = np.array([[1, 2], [300, 65535]])
    path = tmp_path / "x.tif"
    Image.frombytes("I;16B", (2, 2), values.astype(">u2").tobytes()).save(path)
    image = load_image(path, mode="I;16")
    assert image.dtype == np.uint16 and image.dtype.isnative
    assert_array_equal(image, values)


def _non_tiff(path, mode):
    rgb = Image.fromarray(np.arange(12, dtype=np.uint8).reshape(2, 2, 3) * 20)
    if mode == "P+transparency":
        rgb.convert("P").save(path, transparency=0)
    elif mode == "I;16":
        Image.fromarray(np.array([[1, 2], [300, 65535]], np.uint16)).save(path)
    else:
        rgb.convert(mode).save(path)
    return path


@pytest.mark.parametrize(
    "name, mode, dtype, channels",
    [
        ("x.png", "RGB", np.uint8, 3),
        ("x.png", "P+transparency", np.uint8, 4),
        ("x.png", "1", np.uint8, None),
        ("x.jpg", "CMYK", np.uint8, 3),
        ("x.png", "I;16", np.uint16, None),
    ],
    ids=["rgb", "palette-alpha", "bilevel", "cmyk", "gray16"],
)
def test_native_mode_of_other_formats_keeps_their_samples(
    tmp_path, name, mode, dtype, channels
):
    image = load_image(_non_tiff(tmp_path / name, mode), mode="native")
    assert image.dtype == dtype
    assert image.shape == ((2, 2) if channels is None else (2, 2, channels))


def test_a_device_is_named_and_never_read():
    with pytest.raises(UnreadableImageError, match="a device, not a regular file"):
        load_image("/dev/null")


def test_8bit_rgb_tiff_still_goes_through_pillow(tmp_path, monkeypatch):

    array = _RNG.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    path = save(tmp_path / "x.tif", array)
    monkeypatch.setitem(sys.modules, "tifffile", None)
    assert_array_equal(load_image(path), array)
