"""Mean images and nodata in the exports: each equals ``transform``, or refuses.

Laws:

- ``to_torch()`` and ``to_onnx()`` (run by onnxruntime) equal ``transform`` to
  the bit for every layout x pixel dtype x ``per_pixel`` x ``nodata`` of the
  table below: the same centred form, the same coefficients, the same
  precision, and ``nodata_fill`` where ``transform`` writes it (per channel;
  NaN as a sentinel; a sentinel the dtype cannot hold matches nothing);
- the nodata rule is not a no-op: without it the exports give other values
  at the planted sentinels;
- ``to_keras()`` of a mean image, applied with Keras' formula (and the layer
  where keras is installed), equals ``transform`` to float32 rounding;
- what a target cannot express is refused with the reason and the fix.

Frameworks that are not installed skip their tests with a reason.
"""

from __future__ import annotations

import itertools
import os
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone

from sk_pixels import PixelCenterer, PixelNormalizer, PixelStandardizer

from ._outcomes import Raises, check

N, H, W, C = 4, 3, 5, 3

#: dtype -> (one sentinel, one per channel: the last one no pixel can hold)
SENTINELS = {
    "uint8": (0, (0, 255, -9999)),
    "uint16": (65535, (0, 65535, 2.5)),
    "int32": (-(2**25), (0, 2**25, 0.5)),
    "float32": (-1.0, (0.25, -1.0, 0.95)),
    "float64": (float("nan"), (float("nan"), 0.1, 0.95)),
}

#: layout -> (estimator keyword arguments, channels-last batch -> its layout)
LAYOUTS = {
    "nhwc": ({}, lambda x: x),
    "nchw": (
        {"channel_axis": 1},
        lambda x: np.ascontiguousarray(x.transpose(0, 3, 1, 2)),
    ),
    "gray": ({"channel_axis": None}, lambda x: np.ascontiguousarray(x[..., 0])),
    "flat": ({"image_shape": (H, W, C)}, lambda x: x.reshape(len(x), -1)),
    "one-channel": ({}, lambda x: np.ascontiguousarray(x[..., :1])),
}


def _pixels(dtype: str, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == "uint8":
        return rng.integers(1, 255, (N, H, W, C), dtype=np.uint8)
    if dtype == "uint16":
        return rng.integers(1, 65535, (N, H, W, C), dtype=np.uint16)
    if dtype == "int32":
        return rng.integers(2**24, 2**26, (N, H, W, C)).astype(np.int32)
    return (rng.random((N, H, W, C)) * 0.5 + 0.3).astype(dtype)  # no sentinel


def batch(dtype: str, layout: str, nodata) -> np.ndarray:
    """Pixels of ``dtype`` with each channel's sentinel planted in the first
    image (the other images keep every position valid), in ``layout``."""
    X = _pixels(dtype)
    if nodata is not None:
        values = nodata if isinstance(nodata, tuple) else (nodata,) * C
        for c, value in enumerate(values):
            if np.can_cast(np.min_scalar_type(value), dtype) or isinstance(
                value, float
            ):
                held = np.array(value, dtype=np.float64).astype(dtype)
                if held == value or np.isnan(value):
                    X[0, c % H, :: c + 1, c] = held
    return LAYOUTS[layout][1](X)


def _cases():
    for layout, dtype, per_pixel, which in itertools.product(
        LAYOUTS, SENTINELS, (False, True), ("none", "one", "per-channel")
    ):
        one, each = SENTINELS[dtype]
        nodata = {"none": None, "one": one, "per-channel": each}[which]
        if which == "per-channel" and layout in ("gray", "one-channel"):
            nodata = (each[0],)  # one channel: one sentinel
        kwargs = {**LAYOUTS[layout][0], "nodata": nodata, "nodata_fill": -7.0}
        ids = f"{layout}-{dtype}-{'per-pixel' if per_pixel else 'per-channel'}"
        yield pytest.param(
            PixelStandardizer(per_pixel=per_pixel, **kwargs),
            batch(dtype, layout, nodata if which != "per-channel" else each),
            id=f"standardizer-{ids}-nodata-{which}",
        )
    # The other estimators and parameters, on uint8 NHWC and float32 NCHW.
    for dtype, layout in (("uint8", "nhwc"), ("float32", "nchw")):
        one, each = SENTINELS[dtype]
        X = batch(dtype, layout, each)
        kwargs = {**LAYOUTS[layout][0], "nodata": each, "nodata_fill": 3.0}
        for name, estimator in (
            ("centerer-per-pixel", PixelCenterer(per_pixel=True, **kwargs)),
            (
                "standardizer-per-pixel-pooled",
                PixelStandardizer(per_pixel=True, per_channel=False, **kwargs),
            ),
            ("standardizer-clip", PixelStandardizer(clip=0.5, **kwargs)),
            (
                "standardizer-per-pixel-clip-rescale",
                PixelStandardizer(per_pixel=True, clip=1.0, rescale=True, **kwargs),
            ),
            ("normalizer-dataset", PixelNormalizer(scope="dataset", **kwargs)),
            ("normalizer-domain", PixelNormalizer(**kwargs)),
            (
                "standardizer-float64-output",
                PixelStandardizer(dtype="float64", **kwargs),
            ),
        ):
            yield pytest.param(estimator, X, id=f"{name}-{layout}-{dtype}")


CASES = list(_cases())


def _run_onnx(proto, X):
    ort = pytest.importorskip(
        "onnxruntime", reason="running the graph needs onnxruntime (extra 'onnx')"
    )
    session = ort.InferenceSession(
        proto.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return session.run(None, {"pixels": X})[0]


def _export(target: str, model, X):
    if target == "torch":
        torch = pytest.importorskip("torch", reason="to_torch needs PyTorch")
        return model.to_torch()(torch.from_numpy(X)).numpy()
    pytest.importorskip("onnx", reason="to_onnx needs onnx (extra 'onnx')")
    return _run_onnx(model.to_onnx(), X)


@pytest.mark.filterwarnings("ignore:.*was fitted on data that is constant:UserWarning")
@pytest.mark.parametrize("target", ["torch", "onnx"])
@pytest.mark.parametrize("estimator, X", CASES)
def test_export_equals_transform(estimator, X, target):
    model = clone(estimator).fit(X)
    expected = model.transform(X)
    got = _export(target, model, X)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert_array_equal(got, expected)
    if model.nodata is not None and np.any(expected == model.nodata_fill):
        # The rule is not a no-op: without it the sentinels are scaled instead.
        plain = _export(target, clone(model).set_params(nodata=None).fit(X), X)
        assert not np.array_equal(plain, expected, equal_nan=True)


def test_the_table_plants_sentinels_that_count():
    # Every dtype's sentinels reach transform's fill somewhere in the table
    # (so test_export_equals_transform checks the rule, not only the map).
    for dtype, (one, each) in SENTINELS.items():
        for nodata in (one, each):
            X = batch(dtype, "nhwc", nodata)
            Y = PixelStandardizer(nodata=nodata, nodata_fill=-7.0).fit(X).transform(X)
            assert np.any(Y == -7.0), (dtype, nodata)


def test_to_torch_holds_the_mean_image_as_buffers_of_its_shape():
    torch = pytest.importorskip("torch", reason="to_torch needs PyTorch")
    X = batch("uint8", "nchw", None)
    model = PixelStandardizer(per_pixel=True, channel_axis=1).fit(X)
    module = model.to_torch()
    assert module.center.shape == (1, C, H, W)  # broadcasts against NCHW
    assert_allclose(module.center[0].numpy(), model.mean_, rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"shape \(3, 2, 5\).*mean image of shape"):
        module(torch.zeros((1, C, 2, W), dtype=torch.uint8))
    moved = module.to("meta")
    assert {b.device.type for b in moved.buffers()} == {"meta"}


def test_to_onnx_holds_the_mean_image_as_initializers_of_its_shape():
    pytest.importorskip("onnx", reason="to_onnx needs onnx (extra 'onnx')")
    from onnx import numpy_helper

    X = batch("uint8", "nhwc", None)
    proto = PixelCenterer(per_pixel=True).fit(X).to_onnx()
    inits = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    assert inits["center"].shape == (1, H, W, C)
    ops = [node.op_type for node in proto.graph.node]
    assert ops == ["Cast", "Sub", "Mul", "Add", "Identity"]


def test_to_onnx_nodata_nodes():
    pytest.importorskip("onnx", reason="to_onnx needs onnx (extra 'onnx')")
    X = batch("float64", "nhwc", SENTINELS["float64"][1])
    model = PixelStandardizer(nodata=SENTINELS["float64"][1]).fit(X)
    ops = [node.op_type for node in model.to_onnx().graph.node]
    # NaN for channel 0, 0.1 for channel 1 (0.95 is held too: a third test).
    assert ops.count("IsNaN") == 1 and ops.count("Equal") == 2
    assert ops[-1] == "Where"


# -- Keras: a mean image over the image axes ----------------------------------------
def keras_formula(X, mean, variance, axis):
    """``keras.layers.Normalization`` in NumPy (float32): mean and variance
    reshaped to broadcast over ``axis`` (the kept axes), then ``(x - mean) /
    maximum(sqrt(variance), 1e-7)``."""
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    axes = [a % X.ndim for a in axes]
    shape = [X.shape[d] if d in axes else 1 for d in range(X.ndim)]
    mean = np.asarray(mean, dtype=np.float32).reshape(shape)
    variance = np.asarray(variance, dtype=np.float32).reshape(shape)
    x = X.astype(np.float32)
    return (x - mean) / np.maximum(np.sqrt(variance), np.float32(1e-7))


KERAS = [
    pytest.param(
        PixelStandardizer(per_pixel=True, per_channel=per_channel, **kwargs),
        batch(dtype, layout, None),
        id=f"{layout}-{dtype}{'' if per_channel else '-pooled'}",
    )
    for layout, (kwargs, _) in LAYOUTS.items()
    for dtype in ("uint8", "float32")
    for per_channel in (True, False)
    if per_channel or layout in ("nhwc", "nchw")
]


@pytest.mark.parametrize("units", ["pixels", "0-1"])
@pytest.mark.parametrize("estimator, X", KERAS)
def test_to_keras_mean_image_formula_equals_transform(estimator, X, units):
    model = clone(estimator).fit(X)
    kwargs = model.to_keras(units=units)
    image = X.shape[1:]
    assert kwargs["mean"].shape == kwargs["variance"].shape == image
    assert kwargs["axis"] == (-1 if len(image) == 1 else tuple(range(1, X.ndim)))
    x = X / model.max_value_ if units == "0-1" else X
    assert_allclose(
        keras_formula(x, **kwargs), model.transform(X), rtol=1e-5, atol=1e-5
    )
    if units == "pixels":  # a variance, not a std; the mean image itself
        assert_allclose(kwargs["variance"], np.broadcast_to(
            model.var_ if model.per_channel else np.expand_dims(
                model.var_, model._channel_axis_of(model.pixel_shape_)
            ), model.pixel_shape_).reshape(image), rtol=1e-12)  # fmt: skip


@pytest.mark.filterwarnings(  # keras 3.15's convert_to_numpy under NumPy 2.4
    "ignore:__array__ implementation doesn't accept a copy:DeprecationWarning"
)
def test_to_keras_mean_image_layer_equals_transform(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "torch"))
    with warnings.catch_warnings():  # third-party import-time deprecations
        warnings.simplefilter("ignore")
        keras = pytest.importorskip("keras", reason="keras is not installed")
    for param in KERAS:
        estimator, X = param.values
        model = clone(estimator).fit(X)
        layer = keras.layers.Normalization(**model.to_keras())
        got = keras.ops.convert_to_numpy(layer(X.astype(np.float32)))
        assert_allclose(
            got, model.transform(X), rtol=1e-5, atol=1e-5, err_msg=str(param.id)
        )


# -- what a target cannot express -------------------------------------------------
X8 = batch("uint8", "nhwc", 0)
NODATA = "nodata=0\\) writes nodata_fill=0.0 where a pixel equals nodata, which "
REFUSED = [
    ("to_keras", PixelStandardizer(nodata=0), NODATA + "keras.layers.Normalization"),
    ("to_torchvision", PixelCenterer(nodata=0), NODATA + "torchvision's Normalize"),
    ("to_hf_config", PixelNormalizer(nodata=0), NODATA + "a Hugging Face image"),
    (
        "to_torchvision",
        PixelStandardizer(per_pixel=True),
        r"subtracts a mean image.*Use to_torch\(\), to_onnx\(\) or to_keras\(\)",
    ),
    ("to_hf_config", PixelCenterer(per_pixel=True), "takes one mean and std per"),
    (
        "to_keras",
        PixelStandardizer(per_pixel=True, nodata=0),
        r"Use to_onnx\(\) or to_torch\(\).*set_params\(nodata=None\)",
    ),
]


@pytest.mark.parametrize(
    "method, estimator, match",
    REFUSED,
    ids=[f"{m}-{e!r}" for m, e, _ in REFUSED],
)
def test_inexpressible_exports_say_why_and_what_to_use(method, estimator, match):
    model = clone(estimator).fit(X8)
    check(Raises(ValueError, match), lambda: getattr(model, method)())


def test_without_nodata_the_refused_exports_give_the_valid_pixels_statistics():
    # The fix the refusal names: the fitted statistics stay the valid pixels'.
    model = PixelStandardizer(nodata=0).fit(X8)
    kwargs = model.set_params(nodata=None).to_keras()
    valid = X8.astype(np.float64)
    valid[X8 == 0] = np.nan
    assert_allclose(kwargs["mean"], np.nanmean(valid, axis=(0, 1, 2)), rtol=1e-12)


@pytest.mark.parametrize("target", ["torch", "onnx"])
def test_a_fill_the_output_cannot_hold_is_refused(target):
    model = PixelStandardizer(nodata=0, nodata_fill=1e39).fit(X8)
    with pytest.raises(ValueError, match="nodata_fill=1e\\+39 does not fit"):
        model.transform(X8)
    with pytest.raises(ValueError, match="nodata_fill=1e\\+39 does not fit"):
        _export(target, model, X8)


def test_constant_positions_of_a_std_image_warn_with_their_count():
    X = batch("uint8", "nhwc", None)
    X[:, 0, 0, :] = 9  # one position constant in every image
    model = PixelStandardizer(per_pixel=True).fit(X)
    with pytest.warns(UserWarning, match=r"constant in 3 of the 45 values of its std"):
        model.to_keras()


@pytest.mark.parametrize("target", ["torch", "onnx"])
def test_an_unfitted_preset_exports_its_nodata_rule(target):
    # No fit: the preset's channels tell how many sentinels there may be.
    model = PixelStandardizer(
        mean="imagenet", std="imagenet", nodata=(0.0, 0.5, 0.0), nodata_fill=-7.0
    )
    X = batch("float32", "nhwc", (0.0, 0.5, 0.0))
    expected = model.transform(X)
    assert np.any(expected == -7.0)
    assert_array_equal(_export(target, model, X), expected)
