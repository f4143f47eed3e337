"""Optional compiled kernels (numba): the transform, and exact statistics, in one pass.

With `numba <https://numba.pydata.org>`_ installed (the ``fast`` extra,
``pip install sk_pixels[fast]``), a block of the transform is computed in one
pass instead of NumPy's four (cast, ``-= c_hi``, ``*= scale``, ``+= base'``,
then the clip): each value is read, converted, mapped and written once, while
it is in a register.  Without numba, or with the environment variable
``SK_PIXELS_FUSED=0``, the NumPy steps of :mod:`sk_pixels._kernels` run.

The results are the same to the bit: the fused loop performs the same float
operations in the same order and the same precision as the NumPy steps
(numba, without ``fastmath``, neither contracts ``a * b + c`` into a fused
multiply-add nor reorders), and a step that NumPy skips is replaced by its
exact identity (``- (+0.0)``, ``* 1``, ``+ (-0.0)``, no clip as
``[-inf, inf]``), which changes no value and no sign of zero.  The tests run
both kernels on the same inputs and compare their bits.

The exact statistics of a contiguous batch of integer pixels of at most 16 bits
(:func:`exact_sums`, used by ``sk_pixels._reduce``) are read once: per
position of long rows, the sums of ``x`` and ``x * x`` in integers (32-bit
partials for 8-bit pixels, flushed before they could wrap; 64-bit otherwise)
and the extrema, folded into int64 channel totals that cannot overflow, then
Python ints.  Integer sums are exact whatever the order, so the result is the
NumPy/BLAS engine's, to the bit.

Per-image scopes (``scope="image"``) take two calls for the whole batch, with
no Python per image: :func:`exact_sums_per_image` (each image's int64 sums and
extrema, one pass) and :func:`affine_rows` with one row of coefficients per
image (their Python-side derivation is the NumPy path's, so the map is too).

numba is imported, and a kernel compiled for its dtypes, on first use
(``cache=True`` keeps the machine code on disk, so only the first process
ever pays the compilation).
"""

from __future__ import annotations

import os
import threading
import warnings

import numpy as np

from ._blocks import _row_length

#: Input dtypes the fused loop takes (others run the NumPy steps).
_INPUTS = frozenset(
    np.dtype(name)
    for name in ("uint8", "uint16", "int8", "int16", "uint32", "int32", "float32")
) | {np.dtype(np.float64)}
_OUTPUTS = frozenset((np.dtype(np.float32), np.dtype(np.float64)))

#: None: not loaded yet; False: unavailable or disabled; else the kernels.
_loaded: object = None
_lock = threading.Lock()


def disabled_by_environment() -> bool:
    """Whether ``SK_PIXELS_FUSED`` turns the compiled kernel off (0, false, no, off)."""
    flag = os.environ.get("SK_PIXELS_FUSED", "").strip().lower()
    return flag in ("0", "false", "no", "off")


def _load():
    """The compiled kernels, or False (numba missing or disabled)."""
    global _loaded
    with _lock:
        if _loaded is None:
            _loaded = False if disabled_by_environment() else _compile_or_warn()
    return _loaded


def _compile_or_warn():
    """:func:`_compile`, or False with a warning when numba is there but fails
    (a version that does not support this NumPy, no writable cache location)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    try:
        return _compile()
    except Exception as exc:  # noqa: BLE001 (any failure: use the NumPy kernels)
        warnings.warn(
            f"numba is installed but sk_pixels could not set up its compiled "
            f"kernels ({type(exc).__name__}: {exc}); the NumPy kernels run instead. "
            "Set SK_PIXELS_FUSED=0 to silence this.",
            RuntimeWarning,
            stacklevel=2,
        )
        return False


def _compile():
    import numba

    # One loop for every input and output dtype: the cast is to ``y``'s element
    # type.  Coefficient rows of ``width`` values: one for all images, or one
    # per image.  max/min keep NaN and the sign of zero as np.clip does.
    @numba.njit(cache=True, nogil=True)
    def rows(x, y, center, scale, offset, lo, hi, check, clamp):  # pragma: no cover
        n, n_rows, width = x.shape
        cast = y.dtype.type
        overflowed = 0
        for i in range(n):
            q = min(i, center.shape[0] - 1)  # this image's row, or the shared one
            c, s, o = center[q], scale[q], offset[q]
            for r in range(n_rows):
                xr, yr = x[i, r], y[i, r]
                if check:  # a finite value that became infinite: a step overflowed
                    for j in range(width):
                        v = cast(xr[j])
                        t = (v - c[j]) * s[j] + o[j]
                        overflowed += (abs(t) == np.inf) & (abs(v) != np.inf)
                        yr[j] = min(max(t, lo), hi)
                elif clamp:
                    for j in range(width):
                        t = (cast(xr[j]) - c[j]) * s[j] + o[j]
                        yr[j] = min(max(t, lo), hi)
                else:  # no clip: the clamp to (-inf, inf) is the identity, skipped
                    for j in range(width):
                        yr[j] = (cast(xr[j]) - c[j]) * s[j] + o[j]
        return overflowed

    @numba.njit(cache=True, nogil=True)
    def largest(x):  # pragma: no cover (compiled)
        observed = -np.inf
        for v in x.ravel():
            if v > observed:  # False for NaN: NaN is ignored, as by np.fmax
                observed = v
        return observed

    # Exact statistics of each image of x (n, rows, width): sums of x and x * x
    # per position in partials of part's type (uint32 for 8-bit pixels,
    # flushed every ``chunk`` rows before they could wrap; else int64), folded
    # into the channels of the image's int64 totals (n, C), and its extrema.
    @numba.njit(cache=True, nogil=True)
    def image_sums(x, part, chunk, total, squares, lo, hi):  # pragma: no cover
        n, n_rows, width = x.shape
        channels = total.shape[1]
        acc, acc_sq = np.empty(width, part.dtype), np.empty(width, part.dtype)
        cast = part.dtype.type
        low, high = np.empty(width, x.dtype), np.empty(width, x.dtype)
        for i in range(n):  # (loops, not slice assignments: 3x faster to compile)
            for j in range(width):
                low[j] = high[j] = x[i, 0, j]
            for start in range(0, n_rows, chunk):
                for j in range(width):
                    acc[j] = acc_sq[j] = 0
                for r in range(start, min(start + chunk, n_rows)):
                    row = x[i, r]
                    for j in range(width):  # two loops: each one vectorizes
                        w = cast(row[j])
                        acc[j] += w
                        acc_sq[j] += w * w
                    for j in range(width):
                        low[j] = min(low[j], row[j])
                        high[j] = max(high[j], row[j])
                for ch in range(channels):  # sums in registers, not in memory
                    t, q = total[i, ch], squares[i, ch]
                    for j in range(ch, width, channels):
                        t += acc[j]
                        q += acc_sq[j]
                    total[i, ch], squares[i, ch] = t, q
            for ch in range(channels):
                a, b = lo[i, ch], hi[i, ch]
                for j in range(ch, width, channels):
                    a, b = min(a, low[j]), max(b, high[j])
                lo[i, ch], hi[i, ch] = a, b

    return rows, largest, image_sums


def available() -> bool:
    """Whether the compiled kernel runs (numba importable and not disabled)."""
    return bool(_loaded or (_loaded is None and _load()))


def applies(x: np.ndarray, y: np.ndarray) -> bool:
    """Whether the fused loop can run block ``x`` into ``y``."""
    return (
        x.dtype in _INPUTS
        and y.dtype in _OUTPUTS
        and x.flags.c_contiguous
        and y.flags.c_contiguous
        and available()
    )


def affine_rows(
    x: np.ndarray,
    y: np.ndarray,
    coefficients,
    bounds,
    track_max: bool,
    check_overflow: bool = True,
) -> float:
    """``y = clip((x - center) * scale + offset)`` over rows of tiled coefficients.

    Parameters
    ----------
    x, y : ndarray of shape (n_images, n_rows, width)
        C-contiguous input and output rows (``y`` may be ``x``), image by image.
    coefficients : (center, scale, offset), each of shape (1 or n_images, width)
        C-contiguous rows in ``y``'s dtype, tiled from the channels' values:
        one row for every image, or one per image; a step that NumPy skips
        holds its exact identity.
    bounds : (lo, hi) of ``y``'s dtype
        Clip bounds, ``(-inf, inf)`` for none.
    track_max : bool
        Return ``nanmax(x)`` (read before ``y`` is written: ``y`` may be ``x``).
    check_overflow : bool
        Look for a step that overflowed (as ``np.errstate(over=...)`` would);
        False where the coefficients and the input dtype's range rule it out.

    Returns
    -------
    max : float
        ``nanmax(x)`` when ``track_max`` (-inf for no value), else NaN.
    """
    rows, largest = (_loaded or _load())[:2]
    observed = np.nan
    if track_max:
        observed = float(largest(x)) if x.size else -np.inf
    clamp = bool(bounds[0] != -np.inf or bounds[1] != np.inf)
    if rows(x, y, *coefficients, *bounds, check_overflow, clamp):
        _overflow()
    return observed


def _overflow() -> None:
    """Report an overflow as NumPy's steps would, under the current ``np.errstate``."""
    mode = np.geterr()["over"]
    message = "overflow encountered in the fused transform kernel"
    if mode == "raise":
        raise FloatingPointError(message)
    if mode == "warn":
        warnings.warn(message, RuntimeWarning, stacklevel=4)
    elif mode == "call":
        np.geterrcall()("overflow", 2)
    elif mode == "log":
        np.geterrcall().write(f"Warning: {message}\n")


#: Integer dtypes whose exact statistics the fused pass computes.
_EXACT = frozenset(np.dtype(n) for n in ("uint8", "int8", "uint16", "int16"))

#: Rows of 8-bit pixels summed in 32 bits before they go to 64-bit totals:
#: ``_CHUNK8 * 255**2 < 2**32``, so a partial sum of squares cannot wrap.
_CHUNK8 = 65_536

#: Values per row of the statistics pass (a multiple of the channels near it).
_STATS_ROW = 3072

#: Bound of the int64 sums of one call of the statistics kernel (beyond: parts
#: of a stream added up as Python ints, or an image's sums taken as a stream).
_INT64_SUMS = 2**62


def applies_sums(flat: np.ndarray) -> bool:
    """Whether :func:`exact_sums` can take the contiguous stream ``flat``."""
    return flat.dtype in _EXACT and flat.flags.c_contiguous and available()


def exact_sums(flat: np.ndarray, channels: int):
    """Exact per-channel sums, sums of squares (object arrays of Python ints)
    and extrema.

    The fused counterpart of ``sk_pixels._reduce._exact_stream`` (same
    arguments and results): ``flat`` is a 1-D C-contiguous stream of integer
    pixels of at most 16 bits, channel = index % ``channels``.  Its rows go
    through :func:`_sums` as one image, or as several whose int64 sums cannot
    reach 2**62 (a stream of over 2**30 16-bit values per channel), added up
    as Python ints.
    """
    width = channels * max(1, _STATS_ROW // channels)
    n_full = flat.size // width if flat.size >= width else 0
    if n_full == 0:
        width, n_full = channels, flat.size // channels
    rows = flat[: n_full * width].reshape(n_full, width)
    info = np.iinfo(flat.dtype)
    step = max(1, _INT64_SUMS // (max(-int(info.min), int(info.max)) ** 2 * width))
    parts = [_sums(rows[k : k + step][None], channels) for k in range(0, n_full, step)]
    total, squares, lo, hi = (np.concatenate(a) for a in zip(*parts, strict=True))
    total, squares = total.astype(object).sum(0), squares.astype(object).sum(0)
    lo, hi = lo.min(0).astype(np.float64), hi.max(0).astype(np.float64)
    tail = flat[n_full * width :]  # fewer values than one row
    if tail.size:
        t = tail.reshape(-1, channels)
        for c, column in enumerate(t.T.tolist()):
            total[c] += sum(column)
            squares[c] += sum(v * v for v in column)
        lo = np.fmin(lo, t.min(axis=0))
        hi = np.fmax(hi, t.max(axis=0))
    return total, squares, lo, hi


def _sums(x: np.ndarray, channels: int):
    """Exact int64 sums, sums of squares and extrema (x's dtype), each (n, C),
    of the images of x (n, rows, width) of integer pixels of at most 16 bits,
    each of whose sums stays below 2**62 (channel = position % ``channels``)."""
    n, n_rows, _ = x.shape
    info = np.iinfo(x.dtype)
    eight_bit = x.dtype == np.uint8
    part = np.empty(0, np.uint32 if eight_bit else np.int64)  # their type
    sums = np.zeros((2, n, channels), np.int64)
    lo = np.full((n, channels), info.max, x.dtype)
    hi = np.full((n, channels), info.min, x.dtype)
    image_sums = (_loaded or _load())[2]
    image_sums(x, part, _CHUNK8 if eight_bit else n_rows, *sums, lo, hi)
    return sums[0], sums[1], lo, hi


def exact_sums_per_image(view: np.ndarray):
    """:func:`exact_sums` of each image of a C-contiguous ``(n, H, W, C)`` batch.

    One pass over the whole batch (no Python per image).  Returns the sums and
    sums of squares, int64 (object arrays of Python ints for an image whose
    sums could reach 2**62: a 16-bit image of over 2**30 pixels), and float64
    extrema, each of shape ``(n, C)``.
    """
    n, h, w, c = view.shape
    info = np.iinfo(view.dtype)
    if h * w * max(-int(info.min), int(info.max)) ** 2 >= _INT64_SUMS:
        total, squares, lo, hi = zip(*(exact_sums(x.reshape(-1), c) for x in view))
        return np.stack(total), np.stack(squares), np.stack(lo), np.stack(hi)
    width = _row_length(h * w, c, w, _STATS_ROW)
    total, squares, lo, hi = _sums(view.reshape(n, -1, width), c)
    return total, squares, lo.astype(np.float64), hi.astype(np.float64)
