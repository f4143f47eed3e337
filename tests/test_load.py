"""Load: concurrent transforms, and dataset_stats memory flat in the number of images.

- Many threads sharing one fitted estimator get exactly the results of a serial
  run, and the estimator is left unchanged (``transform`` keeps no state).
- ``dataset_stats`` over 20,000 small PNGs peaks at the same memory as over
  2,000: the peak RSS of a fresh process is compared for the two folders (run
  side by side), so retained pixels (3 KiB a decoded image, 60 MiB for 20,000)
  would show, while the per-file bookkeeping (a path string) stays in the noise.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import joblib
import numpy as np
import pytest
from numpy.testing import assert_array_equal
from PIL import Image

from sk_pixels import PixelCenterer, PixelNormalizer, PixelStandardizer, PixelStats

REPO = Path(__file__).resolve().parents[1]

N_THREADS = 16
N_SMALL, N_LARGE = 2_000, 20_000
#: Largest accepted ratio of the peak RSS at 20,000 images to that at 2,000.
MAX_RSS_RATIO = 1.15


# -- thread safety ---------------------------------------------------------------------
def _batches():
    rng = np.random.default_rng(0)
    out = []
    for k in range(24):
        shape = (1 + k % 3, 5 + k % 7, 6 + k % 5, 3)
        out.append(rng.integers(0, 256, shape, dtype=np.uint8))
    return out


THREADED = {
    "standardizer": PixelStandardizer(),
    "standardizer-positive-global": PixelStandardizer(
        per_channel=False, clip=1.0, rescale=True
    ),
    "standardizer-image": PixelStandardizer(scope="image"),
    "centerer-imagenet": PixelCenterer(mean="imagenet", normalize=True),
    "normalizer-batch": PixelNormalizer(scope="batch"),
    "normalizer-domain": PixelNormalizer(feature_range=(-1, 1)),
}


@pytest.fixture
def fast_switching():
    """Switch threads every microsecond to make interleavings likely."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


@pytest.mark.parametrize("est_id", list(THREADED))
def test_transform_is_thread_safe(est_id, fast_switching, request):
    request.node.user_properties.append(("threads", N_THREADS))
    batches = _batches()
    estimator = THREADED[est_id].fit(np.concatenate([b[:, :5, :6] for b in batches]))
    state = joblib.hash(estimator)
    serial = [estimator.transform(b) for b in batches]
    jobs = [(k, r) for r in range(8) for k in range(len(batches))]
    with ThreadPoolExecutor(max_workers=N_THREADS) as pool:
        results = list(
            pool.map(lambda job: (job[0], estimator.transform(batches[job[0]])), jobs)
        )
    for k, out in results:
        assert_array_equal(out, serial[k])
    assert joblib.hash(estimator) == state  # transform left no trace


@pytest.mark.parametrize(
    "est_id", ["standardizer", "centerer-imagenet", "normalizer-domain"]
)
def test_inverse_transform_is_thread_safe(est_id, fast_switching):
    batches = _batches()
    estimator = THREADED[est_id].fit(batches[0])
    scaled = [estimator.transform(b) for b in batches]
    serial = [estimator.inverse_transform(s, restore_dtype=True) for s in scaled]
    with ThreadPoolExecutor(max_workers=N_THREADS) as pool:
        results = list(
            pool.map(
                lambda s: estimator.inverse_transform(s, restore_dtype=True), scaled * 4
            )
        )
    for k, out in enumerate(results):
        assert_array_equal(out, serial[k % len(scaled)])


def test_pixel_stats_from_threads_merge_to_the_serial_result(fast_switching):
    batches = _batches()
    with ThreadPoolExecutor(max_workers=N_THREADS) as pool:
        parts = list(pool.map(PixelStats.from_array, batches * 4))
    merged = PixelStats()
    for part in parts:
        merged = merged + part
    serial = PixelStats()
    for b in batches * 4:
        serial.update(b)
    assert merged == serial


# -- dataset_stats memory over 20,000 images -------------------------------------------
_MEASURE = r"""
import json, resource, sys
from sk_pixels.io import dataset_stats
stats = dataset_stats(sys.argv[1], n_jobs=1)
print(json.dumps({
    "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "n_images": stats.n_images,
    "sum": [int(s) for s in stats.sum],
}))
"""


@pytest.fixture(scope="session")
def png_folders(tmp_path_factory):
    """2,000 and 20,000 32x32 RGB PNGs: 10 distinct files, the rest hard links.

    (Creating 22,000 real files costs seconds on slow disks; links cost
    microseconds, and every path is still opened and decoded on its own.)
    """
    root = tmp_path_factory.mktemp("load")
    yy, xx = np.mgrid[0:32, 0:32]
    blobs, arrays = [], []
    for k in range(10):
        array = np.stack(
            [(xx * 8 + k) % 256, (yy * 8) % 256, np.full_like(xx, 17 * k)], -1
        ).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format="PNG")
        originals = root / "originals"
        originals.mkdir(exist_ok=True)
        (originals / f"{k}.png").write_bytes(buffer.getvalue())
        blobs.append(originals / f"{k}.png")
        arrays.append(array)
    folders = {}
    for n in (N_SMALL, N_LARGE):
        folder = root / f"n{n}"
        for i in range(n):
            sub = folder / f"{i // 1000:02d}"
            if i % 1000 == 0:
                sub.mkdir(parents=True)
            os.link(blobs[i % 10], sub / f"{i:05d}.png")
        folders[n] = folder
    return folders, arrays


@pytest.mark.slow
def test_dataset_stats_peak_memory_flat_from_2000_to_20000_images(png_folders, request):
    folders, arrays = png_folders
    env = dict(os.environ, PYTHONPATH=str(REPO))
    procs = {
        n: subprocess.Popen(
            [sys.executable, "-c", _MEASURE, str(folders[n])],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for n in (N_SMALL, N_LARGE)
    }
    results = {}
    for n, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        results[n] = json.loads(out)
    # Exact statistics: every image counted once, integer sums exact.
    per_ten = [
        sum(int(a[..., c].sum(dtype=np.int64)) for a in arrays) for c in range(3)
    ]
    for n, result in results.items():
        assert result["n_images"] == n
        assert result["sum"] == [s * (n // 10) for s in per_ten]
    ratio = results[N_LARGE]["peak_kib"] / results[N_SMALL]["peak_kib"]
    # Reported in the README's "Tested against" block (tests/_tested_against.py).
    request.node.user_properties += [
        ("peak_rss_ratio", round(ratio, 3)),
        ("n_images_small", N_SMALL),
        ("n_images_large", N_LARGE),
    ]
    assert ratio <= MAX_RSS_RATIO, results
