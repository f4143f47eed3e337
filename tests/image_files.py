"""Image files for the io / cli tests, written with Pillow into a temporary folder."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def save(path: Path, array: np.ndarray, mode: str | None = None, **kwargs) -> Path:
    """Write ``array`` as an image file (format from the suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = (
        Image.fromarray(array) if mode is None else Image.fromarray(array).convert(mode)
    )
    image.save(path, **kwargs)
    return path


def mixed_jpeg_folder(root: Path, n: int, seed: int = 0) -> list[Path]:
    """``n`` small RGB JPEGs of mixed sizes (6-40 px a side), some in sub-folders."""
    rng = np.random.default_rng(seed)
    paths = []
    for k in range(n):
        height, width = rng.integers(6, 41, size=2)
        # Smooth-ish content so that JPEG keeps a realistic range of values.
        base = rng.integers(0, 256, size=(1, 1, 3))
        noise = rng.integers(-60, 61, size=(height, width, 3))
        array = np.clip(base + noise, 0, 255).astype(np.uint8)
        sub = root / f"part{k % 3}" if k % 5 else root
        paths.append(save(sub / f"img{k:04d}.jpg", array, quality=90))
    return paths


def truncated_jpeg(path: Path, seed: int = 1) -> Path:
    """A JPEG cut in the middle of its scan data."""
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)).save(
        buffer, format="JPEG", quality=95
    )
    data = buffer.getvalue()
    path.write_bytes(data[: len(data) // 2])
    return path


def header_bomb_png(path: Path, side: int = 100_000) -> Path:
    """A 1x1 PNG whose header claims ``side x side`` pixels (10 gigapixels).

    Pillow reads the size from the header before decoding anything, so this
    67-byte file is what a decompression bomb looks like to a loader.
    """
    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    # IHDR chunk: 8-byte signature, 4-byte length, b"IHDR", width, height, ...
    ihdr = data[12:29]
    ihdr[4:12] = struct.pack(">II", side, side)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    path.write_bytes(bytes(data))
    return path


def bad_folder(root: Path) -> tuple[list[Path], list[Path]]:
    """Three good images and four bad files; returns ``(good, bad)`` in file order."""
    rng = np.random.default_rng(2)
    root.mkdir(parents=True, exist_ok=True)
    good = [
        save(root / "a_good.png", rng.integers(0, 256, size=(9, 7, 3), dtype=np.uint8)),
        save(
            root / "c_good.jpg", rng.integers(0, 256, size=(12, 10, 3), dtype=np.uint8)
        ),
        save(root / "e_good.png", rng.integers(0, 256, size=(5, 5), dtype=np.uint8)),
    ]
    bad = [
        header_bomb_png(root / "b_bomb.png"),
        truncated_jpeg(root / "d_truncated.jpg"),
        root / "f_empty.jpg",
        root / "g_text.png",
    ]
    bad[2].write_bytes(b"")
    bad[3].write_text("this is not an image\n")
    (root / "notes.txt").write_text("ignored: not an image extension\n")
    return good, bad


def tiffs_that_make_libtiff_write(root: Path, n: int = 2) -> tuple[list, list]:
    """TIFFs on which libtiff writes to fd 2: ``(decodable, truncated)`` paths.

    The ``n`` decodable ones carry a private tag (written with tifffile's
    ``extratags``) whose field type is then set to 99, a code libtiff does not
    know ("Defined set_get_field_type of custom tag ..."); their pixels decode
    in full.  The ``n`` truncated ones lose the end of their compressed strips
    ("Read error on strip ..."), so Pillow refuses them.  Needs ``tifffile``.
    """
    import tifffile

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    decodable, truncated = [], []
    for k in range(n):
        image = rng.integers(0, 256, (12 + k, 16, 3), dtype=np.uint8)
        path = root / f"tag{k}.tif"
        tag = (65000 + k, "H", 1, (7,), True)
        tifffile.imwrite(path, image, compression="zlib", extratags=[tag])
        data = bytearray(path.read_bytes())
        entry = data.find(struct.pack("<HH", 65000 + k, 3))  # tag id, SHORT type
        data[entry + 2 : entry + 4] = struct.pack("<H", 99)
        path.write_bytes(bytes(data))
        decodable.append(path)

        path = root / f"cut{k}.tif"
        tifffile.imwrite(
            path, image, compression="zlib", rowsperstrip=4, extratags=[tag]
        )
        data = path.read_bytes()
        path.write_bytes(data[: len(data) - 300])
        truncated.append(path)
    return decodable, truncated


# -- 16-bit PNGs, written byte by byte (Pillow cannot write 16-bit colour) -------------
#: Adam7 passes: (first column, first row, column step, row step).
_ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4)]
_ADAM7 += [(1, 0, 2, 2), (0, 1, 1, 2)]


def _filtered(rows: np.ndarray, filter_type: int, bpp: int) -> bytes:
    """PNG scanlines ``rows`` (uint8, (H, row_bytes)) filtered with one filter type."""
    out = []
    prev = np.zeros(rows.shape[1], dtype=np.int32)
    for raw in rows.astype(np.int32):
        left = np.concatenate([np.zeros(bpp, np.int32), raw[:-bpp]])
        up_left = np.concatenate([np.zeros(bpp, np.int32), prev[:-bpp]])
        if filter_type == 0:
            pred = np.zeros_like(raw)
        elif filter_type == 1:
            pred = left
        elif filter_type == 2:
            pred = prev
        elif filter_type == 3:
            pred = (left + prev) // 2
        else:  # Paeth
            p = left + prev - up_left
            pa, pb, pc = np.abs(p - left), np.abs(p - prev), np.abs(p - up_left)
            pred = np.where(
                (pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, up_left)
            )
        out.append(
            bytes([filter_type]) + ((raw - pred) % 256).astype(np.uint8).tobytes()
        )
        prev = raw
    return b"".join(out)


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = struct.pack(">I", zlib.crc32(kind + data))
    return struct.pack(">I", len(data)) + kind + data + crc


def png16(
    path: Path,
    samples: np.ndarray,
    *,
    filter_type: int = 4,
    interlace: bool = False,
    orientation: int | None = None,
) -> Path:
    """Write uint16 ``samples`` (H, W, C) as a 16-bit PNG (C: 1 L, 2 LA, 3 RGB, 4 RGBA).

    Every scanline uses ``filter_type`` (0 None ... 4 Paeth); ``interlace``
    writes Adam7 passes; ``orientation`` adds an EXIF orientation (eXIf chunk).
    """
    height, width, channels = samples.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    bpp = 2 * channels
    big = samples.astype(">u2")
    if interlace:
        passes = [big[y0::dy, x0::dx] for x0, y0, dx, dy in _ADAM7]
    else:
        passes = [big]
    raw = b"".join(
        _filtered(p.view(np.uint8).reshape(p.shape[0], -1), filter_type, bpp)
        for p in passes
        if p.size
    )
    ihdr = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, int(interlace))
    data = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        data += _chunk(b"eXIf", exif.tobytes()[6:])  # without the "Exif\0\0" header
    data += _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
