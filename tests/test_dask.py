"""Dask: fit arrays larger than memory, transform lazily, folder stats on a cluster.

The first half runs on Dask's threaded scheduler; the second on a real
``distributed.LocalCluster`` of two worker processes on 127.0.0.1, started once
for the module.
"""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError

from sk_pixels import PixelCenterer, PixelNormalizer, PixelStandardizer, PixelStats

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

from sk_pixels._backends import _dask  # noqa: E402  (after the importorskip)

ESTIMATORS = [
    PixelStandardizer(),
    PixelStandardizer(per_channel=False, ddof=1),
    PixelStandardizer(clip=1.0, rescale=True),
    PixelCenterer(normalize=True),
    PixelNormalizer(scope="dataset", feature_range=(-1, 1)),
]
IDS = ["standardizer", "global-ddof1", "positive", "centerer", "minmax"]


@pytest.fixture
def threads():
    with dask.config.set(scheduler="threads"):
        yield


def _images(rng, dtype, shape=(53, 6, 5, 3)):
    if np.dtype(dtype).kind == "f":
        return rng.random(shape).astype(dtype)
    return rng.integers(0, np.iinfo(dtype).max, size=shape, dtype=dtype, endpoint=True)


def _assert_same_fit(dask_fitted, memory_fitted, exact):
    compare = (
        assert_array_equal
        if exact
        else (lambda a, b: assert_allclose(a, b, rtol=1e-12, atol=1e-12))
    )
    for name, value in vars(memory_fitted).items():
        if name.endswith("_") and not name.startswith("_"):
            other = getattr(dask_fitted, name)
            if isinstance(value, (np.ndarray, np.generic)):
                # Plain NumPy, not Dask.
                assert isinstance(other, (np.ndarray, np.generic)), name
                compare(other, value)
            elif isinstance(value, PixelStats):
                if exact:
                    assert other == value
                else:
                    compare(other.mean, value.mean)
                    compare(other.var, value.var)
            else:
                assert other == value, name


# -- threaded scheduler -------------------------------------------------------------
@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
def test_fit_dask_equals_fit_in_memory(threads, rng, estimator, dtype):
    X = _images(rng, dtype)
    # Chunks split the images too: they are rechunked to whole images.
    Xd = da.from_array(X, chunks=(7, 4, 5, 2))
    fitted = estimator.__class__(**estimator.get_params()).fit(Xd)
    reference = estimator.__class__(**estimator.get_params()).fit(X)
    _assert_same_fit(fitted, reference, exact=dtype != "float32")


@pytest.mark.parametrize(
    "shape, params",
    [
        ((20, 3, 6, 5), {"channel_axis": 1}),
        ((20, 6, 5), {}),
        ((20, 90), {"image_shape": (6, 5, 3)}),
        ((20, 90), {}),
    ],
    ids=["NCHW", "gray", "flat-image_shape", "flat"],
)
def test_fit_transform_layouts(threads, rng, shape, params):
    X = _images(rng, "uint8", shape)
    Xd = da.from_array(X, chunks=(6,) + tuple(max(1, s // 2) for s in shape[1:]))
    fitted = PixelStandardizer(**params).fit(Xd)
    reference = PixelStandardizer(**params).fit(X)
    _assert_same_fit(fitted, reference, exact=True)
    out = fitted.transform(Xd)
    assert out.chunks == Xd.chunks
    assert_array_equal(out.compute(), reference.transform(X))


def test_partial_fit_mixes_dask_and_numpy_batches(threads, rng):
    X = _images(rng, "uint16")
    streamed = PixelStandardizer()
    streamed.partial_fit(da.from_array(X[:20], chunks=6))
    streamed.partial_fit(X[20:30])
    streamed.partial_fit(da.from_array(X[30:], chunks=11))
    _assert_same_fit(streamed, PixelStandardizer().fit(X), exact=True)


def test_fit_unknown_chunk_sizes(threads, rng):
    X = _images(rng, "uint8")
    keep = X[:, 0, 0, 0] > 100
    Xd = da.from_array(X, chunks=10)[da.from_array(keep, chunks=10)]
    assert np.isnan(Xd.shape[0])
    fitted = PixelStandardizer().fit(Xd)
    _assert_same_fit(fitted, PixelStandardizer().fit(X[keep]), exact=True)
    assert_array_equal(fitted.transform(Xd).compute(), fitted.transform(X[keep]))
    split = da.from_array(X, chunks=(10, 3, 5, 3))[da.from_array(keep, chunks=10)]
    assert_array_equal(fitted.transform(split).compute(), fitted.transform(X[keep]))


def test_ragged_list_of_dask_images_shares_the_batch_percentiles(threads, rng):
    images = [
        rng.integers(0, 200, shape, dtype=np.uint8) for shape in [(5, 6, 3), (4, 7, 3)]
    ]
    scaler = PixelNormalizer(scope="batch", quantile_range=(5, 95))
    expected = scaler.fit_transform(images)
    got = scaler.fit_transform([da.from_array(image) for image in images])
    assert all(isinstance(g, da.Array) for g in got)
    for g, e in zip(got, expected, strict=True):
        assert_array_equal(g.compute(), e)


def test_stateless_scope_counts_unknown_chunks_and_checks_float_units(threads, rng):
    X = _images(rng, "uint8").astype(np.float32)
    Xd = da.from_array(X, chunks=10)[da.from_array(X[:, 0, 0, 0] > 100, chunks=10)]
    assert np.isnan(Xd.shape[0])
    with pytest.warns(UserWarning, match=r"max value 2\d\d.*assumes float pixels"):
        fitted = PixelNormalizer(scope="domain").fit(Xd)
    assert fitted.n_samples_seen_ == int((X[:, 0, 0, 0] > 100).sum())


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
def test_transform_is_lazy_with_same_chunks(threads, rng, estimator):
    X = _images(rng, "uint8")
    Xd = da.from_array(X, chunks=(10, 6, 5, 3))
    fitted = estimator.__class__(**estimator.get_params()).fit(Xd)
    from dask.callbacks import Callback

    started = []
    with Callback(start=lambda dsk: started.append(len(dsk))):
        out = fitted.transform(Xd)
    assert started == []  # nothing computed yet
    assert isinstance(out, da.Array) and out.chunks == Xd.chunks
    assert out.dtype == np.float32
    assert_array_equal(out.compute(), fitted.transform(X))


def test_lazy_transform_keeps_the_model_it_was_built_with(threads, rng):
    X = _images(rng, "uint8")
    Xd = da.from_array(X, chunks=10)
    scaler = PixelStandardizer().fit(X)
    expected = scaler.transform(X)
    lazy, lazy_inverse = scaler.transform(Xd), scaler.inverse_transform(Xd)
    inverse = scaler.inverse_transform(X)
    scaler.fit(X // 3)  # refitted before compute()
    assert_array_equal(lazy.compute(), expected)
    assert_array_equal(lazy_inverse.compute(), inverse)


@pytest.mark.parametrize("scope", ["batch", "image"])
@pytest.mark.parametrize("per_channel", [True, False])
def test_batch_is_the_whole_array_image_is_blockwise(threads, rng, scope, per_channel):
    X = _images(rng, "uint8")
    X[:10] //= 4  # chunks with different statistics: a chunk is not the batch
    Xd = da.from_array(X, chunks=(10, 6, 5, 3))
    for estimator in (
        PixelStandardizer(scope=scope, per_channel=per_channel),
        PixelNormalizer(scope=scope, per_channel=per_channel),
    ):
        out = estimator.fit_transform(Xd)
        assert out.chunks == Xd.chunks
        assert_array_equal(out.compute(), estimator.fit_transform(X))


def test_inverse_transform_roundtrip(threads, rng):
    X = _images(rng, "uint8")
    Xd = da.from_array(X, chunks=(9, 3, 5, 3))
    fitted = PixelStandardizer().fit(Xd)
    scaled = fitted.transform(Xd)
    back = fitted.inverse_transform(scaled)
    assert isinstance(back, da.Array) and back.chunks == Xd.chunks
    assert_allclose(back.compute(), X, atol=1e-4)
    restored = fitted.inverse_transform(scaled, restore_dtype=True)
    assert restored.dtype == np.uint8
    assert_array_equal(restored.compute(), X)


def test_errors_match_in_memory(threads, rng):
    X = _images(rng, "uint8")
    fitted = PixelStandardizer().fit(da.from_array(X, chunks=10))
    with pytest.raises(
        ValueError,
        match="X has 4 channels, but PixelStandardizer is expecting 3 channels",
    ):
        fitted.transform(da.zeros((4, 6, 5, 4), dtype=np.uint8, chunks=2))
    with pytest.raises(ValueError, match="dtype bool"):
        PixelStandardizer().fit(da.zeros((4, 6, 5, 3), dtype=bool, chunks=2))
    with pytest.raises(NotFittedError):
        PixelStandardizer().transform(da.from_array(X, chunks=10))
    assert not hasattr(PixelStandardizer(scope="image"), "inverse_transform")
    with pytest.raises(ValueError, match="0 sample"):
        PixelStandardizer().fit(da.zeros((0, 6, 5, 3), dtype=np.uint8, chunks=2))
    none_kept = da.from_array(X, chunks=10)[da.from_array(X[:, 0, 0, 0] > 255)]
    for estimator in (PixelStandardizer(), PixelNormalizer(scope="domain")):
        with pytest.raises(ValueError, match=r"0 sample\(s\)"):
            estimator.fit(none_kept)  # unknown chunk sizes: empty once computed
    with pytest.raises(ValueError, match="got scalar array"):
        PixelStandardizer().fit(da.from_array(np.float32(3)))
    unknown_width = da.from_array(X, chunks=10)[:, da.from_array(np.arange(6) > 1)]
    with pytest.raises(ValueError, match=r"unknown image dimensions.*compute_chunk"):
        PixelStandardizer().fit(unknown_width)
    bad = X.astype(np.float32)
    bad[37, 1, 1, 1] = np.inf  # in the fourth chunk: raised from the chunk's task
    with pytest.raises(ValueError, match="infinity"):
        PixelStandardizer().fit(da.from_array(bad, chunks=10))


def test_graph_reads_each_chunk_once_and_never_concatenates(rng):
    X = da.zeros((400, 8, 8, 3), dtype=np.uint8, chunks=(10, 8, 8, 3))
    graph = dict(_dask.stats_graph(X, (-1, None)).__dask_graph__())
    names = [key[0] if isinstance(key, tuple) else key for key in graph]
    assert sum(name.startswith("pixel_stats_chunk") for name in names) == 40
    # A tree of fan-in 8: 40 -> 5 -> 1 merges.
    assert sum(name.startswith("pixel_stats_merge") for name in names) == 6
    assert not any("concatenate" in name or "rechunk" in name for name in names)


def test_partition_is_contiguous_and_balanced():
    from sk_pixels.io._executors import partition

    parts = partition(list(range(10)), 4)
    assert parts == [[0, 1, 2], [3, 4, 5], [6, 7], [8, 9]]
    assert partition([1, 2], 5) == [[1], [2]]
    assert partition([], 3) == []


def test_sk_pixels_works_without_dask():
    code = (
        "import sys; sys.modules['dask'] = None; sys.modules['distributed'] = None\n"
        "import numpy as np, sk_pixels\n"
        "X = np.arange(24, dtype=np.uint8).reshape(2, 2, 2, 3)\n"
        "print(sk_pixels.PixelStandardizer().fit(X).transform(X).shape)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "(2, 2, 2, 3)" in result.stdout


# -- a real cluster: two worker processes on 127.0.0.1 ---------------------------------
@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        # Port 0: the OS picks a free dashboard port. None still binds the
        # default 8787, and a second cluster on the machine (another test run)
        # then makes distributed's "Port 8787 is already in use" warning an
        # error under filterwarnings = error.
        dashboard_address="127.0.0.1:0",
    )
    with distributed.Client(cluster) as client:
        # Warm the workers up (imports), so that memory measured later is the fit's.
        PixelStandardizer().fit(da.zeros((8, 4, 4, 3), dtype=np.uint8, chunks=2))
        yield client
    cluster.close()


def _worker_memory(client, reset_peak: bool = False) -> list[tuple[float, float]]:
    """(current, peak) resident memory of each worker process, in MiB (Linux).

    With ``reset_peak``, the kernel's peak (``VmHWM``) is reset first by
    writing 5 to ``/proc/self/clear_refs``, so that the next peak read is the
    peak of what ran in between.
    """

    def read(reset):  # nested: pickled by value, nothing to import on workers
        if reset:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        fields = {}
        with open("/proc/self/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields[key] = value
        return int(fields["VmRSS"].split()[0]) / 1024, int(
            fields["VmHWM"].split()[0]
        ) / 1024

    return list(client.run(read, reset_peak).values())


@pytest.mark.slow
def test_cluster_fit_10000_images_exact_and_memory_bounded(client):
    """The issue's "done when": 10,000 uint8 64x64 RGB images in 40 chunks."""
    shape, chunk = (10_000, 64, 64, 3), 250
    X = da.random.default_rng(7).integers(
        0, 256, size=shape, chunks=(chunk, 64, 64, 3), dtype=np.uint8
    )
    assert X.numblocks[0] == 40
    chunk_mib = chunk * 64 * 64 * 3 / 2**20  # 2.9 MiB
    try:
        before = _worker_memory(client, reset_peak=True)
    except OSError:  # not Linux: no peak to reset
        before = None
    start = time.perf_counter()
    fitted = PixelStandardizer().fit(X)
    elapsed = time.perf_counter() - start
    if before is not None:
        after = _worker_memory(client)
        grown = [peak - current for (current, _), (_, peak) in zip(before, after)]
        print(
            f"\nLocalCluster fit of {shape} uint8 in 40 chunks: {elapsed:.2f} s; peak "
            f"RSS above the idle worker: {', '.join(f'{g:.1f}' for g in grown)} MiB "
            f"(one chunk {chunk_mib:.1f} MiB, half the array {20 * chunk_mib:.0f} MiB)"
        )
        # Each worker processes half the array; its memory stays at a few chunks.
        assert max(grown) < 6 * chunk_mib
    assert isinstance(fitted.mean_, np.ndarray) and fitted.n_samples_seen_ == 10_000
    reference = PixelStandardizer().fit(X.compute())
    _assert_same_fit(fitted, reference, exact=True)


def test_cluster_transform_and_batch_scope(client, rng):
    X = _images(rng, "uint8", (60, 8, 8, 3))
    Xd = da.from_array(X, chunks=(15, 8, 8, 3))
    fitted = PixelStandardizer().fit(Xd)
    assert_array_equal(fitted.transform(Xd).compute(), fitted.transform(X))
    batch = PixelCenterer(scope="batch")
    assert_array_equal(batch.fit_transform(Xd).compute(), batch.fit_transform(X))


# -- folder statistics on the cluster ----------------------------------------------
@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    from PIL import Image

    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(3)
    paths = []
    for k in range(12):
        size = (8 + k, 10 + 2 * k, 3)
        path = folder / f"img{k:02d}.png"
        Image.fromarray(rng.integers(0, 256, size, dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


def test_dataset_stats_on_cluster_equals_local(client, image_folder):
    io = pytest.importorskip("sk_pixels.io")
    stats, skipped = io.dataset_stats_on_cluster(
        image_folder, client=client, n_partitions=5
    )
    local = io.dataset_stats(image_folder)
    assert skipped == [] and stats == local and stats.n_images == 12


def test_dataset_stats_on_cluster_bad_files(client, image_folder, tmp_path):
    io = pytest.importorskip("sk_pixels.io")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    paths = image_folder[:5] + [str(empty)] + image_folder[5:] + [str(text)]
    done = []
    stats, skipped = io.dataset_stats_on_cluster(
        paths, client=client, on_error="skip", n_partitions=4, progress=done.append
    )
    assert [path for path, _ in skipped] == [str(empty), str(text)]
    assert stats == io.dataset_stats(image_folder) and sum(done) == len(paths)
    with pytest.raises(io.UnreadableImageError, match="empty.png"):
        io.dataset_stats_on_cluster(paths, client=client, n_partitions=4)


@pytest.mark.parametrize("mode", ["RGB", "I;16"], ids=["pillow-8-bit", "array-16-bit"])
def test_dataset_stats_on_cluster_histogram_equals_single_process(
    client, image_folder, tmp_path, mode
):
    io = pytest.importorskip("sk_pixels.io")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    paths = image_folder[:7] + [str(empty)] + image_folder[7:]
    stats, hist, skipped = io.dataset_stats_on_cluster(
        paths,
        client=client,
        mode=mode,
        on_error="skip",
        n_partitions=5,
        histogram=True,
    )
    local_stats, local_hist = io.dataset_stats(image_folder, mode=mode, histogram=True)
    assert hist == local_hist and stats == local_stats  # the same counts, to the bit
    assert [path for path, _ in skipped] == [str(empty)]
    assert hist.input_dtype == ("uint8" if mode == "RGB" else "uint16")
    assert hist.counts.sum() == stats.n_pixels * (3 if mode == "RGB" else 1)


def test_dataset_stats_on_cluster_histogram_leaves_nodata_out(client, image_folder):
    io = pytest.importorskip("sk_pixels.io")
    _, hist, _ = io.dataset_stats_on_cluster(
        image_folder, client=client, histogram=True, worker_kwargs={"nodata": (0,)}
    )
    _, local = io.dataset_stats(image_folder, histogram=True, nodata=0)
    assert hist == local and hist.counts[:, 0].tolist() == [0, 0, 0]


def test_dataset_stats_on_cluster_histogram_of_no_image_is_none(client, tmp_path):
    io = pytest.importorskip("sk_pixels.io")
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    stats, hist, skipped = io.dataset_stats_on_cluster(
        [bad], client=client, on_error="skip", histogram=True
    )
    assert hist is None and stats.input_dtype is None and len(skipped) == 1


def test_dataset_stats_on_cluster_histogram_needs_a_worker_that_counts_one(
    client, image_folder
):
    io = pytest.importorskip("sk_pixels.io")

    def no_histogram(paths, **kwargs):  # pickled by value for the workers
        return PixelStats(), []

    with pytest.raises(ValueError, match="returned 2 values without a histogram"):
        io.dataset_stats_on_cluster(
            image_folder[:2], client=client, worker=no_histogram, histogram=True
        )


def test_dataset_stats_on_cluster_by_address(client, image_folder):
    io = pytest.importorskip("sk_pixels.io")
    address = client.scheduler.address
    stats, _ = io.dataset_stats_on_cluster(image_folder[:3], client=address)
    assert stats.n_images == 3


# -- the public entry points: dataset_stats(client=...) and sk-pixels stats --scheduler
def _has_client_parameter() -> bool:
    import inspect

    from sk_pixels import io

    return "client" in inspect.signature(io.dataset_stats).parameters


needs_client_parameter = pytest.mark.skipif(
    not _has_client_parameter(), reason="sk_pixels.io.dataset_stats has no client="
)


@needs_client_parameter
def test_dataset_stats_client_is_checked_before_any_work(tmp_path, monkeypatch):
    from PIL import Image

    from sk_pixels.io import dataset_stats

    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(tmp_path / "a.png")
    with pytest.raises(TypeError, match="client must be a distributed.Client .* int"):
        dataset_stats(tmp_path, client=3)
    monkeypatch.setitem(sys.modules, "distributed", None)  # not installed
    with pytest.raises(ImportError, match=r"pip install \"sk_pixels\[dask\]\""):
        dataset_stats(tmp_path, client="tcp://scheduler:8786")


@pytest.fixture(scope="module")
def jpeg_folder(tmp_path_factory):
    from .image_files import mixed_jpeg_folder

    root = tmp_path_factory.mktemp("cluster_jpegs")
    mixed_jpeg_folder(root, 120, seed=11)
    return root


@needs_client_parameter
def test_dataset_stats_with_client_equals_local(client, jpeg_folder):
    from sk_pixels.io import dataset_stats

    local = dataset_stats(jpeg_folder)
    assert dataset_stats(jpeg_folder, client=client) == local
    address = client.scheduler.address
    assert dataset_stats(jpeg_folder, client=address, chunk_size=7) == local


@needs_client_parameter
def test_dataset_stats_histogram_with_client_equals_local(client, jpeg_folder):
    from sk_pixels.io import dataset_stats

    local = dataset_stats(jpeg_folder, mode="L", histogram=True)
    remote = dataset_stats(
        jpeg_folder, mode="L", histogram=True, client=client, chunk_size=7
    )
    assert remote[0] == local[0] and remote[1] == local[1]


def _run_cli(capsys, *argv):
    from sk_pixels.cli import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@needs_client_parameter
def test_cli_stats_scheduler_equals_local(client, capsys, jpeg_folder):
    """The issue's "done when": ``stats DIR --scheduler ADDRESS`` == ``stats DIR``."""
    address = client.scheduler.address
    local = _run_cli(capsys, "stats", jpeg_folder, "--json", "-")
    remote = _run_cli(
        capsys, "stats", jpeg_folder, "--scheduler", address, "--json", "-"
    )
    assert local[0] == remote[0] == 0
    assert remote[1] == local[1]
    text_local = _run_cli(capsys, "stats", jpeg_folder)[1]
    assert (
        _run_cli(capsys, "stats", jpeg_folder, "--scheduler", address)[1] == text_local
    )


@needs_client_parameter
def test_cli_stats_scheduler_bad_files(client, capsys, tmp_path):
    from .image_files import bad_folder

    bad_folder(tmp_path / "bad")
    address = client.scheduler.address
    local = _run_cli(
        capsys, "stats", tmp_path / "bad", "--on-error", "skip", "--json", "-"
    )
    remote = _run_cli(
        capsys,
        "stats",
        tmp_path / "bad",
        "--on-error",
        "skip",
        "--json",
        "-",
        "--scheduler",
        address,
    )
    assert remote[:2] == local[:2] and remote[0] == 0
    code, out, err = _run_cli(capsys, "stats", tmp_path / "bad", "--scheduler", address)
    assert code == 1 and out == ""
    assert "b_bomb.png" in err and "decompression bomb" in err
    assert len(err.strip().splitlines()) == 1
