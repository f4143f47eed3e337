"""Bad inputs of ``PixelStats.from_array`` (and of ``+`` for two-batch inputs).

The law: for every input of ``tests/_bad_arrays.py``, either the statistics
equal NumPy's float64 ``nanmean``/``nanvar``/``nanmin``/``nanmax`` and the
NaN-excluding count, or the error of ``OUTCOMES`` is raised (message pinned);
the input is never modified.  PixelStats assume no units, so no input warns.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sk_pixels import PixelStats

from ._bad_arrays import ARRAYS, Untouched, layout_kwargs, outcome_table
from ._outcomes import OK, Raises, check
from ._reference import canon

INF = Raises(ValueError, "infinity")

#: Inputs not listed here give exact statistics.
OUTCOMES = outcome_table(
    {
        "zero-images": Raises(ValueError, r"0 sample\(s\)"),
        "zero-height": Raises(ValueError, "no pixels"),
        "zero-channels": Raises(ValueError, "0 channels"),
        "zero-features-2d": Raises(ValueError, r"0 feature\(s\)"),
        "scalar-0d": Raises(ValueError, "got scalar array"),
        "1-D": Raises(ValueError, "Expected 2D array, got 1D array"),
        "wrong-image-shape": Raises(
            ValueError, r"holds 12 values per image, but X has 10 features"
        ),
        "image-shape-vs-4d": Raises(
            ValueError, r"image_shape=\(2, 2, 3\) does not match"
        ),
        "channel-axis-out-of-range": Raises(
            ValueError, "channel_axis=4 does not exist for 4-D input"
        ),
        "channel-axis-0": Raises(ValueError, "channel_axis=0 does not exist"),
        "wrong-channel-count": Raises(
            ValueError, "statistics of 3 channels with statistics of 4"
        ),
        "posinf": INF,
        "neginf": INF,
        "nan-and-inf": INF,
        "bool": Raises(ValueError, r"dtype bool.*astype\(np.uint8\)"),
        "complex": Raises(ValueError, "Complex data not supported"),
        "object-strings": Raises(ValueError, "could not convert string to float"),
        "str-dtype": Raises(ValueError, "bytes/strings"),
        "bytes-dtype": Raises(ValueError, "bytes/strings"),
        "ragged-list": Raises(ValueError, "inhomogeneous shape"),
    },
    default=OK,
)


@pytest.mark.parametrize("array", ARRAYS, ids=str)
def test_pixel_stats_equal_float64_numpy_or_pinned_error(array):
    X = array.make()
    first = array.first() if array.first is not None else None
    untouched = Untouched(X, first)
    kwargs = layout_kwargs(array.params)

    def compute():
        stats = PixelStats.from_array(X, **kwargs)
        if first is not None:
            stats = PixelStats.from_array(first, **kwargs) + stats
        return stats

    stats = check(OUTCOMES[array.id], compute)
    if stats is not None:
        batches = [first, X] if first is not None else [X]
        channels = canon(X, array.params).shape[-1]
        P = np.concatenate(
            [canon(B, array.params).reshape(-1, channels) for B in batches]
        )
        assert_array_equal(stats.count, np.sum(~np.isnan(P), axis=0))
        assert stats.n_images == sum(len(B) for B in batches)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN channels
            ref_mean = np.nanmean(P, axis=0)
            ref_var = np.nanvar(P, axis=0)
            ref_min, ref_max = np.nanmin(P, axis=0), np.nanmax(P, axis=0)
        assert_allclose(stats.mean, ref_mean, rtol=1e-12, atol=0)
        scale = np.nanmax(np.abs(P), axis=0, initial=0) ** 2
        assert_allclose(stats.var, ref_var, rtol=1e-9, atol=1e-12 * np.max(scale))
        assert_array_equal(stats.min, ref_min)
        assert_array_equal(stats.max, ref_max)
    untouched.check()
