"""Which files: folders, globs and lists of paths, and the images they hold."""

from __future__ import annotations

import glob
import os
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Literal, Union

from PIL import Image

from ._decode import DecodeWarning, UnreadableImageError, _listing, decode
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
    """Lower-case file extensions of the formats Pillow can open."""
    extensions = Image.registered_extensions()
    return frozenset(
        ext.lower() for ext, fmt in extensions.items() if fmt in Image.OPEN
    )


def _is_glob(text: str) -> bool:
    """Whether ``text`` holds a glob wildcard (``*``, ``?`` or ``[``)."""
    return any(char in text for char in "*?[")


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
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in extensions
    ]


def list_images(source: Source, *, recursive: bool = True) -> list[str]:
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
            "source must be a folder, a glob, a file path, or a list of them; got "
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
    paths = list_images(source, recursive=recursive)
    return ImageIterator(
        paths, mode, on_error, _resolve_max_pixels(max_pixels), with_paths
    )
