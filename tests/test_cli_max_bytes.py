"""``sk-pixels apply --max-bytes N``: large model files (a mean image as JSON).

The law: a model file over the limit exits 1 with one error line that names
``--max-bytes`` and the size to pass; with that limit the same file applies,
and gives ``transform``'s values; a limit that is not a positive number of
bytes is a usage error (exit 2).
"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from sk_pixels import PixelStandardizer, load_json, save_json
from sk_pixels.cli import main
from sk_pixels.io import list_images

from ._outcomes import Exits
from .image_files import save

USAGE, DATA = 2, 1


@pytest.fixture
def mean_image(tmp_path):
    """Three 72x72 RGB PNGs and a mean-image model of them, over 1 MiB as JSON."""
    rng = np.random.default_rng(5)
    X = rng.integers(0, 256, (3, 72, 72, 3), dtype=np.uint8)
    for k, image in enumerate(X):
        save(tmp_path / "imgs" / f"{k}.png", image)
    model = tmp_path / "mean.json"
    save_json(PixelStandardizer(per_pixel=True).fit(X), model)
    assert os.path.getsize(model) > 1 << 20  # the library's default limit
    order = [int(os.path.basename(p)[0]) for p in list_images(tmp_path / "imgs")]
    return model, tmp_path / "imgs", X[order]


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "options, outcome",
    [
        ([], Exits(DATA, "more than the 1048576-byte limit.*pass --max-bytes \\d+")),
        (["--max-bytes", "1000"], Exits(DATA, "more than the 1000-byte limit")),
        (["--max-bytes", "0"], Exits(USAGE, "--max-bytes: must be a positive")),
        (["--max-bytes", "1MB"], Exits(USAGE, "--max-bytes: invalid int value")),
    ],
    ids=["default", "small", "zero", "not-int"],
)
def test_a_model_over_the_limit_is_one_line_naming_the_option(
    options, outcome, mean_image, capsys, tmp_path
):
    model, folder, _ = mean_image
    out = tmp_path / "o.npy"
    code, _, err = _run(capsys, "apply", model, folder, "-o", out, *options)
    lines = err.strip().splitlines()
    assert code == outcome.code and lines[-1].startswith("sk-pixels: error: ")
    assert len(lines) == 1 or outcome.code == USAGE  # argparse prints usage first
    assert re.search(outcome.match, lines[-1]), err
    assert not out.exists()


def test_a_mean_image_applies_with_a_larger_limit(mean_image, capsys, tmp_path):
    model, folder, X = mean_image
    size = os.path.getsize(model)
    out = tmp_path / "o.npy"
    code, text, _ = _run(capsys, "apply", model, folder, "-o", out, "--max-bytes", size)
    assert code == 0 and "wrote 3 transformed image(s)" in text
    expected = load_json(model, max_bytes=size).transform(X)
    assert_array_equal(np.load(out), expected)
