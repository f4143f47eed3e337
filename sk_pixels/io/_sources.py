"""Which files: folders, globs and lists of paths, and the images they hold."""

from __future__ import annotations

import os
import stat
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Literal, Union

from PIL import Image

from ._archives import archive_members, is_archive
from ._decode import (
    DecodeWarning,
    UnreadableImageError,
    _listing,
    decode,
    raster_formats,
)
from ._decode import resolve_max_pixels as _resolve_max_pixels
from ._modes import check_mode

Source = Union[str, os.PathLike, Iterable[Union[str, os.PathLike]]]  # noqa: UP007
OnError = Literal["raise", "skip"]


class SkippedImagesWarning(UserWarning):
    """Some files were skipped (``on_error="skip"``); ``.skipped`` lists them.

    ``skipped`` is a list of ``(path, reason)`` pairs.
    """

    def __init__(self, skipped: list[tuple[str, str]]) -> None:
        self.skipped = list(skipped)
        super().__init__(
            f"Skipped {len(self.skipped)} unreadable file(s): "
            f"{_listing(self.skipped)}. Use on_error='raise' to stop at the first one."
        )


def check_on_error(on_error: str) -> None:
    if on_error not in ("raise", "skip"):
        raise ValueError(
            f"on_error must be 'raise' or 'skip'. Got on_error={on_error!r}."
        )


def _image_extensions() -> frozenset[str]:
    """Lower-case file extensions of the raster formats sk_pixels opens."""
    allowed = raster_formats()
    extensions = Image.registered_extensions()
    return frozenset(ext.lower() for ext, fmt in extensions.items() if fmt in allowed)


def _is_glob(text: str) -> bool:
    """Whether ``text`` holds a glob wildcard (``*``, ``?`` or ``[``)."""
    return any(char in text for char in "*?[")


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
    ):
        if test(mode):
            return name
    return "not a regular file"


class _Listing:
    """The files of the sources, each once, and the entries passed over."""

    def __init__(self, extensions: frozenset[str]) -> None:
        self.extensions = extensions
        self.paths: list[str] = []
        self.passed: list[tuple[str, str]] = []  # (path, why): FIFOs, devices
        self._seen: set[str] = set()  # real paths of the files listed

    def add(self, path: str, *, check_suffix: bool) -> None:
        """List ``path`` once (by real path); expand a tar archive to its images."""
        if check_suffix and not (
            os.path.splitext(path)[1].lower() in self.extensions or is_archive(path)
        ):
            return
        try:
            mode = os.stat(path).st_mode
        except OSError:
            mode = None  # vanished or a broken link: the decoder names it
        if mode is not None and not stat.S_ISREG(mode):
            self.passed.append((path, f"{_kind(mode)}, not a regular file; skipped"))
            return
        real = os.path.realpath(path)
        if real in self._seen:
            return
        self._seen.add(real)
        if mode is not None and is_archive(path):
            self.paths.extend(archive_members(path, self.extensions))
        else:
            self.paths.append(path)

    def walk(self, folder: Path, recursive: bool) -> None:
        """Add the files of ``folder`` in sorted order; hidden entries are ignored.

        Links to folders are followed, but never into a folder already walked
        (by real path): a symlink loop is walked once.
        """
        if not recursive:
            for p in sorted(folder.iterdir()):
                if not p.name.startswith(".") and not p.is_dir():
                    self.add(str(p), check_suffix=True)
            return
        walked = {os.path.realpath(folder)}
        for root, dirs, files in os.walk(folder, followlinks=True):
            keep = []
            for name in sorted(dirs):
                real = os.path.realpath(os.path.join(root, name))
                if not name.startswith(".") and real not in walked:
                    walked.add(real)
                    keep.append(name)
            dirs[:] = keep
            for name in sorted(files):
                if not name.startswith("."):
                    self.add(os.path.join(root, name), check_suffix=True)

    def glob(self, pattern: str) -> None:
        """Add the files matching ``pattern``; ``**`` never follows links to folders.

        (``glob.glob`` does, without end in a symlink loop, so the pattern is
        matched with ``pathlib``, from the part of it without wildcards.)
        """
        parts = Path(pattern).parts
        first = next(i for i, part in enumerate(parts) if _is_glob(part))
        base = Path(*parts[:first]) if first else Path()
        rest = "/".join(parts[first:])
        matches = sorted(
            str(p)
            for p in base.glob(rest)
            if not any(part.startswith(".") for part in p.relative_to(base).parts)
        )
        if not matches:
            raise FileNotFoundError(f"The glob {pattern!r} matches no file.")
        for match in matches:
            if not os.path.isdir(match):
                self.add(match, check_suffix=True)


def list_sources(source: Source, *, recursive: bool = True) -> _Listing:
    """:func:`list_images`, with the entries passed over (FIFOs, devices) and why."""
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
            "source must be a folder, a glob, a file path, or a list of them; got "
            f"{type(shown).__name__} {shown!r:.80}."
        )
    if not sources:
        raise FileNotFoundError(
            "No image source given: pass a folder, a glob or files."
        )
    listing = _Listing(_image_extensions())
    for item in sources:
        text = os.fspath(item)
        path = Path(text)
        if path.is_dir():
            listing.walk(path, recursive)
        elif os.path.exists(text):
            listing.add(text, check_suffix=False)
        elif _is_glob(text):
            listing.glob(text)
        else:
            raise FileNotFoundError(f"No such file or folder: {text!r}.")
    if not listing.paths and not listing.passed:
        shown = ", ".join(repr(os.fspath(s)) for s in sources[:3])
        raise FileNotFoundError(
            f"No image files found in {shown}{' ...' if len(sources) > 3 else ''} "
            f"(looked for the extensions of the raster formats Pillow opens, e.g. "
            ".jpg, .png, .tif, and .tar shards)."
        )
    return listing


def list_images(source: Source, *, recursive: bool = True) -> list[str]:
    """List the image files of a folder, a glob or a list of paths, in a stable order.

    Parameters
    ----------
    source : str, path-like, or sequence of them
        A folder (its image files, by extension, in sorted order; hidden
        files and folders are ignored; links to folders are followed, but a
        folder is walked once whatever the links, so a symlink loop ends), a
        glob pattern (``"data/**/*.jpg"``; matches filtered by extension;
        ``**`` does not follow links to folders), a file (taken as is,
        whatever its extension), or an uncompressed tar archive (``.tar``,
        e.g. WebDataset shards: its image members, read in place, never
        extracted). A sequence may mix them all.
    recursive : bool, default=True
        Descend into sub-folders of a folder.

    Returns
    -------
    paths : list of str
        Files in order (sorted within each folder or glob), each file once
        (by real path: a file reached through a link or listed twice is
        counted once). A member of an archive is named
        ``"shard.tar::name.jpg"``.

    Raises
    ------
    FileNotFoundError
        A source is neither a file, a folder nor a glob with matches, or no
        image file was found at all.
    OSError
        A ``.tar`` source is not a readable uncompressed tar archive.

    Warns
    -----
    SkippedImagesWarning
        Entries that are not regular files (FIFOs, devices, sockets), which
        are never opened, each with the reason.
    """
    listing = list_sources(source, recursive=recursive)
    if listing.passed:
        warnings.warn(SkippedImagesWarning(listing.passed), stacklevel=2)
    if not listing.paths:
        raise FileNotFoundError(f"No image files found: {_listing(listing.passed)}.")
    return listing.paths


class ImageIterator:
    """Iterator over decoded images, made by :func:`iter_images`.

    Attributes
    ----------
    paths : list of str
        All the files it reads, in order.
    skipped : list of (str, str)
        ``(path, reason)`` of the files skipped so far (``on_error="skip"``).
    warned : list of (str, str)
        ``(path, message)`` of the files decoded so far whose decoder reported
        problems (see :class:`DecodeWarning`).
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
        self.warned: list[tuple[str, str]] = []
        self._items = self._generate(mode, on_error, max_pixels, with_paths)

    def _generate(self, mode, on_error, max_pixels, with_paths):
        for path in self.paths:
            try:
                image, message = decode(path, mode, max_pixels)
            except UnreadableImageError as exc:
                if on_error == "raise":
                    raise
                self.skipped.append((exc.path, exc.reason))
                continue
            if message:
                self.warned.append((path, message))
            yield (path, image) if with_paths else image
        if self.skipped:
            warnings.warn(SkippedImagesWarning(self.skipped), stacklevel=3)
        if self.warned:
            warnings.warn(DecodeWarning(self.warned), stacklevel=3)

    def __iter__(self) -> ImageIterator:
        return self

    def __next__(self):
        return next(self._items)


def iter_images(
    source: Source,
    *,
    mode: str = "RGB",
    recursive: bool = True,
    on_error: OnError = "raise",
    max_pixels: int | None = None,
    with_paths: bool = False,
) -> ImageIterator:
    """Yield the images of a folder, a glob or a list of paths, one at a time.

    Only one decoded image is alive at a time (plus the one the caller keeps).

    Parameters
    ----------
    source : str, path-like, or sequence of them
        Folder, glob or files; see :func:`list_images`.
    mode : str, default="RGB"
        One of ``MODES``: "RGB", "BGR", "RGBA", "L", "LA", "I;16", "RGB;16"...
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
        modify it); sizes may differ between images.  Files whose decoder
        reported problems are listed by one :class:`DecodeWarning` at the end.

    Examples
    --------
    >>> from sklearn.datasets import load_sample_images
    >>> files = load_sample_images().filenames
    >>> [image.shape for image in iter_images(files)]
    [(427, 640, 3), (427, 640, 3)]
    """
    check_mode(mode)
    check_on_error(on_error)
    listing = list_sources(source, recursive=recursive)
    images = ImageIterator(
        listing.paths, mode, on_error, _resolve_max_pixels(max_pixels), with_paths
    )
    images.skipped.extend(listing.passed)
    return images
