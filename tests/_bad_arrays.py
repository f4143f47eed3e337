"""The bad arrays: every ugly input that the array entry points meet.

One table of inputs (``ARRAYS``), shared by the tables of outcomes of the
estimators (``test_estimators_bad_input.py``), of ``PixelStats``
(``test_stats_bad_input.py``) and of ``save_json``/``load_json``
(``test_persist_bad_input.py``).  Each of those files maps every id here to
what its entry point does with that input.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.testing import assert_array_equal


def u8(shape, lo=0, hi=256):
    """Seeded uint8 pixels of ``shape`` in ``[lo, hi)``."""
    return np.random.default_rng(sum(shape) + lo).integers(
        lo, hi, shape, dtype=np.uint8
    )


def _unit(shape, dtype=np.float64, seed=1):
    return np.random.default_rng(seed).random(shape).astype(dtype)


def _full_range(dtype, shape=(3, 4, 4, 3)):
    """Values spanning the whole dtype, its min and max included."""
    info = np.iinfo(dtype)
    rng = np.random.default_rng(np.dtype(dtype).num)
    X = rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
    X.flat[0], X.flat[1] = info.min, info.max
    return X


def _with_nans(fraction=0.2, shape=(3, 4, 4, 3)):
    X = _unit(shape)
    X[np.random.default_rng(3).random(shape) < fraction] = np.nan
    return X


def _nan_image():
    X = _unit((3, 4, 4, 3))
    X[1] = np.nan
    return X


def _nan_channel():
    X = _unit((2, 3, 3, 3))
    X[..., 0] = np.nan
    return X


def _readonly():
    X = u8((2, 5, 5, 3))
    X.setflags(write=False)
    return X


def _with(value, at=(0, 0, 0, 0), base=None):
    def make():
        X = _unit((2, 3, 3, 3)) if base is None else base()
        X[at] = value
        return X

    return make


@dataclass(frozen=True)
class BadArray:
    """One input.

    ``make`` builds the X under test (fresh each call).  ``first`` builds a
    batch fitted before X (two-batch inputs: X arrives at ``partial_fit``,
    ``transform`` or ``inverse_transform`` after ``first`` was learned).
    ``params`` are layout parameters given to every estimator and to
    ``PixelStats.from_array``; ``channels``/``first_channels`` count the
    channels of X/``first``; ``good`` builds a valid fit batch for these
    ``params`` (default: a 3-channel uint8 batch).
    """

    id: str
    make: Callable[[], Any]
    first: Callable[[], Any] | None = None
    params: dict = field(default_factory=dict)
    channels: int = 3
    first_channels: int = 3
    good: Callable[[], Any] | None = None

    def __repr__(self) -> str:
        return self.id


ARRAYS = [
    # -- sizes ------------------------------------------------------------------------
    BadArray("zero-images", lambda: np.zeros((0, 2, 2, 3), np.uint8)),
    BadArray("zero-height", lambda: np.zeros((2, 0, 2, 3), np.uint8)),
    BadArray(
        "zero-channels",
        lambda: np.zeros((2, 2, 2, 0), np.uint8),
        channels=0,
        first_channels=0,
    ),
    BadArray("zero-features-2d", lambda: np.zeros((3, 0), np.uint8), channels=1),
    BadArray("1x1-images", lambda: u8((6, 1, 1, 3))),
    BadArray("single-pixel-batch", lambda: u8((1, 1, 1, 3))),
    BadArray("single-value-2d", lambda: np.array([[0.25]]), channels=1),
    BadArray("one-channel-4d", lambda: u8((2, 3, 3, 1)), channels=1),
    BadArray("tall-thin", lambda: u8((2, 1, 40, 3))),
    # -- dimensions and layout ---------------------------------------------------------
    BadArray("scalar-0d", lambda: np.float64(0.5)),
    BadArray("1-D", lambda: np.arange(6, dtype=np.uint8)),
    BadArray("5-D", lambda: np.zeros((2, 2, 2, 2, 3), np.uint8)),
    BadArray("grayscale-3d", lambda: u8((3, 4, 5)), channels=1),
    BadArray("flattened-2d", lambda: u8((4, 12)), channels=1),
    BadArray(
        "flattened-image-shape", lambda: u8((4, 12)), params={"image_shape": (2, 2, 3)}
    ),
    BadArray(
        "flattened-image-shape-gray",
        lambda: u8((4, 12)),
        params={"image_shape": (3, 4)},
        channels=1,
    ),
    BadArray("channels-first", lambda: u8((2, 3, 5, 4)), params={"channel_axis": 1}),
    BadArray(
        "wrong-image-shape",
        lambda: u8((4, 10)),
        params={"image_shape": (2, 2, 3)},
        good=lambda: u8((2, 12)),
    ),
    BadArray(
        "image-shape-vs-4d", lambda: u8((2, 3, 3, 3)), params={"image_shape": (2, 2, 3)}
    ),
    BadArray(
        "channel-axis-out-of-range",
        lambda: u8((2, 3, 3, 3)),
        params={"channel_axis": 4},
    ),
    BadArray("channel-axis-0", lambda: u8((2, 3, 3, 3)), params={"channel_axis": 0}),
    BadArray(
        "channel-axis-none-4d",
        lambda: u8((2, 3, 3, 3)),
        params={"channel_axis": None},
        channels=1,
    ),
    BadArray(
        "wrong-channel-count",
        lambda: u8((2, 3, 3, 4)),
        first=lambda: u8((2, 3, 3, 3)),
        channels=4,
    ),
    BadArray(
        "feature-count-changes",
        lambda: u8((2, 10)),
        first=lambda: u8((2, 12)),
        channels=1,
        first_channels=1,
    ),
    BadArray(
        "different-image-sizes",
        lambda: u8((2, 5, 6, 3)),
        first=lambda: u8((3, 4, 4, 3)),
    ),
    # -- non-finite and degenerate values ---------------------------------------------
    BadArray("nan-some", _with_nans),
    BadArray("nan-whole-image", _nan_image),
    BadArray("nan-everywhere", lambda: np.full((2, 3, 3, 3), np.nan)),
    BadArray(
        "nan-channel-then-filled", lambda: _unit((2, 3, 3, 3)), first=_nan_channel
    ),
    BadArray("posinf", _with(np.inf)),
    BadArray("neginf", _with(-np.inf)),
    BadArray("nan-and-inf", _with(np.inf, base=_with_nans)),
    BadArray("constant-uint8", lambda: np.full((3, 4, 4, 3), 7, np.uint8)),
    BadArray("constant-zero-float64", lambda: np.zeros((3, 4, 4, 3))),
    BadArray("constant-float32", lambda: np.full((3, 4, 4, 3), 0.3, np.float32)),
    BadArray("uint16-max-everywhere", lambda: np.full((3, 4, 4, 3), 65535, np.uint16)),
    BadArray(
        "uint16-max-but-one",
        _with(0, base=lambda: np.full((3, 4, 4, 3), 65535, np.uint16)),
    ),
    BadArray("negative-floats", lambda: _unit((3, 4, 4, 3), np.float32) * 1.5 - 0.5),
    BadArray(
        "float-0-255-with-negatives",
        lambda: np.round(_unit((3, 4, 4, 3), np.float32) * 260 - 5),
    ),
    # -- dtypes ---------------------------------------------------------------------
    BadArray("bool", lambda: np.ones((2, 3, 3, 3), bool)),
    BadArray("complex", lambda: np.ones((2, 3, 3, 3), np.complex128)),
    BadArray("object-numbers", lambda: _unit((2, 3, 3, 3)).astype(object)),
    BadArray("object-strings", lambda: np.full((2, 3, 3, 3), "a", object)),
    BadArray("str-dtype", lambda: np.full((2, 3, 3, 3), "a")),
    BadArray("bytes-dtype", lambda: np.full((2, 3, 3, 3), b"a")),
    *[
        BadArray(f"{np.dtype(t).name}-full-range", lambda t=t: _full_range(t))
        for t in (
            np.uint8,
            np.uint16,
            np.int8,
            np.int16,
            np.int32,
            np.int64,
            np.uint32,
            np.uint64,
        )
    ],
    *[
        BadArray(f"{np.dtype(t).name}-unit", lambda t=t: _unit((3, 4, 4, 3), t))
        for t in (np.float16, np.float32, np.float64)
    ],
    # -- memory layouts and containers ------------------------------------------------
    BadArray("non-contiguous", lambda: u8((4, 9, 9, 3))[:, ::2, 1::3]),
    BadArray("negative-strides", lambda: u8((4, 5, 6, 3))[::-1, ::-1, :, ::-1]),
    BadArray("fortran-order", lambda: np.asfortranarray(_unit((3, 4, 5, 3)))),
    BadArray("read-only", _readonly),
    BadArray("broadcast-view", lambda: np.broadcast_to(u8((1, 3, 3, 3)), (4, 3, 3, 3))),
    BadArray(
        "dataframe-float",
        lambda: pd.DataFrame(_unit((5, 6)), columns=list("abcdef")),
        channels=1,
    ),
    BadArray(
        "dataframe-int", lambda: pd.DataFrame(u8((5, 6)).astype(np.int64)), channels=1
    ),
    BadArray("list-4d", lambda: u8((2, 2, 3, 3)).tolist()),
    BadArray("list-2d-floats", lambda: _unit((3, 5)).tolist(), channels=1),
    BadArray("ragged-list", lambda: [[0.1, 0.2], [0.3]]),
]

IDS = [array.id for array in ARRAYS]


def outcome_table(refused: dict, default) -> dict:
    """``{id: outcome}`` for every input: ``refused[id]``, else ``default``.

    Fails on an id of ``refused`` that is not an input, so a renamed input
    cannot leave a row behind that tests nothing.
    """
    unknown = set(refused) - set(IDS)
    assert not unknown, f"outcomes for inputs that do not exist: {sorted(unknown)}"
    return {id_: refused.get(id_, default) for id_ in IDS}


def layout_kwargs(params: dict) -> dict:
    """The layout parameters that ``PixelStats.from_array`` also takes."""
    return {k: v for k, v in params.items() if k in ("channel_axis", "image_shape")}


# -- the input is never modified -------------------------------------------------------
def snapshot(X):
    if isinstance(X, pd.DataFrame):
        return X.copy(deep=True)
    if isinstance(X, np.ndarray):
        return X.copy(), X.flags.writeable
    return copy.deepcopy(X)


def assert_unchanged(X, snap) -> None:
    if isinstance(X, pd.DataFrame):
        pd.testing.assert_frame_equal(X, snap)
    elif isinstance(X, np.ndarray):
        before, writeable = snap
        assert X.flags.writeable == writeable
        if X.dtype.kind in "fc":
            assert_array_equal(X, before)  # NaN == NaN in assert_array_equal
        else:
            assert np.array_equal(X, before), "input array was modified"
    else:
        assert X == snap or repr(X) == repr(snap), "input was modified"


class Untouched:
    """Snapshots of the inputs of one call; :meth:`check` asserts none changed."""

    def __init__(self, *inputs):
        self._snaps = [(X, snapshot(X)) for X in inputs if X is not None]

    def check(self) -> None:
        for X, snap in self._snaps:
            assert_unchanged(X, snap)
