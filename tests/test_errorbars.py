"""Sampled dataset statistics and their error bars (sk_pixels/_errorbars.py,
sk_pixels/io/_sampling.py, ``dataset_stats(sample=, error_bars=)``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sk_pixels import PixelStats
from sk_pixels._errorbars import cluster_error_bars, image_moments, t_quantile_975
from sk_pixels.io import SampledStats, _dataset, dataset_stats

from ._outcomes import OK, Raises, check
from .image_files import mixed_jpeg_folder


# -- the estimator, on synthetic images -----------------------------------------------
def _population(n_images: int, seed: int, offset: float = 0.0) -> list[PixelStats]:
    """Per-image statistics of images of mixed sizes whose brightness and
    contrast vary between images (so pixels within an image are correlated)."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(n_images):
        h, w = rng.integers(4, 17, size=2)
        level = rng.normal(120, 30, size=3)
        contrast = rng.gamma(4.0, 6.0)
        pixels = level + contrast * rng.standard_normal((1, h, w, 3))
        images.append(PixelStats.from_array(offset + pixels))
    return images


def _bars(images: list[PixelStats], n_total: int, finite: bool) -> SampledStats:
    merged = PixelStats()
    for image in images:
        merged.merge_inplace(image)
    moments = np.stack([image_moments(image) for image in images])
    return cluster_error_bars(
        merged, moments, n_total=n_total, finite_population=finite
    )


def test_95_percent_intervals_cover_the_full_data_value_95_percent_of_the_time():
    population = _population(300, seed=0)
    full = _bars(population, 300, finite=False)
    runs, sample_size = 200, 40
    covered_mean = covered_std = 0
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        picked = [population[i] for i in rng.choice(300, sample_size, replace=False)]
        bars = _bars(picked, 300, finite=True)
        lo, hi = bars.mean_ci
        covered_mean += np.sum((lo <= full.mean) & (full.mean <= hi))
        lo, hi = bars.std_ci
        covered_std += np.sum((lo <= full.std) & (full.std <= hi))
    # 3 channels x 200 runs; binomial(600, 0.95) lies in this band w.p. > 0.999.
    assert 0.90 <= covered_mean / (3 * runs) <= 0.99
    assert 0.90 <= covered_std / (3 * runs) <= 0.99


def test_mean_se_of_equal_sized_images_is_the_se_of_their_means():
    rng = np.random.default_rng(1)
    images = [PixelStats.from_array(rng.normal(size=(1, 5, 5, 2))) for _ in range(9)]
    bars = _bars(images, 30, finite=True)
    means = np.array([image.mean for image in images])
    expected = means.std(axis=0, ddof=1) / 3 * math.sqrt(1 - 9 / 30)
    assert_allclose(bars.mean_se, expected, rtol=1e-12)


def test_error_bars_are_invariant_to_a_shift_of_the_pixels():
    # Centred per-image moments: no cancellation for values far from zero.
    near = _bars(_population(20, seed=2), 20, finite=False)
    far = _bars(_population(20, seed=2, offset=1e7), 20, finite=False)
    assert_allclose(far.mean - 1e7, near.mean, rtol=0, atol=1e-6)
    assert_allclose(far.mean_se, near.mean_se, rtol=1e-6)
    assert_allclose(far.std_se, near.std_se, rtol=1e-6)


def test_a_sample_of_every_image_has_zero_error():
    bars = _bars(_population(6, seed=3), 6, finite=True)
    assert bars.fpc == 0.0
    assert_array_equal(bars.mean_se, 0.0)
    assert_array_equal(bars.mean_ci, [bars.mean, bars.mean])
    assert repr(bars).startswith("SampledStats(n_images_sampled=6, n_images_total=6")
    assert "mean_se=[0. 0. 0.]" in repr(bars)


def test_one_image_has_undefined_error_bars():
    bars = _bars(_population(1, seed=4), 10, finite=True)
    assert np.isnan(bars.mean_se).all() and np.isnan(bars.std_ci).all()
    assert bars.to_dict()["mean_se"] == [None, None, None]


@pytest.mark.parametrize(
    ("dof", "exact"),
    # Student's t 0.975 quantiles (statistical tables).
    [(1, 12.7062), (2, 4.3027), (3, 3.1824), (5, 2.5706), (10, 2.2281), (30, 2.0423)],
)
def test_t_quantile_matches_the_tables(dof, exact):
    assert t_quantile_975(dof) == pytest.approx(exact, abs=5e-4)


# -- dataset_stats(sample=...) on files ------------------------------------------------
@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("sampled")
    mixed_jpeg_folder(root, 24)
    return root


def test_sample_is_reproducible_for_a_seed(folder):
    first = dataset_stats(folder, sample=0.25, random_state=7)
    again = dataset_stats(folder, sample=0.25, random_state=7)
    other = dataset_stats(folder, sample=0.25, random_state=8)
    assert (first.n_images_sampled, first.n_images_total) == (6, 24)
    assert first.stats == again.stats
    assert_array_equal(first.mean_se, again.mean_se)
    assert first.stats != other.stats


def test_sample_does_not_depend_on_n_jobs_or_listing_order(folder, monkeypatch):
    monkeypatch.setattr(_dataset, "MIN_BYTES_PER_WORKER", 1)  # really parallel
    files = sorted(folder.rglob("*.jpg"))
    serial = dataset_stats(files, sample=10, random_state=0)
    parallel = dataset_stats(files, sample=10, random_state=0, n_jobs=3, chunk_size=2)
    shuffled = dataset_stats(files[::-1], sample=10, random_state=0)
    assert serial.stats == parallel.stats == shuffled.stats
    assert_array_equal(serial.mean_se, parallel.mean_se)
    assert_array_equal(serial.std_ci, parallel.std_ci)


def test_full_run_error_bars_keep_the_exact_statistics(folder):
    exact = dataset_stats(folder)
    bars = dataset_stats(folder, error_bars=True)
    assert bars.stats == exact
    assert_array_equal(bars.mean, exact.mean)
    assert bars.fpc == 1.0 and bars.n_images_sampled == bars.n_images_total == 24
    assert (bars.mean_se > 0).all()
    assert (bars.mean_ci[0] < exact.mean).all() and (exact.mean < bars.mean_ci[1]).all()


def test_sample_with_return_skipped(folder):
    bars, skipped = dataset_stats(folder, sample=3, random_state=0, return_skipped=True)
    assert isinstance(bars, SampledStats) and skipped == []
    assert bars.mean_ci.shape == bars.std_ci.shape == (2, 3)


def test_sample_histogram_counts_the_sampled_pixels_only(folder):
    bars, hist = dataset_stats(folder, sample=5, random_state=3, histogram=True)
    assert isinstance(bars, SampledStats)
    assert_array_equal(hist.count, bars.stats.count)
    assert_array_equal(hist.percentile([0, 100]), [bars.stats.min, bars.stats.max])
    full, full_hist = dataset_stats(folder, error_bars=True, histogram=True)
    assert full_hist == dataset_stats(folder, histogram=True)[1]


BAD_SAMPLES = [
    (0, Raises(ValueError, r"number of images >= 1\. Got sample=0\.")),
    (-3, Raises(ValueError, r"Got sample=-3\.")),
    (0.0, Raises(ValueError, r"fraction in \(0, 1\].*Got sample=0\.0\.")),
    (1.5, Raises(ValueError, r"Got sample=1\.5\.")),
    (float("nan"), Raises(ValueError, r"Got sample=nan\.")),
    (25, Raises(ValueError, r"sample=25 images, but the source lists only 24")),
    (True, Raises(TypeError, r"Got True of type bool")),
    ("0.1", Raises(TypeError, r"Got '0\.1' of type str")),
    (24, OK),
    (1.0, OK),
    (np.float32(0.01), OK),  # rounds to 0 images: at least one is read
]


@pytest.mark.parametrize(("sample", "outcome"), BAD_SAMPLES, ids=repr)
def test_sample_values(folder, sample, outcome):
    result = check(
        outcome, lambda: dataset_stats(folder, sample=sample, random_state=0)
    )
    if result is not None:
        assert 1 <= result.n_images_sampled <= 24


@pytest.mark.parametrize(
    ("kwargs", "outcome"),
    [
        ({"sample": 2, "random_state": "seed"}, Raises(ValueError, "random_state")),
        ({"error_bars": 1}, Raises(TypeError, "error_bars must be True or False")),
        ({"sample": 2, "random_state": np.random.RandomState(0)}, OK),
    ],
)
def test_bad_random_state_and_error_bars(folder, kwargs, outcome):
    check(outcome, lambda: dataset_stats(folder, **kwargs))


def test_sample_stops_at_an_unreadable_file_unless_told_to_skip(tmp_path):
    from PIL import Image

    from sk_pixels.io import UnreadableImageError

    for k in range(3):
        Image.fromarray(np.full((4, 4, 3), 10 * k, np.uint8)).save(
            tmp_path / f"{k}.png"
        )
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(UnreadableImageError, match="bad.png"):
        dataset_stats(tmp_path, sample=4, random_state=0)
    with pytest.warns(UserWarning, match="Skipped 1 unreadable file"):
        bars = dataset_stats(tmp_path, sample=4, random_state=0, on_error="skip")
    assert (bars.n_images_sampled, bars.n_images_total) == (3, 4)


def test_fit_stats_refusing_sampled_stats_points_to_their_stats(folder):
    # dataset_stats(sample=) returns a SampledStats: the refusal must not send
    # the user back to dataset_stats, but to the PixelStats it holds.
    from sk_pixels import PixelStandardizer

    sampled = dataset_stats(folder, sample=3, random_state=0)
    with pytest.raises(TypeError, match=r"got SampledStats.*pass its \.stats"):
        PixelStandardizer().fit_stats(sampled)
    fitted = PixelStandardizer().fit_stats(sampled.stats)
    assert_array_equal(fitted.mean_, sampled.stats.mean)
