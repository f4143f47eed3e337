"""Presets: published numbers, units, channel order."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from sk_pixels import presets


def test_published_numbers():
    p = presets.PRESETS
    assert p["imagenet"].mean == (0.485, 0.456, 0.406)
    assert p["imagenet"].std == (0.229, 0.224, 0.225)
    assert p["inception"].mean == (0.5, 0.5, 0.5) and p["inception"].std == (
        0.5,
        0.5,
        0.5,
    )
    assert p["clip"].mean == (0.48145466, 0.4578275, 0.40821073)
    assert p["clip"].std == (0.26862954, 0.26130258, 0.27577711)
    assert p["caffe"].mean == (103.939, 116.779, 123.68) and p["caffe"].std is None
    assert p["caffe"].channel_order == "BGR" and p["caffe"].max_value == 255.0


def test_units_conversion_through_max_value():
    assert_allclose(
        presets.PRESETS["imagenet"].mean_in(255.0), [123.675, 116.28, 103.53]
    )
    assert_allclose(
        presets.PRESETS["caffe"].mean_in(1.0),
        np.array([103.939, 116.779, 123.68]) / 255,
    )


def test_unknown_preset_lists_the_choices():
    with pytest.raises(ValueError, match=r"Unknown preset 'imagenet21k'.*'caffe'"):
        presets.get_preset("imagenet21k")


def test_presets_are_read_only():
    with pytest.raises(TypeError):
        presets.PRESETS["mine"] = presets.PRESETS["clip"]
    with pytest.raises(AttributeError):
        presets.PRESETS["clip"].mean = (0, 0, 0)


def test_presets_is_an_attribute_of_a_freshly_imported_package():
    import subprocess
    import sys

    code = "import sk_pixels; print(sk_pixels.presets.PRESETS['imagenet'].max_value)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout.strip()) == (0, "1.0"), result.stderr
