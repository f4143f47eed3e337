"""A progress bar on stderr: tqdm when installed, else a small built-in one.

Both show images done, images per second and the time left.  The bar is a
context manager; ``enabled=False`` gives an object that does nothing, so
callers never branch on it.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any


def _format_seconds(seconds: float) -> str:
    if not seconds == seconds or seconds == float("inf"):  # NaN or inf
        return "?"
    seconds = int(round(seconds))
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return (
        f"{hours}:{minutes:02d}:{seconds:02d}"
        if hours
        else f"{minutes:02d}:{seconds:02d}"
    )


class _NoProgress:
    """The disabled bar."""

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class SimpleProgress(_NoProgress):
    """Built-in bar: ``images: 120/1000 (12%) 85.3 img/s ETA 00:10``, redrawn in place.

    Parameters
    ----------
    total : int
        Number of items expected.
    desc : str, default="images"
        Label in front of the counts.
    file : file object, default=sys.stderr
        Where the bar is drawn.
    min_interval : float, default=0.1
        Seconds between redraws (the last state is always drawn on close).
    """

    def __init__(
        self,
        total: int,
        desc: str = "images",
        file: IO[str] | None = None,
        min_interval: float = 0.1,
    ) -> None:
        self.total = int(total)
        self.desc = desc
        self.file = sys.stderr if file is None else file
        self.min_interval = min_interval
        self.done = 0
        self._start = time.perf_counter()
        self._last_draw = -float("inf")
        self._closed = False

    def text(self) -> str:
        """The current line (without the carriage return)."""
        elapsed = max(time.perf_counter() - self._start, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else float("nan")
        percent = 100.0 * self.done / self.total if self.total else 100.0
        return (
            f"{self.desc}: {self.done}/{self.total} ({percent:.0f}%) "
            f"{rate:.1f} img/s ETA {_format_seconds(left)}"
        )

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if now - self._last_draw >= self.min_interval:
            self._draw()
            self._last_draw = now

    def _draw(self) -> None:
        self.file.write("\r" + self.text())
        self.file.flush()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._draw()
            self.file.write("\n")
            self.file.flush()


def progress_bar(total: int, *, enabled: bool = True, desc: str = "images") -> Any:
    """Return a progress bar for ``total`` images on stderr (a no-op when disabled).

    Uses ``tqdm`` when it is installed (the ``progress`` extra), otherwise
    :class:`SimpleProgress`.

    Examples
    --------
    >>> with progress_bar(3, enabled=False) as bar:
    ...     bar.update(3)
    """
    if not enabled:
        return _NoProgress()
    try:
        from tqdm import tqdm
    except ImportError:
        return SimpleProgress(total, desc=desc)
    return tqdm(total=total, desc=desc, unit="img", file=sys.stderr, dynamic_ncols=True)
