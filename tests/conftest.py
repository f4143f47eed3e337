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

from ._tested_against import Recorder  # noqa: E402


def pytest_configure(config):
    # Keeps this run's collected items, from which tests/test_tested_against.py
    # checks the README's "Tested against" block (it never writes README.md).
    config.pluginmanager.register(Recorder(), Recorder.NAME)


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


@pytest.fixture(scope="session")
def bad_files(tmp_path_factory):
    """The folders and files of the io and CLI bad-input tables.

    ``good/`` (three RGB PNGs), ``empty/``, ``hidden-only/`` (one dot-file
    PNG), ``text.png`` and ``notes.txt`` (text), ``mixed.png`` (an RGB PNG).
    """
    from PIL import Image

    root = tmp_path_factory.mktemp("bad_files")
    rng = np.random.default_rng(0)
    (root / "good").mkdir()
    for k in range(3):
        Image.fromarray(rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)).save(
            root / "good" / f"{k}.png"
        )
    (root / "empty").mkdir()
    (root / "hidden-only").mkdir()
    pixels = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(root / "hidden-only" / ".x.png")
    (root / "text.png").write_text("not an image")
    (root / "notes.txt").write_text("not an image")
    Image.fromarray(pixels).save(root / "mixed.png")
    return root
