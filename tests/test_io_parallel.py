"""Parallel folder statistics that never get in the way (issue 10, item 5).

``dataset_stats(n_jobs>1)`` owns its pool: joblib's global executor, which
``joblib.Parallel`` and ``GridSearchCV(n_jobs=...)`` reuse, is left as it was;
a worker process that dies is one clear error; the result does not depend on
the backend or the number of workers.
"""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from sk_pixels import PixelStandardizer
from sk_pixels.cli import main
from sk_pixels.io import WorkerDiedError, _dataset, _executors, dataset_stats

from .image_files import mixed_jpeg_folder

BACKENDS = ["threads", "processes"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("parallel")
    mixed_jpeg_folder(root, 40)
    return root


@pytest.fixture
def always_parallel(monkeypatch):
    """Let a small test folder use every worker it asks for."""
    monkeypatch.setattr(_dataset, "MIN_BYTES_PER_WORKER", 1)


def _square(x: int) -> int:
    return x * x


def _die(x: int) -> int:
    if x == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return x


@pytest.mark.parametrize("backend", BACKENDS)
def test_joblib_and_gridsearch_work_after_parallel_dataset_stats(
    folder, always_parallel, backend
):
    from joblib import Parallel, delayed
    from sklearn.datasets import load_digits
    from sklearn.linear_model import RidgeClassifier
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    dataset_stats(folder, n_jobs=2, backend=backend)
    assert Parallel(n_jobs=2)(delayed(_square)(k) for k in range(6)) == [
        0,
        1,
        4,
        9,
        16,
        25,
    ]
    X, y = load_digits(return_X_y=True)
    search = GridSearchCV(
        make_pipeline(
            PixelStandardizer(channel_axis=None, image_shape=(8, 8), max_value=16),
            RidgeClassifier(),
        ),
        {"ridgeclassifier__alpha": [0.1, 1.0]},
        cv=2,
        n_jobs=2,
    )
    search.fit(X[:200], y[:200])
    assert search.best_score_ > 0.5
    dataset_stats(folder, n_jobs=2, backend=backend)  # and again after joblib


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n_jobs", [2, 3])
def test_parallel_stats_equal_serial_to_the_bit(
    folder, always_parallel, backend, n_jobs
):
    serial = dataset_stats(folder, n_jobs=1)
    parallel = dataset_stats(folder, n_jobs=n_jobs, backend=backend, chunk_size=3)
    assert parallel.to_dict() == serial.to_dict()
    assert_array_equal(parallel.mean, serial.mean)


def test_one_worker_maps_every_item_in_order_in_this_thread():
    import threading

    here = threading.get_ident()
    results = _executors.map_local(
        lambda k, add: (k + add, threading.get_ident()), range(4), 10, workers=1
    )
    assert list(results) == [(k + 10, here) for k in range(4)]


def test_dead_worker_process_is_one_clear_error():
    results = _executors.map_local(_die, range(8), workers=2, backend="processes")
    with pytest.raises(WorkerDiedError, match="worker process died.*n_jobs=1"):
        list(results)


def test_cli_dead_worker_is_one_line_and_exit_1(folder, monkeypatch, capsys):
    def dead(*args, **kwargs):
        raise WorkerDiedError("a worker process died abruptly (SIGKILL)")
        yield  # a generator, as map_local is

    monkeypatch.setattr(_dataset, "map_local", dead)
    assert main(["stats", str(folder), "--jobs", "2", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "worker process died" in err


def test_small_folder_is_read_in_this_thread(folder, monkeypatch):
    """20 thumbnails: one more worker costs more than it saves (benchmarks/README)."""
    seen = []
    real = _dataset.map_local

    def spy(*args, workers, **kwargs):
        seen.append(workers)
        return real(*args, workers=workers, **kwargs)

    monkeypatch.setattr(_dataset, "map_local", spy)
    dataset_stats(folder, n_jobs=2)
    assert seen == [1]


@pytest.mark.parametrize(
    "backend, match",
    [("loky", "backend must be one of"), ("", "backend must be one of")],
)
def test_unknown_backend_is_refused(folder, backend, match):
    with pytest.raises(ValueError, match=match):
        dataset_stats(folder, backend=backend)


def test_default_n_jobs_result_is_finite(folder):
    stats = dataset_stats(folder, n_jobs=-1)
    assert np.isfinite(stats.mean).all()
