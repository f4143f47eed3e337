"""PixelWhitener.to_torch / to_onnx: whitening inside a model equals ``transform``.

Whole images (a MatMul on the flattened image, the layout folded into the
matrix) and patches (reflect padding and a convolution with ``filters_``), in
every layout the whitener takes; checked against ``transform`` to float32
rounding of the dot products, with PyTorch and onnxruntime where installed.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.base import clone

from sk_pixels import PixelWhitener

RNG = np.random.default_rng(5)
# Correlated pixels (a smooth field plus noise), more images than values per image.
_BASE = RNG.normal(size=(300, 1, 1, 3)) + RNG.normal(size=(300, 4, 5, 1))
X8 = np.clip(120 + 40 * _BASE + RNG.normal(0, 12, (300, 4, 5, 3)), 0, 255).astype(
    np.uint8
)
NCHW = np.ascontiguousarray(X8.transpose(0, 3, 1, 2))
GRAY = np.ascontiguousarray(X8[..., 0])
LARGER = RNG.integers(0, 256, size=(2, 9, 11, 3), dtype=np.uint8)

#: (id, estimator, training batch, batch to transform)
CASES = [
    ("zca-nhwc", PixelWhitener(), X8, X8[:5]),
    ("zca-nchw", PixelWhitener(channel_axis=1), NCHW, NCHW[:5]),
    ("zca-gray", PixelWhitener(channel_axis=None), GRAY, GRAY[:5]),
    ("zca-flat", PixelWhitener(image_shape=(4, 5, 3)), X8.reshape(300, -1), None),
    ("zca-float32", PixelWhitener(max_value=255), X8.astype(np.float32), None),
    ("zca-output-float64", PixelWhitener(dtype="float64"), X8, X8[:5]),
    ("pca", PixelWhitener(method="pca", n_components=7), X8, X8[:5]),
    ("pca-nchw-all", PixelWhitener(method="pca", channel_axis=1), NCHW, NCHW[:5]),
    ("patch-nhwc-larger-images", PixelWhitener(patch_size=3), X8, LARGER),
    ("patch-nchw", PixelWhitener(patch_size=3, channel_axis=1), NCHW, NCHW[:5]),
    ("patch-gray", PixelWhitener(patch_size=3, channel_axis=None), GRAY, GRAY[:5]),
]
IDS = [c[0] for c in CASES]


def fitted(estimator, X):
    return clone(estimator).fit(X)


def assert_close_to_transform(got, expected):
    """Same operations in the same dtype, the dot products summed in another
    order: equal to a few float32 ulp of the output's magnitude per term."""
    assert got.shape == expected.shape and got.dtype == expected.dtype
    scale = float(np.abs(expected).max())
    eps = np.finfo(expected.dtype).eps
    assert_allclose(got, expected, rtol=0, atol=2048 * eps * scale)


@pytest.mark.parametrize("name, estimator, X, X_new", CASES, ids=IDS)
def test_to_torch_equals_transform(name, estimator, X, X_new):
    torch = pytest.importorskip("torch", reason="to_torch needs PyTorch")
    X_new = X[:5] if X_new is None else X_new
    model = fitted(estimator, X)
    got = model.to_torch()(torch.from_numpy(X_new)).numpy()
    assert_close_to_transform(got, model.transform(X_new))


@pytest.mark.parametrize("name, estimator, X, X_new", CASES, ids=IDS)
def test_to_onnx_equals_transform(name, estimator, X, X_new, tmp_path):
    pytest.importorskip("onnx", reason="to_onnx needs onnx (extra 'onnx')")
    ort = pytest.importorskip("onnxruntime", reason="running needs onnxruntime")
    import onnx

    X_new = X[:5] if X_new is None else X_new
    model = fitted(estimator, X)
    model.to_onnx(tmp_path / "whitener.onnx")
    session = ort.InferenceSession(
        onnx.load(tmp_path / "whitener.onnx").SerializeToString(),
        providers=["CPUExecutionProvider"],
    )
    got = session.run(None, {"pixels": X_new})[0]
    assert_close_to_transform(got, model.transform(X_new))


@pytest.mark.parametrize(
    ("estimator", "ops"),
    [
        (PixelWhitener(), ["Cast", "Reshape", "Mul", "Sub", "MatMul", "Reshape"]),
        (
            PixelWhitener(method="pca", n_components=3),
            ["Cast", "Reshape", "Mul", "Sub", "MatMul"],
        ),
        (
            PixelWhitener(patch_size=3),
            ["Cast", "Mul", "Sub", "Transpose", "Pad", "Conv", "Transpose"],
        ),
    ],
    ids=["zca", "pca", "patch"],
)
def test_to_onnx_graph_is_a_matmul_or_a_reflect_padded_conv(estimator, ops):
    pytest.importorskip("onnx", reason="to_onnx needs onnx (extra 'onnx')")
    graph = fitted(estimator, X8).to_onnx().graph
    assert [node.op_type for node in graph.node] == [*ops, "Identity"]
    pads = [n for n in graph.node if n.op_type == "Pad"]
    assert all(a.s == b"reflect" for n in pads for a in n.attribute if a.name == "mode")


def test_to_torch_buffers_move_and_survive_torch_save():
    torch = pytest.importorskip("torch", reason="to_torch needs PyTorch")
    model = fitted(PixelWhitener(patch_size=3), X8)
    module = model.to_torch()
    assert set(dict(module.named_buffers())) == {
        "scale",
        "weight",
        "bias",
        "channel_mean",
    }
    assert {b.device.type for b in module.to("meta").buffers()} == {"meta"}
    buffer = io.BytesIO()
    torch.save(model.to_torch(), buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    assert_close_to_transform(
        loaded(torch.from_numpy(LARGER)).numpy(), model.transform(LARGER)
    )


def test_to_torch_load_state_dict_gives_the_other_whitening():
    torch = pytest.importorskip("torch", reason="to_torch needs PyTorch")
    first = fitted(PixelWhitener(patch_size=3), X8)
    second = fitted(PixelWhitener(patch_size=3), X8[:100])
    module = first.to_torch()
    module(torch.from_numpy(LARGER))  # buffers cast for this dtype, then replaced
    module.load_state_dict(second.to_torch().state_dict())
    assert_close_to_transform(
        module(torch.from_numpy(LARGER)).numpy(), second.transform(LARGER)
    )
    assert repr(module) == "PixelWhitening(mode='patch', layout='nhwc', pad=1)"


def test_to_onnx_refuses_an_input_dtype_it_cannot_take():
    with pytest.raises(ValueError, match="input_dtype='complex64' is not a pixel type"):
        fitted(PixelWhitener(), X8).to_onnx(input_dtype=np.complex64)


def test_to_torch_refuses_another_image_size_in_whole_image_mode():
    torch = pytest.importorskip("torch", reason="to_torch needs PyTorch")
    module = fitted(PixelWhitener(), X8).to_torch()
    with pytest.raises(ValueError, match=r"images of shape \(9, 11, 3\).*\(4, 5, 3\)"):
        module(torch.from_numpy(LARGER))
    with pytest.raises(TypeError, match="takes a torch.Tensor, got ndarray"):
        module(X8)


def test_exports_need_a_fit():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        PixelWhitener().to_onnx()


def test_patch_mode_on_flattened_rows_is_refused_with_the_layouts_it_takes():
    pytest.importorskip("onnx", reason="to_onnx needs onnx (extra 'onnx')")
    model = fitted(
        PixelWhitener(patch_size=3, image_shape=(4, 5, 3)), X8.reshape(300, -1)
    )
    with pytest.raises(ValueError, match=r"exports a convolution over \(n, H, W, C\)"):
        model.to_onnx()
