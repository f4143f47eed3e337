"""``sk-pixels plot``: per-channel histograms before and after scaling."""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._common import (
    DataError,
    UsageError,
    add_scaler_arguments,
    add_source_arguments,
    add_sources_argument,
    add_trust_pickle_argument,
    check_estimator_args,
    decoder_report,
    load_model,
    make_estimator,
    mode_for_model,
    report_skipped,
    show_progress,
)

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from ..io import ImageIterator

HELP = "per-channel histograms before and after scaling"

#: Line colour of each channel name.
_COLORS = {
    "R": "tab:red",
    "G": "tab:green",
    "B": "tab:blue",
    "A": "tab:gray",
    "L": "black",
}


def histograms(
    images: ImageIterator, n_bins: int, estimator: Any, fit: bool, progress: bool
) -> np.ndarray | None:
    """Exact per-channel value counts of every image (and stream-fit ``estimator``).

    Returns an int64 array of shape ``(n_channels, n_bins)``, or None when no
    image could be read.
    """
    import numpy as np

    from .._progress import progress_bar

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
    import numpy as np

    from .._files import atomic_open
    from ..io import SkippedImagesWarning, iter_images
    from ..io._modes import channel_names

    fmt = Path(output).suffix.lstrip(".").lower()
    if not fmt:
        raise UsageError(f"-o needs a file extension such as .png, got {output!r}.")
    if model is not None:
        fitted, order = load_model(model, trust_pickle)
        mode = mode_for_model(fitted, order, mode)
    else:
        mode = mode or "RGB"
        check_estimator_args(estimator, per_channel, preset, mode)
        fitted = make_estimator(estimator, per_channel, preset)
    if getattr(fitted, "scope", "dataset") in ("batch", "image"):
        raise UsageError(
            f"the model has scope={fitted.scope!r}: its map changes with every "
            "image, so no single 'after' histogram exists. Plot a dataset-scope model."
        )
    n_bins = 65536 if mode == "I;16" else 256
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=SkippedImagesWarning)
        images = iter_images(list(sources), mode=mode, on_error=on_error)
        counts = histograms(images, n_bins, fitted, model is None, progress)
    if counts is None:
        raise DataError(
            f"all {len(images.paths)} image files were unreadable; nothing to plot."
        )
    report_skipped(images.skipped)

    n_channels = counts.shape[0]
    values = np.arange(n_bins, dtype=np.uint16 if n_bins > 256 else np.uint8)
    grid = np.repeat(values[None, None, :, None], n_channels, axis=3)
    after = fitted.transform(grid if n_channels > 1 else grid[..., 0])
    after = after.reshape(n_bins, n_channels)

    fig = Figure(figsize=(9, 6.5), layout="constrained")
    top, bottom = fig.subplots(2, 1)
    total = counts.sum(axis=1, keepdims=True)
    density = counts / np.maximum(total, 1)
    for c, name in enumerate(channel_names(mode, n_channels)):
        color = _COLORS.get(name)
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_sources_argument(parser)
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
    add_trust_pickle_argument(parser, "--model")
    add_scaler_arguments(parser, required=False)
    add_source_arguments(parser, jobs=False)


def run(args: argparse.Namespace) -> int:
    with decoder_report(args.verbose):
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
            progress=show_progress(args),
        )
    print(f"wrote {args.output}")
    return 0
