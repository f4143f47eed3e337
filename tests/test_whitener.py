"""PixelWhitener and PixelCovariance: laws, references, failures, ecosystem."""

from __future__ import annotations

import threading
import tracemalloc
from fractions import Fraction

import joblib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline

from sk_pixels import PixelCovariance, PixelWhitener, _covariance

from ._outcomes import Raises, check
from .strategies import splits


def keras_zca(x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Keras' ImageDataGenerator ZCA, from its description (NumPy only).

    Centre the flattened data, ``sigma = x^T x / n``, ``U, s = svd(sigma)``,
    ``W = U diag(1 / sqrt(s + eps)) U^T``, output ``x_centred @ W``.
    """
    flat = x.reshape(x.shape[0], -1).astype(np.float64)
    flat = flat - flat.mean(axis=0)
    sigma = flat.T @ flat / flat.shape[0]
    u, s, _ = np.linalg.svd(sigma)
    return (flat @ ((u * (1.0 / np.sqrt(s + eps))) @ u.T)).reshape(x.shape)


def correlated(rng, n=400, shape=(3, 4, 3), dtype=np.uint8):
    """Images whose pixels share a common brightness (a full-rank covariance)."""
    common = rng.integers(0, 150, size=(n, 1, 1, 1))
    noise = rng.integers(0, 100, size=(n, *shape))
    return (common + noise).astype(dtype)


def exact_covariance(rows) -> list[list[Fraction]]:
    """``(1/n) sum (x - mean)(x - mean)^T`` in rationals."""
    rows = [[Fraction(int(v)) for v in row] for row in np.asarray(rows)]
    n, d = len(rows), len(rows[0])
    mean = [sum(r[j] for r in rows) / n for j in range(d)]
    return [
        [sum((r[i] - mean[i]) * (r[j] - mean[j]) for r in rows) / n for j in range(d)]
        for i in range(d)
    ]


# -- parity with the published formulas ------------------------------------------------
@pytest.mark.parametrize(
    "shape", [(2, 2, 1), (3, 4, 3), (4, 4)], ids=["2x2x1", "3x4x3", "4x4 gray"]
)
def test_zca_equals_keras_formula_in_float64(rng, shape):
    x = rng.random((300, *shape)) + rng.random((300,) + (1,) * len(shape))
    out = PixelWhitener().fit(x).transform(x)
    assert out.dtype == np.float64 and out.shape == x.shape
    assert_allclose(out, keras_zca(x), rtol=0, atol=1e-10)


def test_uint8_whitening_is_float_whitening_in_unit_range(rng):
    X = correlated(rng)
    as_uint8 = PixelWhitener(dtype="float64").fit(X).transform(X)
    as_float = PixelWhitener().fit(X / 255.0).transform(X / 255.0)
    assert_allclose(as_uint8, as_float, rtol=0, atol=1e-10)


@pytest.mark.parametrize("n_components", [None, 5])
def test_pca_output_has_identity_covariance_on_training_data(rng, n_components):
    X = correlated(rng)
    pca = PixelWhitener(method="pca", n_components=n_components, dtype="float64")
    Y = pca.fit_transform(X)
    k = n_components or 36
    assert Y.shape == (400, k)
    s = pca.explained_variance_
    # Exactly diag(s / (s + eps)); identity to within eps / min(s).
    cov = np.cov(Y, rowvar=False, bias=True)
    assert_allclose(cov, np.diag(s / (s + pca.epsilon)), rtol=0, atol=1e-10)
    assert_allclose(cov, np.eye(k), rtol=0, atol=pca.epsilon / s.min() + 1e-10)


def test_zca_output_has_identity_covariance_and_keeps_the_layout(rng):
    X = correlated(rng)
    Y = PixelWhitener(dtype="float64").fit_transform(X)
    cov = np.cov(Y.reshape(400, -1), rowvar=False, bias=True)
    assert_allclose(cov, np.eye(36), rtol=0, atol=1e-3)


@pytest.mark.parametrize(
    "layout, make",
    [
        ({}, lambda X: X),
        ({"channel_axis": 1}, lambda X: X.transpose(0, 3, 1, 2)),
        ({"image_shape": (3, 4, 3)}, lambda X: X.reshape(len(X), -1)),
        ({}, lambda X: X[..., 0]),
    ],
    ids=["NHWC", "NCHW", "flat+image_shape", "gray"],
)
@pytest.mark.parametrize("method", ["zca", "pca"])
def test_inverse_transform_roundtrip(rng, layout, make, method):
    X = make(correlated(rng))
    whitener = PixelWhitener(method=method, dtype="float64", **layout).fit(X)
    back = whitener.inverse_transform(whitener.transform(X))
    assert back.shape == X.shape
    assert_allclose(back, X, rtol=0, atol=1e-8)


def test_inverse_transform_restores_uint8_exactly(rng):
    X = correlated(rng)
    whitener = PixelWhitener().fit(X)
    back = whitener.inverse_transform(whitener.transform(X), restore_dtype=True)
    assert back.dtype == np.uint8
    assert_array_equal(back, X)


def test_results_do_not_depend_on_layout(rng):
    X = correlated(rng)
    nhwc = PixelWhitener().fit(X).transform(X)
    nchw = PixelWhitener(channel_axis=1).fit(X.transpose(0, 3, 1, 2))
    assert_array_equal(
        nchw.transform(X.transpose(0, 3, 1, 2)).transpose(0, 2, 3, 1), nhwc
    )


def test_fewer_components_inverse_is_the_projection(rng):
    X = correlated(rng)
    w = PixelWhitener(n_components=4, dtype="float64").fit(X)
    u = w.components_.T
    centred = X.reshape(400, -1) / 255.0 - w.mean_
    expected = (centred @ u @ u.T + w.mean_) * 255.0
    back = w.inverse_transform(w.transform(X)).reshape(400, -1)
    assert_allclose(back, expected, rtol=0, atol=1e-8)


# -- streaming and merging -------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(
    X=hnp.arrays(
        st.sampled_from([np.uint8, np.uint16, np.int16]),
        st.tuples(st.integers(1, 12), st.integers(1, 3), st.integers(1, 3)),
    ),
    data=st.data(),
)
def test_partial_fit_any_split_equals_fit_exactly_for_integers(X, data):
    cuts = data.draw(splits(len(X)))
    streamed = PixelWhitener()
    for part in np.split(X, cuts):
        streamed.partial_fit(part)
    whole = PixelWhitener().fit(X)
    assert streamed.cov_.exact
    assert_array_equal(streamed.cov_.covariance(), whole.cov_.covariance())
    assert_array_equal(streamed.transform(X), whole.transform(X))


def test_iterables_and_ragged_lists_stream_like_partial_fit(rng):
    X = rng.integers(0, 256, (9, 5, 5, 3), dtype=np.uint8)
    whole = PixelWhitener(patch_size=3).fit(X)
    streamed = PixelWhitener(patch_size=3).fit(iter([X[:4], X[4:]]))
    ragged = PixelWhitener(patch_size=3).fit([image for image in X])
    for other in (streamed, ragged):
        assert other.n_samples_seen_ == other.cov_.n_images == 9
        assert_array_equal(other.cov_.covariance(), whole.cov_.covariance())
        assert_array_equal(other.transform(X), whole.transform(X))


@settings(max_examples=25, deadline=None)
@given(
    X=hnp.arrays(
        st.sampled_from([np.uint8, np.uint16]),
        st.tuples(st.integers(1, 6), st.integers(3, 7), st.integers(3, 7), st.just(2)),
    ),
    data=st.data(),
)
def test_patch_partial_fit_any_split_equals_fit_exactly(X, data):
    cuts = data.draw(splits(len(X)))
    streamed = PixelWhitener(patch_size=3)
    for part in np.split(X, cuts):
        streamed.partial_fit(part)
    whole = PixelWhitener(patch_size=3).fit(X)
    assert streamed.cov_.n_samples == len(X) * (X.shape[1] - 2) * (X.shape[2] - 2)
    assert_array_equal(streamed.cov_.covariance(), whole.cov_.covariance())
    assert_array_equal(streamed.transform(X), whole.transform(X))


@settings(max_examples=30, deadline=None)
@given(
    X=hnp.arrays(
        np.uint8,
        st.tuples(st.integers(1, 8), st.integers(1, 4)),
        elements=st.integers(0, 255),
    )
)
def test_exact_covariance_is_the_rational_covariance_rounded_once(X):
    got = PixelCovariance.from_rows(X).covariance()
    expected = [[float(v) for v in row] for row in exact_covariance(X)]
    assert_array_equal(got, np.array(expected))


def test_float_partial_fit_matches_numpy_cov(rng):
    X = rng.random((500, 2, 3, 2)) * 1e3 + 1e6  # a large offset: Chan's merge
    streamed = PixelWhitener(max_value=1.0)
    for part in np.array_split(X, 7):
        streamed.partial_fit(part)
    flat = X.reshape(500, -1)
    assert not streamed.cov_.exact
    assert_allclose(
        streamed.cov_.covariance(), np.cov(flat, rowvar=False, bias=True), rtol=1e-9
    )
    assert_allclose(streamed.cov_.mean, flat.mean(axis=0), rtol=1e-14)


def test_merge_is_associative_and_exact_for_integers(rng):
    parts = [rng.integers(0, 256, size=(n, 5), dtype=np.uint8) for n in (3, 1, 40)]
    a, b, c = (PixelCovariance.from_rows(p) for p in parts)
    all_rows = PixelCovariance.from_rows(np.concatenate(parts))
    for merged in ((a + b) + c, a + (b + c), (c + a) + b):
        assert merged.n_samples == 44
        assert_array_equal(merged.covariance(), all_rows.covariance())
        assert_array_equal(merged.mean, all_rows.mean)


def test_mixed_dtypes_merge_in_float64(rng):
    ints = rng.integers(0, 256, size=(50, 4), dtype=np.uint8)
    floats = rng.random((30, 4)) * 255
    merged = PixelCovariance.from_rows(ints) + PixelCovariance.from_rows(floats)
    updated = PixelCovariance.from_rows(ints).update(floats)
    expected = np.cov(np.concatenate([ints, floats]), rowvar=False, bias=True)
    other_way = PixelCovariance.from_rows(floats) + PixelCovariance.from_rows(ints)
    for cov in (merged, updated, other_way):
        assert not cov.exact
        assert_allclose(cov.covariance(), expected, rtol=1e-12)


def test_gram_moves_to_int64_then_python_ints_before_it_could_round(rng, monkeypatch):
    rows = rng.integers(0, 2**16, size=(200, 3)).astype(np.uint16)
    reference = PixelCovariance.from_rows(rows)
    assert reference._gram.dtype == np.float64  # 200 rows: exact in float64
    # Pretend float64 is exact below 2^34 (4 rows of uint16 products) and int64
    # ends at 2^40 (128 rows): the totals must change representation, unchanged.
    monkeypatch.setattr(_covariance, "_EXACT_FLOAT", 2**34)
    monkeypatch.setattr(_covariance, "_INT64_MAX", 2**40 - 1)
    for parts in ([rows], [rows[:3], rows[3:100], rows[100:]]):
        streamed = PixelCovariance.from_rows(parts[0])
        for part in parts[1:]:
            streamed.update(part)
        assert streamed._gram.dtype == object
        assert_array_equal(streamed.covariance(), reference.covariance())
    merged = PixelCovariance.from_rows(rows[:3]) + PixelCovariance.from_rows(rows[3:])
    assert_array_equal(merged.covariance(), reference.covariance())
    merged = PixelCovariance.from_rows(rows[3:]) + PixelCovariance.from_rows(rows[:3])
    assert_array_equal(merged.covariance(), reference.covariance())


def test_empty_covariance_has_zero_mean_nan_covariance_and_merges_as_identity(rng):
    empty = PixelCovariance(2, np.uint8)
    assert_array_equal(empty.mean, [0.0, 0.0])
    assert np.isnan(empty.covariance()).all()
    assert repr(empty) == (
        "PixelCovariance(n_samples=0, n_features=2, dtype='uint8', exact)"
    )
    assert empty.update(np.empty((0, 2), np.uint8)).n_samples == 0
    rows = rng.random((5, 2))
    full = PixelCovariance.from_rows(rows)
    assert_array_equal((full + empty).covariance(), full.covariance())
    empty.n_images = 4
    empty.update(rows)  # float rows: the empty exact accumulator turns float64
    assert (empty.exact, empty.n_images) == (False, 4)
    assert_array_equal(empty.covariance(), full.covariance())
    assert repr(full).endswith("dtype='float64', float64)")


def test_concurrent_partial_fit_equals_fit(rng):
    X = correlated(rng)
    whitener = PixelWhitener()
    threads = [
        threading.Thread(target=whitener.partial_fit, args=(part,))
        for part in np.array_split(X, 8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert whitener.n_samples_seen_ == 400
    assert_array_equal(
        whitener.cov_.covariance(), PixelWhitener().fit(X).cov_.covariance()
    )


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
@pytest.mark.parametrize("patch_size", [None, 3])
def test_input_is_never_modified(rng, dtype, patch_size):
    X = correlated(rng).astype(dtype)
    before = X.copy()
    whitener = PixelWhitener(patch_size=patch_size)
    whitener.partial_fit(X).partial_fit(X).transform(X)
    if patch_size is None:
        whitener.inverse_transform(whitener.transform(X))
    assert_array_equal(X, before)


def test_edited_parameter_takes_effect_without_refit(rng):
    X = correlated(rng)
    whitener = PixelWhitener(dtype="float64").fit(X)
    whitener.transform(X)  # derive the whitening once
    whitener.set_params(epsilon=1e-2, n_components=3)
    fresh = PixelWhitener(epsilon=1e-2, n_components=3, dtype="float64").fit(X)
    assert_array_equal(whitener.transform(X), fresh.transform(X))


# -- patch mode ------------------------------------------------------------------------
def reflect_patch(image, i, j, k):
    r = k // 2
    padded = np.pad(image, ((r, r), (r, r), (0, 0)), mode="reflect")
    return padded[i : i + k, j : j + k].reshape(-1)


def test_patch_covariance_is_the_covariance_of_all_patches(rng):
    X = rng.integers(0, 256, size=(3, 6, 5, 2), dtype=np.uint8)
    k = 3
    patches = [
        image[i : i + k, j : j + k].reshape(-1)
        for image in X
        for i in range(6 - k + 1)
        for j in range(5 - k + 1)
    ]
    whitener = PixelWhitener(patch_size=k).fit(X)
    assert whitener.cov_.n_samples == len(patches) == 36
    expected = [[float(v) for v in row] for row in exact_covariance(patches)]
    assert_array_equal(whitener.cov_.covariance(), np.array(expected))


@pytest.mark.parametrize("k", [1, 3, 5])
def test_patch_transform_applies_the_centre_row_as_a_filter(rng, k):
    X = rng.integers(0, 256, size=(40, 9, 8, 3), dtype=np.uint8)
    whitener = PixelWhitener(patch_size=k, dtype="float64").fit(X)
    test = rng.integers(0, 256, size=(2, 7, 6, 3), dtype=np.uint8)
    out = whitener.transform(test)
    assert out.shape == test.shape
    d = k * k * 3
    centre = (k // 2 * k + k // 2) * 3
    w = whitener.whitening_
    for n, i, j in [(0, 0, 0), (1, 3, 2), (0, 6, 5), (1, 0, 4)]:
        patch = reflect_patch(test[n] / 255.0, i, j, k)
        expected = w[centre : centre + 3] @ (patch - whitener.mean_)
        assert patch.size == d
        assert_allclose(out[n, i, j], expected, rtol=0, atol=1e-10)


def test_patch_mode_takes_any_image_size_and_layout(rng):
    X = rng.integers(0, 256, size=(4, 3, 12, 10), dtype=np.uint8)  # NCHW
    whitener = PixelWhitener(patch_size=3, channel_axis=1)
    whitener.partial_fit(X).partial_fit(X[:, :, :5, :7])
    for shape in [(1, 3, 1, 1), (2, 3, 2, 40), (1, 3, 224, 9)]:
        test = rng.integers(0, 256, size=shape, dtype=np.uint8)
        out = whitener.transform(test)
        assert out.shape == shape and out.dtype == np.float32
        assert np.isfinite(out).all()


def test_patch_mode_float32_stays_close_to_float64(rng):
    X = rng.integers(0, 256, size=(20, 16, 16, 3), dtype=np.uint8)
    fast = PixelWhitener(patch_size=5).fit(X).transform(X)
    exact = PixelWhitener(patch_size=5, dtype="float64").fit(X).transform(X)
    assert_allclose(fast, exact, rtol=0, atol=1e-4 * np.abs(exact).max())


def test_patch_mode_has_no_inverse_transform(rng):
    whitener = PixelWhitener(patch_size=3)
    assert not hasattr(whitener, "inverse_transform")
    pipe = Pipeline([("whiten", whitener)])
    assert not hasattr(pipe, "inverse_transform")
    with pytest.raises(AttributeError) as excinfo:
        whitener.inverse_transform
    assert "no inverse filter" in str(excinfo.value.__cause__)


# -- failures --------------------------------------------------------------------------
def _fitted(**params):
    X = np.random.default_rng(0).integers(0, 256, size=(30, 4, 4, 3), dtype=np.uint8)
    return PixelWhitener(**params).fit(X)


FAILURES = {
    "too big for max_memory": (
        lambda: PixelWhitener().fit(np.zeros((2, 224, 224, 3), np.uint8)),
        Raises(
            ValueError, r"150528 x 150528 covariance: about 844\.1 GiB.*patch_size=5"
        ),
    ),
    "patches too big for max_memory": (
        lambda: _fitted(patch_size=3, max_memory=10_000),
        Raises(ValueError, r"3x3x3 patches needs the 27 x 27 .*smaller patch_size"),
    ),
    "even patch_size": (
        lambda: _fitted(patch_size=4),
        Raises(ValueError, "patch_size must be odd.*Got patch_size=4"),
    ),
    "pca with patches": (
        lambda: _fitted(method="pca", patch_size=3),
        Raises(ValueError, "method='zca' only"),
    ),
    "images smaller than the patch": (
        lambda: _fitted(patch_size=5),
        Raises(ValueError, "4x4 pixels, smaller than patch_size=5.*at most 3"),
    ),
    "other image size in partial_fit": (
        lambda: _fitted().partial_fit(np.zeros((1, 5, 4, 3), np.uint8)),
        Raises(ValueError, r"5x4x3 values \(60\).*shape \(4, 4, 3\).*patch_size"),
    ),
    "other image size in transform": (
        lambda: _fitted().transform(np.zeros((1, 8, 8, 3), np.uint8)),
        Raises(ValueError, "fitted on images of shape"),
    ),
    "patch_size edited after fit": (
        lambda: _fitted().set_params(patch_size=3).transform(np.zeros((1, 4, 4, 3))),
        Raises(ValueError, "fitted with patch_size=None, but patch_size is now 3"),
    ),
    "patch_size edited between partial_fits": (
        lambda: (
            _fitted(patch_size=3)
            .set_params(patch_size=None)
            .partial_fit(np.zeros((1, 4, 4, 3)))
        ),
        Raises(ValueError, "Call fit again after changing patch_size"),
    ),
    "patch_size edited before inverse_transform": (
        lambda: (
            _fitted(patch_size=3)
            .set_params(patch_size=None)
            .inverse_transform(np.zeros((1, 4, 4, 3)))
        ),
        Raises(ValueError, "fitted with patch_size=3, but patch_size is now None"),
    ),
    "other channel count": (
        lambda: _fitted(patch_size=3).transform(np.zeros((1, 8, 8, 1), np.uint8)),
        Raises(ValueError, "expecting 3 channels"),
    ),
    "NaN": (
        lambda: PixelWhitener().fit(np.full((2, 2, 2), np.nan)),
        Raises(ValueError, "contains NaN"),
    ),
    "inf": (
        lambda: PixelWhitener().fit(np.full((2, 2, 2), np.inf)),
        Raises(ValueError, "infinity"),
    ),
    "n_components > d": (
        lambda: _fitted(n_components=49),
        Raises(ValueError, "n_components=49 is larger than the n_features=48"),
    ),
    "epsilon = 0": (
        lambda: _fitted(epsilon=0.0),
        Raises(ValueError, "'epsilon' parameter of PixelWhitener must be a float"),
    ),
    "inverse of the wrong width": (
        lambda: _fitted(method="pca").inverse_transform(np.zeros((2, 5))),
        Raises(ValueError, "5 values per sample.*outputs 48"),
    ),
    "not fitted": (
        lambda: PixelWhitener().transform(np.zeros((1, 2, 2, 3))),
        Raises(AttributeError, "not fitted"),
    ),
    "a batch in other units": (
        lambda: _fitted().partial_fit(np.zeros((1, 4, 4, 3), np.float32)),
        Raises(ValueError, "0-1 units, but PixelWhitener was fitted on uint8"),
    ),
    "ragged whole images": (
        lambda: PixelWhitener().fit([np.zeros((4, 4, 3)), np.zeros((3, 3, 3))]),
        Raises(ValueError, "covariances of rows of 48 and 27 values"),
    ),
    "filters_ of whole-image whitening": (
        lambda: _fitted().filters_,
        Raises(AttributeError, "filters_ exists in patch mode only"),
    ),
    "inverse_transform before fit": (
        lambda: PixelWhitener().inverse_transform(np.zeros((1, 48))),
        Raises(NotFittedError, "inverse_transform needs the covariance.*'fit' first"),
    ),
    "inverse_transform of one row": (
        lambda: _fitted().inverse_transform(np.zeros(48)),
        Raises(ValueError, r"numeric array of shape \(n, ...\); got .* shape \(48,\)"),
    ),
    "covariance rows of another width": (
        lambda: PixelCovariance.from_rows(np.zeros((2, 3))).update(np.zeros((2, 4))),
        Raises(ValueError, r"rows of shape \(n, 3\), got shape \(2, 4\). Flatten"),
    ),
    "covariance merged with another type": (
        lambda: PixelCovariance.from_rows(np.zeros((2, 3))) + 3,
        Raises(TypeError, "Can only merge a PixelCovariance, got int"),
    ),
    "an empty iterable": (
        lambda: PixelWhitener().fit(iter([])),
        Raises(ValueError, "empty iterable"),
    ),
}


@pytest.mark.parametrize("call, outcome", FAILURES.values(), ids=FAILURES.keys())
def test_failures_say_problem_value_and_fix(call, outcome):
    check(outcome, call)


def test_max_memory_refuses_before_allocating():
    X = np.zeros((2, 16, 16, 3), np.uint8)  # d = 768: 5 matrices of 4.5 MiB
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="more than max_memory=1000000 bytes"):
            PixelWhitener(max_memory=1_000_000).fit(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000
    PixelWhitener(max_memory=40 * 2**20).fit(X)  # enough


@pytest.mark.parametrize("method", ["fit_stats", "to_torchvision", "to_hf_config"])
def test_per_channel_methods_do_not_exist(method):
    assert not hasattr(PixelWhitener(), method)


def test_dask_input_is_refused_with_a_remedy():
    da = pytest.importorskip("dask.array", reason="dask is not installed")
    X = da.zeros((2, 4, 4, 3), dtype=np.uint8)
    with pytest.raises(TypeError, match="works on NumPy arrays.*partial_fit"):
        PixelWhitener().fit(X)


# -- ecosystem -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "dtype, param, expected",
    [
        (np.uint8, None, np.float32),
        (np.uint16, None, np.float32),
        (np.float32, None, np.float32),
        (np.float64, None, np.float64),
        (np.uint8, "float64", np.float64),
    ],
    ids=str,
)
@pytest.mark.parametrize("patch_size", [None, 3])
def test_output_dtype(rng, dtype, param, expected, patch_size):
    X = rng.integers(0, 200, size=(20, 5, 5, 2)).astype(dtype)
    out = PixelWhitener(patch_size=patch_size, dtype=param).fit_transform(X)
    assert out.dtype == expected


def test_pipeline_and_grid_search_on_digits():
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV

    X, y = load_digits(return_X_y=True)
    pipe = Pipeline(
        [
            ("whiten", PixelWhitener(method="pca", image_shape=(8, 8), max_value=16)),
            ("clf", LogisticRegression(max_iter=300)),
        ]
    )
    search = GridSearchCV(
        pipe, {"whiten__n_components": [8, 24], "whiten__epsilon": [0.1]}, cv=3
    )
    search.fit(X[:600], y[:600])
    assert search.best_params_["whiten__n_components"] in (8, 24)
    assert search.score(X[600:900], y[600:900]) > 0.85
    names = search.best_estimator_[:-1].get_feature_names_out()
    assert names[0] == "pixelwhitener0"


@pytest.mark.parametrize(
    "params",
    [{}, {"method": "pca", "n_components": 5}, {"patch_size": 3, "epsilon": 1e-3}],
    ids=["zca", "pca-5", "patch-3"],
)
def test_joblib_roundtrip(rng, tmp_path, params):
    X = correlated(rng)
    whitener = PixelWhitener(**params).fit(X)
    expected = whitener.transform(X)
    joblib.dump(whitener, tmp_path / "whitener.joblib")
    loaded = joblib.load(tmp_path / "whitener.joblib")
    assert loaded.get_params() == whitener.get_params()
    assert_array_equal(loaded.cov_.covariance(), whitener.cov_.covariance())
    assert_array_equal(loaded.whitening_, whitener.whitening_)
    assert_array_equal(loaded.transform(X), expected)
    assert clone(loaded).get_params() == whitener.get_params()


def test_summary_reports_the_fit(rng):
    text = PixelWhitener(patch_size=3).fit(correlated(rng)).summary()
    assert "3x3 patches" in text
    # Each 3x4 image holds 1 x 2 patches of 3x3: the rows are patches.
    assert "fitted on 400 images, 800 rows of d=27, dtype uint8, max_value 255" in text


@pytest.mark.parametrize("method", ["to_torchvision", "to_hf_config", "to_keras"])
def test_per_channel_exports_are_hidden_with_the_reason(method):
    whitener = PixelWhitener()
    assert not hasattr(whitener, method)
    with pytest.raises(AttributeError) as info:
        getattr(whitener, method)()
    reason = str(info.value.__cause__)
    assert "matrix map" in reason and "Use to_onnx() or to_torch()" in reason


def test_zca_keeps_the_input_feature_names(rng):
    X = rng.integers(0, 256, size=(10, 4), dtype=np.uint8)
    whitener = PixelWhitener(image_shape=(2, 2, 1)).fit(X)
    assert whitener.get_feature_names_out().tolist() == ["x0", "x1", "x2", "x3"]
