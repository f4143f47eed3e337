"""to_torch / to_onnx / to_keras: the transform inside a model equals ``transform``.

Laws checked for each exportable configuration (uint8/uint16/float32/float64
pixels, NHWC/NCHW/grayscale/flattened layouts, clip and rescale):

- the torch module equals ``transform`` exactly on CPU tensors (the same centred
  form ``(x - center) * scale + base``, same rounding of the coefficients, same
  precision) and its coefficients move with ``.to()``;
- the ONNX graph, run by onnxruntime, equals ``transform`` exactly;
- both stay within the kernel's stated bound of the exact map where the naive
  uncentred form ``x * scale + offset`` in float32 would not (a constant
  channel, a mean far larger than the std);
- Keras' ``Normalization`` formula written in NumPy, and the layer itself
  where keras is installed, equal ``transform`` to float32 rounding
  (``rtol=1e-5, atol=1e-5``: the layer divides by ``sqrt(variance)`` where we
  multiply by ``1 / std``).

Frameworks that are not installed skip their tests with a reason.
"""

from __future__ import annotations

import io
import os
import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from sk_pixels import PixelCenterer, PixelNormalizer, PixelStandardizer, PixelWhitener
from sk_pixels._kernels import ERROR_BOUND

RNG = np.random.default_rng(12)
X8 = RNG.integers(0, 256, size=(3, 5, 6, 3), dtype=np.uint8)
X8_NCHW = np.ascontiguousarray(X8.transpose(0, 3, 1, 2))
X16 = RNG.integers(0, 65536, size=(2, 4, 5, 3), dtype=np.uint16)
XF32 = RNG.random((2, 4, 5, 3)).astype(np.float32)
XF64 = RNG.random((2, 4, 5, 3))
GRAY = RNG.integers(0, 256, size=(3, 5, 6), dtype=np.uint8)
FLAT = X8.reshape(3, -1)
# Nearly constant 16-bit data: |mean| >> std (the centred form in float32).
NEAR = (RNG.integers(0, 3, size=(2, 4, 5, 3)) + 60000).astype(np.uint16)
# A constant channel (std 0: maps to exactly 0) beside two varying ones.
CONSTANT = X8.copy()
CONSTANT[..., 1] = 201
# float32 pixels with a mean 1e5 times their std: x * scale + offset in float32
# cancels about 17 of 24 bits; the centred form keeps a few ulp.
LARGE_MEAN = (np.float32(3e4) + XF32 * np.float32(0.25)).astype(np.float32)
# Integer pixels that float32 cannot hold exactly: the float64 path.
XI32 = RNG.integers(2**25, 2**26, size=(2, 4, 5, 3)).astype(np.int32)

#: (id, estimator, training/transformed batch)
CASES = [
    ("standardizer-uint8-nhwc", PixelStandardizer(), X8),
    ("standardizer-uint8-nchw", PixelStandardizer(channel_axis=1), X8_NCHW),
    ("standardizer-global", PixelStandardizer(per_channel=False), X8),
    ("standardizer-clip", PixelStandardizer(clip=1.0), X8),
    ("standardizer-clip-rescale", PixelStandardizer(clip=0.5, rescale=True), X8),
    ("standardizer-imagenet", PixelStandardizer(mean="imagenet", std="imagenet"), X8),
    ("standardizer-uint16", PixelStandardizer(), X16),
    ("standardizer-uint16-near-constant", PixelStandardizer(), NEAR),
    ("standardizer-constant-channel", PixelStandardizer(), CONSTANT),
    ("standardizer-large-mean-float32", PixelStandardizer(max_value=1e5), LARGE_MEAN),
    ("centerer-large-mean-float32", PixelCenterer(max_value=1e5), LARGE_MEAN),
    (
        "normalizer-dataset-large-mean",
        PixelNormalizer(scope="dataset", max_value=1e5),
        LARGE_MEAN,
    ),
    ("standardizer-int32-float64-path", PixelStandardizer(), XI32),
    ("standardizer-float32", PixelStandardizer(), XF32),
    ("standardizer-float64", PixelStandardizer(), XF64),
    ("standardizer-output-float64", PixelStandardizer(dtype="float64"), X8),
    ("standardizer-grayscale", PixelStandardizer(channel_axis=None), GRAY),
    ("standardizer-one-channel-nhwc", PixelStandardizer(), GRAY[..., None]),
    ("centerer-one-channel-nchw", PixelCenterer(channel_axis=1), GRAY[:, None]),
    ("standardizer-flat", PixelStandardizer(image_shape=(5, 6, 3)), FLAT),
    (
        "standardizer-one-channel-flat",
        PixelStandardizer(image_shape=(5, 6, 1)),
        GRAY.reshape(3, -1),
    ),
    ("centerer-normalize", PixelCenterer(normalize=True), X8),
    ("normalizer-domain", PixelNormalizer(), X8),
    (
        "normalizer-dataset-nchw",
        PixelNormalizer(scope="dataset", channel_axis=1),
        X8_NCHW,
    ),
    ("normalizer-dataset-float", PixelNormalizer(scope="dataset"), XF32),
]
IDS = [c[0] for c in CASES]
# Keras' layer computes (x - mean) in float32: see test_to_keras_warns_of_cancellation.
NO_CLIP = [
    c
    for c in CASES
    if not any(k in c[0] for k in ("clip", "near", "constant", "large-mean", "int32"))
]


def fitted(estimator, X):
    return clone(estimator).fit(X)


def assert_matches_transform(got, expected):
    """The exports evaluate transform's centred form with the same coefficients
    in the same precision: the same values, to the bit."""
    assert_array_equal(got, expected)


def assert_within_the_kernel_bound(model, X, got):
    """``|y - y*| <= ERROR_BOUND * eps * (|y*| + |base|) + eps**2 * |center *
    scale|`` (sk_pixels/_kernels.py), ``y*`` the map in exact float64 arithmetic
    of the float64 coefficients (integer-valued here, so float64 is exact
    enough), before clipping."""
    affine = model._export_map("test", clip_ok=True)[0]
    shape = [1] * X.ndim
    axis = -1 if model.channel_axis in (-1, 3) else model.channel_axis
    shape[axis] = -1
    scale, center, base = (
        np.broadcast_to(a, affine.scale.shape).reshape(shape)
        for a in (affine.scale, affine.center, affine.base)
    )
    exact = (X.astype(np.float64) - center) * scale + base
    eps = np.finfo(got.dtype).eps
    bound = ERROR_BOUND * eps * (np.abs(exact) + np.abs(base)) + eps**2 * np.abs(
        center * scale
    )
    assert np.all(np.abs(got - exact) <= bound)
    return exact


# -- PyTorch ---------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:.*constant in channel:UserWarning")  # CONSTANT
@pytest.mark.parametrize("name, estimator, X", CASES, ids=IDS)
def test_to_torch_module_equals_transform(name, estimator, X):
    torch = pytest.importorskip("torch", reason="to_torch needs PyTorch")
    model = fitted(estimator, X)
    expected = model.transform(X)
    got = model.to_torch()(torch.from_numpy(X)).numpy()
    assert got.dtype == expected.dtype
    assert_matches_transform(got, expected)


def test_to_torch_coefficients_are_buffers_that_move_with_to():
    pytest.importorskip("torch", reason="to_torch needs PyTorch")
    module = fitted(PixelStandardizer(clip=2.0), X8).to_torch()
    assert set(dict(module.named_buffers())) == {
        "center",
        "scale",
        "base",
        "clip_bounds",
    }
    assert list(module.parameters()) == []  # nothing to train
    moved = module.to("meta")  # a device without data: every buffer must follow
    assert {b.device.type for b in moved.buffers()} == {"meta"}


def test_to_torch_module_survives_torch_save():
    torch = pytest.importorskip("torch", reason="to_torch needs PyTorch")
    model = fitted(PixelStandardizer(channel_axis=1), X8_NCHW)
    buffer = io.BytesIO()
    torch.save(model.to_torch(), buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    assert_matches_transform(
        loaded(torch.from_numpy(X8_NCHW)).numpy(), model.transform(X8_NCHW)
    )


def test_to_torch_load_state_dict_gives_the_other_transform():
    torch = pytest.importorskip("torch", reason="to_torch needs PyTorch")
    first = fitted(PixelStandardizer(), X8)
    second = fitted(PixelStandardizer(), X8[:1])
    module = first.to_torch()
    module(torch.from_numpy(X8))  # operands cached for this dtype and shape
    module.load_state_dict(second.to_torch().state_dict())
    assert_matches_transform(module(torch.from_numpy(X8)).numpy(), second.transform(X8))
    module.double()  # a move forgets the cached operands too
    assert_matches_transform(module(torch.from_numpy(X8)).numpy(), second.transform(X8))


def test_to_torch_module_repr_names_its_layout():
    pytest.importorskip("torch", reason="to_torch needs PyTorch")
    module = fitted(PixelStandardizer(clip=2.0, channel_axis=1), X8_NCHW).to_torch()
    assert "n_channels=3, clip=[-2.0, 2.0], channel_axis=1, image_shape=None" in (
        repr(module)
    )


def test_to_torch_module_keeps_a_bounded_cache_of_shapes():
    torch = pytest.importorskip("torch", reason="to_torch needs PyTorch")
    model = fitted(PixelStandardizer(), X8)
    module = model.to_torch()
    for width in range(1, 67):  # more shapes than the 64 plans it keeps
        X = np.full((1, 1, width, 3), width, np.uint8)
        assert_matches_transform(
            module(torch.from_numpy(X)).numpy(), model.transform(X)
        )
    assert len(module._plans) <= 64


@pytest.mark.parametrize(
    "estimator, method, module, match",
    [
        (PixelStandardizer(), "to_torch", "torch", r"to_torch needs PyTorch.*pip"),
        (PixelWhitener(), "to_torch", "torch", r"to_torch needs PyTorch.*pip"),
        (PixelStandardizer(), "to_onnx", "onnx", r"pip install 'sk_pixels\[onnx\]'"),
    ],
    ids=["affine-torch", "whitener-torch", "affine-onnx"],
)
def test_exports_without_their_library_say_what_to_install(
    monkeypatch, estimator, method, module, match
):
    model = fitted(estimator, X8)
    monkeypatch.setitem(sys.modules, module, None)  # import module: ImportError
    with pytest.raises(ImportError, match=match):
        getattr(model, method)()


def test_to_torch_refuses_another_channel_count():
    torch = pytest.importorskip("torch", reason="to_torch needs PyTorch")
    module = fitted(PixelStandardizer(), X8).to_torch()
    with pytest.raises(
        ValueError, match=r"images of shape \(2, 2, 4\) has 4 channel\(s\).*fitted on 3"
    ):
        module(torch.zeros((1, 2, 2, 4), dtype=torch.uint8))
    with pytest.raises(TypeError, match="takes a torch.Tensor, got ndarray"):
        module(X8)


@pytest.mark.parametrize("target", ["torch", "onnx"])
def test_export_of_a_nodata_estimator_equals_transform_or_refuses(target):
    # The law every export keeps: its output equals transform's, or it refuses
    # what it cannot express. With nodata=0, transform writes nodata_fill at
    # every 0; an export that ignores nodata maps 0 to (0 - mean) / std.
    X = np.arange(2 * 3 * 4 * 3, dtype=np.uint8).reshape(2, 3, 4, 3)
    X[0, 0, 0] = 0
    model = PixelStandardizer(nodata=0, nodata_fill=-5.0).fit(X)
    expected = model.transform(X)
    if target == "torch":
        torch = pytest.importorskip("torch", reason="to_torch needs PyTorch")
        try:
            module = model.to_torch()
        except ValueError:
            return  # refusing is the other lawful answer
        got = module(torch.from_numpy(X)).numpy()
    else:
        _onnxruntime()
        try:
            proto = model.to_onnx()
        except ValueError:
            return
        got = _run_onnx(proto, X)
    assert_array_equal(got[X == 0], expected[X == 0])


# -- ONNX ------------------------------------------------------------------------------
def _onnxruntime():
    pytest.importorskip("onnx", reason="to_onnx needs onnx (extra 'onnx')")
    return pytest.importorskip(
        "onnxruntime", reason="running the graph needs onnxruntime (extra 'onnx')"
    )


def _run_onnx(model, X):
    ort = _onnxruntime()
    session = ort.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return session.run(None, {"pixels": X})[0]


@pytest.mark.filterwarnings("ignore:.*constant in channel:UserWarning")  # CONSTANT
@pytest.mark.parametrize("name, estimator, X", CASES, ids=IDS)
def test_to_onnx_graph_equals_transform(name, estimator, X, tmp_path):
    _onnxruntime()
    import onnx

    model = fitted(estimator, X)
    path = tmp_path / "scaler.onnx"
    proto = model.to_onnx(path)
    ops = [node.op_type for node in proto.graph.node]
    assert ops[:4] == ["Cast", "Sub", "Mul", "Add"]
    assert ("Clip" in ops) == (getattr(model, "clip", None) not in (None, False))
    expected = model.transform(X)
    got = _run_onnx(onnx.load(path), X)
    assert got.dtype == expected.dtype
    assert_matches_transform(got, expected)


# Fitted on values 59999, 60001, 60003 (mean exactly 60001, std 1.63), then a
# constant image at the mean: exactly 0 in the centred form; x * scale + offset
# in float32 gives about 1e-3 there.
AT_MEAN = (59999 + 2 * (np.arange(2 * 4 * 6 * 3) // 3 % 3)).astype(np.uint16)
AT_MEAN = AT_MEAN.reshape(2, 4, 6, 3)
HARD = [
    ("constant-image-at-the-mean", PixelStandardizer(), AT_MEAN,
     np.full((1, 2, 3, 3), 60001, np.uint16)),
    ("near-constant-uint16", PixelStandardizer(), NEAR, NEAR),
    *[(name, est, X, X) for name, est, X in CASES if "large-mean" in name],
]  # fmt: skip


@pytest.mark.parametrize("name, estimator, X, X_new", HARD, ids=[c[0] for c in HARD])
@pytest.mark.parametrize("target", ["torch", "onnx"])
def test_exports_keep_the_kernel_bound_where_the_uncentred_form_fails(
    name, estimator, X, X_new, target
):
    model = fitted(estimator, X)
    if target == "torch":
        torch = pytest.importorskip("torch", reason="to_torch needs PyTorch")
        got = model.to_torch()(torch.from_numpy(X_new)).numpy()
    else:
        _onnxruntime()
        got = _run_onnx(model.to_onnx(), X_new)
    assert got.dtype == np.float32  # computed in float32, not float64
    assert_array_equal(got, model.transform(X_new))
    exact = assert_within_the_kernel_bound(model, X_new, got)
    affine = model._export_map("test", clip_ok=True)[0]
    scale = affine.scale.astype(np.float32)
    naive = X_new.astype(np.float32) * scale + affine.offset.astype(np.float32)
    eps = np.finfo(np.float32).eps
    naive_bound = ERROR_BOUND * eps * (np.abs(exact) + np.abs(affine.base)) + eps**2 * (
        np.abs(affine.center * affine.scale)
    )
    assert np.any(np.abs(naive - exact) > naive_bound)
    if name == "constant-image-at-the-mean":
        assert_array_equal(got, 0.0)  # exactly base
        assert np.all(naive != 0.0)


def test_to_onnx_float_input_of_uint8_units():
    model = fitted(PixelStandardizer(), X8)
    _onnxruntime()
    got = _run_onnx(model.to_onnx(input_dtype="float32"), X8.astype(np.float32))
    assert_matches_transform(got, model.transform(X8))


def test_to_onnx_records_the_estimator_and_provenance():
    pytest.importorskip("onnx", reason="to_onnx needs onnx (extra 'onnx')")
    model = fitted(PixelStandardizer(), X8)
    model.set_provenance("resize 256, center-crop 224")
    props = {p.key: p.value for p in model.to_onnx().metadata_props}
    assert props == {
        "sk_pixels.estimator": "PixelStandardizer()",
        "sk_pixels.provenance": "resize 256, center-crop 224",
    }


def test_to_onnx_refuses_a_type_onnx_lacks():
    pytest.importorskip("onnx", reason="to_onnx needs onnx (extra 'onnx')")
    with pytest.raises(ValueError, match="input_dtype='bool' is not an ONNX pixel"):
        fitted(PixelStandardizer(), X8).to_onnx(input_dtype=bool)


# -- Keras -----------------------------------------------------------------------------
def keras_formula(X, mean, variance, axis):
    """``keras.layers.Normalization.call`` in NumPy (float32, as the layer computes):
    ``(x - mean) / maximum(sqrt(variance), epsilon)``, ``epsilon = 1e-7``, with
    mean and variance reshaped to broadcast along ``axis`` (scalars for None)."""
    x = X.astype(np.float32)
    mean = np.asarray(mean, dtype=np.float32)
    variance = np.asarray(variance, dtype=np.float32)
    if axis is not None:
        shape = [1] * X.ndim
        shape[axis] = mean.size
        mean, variance = mean.reshape(shape), variance.reshape(shape)
    return (x - mean) / np.maximum(np.sqrt(variance), np.float32(1e-7))


@pytest.mark.parametrize("name, estimator, X", NO_CLIP, ids=[c[0] for c in NO_CLIP])
def test_to_keras_formula_equals_transform(name, estimator, X):
    model = fitted(estimator, X)
    kwargs = model.to_keras()
    assert set(kwargs) == {"mean", "variance", "axis"}
    assert_allclose(
        keras_formula(X, **kwargs), model.transform(X), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize(
    "name, estimator, X", NO_CLIP[:6], ids=[c[0] for c in NO_CLIP[:6]]
)
def test_to_keras_in_0_1_units_after_rescaling(name, estimator, X):
    model = fitted(estimator, X)
    kwargs = model.to_keras(units="0-1")
    rescaled = X.astype(np.float64) / model.max_value_  # keras Rescaling(1 / max)
    assert_allclose(
        keras_formula(rescaled, **kwargs), model.transform(X), rtol=1e-5, atol=1e-5
    )


def test_to_keras_gives_a_variance_not_a_std():
    model = fitted(PixelStandardizer(), X8)
    kwargs = model.to_keras()
    assert_allclose(kwargs["variance"], model.var_, rtol=1e-12)
    assert_allclose(kwargs["mean"], model.mean_, rtol=1e-12)
    assert kwargs["axis"] == -1
    assert fitted(PixelStandardizer(channel_axis=1), X8_NCHW).to_keras()["axis"] == 1
    # ImageNet in 0-1 units: torchvision's numbers, the std squared.
    imagenet = fitted(PixelStandardizer(mean="imagenet", std="imagenet"), X8)
    assert imagenet.to_keras(units="0-1") == {
        "mean": [0.485, 0.456, 0.406],
        "variance": [0.052441, 0.050176, 0.050625],  # 0.229**2 ...
        "axis": -1,
    }


@pytest.mark.filterwarnings(  # keras 3.15's convert_to_numpy under NumPy 2.4
    "ignore:__array__ implementation doesn't accept a copy:DeprecationWarning"
)
def test_to_keras_layer_equals_transform(monkeypatch):
    # Keras 3 reads its backend at import: torch (installed for to_torch) unless
    # the environment chose another.
    monkeypatch.setenv("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "torch"))
    with warnings.catch_warnings():  # third-party import-time deprecations
        warnings.simplefilter("ignore")
        keras = pytest.importorskip("keras", reason="keras is not installed")
    for name, estimator, X in NO_CLIP:
        model = fitted(estimator, X)
        layer = keras.layers.Normalization(**model.to_keras())
        got = keras.ops.convert_to_numpy(layer(X.astype(np.float32)))
        assert_allclose(got, model.transform(X), rtol=1e-5, atol=1e-5, err_msg=name)


# -- what cannot be exported -----------------------------------------------------------
@pytest.mark.parametrize(
    "estimator, method, error, match",
    [
        (PixelStandardizer(scope="image"), "to_torch", ValueError, "scope='image'"),
        (PixelStandardizer(scope="batch"), "to_onnx", ValueError, "scope='batch'"),
        (PixelNormalizer(scope="image"), "to_keras", ValueError, "scope='image'"),
        (
            PixelStandardizer(clip=1.0),
            "to_keras",
            ValueError,
            r"keras.layers.Normalization's normalization \(an affine map\) cannot",
        ),
        (PixelStandardizer(), "to_torch", NotFittedError, "not fitted yet"),
        (PixelCenterer(), "to_keras", NotFittedError, "not fitted yet"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_inexpressible_or_unfitted_exports_raise(estimator, method, error, match):
    if method == "to_torch":
        pytest.importorskip("torch", reason="to_torch needs PyTorch")
    if method == "to_onnx":
        pytest.importorskip("onnx", reason="to_onnx needs onnx (extra 'onnx')")
    if estimator.scope in ("image", "batch"):
        estimator = clone(estimator).fit(X8)
    with pytest.raises(error, match=match):
        getattr(estimator, method)()


def test_to_keras_refuses_bad_units_and_a_std_below_its_epsilon():
    with pytest.raises(ValueError, match="Got units='255'"):
        fitted(PixelStandardizer(), X8).to_keras(units="255")
    tiny = PixelStandardizer(std=1e-9, mean=0.5).fit(XF32)
    with pytest.raises(ValueError, match="below Keras' epsilon 1e-07"):
        tiny.to_keras()


def test_to_keras_warns_of_cancellation():
    # |mean| / std ~ 75,000: (x - mean) in float32 keeps ~7 of 24 bits.
    model = fitted(PixelStandardizer(), NEAR)
    with pytest.warns(UserWarning, match=r"\|mean\|/std up to 7\d{4}") as rec:
        kwargs = model.to_keras()
    assert rec[0].filename == __file__
    error = np.abs(keras_formula(NEAR, **kwargs) - model.transform(NEAR)).max()
    assert error > 1e-4  # the loss the warning is about is real
