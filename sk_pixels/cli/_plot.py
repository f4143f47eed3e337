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
    add_percentiles_argument,
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

    from .._layout import LayoutWarning
    from .._progress import progress_bar

    counts = None
    with progress_bar(len(images.paths), enabled=progress) as bar:
        for image in images:
            values = (
                image.reshape(-1, 1)
                if image.ndim == 2
                else image.reshape(-1, image.shape[-1])
            )
            if counts is None:  # one mode: every image has its channel count
                counts = np.zeros((values.shape[1], n_bins), dtype=np.int64)
            for c in range(values.shape[1]):
                counts[c] += np.bincount(values[:, c], minlength=n_bins)
            if fit:
                with warnings.catch_warnings():  # a known layout: see apply
                    warnings.simplefilter("ignore", category=LayoutWarning)
                    estimator.partial_fit(image[None])
            bar.update(1)
        bar.update(len(images.skipped))
    return counts


def histogram_figure(
    counts: np.ndarray,
    after: np.ndarray,
    names: Sequence[str],
    *,
    mode: str,
    title: str,
    percentiles: Sequence[float] | None = None,
    log: bool = False,
) -> Any:
    """The figure of ``sk-pixels plot``: value counts before and after scaling.

    16-bit counts are drawn in bins of 64 values (1,024 per channel), so that
    the curve stays readable; percentiles come from the exact counts.

    Parameters
    ----------
    counts : ndarray of shape (n_channels, n_bins)
        Exact count of each pixel value ``0 .. n_bins - 1`` per channel.
    after : ndarray of shape (n_bins, n_channels)
        The scaled value of each pixel value.
    names : sequence of str
        Channel names (colours: R, G, B, A, L).
    mode, title : str
        The image mode (top title) and the bottom title.
    percentiles : sequence of float or None
        Percents to mark: per channel, a dashed vertical line at the exact
        percentile (``numpy.percentile``'s linear rule, from ``counts``) on
        the top axes and at its scaled value on the bottom axes. Each line has
        the gid ``"percentile-p{p}-{channel}-{before|after}"``.
    log : bool, default=False
        Log-scaled fractions, to see rare values (hot pixels, saturation).

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    import numpy as np
    from matplotlib.figure import Figure

    from .._histogram import PixelHistogram

    n_channels, n_bins = counts.shape
    values = np.arange(n_bins)
    fig = Figure(figsize=(9, 6.5), layout="constrained")
    top, bottom = fig.subplots(2, 1)
    total = counts.sum(axis=1, keepdims=True)
    width = max(1, n_bins // 1024)  # values per drawn bin
    drawn = counts.reshape(n_channels, -1, width).sum(axis=2)
    density = drawn / np.maximum(total, 1)
    centres = values[::width] + (width - 1) / 2
    marks = np.empty((0, n_channels))
    if percentiles:
        hist = PixelHistogram(counts, "uint16" if n_bins > 256 else "uint8", 0)
        marks = hist.percentile(list(percentiles))
    for c, name in enumerate(names):
        color = _COLORS.get(name)
        scaled_centres = np.interp(centres, values, after[:, c])
        top.plot(centres, density[c], color=color, label=name, linewidth=1)
        bottom.plot(scaled_centres, density[c], color=color, label=name, linewidth=1)
        for k, (p, value) in enumerate(zip(percentiles or (), marks[:, c])):
            # The map is affine per channel: interpolating between the
            # scaled integer values is the scaled percentile.
            scaled = np.interp(value, values, after[:, c])
            for ax, x, where in ((top, value, "before"), (bottom, scaled, "after")):
                ax.axvline(
                    x,
                    color=color or "black",
                    linestyle="--",
                    linewidth=0.9,
                    gid=f"percentile-p{p:g}-{name}-{where}",
                )
                if c == 0:
                    ax.annotate(
                        f"p{p:g}",
                        (x, 1.0 - 0.16 * (k % 3)),  # staggered: close marks
                        xycoords=("data", "axes fraction"),
                        xytext=(2, -2),
                        textcoords="offset points",
                        rotation=90,
                        va="top",
                        fontsize=8,
                    )
    top.set_title(
        f"Before: pixel values ({mode}, {int(total[0, 0]):,} pixels per channel)"
        + (", exact percentiles dashed" if percentiles else "")
    )
    top.set_xlabel("pixel value")
    bottom.set_title(title)
    bottom.set_xlabel("scaled value")
    for ax in (top, bottom):
        ax.set_ylabel(
            "fraction of pixels" + (f" (per {width} values)" if width > 1 else "")
        )
        ax.legend(loc="upper right")
        if log:
            ax.set_yscale("log")
    return fig


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
    quantile_range: tuple[float, float] | None = None,
    percentiles: Sequence[float] | None = None,
    log: bool = False,
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
    quantile_range : (float, float) or None, default=None
        Fit a percentile scaler (``--quantile-range``), as ``fit``.
    percentiles : sequence of float or None, default=None
        Percents (0-100) whose exact per-channel values are marked on both
        histograms (dashed lines, labelled ``p99.8``...).
    log : bool, default=False
        Log-scaled fractions (``--log``), to see rare values such as hot pixels.

    Returns
    -------
    estimator : the estimator applied
    """
    try:
        from matplotlib.figure import Figure  # noqa: F401 (histogram_figure's)
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
        check_estimator_args(estimator, per_channel, preset, mode, quantile_range)
        fitted = make_estimator(estimator, per_channel, preset, quantile_range)
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
    fig = histogram_figure(
        counts,
        after,
        channel_names(mode, n_channels),
        mode=mode,
        title=f"After: {fitted!r}",
        percentiles=percentiles,
        log=log,
    )
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
    add_percentiles_argument(parser, "mark")
    parser.add_argument(
        "--log",
        action="store_true",
        help="log-scaled fractions, to see rare values (hot pixels, saturation)",
    )
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
            quantile_range=args.quantile_range,
            percentiles=args.percentiles,
            log=args.log,
        )
    print(f"wrote {args.output}")
    return 0
