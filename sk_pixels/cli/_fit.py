"""``sk-pixels fit``: fit a scaler on a folder of images (streamed) and save it."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._common import (
    UsageError,
    add_nodata_argument,
    add_scaler_arguments,
    add_source_arguments,
    add_sources_argument,
    check_estimator_args,
    check_output,
    decoder_report,
    make_estimator,
    report_skipped,
    show_progress,
)

HELP = "fit a scaler on a folder of images and save it"


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
    note: str | None = None,
    nodata: Any = None,
    quantile_range: tuple[float, float] | None = None,
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
    mode, n_jobs, on_error, progress, nodata
        As in :func:`sk_pixels.io.dataset_stats` (``nodata``: values left out
        of the statistics, per channel; also the model's ``nodata``
        parameter, so that its transform writes them as ``nodata_fill``).
    note : str or None, default=None
        The preprocessing the images went through (``--note``), saved with
        the sources, mode and skipped files as the model's provenance
        (:meth:`~sk_pixels.PixelStandardizer.set_provenance`).
    quantile_range : (float, float) or None, default=None
        Percentiles (``--quantile-range``) for the normalizer (mapped onto
        [0, 1]) or the standardizer (median and spread); learned exactly from
        a histogram counted while the folder is read.

    Returns
    -------
    estimator : fitted estimator
    skipped : list of (str, str)
    """
    from .._files import atomic_open
    from .._provenance import TEXT_LIMITS, plain_text
    from ..io import dataset_stats
    from ..io._modes import MODE_TABLE
    from ..persist import save_json

    suffix = Path(output).suffix.lower()
    if suffix not in (".json", ".joblib"):
        raise UsageError(f"-o must end in .json or .joblib, got {output!r}.")
    check_estimator_args(estimator, per_channel, preset, mode, quantile_range)
    check_output(output, sources, "-o")
    model = make_estimator(estimator, per_channel, preset, quantile_range)
    if nodata is not None:
        model.set_params(nodata=nodata)
    if preset is not None:
        # Published statistics: nothing to learn, so no image is decoded; the
        # sources are still listed, so that a mistyped folder is an error.
        import numpy as np

        from ..io import list_images

        list_images(list(sources))
        entry = MODE_TABLE[mode]
        shape = (1, 1, 1) if entry.order == "L" else (1, 1, 1, len(entry.channels))
        model.fit(np.zeros(shape, dtype=entry.dtype))
        skipped: list[tuple[str, str]] = []
    else:
        # With percentiles, their histogram is counted in the same pass.
        stats, *hist, skipped = dataset_stats(
            list(sources),
            mode=mode,
            n_jobs=n_jobs,
            progress=progress,
            on_error=on_error,
            return_skipped=True,
            nodata=nodata,
            histogram=quantile_range is not None,
        )
        model.fit_stats(stats, histogram=hist[0] if hist else None)
    source = plain_text(", ".join(str(s) for s in sources), TEXT_LIMITS["source"])
    model.set_provenance(
        note, source=source, mode=mode, sampling="all", n_skipped=len(skipped)
    )
    if suffix == ".json":
        save_json(model, output, channel_order=MODE_TABLE[mode].order)
    else:
        import joblib

        with atomic_open(output, "wb") as fh:
            joblib.dump(model, fh)
    return model, skipped


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_sources_argument(parser)
    add_scaler_arguments(parser, required=True)
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="MODEL",
        help="model.json (safe to share) or model.joblib",
    )
    parser.add_argument(
        "--note",
        help='preprocessing the images went through, e.g. "resize 256, '
        'center-crop 224" (saved with the model, shown by its summary)',
    )
    add_source_arguments(parser)
    add_nodata_argument(parser)


def run(args: argparse.Namespace) -> int:
    with decoder_report(args.verbose):
        model, skipped = fit_model(
            args.sources,
            args.output,
            estimator=args.estimator,
            per_channel=args.per_channel,
            preset=args.preset,
            mode=args.mode or "RGB",
            n_jobs=args.jobs,
            on_error=args.on_error,
            progress=show_progress(args),
            note=args.note,
            nodata=args.nodata,
            quantile_range=args.quantile_range,
        )
        report_skipped(skipped)
    print(model.summary())
    try:
        print("torchvision:", model.to_torchvision())
    except ValueError:
        pass
    print(f"wrote {args.output}")
    return 0
