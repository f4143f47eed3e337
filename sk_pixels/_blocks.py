"""Block geometry shared by the statistics and the transform kernels.

Both stream a batch through blocks of a fixed size, so that no temporary grows
with the batch: :data:`BLOCK_BYTES` is that size (the statistics' accumulator;
the transform's float32 output block and the device blocks derive from it),
:func:`iter_blocks` cuts an ``(n, H, W, C)`` array into blocks and
:func:`_row_length` the rows a block is viewed as for long inner loops.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

#: THE block size of the statistics: bytes of the accumulator a NumPy block is
#: cast into (a 224x224 RGB image in float32, so whole images are summed in one
#: go, well inside a 1 MiB L2 cache).  Everything else derives from it.
BLOCK_BYTES = 768 * 2**10

#: Preferred length of the rows a block is cut into (a multiple of the channels).
_TARGET_ROW = 8192


def iter_blocks(shape: tuple[int, ...], block: int) -> Iterator[tuple[slice, slice]]:
    """Yield ``(images, rows)`` slices that cut an ``(n, H, W, C)`` array in blocks.

    Whole images are grouped while they fit in ``block`` elements; a larger
    image is cut along its rows.  Every block holds at least one row.

    Examples
    --------
    >>> [(im.start, im.stop) for im, _ in iter_blocks((3, 2, 2, 1), 8)]
    [(0, 2), (2, 3)]
    """
    n, height, width, channels = shape
    per_image = height * width * channels
    if per_image <= block:
        step = max(1, block // max(per_image, 1))
        for start in range(0, n, step):
            yield slice(start, min(start + step, n)), slice(None)
        return
    rows = max(1, block // max(width * channels, 1))
    for i in range(n):
        for start in range(0, height, rows):
            yield slice(i, i + 1), slice(start, min(start + rows, height))


@functools.lru_cache(maxsize=256)
def _row_length(
    n_pixels: int, channels: int, width: int, target: int = _TARGET_ROW
) -> int:
    """Length of the rows that ``n_pixels`` pixels of one image are cut into.

    A multiple of ``channels`` dividing ``n_pixels * channels``: at least
    ``target`` values when such a divisor is near, else one image row of
    ``width`` pixels.
    """
    need = -(-target // channels)
    if n_pixels <= need:
        return n_pixels * channels
    for d in range(need, min(n_pixels, 8 * need) + 1):
        if n_pixels % d == 0:
            return d * channels
    return width * channels
