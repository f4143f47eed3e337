"""Array API dispatch: array_api_strict and PyTorch (CPU; CUDA when present).

Every test compares with the NumPy path: statistics equal (to the bit for
integer pixels), outputs in the input's namespace, dtype and device.
"""

from __future__ import annotations

import numpy as np
import pytest
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError

from sk_pixels import PixelCenterer, PixelNormalizer, PixelStandardizer, PixelStats

array_api_compat = pytest.importorskip("array_api_compat")

from sk_pixels import _reduce  # noqa: E402  (after the importorskip)
from sk_pixels._backends import _array_api  # noqa: E402

try:
    with sklearn.config_context(array_api_dispatch=True):
        pass
except (
    ImportError,
    RuntimeError,
) as exc:  # e.g. SciPy imported before SCIPY_ARRAY_API=1
    pytest.skip(f"array_api_dispatch cannot be enabled: {exc}", allow_module_level=True)


def _torch_device(name):
    torch = pytest.importorskip("torch")
    if name == "cuda" and not torch.cuda.is_available():
        pytest.skip("CUDA is not available")
    return torch, torch.device(name)


class Namespace:
    """Makes arrays of one namespace/device from NumPy arrays."""

    def __init__(self, name):
        self.name = name
        if name.startswith("array_api_strict"):
            # Its "device1" refuses to combine with arrays of another device, and
            # "no_float64" has no float64: what a GPU (or Apple MPS) would do.
            self.lib = pytest.importorskip("array_api_strict")
            device = name.partition("-")[2] or "CPU_DEVICE"
            self.device = self.lib.Device(device)
        else:
            self.lib, self.device = _torch_device(name.split("-")[1])

    @property
    def has_float64(self):
        return not self.name.endswith("no_float64")

    def __call__(self, X):
        if X.dtype == np.float64 and not self.has_float64:
            pytest.skip("no float64 on this device")
        # An explicit dtype: array-api-strict 2.6 casts an array given with a
        # device but no dtype to the device's default (uint8 became int64).
        return self.lib.asarray(
            X, dtype=getattr(self.lib, X.dtype.name), device=self.device
        )

    def check(self, out, dtype_name):
        """``out`` is in this namespace, on this device, of ``dtype_name``."""
        reference = self(np.zeros(1, dtype=np.uint8))
        namespace = array_api_compat.array_namespace
        assert namespace(out) is namespace(reference)
        assert array_api_compat.device(out) == self.device
        assert out.dtype == getattr(self.lib, dtype_name)
        return _array_api.to_numpy(out)


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


NAMESPACES = [
    "array_api_strict",
    "array_api_strict-device1",
    "array_api_strict-no_float64",
    "torch-cpu",
] + (["torch-cuda"] if _cuda_available() else [])


def test_cuda_tests_run_where_cuda_is():
    if not _cuda_available():
        pytest.skip("CUDA is not available: the torch-cuda cases are left out")
    assert "torch-cuda" in NAMESPACES


@pytest.fixture(params=NAMESPACES)
def xp(request):
    return Namespace(request.param)


@pytest.fixture(autouse=True)
def dispatch():
    with sklearn.config_context(array_api_dispatch=True):
        yield


def _images(rng, dtype, shape=(9, 7, 6, 3)):
    if np.dtype(dtype).kind == "f":
        X = rng.random(shape).astype(dtype)
        X[0, 0, 0, 0] = np.nan  # ignored by the statistics, kept by the transform
        return X
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)


def _assert_close_to_numpy(out, ref, xp, same_ops=True):
    if xp.name.startswith("array_api_strict") and same_ops:
        # The device path takes the float64 route in the same cases as the
        # NumPy kernel (_kernels._needs_float64); only the order of the
        # operations may differ (the kernel casts first, then scales).
        assert_allclose(out, ref, rtol=2e-7, atol=2e-7 * np.nanmax(np.abs(ref)))
    else:
        # torch.addcmul may fuse the multiply-add, and float64 input cast to
        # float32 output is rounded before the multiply on a device, after it in
        # NumPy's kernel: within an ulp or two.
        assert_allclose(out, ref, rtol=4e-7, atol=4e-7 * np.nanmax(np.abs(ref)))


ESTIMATORS = [
    PixelStandardizer(),
    PixelStandardizer(per_channel=False, ddof=1),
    PixelStandardizer(clip=1.0, rescale=True),
    PixelCenterer(normalize=True),
    PixelNormalizer(scope="dataset"),
    PixelNormalizer(),
    PixelStandardizer(mean="imagenet", std="imagenet"),
]
IDS = ["standardizer", "global", "positive", "centerer", "minmax", "domain", "preset"]


def _fresh(estimator):
    return estimator.__class__(**estimator.get_params())


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "float32", "float64"])
def test_fit_on_device_equals_numpy(xp, rng, estimator, dtype):
    X = _images(rng, dtype)
    on_device = _fresh(estimator).fit(xp(X))
    reference = _fresh(estimator).fit(X)
    exact = np.dtype(dtype).kind != "f"
    for name, value in vars(reference).items():
        if not name.endswith("_") or name.startswith("_"):
            continue
        other = getattr(on_device, name)
        if isinstance(value, (np.ndarray, np.generic)):
            # Fitted statistics stay NumPy float64, whatever the input namespace.
            assert (
                isinstance(other, (np.ndarray, np.generic))
                and other.dtype == value.dtype
            )
            if exact:
                assert_array_equal(other, value)
            else:
                # float64 on the device, or the compensated float32 scheme.
                assert_allclose(other, value, rtol=1e-12 if xp.has_float64 else 1e-6)
        elif name == "stats_" and exact:
            assert other == value
        elif name != "stats_":
            assert other == value, name


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
@pytest.mark.parametrize(
    "dtype, params, out_dtype",
    [
        ("uint8", {}, "float32"),
        ("uint16", {}, "float32"),
        ("float32", {}, "float32"),
        ("float64", {}, "float64"),
        ("uint8", {"dtype": "float64"}, "float64"),
        ("float64", {"dtype": "float32"}, "float32"),
    ],
    ids=[
        "uint8",
        "uint16",
        "float32",
        "float64",
        "uint8-to-float64",
        "float64-to-float32",
    ],
)
def test_transform_stays_in_namespace_dtype_and_device(
    xp, rng, estimator, dtype, params, out_dtype
):
    X = _images(rng, dtype)
    fitted = _fresh(estimator).set_params(**params).fit(X)  # fitted on NumPy
    if out_dtype == "float64" and not xp.has_float64:
        with pytest.raises(ValueError, match="has no float64. Pass dtype='float32'"):
            fitted.transform(xp(X))
        return
    out = xp.check(fitted.transform(xp(X)), out_dtype)
    ref = fitted.transform(X)
    assert ref.dtype == out.dtype
    _assert_close_to_numpy(
        out, ref, xp, same_ops=(dtype, out_dtype) != ("float64", "float32")
    )
    if np.dtype(dtype).kind == "f":
        assert np.isnan(out[0, 0, 0, 0])  # NaN kept


def test_fit_on_one_namespace_transform_another(xp, rng):
    X = _images(rng, "uint8")
    on_device = PixelStandardizer().fit(xp(X))
    on_host = PixelStandardizer().fit(X)
    # A device-fitted model transforms NumPy exactly as a NumPy-fitted one...
    assert_array_equal(on_device.transform(X), on_host.transform(X))
    # ... and a NumPy-fitted one transforms device arrays.
    _assert_close_to_numpy(
        xp.check(on_host.transform(xp(X)), "float32"), on_host.transform(X), xp
    )


@pytest.mark.parametrize(
    "shape, params",
    [
        ((5, 3, 7, 6), {"channel_axis": 1}),
        ((5, 7, 6), {}),
        ((5, 126), {"image_shape": (7, 6, 3)}),
        ((5, 126), {"image_shape": (3, 7, 6), "channel_axis": 1}),
        ((5, 126), {}),
    ],
    ids=["NCHW", "gray", "flat-HWC", "flat-CHW", "flat"],
)
@pytest.mark.parametrize("scope", ["dataset", "batch", "image"])
def test_layouts(xp, rng, shape, params, scope):
    X = _images(rng, "uint8", shape)
    estimator = PixelStandardizer(scope=scope, **params)
    reference = _fresh(estimator).fit(X)
    fitted = _fresh(estimator).fit(xp(X))
    if scope == "dataset":
        assert fitted.stats_ == reference.stats_
    out = xp.check(fitted.transform(xp(X)), "float32")
    assert out.shape == X.shape
    _assert_close_to_numpy(out, reference.transform(X), xp)


@pytest.mark.parametrize("scope", ["batch", "image"])
@pytest.mark.parametrize("per_channel", [True, False])
@pytest.mark.parametrize(
    "estimator_class", [PixelStandardizer, PixelNormalizer, PixelCenterer]
)
def test_batch_and_image_scopes_match_numpy(
    xp, rng, scope, per_channel, estimator_class
):
    X = _images(rng, "uint16")
    X[2] = 7  # a constant image: zero std / zero range stays finite
    estimator = estimator_class(scope=scope, per_channel=per_channel)
    out = xp.check(estimator.fit_transform(xp(X)), "float32")
    _assert_close_to_numpy(out, estimator.fit_transform(X), xp)
    assert np.all(np.isfinite(out))


def test_cached_device_coefficients_follow_every_change(xp, rng):
    """The per-estimator plan (validation + device coefficients) never goes stale."""
    X, more = _images(rng, "uint8"), _images(rng, "uint8") // 2
    estimator = PixelStandardizer().fit(xp(X))
    first = xp.check(estimator.transform(xp(X)), "float32")
    assert_array_equal(xp.check(estimator.transform(xp(X)), "float32"), first)

    def same_as_numpy():
        reference = estimator.transform(X)  # NumPy path: no plan
        _assert_close_to_numpy(
            xp.check(estimator.transform(xp(X)), "float32"), reference, xp
        )

    estimator.partial_fit(xp(more))
    same_as_numpy()
    estimator.set_params(clip=0.5)
    same_as_numpy()
    estimator.fit_stats(PixelStandardizer().fit(more).stats_)
    same_as_numpy()
    estimator.fit(X[:, :3])  # another image size: another plan
    same_as_numpy()
    with pytest.raises(ValueError, match="expecting 3 channels"):
        estimator.transform(xp(np.zeros((1, 7, 6, 2), dtype=np.uint8)))
    with pytest.raises(ValueError, match="0 sample"):
        estimator.transform(xp(X[:0]))


def test_statistics_exact_across_many_device_blocks(xp, rng, monkeypatch):
    # Tiny blocks (50 values): many int64 partial sums, images cut along rows.
    monkeypatch.setattr(_reduce, "DEVICE_BLOCK_FACTOR", 1)
    monkeypatch.setattr(_reduce, "BLOCK_BYTES", 50 * 8)
    X = _images(rng, "uint16", (6, 9, 8, 3))
    assert PixelStandardizer().fit(xp(X)).stats_ == PixelStandardizer().fit(X).stats_
    per_image = PixelStandardizer(scope="image")
    _assert_close_to_numpy(
        xp.check(per_image.fit_transform(xp(X)), "float32"),
        per_image.fit_transform(X),
        xp,
    )


@pytest.mark.parametrize("per_image", [False, True], ids=["dataset", "per-image"])
def test_exact_statistics_of_valid_pixels_equal_numpy(xp, rng, per_image):
    X = _images(rng, "uint16", (4, 9, 8, 3))
    valid = rng.random(X.shape) < 0.7
    valid[1, ..., 2] = False  # a channel of an image with no valid pixel
    got = PixelStats.from_view(xp(X), per_image=per_image, valid=xp(valid))
    assert got == PixelStats.from_view(X, per_image=per_image, valid=valid)


@pytest.mark.parametrize("scope", ["dataset", "image"])
def test_float_statistics_with_nan_across_blocks(xp, rng, monkeypatch, scope):
    monkeypatch.setattr(_reduce, "DEVICE_BLOCK_FACTOR", 1)
    monkeypatch.setattr(_reduce, "BLOCK_BYTES", 64 * 8)
    X = _images(rng, "float64", (5, 6, 7, 2))
    X[1, :, :, 0] = np.nan  # a whole image channel of NaN
    X[3, 2:4] = np.nan
    estimator = PixelStandardizer(scope=scope)
    if scope == "dataset":
        fitted, reference = _fresh(estimator).fit(xp(X)), _fresh(estimator).fit(X)
        assert_array_equal(fitted.stats_.count, reference.stats_.count)
        assert_allclose(fitted.mean_, reference.mean_, rtol=1e-13)
        assert_allclose(fitted.std_, reference.std_, rtol=1e-13)
    else:
        out = xp.check(estimator.fit_transform(xp(X)), "float64")
        assert_allclose(out, estimator.fit_transform(X), rtol=1e-12, atol=1e-12)


def test_a_dtype_numpy_lacks_is_refused_with_the_fix():
    torch = pytest.importorskip("torch")
    with pytest.raises(
        ValueError, match=r"torch.bfloat16, which has no NumPy.*float32"
    ):
        PixelStats.from_view(torch.zeros((1, 2, 2, 3), dtype=torch.bfloat16))


def test_compensated_float32_statistics(rng, monkeypatch):
    """Where float64 is missing (e.g. Apple MPS), float32 blocks stay accurate."""
    torch = pytest.importorskip("torch")
    # A large offset and a small spread: the hard case for a naive float32 sum.
    X = (1000.0 + rng.standard_normal((64, 64, 64, 3))).astype(np.float32)
    monkeypatch.setattr(_reduce, "float_dtype", lambda xp, device: xp.float32)
    stats = PixelStats.from_view(torch.asarray(X))
    reference = X.astype(np.float64).reshape(-1, 3)
    assert_allclose(stats.mean, reference.mean(axis=0), rtol=1e-7)
    assert_allclose(stats.var, reference.var(axis=0), rtol=1e-4)


@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
def test_inverse_transform_roundtrip(xp, rng, dtype):
    X = _images(rng, dtype)
    fitted = PixelStandardizer().fit(xp(X))
    scaled = fitted.transform(xp(X))
    back = xp.check(fitted.inverse_transform(scaled), "float32")
    assert_allclose(back, X, rtol=1e-5, atol=1e-2)
    restored = xp.check(fitted.inverse_transform(scaled, restore_dtype=True), dtype)
    assert_array_equal(restored, X)
    # Integer input to inverse_transform is read as float: float64 as with
    # NumPy, or float32 on a device without float64.
    widest = "float64" if xp.has_float64 else "float32"
    as_float = xp.check(fitted.inverse_transform(xp(X)), widest)
    assert_allclose(as_float, fitted.inverse_transform(X), rtol=1e-6)


def test_errors_match_numpy(xp, rng):
    X = _images(rng, "uint8")
    fitted = PixelStandardizer().fit(xp(X))
    with pytest.raises(
        ValueError, match="X has 4 channels, but PixelStandardizer is expecting 3"
    ):
        fitted.transform(xp(np.zeros((2, 7, 6, 4), dtype=np.uint8)))
    with pytest.raises(ValueError, match="dtype bool"):
        PixelStandardizer().fit(xp(np.zeros((2, 3, 3, 3), dtype=bool)))
    with pytest.raises(NotFittedError):
        PixelStandardizer().transform(xp(X))
    assert not hasattr(PixelStandardizer(scope="batch"), "inverse_transform")
    bad = X.astype(np.float32)
    bad[3, 1, 1, 1] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        PixelStandardizer().fit(xp(bad))
    with pytest.raises(ValueError, match="infinity"):
        fitted.transform(xp(bad))


def test_scale_warnings_on_device(xp, rng):
    X = _images(rng, "uint8")
    fitted = PixelStandardizer().fit(xp(X))
    with pytest.warns(UserWarning, match="fitted on uint8 pixels"):
        fitted.transform(xp(X.astype(np.float32) / 255))


def test_without_dispatch_torch_input_is_converted_as_before(rng):
    torch = pytest.importorskip("torch")
    X = _images(rng, "uint8")
    with sklearn.config_context(array_api_dispatch=False):
        fitted = PixelStandardizer().fit(torch.asarray(X))
        out = fitted.transform(torch.asarray(X))
    assert isinstance(out, np.ndarray)
    assert_array_equal(out, PixelStandardizer().fit(X).transform(X))


def test_numpy_input_with_dispatch_keeps_the_numpy_path(rng):
    X = _images(rng, "uint8")
    assert not _array_api.ARRAY_API.matches(X)
    out = PixelStandardizer().fit(X).transform(X)
    with sklearn.config_context(array_api_dispatch=False):
        assert_array_equal(out, PixelStandardizer().fit(X).transform(X))


def test_array_api_support_tag_stays_false():
    """scikit-learn's array API checks want fitted attributes in X's namespace.

    ``check_array_api_input`` asserts that every ndarray fitted attribute
    (``mean_``...) is in the namespace and on the device of the training data.
    Ours stay NumPy on purpose, so that one fitted model serves every
    namespace; the tag stays False and this test records why.
    """
    pytest.importorskip("array_api_strict")
    from sklearn.utils.estimator_checks import check_array_api_input

    assert PixelStandardizer().__sklearn_tags__().array_api_support is False
    with pytest.raises(AssertionError, match="attribute is in wrong namespace"):
        check_array_api_input(
            "PixelStandardizer", PixelStandardizer(), array_namespace="array_api_strict"
        )
