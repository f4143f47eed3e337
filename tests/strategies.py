"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

PIXEL_DTYPES = (np.uint8, np.uint16, np.float32, np.float64)


@st.composite
def images(draw, dtypes=PIXEL_DTYPES, max_images=6, max_side=9, channels=(1, 3, 4)):
    """Draw an ``(n, H, W, C)`` batch of in-range pixels of one of ``dtypes``."""
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    shape = (
        draw(st.integers(1, max_images)),
        draw(st.integers(1, max_side)),
        draw(st.integers(1, max_side)),
        draw(st.sampled_from(channels)),
    )
    if dtype.kind == "u":
        elements = st.integers(0, np.iinfo(dtype).max)
    else:
        elements = st.floats(0.0, 1.0, width=dtype.itemsize * 8)
    return draw(hnp.arrays(dtype, shape, elements=elements))


@st.composite
def splits(draw, n):
    """Draw sorted cut points that split ``range(n)`` into consecutive batches."""
    cuts = draw(st.lists(st.integers(1, max(n - 1, 1)), max_size=4, unique=True))
    return sorted(c for c in cuts if 0 < c < n)
