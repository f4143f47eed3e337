"""Images in, statistics out: Pillow loading and streaming dataset statistics.

The package reads as its pipeline: ``_modes`` (the mode table), ``_decode``
(one file to pixels, with ``_wide`` for 16-bit colour PNGs and ``_tiff`` for
the TIFFs Pillow cannot read), ``_archives`` (tar shards), ``_sources``
(folders, globs, archives, iterators), ``_executors`` (this thread, a pool of
threads or processes owned by the call, or a Dask cluster), ``_nodata``
(sentinels left out per channel) and ``_dataset`` (the statistics of a whole
dataset).

Three entry points:

- :func:`load_image` decodes one file to a NumPy array in a requested mode,
  with its EXIF orientation applied.
- :func:`iter_images` yields the images of a folder, a glob or a list of paths
  one at a time (never all in memory).
- :func:`dataset_stats` computes the exact per-channel :class:`PixelStats` of
  a whole dataset, decoding in parallel workers (threads, or processes) that
  each return statistics, never pixels; memory stays bounded by a few images
  per worker.

Modes (``mode=``), the array each gives, and its units:

==========  ========================  ========  ===========================
mode        array shape               dtype     units (``max_value``)
==========  ========================  ========  ===========================
``"RGB"``   ``(H, W, 3)``             uint8     0-255
``"BGR"``   ``(H, W, 3)``             uint8     0-255, channels reversed
                                                (OpenCV / Caffe order)
``"RGBA"``  ``(H, W, 4)``             uint8     0-255
``"L"``     ``(H, W)``                uint8     0-255 (grayscale)
``"LA"``    ``(H, W, 2)``             uint8     0-255
``"I;16"``  ``(H, W)``                uint16    0-65535 (16-bit grayscale)
``"RGB;16"``  ``(H, W, 3)``           uint16    0-65535 (16-bit colour; also
                                                ``"BGR;16"``, ``"RGBA;16"``,
                                                ``"LA;16"``)
==========  ========================  ========  ===========================

Conversions are explicit and documented rather than left to chance:

- **Alpha** is dropped when the requested mode has none (``"RGB"``, ``"L"``):
  the stored colour values are kept, not composited onto a background, so
  fully transparent pixels count with whatever colour they store.  A palette
  image with a transparent colour is expanded to RGBA first.  When the mode
  asks for alpha and the image has none, alpha is 255 (opaque).
- **Palette** (``"P"``) and 1-bit images are expanded to their colours.
- **CMYK** is converted with Pillow's formula (no ICC colour management).
- **16-bit** images requested in an 8-bit mode are rounded, ``round(x / 257)``
  (65535 -> 255), not clipped (Pillow's own conversion clips at 255); 8-bit
  images requested in a 16-bit mode are scaled by 257 (255 -> 65535), so a
  folder of mixed bit depths is read in one unit.  16-bit colour PNGs (RGB,
  RGBA, grayscale+alpha), which Pillow alone decodes to their high bytes,
  are read with all 16 bits (``sk_pixels.io._wide``); their conversions
  (luma for ``"L"``/``"I;16"``, with Pillow's weights) are computed on the
  16-bit samples.
- **Files** are opened only when they are regular files (a FIFO or device
  is skipped with its reason, never waited on) in one of the raster formats
  of ``_decode.RASTER_FORMATS``: a PostScript file named ``photo.png`` is
  "not an image file", and no external program (Ghostscript) ever runs.
- Float (``"F"``) images and 32-bit integer images with values outside
  0-65535 are refused, because their units are unknown; ``mode="native"``
  returns any file's samples as stored (every channel, native dtype).
- **TIFFs** that Pillow cannot read faithfully (more than 4 channels, 16-bit
  colour, float colour) are read with ``tifffile``, the optional extra
  ``tiff`` (``pip install "sk_pixels[tiff]"``); without it they are refused
  with an error that names the extra, never truncated.  Files with more
  than 4 channels or float samples are read with ``mode="native"``.
- **Tar archives** (``.tar``, e.g. WebDataset shards) are sources like
  folders: their image members are read in place (never extracted) and
  named ``"shard.tar::member.jpg"``; other members are ignored.
- Only the first frame of a multi-frame file (GIF, TIFF) is read.

Warnings written by a decoder's C library (libtiff writes about unknown tags
and short strips straight to the process's stderr) never reach the terminal:
they are captured per file and reported as one :class:`DecodeWarning` listing
the files (or appended to the reason of a file that is skipped).

Errors: a file that cannot be decoded (corrupt, truncated, empty, not an image)
or that holds more than ``max_pixels`` pixels (a decompression bomb) raises
:class:`UnreadableImageError`, which names the file and the reason.  Pillow's
lenient ``ImageFile.LOAD_TRUNCATED_IMAGES`` is never used, so a partly decoded
image is never returned, and never counted in statistics.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

#: Public name -> submodule that defines it (imported on first use, so that the
#: command line can read the mode table without importing NumPy or Pillow).
_EXPORTS = {
    "MODES": "._modes",
    "DecodeWarning": "._decode",
    "UnreadableImageError": "._decode",
    "load_image": "._decode",
    "ImageIterator": "._sources",
    "SkippedImagesWarning": "._sources",
    "iter_images": "._sources",
    "list_images": "._sources",
    "dataset_stats": "._dataset",
    "dataset_stats_on_cluster": "._dataset",
    "SampledStats": "._sampling",
    "WorkerDiedError": "._executors",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from ._dataset import dataset_stats, dataset_stats_on_cluster  # noqa: F401
    from ._decode import DecodeWarning, UnreadableImageError, load_image  # noqa: F401
    from ._executors import WorkerDiedError  # noqa: F401
    from ._modes import MODES  # noqa: F401
    from ._sampling import SampledStats  # noqa: F401
    from ._sources import (  # noqa: F401
        ImageIterator,
        SkippedImagesWarning,
        iter_images,
        list_images,
    )


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
