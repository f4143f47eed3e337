"""One file in, one array (or its statistics) out: Pillow decoding and modes.

See the :mod:`sk_pixels.io` docstring for the modes and the conversions.
"""

from __future__ import annotations

import os
import stat
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
from PIL import Image, ImageOps

from .._stats import PixelStats
from ._archives import ArchiveMember
from ._modes import MODE_TABLE, check_mode
from ._nodata import masked_stats
from ._stderr import captured_stderr
from ._tiff import NATIVE, as_mode, pillow_is_faithful, read_tiff
from ._wide import from_wide, is_wide_png, load_wide_png

T = TypeVar("T")

#: Pillow modes holding 16- or 32-bit integer grayscale.
_WIDE_GRAY = ("I;16", "I;16L", "I;16B", "I;16N", "I")

#: Pillow modes that ``_pixels`` turns into 8-bit pixels with ``_converted``
#: alone (so a histogram of the converted image counts the very pixels
#: ``load_image`` returns).
_HISTOGRAM_SOURCES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "YCbCr"})

#: Formats whose Pillow decoder is a C library that reports problems by writing
#: to fd 2 (libtiff); their decoding runs under ``captured_stderr``.  JPEG,
#: PNG, GIF, WebP, JPEG 2000 and AVIF decoders report through Python
#: exceptions and warnings only (checked with truncated and corrupted files).
_STDERR_FORMATS = frozenset({"TIFF"})

#: The formats sk_pixels lets Pillow open (``Image.open(..., formats=...)``):
#: raster formats decoded by Pillow's own code or its bundled libraries.
#: Left out on purpose: EPS/PS (Pillow runs Ghostscript), WMF/EMF (vector,
#: need a system renderer), PSD and the formats no camera or dataset writes.
#: A file in another format, whatever its name (``photo.png`` holding
#: PostScript), is "not an image file" and never reaches another decoder.
RASTER_FORMATS = (
    "AVIF",
    "BMP",
    "DIB",
    "GIF",
    "ICO",
    "JPEG",
    "JPEG2000",
    "MPO",
    "PCX",
    "PNG",
    "PPM",
    "QOI",
    "SGI",
    "TGA",
    "TIFF",
    "WEBP",
)


def raster_formats() -> tuple[str, ...]:
    """The formats of :data:`RASTER_FORMATS` this Pillow build can open."""
    Image.init()
    return tuple(f for f in RASTER_FORMATS if f in Image.OPEN)


class UnreadableImageError(OSError):
    """A file could not be decoded as an image; names the file and the reason.

    Parameters
    ----------
    path : str
        The file.
    reason : str
        What went wrong (Pillow's message, or the size limit that was hit).
    """

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        super().__init__(str(path), reason)
        self.path = str(path)
        self.reason = reason

    def __str__(self) -> str:
        return f"Cannot read image {self.path!r}: {self.reason}"


def _listing(pairs: Sequence[tuple[str, str]], limit: int = 20) -> str:
    listed = "; ".join(f"{p} ({r})" for p, r in pairs[:limit])
    more = f"; and {len(pairs) - limit} more" if len(pairs) > limit else ""
    return listed + more


class DecodeWarning(UserWarning):
    """Some files decoded, but their decoder reported problems; ``.files`` lists them.

    ``files`` is a list of ``(path, message)`` pairs, the message being what
    the decoder's C library wrote (libtiff's warnings about unknown tags, for
    example), which sk_pixels captures instead of letting it reach the
    terminal.  The pixels of these files were decoded in full and counted.
    """

    def __init__(self, files: list[tuple[str, str]]) -> None:
        self.files = list(files)
        super().__init__(
            f"{len(self.files)} file(s) decoded with warnings from the image "
            f"decoder: {_listing(self.files)}."
        )


def _one_line(text: str) -> str:
    """The distinct lines of ``text``, in order, joined with "; "."""
    lines = (line.strip() for line in text.splitlines())
    return "; ".join(dict.fromkeys(line for line in lines if line))


def resolve_max_pixels(max_pixels: int | None) -> int | None:
    """``None`` -> Pillow's current ``Image.MAX_IMAGE_PIXELS`` (None there: no cap)."""
    if max_pixels is None:
        limit = Image.MAX_IMAGE_PIXELS
        return None if limit is None else int(limit)
    if isinstance(max_pixels, bool) or int(max_pixels) != max_pixels or max_pixels < 1:
        raise ValueError(
            f"max_pixels must be a positive integer or None. Got {max_pixels!r}."
        )
    return int(max_pixels)


def _pixels(im: Image.Image | np.ndarray, mode: str) -> np.ndarray:
    """A loaded Pillow image (or the uint16 samples of a 16-bit colour PNG)
    as the array of ``mode`` (maybe read-only)."""
    if isinstance(im, np.ndarray):  # 16-bit PNG or TIFF samples
        return as_mode(im, mode, from_wide)
    if mode == NATIVE:
        return _native(im)
    entry = MODE_TABLE[mode]
    if im.mode in _WIDE_GRAY:
        wide = np.asarray(im)
        if wide.dtype != np.uint16:  # int32 (mode I), or big-endian I;16B
            lo, hi = int(wide.min()), int(wide.max())
            if lo < 0 or hi > 65535:
                raise ValueError(
                    f"32-bit integer image with values in [{lo}, {hi}], outside the "
                    "16-bit range 0-65535; its units are unknown"
                )
            wide = wide.astype(np.uint16)
        return wide if mode == "I;16" else from_wide(wide, mode)
    if im.mode in ("F", "I;32", "I;32B", "I;32L"):
        raise ValueError(f"Pillow mode {im.mode!r} (float or 32-bit) has unknown units")
    if mode == "I;16":
        return np.asarray(_converted(im, "L")).astype(np.uint16) * np.uint16(257)
    arr = np.asarray(_converted(im, mode))
    arr = arr[..., ::-1] if entry.reversed else arr
    return arr.astype(np.uint16) * np.uint16(257) if entry.dtype == "uint16" else arr


def _native(im: Image.Image) -> np.ndarray:
    """A Pillow image's samples as stored (palette and 1-bit expanded)."""
    if im.mode in ("P", "PA", "1"):
        im = im.convert("RGBA" if "transparency" in im.info or im.mode == "PA" else "L")
    elif im.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        im = im.convert("RGB")
    array = np.asarray(im)
    if array.dtype.byteorder not in ("=", "|"):
        array = array.astype(array.dtype.newbyteorder("="))
    return array


def _converted(im: Image.Image, mode: str) -> Image.Image:
    """An 8-bit Pillow image to the Pillow mode behind ``mode``."""
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")  # Pillow asks for this rather than P -> RGB directly
    target = MODE_TABLE[mode].pillow
    return im if im.mode == target else im.convert(target)


def image_stats(
    im: Image.Image | np.ndarray, mode: str, nodata: tuple | None = None
) -> PixelStats:
    """Exact statistics of the pixels ``_pixels(im, mode)`` would return.

    With ``nodata`` (one value per channel), values equal to it are left out
    of their channel.  Otherwise 8-bit targets are counted with Pillow's C
    histogram of the converted image, without building an array (decoding then
    dominates); other cases go through the array.
    """
    if nodata is not None:
        return masked_stats(np.asarray(_pixels(im, mode)), nodata)
    if (
        not isinstance(im, np.ndarray)
        and mode != NATIVE
        and MODE_TABLE[mode].dtype == "uint8"
        and im.mode in _HISTOGRAM_SOURCES
    ):
        hist = np.asarray(_converted(im, mode).histogram(), dtype=np.int64)
        hist = hist.reshape(-1, 256)
        return PixelStats.from_histogram(
            hist[::-1] if MODE_TABLE[mode].reversed else hist
        )
    pixels = _pixels(im, mode)
    # (1, H, W, C): one image, channels last, even for grayscale (H, W).
    return PixelStats.from_array(
        pixels[None, ..., None] if pixels.ndim == 2 else pixels[None]
    )


def _open_regular(path: str | os.PathLike) -> Any:
    """A binary file object of ``path``, refused unless it is a regular file.

    Opened without blocking and checked on the open descriptor: a FIFO named
    ``photo.png`` never hangs the reader, and a file swapped for one after it
    was listed is caught too.
    """
    if isinstance(path, ArchiveMember):
        return path.read()
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a FIFO" if stat.S_ISFIFO(mode) else "not a regular file"
            if stat.S_ISDIR(mode):
                kind = "a folder"
            elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                kind = "a device"
            raise UnreadableImageError(path, f"{kind}, not a regular file; skipped")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _check_size(path: Any, width: int, height: int, max_pixels: int | None) -> None:
    if max_pixels is not None and width * height > max_pixels:
        raise UnreadableImageError(
            path,
            f"{width}x{height} = {width * height} pixels exceeds the "
            f"limit of {max_pixels} pixels (possible decompression bomb); "
            "raise max_pixels if the file is trusted",
        )


def _open_and_convert(
    path: str | os.PathLike,
    mode: str,
    max_pixels: int | None,
    convert: Callable[[Image.Image, str], T],
    said: list[str],
) -> T:
    def sized(width: int, height: int) -> None:
        _check_size(path, width, height, max_pixels)

    with _open_regular(path) as fp:
        try:
            im = Image.open(fp, formats=raster_formats())
        except Image.UnidentifiedImageError:
            if os.fspath(path).lower().endswith((".tif", ".tiff")):
                # More than 4 channels, or float colour: Pillow cannot open it.
                why = "a TIFF that Pillow cannot open (e.g. > 4 channels or float)"
                return convert(read_tiff(fp, why, sized), mode)
            raise
        with im:
            sized(*im.size)
            if is_wide_png(im):  # 16-bit colour: Pillow alone would keep 8 bits
                return convert(load_wide_png(im, fp), mode)
            if im.format == "TIFF" and (mode == NATIVE or not pillow_is_faithful(im)):
                why = "a TIFF with more than 8 bits per sample in colour"
                return convert(read_tiff(fp, why, sized), mode)
            text: list[str] = []
            try:
                with captured_stderr(im.format in _STDERR_FORMATS) as text:
                    im.load()
                    ImageOps.exif_transpose(im, in_place=True)
                    return convert(im, mode)
            finally:
                said.extend(text)  # filled as the capture ends, even on an error


def decode(
    path: str | os.PathLike,
    mode: str,
    max_pixels: int | None,
    convert: Callable[[Image.Image, str], Any] = _pixels,
) -> tuple[Any, str]:
    """Decode ``path``, ``convert(image, mode)`` it (to pixels by default).

    Returns ``(converted, message)``: ``message`` is what the decoder's C
    library wrote to fd 2 (one line, ``""`` for none).  Any failure becomes
    :class:`UnreadableImageError`, whose reason ends with that message.
    """
    said: list[str] = []
    try:
        with warnings.catch_warnings():
            # The size check is the authority; Pillow's warning for images over
            # MAX_IMAGE_PIXELS would only duplicate it.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            value = _open_and_convert(path, mode, max_pixels, convert, said)
    except UnreadableImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise UnreadableImageError(path, f"decompression bomb: {exc}") from exc
    except Exception as exc:  # any decoder failure means the file is bad
        reason = str(exc) or type(exc).__name__
        if isinstance(exc, Image.UnidentifiedImageError):
            reason = (
                "not an image file in a raster format sk_pixels opens (empty, "
                "corrupt, or another format such as PostScript)"
            )
        message = _one_line("".join(said))
        if message:
            reason = f"{reason} (decoder: {message})"
        raise UnreadableImageError(path, reason) from exc
    return value, _one_line("".join(said))


def load_image(
    path: str | os.PathLike, *, mode: str = "RGB", max_pixels: int | None = None
) -> np.ndarray:
    """Decode one image file to a NumPy array, EXIF orientation applied.

    Parameters
    ----------
    path : str or path-like
        Image file in any format Pillow reads (JPEG, PNG, TIFF, WebP, BMP, GIF...).
    mode : str, default="RGB"
        One of ``MODES``: "RGB", "BGR", "RGBA", "L", "LA", "I;16", "RGB;16"...
        Mode of the result; conversions (alpha, palette, CMYK, 16-bit) are
        described in the module docstring.
    max_pixels : int or None, default=None
        Refuse images with more pixels (``width * height``) than this, before
        decoding them (decompression bombs). None uses Pillow's
        ``Image.MAX_IMAGE_PIXELS`` (about 89 million; None there means no
        limit).

    Returns
    -------
    image : ndarray of shape (H, W, C) or (H, W)
        ``uint8`` (0-255), or ``uint16`` (0-65535) for the 16-bit modes; 2-D for
        ``"L"`` and ``"I;16"``. A new, writable array.

    Raises
    ------
    UnreadableImageError
        The file is missing, empty, corrupt, truncated, not an image, or
        larger than ``max_pixels``; the message names the file.

    Warns
    -----
    DecodeWarning
        The decoder's C library reported problems but the image decoded.

    Examples
    --------
    >>> from sklearn.datasets import load_sample_images
    >>> path = load_sample_images().filenames[0]  # china.jpg
    >>> image = load_image(path)
    >>> image.shape, image.dtype, int(image.max())
    ((427, 640, 3), dtype('uint8'), 255)
    >>> load_image(path, mode="L").shape
    (427, 640)
    """
    check_mode(mode)
    image, message = decode(path, mode, resolve_max_pixels(max_pixels))
    if message:
        warnings.warn(DecodeWarning([(str(path), message)]), stacklevel=2)
    if not image.flags.writeable or not image.flags.c_contiguous:
        image = np.array(image)
    return image
