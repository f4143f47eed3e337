"""A reproducible random subset of a dataset's images, and per-image moments.

:func:`sk_pixels.io.dataset_stats` uses this module for ``sample=`` and
``error_bars=True``: :func:`choose_sample` picks the files, and
:func:`per_image_chunk` wraps the unit of parallel work so that it also sends
back each image's ``(count, mean, M2)``, from which
:func:`sk_pixels._errorbars.cluster_error_bars` computes the error bars.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np

from .._errorbars import SampledStats, image_moments
from .._stats import PixelStats

__all__ = ["SampledStats", "check_sample", "choose_sample", "per_image_chunk"]


def check_sample(sample: Any, n_files: int) -> int | None:
    """Number of images that ``sample`` asks for out of ``n_files`` (None: all).

    A float in (0, 1] is a fraction, rounded to the nearest count (at least 1);
    an integer >= 1 is a count, at most ``n_files``.

    Examples
    --------
    >>> check_sample(0.05, 1000), check_sample(500, 1000), check_sample(None, 9)
    (50, 500, None)
    """
    if sample is None:
        return None
    if isinstance(sample, bool) or not isinstance(sample, Real):
        raise TypeError(
            "sample must be a fraction in (0, 1], a number of images >= 1, or "
            f"None. Got {sample!r} of type {type(sample).__name__}."
        )
    if isinstance(sample, Integral):
        if sample < 1:
            raise ValueError(
                "sample must be a fraction in (0, 1] or a number of images >= 1. "
                f"Got sample={sample!r}."
            )
        if sample > n_files:
            raise ValueError(
                f"sample={sample} images, but the source lists only {n_files} "
                f"image files; pass a number <= {n_files}, a fraction in (0, 1], "
                "or no sample to read them all."
            )
        return int(sample)
    if not (math.isfinite(sample) and 0 < sample <= 1):
        raise ValueError(
            "sample must be a fraction in (0, 1] or a number of images >= 1 (an "
            f"int). Got sample={sample!r}."
        )
    return max(1, min(n_files, round(sample * n_files)))


def choose_sample(paths: Sequence, size: int, random_state: Any) -> list:
    """``size`` of ``paths``, drawn without replacement, in their listed order.

    The draw depends only on the seed and on the *set* of paths: they are
    ranked by name before drawing, so two listings of the same files in
    another order (another file system, another glob order) give the same
    sample.

    Parameters
    ----------
    paths : sequence of str or path-like
        The listed image files.
    size : int
        How many to keep, ``1 <= size <= len(paths)``.
    random_state : int, numpy.random.Generator or None
        Seed of :func:`numpy.random.default_rng` (None: fresh entropy, a
        different sample each call).

    Examples
    --------
    >>> choose_sample(["a", "b", "c", "d"], 2, 0) == choose_sample(
    ...     ["d", "c", "b", "a"], 2, 0)[::-1]
    True
    """
    if isinstance(random_state, np.random.RandomState):
        rng = random_state
    else:
        try:
            rng = np.random.default_rng(random_state)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                "random_state must be None, a non-negative integer or a "
                f"numpy.random.Generator. Got {random_state!r} ({exc})."
            ) from None
    ranked = sorted(range(len(paths)), key=lambda i: str(paths[i]))
    chosen = rng.permutation(len(paths))[:size]
    keep = sorted(ranked[i] for i in chosen)
    return [paths[i] for i in keep]


def per_image_chunk(paths: Sequence, *args: Any, unit: Callable) -> tuple:
    """``unit(paths, *args)`` run one file at a time, with each image's moments.

    ``unit`` is the unit of work of :func:`~sk_pixels.io.dataset_stats`
    (``(stats, skipped, warned, error, histogram)`` of a list of files); the
    result is the same five values merged over ``paths``, followed by an array
    of shape ``(n_images_read, 3, n_channels)`` of :func:`image_moments`.
    """
    total = PixelStats()
    hist = None
    skipped: list = []
    warned: list = []
    rows: list[np.ndarray] = []
    for path in paths:
        stats, more_skipped, more_warned, error, counts = unit([path], *args)
        if error is not None:
            return PixelStats(), [], [], error, None, np.empty((0, 3, 0))
        skipped.extend(more_skipped)
        warned.extend(more_warned)
        if counts is not None:
            hist = counts if hist is None else hist.merge(counts)
        if stats.input_dtype is not None:
            rows.append(image_moments(stats))
            total.merge_inplace(stats)
    moments = np.stack(rows) if rows else np.empty((0, 3, 0))
    return total, skipped, warned, None, hist, moments
