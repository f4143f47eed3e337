"""Writing files so that a reader never sees half of one.

Kept apart from :mod:`sk_pixels.persist` so that the command line's
``stats --json`` writes atomically without importing the estimators.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path``; on success rename it onto ``path``.

    Readers never see a half-written file: ``path`` is replaced in one
    ``os.replace`` after the data is flushed to disk, and an error (or a
    ``SystemExit`` raised by a signal handler, as the command line's for
    SIGTERM) removes the temporary file and leaves the previous ``path``
    untouched.  A rewritten file keeps its permission bits.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        try:  # a rewritten file keeps its permissions
            permissions = stat.S_IMODE(os.stat(path).st_mode)
        except OSError:  # a new file gets the usual ones (mkstemp's are 0600)
            umask = os.umask(0)
            os.umask(umask)
            permissions = 0o666 & ~umask
        os.chmod(tmp, permissions)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
