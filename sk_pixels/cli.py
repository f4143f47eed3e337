"""The ``sk-pixels`` command: dataset statistics, fitting, applying, a tour, plots.

Wiring and work are separate: :func:`main` builds an argparse parser from the
``COMMANDS`` table, and each subcommand's ``_run_*`` calls a pure function
(:func:`compute_stats`, :func:`fit_model`, :func:`apply_model`, :func:`tour`,
:func:`plot_histograms`) that tests and scripts can call directly.

Exit codes: 0 success, 2 usage error (bad arguments, a refused ``.joblib``
model), 1 data error (missing folder, no images, unreadable image or model
file).  Errors are one line on stderr, never a traceback for user mistakes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from ._progress import progress_bar
from ._stats import PixelStats
from .centerer import PixelCenterer
from .io import (
    MODES,
    ImageIterator,
    SkippedImagesWarning,
    UnreadableImageError,
    dataset_stats,
    iter_images,
)
from .normalizer import PixelNormalizer
from .persist import InvalidModelFileError, atomic_open, load_json, save_json
from .presets import PRESETS
from .standardizer import PixelStandardizer

PROG = "sk-pixels"

#: Channel names per mode, for tables.
CHANNEL_NAMES = {
    "RGB": ("R", "G", "B"),
    "BGR": ("B", "G", "R"),
    "RGBA": ("R", "G", "B", "A"),
    "L": ("L",),
    "LA": ("L", "A"),
    "I;16": ("L",),
}

#: Mode -> channel order recorded in model files.
_ORDER_OF_MODE = {
    "RGB": "RGB",
    "BGR": "BGR",
    "RGBA": "RGBA",
    "L": "L",
    "LA": "LA",
    "I;16": "L",
}

#: Model files that are pickles: loading one runs code.
_PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")


class UsageError(Exception):
    """A bad command line: exit code 2."""


class DataError(Exception):
    """The data cannot be processed: exit code 1."""


# -- shared helpers ------------------------------------------------------------------
def _sample_photos() -> list[str]:
    from sklearn.datasets import load_sample_images

    return list(load_sample_images().filenames)


def _show_progress(args: argparse.Namespace) -> bool:
    return not getattr(args, "no_progress", False) and sys.stderr.isatty()


def _fmt(value: float, digits: int = 4) -> str:
    """Fixed-point number without a negative zero."""
    return f"{round(float(value), digits) + 0.0:.{digits}f}"


def _channel_names(mode: str, n_channels: int) -> tuple[str, ...]:
    names = CHANNEL_NAMES.get(mode, ())
    return (
        names if len(names) == n_channels else tuple(f"c{k}" for k in range(n_channels))
    )


def _make_estimator(kind: str, per_channel: bool, preset: str | None) -> Any:
    if kind == "standardizer":
        if preset is not None:
            return PixelStandardizer(mean=preset, std=preset)
        return PixelStandardizer(per_channel=per_channel)
    if kind == "centerer":
        return PixelCenterer(per_channel=per_channel, mean=preset)
    return PixelNormalizer(scope="dataset", per_channel=per_channel)


def _check_estimator_args(
    kind: str, per_channel: bool, preset: str | None, mode: str
) -> None:
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
            f"{mode}; "
            f"pass --mode {info.channel_order}."
        )


def _load_model(path: str, trust_pickle: bool) -> tuple[Any, str | None]:
    """Return ``(estimator, channel_order)`` from a .json or (trusted) .joblib file."""
    if path.lower().endswith(_PICKLE_SUFFIXES):
        if not trust_pickle:
            raise UsageError(
                f"refusing to load {path}: joblib.load runs code stored in the file. "
                "Pass --trust-pickle only if you trust its source, or use a .json "
                "model "
                "(sk-pixels fit ... -o model.json)."
            )
        if not os.path.isfile(path):
            raise DataError(f"model file not found: {path}")
        import joblib

        try:
            return joblib.load(path), None
        except Exception as exc:  # a bad pickle can fail in many ways
            raise DataError(f"cannot load {path} with joblib: {exc}") from exc
    estimator, meta = load_json(path, return_metadata=True)
    return estimator, meta["channel_order"]


def _mode_for_model(estimator: Any, order: str | None, requested: str | None) -> str:
    """The image mode that matches a model's channel order and units."""
    if order is None:
        return requested or "RGB"
    mode = order
    if order == "L" and getattr(estimator, "input_dtype_", "uint8") == "uint16":
        mode = "I;16"
    if requested is not None and _ORDER_OF_MODE[requested] != order:
        raise UsageError(
            f"the model was fitted on {order} images but --mode is {requested}; "
            f"drop --mode or pass --mode {mode}."
        )
    return requested or mode


def _report_skipped(skipped: list[tuple[str, str]]) -> None:
    if skipped:
        print(f"{PROG}: skipped {len(skipped)} unreadable file(s):", file=sys.stderr)
        for path, reason in skipped:
            print(f"  {path}: {reason}", file=sys.stderr)


# -- stats ---------------------------------------------------------------------------
def stats_report(
    stats: PixelStats,
    mode: str,
    skipped: Sequence[tuple[str, str]] = (),
    sources: Sequence[str] = (),
) -> dict[str, Any]:
    """Turn dataset statistics into the ``sk-pixels stats --json`` object.

    Parameters
    ----------
    stats : PixelStats
        Statistics of the images, in pixel units of ``mode``.
    mode : str
        Image mode the statistics were computed in.
    skipped : sequence of (str, str)
        ``(path, reason)`` of skipped files.
    sources : sequence of str
        What was scanned (folders, globs, files).

    Returns
    -------
    report : dict
        ``n_images``, ``n_pixels`` (per channel), ``dtype``, ``max_value``,
        per-channel ``mean``, ``std``, ``min``, ``max`` in pixel units,
        ``mean_01`` and ``std_01`` in 0-1 units, ``global`` (the same over all
        channels), ``channels``, ``mode``, ``skipped`` (paths),
        ``skip_reasons``, ``normalize`` (a torchvision line), ``sources``
        and ``statistics`` (``PixelStats.to_dict()``, to rebuild the stats).
    """
    units = (
        float(np.iinfo(stats.input_dtype).max)
        if np.dtype(stats.input_dtype).kind in "ui"
        else 1.0
    )
    pooled = stats.pooled()

    def block(s: PixelStats) -> dict[str, list[float]]:
        return {
            "mean": s.mean.tolist(),
            "std": s.std.tolist(),
            "min": s.min.tolist(),
            "max": s.max.tolist(),
            "mean_01": (s.mean / units).tolist(),
            "std_01": (s.std / units).tolist(),
        }

    per_channel = block(stats)
    mean_01 = ", ".join(f"{v:.4f}" for v in per_channel["mean_01"])
    std_01 = ", ".join(f"{v:.4f}" for v in per_channel["std_01"])
    return {
        "sources": list(sources),
        "mode": mode,
        "channels": list(_channel_names(mode, stats.n_channels)),
        "n_images": stats.n_images,
        "n_pixels": stats.n_pixels,
        "dtype": stats.input_dtype,
        "max_value": units,
        **per_channel,
        "global": {key: values[0] for key, values in block(pooled).items()},
        "normalize": f"Normalize(mean=[{mean_01}], std=[{std_01}])",
        "skipped": [path for path, _ in skipped],
        "skip_reasons": {path: reason for path, reason in skipped},
        "statistics": stats.to_dict(),
    }


def format_stats(report: dict[str, Any]) -> str:
    """Render a :func:`stats_report` as the text table ``sk-pixels stats`` prints."""
    lines = [
        f"{report['n_images']} images, {report['n_pixels']:,} pixels per channel "
        f"({report['dtype']}, {report['mode']}, max_value {report['max_value']:g}), "
        f"{len(report['skipped'])} skipped",
        "",
        f"{'channel':<8}{'mean':>10}{'std':>10}{'min':>8}{'max':>8}{'mean_01':>10}{'std_01':>10}",
    ]
    rows = [
        (
            name,
            *(report[k][i] for k in ("mean", "std", "min", "max", "mean_01", "std_01")),
        )
        for i, name in enumerate(report["channels"])
    ]
    g = report["global"]
    rows.append(
        ("all", g["mean"], g["std"], g["min"], g["max"], g["mean_01"], g["std_01"])
    )
    for name, mean, std, lo, hi, mean01, std01 in rows:
        lines.append(
            f"{name:<8}{_fmt(mean, 3):>10}{_fmt(std, 3):>10}{lo:>8g}{hi:>8g}"
            f"{_fmt(mean01):>10}{_fmt(std01):>10}"
        )
    lines += ["", report["normalize"]]
    return "\n".join(lines)


def compute_stats(
    sources: Sequence[str] | None = None,
    *,
    mode: str = "RGB",
    n_jobs: int = 1,
    on_error: str = "raise",
    progress: bool = False,
    client: Any = None,
) -> dict[str, Any]:
    """Statistics of a dataset as a report dict (the work of ``sk-pixels stats``).

    Parameters
    ----------
    sources : sequence of str or None, default=None
        Folders, globs or files; None uses scikit-learn's bundled sample
        photos (``sklearn.datasets.load_sample_images``).
    mode, n_jobs, on_error, progress, client
        As in :func:`sk_pixels.io.dataset_stats` (``client``: a Dask cluster).

    Returns
    -------
    report : dict
        See :func:`stats_report`.

    Examples
    --------
    >>> report = compute_stats()
    >>> report["n_images"], report["n_pixels"], report["max_value"]
    (2, 546560, 255.0)
    >>> report["normalize"]
    'Normalize(mean=[0.3919, 0.4295, 0.3881], std=[0.3730, 0.2996, 0.3259])'
    """
    files = list(sources) if sources else _sample_photos()
    stats, skipped = dataset_stats(
        files,
        mode=mode,
        n_jobs=n_jobs,
        progress=progress,
        on_error=on_error,
        return_skipped=True,
        client=client,
    )
    return stats_report(stats, mode, skipped, files)


def _add_source_args(parser: argparse.ArgumentParser, *, jobs: bool = True) -> None:
    """--mode, --jobs (where the subcommand decodes in parallel), --on-error,
    --no-progress: how the images of SOURCE are read."""
    parser.add_argument(
        "--mode",
        choices=sorted(MODES),
        default=None,
        help="image mode to read (default: RGB, or the model's)",
    )
    if jobs:
        parser.add_argument(
            "--jobs",
            type=int,
            default=1,
            metavar="N",
            help="worker processes (-1: all cores; default 1)",
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


def _add_stats_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "sources",
        nargs="*",
        metavar="SOURCE",
        help="folders, globs or image files (default: scikit-learn's sample photos)",
    )
    _add_source_args(parser)
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="decode on a Dask cluster, e.g. tcp://scheduler:8786 (sk_pixels[dask])",
    )
    parser.add_argument(
        "--json",
        metavar="FILE",
        default=None,
        help="write the numbers as JSON to FILE ('-' for stdout)",
    )


def _run_stats(args: argparse.Namespace) -> int:
    report = compute_stats(
        args.sources,
        mode=args.mode or "RGB",
        n_jobs=args.jobs,
        on_error=args.on_error,
        progress=_show_progress(args),
        client=args.scheduler,
    )
    _report_skipped(list(report["skip_reasons"].items()))
    text = json.dumps(report, indent=2)
    if args.json == "-":
        print(text)
        return 0
    print(format_stats(report))
    if args.json is not None:
        with atomic_open(args.json, "w") as fh:
            fh.write(text + "\n")
        print(f"\nwrote {args.json}")
    return 0


# -- fit -----------------------------------------------------------------------------
def fit_model(
    sources: Sequence[str],
    output: str,
    *,
    estimator: str = "standardizer",
    per_channel: bool = True,
    preset: str | None = None,
    mode: str = "RGB",
    n_jobs: int = 1,
    on_error: str = "raise",
    progress: bool = False,
) -> tuple[Any, list[tuple[str, str]]]:
    """Fit an estimator on a dataset (streamed) and save it (``sk-pixels fit``).

    Parameters
    ----------
    sources : sequence of str
        Folders, globs or files.
    output : str
        ``.json`` (safe, :func:`sk_pixels.save_json`) or ``.joblib`` file,
        written atomically.
    estimator : {"standardizer", "centerer", "normalizer"}, default="standardizer"
        The normalizer is min-max over the dataset (``scope="dataset"``).
    per_channel : bool, default=True
        False fits one global statistic (``--global``).
    preset : str or None, default=None
        Fixed statistics from :data:`sk_pixels.presets.PRESETS` instead of
        learned ones.
    mode, n_jobs, on_error, progress
        As in :func:`sk_pixels.io.dataset_stats`.

    Returns
    -------
    estimator : fitted estimator
    skipped : list of (str, str)
    """
    suffix = Path(output).suffix.lower()
    if suffix not in (".json", ".joblib"):
        raise UsageError(f"-o must end in .json or .joblib, got {output!r}.")
    _check_estimator_args(estimator, per_channel, preset, mode)
    model = _make_estimator(estimator, per_channel, preset)
    stats, skipped = dataset_stats(
        list(sources),
        mode=mode,
        n_jobs=n_jobs,
        progress=progress,
        on_error=on_error,
        return_skipped=True,
    )
    model.fit_stats(stats)
    if suffix == ".json":
        save_json(model, output, channel_order=_ORDER_OF_MODE[mode])
    else:
        import joblib

        with atomic_open(output, "wb") as fh:
            joblib.dump(model, fh)
    return model, skipped


def _add_scaler_args(parser: argparse.ArgumentParser, *, required: bool) -> None:
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


def _add_fit_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "sources", nargs="+", metavar="SOURCE", help="folders, globs or image files"
    )
    _add_scaler_args(parser, required=True)
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="MODEL",
        help="model.json (safe to share) or model.joblib",
    )
    _add_source_args(parser)


def _run_fit(args: argparse.Namespace) -> int:
    model, skipped = fit_model(
        args.sources,
        args.output,
        estimator=args.estimator,
        per_channel=args.per_channel,
        preset=args.preset,
        mode=args.mode or "RGB",
        n_jobs=args.jobs,
        on_error=args.on_error,
        progress=_show_progress(args),
    )
    _report_skipped(skipped)
    print(model.summary())
    try:
        print("torchvision:", model.to_torchvision())
    except ValueError:
        pass
    print(f"wrote {args.output}")
    return 0


# -- apply ---------------------------------------------------------------------------
class _NpyStack:
    """Stream equally-shaped arrays into one ``.npy`` file, without holding them.

    Rows go to a temporary raw file; :meth:`finish` writes the ``.npy`` header
    (whose shape is only known at the end) and copies the rows after it, all
    through :func:`atomic_open`.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        folder = os.path.dirname(os.path.abspath(path))
        self._raw = tempfile.TemporaryFile(dir=folder)
        self.shape: tuple[int, ...] | None = None
        self.dtype: np.dtype | None = None
        self.count = 0

    def append(self, array: np.ndarray, source: str) -> None:
        if self.shape is None:
            self.shape, self.dtype = array.shape, array.dtype
        elif array.shape != self.shape:
            raise DataError(
                f"{source} has shape {array.shape} but the first image had "
                f"{self.shape}; "
                "one .npy holds images of one size. Give a folder as -o to get one "
                ".npy per image."
            )
        self._raw.write(np.ascontiguousarray(array, dtype=self.dtype).tobytes())
        self.count += 1

    def finish(self) -> None:
        header = {
            "descr": np.lib.format.dtype_to_descr(self.dtype),
            "fortran_order": False,
            "shape": (self.count, *self.shape),
        }
        try:
            self._raw.seek(0)
            with atomic_open(self.path, "wb") as fh:
                np.lib.format.write_array_header_1_0(fh, header)
                shutil.copyfileobj(self._raw, fh, length=1 << 20)
        finally:
            self._raw.close()

    def discard(self) -> None:
        self._raw.close()


def _output_names(paths: list[str], sources: Sequence[str]) -> dict[str, str]:
    """``.npy`` name of each image: its path below the folder it came from."""
    folders = [os.path.abspath(s) for s in sources if os.path.isdir(s)]
    names: dict[str, str] = {}
    taken: dict[str, str] = {}
    for path in paths:
        absolute = os.path.abspath(path)
        base = next((f for f in folders if absolute.startswith(f + os.sep)), None)
        relative = os.path.relpath(absolute, base) if base else os.path.basename(path)
        name = os.path.splitext(relative)[0] + ".npy"
        if name in taken:
            raise DataError(
                f"{path} and {taken[name]} would both be written to {name}; rename one "
                "or apply them separately."
            )
        taken[name] = path
        names[path] = name
    return names


def apply_model(
    model: str,
    sources: Sequence[str],
    output: str,
    *,
    mode: str | None = None,
    trust_pickle: bool = False,
    on_error: str = "raise",
    progress: bool = False,
) -> tuple[int, list[tuple[str, str]]]:
    """Transform images with a saved model, streaming (``sk-pixels apply``).

    Parameters
    ----------
    model : str
        ``.json`` model (or ``.joblib`` with ``trust_pickle=True``).
    sources : sequence of str
        Folders, globs or files.
    output : str
        ``OUT.npy``: one array ``(n, H, W[, C])`` of the transformed images
        (all of one size); anything else: a folder of one ``.npy`` per image,
        mirroring the source folders.
    mode : str or None, default=None
        Image mode; None uses the model's channel order (RGB when unknown).
    trust_pickle : bool, default=False
        Allow a ``.joblib`` model (``joblib.load`` runs code from the file).
    on_error, progress
        As in :func:`sk_pixels.io.iter_images`.

    Returns
    -------
    n_written : int
        Images transformed.
    skipped : list of (str, str)
    """
    estimator, order = _load_model(model, trust_pickle)
    mode = _mode_for_model(estimator, order, mode)
    images: ImageIterator = iter_images(
        list(sources), mode=mode, on_error=on_error, with_paths=True
    )
    single = output.lower().endswith(".npy")
    stack = _NpyStack(output) if single else None
    names = None if single else _output_names(images.paths, sources)
    written = 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore", category=SkippedImagesWarning
            )  # listed by caller
            with progress_bar(len(images.paths), enabled=progress) as bar:
                for path, image in images:
                    result = estimator.transform(image[None])[0]
                    if stack is not None:
                        stack.append(result, path)
                    else:
                        target = os.path.join(output, names[path])
                        os.makedirs(os.path.dirname(target), exist_ok=True)
                        with atomic_open(target, "wb") as fh:
                            np.save(fh, result)
                    written += 1
                    bar.update(1)
                bar.update(len(images.skipped))
    except BaseException:
        if stack is not None:
            stack.discard()
        raise
    if written == 0:
        if stack is not None:
            stack.discard()
        raise DataError(
            f"all {len(images.paths)} image files were unreadable; nothing written."
        )
    if stack is not None:
        stack.finish()
    return written, images.skipped


def _add_apply_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model",
        metavar="MODEL",
        help="model.json (or model.joblib with --trust-pickle)",
    )
    parser.add_argument(
        "sources", nargs="+", metavar="SOURCE", help="folders, globs or image files"
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="OUT.npy (one array) or a folder (one .npy per image)",
    )
    parser.add_argument(
        "--trust-pickle",
        action="store_true",
        help="allow a .joblib model: joblib.load runs code from the file",
    )
    _add_source_args(parser, jobs=False)


def _run_apply(args: argparse.Namespace) -> int:
    written, skipped = apply_model(
        args.model,
        args.sources,
        args.output,
        mode=args.mode,
        trust_pickle=args.trust_pickle,
        on_error=args.on_error,
        progress=_show_progress(args),
    )
    _report_skipped(skipped)
    print(f"wrote {written} transformed image(s) to {args.output}")
    return 0


# -- tour ----------------------------------------------------------------------------
def tour(image: str | None = None) -> str:
    """The classic pixel-scaling walk-through on one photo, with its numbers.

    Loads the photo (default: scikit-learn's ``china.jpg``) and applies, each
    with this library's estimators: normalization to [0, 1], global and
    per-channel centering, global standardization, positive standardization
    (clip to [-1, 1], rescale to [0, 1]) and per-channel standardization,
    printing the statistics before and after each step.

    Parameters
    ----------
    image : str or None, default=None
        Image file; None uses scikit-learn's bundled ``china.jpg``.

    Returns
    -------
    text : str
        The walk-through, as ``sk-pixels tour`` prints it.

    Examples
    --------
    >>> print(tour().splitlines()[0])
    Image china.jpg: format JPEG, mode RGB, size 640x427 (width x height)
    """
    from PIL import Image

    from .io import load_image

    path = image if image is not None else _sample_photos()[0]
    try:
        with Image.open(path) as im:
            fmt, pil_mode, (width, height) = im.format, im.mode, im.size
    except Exception as exc:
        raise UnreadableImageError(path, str(exc) or type(exc).__name__) from exc
    pixels = load_image(path)
    X = pixels[None]
    f = _fmt

    def summary(Y: np.ndarray) -> str:
        Y = Y.astype(np.float64)
        return (
            f"mean {f(Y.mean(), 3)}, std {f(Y.std(), 3)}, "
            f"min {f(Y.min(), 3)}, max {f(Y.max(), 3)}"
        )

    def per_channel(values: np.ndarray) -> str:
        return "[" + ", ".join(f(v, 3) for v in np.ravel(values)) + "]"

    out = [
        f"Image {os.path.basename(path)}: format {fmt}, mode {pil_mode}, size "
        f"{width}x{height} (width x height)",
        f"Pixels: array {pixels.shape} {pixels.dtype}, min {pixels.min()}, "
        f"max {pixels.max()}",
        "",
        "1. Normalize to [0, 1]: PixelNormalizer()  (x / 255)",
        f"   after: {summary(PixelNormalizer().fit_transform(X))}",
        "",
    ]
    centerer = PixelCenterer(per_channel=False).fit(X)
    out += [
        "2. Global centering: PixelCenterer(per_channel=False)",
        f"   mean {f(centerer.mean_, 3)}; after: {summary(centerer.transform(X))}",
        "",
    ]
    centerer = PixelCenterer().fit(X)
    Y = centerer.transform(X)
    out += [
        "3. Per-channel centering: PixelCenterer()",
        f"   means {per_channel(centerer.mean_)}",
        f"   after: means {per_channel(Y.astype(np.float64).mean(axis=(0, 1, 2)))}, "
        f"min {f(Y.min(), 3)}, max {f(Y.max(), 3)}",
        "",
    ]
    scaler = PixelStandardizer(per_channel=False).fit(X)
    out += [
        "4. Global standardization: PixelStandardizer(per_channel=False)",
        f"   mean {f(scaler.mean_, 3)}, std {f(scaler.std_, 3)}; "
        f"after: {summary(scaler.transform(X))}",
        "",
    ]
    positive = PixelStandardizer(per_channel=False, clip=1.0, rescale=True).fit(X)
    out += [
        "5. Positive standardization: "
        "PixelStandardizer(per_channel=False, clip=1.0, rescale=True)",
        "   standardize, clip to [-1, 1], rescale to [0, 1]",
        f"   after: {summary(positive.transform(X))}",
        "",
    ]
    scaler = PixelStandardizer().fit(X)
    Y = scaler.transform(X).astype(np.float64)
    out += [
        "6. Per-channel standardization: PixelStandardizer()",
        f"   means {per_channel(scaler.mean_)}, stds {per_channel(scaler.std_)}",
        f"   after: means {per_channel(Y.mean(axis=(0, 1, 2)))}, "
        f"stds {per_channel(Y.std(axis=(0, 1, 2)))}",
    ]
    return "\n".join(out)


def _add_tour_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "image",
        nargs="?",
        default=None,
        metavar="IMAGE",
        help="photo to use (default: scikit-learn's china.jpg)",
    )


def _run_tour(args: argparse.Namespace) -> int:
    print(tour(args.image))
    return 0


# -- plot ----------------------------------------------------------------------------
def _histograms(
    images: ImageIterator, n_bins: int, estimator: Any, fit: bool, progress: bool
):
    """Exact per-channel value counts of every image (and stream-fit ``estimator``)."""
    counts = None
    with progress_bar(len(images.paths), enabled=progress) as bar:
        for image in images:
            values = (
                image.reshape(-1, 1)
                if image.ndim == 2
                else image.reshape(-1, image.shape[-1])
            )
            if counts is None:
                counts = np.zeros((values.shape[1], n_bins), dtype=np.int64)
            elif values.shape[1] != counts.shape[0]:
                raise DataError(
                    f"images have {values.shape[1]} and {counts.shape[0]} channels."
                )
            for c in range(values.shape[1]):
                counts[c] += np.bincount(values[:, c], minlength=n_bins)
            if fit:
                estimator.partial_fit(image[None])
            bar.update(1)
        bar.update(len(images.skipped))
    return counts


def plot_histograms(
    sources: Sequence[str],
    output: str,
    *,
    model: str | None = None,
    trust_pickle: bool = False,
    estimator: str = "standardizer",
    per_channel: bool = True,
    preset: str | None = None,
    mode: str | None = None,
    on_error: str = "raise",
    progress: bool = False,
) -> Any:
    """Plot per-channel pixel histograms before and after scaling (``sk-pixels plot``).

    One streaming pass counts every pixel value per channel (exactly: the
    pixels are integers) and, without ``model``, fits the chosen estimator.
    The "after" histogram places each count at the transformed value, which
    is exact for the fixed per-channel maps of dataset and domain scopes.

    Parameters
    ----------
    sources : sequence of str
        Folders, globs or files.
    output : str
        Image file for the figure (``.png``, ``.pdf``, ``.svg``...), written
        atomically.
    model : str or None, default=None
        A saved model to apply; otherwise ``estimator`` is fitted.
    trust_pickle, estimator, per_channel, preset, mode, on_error, progress
        As for ``fit`` and ``apply``.

    Returns
    -------
    estimator : the estimator applied
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise DataError(
            "sk-pixels plot needs matplotlib: pip install 'sk_pixels[plot]' "
            "(or pip install matplotlib)."
        ) from None
    fmt = Path(output).suffix.lstrip(".").lower()
    if not fmt:
        raise UsageError(f"-o needs a file extension such as .png, got {output!r}.")
    if model is not None:
        fitted, order = _load_model(model, trust_pickle)
        mode = _mode_for_model(fitted, order, mode)
    else:
        mode = mode or "RGB"
        _check_estimator_args(estimator, per_channel, preset, mode)
        fitted = _make_estimator(estimator, per_channel, preset)
    if getattr(fitted, "scope", "dataset") in ("batch", "image"):
        raise UsageError(
            f"the model has scope={fitted.scope!r}: its map changes with every "
            "image, so no single 'after' histogram exists. Plot a dataset-scope model."
        )
    n_bins = 65536 if mode == "I;16" else 256
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=SkippedImagesWarning)
        images = iter_images(list(sources), mode=mode, on_error=on_error)
        counts = _histograms(images, n_bins, fitted, model is None, progress)
    if counts is None:
        raise DataError(
            f"all {len(images.paths)} image files were unreadable; nothing to plot."
        )
    _report_skipped(images.skipped)

    n_channels = counts.shape[0]
    values = np.arange(n_bins, dtype=np.uint16 if n_bins > 256 else np.uint8)
    grid = np.repeat(values[None, None, :, None], n_channels, axis=3)
    after = fitted.transform(grid if n_channels > 1 else grid[..., 0])
    after = (
        after.reshape(n_bins, n_channels)
        if n_channels > 1
        else after.reshape(n_bins, 1)
    )

    names = _channel_names(mode, n_channels)
    colors = {
        "R": "tab:red",
        "G": "tab:green",
        "B": "tab:blue",
        "A": "tab:gray",
        "L": "black",
    }
    fig = Figure(figsize=(9, 6.5), layout="constrained")
    top, bottom = fig.subplots(2, 1)
    total = counts.sum(axis=1, keepdims=True)
    density = counts / np.maximum(total, 1)
    for c, name in enumerate(names):
        color = colors.get(name, None)
        top.plot(values, density[c], color=color, label=name, linewidth=1)
        bottom.plot(after[:, c], density[c], color=color, label=name, linewidth=1)
    top.set_title(
        f"Before: pixel values ({mode}, {int(total[0, 0]):,} pixels per channel)"
    )
    top.set_xlabel("pixel value")
    bottom.set_title(f"After: {fitted!r}")
    bottom.set_xlabel("scaled value")
    for ax in (top, bottom):
        ax.set_ylabel("fraction of pixels")
        ax.legend(loc="upper right")
    with atomic_open(output, "wb") as fh:
        fig.savefig(fh, format=fmt, dpi=100)
    return fitted


def _add_plot_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "sources", nargs="+", metavar="SOURCE", help="folders, globs or image files"
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FIGURE",
        help="figure file, e.g. hist.png",
    )
    parser.add_argument(
        "--model", default=None, help="apply a saved model instead of fitting"
    )
    parser.add_argument(
        "--trust-pickle",
        action="store_true",
        help="allow a .joblib --model: joblib.load runs code from the file",
    )
    _add_scaler_args(parser, required=False)
    _add_source_args(parser, jobs=False)


def _run_plot(args: argparse.Namespace) -> int:
    plot_histograms(
        args.sources,
        args.output,
        model=args.model,
        trust_pickle=args.trust_pickle,
        estimator=args.estimator,
        per_channel=args.per_channel,
        preset=args.preset,
        mode=args.mode,
        on_error=args.on_error,
        progress=_show_progress(args),
    )
    print(f"wrote {args.output}")
    return 0


# -- wiring --------------------------------------------------------------------------
COMMANDS: dict[
    str,
    tuple[
        str,
        Callable[[argparse.ArgumentParser], None],
        Callable[[argparse.Namespace], int],
    ],
] = {
    "stats": (
        "per-channel mean/std/min/max of a folder of images (the main job)",
        _add_stats_args,
        _run_stats,
    ),
    "fit": ("fit a scaler on a folder of images and save it", _add_fit_args, _run_fit),
    "apply": (
        "transform images with a saved model into .npy",
        _add_apply_args,
        _run_apply,
    ),
    "tour": (
        "the classic pixel-scaling walk-through on a sample photo",
        _add_tour_args,
        _run_tour,
    ),
    "plot": (
        "per-channel histograms before and after scaling",
        _add_plot_args,
        _run_plot,
    ),
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
    for name, (help_text, add_arguments, run) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments(command)
        command.set_defaults(run=run)
    return parser


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"{PROG}: warning: {_one_line(Warning(str(message)))}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``sk-pixels`` command and return its exit code.

    Parameters
    ----------
    argv : sequence of str or None, default=None
        Arguments without the program name; None reads ``sys.argv[1:]``.

    Returns
    -------
    code : int
        0 success, 1 data error, 2 usage error.
    """
    parser = build_parser()
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            try:
                args = parser.parse_args(argv)
            except SystemExit as exc:  # --help / --version
                return int(exc.code or 0)
            return args.run(args)
    except UsageError as exc:
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except (
        DataError,
        InvalidModelFileError,
        UnreadableImageError,
        FileNotFoundError,
        ValueError,
        OSError,
        ImportError,  # a missing optional extra; the message says what to install
    ) as exc:
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
