"""Image files inside tar archives (WebDataset-style shards), read in place.

A member is named ``"shard.tar::path/in/archive.jpg"`` and remembers where its
bytes lie in the archive, so decoding one reads those bytes and nothing else:
an archive is never extracted, and its index is read once, when it is listed.
Only uncompressed ``.tar`` files are sources (a compressed archive cannot be
read at an offset); members that are not regular files, or whose extension is
not an image format's, are ignored.
"""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Collection

#: Suffix of the archives that are image sources.
ARCHIVE_SUFFIXES = (".tar",)

#: Between an archive's path and a member's name in a member's display name.
SEPARATOR = "::"


class ArchiveMember(str):
    """A member of a tar archive, as a path-like name ``"archive.tar::name"``.

    It is a ``str`` (so it prints, sorts and is reported like a file path) that
    also holds ``archive`` (the tar file), ``name`` (the member's name),
    ``offset`` and ``size`` (where its bytes lie in the archive).
    """

    archive: str
    name: str
    offset: int
    size: int

    def __new__(cls, archive: str, name: str, offset: int, size: int):
        self = super().__new__(cls, f"{archive}{SEPARATOR}{name}")
        self.archive, self.name, self.offset, self.size = archive, name, offset, size
        return self

    def __reduce__(self):  # picklable for process pools and Dask workers
        return (ArchiveMember, (self.archive, self.name, self.offset, self.size))

    def read(self) -> io.BytesIO:
        """The member's bytes, read from the archive at its offset."""
        with open(self.archive, "rb") as fh:
            fh.seek(self.offset)
            data = fh.read(self.size)
        if len(data) != self.size:
            raise OSError(
                f"the archive ends {self.size - len(data)} bytes before the end of "
                "this member (truncated or changed since it was listed)"
            )
        return io.BytesIO(data)


def is_archive(path: str | os.PathLike) -> bool:
    return os.fspath(path).lower().endswith(ARCHIVE_SUFFIXES)


def archive_members(path: str, extensions: Collection[str]) -> list[ArchiveMember]:
    """The image members of the tar file ``path``, in archive order.

    Raises ``OSError`` naming the file when it is not a readable tar archive.
    """
    try:
        with tarfile.open(path, mode="r:") as tar:  # "r:": uncompressed only
            return [
                ArchiveMember(path, info.name, info.offset_data, info.size)
                for info in tar
                if info.isreg()
                and info.sparse is None
                and not os.path.basename(info.name).startswith(".")
                and os.path.splitext(info.name)[1].lower() in extensions
            ]
    except tarfile.TarError as exc:
        raise OSError(
            f"{path!r} is not a readable uncompressed tar archive ({exc}); "
            "sources may be folders, globs, image files and .tar shards."
        ) from None
