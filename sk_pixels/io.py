"""Images in, statistics out: Pillow loading and streaming dataset statistics.

Three entry points:

- :func:`load_image` decodes one file to a NumPy array in a requested mode,
  with its EXIF orientation applied.
- :func:`iter_images` yields the images of a folder, a glob or a list of paths
  one at a time (never all in memory).
- :func:`dataset_stats` computes the exact per-channel :class:`PixelStats` of
  a whole dataset, decoding in parallel worker processes that each return
  statistics, never pixels; memory stays bounded by a few images per worker.

Modes (``mode=``), the array each gives, and its units:

==========  ========================  ========  ===========================
mode        array shape               dtype     units (``max_value``)
==========  ========================  ========  ===========================
``"RGB"``   ``(H, W, 3)``             uint8     0-255
``"BGR"``   ``(H, W, 3)``             uint8     0-255, channels reversed
                                                (OpenCV / Caffe order)
``"RGBA"``  ``(H, W, 4)``             uint8     0-255
``"L"``     ``(H, W)``                uint8     0-255 (grayscale)
``"LA"``    ``(H, W, 2)``             uint8     0-255
``"I;16"``  ``(H, W)``                uint16    0-65535 (16-bit grayscale)
==========  ========================  ========  ===========================

Conversions are explicit and documented rather than left to chance:

- **Alpha** is dropped when the requested mode has none (``"RGB"``, ``"L"``):
  the stored colour values are kept, not composited onto a background, so
  fully transparent pixels count with whatever colour they store.  A palette
  image with a transparent colour is expanded to RGBA first.  When the mode
  asks for alpha and the image has none, alpha is 255 (opaque).
- **Palette** (``"P"``) and 1-bit images are expanded to their colours.
- **CMYK** is converted with Pillow's formula (no ICC colour management).
- **16-bit** images requested in an 8-bit mode are rounded, ``round(x / 257)``
  (65535 -> 255), not clipped (Pillow's own conversion clips at 255); 8-bit
  images requested as ``"I;16"`` are scaled by 257 (255 -> 65535), so a
  folder of mixed bit depths is read in one unit.
- Float (``"F"``) images and 32-bit integer images with values outside
  0-65535 are refused, because their units are unknown.
- Only the first frame of a multi-frame file (GIF, TIFF) is read.

Errors: a file that cannot be decoded (corrupt, truncated, empty, not an image)
or that holds more than ``max_pixels`` pixels (a decompression bomb) raises
:class:`UnreadableImageError`, which names the file and the reason.  Pillow's
lenient ``ImageFile.LOAD_TRUNCATED_IMAGES`` is never used, so a partly decoded
image is never returned, and never counted in statistics.
"""

from __future__ import annotations

import glob
import itertools
import math
import os
import warnings
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Literal, Union

import numpy as np
from PIL import Image, ImageOps

from ._progress import progress_bar
from ._stats import PixelStats

__all__ = [
    "MODES",
    "ImageIterator",
    "SkippedImagesWarning",
    "UnreadableImageError",
    "dataset_stats",
    "iter_images",
    "list_images",
    "load_image",
]

#: Supported modes -> number of channels.
MODES: dict[str, int] = {"RGB": 3, "BGR": 3, "RGBA": 4, "L": 1, "LA": 2, "I;16": 1}

Source = Union[str, os.PathLike, Sequence[Union[str, os.PathLike]]]  # noqa: UP007
OnError = Literal["raise", "skip"]

#: Pillow modes holding 16- or 32-bit integer grayscale.
_WIDE_GRAY = ("I;16", "I;16L", "I;16B", "I;16N", "I")


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


class SkippedImagesWarning(UserWarning):
    """Some files were skipped (``on_error="skip"``); ``.skipped`` lists them.

    ``skipped`` is a list of ``(path, reason)`` pairs.
    """

    def __init__(self, skipped: list[tuple[str, str]]) -> None:
        self.skipped = list(skipped)
        listed = "; ".join(f"{p} ({r})" for p, r in self.skipped[:20])
        more = f"; and {len(self.skipped) - 20} more" if len(self.skipped) > 20 else ""
        super().__init__(
            f"Skipped {len(self.skipped)} unreadable file(s): {listed}{more}. "
            "Use on_error='raise' to stop at the first one."
        )


# -- one image -----------------------------------------------------------------------
def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(
            f"Unsupported mode {mode!r}; choose one of {sorted(MODES)} (see the "
            "sk_pixels.io module docstring for what each gives)."
        )


def _check_on_error(on_error: str) -> None:
    if on_error not in ("raise", "skip"):
        raise ValueError(
            f"on_error must be 'raise' or 'skip'. Got on_error={on_error!r}."
        )


def _resolve_max_pixels(max_pixels: int | None) -> int | None:
    """``None`` -> Pillow's current ``Image.MAX_IMAGE_PIXELS`` (None there: no cap)."""
    if max_pixels is None:
        limit = Image.MAX_IMAGE_PIXELS
        return None if limit is None else int(limit)
    if isinstance(max_pixels, bool) or int(max_pixels) != max_pixels or max_pixels < 1:
        raise ValueError(
            f"max_pixels must be a positive integer or None. Got {max_pixels!r}."
        )
    return int(max_pixels)


def _gray8_from16(gray16: np.ndarray) -> np.ndarray:
    """``round(x / 257)`` for uint16 ``x``: 65535 -> 255, exact on 257-multiples."""
    return ((gray16.astype(np.uint32) + 128) // 257).astype(np.uint8)


def _from_gray8(gray: np.ndarray, mode: str) -> np.ndarray:
    """Grayscale uint8 ``(H, W)`` as ``mode``."""
    if mode == "L":
        return gray
    if mode == "I;16":
        return gray.astype(np.uint16) * np.uint16(257)
    opaque = np.full(gray.shape, 255, dtype=np.uint8)
    planes = {
        "RGB": [gray] * 3,
        "BGR": [gray] * 3,
        "RGBA": [gray] * 3 + [opaque],
        "LA": [gray, opaque],
    }
    return np.stack(planes[mode], axis=-1)


def _pixels(im: Image.Image, mode: str) -> np.ndarray:
    """Convert a loaded Pillow image to the array of ``mode`` (maybe read-only)."""
    if im.mode in _WIDE_GRAY:
        wide = np.asarray(im)
        if wide.dtype != np.uint16:
            lo, hi = int(wide.min()), int(wide.max())
            if lo < 0 or hi > 65535:
                raise ValueError(
                    f"32-bit integer image with values in [{lo}, {hi}], outside the "
                    "16-bit range 0-65535; its units are unknown"
                )
            wide = wide.astype(np.uint16)
        elif wide.dtype.byteorder not in ("=", "|"):
            wide = wide.astype(np.uint16)  # big-endian I;16B -> native
        return wide if mode == "I;16" else _from_gray8(_gray8_from16(wide), mode)
    if im.mode in ("F", "I;32", "I;32B", "I;32L"):
        raise ValueError(f"Pillow mode {im.mode!r} (float or 32-bit) has unknown units")
    if mode == "I;16":
        return _from_gray8(np.asarray(_converted(im, "L")), "I;16")
    arr = np.asarray(_converted(im, mode))
    return arr[..., ::-1] if mode == "BGR" else arr


def _converted(im: Image.Image, mode: str) -> Image.Image:
    """An 8-bit Pillow image to the Pillow mode behind ``mode`` (BGR: RGB)."""
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")  # Pillow asks for this rather than P -> RGB directly
    target = "RGB" if mode == "BGR" else mode
    return im if im.mode == target else im.convert(target)


#: Pillow modes that ``_pixels`` turns into 8-bit pixels with ``_converted``
#: alone (so a histogram of the converted image counts the very pixels
#: ``load_image`` returns).
_HISTOGRAM_SOURCES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "YCbCr"})


def _image_stats(im: Image.Image, mode: str) -> PixelStats:
    """Exact statistics of the pixels ``_pixels(im, mode)`` would return.

    8-bit targets are counted with Pillow's C histogram of the converted image,
    without building an array (decoding then dominates); other cases go through
    the array.
    """
    if mode != "I;16" and im.mode in _HISTOGRAM_SOURCES:
        hist = np.asarray(_converted(im, mode).histogram(), dtype=np.int64)
        hist = hist.reshape(-1, 256)
        return PixelStats.from_histogram(hist[::-1] if mode == "BGR" else hist)
    return PixelStats.from_array(_pixels(im, mode)[None])


def _decode(
    path: str | os.PathLike,
    mode: str,
    max_pixels: int | None,
    convert=_pixels,
):
    """Decode ``path`` and ``convert(image, mode)`` it (to pixels by default).

    Any failure becomes :class:`UnreadableImageError`.
    """
    try:
        with warnings.catch_warnings():
            # The size check below is the authority; Pillow's warning for images
            # over MAX_IMAGE_PIXELS would only duplicate it.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                width, height = im.size
                if max_pixels is not None and width * height > max_pixels:
                    raise UnreadableImageError(
                        path,
                        f"{width}x{height} = {width * height} pixels exceeds the "
                        f"limit of {max_pixels} pixels (possible decompression bomb); "
                        "raise max_pixels if the file is trusted",
                    )
                im.load()
                ImageOps.exif_transpose(im, in_place=True)
                return convert(im, mode)
    except UnreadableImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise UnreadableImageError(path, f"decompression bomb: {exc}") from exc
    except Exception as exc:  # any decoder failure means the file is bad
        reason = str(exc) or type(exc).__name__
        if isinstance(exc, Image.UnidentifiedImageError):
            reason = (
                "not an image file Pillow can identify (empty, corrupt or another "
                "format)"
            )
        raise UnreadableImageError(path, reason) from exc


def load_image(
    path: str | os.PathLike, mode: str = "RGB", *, max_pixels: int | None = None
) -> np.ndarray:
    """Decode one image file to a NumPy array, EXIF orientation applied.

    Parameters
    ----------
    path : str or path-like
        Image file in any format Pillow reads (JPEG, PNG, TIFF, WebP, BMP, GIF...).
    mode : {"RGB", "BGR", "RGBA", "L", "LA", "I;16"}, default="RGB"
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
        ``uint8`` (0-255), or ``uint16`` (0-65535) for ``mode="I;16"``; 2-D for
        ``"L"`` and ``"I;16"``. A new, writable array.

    Raises
    ------
    UnreadableImageError
        The file is missing, empty, corrupt, truncated, not an image, or
        larger than ``max_pixels``; the message names the file.

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
    _check_mode(mode)
    image = _decode(path, mode, _resolve_max_pixels(max_pixels))
    if not image.flags.writeable or not image.flags.c_contiguous:
        image = np.array(image)
    return image


# -- many images ---------------------------------------------------------------------
def _image_extensions() -> frozenset[str]:
    """Lower-case file extensions of the formats Pillow can open."""
    extensions = Image.registered_extensions()
    return frozenset(
        ext.lower() for ext, fmt in extensions.items() if fmt in Image.OPEN
    )


def _is_glob(text: str) -> bool:
    """Whether ``text`` holds a glob wildcard (``*``, ``?`` or ``[``)."""
    return any(char in text for char in "*?[")


def _is_hidden(path: Path) -> bool:
    return path.name.startswith(".")


def _walk(folder: Path, recursive: bool, extensions: frozenset[str]) -> list[str]:
    found = []
    if recursive:
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if (
                    not name.startswith(".")
                    and os.path.splitext(name)[1].lower() in extensions
                ):
                    found.append(os.path.join(root, name))
        return found
    return [
        str(p)
        for p in sorted(folder.iterdir())
        if p.is_file() and not _is_hidden(p) and p.suffix.lower() in extensions
    ]


def list_images(source: Source, recursive: bool = True) -> list[str]:
    """List the image files of a folder, a glob or a list of paths, in a stable order.

    Parameters
    ----------
    source : str, path-like, or sequence of them
        A folder (its image files, by extension, in sorted order; hidden
        files and folders are ignored), a glob pattern (``"data/**/*.jpg"``;
        matches filtered by extension), or a file (taken as is, whatever its
        extension). A sequence may mix all three.
    recursive : bool, default=True
        Descend into sub-folders of a folder.

    Returns
    -------
    paths : list of str
        Files in order (sorted within each folder or glob), duplicates removed.

    Raises
    ------
    FileNotFoundError
        A source is neither a file, a folder nor a glob with matches, or no
        image file was found at all.
    """
    if isinstance(source, (str, os.PathLike)):
        sources = [source]
    elif isinstance(source, Iterable) and not isinstance(source, (bytes, dict)):
        sources = list(source)
    else:
        sources = []
    bad = [s for s in sources if not isinstance(s, (str, os.PathLike))]
    if bad or not isinstance(source, (str, os.PathLike, Iterable)):
        shown = bad[0] if bad else source
        raise TypeError(
            f"source must be a folder, a glob, a file path, or a list of them; got "
            f"{type(shown).__name__} {shown!r:.80}."
        )
    if not sources:
        raise FileNotFoundError(
            "No image source given: pass a folder, a glob or files."
        )
    extensions = _image_extensions()
    paths: list[str] = []
    for item in sources:
        text = os.fspath(item)
        path = Path(text)
        if path.is_dir():
            paths.extend(_walk(path, recursive, extensions))
        elif path.is_file():
            paths.append(text)
        elif _is_glob(text):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise FileNotFoundError(f"The glob {text!r} matches no file.")
            paths.extend(
                m
                for m in matches
                if os.path.isfile(m) and os.path.splitext(m)[1].lower() in extensions
            )
        else:
            raise FileNotFoundError(f"No such file or folder: {text!r}.")
    unique = list(dict.fromkeys(paths))
    if not unique:
        shown = ", ".join(repr(os.fspath(s)) for s in sources[:3])
        raise FileNotFoundError(
            f"No image files found in {shown}{' ...' if len(sources) > 3 else ''} "
            f"(looked for the extensions Pillow opens, e.g. .jpg, .png, .tif)."
        )
    return unique


class ImageIterator:
    """Iterator over decoded images, made by :func:`iter_images`.

    Attributes
    ----------
    paths : list of str
        All the files it reads, in order.
    skipped : list of (str, str)
        ``(path, reason)`` of the files skipped so far (``on_error="skip"``).
    """

    def __init__(
        self,
        paths: list[str],
        mode: str,
        on_error: OnError,
        max_pixels: int | None,
        with_paths: bool,
    ) -> None:
        self.paths = paths
        self.skipped: list[tuple[str, str]] = []
        self._items = self._generate(mode, on_error, max_pixels, with_paths)

    def _generate(self, mode, on_error, max_pixels, with_paths):
        for path in self.paths:
            try:
                image = _decode(path, mode, max_pixels)
            except UnreadableImageError as exc:
                if on_error == "raise":
                    raise
                self.skipped.append((exc.path, exc.reason))
                continue
            yield (path, image) if with_paths else image
        if self.skipped:
            warnings.warn(SkippedImagesWarning(self.skipped), stacklevel=3)

    def __iter__(self) -> ImageIterator:
        return self

    def __next__(self):
        return next(self._items)


def iter_images(
    source: Source,
    mode: str = "RGB",
    recursive: bool = True,
    on_error: OnError = "raise",
    *,
    max_pixels: int | None = None,
    with_paths: bool = False,
) -> ImageIterator:
    """Yield the images of a folder, a glob or a list of paths, one at a time.

    Only one decoded image is alive at a time (plus the one the caller keeps).

    Parameters
    ----------
    source : str, path-like, or sequence of them
        Folder, glob or files; see :func:`list_images`.
    mode : {"RGB", "BGR", "RGBA", "L", "LA", "I;16"}, default="RGB"
        Mode of every image; see :func:`load_image`.
    recursive : bool, default=True
        Descend into sub-folders.
    on_error : {"raise", "skip"}, default="raise"
        A file that cannot be decoded (corrupt, truncated, empty, not an image,
        decompression bomb) raises :class:`UnreadableImageError` naming it
        (``"raise"``), or is skipped (``"skip"``): the iterator's ``skipped``
        attribute lists it, and one :class:`SkippedImagesWarning` lists all the
        skipped files at the end.
    max_pixels : int or None, default=None
        Size limit per image; see :func:`load_image`.
    with_paths : bool, default=False
        Yield ``(path, image)`` pairs instead of images.

    Returns
    -------
    images : ImageIterator
        Yields arrays of shape (H, W, C) or (H, W) (read-only: copy one to
        modify it); sizes may differ between images.

    Examples
    --------
    >>> from sklearn.datasets import load_sample_images
    >>> files = load_sample_images().filenames
    >>> [image.shape for image in iter_images(files)]
    [(427, 640, 3), (427, 640, 3)]
    """
    _check_mode(mode)
    _check_on_error(on_error)
    paths = list_images(source, recursive)
    return ImageIterator(
        paths, mode, on_error, _resolve_max_pixels(max_pixels), with_paths
    )


# -- dataset statistics --------------------------------------------------------------
def _stats_of_files(
    paths: Iterable[str | os.PathLike],
    mode: str = "RGB",
    on_error: OnError = "raise",
    max_pixels: int | None = None,
) -> tuple[PixelStats, list[tuple[str, str]]]:
    """Statistics of some image files, decoded one at a time: the unit of parallel work.

    A plain top-level function of picklable arguments, so that a process pool
    (or a Dask cluster) can run it; it returns statistics, never pixels.

    Parameters
    ----------
    paths : iterable of str
        Image files.
    mode : str, default="RGB"
        See :func:`load_image`.
    on_error : {"raise", "skip"}, default="raise"
        Raise :class:`UnreadableImageError` at the first bad file, or skip it.
    max_pixels : int or None, default=None
        Size limit per image; None uses ``Image.MAX_IMAGE_PIXELS`` of the
        process running this function (so a Dask or pool worker keeps
        Pillow's default protection unless a number is passed).

    Returns
    -------
    stats : PixelStats
        Statistics of the good images (empty when there is none).
    skipped : list of (str, str)
        ``(path, reason)`` of the skipped files.
    """
    limit = _resolve_max_pixels(max_pixels)
    stats = PixelStats()
    skipped: list[tuple[str, str]] = []
    for path in paths:
        try:
            stats.merge_inplace(_decode(path, mode, limit, convert=_image_stats))
        except UnreadableImageError as exc:
            if on_error == "raise":
                raise
            skipped.append((exc.path, exc.reason))
    return stats, skipped


def _stats_of_chunk(
    paths: list[str], mode: str, on_error: OnError, max_pixels: int | None
) -> tuple[PixelStats, list[tuple[str, str]], tuple[str, str] | None]:
    """:func:`_stats_of_files` returning the first error as data, not raising it.

    The parent consumes chunks in order, so with ``on_error="raise"`` it reports
    the first bad file of the dataset whatever the order the workers finish in.
    """
    try:
        stats, skipped = _stats_of_files(paths, mode, on_error, max_pixels)
    except UnreadableImageError as exc:
        return PixelStats(), [], (exc.path, exc.reason)
    return stats, skipped, None


def _n_workers(n_jobs: int | None, n_files: int) -> int:
    if n_jobs is None:
        n_jobs = 1
    if (
        isinstance(n_jobs, bool)
        or not isinstance(n_jobs, (int, np.integer))
        or n_jobs == 0
    ):
        raise ValueError(
            "n_jobs must be a non-zero integer (-1 for all cores) or None. "
            f"Got {n_jobs!r}."
        )
    cores = os.cpu_count() or 1
    workers = int(n_jobs) if n_jobs > 0 else max(1, cores + 1 + int(n_jobs))
    return max(1, min(workers, n_files))


def _chunks(paths: list[str], size: int) -> list[list[str]]:
    return [paths[i : i + size] for i in range(0, len(paths), size)]


def _process_pool(workers: int) -> Any:
    """A reusable pool of ``workers`` processes (loky, the engine behind joblib).

    loky's workers persist between calls (a second ``dataset_stats`` starts in
    milliseconds), need no ``if __name__ == "__main__"`` guard in scripts, and
    cancelling a queued chunk never kills them, unlike ``joblib.Parallel``'s
    abort on an early exit.  The one import of joblib's vendored loky.
    """
    from joblib.externals.loky import get_reusable_executor

    return get_reusable_executor(max_workers=workers)


def _run_chunks(
    chunks: list[list[str]],
    mode: str,
    on_error: OnError,
    max_pixels: int | None,
    workers: int,
) -> Iterator[tuple[PixelStats, list[tuple[str, str]], tuple[str, str] | None]]:
    """Results of :func:`_stats_of_chunk` for every chunk, in order.

    With several workers, at most two chunks per worker are in flight, so
    memory stays bounded, and each result is a few numbers per channel, never
    pixels (shipping decoded arrays between processes costs more than
    decoding them).  Closing the generator early cancels the queued chunks.
    """
    if workers == 1:
        for chunk in chunks:
            yield _stats_of_chunk(chunk, mode, on_error, max_pixels)
        return
    pool = _process_pool(workers)
    todo = iter(chunks)
    pending: deque[Future] = deque(
        pool.submit(_stats_of_chunk, chunk, mode, on_error, max_pixels)
        for chunk in itertools.islice(todo, 2 * workers)
    )
    try:
        while pending:
            result = pending.popleft().result()
            chunk = next(todo, None)
            if chunk is not None:
                pending.append(
                    pool.submit(_stats_of_chunk, chunk, mode, on_error, max_pixels)
                )
            yield result
    finally:
        for future in pending:
            future.cancel()


def dataset_stats(
    source: Source,
    mode: str = "RGB",
    n_jobs: int | None = 1,
    progress: bool = False,
    on_error: OnError = "raise",
    *,
    recursive: bool = True,
    max_pixels: int | None = None,
    chunk_size: int | None = None,
    return_skipped: bool = False,
    client: Any = None,
) -> PixelStats | tuple[PixelStats, list[tuple[str, str]]]:
    """Exact per-channel statistics of every image of a dataset, streamed.

    Images are decoded one at a time in ``n_jobs`` worker processes; each
    worker accumulates :class:`PixelStats` over a chunk of files and sends
    back only those statistics, which the parent merges in file order.
    Memory therefore stays bounded by a few images per worker whatever the
    size of the dataset, and images may have different sizes.

    Parameters
    ----------
    source : str, path-like, or sequence of them
        Folder, glob or files; see :func:`list_images`.
    mode : {"RGB", "BGR", "RGBA", "L", "LA", "I;16"}, default="RGB"
        Mode every image is converted to; see :func:`load_image`.
    n_jobs : int or None, default=1
        Worker processes (joblib's loky, reused between calls); -1 uses all
        cores, None means 1.
    progress : bool, default=False
        Draw a progress bar on stderr (images done, images/s, ETA).
    on_error : {"raise", "skip"}, default="raise"
        At the first file that cannot be decoded (in file order), raise
        :class:`UnreadableImageError` naming it; or skip such files and report
        them (see ``return_skipped``). A partly decoded image is never counted.
    recursive : bool, default=True
        Descend into sub-folders.
    max_pixels : int or None, default=None
        Size limit per image (decompression bombs); None uses Pillow's
        ``Image.MAX_IMAGE_PIXELS`` as it is when this function is called
        (sent to the workers as a number).
    chunk_size : int or None, default=None
        Files per unit of parallel work; by default about 8 chunks per worker,
        at most 64 files each.
    return_skipped : bool, default=False
        Return ``(stats, skipped)``. Otherwise skipped files are reported with
        one :class:`SkippedImagesWarning`.
    client : distributed.Client, str or None, default=None
        Decode on the workers of a Dask cluster instead of local processes: a
        connected client, or a scheduler address (``"tcp://host:8786"``)
        connected for this call. The workers must read the same paths (a
        shared file system) and have sk_pixels installed; ``n_jobs`` is then
        unused. The result is the same as the local one. Needs
        ``pip install "sk_pixels[dask]"``.

    Returns
    -------
    stats : PixelStats
        Per-channel statistics in pixel units of ``mode`` (uint8 0-255, or
        uint16 for ``"I;16"``); exact (integer sums), so the result is the
        same to the bit for any ``n_jobs`` and ``chunk_size``.
    skipped : list of (str, str)
        ``(path, reason)`` pairs, only with ``return_skipped=True``.

    Raises
    ------
    FileNotFoundError
        The source does not exist or holds no image file.
    UnreadableImageError
        ``on_error="raise"`` and a file cannot be decoded.
    ValueError
        Every file was skipped.

    See Also
    --------
    PixelStandardizer.fit_stats : fit an estimator from these statistics.

    Examples
    --------
    >>> from sklearn.datasets import load_sample_images
    >>> from sk_pixels import PixelStandardizer
    >>> stats = dataset_stats(load_sample_images().filenames)
    >>> stats.n_images, stats.n_pixels
    (2, 546560)
    >>> stats.mean.round(3), stats.std.round(3)
    (array([ 99.927, 109.524,  98.959]), array([95.103, 76.391, 83.092]))
    >>> PixelStandardizer().fit_stats(stats).mean_.round(3)
    array([ 99.927, 109.524,  98.959])
    """
    _check_mode(mode)
    _check_on_error(on_error)
    paths = list_images(source, recursive)
    limit = _resolve_max_pixels(max_pixels)
    workers = _n_workers(n_jobs, len(paths))
    if chunk_size is None:
        chunk_size = (
            1
            if workers == 1
            else max(1, min(64, math.ceil(len(paths) / (8 * workers))))
        )
    elif (
        isinstance(chunk_size, bool) or int(chunk_size) != chunk_size or chunk_size < 1
    ):
        raise ValueError(
            f"chunk_size must be a positive integer or None. Got {chunk_size!r}."
        )
    chunks = _chunks(paths, int(chunk_size))

    total = PixelStats()
    skipped: list[tuple[str, str]] = []
    if client is None:
        results = _run_chunks(chunks, mode, on_error, limit, workers)
    else:
        from ._dask import map_in_order

        results = map_in_order(client, _stats_of_chunk, chunks, mode, on_error, limit)
    try:
        with progress_bar(len(paths), enabled=progress) as bar:
            for chunk, (stats, chunk_skipped, error) in zip(chunks, results):
                if error is not None:
                    raise UnreadableImageError(*error)
                total.merge_inplace(stats)
                skipped.extend(chunk_skipped)
                bar.update(len(chunk))
    finally:
        results.close()  # on an early exit, cancel the chunks not yet started
    if total.input_dtype is None:
        raise ValueError(
            f"All {len(paths)} image files were skipped as unreadable (first: "
            f"{skipped[0][0]!r}: {skipped[0][1]}); no statistics to compute."
        )
    if return_skipped:
        return total, skipped
    if skipped:
        warnings.warn(SkippedImagesWarning(skipped), stacklevel=2)
    return total
