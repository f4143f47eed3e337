"""Array-valued models in estimator files: mean images and whitening covariances.

Laws:

* a saved and loaded mean image or whitener is the original: the same
  parameters and statistics, a bit-identical ``transform`` (and, for the
  whitener, a bit-identical ``partial_fit`` after loading);
* an array block survives encoding for every value it can hold;
* every malformed array field is refused with :class:`InvalidModelFileError`
  naming the field (a table, like tests/test_persist_malformed.py's), and a
  declared shape is checked against the data before anything is allocated;
* a file cut anywhere is refused, never half-loaded.
"""

from __future__ import annotations

import base64
import json
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_array_equal

from sk_pixels import (
    PixelCenterer,
    PixelStandardizer,
    PixelWhitener,
    load_json,
    save_json,
)
from sk_pixels._persist_arrays import decode, encode
from sk_pixels._persist_parse import _Reader
from sk_pixels.persist import InvalidModelFileError

from .test_per_pixel import integer_batches
from .test_persist_malformed import Case, bad, both, set_

RNG = np.random.default_rng(1)
X8 = RNG.integers(1, 255, size=(3, 4, 4, 3), dtype=np.uint8)
XF = RNG.random((3, 4, 4, 3)).astype(np.float32)

#: Valid files the rows start from: name -> (estimator, training images).
BASES = {
    "pixel-uint8": (PixelStandardizer(per_pixel=True), X8),
    "pixel-float32": (PixelStandardizer(per_pixel=True), XF),
    "pixel-pooled": (PixelCenterer(per_pixel=True, per_channel=False), X8),
    "whitener": (PixelWhitener(), X8),
    "whitener-float": (PixelWhitener(patch_size=3), XF),
    "channels": (PixelStandardizer(), X8),
}


def _save(estimator, X, path, **kwargs):
    save_json(estimator.fit(X), path, **kwargs)
    return load_json(path, max_bytes=1 << 26)


# -- round trips ----------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(
    X=integer_batches(),
    per_channel=st.booleans(),
    cls=st.sampled_from([PixelCenterer, PixelStandardizer]),
)
def test_mean_image_round_trip_is_bit_identical(tmp_path_factory, X, per_channel, cls):
    path = tmp_path_factory.mktemp("rt") / "m.json"
    estimator = cls(per_pixel=True, per_channel=per_channel).fit(X)
    loaded = _save(estimator, X, path)
    assert loaded.get_params() == estimator.get_params()
    assert loaded.stats_ == estimator.stats_
    assert loaded.pixel_shape_ == estimator.pixel_shape_
    assert_array_equal(loaded.mean_, estimator.mean_)
    assert_array_equal(loaded.transform(X), estimator.transform(X))
    assert json.loads(path.read_text())["format_version"] == 3


ROUND_TRIPS = {
    "float32-channels-first": (
        PixelStandardizer(per_pixel=True, channel_axis=1, ddof=1),
        RNG.random((4, 2, 5, 3)).astype(np.float32),
    ),
    "float64-nan": (
        PixelStandardizer(per_pixel=True, clip=2.0),
        np.where(RNG.random((4, 3, 3, 1)) < 0.2, np.nan, RNG.random((4, 3, 3, 1))),
    ),
    "flattened": (PixelCenterer(per_pixel=True), RNG.integers(0, 9, (5, 12))),
    "int16-grayscale": (
        PixelStandardizer(per_pixel=True),
        RNG.integers(-(2**15), 2**15, (3, 5, 6), dtype=np.int16),
    ),
    "whitener-zca": (PixelWhitener(), X8),
    "whitener-pca": (PixelWhitener(method="pca", n_components=4), XF),
    "whitener-patch": (PixelWhitener(patch_size=3), X8),
    "whitener-uint16": (
        PixelWhitener(),
        RNG.integers(0, 2**16, (6, 2, 2, 2), dtype=np.uint16),
    ),
}


@pytest.mark.parametrize("name", list(ROUND_TRIPS))
def test_array_valued_model_round_trip_is_bit_identical(tmp_path, name):
    estimator, X = ROUND_TRIPS[name]
    loaded = _save(estimator, X, tmp_path / "m.json", channel_order=None)
    assert loaded.get_params() == estimator.get_params()
    assert_array_equal(loaded.transform(X), estimator.transform(X))
    if isinstance(estimator, PixelWhitener):
        assert_array_equal(loaded.whitening_, estimator.whitening_)
        # The accumulator is restored too: streaming continues identically.
        loaded.partial_fit(X[:2])
        estimator.partial_fit(X[:2])
        assert_array_equal(loaded.transform(X), estimator.transform(X))
        assert loaded.n_samples_seen_ == estimator.n_samples_seen_


def test_whitener_fitted_on_a_dataframe_keeps_its_feature_names(tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X8.reshape(3, -1), columns=[f"p{i}" for i in range(48)])
    loaded = _save(PixelWhitener(image_shape=(4, 4, 3)), frame, tmp_path / "m.json")
    assert loaded.feature_names_in_.tolist() == list(frame.columns)


def test_whitener_with_python_integer_sums_round_trips(tmp_path, monkeypatch):
    from sk_pixels import _covariance

    X = RNG.integers(0, 2**16, (5, 2, 2, 1), dtype=np.uint16)
    # Force the Python-integer (object) sums that 2**21 rows of 16-bit pixels reach.
    monkeypatch.setattr(_covariance, "_INT64_MAX", 2**40)
    estimator = PixelWhitener().fit(X)
    estimator.cov_._to_integers(10**9)
    assert estimator.cov_._gram.dtype == object
    save_json(estimator, tmp_path / "w.json")
    loaded = load_json(tmp_path / "w.json")
    assert loaded.cov_._gram.dtype == object
    assert_array_equal(loaded.transform(X), estimator.transform(X))


BLOCK_VALUES = st.one_of(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(max_dims=4, max_side=5),
        elements=st.floats(allow_infinity=False),
    ),
    hnp.arrays(np.int64, hnp.array_shapes(max_dims=4, max_side=5)),
    st.lists(st.integers(-(2**124), 2**124), min_size=1, max_size=9).map(
        lambda v: np.asarray(v, dtype=object)
    ),
)


@settings(max_examples=100, deadline=None)
@given(values=BLOCK_VALUES)
def test_array_block_round_trip_is_identity(values):
    block = encode(values)
    kinds = ("float64",) if values.dtype == np.float64 else ("int64", "bigint")
    back = decode(
        json.loads(json.dumps(block)), _Reader("f"), "x", kinds=kinds, allow_nan=True
    )
    assert back.shape == values.shape
    if values.dtype == object:
        assert back.ravel().tolist() == values.ravel().tolist()
    else:
        assert_array_equal(back, values)


@pytest.mark.parametrize(
    "values, error, match",
    [
        (np.array([2**126], dtype=object), ValueError, r"exceeds 2\*\*125"),
        (np.array(["1"]), TypeError, "Cannot store an array of dtype <U1"),
    ],
    ids=["beyond-2**125", "strings"],
)
def test_encode_refuses_what_a_block_cannot_hold(values, error, match):
    with pytest.raises(error, match=match):
        encode(values)


@pytest.fixture(scope="module")
def texts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("valid")
    out = {}
    for name, (estimator, X) in BASES.items():
        path = folder / f"{name}.json"
        save_json(estimator.fit(X), path)
        out[name] = path.read_text()
    return out


@settings(max_examples=40, deadline=None)
@given(base=st.sampled_from(["pixel-uint8", "whitener"]), cut=st.floats(0, 1))
def test_file_cut_anywhere_is_refused(tmp_path_factory, texts, base, cut):
    text = texts[base].rstrip()
    path = tmp_path_factory.mktemp("cut") / "m.json"
    path.write_text(text[: int(cut * (len(text) - 1))])
    with pytest.raises(InvalidModelFileError):
        load_json(path)


# -- the malformed-file table, array part ----------------------------------------------
def _data(*values, dtype="<f8") -> str:
    return base64.b64encode(np.asarray(values, dtype=dtype).tobytes()).decode()


def _edit_block(field: str, change) -> callable:
    """Apply ``change(array) -> array`` to the decoded values of a block."""

    def edit(doc: dict) -> None:
        node = doc
        for part in field.split("."):
            node = node[part]
        dtype = "<f8" if node["dtype"] == "float64" else "<i8"
        values = np.frombuffer(base64.b64decode(node["data"]), dtype=dtype).copy()
        node["data"] = base64.b64encode(change(values).astype(dtype).tobytes()).decode()

    return edit


def _set_item(index: int, value):
    def change(values):
        values[index] = value
        return values

    return change


S = "fitted.statistics"
COV = "fitted.covariance"
ARRAY_CASES = [
    # -- a block's own fields ---------------------------------------------------------
    Case(
        "block-dtype-object",
        set_(f"{S}.sum.dtype", "object"),
        bad(r"'fitted.statistics.sum.dtype' must be one of .*never loaded"),
        "pixel-uint8",
    ),
    Case(
        "block-dtype-wrong",
        set_(f"{S}.sum.dtype", "float64"),
        bad(r"'fitted.statistics.sum.dtype' must be one of \['int64', 'bigint'\]"),
        "pixel-uint8",
    ),
    Case(
        "block-dtype-pickle-like",
        set_(f"{S}.min.dtype", "|O"),
        bad("'fitted.statistics.min.dtype' must be one of"),
        "pixel-uint8",
    ),
    Case(
        "block-unknown-key",
        set_(f"{S}.min.order", "F"),
        bad(r"'fitted.statistics.min' has unknown key\(s\) \['order'\]"),
        "pixel-uint8",
    ),
    Case(
        "block-not-an-object",
        set_(f"{S}.count", [1, 2]),
        bad("'fitted.statistics.count' must be a JSON object"),
        "pixel-uint8",
    ),
    Case(
        "block-shape-mismatch",
        set_(f"{S}.count.shape", [4, 4, 2]),
        bad(r"'fitted.statistics.count.shape' is \[4, 4, 2\], but .* \[4, 4, 3\]"),
        "pixel-uint8",
    ),
    Case(
        "block-shape-zero",
        set_(f"{S}.count.shape", [4, 0, 3]),
        bad("'fitted.statistics.count.shape' must be a list of 1 to 4 integers"),
        "pixel-uint8",
    ),
    Case(
        "block-shape-five-axes",
        set_(f"{S}.count.shape", [1, 1, 4, 4, 3]),
        bad("'fitted.statistics.count.shape' must be a list of 1 to 4 integers"),
        "pixel-uint8",
    ),
    Case(
        "block-shape-bool",
        set_(f"{S}.count.shape", [True, 4, 3]),
        bad("'fitted.statistics.count.shape' must be a list of 1 to 4 integers"),
        "pixel-uint8",
    ),
    Case(
        "block-oversize-declared-shape",
        set_("fitted.mean.shape", [10**6, 10**6, 3]),
        bad(r"'fitted.mean.data' must be 32000000000000 base64 characters"),
        "pixel-uint8",
    ),
    Case(
        "block-huge-declared-shape",
        set_("fitted.std.shape", [10**300, 10**300]),
        bad(r"'fitted.std.data' must be \d{600,} base64 characters"),
        "pixel-uint8",
    ),
    Case(
        "block-truncated",
        lambda d: d["fitted"]["statistics"]["max"].update(
            data=d["fitted"]["statistics"]["max"]["data"][:-8]
        ),
        bad("'fitted.statistics.max.data' must be 512 base64 characters .* got 504"),
        "pixel-uint8",
    ),
    Case(
        "block-not-base64",
        lambda d: d["fitted"]["statistics"]["max"].update(
            data="!" + d["fitted"]["statistics"]["max"]["data"][1:]
        ),
        bad("'fitted.statistics.max.data' is not valid base64"),
        "pixel-uint8",
    ),
    Case(
        "block-data-number",
        set_(f"{S}.max.data", 12),
        bad("'fitted.statistics.max.data' must be 512 base64 .* got no string"),
        "pixel-uint8",
    ),
    Case(
        "block-nan-in-min",
        _edit_block(f"{S}.min", _set_item(5, np.nan)),
        bad("'fitted.statistics.min' holds a non-finite value nan"),
        "pixel-uint8",
    ),
    Case(
        "block-inf-in-m2",
        _edit_block(f"{S}.m2", _set_item(0, np.inf)),
        bad("'fitted.statistics.m2' holds a non-finite value inf"),
        "pixel-float32",
    ),
    Case(
        "block-inf-in-derived-mean",
        _edit_block("fitted.mean", _set_item(0, -np.inf)),
        bad("'fitted.mean' holds a non-finite value -inf"),
        "pixel-uint8",
    ),
    Case(
        "block-shape-flattened",
        set_(f"{S}.sum", {"dtype": "bigint", "shape": [48], "data": "A" * 1024}),
        bad(r"'fitted.statistics.sum.shape' is \[48\]"),
        "pixel-uint8",
    ),
    Case(
        "bigint-negative-low-part",  # every byte 0xFF: hi = lo = -1
        set_(f"{S}.sum", {"dtype": "bigint", "shape": [4, 4, 3], "data": "/" * 1024}),
        bad(r"'fitted.statistics.sum.data' holds a negative low part"),
        "pixel-uint8",
    ),
    Case(
        "block-data-short-by-padding",  # 512 characters, but 382 bytes
        set_(f"{S}.min.data", "A" * 510 + "=="),
        bad(r"'fitted.statistics.min.data' decodes to 382 bytes, not 384"),
        "pixel-uint8",
    ),
    # -- what the blocks say ----------------------------------------------------------
    Case(
        "sum-outside-count-range",
        both(
            _edit_block(f"{S}.sum", _set_item(0, 0)),
            _edit_block(f"{S}.sumsq", _set_item(0, 0)),
        ),
        bad(r"'fitted.statistics.sum' \(0\) is outside count \* \[min, max\]"),
        "pixel-uint8",
    ),
    Case(
        "sumsq-inconsistent",
        _edit_block(f"{S}.sumsq", _set_item(3, 0)),
        bad(r"inconsistent in channel\(s\) \[3\]"),
        "pixel-uint8",
    ),
    Case(
        "m2-negative",
        _edit_block(f"{S}.m2", _set_item(2, -1.0)),
        bad("Field 'm2' must not be negative"),
        "pixel-float32",
    ),
    Case(
        "count-negative",
        _edit_block(f"{S}.count", _set_item(2, -1)),
        bad("Field 'count' must not be negative"),
        "pixel-uint8",
    ),
    Case(
        "min-above-max",
        _edit_block(f"{S}.min", _set_item(7, 254.0)),
        bad(r"'min' exceeds field 'max'|outside count"),
        "pixel-uint8",
    ),
    Case(
        "derived-mean-edited",
        _edit_block("fitted.mean", lambda v: v + 1e-9),
        bad("'fitted.mean' = .* does not match the value recomputed"),
        "pixel-uint8",
    ),
    Case(
        "derived-std-negative",
        _edit_block("fitted.std", lambda v: -v),
        bad("'fitted.std' holds a negative value"),
        "pixel-uint8",
    ),
    Case(
        "derived-mean-wrong-shape",
        set_("fitted.mean", {"dtype": "float64", "shape": [2], "data": _data(1, 2)}),
        bad(r"'fitted.mean' has 2 value\(s\) but the estimator has 48"),
        "pixel-uint8",
    ),
    Case(
        "derived-pooled-mean-edited",
        _edit_block("fitted.mean", lambda v: v * 2),
        bad("'fitted.mean' = .* does not match"),
        "pixel-pooled",
    ),
    # -- the image shape --------------------------------------------------------------
    Case(
        "pixel-shape-missing",
        lambda d: d["fitted"].pop("pixel_shape"),
        bad("'fitted.pixel_shape' must be the shape of one image"),
        "pixel-uint8",
    ),
    Case(
        "pixel-shape-on-channel-statistics",
        set_("fitted.pixel_shape", [4, 4, 3]),
        bad("'fitted.pixel_shape' is for per_pixel=True estimators only"),
        "channels",
    ),
    Case(
        "pixel-shape-other-channels",
        set_("fitted.pixel_shape", [4, 3, 4]),
        bad(r"'fitted.pixel_shape' \(\[4, 3, 4\]: 4 channel\(s\), 48 values\)"),
        "pixel-uint8",
    ),
    Case(
        "pixel-shape-other-size",
        set_("fitted.pixel_shape", [2, 4, 3]),
        bad(r"contradicts 'fitted.n_channels' \(3\) or 'fitted.n_features_in' \(48\)"),
        "pixel-uint8",
    ),
    Case(
        "pixel-shape-and-blocks-other-size",
        both(
            set_("fitted.pixel_shape", [2, 2, 3]),
            set_("fitted.n_features_in", 12),
        ),
        bad(r"'fitted.statistics.shape' is \[4, 4, 3\], but 'fitted.pixel_shape'"),
        "pixel-uint8",
    ),
    Case(
        "per-pixel-flag-removed",
        set_("params.per_pixel", False),
        bad("'fitted.pixel_shape' is for per_pixel=True estimators only"),
        "pixel-uint8",
    ),
    Case(
        "statistics-as-lists",
        lambda d: d["fitted"]["statistics"].update(count=[3] * 48),
        bad("'fitted.statistics.count' must be a JSON object"),
        "pixel-uint8",
    ),
    # -- the whitener -----------------------------------------------------------------
    Case(
        "whitener-statistics-not-null",
        set_("fitted.statistics", {"count": [1]}),
        bad("'fitted.statistics' is not a PixelWhitener field"),
        "whitener",
    ),
    Case(
        "whitener-derived-mean",
        set_("fitted.mean", [0.5]),
        bad("'fitted.mean' is not a PixelWhitener field"),
        "whitener",
    ),
    Case(
        "whitener-covariance-missing",
        lambda d: d["fitted"].pop("covariance"),
        bad(r"'fitted' is missing key\(s\) \['covariance'\]"),
        "whitener",
    ),
    Case(
        "whitener-covariance-on-standardizer",
        set_("fitted.covariance", {}),
        bad(r"'fitted' has unknown key\(s\) \['covariance'\]"),
        "channels",
    ),
    Case(
        "whitener-image-shape-channels",
        set_("fitted.input_image_shape", [4, 12, 1]),
        bad(r"'fitted.input_image_shape' \[4, 12, 1\] holds 1 channel\(s\)"),
        "whitener",
    ),
    Case(
        "whitener-image-shape-not-a-list",
        set_("fitted.input_image_shape", "4x4x3"),
        bad(r"'fitted.input_image_shape' must be the shape of one training image"),
        "whitener",
    ),
    Case(
        "whitener-channel-axis-outside-the-image",
        set_("params.channel_axis", -4),  # axis 0 of (n, 4, 4, 3): the images
        bad(r"'fitted.input_image_shape' is invalid: channel_axis=-4 does not exist"),
        "whitener",
    ),
    Case(
        "whitener-dtype-unknown",
        set_(f"{COV}.dtype", "uint9"),
        bad(r"'fitted.covariance.dtype'/'exact' must name a numeric dtype.*'uint9'"),
        "whitener",
    ),
    Case(
        "whitener-sum-bigint-gram-float",
        lambda doc: doc["fitted"]["covariance"].update(
            sum=encode(
                decode(
                    doc["fitted"]["covariance"]["sum"],
                    _Reader("f"),
                    "s",
                    kinds=("int64",),
                ).astype(object),
                keep_object=True,
            )
        ),
        bad(r"'fitted.covariance.sum' and '.gram' differ in number type"),
        "whitener",
    ),
    Case(
        "whitener-image-shape-other-size",
        set_("fitted.input_image_shape", [4, 2, 3]),
        bad("'fitted.n_features_in' is 48, but images of shape"),
        "whitener",
    ),
    Case(
        "whitener-n-features",
        set_(f"{COV}.n_features", 47),
        bad("'fitted.covariance.n_features' is 47, but .* rows of 48 values"),
        "whitener",
    ),
    Case(
        "whitener-n-samples",
        set_(f"{COV}.n_samples", 4),
        bad("'fitted.covariance.n_samples' is 4 but 'fitted.n_samples_seen' is 3"),
        "whitener",
    ),
    Case(
        "whitener-exact-flag",
        set_(f"{COV}.exact", False),
        bad(r"'fitted.covariance' has unknown key\(s\) \['gram', 'sum'\]"),
        "whitener",
    ),
    Case(
        "whitener-dtype",
        set_(f"{COV}.dtype", "uint16"),
        bad("'fitted.covariance.dtype' is 'uint16' but 'fitted.input_dtype'"),
        "whitener",
    ),
    Case(
        "whitener-bound",
        set_(f"{COV}.bound", 100),
        bad("'fitted.covariance.bound' must be the largest pixel magnitude"),
        "whitener",
    ),
    Case(
        "whitener-gram-negative-diagonal",
        _edit_block(f"{COV}.gram", _set_item(0, -4.0)),
        bad("are sums that no 3 rows of pixels within"),
        "whitener",
    ),
    Case(
        "whitener-gram-not-integer",
        _edit_block(f"{COV}.gram", _set_item(1, 0.5)),
        bad("'fitted.covariance.gram' holds float64 sums that cannot be exact"),
        "whitener",
    ),
    Case(
        "whitener-sum-too-large",
        _edit_block(f"{COV}.sum", _set_item(0, 10**6)),
        bad("are sums that no 3 rows"),
        "whitener",
    ),
    Case(
        "whitener-gram-truncated-shape",
        set_(f"{COV}.gram.shape", [1175]),
        bad(r"'fitted.covariance.gram.shape' is \[1175\], .* \[1176\]"),
        "whitener",
    ),
    Case(
        "whitener-m2-negative-diagonal",
        _edit_block(f"{COV}.m2", _set_item(0, -1.0)),
        bad("'fitted.covariance.m2' has a negative diagonal entry"),
        "whitener-float",
    ),
    Case(
        "whitener-mean-nan",
        _edit_block(f"{COV}.mean", _set_item(0, np.nan)),
        bad("'fitted.covariance.mean' holds a non-finite value nan"),
        "whitener-float",
    ),
    Case(
        "whitener-bound-on-float",
        set_(f"{COV}.bound", 255),
        bad("'fitted.covariance.bound' must be null for float sums"),
        "whitener-float",
    ),
    Case(
        "whitener-huge-image-shape",
        set_("fitted.input_image_shape", [10**6, 10**6, 3]),
        bad(
            "'fitted.n_features_in' is 48, but images of shape .* 3000000000000 values"
        ),
        "whitener",
    ),
    Case(
        "whitener-huge-declared-covariance",
        both(
            set_("fitted.input_image_shape", [10**6, 10**6, 3]),
            set_("fitted.n_features_in", None),
            set_(f"{COV}.n_features", 3 * 10**12),
        ),
        bad(r"'fitted.covariance.sum.shape' is \[48\], but .* \[3000000000000\]"),
        "whitener",
    ),
    Case(
        "pixel-huge-shape",
        both(
            set_("fitted.pixel_shape", [10**6, 10**6, 3]),
            set_("fitted.n_features_in", None),
        ),
        bad(r"'fitted.statistics.shape' is \[4, 4, 3\], but 'fitted.pixel_shape'"),
        "pixel-uint8",
    ),
    Case(
        "whitener-n-components-too-many",
        set_("params.n_components", 49),
        bad("n_components=49 is larger than the n_features=48"),
        "whitener",
    ),
]


@pytest.mark.parametrize("case", ARRAY_CASES, ids=[c.id for c in ARRAY_CASES])
def test_load_json_refuses_malformed_array_field(case, texts, tmp_path):
    doc = json.loads(texts[case.base])
    text = case.edit(doc)
    path = tmp_path / "bad.json"
    path.write_text(text if isinstance(text, str) else json.dumps(doc))
    with pytest.raises(case.raises.exc, match=case.raises.match) as info:
        load_json(path)
    assert str(info.value).startswith(f"{path}: ")


def test_large_mean_image_loads_in_linear_time(tmp_path):
    X = RNG.integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)
    path = tmp_path / "big.json"
    estimator = PixelStandardizer(per_pixel=True).fit(X)
    save_json(estimator, path)
    size = path.stat().st_size
    with pytest.raises(InvalidModelFileError, match="Pass a larger max_bytes"):
        load_json(path)
    start = time.perf_counter()
    loaded = load_json(path, max_bytes=size)
    assert time.perf_counter() - start < 20.0
    assert_array_equal(loaded.transform(X[:1]), estimator.transform(X[:1]))
