"""Deploy a fitted transform inside a model: Keras, ONNX and PyTorch.

Every transform of this library is ``y = clip(x * scale + offset)`` per channel
(:class:`~sk_pixels._affine.Affine`), and ``_ExportMixin._export_map`` is the
one source of its coefficients.  The exports below write that map in each
framework's terms:

- ``to_keras()``: the arguments of ``keras.layers.Normalization``, which
  computes ``(x - mean) / sqrt(variance)``, so ``mean = -offset / scale`` and
  ``variance = 1 / scale**2`` (a *variance*, not a std).  It has no clipping.
- ``to_onnx()``: a graph ``Cast -> Sub -> Mul -> Add [-> Clip] -> Cast``.
- ``to_torch()``: a ``torch.nn.Module`` with the coefficients as buffers.

A mean image (``per_pixel=True``) is the same map with one coefficient per
value of an image (``pixel_shape_``), shaped ``(1, *pixel_shape_)``; the
``nodata`` rule (pixels equal to the sentinel of their channel become
``nodata_fill``) is an ``Equal``/``IsNaN`` + ``Where`` in ONNX and a
``torch.where`` in the module (:mod:`sk_pixels._export_nodata`); Keras'
``Normalization`` takes a mean image over the image axes but has no nodata rule.

The ONNX graph and the module evaluate the centred form of the map,
``(x - center) * scale + base``, with the coefficients rounded as the
transform kernel rounds them (``_kernels.split_center``: ``center`` to the
compute dtype, its remainder folded into ``base``), in the precision the
kernel chooses (``_kernels._needs_float64``: the output dtype, or float64 for
input that does not convert exactly or coefficients beyond its range).  The
same operations in the same precision: their results equal :meth:`transform`'s
(within ``_kernels.ERROR_BOUND`` ulp of the exact map, a constant channel
mapping to exactly ``base``), however large the mean against the std.
"""

from __future__ import annotations

import math
import os
import warnings
from typing import Any

import numpy as np

from ._export_nodata import entry_sentinels, onnx_nodata, sentinel_groups
from ._kernels import _needs_float64, split_center
from ._layout import _normalize_axis, channel_index
from ._units import output_float_dtype
from ._version import __version__

#: ``keras.backend.epsilon()``: ``Normalization`` divides by ``max(sqrt(var), eps)``.
_KERAS_EPSILON = 1e-7

#: ONNX TensorProto element types of the dtypes a graph may take or give.
_ONNX_TYPES = {
    "uint8": 2,
    "int8": 3,
    "uint16": 4,
    "int16": 5,
    "int32": 6,
    "int64": 7,
    "float16": 10,
    "float64": 11,
    "uint32": 12,
    "uint64": 13,
    "float32": 1,  # TensorProto.FLOAT
}


class _DeployMixin:
    """``to_keras()``, ``to_onnx()`` and ``to_torch()``."""

    def _export_layout(self, n_channels: int) -> tuple[int | None, Any]:
        """Input rank and the shape the coefficients broadcast with, for a graph.

        Returns ``(rank, where)``: ``rank`` None (any rank, scalar
        coefficients) for one channel; 4 with ``where`` the channel axis (1 to
        3) for image batches; 2 with ``where`` the channel of each feature for
        flattened images (``image_shape``).
        """
        if n_channels == 1:
            return None, None
        if self.image_shape is not None:
            shape = tuple(int(s) for s in self.image_shape)
            index = channel_index(shape, self.channel_axis, shape)
            return 2, np.broadcast_to(index, shape).ravel()
        return 4, _normalize_axis(self.channel_axis, 4, ("n", "...", "...", "..."))

    def to_keras(self, *, units: str = "pixels") -> dict[str, Any]:
        """Return the keyword arguments of ``keras.layers.Normalization``.

        The layer computes ``(x - mean) / sqrt(variance)``; with these
        arguments it gives the values :meth:`transform` gives. ``variance`` is
        a variance (std squared): Keras takes a variance, and passing a std
        there is a classic mistake (tensorflow#49930).

        Parameters
        ----------
        units : {"pixels", "0-1"}, default="pixels"
            Units of the layer's input. ``"pixels"``: the pixels as seen in
            ``fit`` (0-255 for ``uint8`` images, cast to float by Keras), so
            the layer comes first. ``"0-1"``: pixels divided by ``max_value_``
            (after ``keras.layers.Rescaling(1 / 255)`` for ``uint8``).

        Returns
        -------
        kwargs : dict
            ``{"mean": ..., "variance": ..., "axis": ...}``: one float per
            channel and the channel axis of the estimator's layout (-1 for
            ``(n, H, W, C)``, 1 for ``(n, C, H, W)``), or scalars and
            ``axis=None`` for one channel. Flattened images (``image_shape``)
            get one value per feature and ``axis=-1``. A mean image
            (``per_pixel=True``) gives ``mean`` and ``variance`` as float64
            arrays of the shape of one input image (``pixel_shape_``, or its
            number of values for flattened rows) and ``axis`` the image axes
            (``(1, 2, 3)`` for ``(n, H, W, C)``, ``(1, 2)`` for grayscale,
            -1 for rows).

        Raises
        ------
        ValueError
            ``scope="batch"`` / ``"image"``, or ``clip`` (the layer cannot
            clip), or ``nodata`` (the layer scales every pixel), or a std
            below Keras' ``epsilon`` (1e-7), which the layer would replace.

        Warns
        -----
        UserWarning
            A fitted channel is constant: see :meth:`to_torchvision`. Or
            ``|mean| / std`` exceeds 1024: the layer computes in float32 and
            loses that many bits to cancellation.

        See Also
        --------
        to_onnx, to_torch, to_torchvision

        Examples
        --------
        >>> import numpy as np
        >>> from sk_pixels import PixelStandardizer
        >>> X = np.array([[[[0, 102, 255]], [[51, 153, 204]]]], dtype=np.uint8)
        >>> PixelStandardizer().fit(X).to_keras()
        {'mean': [25.5, 127.5, 229.5], 'variance': [650.25, 650.25, 650.25], 'axis': -1}
        >>> PixelStandardizer(mean="imagenet", std="imagenet").fit(X).to_keras(
        ...     units="0-1")["variance"]
        [0.052441, 0.050176, 0.050625]
        >>> images = np.concatenate([X, X // 2 + 1])
        >>> kwargs = PixelStandardizer(per_pixel=True).fit(images).to_keras()
        >>> kwargs["mean"][:, 0], kwargs["variance"].shape, kwargs["axis"]
        (array([[  0.5,  77. , 191.5],
               [ 38.5, 115. , 153.5]]), (2, 1, 3), (1, 2, 3))
        """
        if units not in ("pixels", "0-1"):
            raise ValueError(
                f"units must be 'pixels' (the pixels as fitted) or '0-1' (pixels "
                f"divided by max_value_). Got units={units!r}."
            )
        target = "keras.layers.Normalization"
        affine, _, max_value = self._export_map(
            target, clip_ok=False, per_pixel_ok=True
        )
        divide = max_value if units == "0-1" else 1.0
        std = 1.0 / (affine.scale * divide)
        mean = -affine.offset / affine.scale / divide
        if np.any(std < _KERAS_EPSILON):
            raise ValueError(
                f"{type(self).__name__} divides by std {std.tolist()} ({units} "
                f"units), below Keras' epsilon {_KERAS_EPSILON}: the layer would "
                "divide by the epsilon instead. Use units='pixels' or data with a "
                "larger spread."
            )
        ratio = float(np.max(np.abs(mean) / std))
        if ratio > 2.0**10:
            warnings.warn(
                f"keras.layers.Normalization computes (x - mean) / std in float32, "
                f"and these statistics have |mean|/std up to {ratio:.0f}: the "
                f"layer's output keeps about {24 - math.log2(ratio):.0f} of "
                "float32's 24 bits (transform computes these in float64). Subtract "
                "a rounded offset first, or compute the layer in float64.",
                UserWarning,
                stacklevel=2,
            )
        if getattr(self, "per_pixel", False):  # a mean image over the image axes
            image = self._pixel_input_shape()
            axis = -1 if len(image) == 1 else tuple(range(1, len(image) + 1))
            return {
                "mean": (mean + 0.0).reshape(image),
                "variance": (std**2).reshape(image),
                "axis": axis,
            }
        rank, where = self._export_layout(len(std))
        if rank is None:
            return {
                "mean": _plain(mean[0]),
                "variance": _plain(std[0] ** 2),
                "axis": None,
            }
        if rank == 2:
            mean, std, axis = mean[where], std[where], -1
        else:
            axis = -1 if where == 3 else where
        return {"mean": _plain(mean), "variance": _plain(std**2), "axis": axis}

    def to_onnx(self, path: str | os.PathLike | None = None, *, input_dtype=None):
        """Write :meth:`transform` as a small ONNX model.

        The graph is ``Cast -> Sub -> Mul -> Add`` (the centred form
        ``(x - center) * scale + base`` of :meth:`transform`), then ``Clip``
        when the estimator clips, then ``Cast`` to the output dtype when it
        computes in float64 (``Identity`` otherwise):
        input ``"pixels"`` in the estimator's layout, output ``"scaled"`` of
        the same shape and the dtype :meth:`transform` returns. It runs in the
        precision :meth:`transform` runs in, so onnxruntime gives the same
        values (NaN aside: ``Clip`` of NaN is not defined by ONNX). A mean
        image (``per_pixel=True``) is a set of initializers of shape ``(1,
        *pixel_shape_)``. With ``nodata``, ``Equal`` (``IsNaN`` for a NaN
        sentinel), per channel, then ``Where`` write ``nodata_fill`` where
        :meth:`transform` writes it.

        Parameters
        ----------
        path : str, path-like or None, default=None
            Where to write the ``.onnx`` file (atomically); None writes
            nothing.
        input_dtype : dtype or None, default=None
            Element type of the input; None takes the dtype seen in ``fit``
            (``float32`` for an unfitted preset). The pixels must be in the
            units of ``fit`` (a ``float32`` input of a ``uint8``-fitted
            estimator holds 0-255 values).

        Returns
        -------
        model : onnx.ModelProto
            Opset 17, IR version 8. Its metadata holds the estimator's
            parameters, the sk_pixels version and the provenance note (see
            :meth:`set_provenance`), if any.

        Raises
        ------
        ImportError
            ``onnx`` is not installed (``pip install "sk_pixels[onnx]"``).
        ValueError
            ``scope="batch"`` / ``"image"``, or a ``nodata_fill`` beyond the
            output dtype.

        See Also
        --------
        to_torch, to_keras

        Examples
        --------
        >>> import numpy as np
        >>> from sk_pixels import PixelStandardizer
        >>> X = np.array([[[[0, 102, 255]], [[51, 153, 204]]]], dtype=np.uint8)
        >>> model = PixelStandardizer(clip=1.0).fit(X).to_onnx()
        >>> [node.op_type for node in model.graph.node]
        ['Cast', 'Sub', 'Mul', 'Add', 'Clip', 'Identity']
        >>> import onnxruntime
        >>> session = onnxruntime.InferenceSession(
        ...     model.SerializeToString(), providers=["CPUExecutionProvider"])
        >>> session.run(None, {"pixels": X})[0][0, :, 0]
        array([[-1., -1.,  1.],
               [ 1.,  1., -1.]], dtype=float32)
        """
        _, helper, numpy_helper = import_onnx()
        plan = self._graph_plan("ONNX", input_dtype)
        affine = plan["affine"]
        shaped, shape = self._graph_shape(len(affine.scale))
        compute = plan["compute_dtype"]
        scale, center, base = (
            shaped(c).astype(compute)
            for c in split_center(affine.scale, affine.center, affine.base, compute)
        )
        inits = [
            numpy_helper.from_array(center, "center"),
            numpy_helper.from_array(scale, "scale"),
            numpy_helper.from_array(base, "base"),
        ]
        nodes = [
            helper.make_node("Cast", ["pixels"], ["x"], to=_ONNX_TYPES[compute.name]),
            helper.make_node("Sub", ["x", "center"], ["xc"]),
            helper.make_node("Mul", ["xc", "scale"], ["xs"]),
            helper.make_node("Add", ["xs", "base"], ["y"]),
        ]
        last = "y"
        if affine.clip is not None:
            for name, bound in zip(("lo", "hi"), affine.clip, strict=True):
                inits.append(numpy_helper.from_array(np.array(bound, compute), name))
            nodes.append(helper.make_node("Clip", ["y", "lo", "hi"], ["yc"]))
            last = "yc"
        out = plan["output_dtype"]
        groups = sentinel_groups(
            entry_sentinels(self, len(affine.scale)),
            len(affine.scale),
            plan["input_dtype"],
        )
        mapped = "mapped" if groups else "scaled"
        nodes.append(
            helper.make_node("Cast", [last], [mapped], to=_ONNX_TYPES[out.name])
            if out != compute
            else helper.make_node("Identity", [last], [mapped])
        )
        if groups:  # nodata: Equal/IsNaN -> [And] -> [Or] -> Where
            fill = float(getattr(self, "nodata_fill", 0.0))
            more_nodes, more_inits = onnx_nodata(
                helper, numpy_helper, groups, shaped, fill, out, mapped, "scaled"
            )
            nodes, inits = nodes + more_nodes, inits + more_inits
        inputs = [("pixels", plan["input_dtype"], shape)]
        return onnx_model(self, nodes, inits, inputs, [("scaled", out, shape)], path)

    def _graph_shape(self, n_entries: int) -> tuple[Any, list]:
        """``(shaped, shape)``: a function giving per-entry values (one per
        channel, or per value of a mean image) the shape that broadcasts
        against an input batch, and the input's declared shape."""
        if getattr(self, "per_pixel", False):
            image = self._pixel_input_shape()
            return (lambda v: np.asarray(v).reshape(1, *image)), ["n", *image]
        rank, where = self._export_layout(n_entries)
        return (
            lambda v: _broadcast(np.asarray(v), rank, where),
            _onnx_shape(self, rank, where, n_entries),
        )

    def _pixel_input_shape(self) -> tuple[int, ...]:
        """Shape of one input image of a mean-image estimator: ``pixel_shape_``,
        or its number of values for flattened rows (``image_shape``)."""
        shape = tuple(int(s) for s in self.pixel_shape_)
        return (int(np.prod(shape)),) if self.image_shape is not None else shape

    def to_torch(self):
        """Return :meth:`transform` as a ``torch.nn.Module``.

        The module holds ``center``, ``scale`` and ``base`` (float64, one per
        channel) and the clipping bounds as buffers, so ``module.to("cuda")``
        moves them with it; its ``forward(x)`` takes a tensor in the
        estimator's layout and units (``uint8`` images stay ``uint8`` until
        they are on the device) and returns ``clip((x - center) * scale +
        base)`` (the centred form) in the dtype and precision :meth:`transform`
        uses (float32 for integer input): on CPU tensors it equals
        :meth:`transform` exactly. A mean image (``per_pixel=True``) is held
        as buffers of shape ``(1, *pixel_shape_)``; ``nodata`` pixels become
        ``nodata_fill`` (``torch.where``), as in :meth:`transform`.

        Returns
        -------
        module : torch.nn.Module
            A ``sk_pixels._torch_module.PixelAffine``, picklable with
            ``torch.save``.

        Raises
        ------
        ImportError
            PyTorch is not installed.
        ValueError
            ``scope="batch"`` / ``"image"``.

        See Also
        --------
        to_onnx, to_keras

        Notes
        -----
        Buffers are float64 (exact coefficients); the device must support
        float64 (CUDA and CPU do; Apple's MPS does not). Do not call
        ``module.half()``: it would round the coefficients; the output dtype
        follows the estimator's ``dtype`` parameter.

        Examples
        --------
        (Skipped by the doctests, which run where PyTorch may be missing;
        ``tests/test_export_frameworks.py`` checks the same where it is.)

        >>> import numpy as np
        >>> import torch  # doctest: +SKIP
        >>> from sk_pixels import PixelStandardizer
        >>> X = np.array([[[[0, 102, 255]], [[51, 153, 204]]]], dtype=np.uint8)
        >>> module = PixelStandardizer().fit(X).to_torch()  # doctest: +SKIP
        >>> module(torch.from_numpy(X))[0, :, 0]  # doctest: +SKIP
        tensor([[-1., -1.,  1.],
                [ 1.,  1., -1.]])
        """
        try:
            import torch  # noqa: F401
        except ImportError as exc:
            raise ImportError(
                "to_torch needs PyTorch: see https://pytorch.org for the build "
                "that fits your machine (pip install torch for a CPU build)."
            ) from exc
        from ._torch_module import PixelAffine

        affine, dtype, _ = self._export_map(
            "PyTorch", clip_ok=True, per_pixel_ok=True, nodata_ok=True
        )
        per_pixel = getattr(self, "per_pixel", False)
        return PixelAffine(
            affine.scale,
            affine.center,
            affine.base,
            affine.clip,
            channel_axis=self.channel_axis,
            image_shape=None if self.image_shape is None else tuple(self.image_shape),
            dtype=None if self.dtype is None else np.dtype(self.dtype).name,
            pixel_shape=tuple(self.pixel_shape_) if per_pixel else None,
            nodata=entry_sentinels(self, len(affine.scale)),
            fill=float(getattr(self, "nodata_fill", 0.0)),
        )

    def _graph_plan(self, target: str, input_dtype) -> dict[str, Any]:
        """The map, and the input, compute and output dtypes of a graph."""
        affine, fitted_dtype, _ = self._export_map(
            target, clip_ok=True, per_pixel_ok=True, nodata_ok=True
        )
        dtype = np.dtype(fitted_dtype if input_dtype is None else input_dtype)
        if dtype.name not in _ONNX_TYPES:
            raise ValueError(
                f"input_dtype={dtype.name!r} is not an ONNX pixel type; use one of "
                f"{sorted(_ONNX_TYPES)}."
            )
        out = output_float_dtype(dtype, self.dtype)
        compute = (
            np.dtype(np.float64)
            if _needs_float64(dtype, out, affine.scale, affine.base, affine.center)
            else out
        )
        return {
            "affine": affine,
            "input_dtype": dtype,
            "output_dtype": out,
            "compute_dtype": compute,
        }


def import_onnx(method: str = "to_onnx") -> tuple[Any, Any, Any]:
    """``onnx``, ``onnx.helper`` and ``onnx.numpy_helper``, or an ImportError
    that names the extra."""
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError as exc:
        raise ImportError(
            f"{method} needs the onnx package: pip install 'sk_pixels[onnx]' "
            "(onnx, and onnxruntime to run the model)."
        ) from exc
    return onnx, helper, numpy_helper


def onnx_model(
    estimator: Any,
    nodes: list,
    initializers: list,
    inputs: list[tuple[str, np.dtype, list]],
    outputs: list[tuple[str, np.dtype, list]],
    path: str | os.PathLike | None,
) -> Any:
    """An ONNX model (opset 17, IR 8) of ``nodes``, checked, with the estimator's
    repr and provenance note as metadata, written atomically to ``path``."""
    onnx, helper, _ = import_onnx()

    def values(specs):
        return [
            helper.make_tensor_value_info(name, _ONNX_TYPES[np.dtype(dt).name], shape)
            for name, dt, shape in specs
        ]

    graph = helper.make_graph(
        nodes,
        f"sk_pixels_{type(estimator).__name__}",
        values(inputs),
        values(outputs),
        initializer=initializers,
    )
    model = helper.make_model(
        graph,
        producer_name="sk_pixels",
        producer_version=__version__,
        opset_imports=[helper.make_opsetid("", 17)],
        ir_version=8,
    )
    model.doc_string = repr(estimator)
    notes = {"sk_pixels.estimator": repr(estimator)}
    provenance = getattr(estimator, "provenance_", None)
    if provenance and provenance.get("note"):
        notes["sk_pixels.provenance"] = provenance["note"]
    helper.set_model_props(model, notes)
    onnx.checker.check_model(model)
    if path is not None:
        from ._files import atomic_open

        with atomic_open(path, "wb") as fh:
            fh.write(model.SerializeToString())
    return model


def _broadcast(values: np.ndarray, rank: int | None, where: Any) -> np.ndarray:
    """Per-channel values shaped to broadcast against one input batch."""
    if rank is None:
        return np.asarray(values[0])
    if rank == 2:
        return values[where]
    shape = [1, 1, 1]
    shape[where - 1] = len(values)
    return values.reshape(shape)


def _onnx_shape(estimator: Any, rank: int | None, where: Any, n_channels: int) -> list:
    """Declared input/output shape: named dims, the channel axis fixed.

    One channel (scalar coefficients): flattened images with ``image_shape``,
    ``(n, H, W)`` with ``channel_axis=None``, else ``(n, H, W, 1)`` /
    ``(n, 1, H, W)`` with the channel axis of the layout.
    """
    if rank is None:
        if estimator.image_shape is not None:
            return ["n", int(np.prod(estimator.image_shape))]
        if estimator.channel_axis is None:
            return ["n", "h", "w"]
        rank, where = 4, _normalize_axis(estimator.channel_axis, 4, ("n",) * 4)
    if rank == 2:
        return ["n", len(where)]
    shape: list = ["n", "d1", "d2", "d3"]
    shape[where] = n_channels
    return shape


def _plain(values: Any) -> Any:
    """Python floats (a list for an array), float64 noise rounded away."""
    if np.ndim(values) == 0:
        return float(f"{float(values):.15g}") + 0.0
    return [float(f"{v:.15g}") + 0.0 for v in np.asarray(values, dtype=np.float64)]
