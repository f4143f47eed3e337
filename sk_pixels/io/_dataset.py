"""Exact statistics of a whole dataset of image files, streamed."""

from __future__ import annotations

import itertools
import math
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

from .._errorbars import cluster_error_bars
from .._histogram import PixelHistogram
from .._progress import progress_bar
from .._stats import PixelStats
from ._decode import DecodeWarning, UnreadableImageError, decode, image_stats
from ._decode import resolve_max_pixels as _resolve_max_pixels
from ._executors import (
    MAX_PARTITION,
    PARTITIONS_PER_THREAD,
    check_backend,
    cluster_threads,
    connect,
    map_in_order,
    map_local,
    n_workers,
    partition,
)
from ._histograms import image_stats_and_histogram, merged
from ._modes import check_mode
from ._nodata import check_nodata
from ._sampling import SampledStats, check_sample, choose_sample, per_image_chunk
from ._sources import (
    OnError,
    SkippedImagesWarning,
    Source,
    check_on_error,
    list_images,
)

Pairs = list[tuple[str, str]]

#: Bytes of image files below which one more worker is not worth its cost
#: (starting it and handing it work): a folder of 20 thumbnails is read in
#: this thread, whatever ``n_jobs`` says (benchmarks/README.md).
MIN_BYTES_PER_WORKER = 1 << 20


def _file_bytes(paths: Sequence[str]) -> int:
    total = 0
    for path in paths:
        size = getattr(path, "size", None)  # a member of a tar archive
        if size is not None:
            total += size
            continue
        try:
            total += os.stat(path).st_size
        except OSError:
            pass  # reported by the decoder, in order
    return total


def _stats_of_files(
    paths: Iterable[str | os.PathLike],
    *,
    mode: str = "RGB",
    on_error: OnError = "raise",
    max_pixels: int | None = None,
    nodata: tuple | None = None,
    histogram: bool = False,
) -> tuple:
    """Statistics of some image files, decoded one at a time: the unit of parallel work.

    A plain top-level function of picklable arguments, so that a process pool
    (or a Dask cluster) can run it by reference; it returns statistics, never
    pixels.

    Parameters
    ----------
    paths : iterable of str
        Image files.
    mode : str, default="RGB"
        See :func:`load_image`.
    on_error : {"raise", "skip"}, default="raise"
        Raise :class:`UnreadableImageError` at the first bad file, or skip it.
    max_pixels : int or None, default=None
        Size limit per image; None uses ``Image.MAX_IMAGE_PIXELS`` of the
        process running this function (so a Dask or pool worker keeps
        Pillow's default protection unless a number is passed).
    nodata : tuple or None, default=None
        Values left out of their channel (see :func:`dataset_stats`).
    histogram : bool, default=False
        Also count a :class:`PixelHistogram` of the same pixels, returned
        fourth (None when no image was read).

    Returns
    -------
    stats : PixelStats
        Statistics of the good images (empty when there is none).
    skipped : list of (str, str)
        ``(path, reason)`` of the skipped files.
    warned : list of (str, str)
        ``(path, message)`` of the files whose decoder reported problems
        (:class:`DecodeWarning`); they are counted.
    """
    limit = _resolve_max_pixels(max_pixels)
    convert = image_stats_and_histogram if histogram else image_stats
    convert = convert if nodata is None else partial(convert, nodata=nodata)
    stats = PixelStats()
    hist: PixelHistogram | None = None
    skipped: Pairs = []
    warned: Pairs = []
    for path in paths:
        try:
            image, message = decode(path, mode, limit, convert=convert)
        except UnreadableImageError as exc:
            if on_error == "raise":
                raise
            skipped.append((exc.path, exc.reason))
            continue
        if histogram:
            image, counts = image
            hist = merged(hist, counts)
        stats.merge_inplace(image)
        if message:
            warned.append((str(path), message))
    return (stats, skipped, warned, hist) if histogram else (stats, skipped, warned)


def _stats_of_chunk(
    paths: list[str],
    mode: str,
    on_error: OnError,
    max_pixels: int | None,
    nodata: tuple | None = None,
    histogram: bool = False,
) -> tuple:
    """:func:`_stats_of_files` returning the first error as data, not raising it.

    The parent consumes chunks in order, so with ``on_error="raise"`` it reports
    the first bad file of the dataset whatever the order the workers finish in.
    Returns ``(stats, skipped, warned, error, histogram)``.
    """
    try:
        stats, skipped, warned, *hist = _stats_of_files(
            paths,
            mode=mode,
            on_error=on_error,
            max_pixels=max_pixels,
            nodata=nodata,
            histogram=histogram,
        )
    except UnreadableImageError as exc:
        return PixelStats(), [], [], (exc.path, exc.reason), None
    return stats, skipped, warned, None, (hist[0] if hist else None)


def _chunks(paths: list[str], size: int) -> list[list[str]]:
    """Consecutive files in chunks of ``size``; the members of one tar archive
    in one chunk (one worker reads an archive from start to end).

    Examples
    --------
    >>> from sk_pixels.io._archives import ArchiveMember
    >>> shard = [ArchiveMember("s.tar", name, 0, 0) for name in "abc"]
    >>> _chunks(["x", "y", "z", *shard, "w"], 2)
    [['x', 'y'], ['z'], ['s.tar::a', 's.tar::b', 's.tar::c'], ['w']]
    """
    chunks: list[list[str]] = []
    for archive, group in itertools.groupby(
        paths, key=lambda p: getattr(p, "archive", None)
    ):
        group = list(group)
        if archive is not None:
            chunks.append(group)
        else:
            chunks.extend(group[i : i + size] for i in range(0, len(group), size))
    return chunks


def _check_chunk_size(chunk_size: Any, n_files: int, workers: int) -> int:
    if chunk_size is None:
        if workers == 1:
            return 1
        return max(1, min(64, math.ceil(n_files / (8 * workers))))
    if isinstance(chunk_size, bool) or int(chunk_size) != chunk_size or chunk_size < 1:
        raise ValueError(
            f"chunk_size must be a positive integer or None. Got {chunk_size!r}."
        )
    return int(chunk_size)


def dataset_stats(
    source: Source,
    *,
    mode: str = "RGB",
    n_jobs: int | None = 1,
    progress: bool = False,
    on_error: OnError = "raise",
    recursive: bool = True,
    max_pixels: int | None = None,
    chunk_size: int | None = None,
    return_skipped: bool = False,
    client: Any = None,
    backend: str = "threads",
    nodata: Any = None,
    histogram: bool = False,
    sample: float | int | None = None,
    random_state: Any = None,
    error_bars: bool = False,
) -> PixelStats | SampledStats | tuple:
    """Exact per-channel statistics of every image of a dataset, streamed.

    Images are decoded one at a time in ``n_jobs`` worker threads (or
    processes, see ``backend``); each worker accumulates :class:`PixelStats`
    over a chunk of files and sends back only those statistics, which the
    parent merges in file order.
    Memory therefore stays bounded by a few images per worker whatever the
    size of the dataset, and images may have different sizes.

    Parameters
    ----------
    source : str, path-like, or sequence of them
        Folder, glob or files; see :func:`list_images`.
    mode : str, default="RGB"
        One of ``MODES``: "RGB", "BGR", "RGBA", "L", "LA", "I;16", "RGB;16"...
        Mode every image is converted to; see :func:`load_image`.
    n_jobs : int or None, default=1
        Workers; -1 uses all cores, None means 1.
    progress : bool, default=False
        Draw a progress bar on stderr (images done, images/s, ETA).
    on_error : {"raise", "skip"}, default="raise"
        At the first file that cannot be decoded (in file order), raise
        :class:`UnreadableImageError` naming it; or skip such files and report
        them (see ``return_skipped``). A partly decoded image is never counted.
    recursive : bool, default=True
        Descend into sub-folders.
    max_pixels : int or None, default=None
        Size limit per image (decompression bombs); None uses Pillow's
        ``Image.MAX_IMAGE_PIXELS`` as it is when this function is called
        (sent to the workers as a number).
    chunk_size : int or None, default=None
        Files per unit of parallel work; by default about 8 chunks per worker,
        at most 64 files each.
    return_skipped : bool, default=False
        Return ``(stats, skipped)``. Otherwise skipped files are reported with
        one :class:`SkippedImagesWarning`.
    client : distributed.Client, str or None, default=None
        Decode on the workers of a Dask cluster instead of local processes: a
        connected client, or a scheduler address (``"tcp://host:8786"``)
        connected for this call. The workers must read the same paths (a
        shared file system) and have sk_pixels installed; ``n_jobs`` is then
        unused. The result is the same as the local one. Needs
        ``pip install "sk_pixels[dask]"``.
    backend : {"threads", "processes"}, default="threads"
        What the ``n_jobs`` workers are. Pillow releases the GIL while it
        decodes and counts, so threads are as fast as processes and start at
        once (benchmarks/README.md); processes isolate a decoder that may
        crash. Either pool belongs to this call and is shut down after it:
        joblib's global executor (``joblib.Parallel``, ``GridSearchCV``) is
        never touched.
    nodata : float, sequence of float or None, default=None
        A sentinel in pixel units of ``mode`` (one number for all channels, or
        one per channel): values equal to it are left out of the statistics
        of their channel (GDAL's per-band rule), so each channel keeps its own
        exact count. ``float("nan")`` leaves out NaN (``mode="native"``).
    histogram : bool, default=False
        Also count a :class:`~sk_pixels.PixelHistogram` of the same pixels
        (exact per-channel counts for 8- and 16-bit modes; Pillow's own
        histogram for 8-bit modes), for exact percentiles and
        ``fit_stats(stats, histogram=hist)``; the result is then
        ``(stats, hist)``.
    sample : float, int or None, default=None
        Read a random subset of the listed image files: a fraction in (0, 1]
        (rounded to a count, at least 1) or a number of images. The
        statistics are then estimates, returned with their error bars (a
        :class:`SampledStats`). None reads every file.
    random_state : int, numpy.random.Generator or None, default=None
        Seed of the sample: the same seed and the same set of files give the
        same sample whatever ``n_jobs`` and the order the files are listed in.
        None draws a different sample each call.
    error_bars : bool, default=False
        Return a :class:`SampledStats` for a full run too: its error bars say
        how far the dataset's statistics may be from those of the population
        its images come from (and, scaled by ``sqrt(k)``, what ``1/k`` of the
        images would have given).

    Returns
    -------
    stats : PixelStats or SampledStats
        Per-channel statistics in pixel units of ``mode`` (uint8 0-255, or
        uint16 for ``"I;16"``); exact (integer sums), so the result is the
        same to the bit for any ``n_jobs`` and ``chunk_size``. With ``sample``
        or ``error_bars=True``, a :class:`SampledStats` holding these
        statistics (``.stats``) and the standard errors and 95% intervals of
        the per-channel mean and std.
    hist : PixelHistogram
        The histogram of the same pixels, only with ``histogram=True``.
    skipped : list of (str, str)
        ``(path, reason)`` pairs, only with ``return_skipped=True``.

    Raises
    ------
    FileNotFoundError
        The source does not exist or holds no image file.
    UnreadableImageError
        ``on_error="raise"`` and a file cannot be decoded.
    WorkerDiedError
        A worker process died (``backend="processes"``), e.g. a decoder
        crashed; an ``OSError``.
    ValueError
        Every file was skipped.

    Warns
    -----
    DecodeWarning
        One at the end, listing the files whose decoder reported problems
        (what libtiff writes about unknown tags, for example); they are counted.

    See Also
    --------
    PixelStandardizer.fit_stats : fit an estimator from these statistics.

    Examples
    --------
    >>> from sklearn.datasets import load_sample_images
    >>> from sk_pixels import PixelStandardizer
    >>> stats = dataset_stats(load_sample_images().filenames)
    >>> stats.n_images, stats.n_pixels
    (2, 546560)
    >>> stats.mean.round(3), stats.std.round(3)
    (array([ 99.927, 109.524,  98.959]), array([95.103, 76.391, 83.092]))
    >>> PixelStandardizer().fit_stats(stats).mean_.round(3)
    array([ 99.927, 109.524,  98.959])

    Exact percentiles, and a percentile scaler fitted without loading the
    pixels into memory:

    >>> stats, hist = dataset_stats(load_sample_images().filenames, histogram=True)
    >>> hist.percentile([1, 50, 99.8])
    array([[  0.,   4.,   0.],
           [ 73.,  80.,  68.],
           [253., 252., 255.]])
    >>> from sk_pixels import PixelNormalizer
    >>> norm = PixelNormalizer(scope="dataset", quantile_range=(1, 99.8))
    >>> norm.fit_stats(stats, histogram=hist).quantiles_
    array([[  0.,   4.,   0.],
           [253., 252., 255.]])
    """
    if not isinstance(error_bars, bool):
        raise TypeError(f"error_bars must be True or False. Got {error_bars!r}.")
    check_on_error(on_error)
    check_backend(backend)
    entry = check_mode(mode)
    nodata = check_nodata(nodata, None if entry is None else len(entry.channels))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SkippedImagesWarning)
        paths = list_images(source, recursive=recursive)
    passed: Pairs = []  # FIFOs, devices: never opened, reported as skipped
    for record in caught:
        if issubclass(record.category, SkippedImagesWarning):
            passed.extend(record.message.skipped)
        else:
            warnings.warn_explicit(
                record.message, record.category, record.filename, record.lineno
            )
    n_listed, n_sample = len(paths), check_sample(sample, len(paths))
    if n_sample is not None:
        paths = choose_sample(paths, n_sample, random_state)
    moments = [] if n_sample is not None or error_bars else None
    limit = _resolve_max_pixels(max_pixels)
    workers = n_workers(n_jobs, len(paths))
    if workers > 1 and client is None:
        worth = _file_bytes(paths) // MIN_BYTES_PER_WORKER
        workers = max(1, min(workers, worth))
    size = _check_chunk_size(chunk_size, len(paths), workers)
    chunks = _chunks(paths, size)
    args = (mode, on_error, limit, nodata, bool(histogram))
    worker = _stats_of_chunk
    if moments is not None:  # and each image's moments, for the error bars
        worker = partial(per_image_chunk, unit=_stats_of_chunk)
    if client is None:
        results = map_local(worker, chunks, *args, workers=workers, backend=backend)
    else:
        results = map_in_order(client, worker, chunks, *args)

    total = PixelStats()
    hist: PixelHistogram | None = None
    skipped: Pairs = passed
    warned: Pairs = []
    try:
        with progress_bar(len(paths), enabled=progress) as bar:
            for chunk, (
                stats,
                chunk_skipped,
                chunk_warned,
                error,
                counts,
                *more,
            ) in zip(chunks, results):
                if error is not None:
                    raise UnreadableImageError(*error)
                if moments is not None:
                    moments.extend(more[0])
                total.merge_inplace(stats)
                hist = merged(hist, counts)
                skipped.extend(chunk_skipped)
                warned.extend(chunk_warned)
                bar.update(len(chunk))
    finally:
        results.close()  # on an early exit, cancel the chunks not yet started
    if total.input_dtype is None:
        raise ValueError(
            f"All {len(paths)} image files were skipped as unreadable (first: "
            f"{skipped[0][0]!r}: {skipped[0][1]}); no statistics to compute."
        )
    if warned:
        warnings.warn(DecodeWarning(warned), stacklevel=2)
    result = total
    if moments is not None:
        result = cluster_error_bars(
            total, moments, n_total=n_listed, finite_population=n_sample is not None
        )
    parts = (result, hist) if histogram else (result,)
    if return_skipped:
        return (*parts, skipped)
    if skipped:
        warnings.warn(SkippedImagesWarning(skipped), stacklevel=2)
    return parts if histogram else result


def dataset_stats_on_cluster(
    paths: Sequence[str | os.PathLike],
    *,
    client: Any,
    mode: str = "RGB",
    on_error: OnError = "raise",
    worker: Callable | None = None,
    worker_kwargs: dict | None = None,
    n_partitions: int | None = None,
    progress: Callable[[int], None] | None = None,
    histogram: bool = False,
) -> tuple:
    """Decode and accumulate image files on the workers of a Dask cluster.

    The file list is cut into contiguous partitions; each partition is one task
    that decodes its files one at a time and returns their :class:`PixelStats`
    and the files it skipped; the driver merges the statistics in partition
    order. Memory per worker stays bounded by a few images, and the result
    equals the local computation (exactly: pixels are integers).

    Parameters
    ----------
    paths : sequence of str or path-like
        Image files, in a fixed order; the workers must see the same paths
        (a shared or network file system).
    client : distributed.Client or str
        A connected client, or a scheduler address (``"tcp://host:8786"``),
        connected for this call and closed after.
    mode : str, default="RGB"
        Mode the images are read in; see :func:`load_image`.
    on_error : {"raise", "skip"}, default="raise"
        With ``"raise"`` the error of the first bad file in ``paths`` order is
        raised (the remaining partitions are cancelled); ``"skip"`` collects
        the bad files.
    worker : callable, default=None
        ``worker(paths, mode=..., on_error=..., **worker_kwargs)`` returning
        ``(PixelStats, skipped)`` or ``(PixelStats, skipped, warned)``, a
        top-level (importable) function; default the unit of work of
        :func:`dataset_stats`.
    worker_kwargs : dict, default=None
        More keyword arguments for ``worker`` (e.g. ``max_pixels``).
    n_partitions : int, default=None
        Number of tasks; default about 4 per worker thread, with at most 256
        files each.
    progress : callable, default=None
        Called with the number of files of each finished partition, in order.
    histogram : bool, default=False
        Also count a :class:`~sk_pixels.PixelHistogram` of the same pixels, as
        :func:`dataset_stats` does (the same per-partition worker, merged in
        ``paths`` order: equal to the local histogram to the bit); the result
        is then ``(stats, hist, skipped)``. A custom ``worker`` then receives
        ``histogram=True`` and returns the histogram fourth.

    Returns
    -------
    stats : PixelStats
        Statistics of all images (empty if there were none).
    hist : PixelHistogram or None
        The histogram of the same pixels (None if no image was read), only
        with ``histogram=True``.
    skipped : list
        What the worker reported as skipped, in ``paths`` order.

    Raises
    ------
    ValueError
        ``histogram=True`` and ``worker`` returned no histogram.

    Warns
    -----
    DecodeWarning
        As :func:`dataset_stats`.

    Examples
    --------
    Skipped by the doctests (they start no cluster); tests/test_dask.py runs
    the same on a LocalCluster.

    >>> import distributed  # doctest: +SKIP
    >>> from sklearn.datasets import load_sample_images  # doctest: +SKIP
    >>> paths = load_sample_images().filenames  # doctest: +SKIP
    >>> with distributed.Client(processes=False) as client:  # doctest: +SKIP
    ...     stats, hist, skipped = dataset_stats_on_cluster(
    ...         paths, client=client, histogram=True
    ...     )
    >>> hist.percentile([50])  # doctest: +SKIP
    array([[73., 80., 68.]])
    """
    client, owned = connect(client)
    try:
        paths = [str(p) for p in paths]
        if n_partitions is None:
            n_partitions = max(
                cluster_threads(client) * PARTITIONS_PER_THREAD,
                math.ceil(len(paths) / MAX_PARTITION),
            )
        parts = partition(paths, n_partitions)
        kwargs = {**(worker_kwargs or {}), **({"histogram": True} if histogram else {})}
        results = map_in_order(
            client,
            worker or _stats_of_files,
            parts,
            items_per_task=1,
            mode=mode,
            on_error=on_error,
            **kwargs,
        )
        total, hist, skipped, warned = PixelStats(), None, [], []
        try:
            # In order: the first failing partition holds the first bad file,
            # and float statistics (if any) merge in a reproducible order.
            for part, (stats, part_skipped, *more) in zip(parts, results, strict=True):
                total.merge_inplace(stats)
                skipped.extend(part_skipped)
                warned.extend(more[0] if more else [])  # a worker may not report
                if histogram and len(more) < 2:
                    raise ValueError(
                        f"histogram=True, but worker {worker!r:.80} returned "
                        f"{2 + len(more)} values without a histogram. Return "
                        "(stats, skipped, warned, histogram) when called with "
                        "histogram=True, as the default worker does."
                    )
                hist = merged(hist, more[1]) if histogram else None
                if progress is not None:
                    progress(len(part))
        finally:
            results.close()
    finally:
        if owned:
            client.close()
    if warned:
        warnings.warn(DecodeWarning(warned), stacklevel=2)
    return (total, hist, skipped) if histogram else (total, skipped)
