"""``PixelWhitener.to_onnx()`` and ``to_torch()``: whitening inside a model.

A whitener is a matrix map, not an affine map per channel, so it has its own
graphs (the per-channel exports of ``_deploy`` do not apply):

- whole images: ``y = (x / max_value - mean) @ W.T``, a ``MatMul`` on the
  flattened image.  The estimator's layout is folded into the coefficients:
  ``transform`` flattens the channels-last view of each image, and a
  permutation of ``mean``'s entries and ``W``'s rows and columns makes the same
  map act on the image flattened as it is stored (NHWC, NCHW, grayscale or
  ``image_shape`` rows), so the graph is ``Reshape -> Mul -> Sub -> MatMul
  [-> Reshape]`` with no transpose;
- patches (``patch_size=k``): ``x / max_value - m_c`` (the channel means of the
  mean patch, as ``transform`` subtracts them first), padded by ``k // 2``
  with ``"reflect"`` (NumPy's, ONNX's and PyTorch's ``reflect`` are the same:
  mirrored about the edge pixel, which is not repeated), then a convolution
  with the ``k x k x C`` filters and the bias of the rest of the mean patch.

Both compute in the dtype ``transform`` returns (float32 for integer input);
they equal ``transform`` up to the summation order of the dot products.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ._deploy import _ONNX_TYPES, import_onnx, onnx_model
from ._layout import image_view
from ._units import output_float_dtype


class _WhitenerExportMixin:
    """``to_onnx()`` and ``to_torch()`` of :class:`~sk_pixels.PixelWhitener`."""

    def _whitening_export(self, input_dtype=None) -> dict[str, Any]:
        """The coefficients of the graph (float64) and its dtypes."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        plan = self._plan()
        dtype = np.dtype(self.input_dtype_ if input_dtype is None else input_dtype)
        if dtype.name not in _ONNX_TYPES:
            raise ValueError(
                f"input_dtype={dtype.name!r} is not a pixel type the exports take; "
                f"use one of {sorted(_ONNX_TYPES)}."
            )
        out = output_float_dtype(dtype, self.dtype)
        export = {
            "input_dtype": dtype,
            "dtype": out,
            "scale": 1.0 / self.max_value_,
            "image_shape": tuple(self.input_image_shape_),
            "zca": self.method == "zca",
        }
        if self.patch_size is None:
            shape = self.input_image_shape_
            index = np.arange(int(np.prod(shape))).reshape(1, *shape)
            # cl[i]: where the i-th value of the channels-last row is stored.
            cl = np.asarray(image_view(index, *self._layout())).reshape(-1)
            matrix = np.empty_like(plan.matrix)
            matrix[:, cl] = plan.matrix
            if export["zca"]:
                matrix[cl] = matrix.copy()
            mean = np.empty_like(plan.mean)
            mean[cl] = plan.mean
            export.update(mode="image", matrix=matrix, mean=mean)
            return export
        filters = self.filters_  # (C_out, k, k, C)
        k, c = self.patch_size, self.n_channels_
        channel_mean = plan.mean.reshape(k, k, c).mean(axis=(0, 1))
        residual = plan.mean - np.tile(channel_mean, k * k)
        export.update(
            mode="patch",
            layout=self._patch_layout(),
            weight=np.ascontiguousarray(filters.transpose(0, 3, 1, 2)),
            bias=-(filters.reshape(c, -1) @ residual),
            channel_mean=channel_mean,
        )
        return export

    def _patch_layout(self) -> str:
        """ "nhwc", "nchw" or "gray": how the images map to a convolution's NCHW."""
        shape = self.input_image_shape_
        index = np.arange(int(np.prod(shape))).reshape(shape)
        view = np.asarray(image_view(index[None], *self._layout()))[0]
        if self.image_shape is None and index.ndim == 2:
            return "gray"
        if self.image_shape is None and index.ndim == 3:
            if np.array_equal(view, index):
                return "nhwc"
            if np.array_equal(view, index.transpose(1, 2, 0)):
                return "nchw"
        raise ValueError(
            f"PixelWhitener(patch_size={self.patch_size}) exports a convolution "
            "over (n, H, W, C), (n, C, H, W) or (n, H, W) images; this one was "
            f"fitted on images of shape {tuple(shape)} with channel_axis="
            f"{self.channel_axis!r}, image_shape={self.image_shape!r}. Refit on "
            "images in one of those layouts to export it."
        )

    def to_onnx(self, path: str | os.PathLike | None = None, *, input_dtype=None):
        """Write :meth:`transform` as an ONNX model.

        Whole images: ``Cast -> Reshape -> Mul -> Sub -> MatMul`` (then
        ``Reshape`` to the image for ZCA; PCA gives ``(n, n_components)``).
        Patch mode: ``Cast -> Mul -> Sub`` (channel means) ``-> Pad``
        (``reflect``, as :meth:`transform`) ``-> Conv`` with the
        ``filters_``, transposed to and from NCHW as the layout needs. Input
        ``"pixels"`` in the estimator's layout and units (the training image
        size for whole images; any size of at least ``patch_size // 2 + 1``
        pixels a side for patches), output ``"whitened"`` in the dtype
        :meth:`transform` returns; the two agree to float rounding of the dot
        products (tested with onnxruntime).

        Parameters
        ----------
        path : str, path-like or None, default=None
            Where to write the ``.onnx`` file (atomically); None writes
            nothing.
        input_dtype : dtype or None, default=None
            Element type of the input; None takes the dtype seen in ``fit``.

        Returns
        -------
        model : onnx.ModelProto
            Opset 17, IR version 8, with the estimator as metadata.

        Raises
        ------
        ImportError
            ``onnx`` is not installed (``pip install "sk_pixels[onnx]"``).
        ValueError
            Patch mode fitted on flattened rows (``image_shape``) or on a
            layout that is not NHWC, NCHW or grayscale.

        Examples
        --------
        >>> import numpy as np
        >>> from sk_pixels import PixelWhitener
        >>> X = np.random.default_rng(0).integers(0, 256, (20, 6, 6, 3), np.uint8)
        >>> model = PixelWhitener(patch_size=3).fit(X).to_onnx()
        >>> [node.op_type for node in model.graph.node]
        ['Cast', 'Mul', 'Sub', 'Transpose', 'Pad', 'Conv', 'Transpose', 'Identity']
        """
        _, helper, numpy_helper = import_onnx()
        e = self._whitening_export(input_dtype)
        ct = e["dtype"]
        onnx_ct = _ONNX_TYPES[ct.name]

        def const(name: str, value: Any, dtype: Any = ct) -> str:
            inits.append(numpy_helper.from_array(np.asarray(value, dtype), name))
            return name

        inits: list = []
        nodes = [helper.make_node("Cast", ["pixels"], ["x"], to=onnx_ct)]
        node = helper.make_node
        if e["mode"] == "image":
            d = e["mean"].size
            rows = const("rows", [0, d], np.int64)
            nodes += [
                node("Reshape", ["x", rows], ["flat"]),
                node("Mul", ["flat", const("scale", e["scale"])], ["unit"]),
                node("Sub", ["unit", const("mean", e["mean"])], ["centred"]),
                node("MatMul", ["centred", const("matrix_t", e["matrix"].T)], ["y"]),
            ]
            shape_in = ["n", *e["image_shape"]]
            if e["zca"]:
                back = const("image", [0, *e["image_shape"]], np.int64)
                nodes.append(node("Reshape", ["y", back], ["y_image"]))
                last, shape_out = "y_image", shape_in
            else:
                last, shape_out = "y", ["n", e["matrix"].shape[0]]
        else:
            c, r = len(e["channel_mean"]), self.patch_size // 2
            layout = e["layout"]
            nodes.append(node("Mul", ["x", const("scale", e["scale"])], ["unit"]))
            mean_shape = (c,) if layout == "nhwc" else (c, 1, 1)
            mean = const("channel_mean", e["channel_mean"].reshape(mean_shape))
            nodes.append(node("Sub", ["unit", mean], ["centred"]))
            if layout == "nhwc":
                nodes.append(
                    node("Transpose", ["centred"], ["nchw"], perm=[0, 3, 1, 2])
                )
            elif layout == "gray":
                axes = const("axes", [1], np.int64)
                nodes.append(node("Unsqueeze", ["centred", axes], ["nchw"]))
            else:
                nodes.append(node("Identity", ["centred"], ["nchw"]))
            pads = const("pads", [0, 0, r, r, 0, 0, r, r], np.int64)
            nodes += [
                node("Pad", ["nchw", pads], ["padded"], mode="reflect"),
                node(
                    "Conv",
                    ["padded", const("weight", e["weight"]), const("bias", e["bias"])],
                    ["conv"],
                ),
            ]
            if layout == "nhwc":
                nodes.append(node("Transpose", ["conv"], ["y"], perm=[0, 2, 3, 1]))
                shape_in = ["n", "h", "w", c]
            elif layout == "gray":
                nodes.append(node("Squeeze", ["conv", "axes"], ["y"]))
                shape_in = ["n", "h", "w"]
            else:
                nodes.append(node("Identity", ["conv"], ["y"]))
                shape_in = ["n", c, "h", "w"]
            last, shape_out = "y", shape_in
        nodes.append(node("Identity", [last], ["whitened"]))
        inputs = [("pixels", e["input_dtype"], shape_in)]
        return onnx_model(
            self, nodes, inits, inputs, [("whitened", ct, shape_out)], path
        )

    def to_torch(self):
        """Return :meth:`transform` as a ``torch.nn.Module``.

        Whole images: ``(x / max_value - mean) @ W.T`` on each flattened image
        (reshaped back to the image for ZCA). Patch mode: ``conv2d`` with the
        ``filters_`` after ``reflect`` padding, as :meth:`transform`. The
        coefficients are float64 buffers (``module.to("cuda")`` moves them);
        ``forward(x)`` takes a tensor in the estimator's layout and units
        (``uint8`` stays ``uint8`` until it is on the device) and computes in
        the dtype :meth:`transform` returns, equal to it up to the rounding of
        the dot products.

        Returns
        -------
        module : torch.nn.Module
            A ``sk_pixels._torch_module.PixelWhitening``.

        Raises
        ------
        ImportError
            PyTorch is not installed.
        ValueError
            As :meth:`to_onnx`.
        """
        try:
            import torch  # noqa: F401
        except ImportError as exc:
            raise ImportError(
                "to_torch needs PyTorch: see https://pytorch.org for the build "
                "that fits your machine (pip install torch for a CPU build)."
            ) from exc
        from ._torch_module import PixelWhitening

        e = self._whitening_export()
        return PixelWhitening(e, dtype=None if self.dtype is None else e["dtype"].name)


def hide_affine_exports(cls: type, base: type, never: Any) -> None:
    """Hide (``available_if``, with the reason) the exports of ``base`` that
    write one affine map per channel: a whitener is a matrix map (its to_onnx
    and to_torch come from :class:`_WhitenerExportMixin`)."""
    from sklearn.utils.metaestimators import available_if

    for method, target in (
        ("to_torchvision", "torchvision's Normalize"),
        ("to_hf_config", "an image processor's normalize"),
        ("to_keras", "Keras' Normalization"),
    ):
        reason = (
            "{name} is a matrix map (each output mixes pixels and channels), not "
            f"a per-channel affine map: {target} cannot express it. Use to_onnx() "
            "or to_torch(), which apply the whitening itself."
        )
        setattr(cls, method, available_if(never(reason))(getattr(base, method)))
