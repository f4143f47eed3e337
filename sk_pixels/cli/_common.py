"""What the subcommands share: errors, argument groups, models and reports.

Nothing heavy is imported at module level (NumPy, Pillow, scikit-learn): the
parser is built from these helpers for every run, ``--version`` and ``--help``
included, and must answer at once.  Each function imports what it needs.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from ..io._modes import MODE_TABLE, MODES, mode_of_order
from ..presets import PRESETS

PROG = "sk-pixels"

#: Model files that are pickles: loading one runs code.
PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")


class UsageError(Exception):
    """A bad command line: exit code 2."""


class DataError(Exception):
    """The data cannot be processed: exit code 1."""


def one_line(exc: BaseException | str) -> str:
    """A message on one line (an exception's text, or its class name)."""
    text = exc if isinstance(exc, str) else str(exc)
    return " ".join(text.split()) or type(exc).__name__


# -- argument groups -----------------------------------------------------------------
def jobs_count(text: str) -> int:
    """``--jobs``: a non-zero integer (argparse turns the error into exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value == 0:
        raise argparse.ArgumentTypeError(
            f"must be a non-zero integer (1 for one worker, -1 for all cores), "
            f"got {text!r}"
        )
    return value


def nodata_values(text: str) -> tuple[float, ...]:
    """``--nodata V`` or ``--nodata V1,V2,V3`` (one per channel); ``nan`` allowed."""
    values = []
    for part in text.split(","):
        try:
            number = float(part)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be a number or numbers separated by commas, got {text!r}"
            ) from None
        values.append(int(number) if number.is_integer() else number)
    return tuple(values)


def percentile_values(text: str) -> tuple[float, ...]:
    """``--percentiles 1,50,99.8``: numbers in [0, 100], separated by commas."""
    values = []
    for part in text.split(","):
        try:
            number = float(part)
        except ValueError:
            number = None
        if number is None or not 0 <= number <= 100:
            raise argparse.ArgumentTypeError(
                "must be percents from 0 to 100 separated by commas, e.g. "
                f"1,50,99.8; got {text!r:.80} ({part.strip()!r:.40} is not)"
            )
        values.append(number)
    return tuple(values)


def quantile_range_values(text: str) -> tuple[float, float]:
    """``--quantile-range 1,99.8``: two percents, ``lo < hi``."""
    values = percentile_values(text)
    if len(values) != 2 or not values[0] < values[1]:
        raise argparse.ArgumentTypeError(
            f"must be two percents LO,HI with 0 <= LO < HI <= 100, e.g. 1,99.8 or "
            f"25,75; got {text!r:.80}"
        )
    return values


def add_percentiles_argument(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--percentiles",
        type=percentile_values,
        default=None,
        metavar="P1,P2,...",
        help=f"{what} per-channel percentiles (in percent, 0-100, numpy's linear "
        "rule; exact for 8- and 16-bit images), e.g. 1,50,99.8",
    )


def add_nodata_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--nodata",
        type=nodata_values,
        default=None,
        metavar="V",
        help="leave pixels equal to V out of the statistics of their channel "
        "(V1,V2,V3: one value per channel), e.g. 0 or -9999",
    )


def check_output(
    output: str, sources: Sequence[str] | None, option: str, recursive: bool = True
) -> None:
    """Refuse an output before any image is read: its folder must exist, and
    it must not be one of the input images (``stats a.png --json a.png``)."""
    if output == "-":
        return
    folder = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(folder):
        raise DataError(
            f"cannot write {option} {output}: the folder {folder} does not exist; "
            "create it first."
        )
    if os.path.isdir(output):
        raise DataError(f"cannot write {option} {output}: it is a folder.")
    if not sources or not os.path.exists(output):
        return  # a file that does not exist is not an input
    from ..io import SkippedImagesWarning, list_images

    target = os.path.realpath(output)
    inputs = [os.path.realpath(s) for s in sources]
    if target not in inputs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SkippedImagesWarning)
            try:
                listed = list_images(list(sources), recursive=recursive)
            except (OSError, ValueError):
                listed = []  # reported when the images are read
        inputs = [os.path.realpath(p) for p in listed]
    if target in inputs:
        raise UsageError(
            f"refusing to write {option} {output}: it is one of the input images; "
            "choose another output file."
        )


def add_source_arguments(parser: argparse.ArgumentParser, *, jobs: bool = True) -> None:
    """--mode, --jobs (where the subcommand decodes in parallel), --on-error,
    --no-progress, --verbose: how the images of SOURCE are read and reported."""
    parser.add_argument(
        "--mode",
        choices=sorted(MODES),
        default=None,
        help="image mode to read (default: RGB, or the model's)",
    )
    if jobs:
        parser.add_argument(
            "--jobs",
            type=jobs_count,
            default=1,
            metavar="N",
            help="parallel workers (-1: all cores; default 1)",
        )
    parser.add_argument(
        "--on-error",
        choices=("raise", "skip"),
        default="raise",
        help="stop at the first unreadable file, or skip and list them",
    )
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (it is off anyway when stderr is not a terminal)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="list the files whose decoder reported problems (default: count them)",
    )


def add_scaler_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """--estimator / --global / --preset: which scaler ``fit`` and ``plot`` fit."""
    parser.add_argument(
        "--estimator",
        choices=("standardizer", "centerer", "normalizer"),
        required=required,
        default=None if required else "standardizer",
        help="what to fit (normalizer: dataset min-max)"
        + ("" if required else "; default: standardizer"),
    )
    parser.add_argument(
        "--global",
        dest="per_channel",
        action="store_false",
        help="one statistic for all channels instead of one per channel",
    )
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=None,
        help="use published statistics instead of learning them",
    )
    parser.add_argument(
        "--quantile-range",
        type=quantile_range_values,
        default=None,
        metavar="LO,HI",
        help="robust scaling by exact percentiles: the normalizer maps the LO-th "
        "and HI-th percentiles onto 0 and 1 (e.g. 1,99.8), the standardizer "
        "subtracts the median and divides by their spread (e.g. 25,75: the IQR)",
    )


def add_sources_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "sources", nargs="+", metavar="SOURCE", help="folders, globs or image files"
    )


def positive_bytes(text: str) -> int:
    """argparse type of ``--max-bytes``: a positive number of bytes."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"must be a positive number of bytes, got {text!r}"
        )
    return value


def add_trust_pickle_argument(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--trust-pickle",
        action="store_true",
        help=f"allow a .joblib {what}: joblib.load runs code from the file",
    )


def show_progress(args: argparse.Namespace) -> bool:
    return not getattr(args, "no_progress", False) and sys.stderr.isatty()


# -- shared work ---------------------------------------------------------------------
def sample_photos() -> list[str]:
    """scikit-learn's bundled photos (china.jpg, flower.jpg), found without
    importing scikit-learn (``stats`` never needs it)."""
    spec = find_spec("sklearn")
    if spec is not None and spec.submodule_search_locations:
        folder = Path(next(iter(spec.submodule_search_locations)), "datasets", "images")
        photos = sorted(str(p) for p in folder.glob("*.jpg"))
        if photos:
            return photos
    from sklearn.datasets import load_sample_images

    return list(load_sample_images().filenames)


def fmt(value: float, digits: int = 4) -> str:
    """Fixed-point number without a negative zero."""
    return f"{round(float(value), digits) + 0.0:.{digits}f}"


def make_estimator(
    kind: str,
    per_channel: bool,
    preset: str | None,
    quantile_range: tuple[float, float] | None = None,
) -> Any:
    from .. import PixelCenterer, PixelNormalizer, PixelStandardizer

    if kind == "standardizer":
        if preset is not None:
            return PixelStandardizer(mean=preset, std=preset)
        return PixelStandardizer(per_channel=per_channel, quantile_range=quantile_range)
    if kind == "centerer":
        return PixelCenterer(per_channel=per_channel, mean=preset)
    return PixelNormalizer(
        scope="dataset", per_channel=per_channel, quantile_range=quantile_range
    )


def check_estimator_args(
    kind: str,
    per_channel: bool,
    preset: str | None,
    mode: str,
    quantile_range: tuple[float, float] | None = None,
) -> None:
    if quantile_range is not None and (kind == "centerer" or preset is not None):
        raise UsageError(
            "--quantile-range learns percentiles, for the normalizer or the "
            "standardizer without --preset; got "
            + (f"--preset {preset}." if preset else "--estimator centerer.")
        )
    if preset is None:
        return
    if kind == "normalizer":
        raise UsageError(
            "--preset applies to the standardizer and the centerer, not the normalizer."
        )
    if not per_channel:
        raise UsageError(
            f"--preset {preset} holds per-channel statistics; drop --global."
        )
    info = PRESETS[preset]
    if kind == "standardizer" and info.std is None:
        raise UsageError(
            f"preset {preset!r} has no std (it only subtracts a mean); use "
            "--estimator centerer with it."
        )
    if info.channel_order != mode:
        raise UsageError(
            f"preset {preset!r} is for {info.channel_order} images but --mode is "
            f"{mode}; pass --mode {info.channel_order}."
        )


def load_model(
    path: str,
    trust_pickle: bool,
    *,
    max_bytes: int | None = None,
    option: str | None = None,
) -> tuple[Any, str | None]:
    """``(estimator, channel_order)`` from a .json or (trusted) .joblib file.

    ``max_bytes`` (None: the library's 1 MiB) bounds a ``.json`` file; with
    ``option`` (the command's ``"--max-bytes"``) a larger one is refused with
    an error that names it and the size to pass.
    """
    if path.lower().endswith(PICKLE_SUFFIXES):
        if not trust_pickle:
            raise UsageError(
                f"refusing to load {path}: joblib.load runs code stored in the file. "
                "Pass --trust-pickle only if you trust its source, or use a .json "
                "model (sk-pixels fit ... -o model.json)."
            )
        if not os.path.isfile(path):
            raise DataError(f"model file not found: {path}")
        import joblib

        try:
            model = joblib.load(path)
        except Exception as exc:  # a bad pickle can fail in many ways
            raise DataError(f"cannot load {path} with joblib: {exc}") from exc
        if not callable(getattr(model, "transform", None)):
            raise DataError(
                f"{path} holds a {type(model).__name__}, not a fitted scaler with a "
                "transform method; save one with sk-pixels fit ... -o model.joblib."
            )
        return model, None
    from ..persist import MAX_BYTES, InvalidModelFileError, load_json

    limit = MAX_BYTES if max_bytes is None else max_bytes
    try:
        size = os.path.getsize(path)
    except OSError:
        size = 0  # load_json says what is wrong with the path
    if option is not None and size > limit:
        raise DataError(
            f"{path} is {size} bytes, more than the {limit}-byte limit of a model "
            f"file (a mean image or a whitener can be larger); pass {option} "
            f"{size} if you trust the file."
        )
    try:
        estimator, meta = load_json(path, return_metadata=True, max_bytes=limit)
    except (InvalidModelFileError, FileNotFoundError):
        raise
    except Exception as exc:  # whatever else a malformed file raises: one line
        raise DataError(
            f"{path} is not a valid sk_pixels model file: {one_line(exc)}"
        ) from exc
    return estimator, meta["channel_order"]


def mode_for_model(estimator: Any, order: str | None, requested: str | None) -> str:
    """The image mode that matches a model's channel order and units."""
    if order is None:
        return requested or "RGB"
    try:
        mode = mode_of_order(order, getattr(estimator, "input_dtype_", "uint8"))
    except KeyError:  # an order no mode reads (BGRA)
        mode = None
    if requested is not None and MODE_TABLE[requested].order != order:
        fix = f"drop --mode or pass --mode {mode}" if mode else "no --mode reads it"
        raise UsageError(
            f"the model was fitted on {order} images but --mode is {requested}; {fix}."
        )
    if requested is None and mode is None:
        raise DataError(
            f"the model was fitted on {order} images, which no image mode reads "
            f"(one of {sorted(MODES)})."
        )
    return requested or mode


def report_skipped(skipped: Sequence[tuple[str, str]]) -> None:
    if skipped:
        print(f"{PROG}: skipped {len(skipped)} unreadable file(s):", file=sys.stderr)
        for path, reason in skipped:
            print(f"  {path}: {reason}", file=sys.stderr)


@contextmanager
def decoder_report(verbose: bool) -> Iterator[list[tuple[str, str]]]:
    """Turn the :class:`~sk_pixels.io.DecodeWarning` raised inside into one line.

    On exit (also on an error) prints ``N file(s) decoded with warnings;
    --verbose lists them`` to stderr, or with ``verbose`` the list itself, one
    file per line.  Other warnings go on as they would have.
    """
    from ..io import DecodeWarning

    files: list[tuple[str, str]] = []
    others: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DecodeWarning)
            try:
                yield files
            finally:
                for record in caught:
                    if issubclass(record.category, DecodeWarning):
                        files.extend(record.message.files)
                    else:
                        others.append(record)
    finally:
        for record in others:  # outside the recording: shown the usual way
            warnings.showwarning(
                record.message, record.category, record.filename, record.lineno
            )
        _report_warned(files, verbose)


def _report_warned(files: list[tuple[str, str]], verbose: bool) -> None:
    if not files:
        return
    count = f"{len(files)} file(s) decoded with warnings"
    if not verbose:
        print(f"{PROG}: {count}; --verbose lists them", file=sys.stderr)
        return
    print(f"{PROG}: {count}:", file=sys.stderr)
    for path, message in files:
        print(f"  {path}: {message}", file=sys.stderr)
