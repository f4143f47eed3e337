"""The ``sk-pixels`` command: dataset statistics, fitting, applying, a tour, plots.

Wiring and work are separate.  This module builds the argparse parser from
the ``COMMANDS`` table and runs :func:`main`; each command is one module
(``_stats``, ``_fit``, ``_apply``, ``_tour``, ``_plot``) with ``HELP``,
``add_arguments(parser)``, ``run(args)`` and a pure function that tests and
scripts call directly (:func:`compute_stats`, :func:`fit_model`,
:func:`apply_model`, :func:`tour`, :func:`plot_histograms`); the argument
groups and helpers they share live in ``_common``.

Building the parser imports neither NumPy nor scikit-learn, so ``--version``
and ``--help`` answer at once; a command imports what it uses when it runs
(``stats`` never imports scikit-learn).

Exit codes: 0 success, 2 usage error (bad arguments, a refused ``.joblib``
model), 1 data error (missing folder, no images, unreadable image or model
file), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM; temporary files
are removed on the way out).  Errors are one line on stderr, never a
traceback for user mistakes.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType

from .._version import __version__
from . import _apply, _fit, _plot, _stats, _tour
from ._apply import apply_model
from ._common import PROG, DataError, UsageError, one_line
from ._fit import fit_model
from ._plot import plot_histograms
from ._stats import compute_stats, format_stats, stats_report
from ._tour import tour

__all__ = [
    "COMMANDS",
    "DataError",
    "UsageError",
    "apply_model",
    "build_parser",
    "compute_stats",
    "fit_model",
    "format_stats",
    "main",
    "plot_histograms",
    "stats_report",
    "tour",
]

#: Subcommand -> module with ``HELP``, ``add_arguments(parser)`` and ``run(args)``.
COMMANDS: dict[str, ModuleType] = {
    "stats": _stats,
    "fit": _fit,
    "apply": _apply,
    "tour": _tour,
    "plot": _plot,
}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and an exception, not sys.exit."""

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    """The ``sk-pixels`` argument parser, one subparser per entry of ``COMMANDS``."""
    parser = _Parser(
        prog=PROG,
        description="Dataset pixel statistics and scaling for deep learning "
        "(sk_pixels). Run 'sk-pixels stats' for the per-channel mean/std of "
        "scikit-learn's sample photos, or 'sk-pixels stats FOLDER' for yours.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, module in COMMANDS.items():
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"{PROG}: warning: {one_line(str(message))}", file=sys.stderr)


#: Errors that are the data's or the environment's fault: exit code 1.
#: ``ValueError`` covers ``InvalidModelFileError``; ``OSError`` covers
#: ``UnreadableImageError`` and a missing file; ``ImportError`` a missing
#: optional extra (the message says what to install).
_DATA_ERRORS: tuple[type[BaseException], ...] = (
    DataError,
    ValueError,
    OSError,
    ImportError,
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``sk-pixels`` command and return its exit code.

    Parameters
    ----------
    argv : sequence of str or None, default=None
        Arguments without the program name; None reads ``sys.argv[1:]``.

    Returns
    -------
    code : int
        0 success, 1 data error, 2 usage error, 130 interrupted.
    """
    # Everything, the imports a command makes when it runs included, happens
    # inside this try: Ctrl-C at any moment is one line and exit code 130, and
    # SIGTERM unwinds like it (exit 143), so no temporary file is left behind.
    with _terminate_as_exception():
        return _main(argv)


class Terminated(BaseException):
    """SIGTERM, raised where the program is, so that cleanup code runs."""


@contextmanager
def _terminate_as_exception() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def handler(signum, frame):
        raise Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(argv: Sequence[str] | None) -> int:
    try:
        parser = build_parser()
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            try:
                args = parser.parse_args(argv)
            except SystemExit as exc:  # --help / --version
                return int(exc.code or 0)
            run: Callable[[argparse.Namespace], int] = args.run
            return run(args)
    except UsageError as exc:
        print(f"{PROG}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except _DATA_ERRORS as exc:
        print(f"{PROG}: error: {one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print(f"{PROG}: terminated", file=sys.stderr)
        return 143
