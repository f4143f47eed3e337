"""Shared fixtures: a seeded generator and small batches in every pixel dtype."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def uint8_batch(rng):
    """Four 5x7 RGB images, channels-last."""
    return rng.integers(0, 256, size=(4, 5, 7, 3), dtype=np.uint8)


@pytest.fixture(scope="session")
def sample_photos():
    """scikit-learn's two bundled photos (china, flower), uint8 (427, 640, 3)."""
    from sklearn.datasets import load_sample_images

    return np.stack(load_sample_images().images)
