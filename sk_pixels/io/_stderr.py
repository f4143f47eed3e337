"""What a C library writes to file descriptor 2 while it decodes, captured.

libtiff (Pillow's TIFF decoder) reports unknown tags and short strips by
writing straight to fd 2, below Python: ``sys.stderr`` and the ``warnings``
module never see it, so over a folder of odd TIFFs hundreds of raw lines would
land among a command's own output.  :func:`captured_stderr` points fd 2 at a
temporary file for the duration of one decode and hands back what was written,
so the caller can report it with the file it belongs to.

fd 2 belongs to the whole process, so the capture is serialised by one lock:
threads of a process that decode such formats take turns (processes, which
:func:`sk_pixels.io.dataset_stats` uses, each have their own fd 2).  Only the
formats whose decoder writes to fd 2 are captured (see ``_decode``), so the
others decode in parallel threads as before.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_sink = -1  # descriptor of one unlinked temporary file per process, reused
_sink_pid = -1

#: At most this much captured text is kept per decode.
_MAX_BYTES = 4096


def _reset_after_fork() -> None:
    global _lock, _sink, _sink_pid
    _lock = threading.Lock()
    if _sink >= 0:  # the parent's file offset is shared: never reuse it
        os.close(_sink)
    _sink, _sink_pid = -1, -1


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_reset_after_fork)


def _process_sink() -> int:
    """A plain descriptor (no file object to be reported unclosed at exit)."""
    global _sink, _sink_pid
    if _sink_pid != os.getpid():
        fd, path = tempfile.mkstemp(prefix="sk_pixels-stderr-")
        os.unlink(path)
        _sink, _sink_pid = fd, os.getpid()
    return _sink


@contextmanager
def captured_stderr(enabled: bool = True) -> Iterator[list[str]]:
    """Redirect fd 2 to a temporary file; yield a list that receives its text.

    On exit (normal or not) fd 2 is restored and the list gets one string, the
    stripped text written meanwhile (``""`` for none).  With
    ``enabled=False``, or when fd 2 is not open, nothing is redirected.
    """
    text: list[str] = []
    if not enabled:
        yield text
        return
    with _lock:
        try:
            saved = os.dup(2)
        except OSError:  # no fd 2 (a daemon): nothing can reach a terminal
            yield text
            return
        sink = _process_sink()
        os.ftruncate(sink, 0)
        os.lseek(sink, 0, os.SEEK_SET)
        for stream in (sys.stdout, sys.stderr):  # Python's own buffered text
            try:
                stream.flush()
            except (AttributeError, OSError, ValueError):
                pass
        os.dup2(sink, 2)
        try:
            yield text
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.lseek(sink, 0, os.SEEK_SET)
            raw = os.read(sink, _MAX_BYTES + 1)
            message = raw[:_MAX_BYTES].decode("utf-8", "replace").strip()
            text.append(message + (" ..." if len(raw) > _MAX_BYTES else ""))
