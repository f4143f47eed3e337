"""Mean and std images: ``per_pixel=True`` on PixelCenterer and PixelStandardizer.

Laws:

* the mean image of integer pixels is the exact rational mean of each position
  and channel, rounded once (and so is the variance), checked with Fractions;
* ``partial_fit`` over any split equals ``fit`` (the same integers, to the bit);
* every layout gives the statistics in its own layout, pooled over the channel
  axis with ``per_channel=False``;
* Dask, array_api_strict and PyTorch give NumPy's statistics and transform;
* an image of another size is refused, naming both sizes;
* a constant position follows the per-channel zero-std rule;
* the transform meets the accuracy bound of ``sk_pixels._kernels``.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import sklearn
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose, assert_array_equal

from sk_pixels import PixelCenterer, PixelStandardizer, PixelStats

from ._outcomes import Raises, check
from .strategies import splits
from .test_backends import BACKENDS, _dispatch
from .test_transform_accuracy import _bound

INTEGER_DTYPES = ("uint8", "uint16", "int8", "int16")


@st.composite
def integer_batches(draw, max_images=7, channels=(1, 3)):
    """An ``(n, H, W, C)`` batch of integer pixels over the dtype's whole range."""
    dtype = np.dtype(draw(st.sampled_from(INTEGER_DTYPES)))
    info = np.iinfo(dtype)
    shape = (
        draw(st.integers(1, max_images)),
        draw(st.integers(1, 4)),
        draw(st.integers(1, 4)),
        draw(st.sampled_from(channels)),
    )
    values = st.integers(int(info.min), int(info.max))
    return draw(hnp.arrays(dtype, shape, elements=values))


def _fraction_moments(X: np.ndarray, axis) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population variance over ``axis``, exact rationals rounded once."""
    values = np.moveaxis(X.astype(object), axis, 0) if np.ndim(axis) == 0 else None
    if values is None:  # (0, channel axis): images and channels together
        values = np.moveaxis(X.astype(object), axis, (0, 1))
        values = values.reshape(-1, *values.shape[2:])
    n = values.shape[0]
    total = values.sum(axis=0)
    squares = (values * values).sum(axis=0)
    mean = np.vectorize(lambda s: float(Fraction(int(s), n)), otypes=[float])(total)
    var = np.vectorize(
        lambda s, q: float(Fraction(n * int(q) - int(s) * int(s), n * n)),
        otypes=[float],
    )(total, squares)
    return mean, var


# -- exactness and streaming ---------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(X=integer_batches())
def test_mean_image_equals_fraction_reference(X):
    scaler = PixelStandardizer(per_pixel=True).fit(X)
    mean, var = _fraction_moments(X, 0)
    assert scaler.mean_.shape == X.shape[1:]
    assert_array_equal(scaler.mean_, mean)
    assert_array_equal(scaler.var_, var)
    assert_array_equal(PixelCenterer(per_pixel=True).fit(X).mean_, mean)


@settings(max_examples=40, deadline=None)
@given(X=integer_batches(channels=(2, 3)))
def test_pooled_mean_image_equals_fraction_reference(X):
    scaler = PixelStandardizer(per_pixel=True, per_channel=False).fit(X)
    mean, var = _fraction_moments(X, (0, 3))
    assert scaler.mean_.shape == X.shape[1:3]
    assert_array_equal(scaler.mean_, mean)
    assert_array_equal(scaler.var_, var)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), X=integer_batches())
def test_partial_fit_any_split_equals_fit(data, X):
    cuts = data.draw(splits(X.shape[0]))
    whole = PixelStandardizer(per_pixel=True).fit(X)
    streamed = PixelStandardizer(per_pixel=True)
    for part in np.split(X, cuts):
        streamed.partial_fit(part)
    assert streamed.stats_ == whole.stats_
    assert streamed.n_samples_seen_ == X.shape[0]
    assert_array_equal(streamed.transform(X), whole.transform(X))


@settings(max_examples=30, deadline=None)
@given(data=st.data(), X=integer_batches())
def test_merged_mean_images_equal_one_pass(data, X):
    cuts = data.draw(splits(X.shape[0]))
    whole = PixelStats.from_view(X.reshape(X.shape[0], 1, 1, -1))
    parts = [
        PixelStats.from_view(p.reshape(p.shape[0], 1, 1, -1)) for p in np.split(X, cuts)
    ]
    merged = parts[0]
    for part in parts[1:]:
        merged = merged + part
    assert merged == whole
    assert_array_equal(merged.mean.reshape(X.shape[1:]), X.mean(axis=0))


def test_float_mean_image_matches_float64_numpy(rng):
    X = rng.random((9, 5, 4, 3)).astype(np.float32) * 1e3 + 7e4
    scaler = PixelStandardizer(per_pixel=True).fit(X)
    ref = X.astype(np.float64)
    assert_allclose(scaler.mean_, ref.mean(0), rtol=1e-15)
    assert_allclose(scaler.std_, ref.std(0), rtol=1e-10)
    streamed = PixelStandardizer(per_pixel=True)
    for part in np.split(X, [2, 3, 7]):
        streamed.partial_fit(part)
    assert_allclose(streamed.var_, scaler.var_, rtol=1e-12)


def test_nan_pixels_are_ignored_per_position(rng):
    X = rng.random((4, 2, 3, 1))
    X[0, 0, 0, 0] = X[2, 1, 2, 0] = np.nan
    scaler = PixelStandardizer(per_pixel=True).fit(X)
    assert_allclose(scaler.mean_, np.nanmean(X, axis=0), rtol=1e-15)
    assert_array_equal(scaler.stats_.count[0, 0, 0], 3)


def test_position_with_no_pixel_is_refused_at_transform(rng):
    X = rng.random((3, 2, 2, 1))
    X[:, 1, 1, 0] = np.nan
    scaler = PixelCenterer(per_pixel=True).fit(X)
    with pytest.raises(
        ValueError, match=r"no statistics at 1 position\(s\) .* e\.g\. \[\(1, 1, 0\)\]"
    ):
        scaler.transform(X)


@pytest.mark.parametrize(
    ("params", "where"),
    [({}, "(1, 2, 0)"), ({"per_channel": False}, "(1, 2)")],
    ids=["per-channel", "pooled"],
)
def test_position_with_no_valid_pixel_is_named_as_a_position_not_a_channel(
    rng, params, where
):
    # A mean image's empty entry is a pixel position: naming its flat index as
    # a channel ("channel(s) [21]" of an RGB image) points the user nowhere.
    X = rng.integers(1, 9, (3, 4, 5, 3), dtype=np.uint8)
    X[:, 1, 2, :] = 0
    scaler = PixelStandardizer(per_pixel=True, nodata=0, **params).fit(X)
    with pytest.raises(ValueError) as info:
        scaler.transform(X)
    assert where in str(info.value) and "channel(s)" not in str(info.value)


# -- layouts -------------------------------------------------------------------------
# (id, shape of X, params, shape of mean_ per channel, shape pooled over channels)
LAYOUTS = [
    ("channels-last", (5, 4, 3, 2), {}, (4, 3, 2), (4, 3)),
    ("channels-first", (5, 2, 4, 3), {"channel_axis": 1}, (2, 4, 3), (4, 3)),
    ("grayscale", (5, 4, 5), {}, (4, 5), (4, 5)),
    ("no-channel-axis", (5, 4, 3, 2), {"channel_axis": None}, (4, 3, 2), (4, 3, 2)),
    ("flattened", (5, 24), {}, (24,), (24,)),
    ("flattened-image", (5, 24), {"image_shape": (4, 3, 2)}, (4, 3, 2), (4, 3)),
    ("volume", (5, 2, 3, 2, 2), {}, (2, 3, 2, 2), (2, 3, 2)),
]


@pytest.mark.parametrize(
    "shape, params, per_channel_shape, pooled_shape",
    [row[1:] for row in LAYOUTS],
    ids=[row[0] for row in LAYOUTS],
)
def test_mean_image_is_in_the_input_layout(
    rng, shape, params, per_channel_shape, pooled_shape
):
    X = rng.integers(0, 256, shape, dtype=np.uint8)
    images = X.reshape(shape[0], *params.get("image_shape", shape[1:]))
    axis = params.get("channel_axis", -1)
    scaler = PixelStandardizer(per_pixel=True, **params).fit(X)
    assert scaler.mean_.shape == per_channel_shape
    assert_array_equal(scaler.mean_, images.mean(axis=0))
    assert scaler.pixel_shape_ == per_channel_shape
    pooled = PixelStandardizer(per_pixel=True, per_channel=False, **params).fit(X)
    assert pooled.mean_.shape == pooled_shape
    if pooled_shape != per_channel_shape:
        assert_allclose(
            pooled.mean_, images.mean(axis=(0, axis if axis == -1 else 1)), rtol=1e-14
        )
    Y = scaler.transform(X)
    assert Y.shape == X.shape
    ref = (images - scaler.mean_) / np.where(scaler.std_ == 0, 1, scaler.std_)
    assert_allclose(Y.reshape(ref.shape), ref, rtol=1e-6, atol=1e-5)
    assert_allclose(scaler.inverse_transform(Y), X, atol=1e-4)


def test_channels_first_equals_channels_last(rng):
    X = rng.integers(0, 65536, (6, 5, 4, 3), dtype=np.uint16)
    first = np.ascontiguousarray(X.transpose(0, 3, 1, 2))
    last = PixelStandardizer(per_pixel=True).fit(X)
    cf = PixelStandardizer(per_pixel=True, channel_axis=1).fit(first)
    assert_array_equal(cf.mean_, last.mean_.transpose(2, 0, 1))
    assert_array_equal(cf.std_, last.std_.transpose(2, 0, 1))
    assert_array_equal(cf.transform(first), last.transform(X).transpose(0, 3, 1, 2))


def test_strided_input_and_out(rng):
    X = rng.integers(0, 256, (4, 6, 5, 3), dtype=np.uint8)
    scaler = PixelStandardizer(per_pixel=True).fit(X[:, ::2])
    expected = scaler.transform(np.ascontiguousarray(X[:, ::2]))
    assert_array_equal(scaler.transform(X[:, ::2]), expected)
    out = np.empty((4, 6, 5, 3), dtype=np.float32)[:, ::2]  # no flat view
    assert scaler.transform(X[:, ::2], out=out) is out
    assert_array_equal(out, expected)
    dense = np.empty(expected.shape, dtype=np.float32)
    assert scaler.transform(X[:, ::2], out=dense) is dense
    assert_array_equal(dense, expected)


def test_same_size_list_equals_batch(rng):
    X = rng.integers(0, 256, (3, 4, 4, 3), dtype=np.uint8)
    from_list = PixelStandardizer(per_pixel=True).fit(list(X))
    batch = PixelStandardizer(per_pixel=True).fit(X)
    assert from_list.stats_ == batch.stats_
    for a, b in zip(from_list.transform(list(X)), batch.transform(X)):
        assert_array_equal(a, b)


def test_batch_scope_subtracts_the_batch_mean_image(rng):
    X = rng.integers(0, 256, (5, 3, 4, 3), dtype=np.uint8)
    Y = PixelCenterer(per_pixel=True, scope="batch").fit_transform(X)
    assert_allclose(Y, X - X.mean(axis=0), atol=1e-4)
    # Another size is fine: statistics of each batch.
    Z = PixelCenterer(per_pixel=True, scope="batch").fit(X).transform(X[:, :2])
    assert_allclose(Z, X[:, :2] - X[:, :2].mean(axis=0), atol=1e-4)


# -- zero std ------------------------------------------------------------------------
def test_constant_position_is_divided_by_one(rng):
    X = rng.integers(0, 256, (6, 3, 3, 2), dtype=np.uint8)
    X[:, 1, 2, 0] = 77
    scaler = PixelStandardizer(per_pixel=True).fit(X)
    assert scaler.std_[1, 2, 0] == 0.0
    Y = scaler.transform(X)
    assert np.all(Y[:, 1, 2, 0] == 0.0)
    X[0, 1, 2, 0] = 78  # one step off: divided by its tiny std
    assert np.all(np.abs(scaler.transform(X)[0, 1, 2, 0]) == 1.0)


def test_near_constant_float_position_follows_the_rounding_noise_rule():
    # Values whose float64 variance is rounding noise only: treated as constant,
    # as a constant channel is (sklearn's _is_constant_feature bound).
    X = np.full((4, 1, 2, 1), 1e8)
    X[:, 0, 1, 0] = [1.0, 2.0, 3.0, 4.0]
    X[:, 0, 0, 0] += np.array([0, 1, 0, 1]) * 1e-8
    per_pixel = PixelStandardizer(per_pixel=True).fit(X)
    channel = PixelStandardizer().fit(X[:, :, :1])
    assert np.all(
        per_pixel.transform(X)[:, 0, 0, 0] == channel.transform(X[:, :, :1]).ravel()
    )


def test_adjusted_std_per_pixel(rng):
    X = np.full((4, 2, 2, 1), 9, dtype=np.uint8)
    scaler = PixelStandardizer(per_pixel=True, adjusted_std=True).fit(X)
    assert np.all(scaler.transform(X) == 0.0)


# -- accuracy ------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(X=integer_batches(), clip=st.sampled_from([None, 1.5]))
def test_transform_error_within_stated_bound(X, clip):
    scaler = PixelStandardizer(per_pixel=True, clip=clip).fit(X)
    Y = scaler.transform(X)
    std = np.where(scaler.std_ == 0, 1.0, scaler.std_)
    scale, center = 1.0 / std, scaler.mean_
    y_ref = (X.astype(np.float64) - center) * scale
    if clip is not None:
        y_ref = np.clip(y_ref, -clip, clip)
    err = np.abs(Y.astype(np.float64) - y_ref)
    assert np.all(err <= _bound(y_ref, 0.0, center, scale, np.float32))


# -- backends ------------------------------------------------------------------------
@pytest.mark.parametrize("per_channel", [True, False], ids=["per-channel", "pooled"])
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32", "float64"])
@pytest.mark.parametrize("name", [b for b in BACKENDS if b != "numpy"])
def test_dask_array_api_torch_equal_numpy(name, rng, dtype, per_channel):
    make = BACKENDS[name]
    X = rng.integers(0, 256, (7, 5, 4, 3)).astype(dtype)
    if dtype.startswith("float"):
        X /= 255
    params = dict(per_pixel=True, per_channel=per_channel)
    reference = PixelStandardizer(**params).fit(X)
    with _dispatch(name):
        Xb, to_numpy = make(X)
        fitted = PixelStandardizer(**params).fit(Xb)
        Y = to_numpy(fitted.transform(Xb))
        back = to_numpy(fitted.inverse_transform(fitted.transform(Xb)))
    if dtype.startswith("uint"):
        assert fitted.stats_ == reference.stats_
    else:
        assert_allclose(fitted.mean_, reference.mean_, rtol=1e-12)
        assert_allclose(
            fitted.std_, reference.std_, rtol=1e-6 if name == "torch" else 1e-12
        )
    ref_Y = reference.transform(X)
    assert Y.shape == X.shape
    assert_allclose(Y, ref_Y, rtol=4e-7, atol=4e-7 * np.abs(ref_Y).max())
    assert_allclose(back, X, rtol=1e-5, atol=1e-4 * X.max())


def test_dask_spatial_chunks_equal_numpy(rng):
    da = pytest.importorskip("dask.array")
    X = rng.integers(0, 256, (9, 6, 4, 3), dtype=np.uint8)
    reference = PixelStandardizer(per_pixel=True).fit(X)
    fitted = PixelStandardizer(per_pixel=True).fit(
        da.from_array(X, chunks=(2, 3, 2, 3))
    )
    assert fitted.stats_ == reference.stats_
    # Unknown numbers of images per chunk (a boolean selection).
    lazy = da.from_array(X, chunks=(2, 6, 4, 3))
    lazy = lazy[lazy[:, 0, 0, 0] < 256]
    assert PixelStandardizer(per_pixel=True).fit(lazy).stats_ == reference.stats_
    assert_array_equal(fitted.transform(lazy).compute(), reference.transform(X))


# -- refusals ------------------------------------------------------------------------
def _fitted(X):
    return PixelStandardizer(per_pixel=True).fit(X)


X_FIT = np.zeros((2, 4, 4, 3), dtype=np.uint8)
SIZE = (
    r"shape \(2, 4, 3\), but PixelStandardizer\(per_pixel=True\) was fitted on "
    r"images of shape \(4, 4, 3\)"
)
SIZE_CALLS = {
    "partial_fit": lambda: _fitted(X_FIT).partial_fit(X_FIT[:, :2]),
    "transform": lambda: _fitted(X_FIT).transform(X_FIT[:, :2]),
    "inverse_transform": lambda: _fitted(X_FIT).inverse_transform(X_FIT[:, :2]),
    "ragged-list-fit": lambda: PixelStandardizer(per_pixel=True).fit(
        [X_FIT[0], X_FIT[0, :2]]
    ),
    "ragged-list-transform": lambda: _fitted(X_FIT).transform([X_FIT[0], X_FIT[0, :2]]),
}


@pytest.mark.parametrize("call", list(SIZE_CALLS))
def test_image_of_another_size_names_both_sizes(call):
    check(Raises(ValueError, SIZE), SIZE_CALLS[call])


PARAMS = [
    (
        PixelStandardizer(per_pixel=True, scope="image"),
        Raises(ValueError, "scope='image' computes the statistics of each image alone"),
    ),
    (
        PixelCenterer(per_pixel=True, scope="image"),
        Raises(ValueError, "whose mean image is the image itself"),
    ),
    (
        PixelCenterer(per_pixel=True, mean="imagenet"),
        Raises(ValueError, r"mean='imagenet' fixes per-channel statistics"),
    ),
    (
        PixelStandardizer(per_pixel=True, std=2.0),
        Raises(ValueError, r"std=2.0 fixes per-channel statistics"),
    ),
    (
        PixelStandardizer(per_pixel="yes"),
        Raises(ValueError, "The 'per_pixel' parameter of PixelStandardizer must be"),
    ),
]


@pytest.mark.parametrize("estimator, outcome", PARAMS, ids=[repr(e) for e, _ in PARAMS])
def test_parameters_that_make_no_mean_image_are_refused(estimator, outcome):
    check(outcome, lambda: estimator.fit(X_FIT))


def test_fit_stats_is_refused():
    stats = PixelStats.from_array(X_FIT)
    with pytest.raises(ValueError, match="fit_stats takes per-channel PixelStats"):
        PixelStandardizer(per_pixel=True).fit_stats(stats)


# to_keras, to_onnx and to_torch take a mean image (tests/test_export_frameworks.py).
EXPORTS = {
    "to_torchvision": lambda e: e.to_torchvision(),
    "to_hf_config": lambda e: e.to_hf_config(),
}


@pytest.mark.parametrize("export", list(EXPORTS))
def test_exports_that_take_per_channel_numbers_refuse_a_mean_image(export):
    scaler = _fitted(X_FIT + np.arange(3, dtype=np.uint8))
    check(
        Raises(
            ValueError,
            r"per_pixel=True\) subtracts a mean image .*shape \(4, 4, 3\).*"
            r"Use to_torch\(\), to_onnx\(\) or to_keras\(\)",
        ),
        lambda: EXPORTS[export](scaler),
    )


def test_cloned_and_refitted_per_pixel_estimator_forgets_its_shape(rng):
    scaler = _fitted(X_FIT)
    assert scaler.pixel_shape_ == (4, 4, 3)
    other = rng.integers(0, 256, (2, 3, 3, 3), dtype=np.uint8)
    assert scaler.fit(other).pixel_shape_ == (3, 3, 3)
    assert not hasattr(sklearn.clone(scaler), "pixel_shape_")


def test_summary_describes_the_mean_image():
    X = np.arange(2 * 3 * 2, dtype=np.uint8).reshape(2, 3, 2, 1)
    text = PixelStandardizer(per_pixel=True).fit(X).summary()
    assert "mean image of shape (3, 2, 1): values in [3, 8]" in text
    assert "std image of shape (3, 2, 1): values in [3, 3]" in text


def test_ddof_refusal_names_the_distinct_counts():
    with pytest.raises(ValueError, match=r"the statistics count \[2\]\. Fit on more"):
        PixelStandardizer(per_pixel=True, ddof=2).fit(X_FIT)


@pytest.mark.parametrize("name", ["array_api_strict", "torch"])
def test_device_out_receives_the_transform(name, rng):
    X = rng.integers(0, 256, (4, 3, 5, 3), dtype=np.uint8)
    reference = PixelStandardizer(per_pixel=True).fit(X).transform(X)
    with _dispatch(name):
        Xb, to_numpy = BACKENDS[name](X)
        from sk_pixels._xp import namespace_of

        xp = namespace_of(Xb)
        out = xp.zeros(X.shape, dtype=xp.float32)
        scaler = PixelStandardizer(per_pixel=True).fit(Xb)
        assert scaler.transform(Xb, out=out) is out
        assert_allclose(to_numpy(out), reference, rtol=4e-7, atol=1e-6)
        bad = xp.zeros(X.shape, dtype=xp.int32)
        with pytest.raises(ValueError, match="out has dtype int32"):
            scaler.transform(Xb, out=bad)


@pytest.mark.parametrize("before", [True, False], ids=["was-per-pixel", "was-channel"])
def test_changing_per_pixel_after_fit_asks_for_fit(before):
    scaler = PixelStandardizer(per_pixel=before).fit(X_FIT)
    scaler.set_params(per_pixel=not before)
    with pytest.raises(ValueError, match="Call fit again after changing per_pixel"):
        scaler.transform(X_FIT)
    with pytest.raises(ValueError, match="Call fit again after changing per_pixel"):
        scaler.partial_fit(X_FIT)
    assert scaler.fit(X_FIT).transform(X_FIT).shape == X_FIT.shape


@pytest.mark.parametrize("masked", [False, True])
def test_mean_image_leaves_nodata_and_masked_values_out_per_position(masked):
    rng = np.random.default_rng(1)
    X = rng.integers(0, 250, (6, 3, 4, 2)).astype(np.uint8)
    X[rng.random(X.shape) < 0.3] = 255
    X[:, 0, 0, 1] = 255  # one position with no valid value in channel 1...
    X[0, 0, 0, 1] = 7  # ...but one
    invalid = X == 255
    data = np.ma.masked_array(X, invalid) if masked else X
    params = {} if masked else {"nodata": 255}
    scaler = PixelCenterer(per_pixel=True, **params).fit(data)
    counts = (~invalid).sum(axis=0)
    sums = np.where(invalid, 0, X.astype(np.int64)).sum(axis=0)
    assert_array_equal(scaler.stats_.count, counts)
    assert_array_equal(scaler.mean_, sums / counts)
    out = scaler.transform(data)
    if masked:
        assert_array_equal(np.ma.getmaskarray(out), invalid)
    else:
        assert_array_equal(out[invalid], 0.0)


@pytest.mark.parametrize(
    "dtype, nodata",
    [
        ("uint8", (0, 7, 0)),
        ("uint8", (0, 7, 300)),  # 300: no uint8 pixel holds it, nothing left out
        ("int16", (-1, 0, -1)),
        ("float32", (float("nan"), 0.5, float("nan"))),
    ],
    ids=["two-sentinels", "one-unholdable", "int16", "nan-and-a-value"],
)
@pytest.mark.parametrize("channel_axis", [-1, 1])
def test_per_channel_sentinels_leave_out_their_channel_at_every_position(
    rng, dtype, nodata, channel_axis
):
    X = rng.integers(-1 if dtype == "int16" else 0, 8, (9, 4, 5, 3)).astype(dtype)
    if dtype == "float32":
        X /= 14  # 7 / 14 is the sentinel 0.5
        X[rng.random(X.shape) < 0.2] = np.nan
    invalid = np.isnan(X)  # NaN pixels never count, nodata or not
    for c, sentinel in enumerate(nodata):
        column = X[..., c]
        invalid[..., c] |= (
            np.isnan(column) if sentinel != sentinel else column == sentinel
        )
    given = X if channel_axis == -1 else np.moveaxis(X, -1, 1)
    est = PixelCenterer(per_pixel=True, nodata=nodata, channel_axis=channel_axis)
    count = est.fit(given).stats_.count
    expected = (~invalid).sum(axis=0)
    assert_array_equal(
        count, expected if channel_axis == -1 else np.moveaxis(expected, -1, 0)
    )


@pytest.mark.parametrize(
    "shape", [(6, 3, 3, 3), (6, 4, 5, 3)], ids=["cube-reads-the-same", "other-shape"]
)
def test_layout_changed_after_fit_is_refused_not_misapplied(rng, shape):
    # The mean image is stored in the layout of fit. Moving the channel axis
    # with set_params made a 3x3x3 image read the same shape: every position
    # got another position's mean, silently; other shapes were refused as "of
    # another size", with the advice to resize.
    X = rng.integers(0, 256, shape, dtype=np.uint8)
    channels_first = np.ascontiguousarray(X.transpose(0, 3, 1, 2))
    for call in ("transform", "partial_fit"):
        scaler = PixelStandardizer(per_pixel=True).fit(X)
        scaler.set_params(channel_axis=1)
        with pytest.raises(ValueError, match=r"channel axis at position 2 .* at 0"):
            getattr(scaler, call)(channels_first)
        scaler.set_params(channel_axis=3)  # the same axis as -1: accepted
        assert_array_equal(
            scaler.transform(X), PixelStandardizer(per_pixel=True).fit(X).transform(X)
        )


def test_layout_changed_after_load_json_is_refused_too(rng, tmp_path):
    from sk_pixels.persist import load_json, save_json

    X = rng.integers(0, 256, (6, 3, 3, 3), dtype=np.uint8)
    save_json(PixelStandardizer(per_pixel=True).fit(X), tmp_path / "m.json")
    scaler = load_json(tmp_path / "m.json").set_params(channel_axis=1)
    with pytest.raises(ValueError, match=r"channel axis at position 2 .* at 0"):
        scaler.transform(np.ascontiguousarray(X.transpose(0, 3, 1, 2)))
