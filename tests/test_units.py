"""Units: the max_value convention and the scale warnings."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from sk_pixels._units import (
    output_float_dtype,
    resolve_max_value,
    warn_if_float_outside_unit_range,
    warn_if_scale_differs,
)


@pytest.mark.parametrize(
    "dtype, expected",
    [
        (np.uint8, 255.0),
        (np.uint16, 65535.0),
        (np.int8, 127.0),
        (np.int16, 32767.0),
        (np.uint32, 4294967295.0),
        (np.float16, 1.0),
        (np.float32, 1.0),
        (np.float64, 1.0),
    ],
)
def test_auto_max_value_per_dtype(dtype, expected):
    assert resolve_max_value(np.dtype(dtype), "auto") == expected


def test_explicit_max_value_wins():
    assert resolve_max_value(np.dtype(np.float32), 255) == 255.0


@pytest.mark.parametrize(
    "input_dtype, param, expected",
    [
        (np.uint8, None, np.float32),
        (np.uint16, None, np.float32),
        (np.int64, None, np.float32),
        (np.float16, None, np.float32),
        (np.float32, None, np.float32),
        (np.float64, None, np.float64),
        (np.uint8, "float64", np.float64),
    ],
)
def test_output_float_dtype(input_dtype, param, expected):
    assert output_float_dtype(np.dtype(input_dtype), param) == expected


def test_unit_range_warning_only_for_auto_float():
    with pytest.warns(UserWarning, match="max value 255 .*pass max_value=255"):
        warn_if_float_outside_unit_range(np.dtype(np.float32), "auto", 255.0, "fit")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_float_outside_unit_range(np.dtype(np.float32), 255, 255.0, "fit")
        warn_if_float_outside_unit_range(np.dtype(np.uint8), "auto", 255.0, "fit")
        warn_if_float_outside_unit_range(np.dtype(np.float32), "auto", 1.2, "fit")


@pytest.mark.parametrize(
    "fit_max, batch_max, warns",
    [
        (255, 1.0, True),
        (1.0, 255, True),
        (255, 65535, True),
        (255, 128, False),
        (3.0, 0.5, False),
    ],
)
def test_scale_warning_ratio(fit_max, batch_max, warns):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_if_scale_differs(fit_max, "uint8", batch_max, np.dtype(np.float32), "X")
    assert bool(caught) is warns
