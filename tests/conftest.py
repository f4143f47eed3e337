"""Shared fixtures: a seeded generator and small batches in every pixel dtype."""

from __future__ import annotations

import os

# scikit-learn refuses array_api_dispatch=True unless SciPy's array API support
# was switched on before SciPy is first imported. pytest loads this file before
# any test module (tests/ is collected first, see testpaths), so the Array API
# tests run from the plain README command; an explicit value in the environment
# wins.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

# The README's "Tested against" figures are counted by these hooks during the
# run (see tests/_tested_against.py; `python -m tests._tested_against`).
from ._tested_against import (  # noqa: E402, F401
    pytest_collection_finish,
    pytest_runtest_logreport,
    pytest_terminal_summary,
)


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
