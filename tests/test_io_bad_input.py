"""Bad inputs of ``sk_pixels.io.dataset_stats``: sources and arguments.

The law: each call either returns the exact statistics of the images it was
given (duplicates counted once, skipped files listed), compared with NumPy's
float64 mean and variance of the decoded pixels, or raises the error of its
row (message pinned).  The files are those of the ``bad_files`` fixture
(``tests/conftest.py``).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from numpy.testing import assert_allclose
from PIL import Image

from sk_pixels.io import dataset_stats

from ._outcomes import OK, Raises, check

NO_IMAGES = Raises(FileNotFoundError, "No image files found")

#: id -> (``(args, kwargs)`` of the call, given the root folder; outcome)
CALLS = {
    "missing-folder": (
        lambda r: ((r / "nope",), {}),
        Raises(FileNotFoundError, "No such file or folder"),
    ),
    "empty-folder": (lambda r: ((r / "empty",), {}), NO_IMAGES),
    "hidden-files-only": (lambda r: ((r / "hidden-only",), {}), NO_IMAGES),
    "empty-list": (lambda r: (([],), {}), Raises(FileNotFoundError, "No image source")),
    "glob-without-match": (
        lambda r: ((str(r / "*.jpeg"),), {}),
        Raises(FileNotFoundError, "matches no file"),
    ),
    "text-named-png-raise": (
        lambda r: ((r / "text.png",), {}),
        Raises(Exception, "text.png"),
    ),
    "text-named-png-skip": (
        lambda r: ((r / "text.png",), {"on_error": "skip"}),
        Raises(ValueError, "All 1 image files were skipped"),
    ),
    "txt-file-given-explicitly": (
        lambda r: ((r / "notes.txt",), {}),
        Raises(Exception, "notes.txt"),
    ),
    "bad-mode": (
        lambda r: ((r / "good",), {"mode": "CMYK"}),
        Raises(ValueError, "Unsupported mode 'CMYK'"),
    ),
    "bad-on-error": (
        lambda r: ((r / "good",), {"on_error": "ignore"}),
        Raises(ValueError, "on_error must be 'raise' or 'skip'"),
    ),
    "n-jobs-zero": (
        lambda r: ((r / "good",), {"n_jobs": 0}),
        Raises(ValueError, "n_jobs must be a non-zero integer"),
    ),
    "n-jobs-float": (
        lambda r: ((r / "good",), {"n_jobs": 1.5}),
        Raises(ValueError, "n_jobs must be a non-zero integer"),
    ),
    "chunk-size-zero": (
        lambda r: ((r / "good",), {"chunk_size": 0}),
        Raises(ValueError, "chunk_size must be a positive integer"),
    ),
    "max-pixels-negative": (
        lambda r: ((r / "good",), {"max_pixels": -1}),
        Raises(ValueError, "max_pixels must be a positive integer"),
    ),
    "max-pixels-too-small": (
        lambda r: ((r / "good",), {"max_pixels": 4}),
        Raises(Exception, "exceeds the limit of 4 pixels"),
    ),
    "source-is-int": (lambda r: ((42,), {}), Raises(TypeError, "source")),
    "source-is-none": (lambda r: ((None,), {}), Raises(TypeError, "source")),
    "ok-folder": (lambda r: ((r / "good",), {}), OK),
    "ok-list-with-duplicates": (lambda r: (([r / "good" / "0.png"] * 3,), {}), OK),
    "ok-mixed-file-and-folder": (
        lambda r: (([r / "good", r / "mixed.png"],), {}),
        OK,
    ),
    "ok-mode-L": (lambda r: ((r / "good",), {"mode": "L"}), OK),
    "ok-n-jobs-none": (lambda r: ((r / "good",), {"n_jobs": None}), OK),
    "ok-mode-I16": (lambda r: ((r / "good",), {"mode": "I;16"}), OK),
    "ok-skip-with-bad-file": (
        lambda r: (
            ([r / "good", r / "text.png"],),
            {"on_error": "skip", "return_skipped": True},
        ),
        OK,
    ),
}


def _image_paths(sources):
    """The PNG images named by ``sources`` (files or folders), each once."""
    paths = []
    for source in sources:
        source = os.fspath(source)
        found = (
            sorted(os.path.join(source, n) for n in os.listdir(source))
            if os.path.isdir(source)
            else [source]
        )
        paths += [p for p in found if p.endswith(".png") and "text" not in p]
    return list(dict.fromkeys(paths))


@pytest.mark.parametrize("case", list(CALLS))
def test_dataset_stats_are_exact_or_pinned_error(bad_files, case):
    make, outcome = CALLS[case]
    args, kwargs = make(bad_files)
    result = check(outcome, lambda: dataset_stats(*args, **kwargs))
    if result is None:
        return
    stats = result[0] if isinstance(result, tuple) else result
    if isinstance(result, tuple):
        assert [os.path.basename(p) for p, _ in result[1]] == ["text.png"]
    mode = kwargs.get("mode", "RGB")
    paths = _image_paths(args[0] if isinstance(args[0], list) else [args[0]])
    pixels = []
    for p in paths:
        with Image.open(p) as im:
            a = np.asarray(im.convert("RGB" if mode == "RGB" else "L"))
        if mode == "I;16":
            a = a.astype(np.uint16) * 257
        pixels.append(a.reshape(-1, 1 if a.ndim == 2 else a.shape[-1]))
    P = np.concatenate(pixels).astype(np.float64)
    assert stats.n_images == len(paths)
    assert_allclose(stats.mean, P.mean(axis=0), rtol=1e-15)
    assert_allclose(stats.var, P.var(axis=0), rtol=1e-12)
