"""Blocked transform kernels: one pass over cache-sized blocks, no batch temporaries.

Every transform of this library is a per-channel affine map ``y = (x - center)
* scale + base``, optionally clipped.  :func:`affine` writes it straight into the
output, block by block (:data:`BLOCK_ELEMENTS` values, 768 KiB of float32, so
a block stays in the L2 cache between its steps):

1. ``np.copyto(y, x)`` casts the input block into the output (``uint8`` ->
   ``float32`` is exact; it is NumPy's fastest conversion loop, faster than the
   casting buffers of a mixed-type ``x * scale``);
2. ``y -= c_hi``, ``y *= scale`` and ``y += base'`` run in place on the cached
   block (the centred form, below).

No float64 copy and no temporary the size of the batch is ever made: the peak
extra memory of a transform is its output.  How the coefficients meet the
block is chosen from the output's memory layout:

* **channels-last** output (``(n, H, W, C)``, grayscale, flattened): each block
  is viewed as rows of a few thousand values and the per-channel coefficients
  are tiled once into a row of that length, so NumPy's inner loops run over
  contiguous rows instead of over the C channels of one pixel;
* **channels-first** output (``(n, C, H, W)``): each channel plane gets its
  scalar coefficients;
* any other layout (a caller's ``out`` with odd strides) broadcasts the
  ``(C,)`` coefficients as they are: correct, slower.

Per-image coefficients (``scope="image"``/``"batch"``) are tiled per block.

With numba installed (the ``fast`` extra), the cast and the steps run fused in
one pass (:mod:`sk_pixels._fused`; on one thread over the whole batch at once,
no blocks needed), with results equal to the steps' to the bit.  A map is
prepared once as a :class:`Plan` (float64 route, centred coefficients in the
output dtype, which steps run), which :func:`affine` builds per call and
``transform``'s fast path (:mod:`sk_pixels._fastpath`) keeps.
Large batches (more than :data:`sk_pixels._threads.MIN_PARALLEL_BYTES` of
memory traffic) are split over threads (NumPy releases the GIL inside each
step); see :mod:`sk_pixels._threads` for the limits that are respected.

The map is evaluated in its centred form ``(x - center) * scale + base``
(:class:`~sk_pixels._affine.Affine`): ``center`` is split into its nearest
output-dtype value ``c_hi`` and a remainder folded into the base
(:func:`split_center`), and each block runs ``y -= c_hi``, ``y *= scale``,
``y += base'`` (a step whose coefficients are all 0, or 1, is skipped).
``x - c_hi`` is exact where the pixels are close to the centre (Sterbenz), so
nothing large cancels: a constant image or channel maps to exactly ``base``
(0, or ``feature_range[0]``) whenever its value is one of the output dtype's
(every ``uint8``/``uint16``/``int16`` value, every float32 value for float32
output).

Accuracy (the bound the tests check, and the README states): with ``eps``
the machine epsilon of the output dtype (``2**-23`` for float32) and ``y*``
the exact value of the map with the float64 coefficients,

    |y - y*| <= ERROR_BOUND * eps * (|y*| + |base|) + eps**2 * |center * scale|

plus ``ERROR_BOUND * eps * tiny`` (``tiny`` the smallest normal number) for
what underflow loses, for every input value that float64 represents exactly
(all but 64-bit integers beyond ``2**53``).  ``base`` is the map's value at its
centre: 0 when standardizing or centering, ``feature_range[0]`` for min-max,
0.5 for ``clip`` with ``rescale``; ``center * scale`` is ``mean / std``.  So
the error is a few ulp of the result (``ERROR_BOUND`` = 3 covers the rounding
of the subtraction, the scale, the product, the base and the sum, 2 eps in
all), and stays so for ``|mean| >> std``.  Where the output dtype would lose
more (input that does not convert exactly, like ``int32`` into float32; a
coefficient beyond its range or subnormal), the kernel runs float64 blocks
(:func:`_needs_float64`), which meet the same bound.  Clipping is exact and
monotone, so it never increases the error.  A 256-entry float32 lookup table
per channel for ``uint8`` (albucore's trick) was measured slower here:
NumPy's gather needs the indices as ``intp``, an 8-byte copy of every pixel.
"""

from __future__ import annotations

import numpy as np

from . import _fused, _threads
from ._blocks import BLOCK_BYTES, _row_length, iter_blocks

#: The accuracy guaranteed, in units of ``eps * (|y*| + |base|)`` (see above).
ERROR_BOUND = 3

#: Length of the coefficient rows tiled for channels-last blocks (values).
_TILE_ROW = 1024

#: Values of per-image coefficient rows made at a time (each of 3 arrays): the
#: fused loop takes the images of a batch in groups of this many values.
_TILE_VALUES = 2**16

#: Values per block: the statistics' block size (``_blocks.BLOCK_BYTES``) of
#: float32 output, so a 224x224 RGB image (150,528 values) is one block, and a
#: block stays in a 1 MiB L2 cache between the steps.
BLOCK_ELEMENTS = BLOCK_BYTES // 4


def _layout(dst: np.ndarray) -> str:
    """How the coefficients meet ``dst``: "last", "first" or "any"."""
    n, h, w, c = dst.shape
    if n == 0 or dst[0].flags.c_contiguous:
        return "last"
    if dst.transpose(0, 3, 1, 2)[0, 0].flags.c_contiguous:
        return "first"
    return "any"


def _tile_size(shape: tuple[int, ...], images: slice, rows: slice) -> int:
    """Values of one coefficient row per image of a block (see ``operands``)."""
    n, h, w, c = shape
    g = len(range(*images.indices(n)))
    r = len(range(*rows.indices(h)))
    return g * _row_length(r * w, c, w, _TILE_ROW)


def _same_memory(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``a`` and ``b`` are the same elements of the same dtype (in place)."""
    return (
        a.dtype == b.dtype
        and a.shape == b.shape
        and a.strides == b.strides
        and a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
    )


def split_center(
    scale: np.ndarray, center: np.ndarray, base: np.ndarray, ftype: np.dtype
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coefficients of the centred form in ``ftype``: ``(scale, c_hi, base')``.

    ``center`` (float64) is split into ``c_hi``, its nearest ``ftype`` value, and
    the remainder ``c_lo``, folded into the base: ``base' = base - c_lo * scale``
    (in float64, then rounded).  ``(x - c_hi) * scale + base'`` equals the
    float64 map up to the rounding of its own small terms (see the module
    docstring); an ``x`` equal to ``center`` maps to exactly ``base`` whenever
    ``center`` is an ``ftype`` value (an integer or float32 constant image).
    """
    ftype = np.dtype(ftype)
    with np.errstate(over="ignore", invalid="ignore"):
        c_hi = np.asarray(center, dtype=ftype)
        c_lo = np.asarray(center, dtype=np.float64) - c_hi.astype(np.float64)
        c_lo = np.where(np.isfinite(c_lo), c_lo, 0.0)
        low = np.asarray(base, dtype=np.float64) - c_lo * scale
    return (np.asarray(scale, dtype=ftype), c_hi, np.asarray(low, dtype=ftype))


def affine(
    src: np.ndarray,
    dst: np.ndarray,
    scale: np.ndarray,
    offset: np.ndarray,
    clip: tuple[float, float] | None = None,
    track_max: bool = False,
    n_threads: int | None = None,
    block: int = BLOCK_ELEMENTS,
    center: np.ndarray | None = None,
) -> float:
    """Write ``(src - center) * scale + offset`` (clipped) into ``dst``, by blocks.

    Parameters
    ----------
    src : ndarray of shape (n, H, W, C)
        Channels-last view of the input (any numeric dtype, any strides).
    dst : ndarray of shape (n, H, W, C)
        Channels-last view of the float output: ``src`` itself (same memory,
        strides and dtype), or memory that ``src`` does not overlap.
    scale, offset : ndarray of shape (C,) or (n, 1, 1, C)
        Per channel (or per image and channel) coefficients, float64.
    clip : (lo, hi) or None
        Bounds applied after the affine map (NaN stays NaN).
    track_max : bool
        Also return the maximum of ``src`` (NaN ignored), read while each
        block is in cache.
    n_threads : int or None
        Threads to use; None decides from the batch size and the limits of
        :mod:`sk_pixels._threads`.
    block : int
        Values per block.
    center : ndarray of shape (C,) or (n, 1, 1, C), or None
        Subtracted before scaling (float64, in input units); None is 0, which
        makes ``offset`` the plain offset of ``src * scale + offset``.

    Returns
    -------
    max : float
        ``nanmax(src)`` when ``track_max``, else NaN.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([0, 51, 255], dtype=np.uint8).reshape(1, 1, 3, 1)
    >>> y = np.empty(x.shape, dtype=np.float32)
    >>> affine(x, y, np.array([1 / 255]), np.array([-0.5]), track_max=True)
    255.0
    >>> y.ravel().round(4)
    array([-0.5, -0.3,  0.5], dtype=float32)
    >>> _ = affine(x, y, np.array([1 / 102]), np.array([0.0]), center=np.array([51.0]))
    >>> y.ravel()
    array([-0.5,  0. ,  2. ], dtype=float32)
    """
    plan = Plan(src.dtype, dst.dtype, scale, offset, clip, center)
    return plan.run(src, dst, track_max, n_threads, block)


class Plan:
    """One map prepared for one input and output dtype: what :func:`affine` runs.

    Built from the float64 coefficients (the float64-route decision, the
    centred coefficients in the output dtype, which steps are needed), so that a
    caller applying the same map many times (``transform``'s fast path for
    small calls, :mod:`sk_pixels._fastpath`) prepares it once. A plan holds
    values only, never a reference to the parameters it came from.

    Parameters
    ----------
    src_dtype, ftype : numpy dtype
        Dtypes of the input pixels and of the output.
    scale, offset, clip, center :
        As in :func:`affine`.
    """

    def __init__(self, src_dtype, ftype, scale, offset, clip=None, center=None):
        ftype = np.dtype(ftype)
        self.ftype = ftype
        if center is None:
            center = np.zeros_like(np.asarray(scale, dtype=np.float64))
        #: Whether the map runs in float64 blocks (:func:`_needs_float64`).
        self.wide = _needs_float64(src_dtype, ftype, scale, offset, center)
        self.clip = clip
        self._tiles: dict[int, tuple[np.ndarray, ...]] = {}
        #: Whether a step can overflow the output dtype (checked by the fused loop).
        self.may_overflow = True
        if self.wide:
            self.coefficients = np.broadcast_arrays(
                *(np.asarray(a, dtype=np.float64) for a in (scale, center, offset))
            )
            return
        scale, center, offset = split_center(scale, center, offset, ftype)
        scale, center, offset = np.broadcast_arrays(scale, center, offset)
        # x / 255 needs no shift and no add, a pure shift no multiply: a pass less each.
        self.steps = (
            bool(np.any(center)),
            not bool(np.all(scale == 1)),
            bool(np.any(offset)),
        )
        # A skipped step's operand is its exact identity (- +0.0, * 1, + -0.0:
        # no value and no sign of zero changes), for the fused loop that runs
        # every step.
        if not self.steps[0]:
            center = np.zeros_like(center)
        if not self.steps[1]:
            scale = np.ones_like(scale)
        if not self.steps[2]:
            offset = np.full_like(offset, -0.0)
        #: ``(center, scale, offset)`` in ``ftype``: the operands of the steps.
        self.coefficients = (center, scale, offset)
        if clip is not None:
            self.clip = (ftype.type(clip[0]), ftype.type(clip[1]))
        #: The clip bounds, no clip being ``(-inf, inf)`` (the fused loop).
        self.bounds = self.clip or (ftype.type(-np.inf), ftype.type(np.inf))
        self.may_overflow = _may_overflow(src_dtype, ftype, *self.coefficients)

    @property
    def per_image(self) -> bool:
        return self.coefficients[0].ndim == 4

    def run(
        self,
        src: np.ndarray,
        dst: np.ndarray,
        track_max: bool = False,
        n_threads: int | None = None,
        block: int = BLOCK_ELEMENTS,
    ) -> float:
        """Apply the map from ``src`` to ``dst`` (see :func:`affine`)."""
        if src.size == 0:
            return -np.inf if track_max else np.nan
        if self.wide:
            scale, center, offset = self.coefficients
            return _affine_float64(
                src, dst, scale, center, offset, self.clip, track_max, block
            )
        if n_threads is None:
            n_threads = _threads.get_num_threads(src.nbytes + dst.nbytes)
        fused = _fused.applies(src, dst)
        if n_threads <= 1 and fused:
            # One pass needs no cache blocks: the whole batch in one call.
            return self._fused_rows(src, dst, track_max)
        if fused:  # blocks only to share the batch among the threads
            block = max(block, -(-src.size // (8 * n_threads)))
        layout = _layout(dst)
        in_place = _same_memory(src, dst)
        if n_threads <= 1 and src.size <= block and not self.per_image:
            return self._block(src, dst, slice(None), layout, in_place, track_max)

        def run(blocks) -> float:
            observed = -np.inf
            tile_buf = None
            if self.per_image and layout == "last" and not fused:
                # Coefficient rows of the largest block (its images x one row).
                size = max(_tile_size(src.shape, im, rs) for im, rs in blocks)
                tile_buf = np.empty((3, size), dtype=self.ftype)
            for images, rows in blocks:
                seen = self._block(
                    src[images, rows],
                    dst[images, rows],
                    images,
                    layout,
                    in_place,
                    track_max,
                    tile_buf,
                )
                observed = max(observed, seen)
            return observed

        blocks = list(iter_blocks(src.shape, block))
        observed = max(_threads.run(run, blocks, n_threads))
        return observed if track_max else np.nan

    def _block(self, x, y, images, layout, in_place, track_max, tile_buf=None):
        """One block: cast, then the steps in place (fused when compiled)."""
        if layout == "last" and _fused.applies(x, y):
            return self._fused_rows(x, y, track_max, images)
        observed = -np.inf
        view, *coef = self._operands(y, images, layout, tile_buf)
        if track_max:
            observed = float(np.fmax.reduce(x, axis=None))
        if not in_place:
            np.copyto(y, x, casting="unsafe")
        for ufunc, needed, a in zip(_UFUNCS, self.steps, coef):
            if needed:
                ufunc(view, a, out=view)
        if self.clip is not None:
            np.clip(view, self.clip[0], self.clip[1], out=view)
        return observed if track_max else np.nan

    def _fused_rows(self, x, y, track_max, images=slice(None)):
        """The fused loop over C-contiguous channels-last images x -> y (the
        ``images`` of the plan's per-image coefficients): one call, or one per
        group of images whose coefficient rows fill :data:`_TILE_VALUES`."""
        g, r, w, c = y.shape
        width = _row_length(r * w, c, w, _TILE_ROW)
        x, y = x.reshape(g, -1, width), y.reshape(g, -1, width)
        bounds, check = self.bounds, self.may_overflow
        if not self.per_image:  # one map for all images
            return _fused.affine_rows(
                x, y, self._tiled(width), bounds, track_max, check
            )
        coefficients = [a[images].reshape(g, c) for a in self.coefficients]
        step = max(1, _TILE_VALUES // width)
        seen = [
            _fused.affine_rows(
                x[k : k + step],
                y[k : k + step],
                [np.tile(a[k : k + step], (1, width // c)) for a in coefficients],
                bounds,
                track_max,
                check,
            )
            for k in range(0, g, step)
        ]
        return max(seen) if track_max else np.nan

    def _tiled(self, width: int) -> tuple[np.ndarray, ...]:
        """The coefficients tiled into one row of ``width`` values, shape (1, width)
        (kept per width)."""
        tiles = self._tiles.get(width)
        if tiles is None:
            c = self.coefficients[0].shape[-1]
            tiles = tuple(
                np.tile(a.reshape(1, -1), width // c) for a in self.coefficients
            )
            if len(self._tiles) < 16:  # a few image sizes per plan
                self._tiles[width] = tiles
        return tiles

    def _operands(self, y: np.ndarray, images: slice, layout: str, tile_buf=None):
        """``y`` reshaped for fast inner loops, with matching coefficients."""
        g, r, w, c = y.shape
        per_image = self.per_image
        coef = [
            a[images].reshape(g, 1, c) if per_image else a.reshape(1, c)
            for a in self.coefficients
        ]
        if layout == "last":
            width = _row_length(r * w, c, w, _TILE_ROW)
            if per_image:
                # Tile each image's coefficients along a row (one C-level copy).
                rows = []
                for k, a in enumerate(coef):
                    t = tile_buf[k, : g * width].reshape(g, 1, width // c, c)
                    np.copyto(t, a.reshape(g, 1, 1, c))
                    rows.append(t.reshape(g, 1, width))
                return (y.reshape(g, -1, width), *rows)
            return (y.reshape(g, -1, width), *self._tiled(width))
        if layout == "first":
            planes = y.transpose(0, 3, 1, 2)
            if per_image:
                return (planes, *(a.reshape(g, c, 1, 1) for a in coef))
            return (planes, *(a.reshape(c, 1, 1) for a in coef))
        if per_image:
            return (y, *(a.reshape(g, 1, 1, c) for a in coef))
        return (y, *(a[0] for a in coef))


def _may_overflow(src_dtype, ftype, center, scale, offset) -> bool:
    """Whether ``(x - center) * scale + offset`` can exceed ``ftype``'s range.

    False only for integer input whose whole range maps well inside it (the
    common case: 8- and 16-bit pixels with any reasonable statistics).
    """
    src_dtype = np.dtype(src_dtype)
    if src_dtype.kind not in "ui":
        return True
    info = np.iinfo(src_dtype)
    c = np.asarray(center, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        spread = np.maximum(np.abs(info.min - c), np.abs(info.max - c))
        bound = spread * np.abs(np.asarray(scale, dtype=np.float64)) + np.abs(
            np.asarray(offset, dtype=np.float64)
        )
        return not bool(np.all(bound < np.finfo(ftype).max / 4))


#: The steps of the centred form, in order: ``y -= c_hi; y *= scale; y += base'``.
_UFUNCS = (np.subtract, np.multiply, np.add)


def _needs_float64(src_dtype, ftype, scale, offset, center=0.0) -> bool:
    """Whether the output-precision path would lose accuracy for these operands.

    True when the input does not convert exactly to the output dtype (``int32``
    or ``float64`` pixels into float32, ``uint16`` into float16), or when a
    coefficient does not fit the output dtype (a std of 1e-39 or a mean of
    1e39 or 1e-39 in float32 data).  Those cases run in float64 blocks.  A large offset
    (``|mean| >> std``) needs nothing: the centred form subtracts the mean
    first.
    """
    if np.dtype(ftype) == np.float64:
        return False
    if not np.can_cast(src_dtype, ftype, "safe"):
        return True
    info = np.finfo(ftype)
    scale = np.abs(np.asarray(scale, dtype=np.float64))
    for coefficient in (scale, np.abs(np.asarray(center, dtype=np.float64))):
        # Subnormal in the output dtype: its rounding is not relative.
        nonzero = coefficient[coefficient > 0]
        if nonzero.size and nonzero.min() < info.smallest_normal:
            return True
    return any(
        np.any(np.abs(np.asarray(a, dtype=np.float64)) > info.max)
        for a in (scale, offset, center)
    )


def _affine_float64(src, dst, scale, center, offset, clip, track_max, block) -> float:
    """:func:`affine` computed in float64 blocks, then cast to ``dst``'s dtype.

    The exact path for the cases of :func:`_needs_float64`: one float64
    temporary of one block, never of the batch.
    """
    scale, center, offset = np.broadcast_arrays(
        *(np.asarray(a, dtype=np.float64) for a in (scale, center, offset))
    )
    per_image = scale.ndim == 4
    observed = -np.inf
    for images, rows in iter_blocks(src.shape, block):
        x = src[images, rows]
        if track_max:
            observed = max(observed, float(np.fmax.reduce(x, axis=None)))
        t = x.astype(np.float64)
        s, c, o = (a[images] if per_image else a for a in (scale, center, offset))
        np.subtract(t, c, out=t)
        np.multiply(t, s, out=t)
        np.add(t, o, out=t)
        if clip is not None:
            np.clip(t, clip[0], clip[1], out=t)
        # A value beyond the output's range overflows here, under the caller's
        # np.errstate (transform turns it into a clear error).
        np.copyto(dst[images, rows], t, casting="unsafe")
    return observed if track_max else np.nan


def check_out(out, shape: tuple[int, ...], X: np.ndarray) -> np.ndarray:
    """Validate the ``out=`` argument of ``transform``: a float array of X's shape.

    ``out`` may be ``X`` itself: ``out is X``, or the same memory seen the same
    way (same data pointer, shape, strides and dtype, which is then a float
    dtype), an in-place transform of float input.  Any other ``out`` must share
    no element with ``X`` (``np.shares_memory``): a reinterpreting or strided
    view of ``X`` (``X.view(np.float32)[..., ::2]``) would be overwritten while
    it is read.
    """
    if not isinstance(out, np.ndarray):
        raise TypeError(
            f"out must be a NumPy array, got {type(out).__name__}. Allocate one "
            "with np.empty(X.shape, dtype=np.float32)."
        )
    if out.shape != tuple(shape):
        raise ValueError(
            f"out has shape {out.shape}, but the output has shape {tuple(shape)}. "
            "Pass an array of X's shape."
        )
    if out.dtype.kind != "f":
        raise ValueError(
            f"out has dtype {out.dtype}, but scaled pixels are float. Pass a "
            "float32 or float64 array."
        )
    if not out.flags.writeable:
        raise ValueError("out is read-only. Pass a writeable array.")
    if out is not X and _overlaps(out, np.asarray(X)):
        raise ValueError(
            "out overlaps X without being X (it shares memory with X but has "
            f"another dtype, shape, strides or start: out is {out.dtype} with "
            f"strides {out.strides}, X is {X.dtype} with strides {X.strides}). "
            "Pass X itself (an in-place transform of float input) or a separate "
            "array."
        )
    return out


# numpy.exceptions is NumPy >= 1.25; NumPy 1.24 has the class at the top level.
_TooHardError = getattr(np, "exceptions", np).TooHardError

#: Work allowed to ``np.shares_memory`` before an overlap is assumed.
_OVERLAP_WORK = 100_000


def _overlaps(out: np.ndarray, X: np.ndarray) -> bool:
    """Whether writing ``out`` while reading ``X`` could change what is read.

    False for the exact same memory seen the same way (see :func:`check_out`)
    and for arrays that share no element; True otherwise, and also when NumPy
    cannot decide within :data:`_OVERLAP_WORK` (never a false "no").
    """
    if not np.may_share_memory(out, X):
        return False
    if _same_memory(out, X):
        return False
    try:
        return bool(np.shares_memory(out, X, max_work=_OVERLAP_WORK))
    except _TooHardError:
        return True
