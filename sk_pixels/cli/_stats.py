"""``sk-pixels stats``: per-channel statistics of a folder of images.

The folder path never imports scikit-learn: decoding and exact statistics
need only Pillow and NumPy (a test guards it).
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._common import (
    UsageError,
    add_nodata_argument,
    add_percentiles_argument,
    add_source_arguments,
    check_output,
    decoder_report,
    fmt,
    report_skipped,
    sample_photos,
    show_progress,
)

if TYPE_CHECKING:  # pragma: no cover
    from .._histogram import PixelHistogram
    from .._stats import PixelStats

HELP = "per-channel mean/std/min/max of a folder of images (the main job)"


def stats_report(
    stats: PixelStats,
    mode: str,
    skipped: Sequence[tuple[str, str]] = (),
    sources: Sequence[str] = (),
    histogram: PixelHistogram | None = None,
    percentiles: Sequence[float] = (),
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
    histogram : PixelHistogram or None
        Histogram of the same pixels, for ``percentiles``.
    percentiles : sequence of float
        Percents (0-100) to report, from ``histogram``.

    Returns
    -------
    report : dict
        ``n_images``, ``n_pixels`` (per channel), ``dtype``, ``max_value``,
        per-channel ``mean``, ``std``, ``min``, ``max`` in pixel units,
        ``mean_01`` and ``std_01`` in 0-1 units, ``global`` (the same over all
        channels), ``channels``, ``mode``, ``skipped`` (paths),
        ``skip_reasons``, ``normalize`` (a torchvision line), ``sources``
        and ``statistics`` (``PixelStats.to_dict()``, to rebuild the stats);
        with ``percentiles``, ``percentiles`` maps each percent (as text,
        ``"99.8"``) to one value per channel, and ``global["percentiles"]``
        to the value over all channels.
    """
    import numpy as np

    from ..io._modes import channel_names

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
    pooled_block = {key: values[0] for key, values in block(pooled).items()}
    if percentiles:
        keys = [f"{p:g}" for p in percentiles]
        rows = histogram.percentile(list(percentiles)).tolist()
        pooled_rows = histogram.percentile(list(percentiles), per_channel=False)
        per_channel["percentiles"] = dict(zip(keys, rows))
        pooled_block["percentiles"] = dict(zip(keys, pooled_rows[:, 0].tolist()))
    mean_01 = ", ".join(f"{v:.4f}" for v in per_channel["mean_01"])
    std_01 = ", ".join(f"{v:.4f}" for v in per_channel["std_01"])
    return {
        "sources": list(sources),
        "mode": mode,
        "channels": list(channel_names(mode, stats.n_channels)),
        "n_images": stats.n_images,
        "n_pixels": stats.n_pixels,
        "dtype": stats.input_dtype,
        "max_value": units,
        **per_channel,
        "global": pooled_block,
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
        f"{'channel':<8}{'mean':>10}{'std':>10}{'min':>8}{'max':>8}"
        f"{'mean_01':>10}{'std_01':>10}",
    ]
    keys = ("mean", "std", "min", "max", "mean_01", "std_01")
    rows = [
        (name, *(report[k][i] for k in keys))
        for i, name in enumerate(report["channels"])
    ]
    rows.append(("all", *(report["global"][k] for k in keys)))
    for name, mean, std, lo, hi, mean01, std01 in rows:
        lines.append(
            f"{name:<8}{fmt(mean, 3):>10}{fmt(std, 3):>10}{lo:>8g}{hi:>8g}"
            f"{fmt(mean01):>10}{fmt(std01):>10}"
        )
    if "percentiles" in report:
        lines += ["", format_percentiles(report)]
    lines += ["", report["normalize"]]
    return "\n".join(lines)


def format_percentiles(report: dict[str, Any]) -> str:
    """The percentile table of a report: a row per percent, a column per channel."""
    names = [*report["channels"], "all"]
    lines = ["percentile" + "".join(f"{name:>10}" for name in names)]
    for key, values in report["percentiles"].items():
        row = [*values, report["global"]["percentiles"][key]]
        lines.append(f"{'p' + key:<10}" + "".join(f"{v:>10g}" for v in row))
    return "\n".join(lines)


def compute_stats(
    sources: Sequence[str] | None = None,
    *,
    mode: str = "RGB",
    n_jobs: int = 1,
    on_error: str = "raise",
    progress: bool = False,
    client: Any = None,
    nodata: Any = None,
    sample: float | int | None = None,
    seed: int | None = 0,
    error_bars: bool = False,
    percentiles: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Statistics of a dataset as a report dict (the work of ``sk-pixels stats``).

    Parameters
    ----------
    sources : sequence of str or None, default=None
        Folders, globs or files; None uses scikit-learn's bundled sample
        photos (``sklearn.datasets.load_sample_images``).
    mode, n_jobs, on_error, progress, client, nodata
        As in :func:`sk_pixels.io.dataset_stats` (``client``: a Dask cluster).
    sample, seed, error_bars
        ``sample``, ``random_state`` and ``error_bars`` of
        :func:`sk_pixels.io.dataset_stats`.
    percentiles : sequence of float or None, default=None
        Percents (0-100) whose exact per-channel values to report, counted
        in the same pass (``dataset_stats(..., histogram=True)``).

    Returns
    -------
    report : dict
        See :func:`stats_report`; with ``sample`` or ``error_bars``, also
        ``"error_bars"`` (see :func:`error_bars_report`).

    Examples
    --------
    >>> report = compute_stats()
    >>> report["n_images"], report["n_pixels"], report["max_value"]
    (2, 546560, 255.0)
    >>> report["normalize"]
    'Normalize(mean=[0.3919, 0.4295, 0.3881], std=[0.3730, 0.2996, 0.3259])'
    >>> compute_stats(percentiles=[1, 99.8])["percentiles"]
    {'1': [0.0, 4.0, 0.0], '99.8': [253.0, 252.0, 255.0]}
    """
    from ..io import dataset_stats

    files = list(sources) if sources else sample_photos()
    stats, *hist, skipped = dataset_stats(
        files,
        histogram=bool(percentiles),
        mode=mode,
        n_jobs=n_jobs,
        progress=progress,
        on_error=on_error,
        return_skipped=True,
        client=client,
        nodata=nodata,
        sample=sample,
        random_state=seed,
        error_bars=error_bars,
    )
    histogram = hist[0] if hist else None
    bars = None if sample is None and not error_bars else stats
    if bars is not None:
        stats = bars.stats
    report = stats_report(stats, mode, skipped, files, histogram, percentiles or ())
    if bars is not None:
        report["error_bars"] = error_bars_report(
            bars, seed if sample else None, sampled=sample is not None
        )
    return report


def error_bars_report(bars: Any, seed: int | None, sampled: bool) -> dict[str, Any]:
    """The ``"error_bars"`` object of ``sk-pixels stats --json``.

    ``SampledStats.to_dict()`` (``n_images_sampled``, ``n_images_total``,
    ``fpc``, ``confidence``, per-channel ``mean_se``, ``std_se`` and the
    intervals ``mean_ci``, ``std_ci`` as ``[lows, highs]``, in pixel units;
    null where undefined), with ``"sampled"`` and the ``"seed"`` of a sample.
    """
    return {"sampled": sampled, "seed": seed, **bars.to_dict()}


def format_error_bars(report: dict[str, Any]) -> str:
    """The error-bar table ``sk-pixels stats --sample/--error-bars`` prints."""
    bars = report["error_bars"]
    what = (
        f"a sample of {bars['n_images_sampled']} of {bars['n_images_total']} "
        f"images (seed {bars['seed']})"
        if bars["sampled"]
        else f"all {bars['n_images_sampled']} images, as a sample of their population"
    )
    lines = [
        f"Standard errors and {bars['confidence']:.0%} intervals from {what}, "
        "in pixel units:",
        "",
        f"{'channel':<8}{'mean':>10}{'se':>9}{'interval':>21}"
        f"{'std':>10}{'se':>9}{'interval':>21}",
    ]

    def cell(values: list, i: int, digits: int = 3) -> str:
        value = values[i]
        return "nan" if value is None else fmt(value, digits)

    for i, name in enumerate(report["channels"]):
        mean_ci = (
            f"[{cell(bars['mean_ci'][0], i, 2)}, {cell(bars['mean_ci'][1], i, 2)}]"
        )
        std_ci = f"[{cell(bars['std_ci'][0], i, 2)}, {cell(bars['std_ci'][1], i, 2)}]"
        lines.append(
            f"{name:<8}{fmt(report['mean'][i], 3):>10}{cell(bars['mean_se'], i):>9}"
            f"{mean_ci:>21}{fmt(report['std'][i], 3):>10}"
            f"{cell(bars['std_se'], i):>9}{std_ci:>21}"
        )
    return "\n".join(lines)


def sample_value(text: str) -> float | int:
    """``--sample``: a fraction in (0, 1] (``0.05``) or a number of images (``500``)."""
    try:
        value: float | int = int(text)
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a fraction such as 0.05 or a number of images such as "
                f"500, got {text!r}"
            ) from None
    if isinstance(value, int) and value < 1:
        raise argparse.ArgumentTypeError(
            f"a number of images must be >= 1, got {text!r}"
        )
    if isinstance(value, float) and not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"a fraction must be in (0, 1], got {text!r}")
    return value


def add_sampling_arguments(parser: argparse.ArgumentParser) -> None:
    """--sample, --seed, --error-bars."""
    parser.add_argument(
        "--sample",
        type=sample_value,
        default=None,
        metavar="F|N",
        help="read a random subset: a fraction (0.05) or a number of images (500), "
        "and report error bars",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="S",
        help="seed of --sample (default 0: the same subset every run)",
    )
    parser.add_argument(
        "--error-bars",
        action="store_true",
        help="standard errors and 95%% intervals of the mean and std "
        "(from the variability between images)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "sources",
        nargs="*",
        metavar="SOURCE",
        help="folders, globs or image files (default: scikit-learn's sample photos)",
    )
    add_source_arguments(parser)
    add_nodata_argument(parser)
    add_sampling_arguments(parser)
    add_percentiles_argument(parser, "also print")
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


def _check_scheduler(address: str | None) -> None:
    if address is None:
        return
    from ..io._executors import check_scheduler_address

    try:
        check_scheduler_address(address)
    except ValueError as exc:
        raise UsageError(f"--scheduler: {exc}") from None


def _json_safe(value: Any) -> Any:
    """``value`` with null for NaN (a channel that counted no valid pixel):
    NaN is not JSON, and strict readers (jq, ``JSON.parse``) refuse it."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value


def run(args: argparse.Namespace) -> int:
    _check_scheduler(args.scheduler)
    if args.json is not None:
        check_output(args.json, args.sources, "--json")
    if not args.sources and args.json != "-":
        photos = sample_photos()
        names = " and ".join(os.path.basename(p) for p in photos)
        print(
            f"No SOURCE given: the statistics of scikit-learn's sample photos "
            f"{names} ({os.path.dirname(photos[0])}).\n"
        )
    with decoder_report(args.verbose):
        report = compute_stats(
            args.sources,
            mode=args.mode or "RGB",
            n_jobs=args.jobs,
            on_error=args.on_error,
            progress=show_progress(args),
            client=args.scheduler,
            nodata=args.nodata,
            sample=args.sample,
            seed=args.seed,
            error_bars=args.error_bars,
            percentiles=args.percentiles,
        )
        report_skipped(list(report["skip_reasons"].items()))
    text = json.dumps(_json_safe(report), indent=2, allow_nan=False)
    if args.json == "-":
        print(text)
        return 0
    print(format_stats(report))
    if "error_bars" in report:
        print("\n" + format_error_bars(report))
    if args.json is not None:
        from .._files import atomic_open

        with atomic_open(args.json, "w") as fh:
            fh.write(text + "\n")
        print(f"\nwrote {args.json}")
    return 0
