"""``sk-pixels tour``: the classic pixel-scaling walk-through on one photo."""

from __future__ import annotations

import argparse
import os

from ._common import fmt, sample_photos

HELP = "the classic pixel-scaling walk-through on a sample photo"


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
    import numpy as np
    from PIL import Image

    from .. import PixelCenterer, PixelNormalizer, PixelStandardizer
    from ..io import UnreadableImageError, load_image
    from ..io._decode import raster_formats
    from ..io._wide import is_wide_png

    path = image if image is not None else sample_photos()[0]
    try:
        with Image.open(path, formats=raster_formats()) as im:
            pil_format, pil_mode, stored = im.format, im.mode, im.size
            sixteen = is_wide_png(im) or pil_mode.startswith(("I;16", "I"))
    except Exception as exc:
        raise UnreadableImageError(path, str(exc) or type(exc).__name__) from exc
    # 16-bit images keep their 16 bits (as RGB;16), 8-bit ones are read as RGB.
    pixels = load_image(path, mode="RGB;16" if sixteen else "RGB")
    X = pixels[None]
    height, width = pixels.shape[:2]  # after EXIF rotation
    size = f"size {width}x{height} (width x height"
    if (width, height) != stored:
        size += f", after EXIF rotation; stored {stored[0]}x{stored[1]}"
    top = np.iinfo(pixels.dtype).max

    def summary(Y: np.ndarray) -> str:
        Y = Y.astype(np.float64)
        return (
            f"mean {fmt(Y.mean(), 3)}, std {fmt(Y.std(), 3)}, "
            f"min {fmt(Y.min(), 3)}, max {fmt(Y.max(), 3)}"
        )

    def per_channel(values: np.ndarray) -> str:
        return "[" + ", ".join(fmt(v, 3) for v in np.ravel(values)) + "]"

    out = [
        f"Image {os.path.basename(path)}: format {pil_format}, mode {pil_mode}, "
        f"{size})",
        f"Pixels: array {pixels.shape} {pixels.dtype} (read as "
        f"{'RGB;16' if sixteen else 'RGB'}), min {pixels.min()}, max {pixels.max()}",
        "",
        f"1. Normalize to [0, 1]: PixelNormalizer()  (x / {top})",
        f"   after: {summary(PixelNormalizer().fit_transform(X))}",
        "",
    ]
    centerer = PixelCenterer(per_channel=False).fit(X)
    out += [
        "2. Global centering: PixelCenterer(per_channel=False)",
        f"   mean {fmt(centerer.mean_, 3)}; after: {summary(centerer.transform(X))}",
        "",
    ]
    centerer = PixelCenterer().fit(X)
    Y = centerer.transform(X)
    out += [
        "3. Per-channel centering: PixelCenterer()",
        f"   means {per_channel(centerer.mean_)}",
        f"   after: means {per_channel(Y.astype(np.float64).mean(axis=(0, 1, 2)))}, "
        f"min {fmt(Y.min(), 3)}, max {fmt(Y.max(), 3)}",
        "",
    ]
    scaler = PixelStandardizer(per_channel=False).fit(X)
    out += [
        "4. Global standardization: PixelStandardizer(per_channel=False)",
        f"   mean {fmt(scaler.mean_, 3)}, std {fmt(scaler.std_, 3)}; "
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "image",
        nargs="?",
        default=None,
        metavar="IMAGE",
        help="photo to use (default: scikit-learn's china.jpg)",
    )


def run(args: argparse.Namespace) -> int:
    print(tour(args.image))
    return 0
