"""Shared behaviour: parameter validation at fit, tags, set_output, clone, summary."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from sk_pixels import PixelCenterer, PixelNormalizer, PixelStandardizer

ALL = [PixelNormalizer, PixelCenterer, PixelStandardizer]


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_init_only_stores_parameters(cls):
    est = cls(scope="nonsense", max_value=-3)  # validated at fit, not here
    assert est.get_params()["scope"] == "nonsense"
    with pytest.raises(
        ValueError, match="The 'scope' parameter of .* must be a str among"
    ):
        est.fit(np.zeros((1, 2, 2, 3)))


DEGENERATE_PARAMETERS = [
    # (estimator, message): every one would give inf or NaN on finite pixels.
    (PixelCenterer(max_value=-1), "max_value must be 'auto' or a finite number > 0"),
    (PixelCenterer(max_value=0.0), "max_value must be 'auto' or a finite number > 0"),
    (PixelNormalizer(max_value=np.nan), "finite number > 0"),
    (PixelNormalizer(max_value=np.inf), "finite number > 0"),
    (PixelNormalizer(max_value=1e-320), "inverse is finite"),
    (PixelCenterer(mean=np.nan), "mean must hold finite numbers"),
    (PixelCenterer(mean=[0.0, np.inf, 0.0]), "mean must hold finite numbers"),
    (PixelStandardizer(mean=-np.inf, std=1.0), "mean must hold finite numbers"),
    (PixelStandardizer(std=np.inf), "std must hold finite numbers"),
    (PixelNormalizer(feature_range=(0, np.inf)), "feature_range must be two finite"),
    (PixelNormalizer(feature_range=(np.nan, 1)), "feature_range must be two finite"),
    (PixelStandardizer(ddof=4), "ddof=4 needs more than 4 pixel"),
    (PixelStandardizer(ddof=12, per_channel=False), "ddof=12 needs more than 12"),
    (
        PixelCenterer(mean="imagenet", per_channel=False),
        "Preset 'imagenet' holds per-channel statistics.*Got per_channel=False",
    ),
]


@pytest.mark.parametrize(
    "estimator, message", DEGENERATE_PARAMETERS, ids=lambda v: repr(v)[:60]
)
def test_degenerate_parameters_are_rejected_at_fit(estimator, message):
    X = np.arange(12, dtype=np.uint8).reshape(1, 2, 2, 3)  # 4 pixels per channel
    with pytest.raises(ValueError, match=message):
        estimator.fit(X)
    assert not hasattr(estimator, "n_samples_seen_")


def test_scalar_statistics_are_global():
    # Issue 11, item 4: a scalar parameter gives a 0-d attribute.
    X = np.arange(12, dtype=np.uint8).reshape(1, 2, 2, 3)
    scaler = PixelStandardizer(mean=5.0, std=2.0).fit(X)
    assert scaler.mean_.shape == () and scaler.std_.shape == ()
    assert PixelCenterer(mean=[1.0, 2.0, 3.0]).fit(X).mean_.shape == (3,)


@pytest.mark.parametrize(
    "first, second, outcome",
    [
        (np.int32, np.float32, "refused"),
        (np.uint8, np.float32, "refused"),
        (np.uint16, np.uint8, "refused"),
        ("float-0-1", "float-0-255", "warns"),
        ("float-0-255", "float-0-1", "warns"),
        (np.uint8, np.uint8, "merges"),
    ],
)
def test_partial_fit_refuses_batches_in_other_units(first, second, outcome):
    # Issue 11, item 6: units (the domain maximum of a dtype) must match;
    # the same units on another scale warn, as transform does.
    def batch(kind, seed):
        rng = np.random.default_rng(seed)
        if kind == "float-0-1":
            return rng.random((2, 3, 3, 3), dtype=np.float32)
        if kind == "float-0-255":
            return (rng.random((2, 3, 3, 3)) * 255).astype(np.float32)
        if np.dtype(kind).kind == "f":
            return rng.random((2, 3, 3, 3)).astype(kind)
        return rng.integers(0, 100, (2, 3, 3, 3)).astype(kind)

    scaler = PixelStandardizer().partial_fit(batch(first, 0))
    before = scaler.n_samples_seen_
    if outcome == "refused":
        with pytest.raises(ValueError, match="units"):
            scaler.partial_fit(batch(second, 1))
        assert scaler.n_samples_seen_ == before == scaler.stats_.n_images
    elif outcome == "warns":
        with pytest.warns(UserWarning, match="apart"):
            scaler.partial_fit(batch(second, 1))
    else:
        scaler.partial_fit(batch(second, 1))
        assert scaler.n_samples_seen_ == 2 * before


def test_integer_output_dtype_is_rejected():
    with pytest.raises(ValueError, match="dtype must be a float dtype"):
        PixelCenterer(dtype=np.int32).fit(np.zeros((1, 2, 2, 3)))


def test_transform_before_fit_raises_not_fitted(uint8_batch):
    with pytest.raises(NotFittedError):
        PixelStandardizer().transform(uint8_batch)


def test_tags_follow_parameters():
    assert PixelStandardizer().__sklearn_tags__().requires_fit
    assert not PixelStandardizer(scope="image").__sklearn_tags__().requires_fit
    tags = PixelCenterer().__sklearn_tags__()
    assert tags.input_tags.allow_nan and tags.input_tags.three_d_array
    assert tags.transformer_tags.preserves_dtype == ["float64", "float32"]


@pytest.mark.parametrize("kind", ["complex", "string"])
def test_non_numeric_dtypes_are_rejected(kind):
    X = (
        np.zeros((1, 2, 2, 3), dtype=complex)
        if kind == "complex"
        else np.full((1, 2, 2, 3), "a")
    )
    with pytest.raises(ValueError, match="Complex data not supported|bytes/strings"):
        PixelCenterer().fit(X)


def test_bool_is_rejected_with_a_remedy():
    with pytest.raises(ValueError, match=r"dtype bool.*astype\(np.uint8\)"):
        PixelCenterer().fit(np.zeros((1, 2, 2, 3), dtype=bool))


def test_inf_is_rejected():
    X = np.zeros((1, 2, 2, 3))
    X[0, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        PixelStandardizer().fit(X)


def test_set_output_pandas_on_flattened_input():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(np.arange(12.0).reshape(3, 4) / 12, columns=list("abcd"))
    out = PixelStandardizer().set_output(transform="pandas").fit_transform(X)
    assert list(out.columns) == list("abcd")
    assert list(PixelStandardizer().fit(X).get_feature_names_out()) == list("abcd")


def test_clone_keeps_parameters_and_drops_state(uint8_batch):
    est = PixelStandardizer(clip=2.0, mean="imagenet").fit(uint8_batch)
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    assert not hasattr(copy, "mean_")


def test_summary_reports_what_was_seen(uint8_batch):
    text = PixelStandardizer().fit(uint8_batch).summary()
    assert (
        "fitted on 4 images, 140 pixels per channel, dtype uint8, units 0-255" in text
    )
    assert "mean per channel" in text


def test_refit_resets_state(uint8_batch, rng):
    est = PixelCenterer().fit(uint8_batch)
    other = rng.integers(0, 256, (2, 3, 3, 1), dtype=np.uint8)
    est.fit(other)
    assert est.n_channels_ == 1 and est.n_samples_seen_ == 2


def test_fit_stats_equals_fit_on_pixels(uint8_batch):
    from sk_pixels import PixelStats

    stats = PixelStats.from_array(uint8_batch)
    for cls, kwargs in [
        (PixelStandardizer, {}),
        (PixelCenterer, {}),
        (PixelNormalizer, {"scope": "dataset"}),
    ]:
        a = cls(**kwargs).fit_stats(stats)
        b = cls(**kwargs).fit(uint8_batch)
        assert_array_equal(a.transform(uint8_batch), b.transform(uint8_batch))


def test_fit_stats_rejects_other_objects():
    with pytest.raises(TypeError, match="expects a PixelStats"):
        PixelStandardizer().fit_stats(np.zeros(3))


def _peak_bytes(fn):
    import tracemalloc

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("channel_axis", [-1, 1], ids=["NHWC", "NCHW"])
def test_transform_allocates_only_its_output(rng, channel_axis):
    # 12.6 MB of output: 1% covers NumPy's fixed 64 KiB casting buffers.
    X = rng.integers(0, 256, (64, 128, 128, 3), dtype=np.uint8)
    if channel_axis == 1:
        X = np.ascontiguousarray(np.moveaxis(X, -1, 1))
    scaler = PixelStandardizer(channel_axis=channel_axis).fit(X)
    output = X.size * 4
    peak = _peak_bytes(lambda: scaler.transform(X))
    assert peak <= output * 1.01, (peak, output)


def test_per_image_transform_needs_only_fixed_extra_memory(rng):
    X = rng.integers(0, 256, (64, 128, 128, 3), dtype=np.uint8)
    scaler = PixelStandardizer(scope="image")
    peak = _peak_bytes(lambda: scaler.transform(X))
    assert peak <= X.size * 4 + 4 * 2**20, (peak, X.size * 4)


def test_fit_memory_does_not_grow_with_batch_size(rng):
    small = rng.integers(0, 256, (8, 128, 128, 3), dtype=np.uint8)
    large = np.concatenate([small] * 8)
    peak_small = _peak_bytes(lambda: PixelStandardizer().fit(small))
    peak_large = _peak_bytes(lambda: PixelStandardizer().fit(large))
    assert peak_large <= peak_small * 1.1 + 64 * 2**10, (peak_small, peak_large)


def test_refit_drops_the_provenance_of_earlier_statistics(rng):
    X = rng.integers(0, 256, (2, 3, 3, 3), dtype=np.uint8)
    scaler = PixelStandardizer().fit(X).set_provenance("resize 256")
    scaler.partial_fit(X)
    assert scaler.provenance_["note"] == "resize 256"  # the same statistics, grown
    assert not hasattr(scaler.fit(X), "provenance_")


@pytest.mark.parametrize(
    "dtype", ["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"]
)
@pytest.mark.parametrize("out_dtype", [None, "float64"])
def test_restore_dtype_stays_in_range_for_every_integer_dtype(dtype, out_dtype):
    # Issue 11, item 5: iinfo.max rounds up in float32/float64 and used to wrap.
    info = np.iinfo(dtype)
    middle = (int(info.min) + int(info.max)) // 2
    X = np.array([info.min, middle, info.max], dtype=dtype).reshape(1, 1, 3, 1)
    scaler = PixelNormalizer(scope="dataset", dtype=out_dtype).fit(X)
    back = scaler.inverse_transform(scaler.transform(X), restore_dtype=True)
    assert back.dtype == np.dtype(dtype)
    # No wrap-around: the order of the extremes and the middle is kept.
    assert back[0, 0, 0, 0] < back[0, 0, 1, 0] < back[0, 0, 2, 0]
    exact = all(int(np.float64(v)) == int(v) for v in (info.min, info.max))
    if np.dtype(dtype).itemsize <= 2 or (out_dtype == "float64" and exact):
        assert_array_equal(back, X)
