"""``PixelAffine``: the transform of a fitted estimator as a ``torch.nn.Module``.

Imported by ``to_torch()`` only (PyTorch is optional).  The module is defined
at the top level of this module so that ``torch.save`` pickles it by name.
"""

from __future__ import annotations

import numpy as np

from ._export_nodata import sentinel_groups
from ._kernels import _needs_float64, split_center
from ._layout import channel_index
from ._nodata import check_fill
from ._units import output_float_dtype

try:
    import torch
except ImportError:  # pragma: no cover - to_torch says how to install PyTorch
    torch = None

if torch is not None:

    class PixelAffine(torch.nn.Module):
        """``clip((x - center) * scale + base)`` per channel, as ``transform``
        computes it (the centred form, see ``sk_pixels._kernels``).

        Parameters
        ----------
        scale, center, base : array-like of shape (n_channels,) or (n_values,)
            Coefficients (kept as float64 buffers): ``center`` in input pixel
            units (a mean, a minimum), ``scale`` from input to output units,
            ``base`` in output units (the value ``center`` maps to). With
            ``pixel_shape``, one per value of an image (a mean image), kept as
            buffers of shape ``(1, *pixel_shape)``.
        clip : (lo, hi) or None
            Bounds applied after the map (buffers too).
        channel_axis, image_shape, dtype
            The estimator's layout and output dtype parameters.
        pixel_shape : tuple of int or None, default=None
            The shape of one image of a mean-image estimator (its
            ``pixel_shape_``); None for per-channel coefficients.
        nodata : tuple or None, default=None
            The ``nodata`` sentinel, one for all or one per coefficient entry
            (channel, or value of an image); pixels equal to it give ``fill``.
        fill : float, default=0.0
            ``nodata_fill``, in output units.
        """

        def __init__(
            self,
            scale,
            center,
            base,
            clip,
            *,
            channel_axis,
            image_shape,
            dtype,
            pixel_shape=None,
            nodata=None,
            fill=0.0,
        ):
            super().__init__()
            as64 = {"dtype": torch.float64}
            self.pixel_shape = None if pixel_shape is None else tuple(pixel_shape)
            for name, values in (("center", center), ("scale", scale), ("base", base)):
                values = np.asarray(values, dtype=np.float64)
                if self.pixel_shape is not None:
                    values = values.reshape(1, *self.pixel_shape)
                self.register_buffer(name, torch.tensor(values, **as64))
            self.register_buffer(
                "clip_bounds", None if clip is None else torch.tensor(clip, **as64)
            )
            self.channel_axis = channel_axis
            self.image_shape = image_shape
            self.dtype = dtype
            self.nodata = None if nodata is None else tuple(nodata)
            self.fill = float(fill)
            self._plans: dict = {}

        # The operands of forward depend on the input's dtype and image shape and
        # on the buffers: cached per (dtype, shape, device), and forgotten when
        # the buffers move (.to, .cuda, .double...) or are loaded.
        def _apply(self, fn, *args, **kwargs):
            self._plans = {}
            return super()._apply(fn, *args, **kwargs)

        def _load_from_state_dict(self, *args, **kwargs):
            self._plans = {}
            return super()._load_from_state_dict(*args, **kwargs)

        def __getstate__(self):
            return {**super().__getstate__(), "_plans": {}}

        def extra_repr(self) -> str:
            clip = None if self.clip_bounds is None else self.clip_bounds.tolist()
            what = (
                f"n_channels={self.scale.numel()}"
                if getattr(self, "pixel_shape", None) is None
                else f"pixel_shape={self.pixel_shape}"
            )
            nodata = getattr(self, "nodata", None)
            return (
                f"{what}, clip={clip}, channel_axis={self.channel_axis}, "
                f"image_shape={self.image_shape}"
                + ("" if nodata is None else f", nodata={nodata}, fill={self.fill}")
            )

        def _plan(self, dtype: torch.dtype, image_shape: tuple[int, ...]) -> tuple:
            """Output dtype, then center, scale, base and bounds in the compute
            dtype, shaped to broadcast against a batch of ``image_shape`` images:
            the kernel's precision rule and rounding of the coefficients."""
            in_dtype = np.dtype(str(dtype).removeprefix("torch."))
            out = output_float_dtype(in_dtype, self.dtype)
            scale, center, base = (
                b.detach().cpu().numpy().reshape(-1)
                for b in (self.scale, self.center, self.base)
            )
            compute = np.dtype(
                np.float64
                if _needs_float64(in_dtype, out, scale, base, center)
                else out
            )
            compute_t = getattr(torch, compute.name)
            # The channel of each value of one image, reduced to a broadcast
            # shape; the layout checks of transform (channel_axis, image_shape).
            pixel_shape = getattr(self, "pixel_shape", None)
            if pixel_shape is not None:  # a mean image: one entry per value
                if int(np.prod(image_shape)) != self.scale.numel():
                    raise ValueError(
                        f"x holds images of shape {image_shape}, but the module "
                        f"subtracts a mean image of shape {pixel_shape}: resize or "
                        f"crop the images to {pixel_shape}."
                    )
                index = np.arange(self.scale.numel()).reshape(image_shape)
            else:
                index = channel_index(image_shape, self.channel_axis, self.image_shape)
            found = int(index.max(initial=0)) + 1
            if pixel_shape is None and found != self.scale.numel():
                raise ValueError(
                    f"x with images of shape {image_shape} has {found} channel(s), "
                    f"but the module was exported from an estimator fitted on "
                    f"{self.scale.numel()}."
                )
            device = self.scale.device
            where = torch.tensor(np.array(index), device=device)
            bounds = (
                (None, None)
                if self.clip_bounds is None
                else tuple(self.clip_bounds.to(compute_t))
            )
            operands = (
                torch.tensor(values.astype(compute), device=device)[where]
                for values in split_center(scale, center, base, compute)
            )
            scale_t, center_t, base_t = operands
            nodata = []  # (sentinel or "nan", entries it is for or None)
            groups = sentinel_groups(
                getattr(self, "nodata", None), self.scale.numel(), in_dtype
            )
            for key, chosen in groups:
                key = key if isinstance(key, str) else key.item()
                if chosen is not None:
                    chosen = torch.tensor(chosen, device=device)[where]
                nodata.append((key, chosen))
            if nodata:
                check_fill(self.fill, out)
            plan = (getattr(torch, out.name), center_t, scale_t, base_t, *bounds)
            return (*plan, nodata)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if not isinstance(x, torch.Tensor):
                raise TypeError(
                    f"PixelAffine takes a torch.Tensor, got {type(x).__name__}. "
                    "Convert it with torch.as_tensor(x)."
                )
            key = (x.dtype, tuple(x.shape[1:]), self.scale.device)
            plan = self._plans.get(key)
            if plan is None:
                if len(self._plans) >= 64:  # many shapes: keep the cache small
                    self._plans.clear()
                plan = self._plans[key] = self._plan(x.dtype, key[1])
            out_t, center, scale, base, lo, hi, nodata = plan
            # Three rounded steps, as the kernel runs them (no fused multiply-add).
            y = (x.to(scale.dtype) - center) * scale + base
            if lo is not None:
                y = torch.clamp(y, lo, hi)
            y = y.to(out_t)
            if nodata:  # transform's rule: nodata pixels become nodata_fill
                invalid = None
                for key, chosen in nodata:
                    hit = torch.isnan(x) if isinstance(key, str) else x == key
                    hit = hit if chosen is None else hit & chosen
                    invalid = hit if invalid is None else invalid | hit
                y = torch.where(invalid, y.new_tensor(self.fill), y)
            return y

    class PixelWhitening(torch.nn.Module):
        """``PixelWhitener.transform`` as a module: a matrix on whole images, or
        a convolution with ``reflect`` padding in patch mode.

        Parameters
        ----------
        export : dict
            ``PixelWhitener._whitening_export()``: the mode (``"image"`` or
            ``"patch"``), the coefficients (kept as float64 buffers) and the
            shapes.
        dtype : str or None
            The estimator's output dtype parameter.
        """

        def __init__(self, export: dict, *, dtype: str | None):
            super().__init__()
            self.mode = export["mode"]
            self.zca = export["zca"]
            self.image_shape = tuple(export["image_shape"])
            self.dtype = dtype
            as64 = {"dtype": torch.float64}
            names = ("matrix", "mean") if self.mode == "image" else (
                "weight", "bias", "channel_mean"
            )  # fmt: skip
            self.register_buffer("scale", torch.tensor(export["scale"], **as64))
            for name in names:
                self.register_buffer(name, torch.tensor(export[name], **as64))
            self.layout = export.get("layout")
            self.pad = (
                0 if self.mode == "image" else int(export["weight"].shape[-1]) // 2
            )
            self._cast: dict = {}

        def _apply(self, fn, *args, **kwargs):
            self._cast = {}
            return super()._apply(fn, *args, **kwargs)

        def _load_from_state_dict(self, *args, **kwargs):
            self._cast = {}
            return super()._load_from_state_dict(*args, **kwargs)

        def __getstate__(self):
            return {**super().__getstate__(), "_cast": {}}

        def extra_repr(self) -> str:
            return f"mode={self.mode!r}, layout={self.layout!r}, pad={self.pad}"

        def _buffers_as(self, dtype: torch.dtype) -> dict:
            """The buffers in the compute dtype (cached per dtype and device)."""
            key = (dtype, self.scale.device)
            if key not in self._cast:
                self._cast = {
                    key: {name: b.to(dtype) for name, b in self.named_buffers()}
                }
            return self._cast[key]

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if not isinstance(x, torch.Tensor):
                raise TypeError(
                    f"PixelWhitening takes a torch.Tensor, got {type(x).__name__}. "
                    "Convert it with torch.as_tensor(x)."
                )
            in_dtype = np.dtype(str(x.dtype).removeprefix("torch."))
            out = getattr(torch, output_float_dtype(in_dtype, self.dtype).name)
            b = self._buffers_as(out)
            if self.mode == "image":
                if tuple(x.shape[1:]) != self.image_shape:
                    raise ValueError(
                        f"x holds images of shape {tuple(x.shape[1:])}, but the "
                        f"whitener was fitted on {self.image_shape}."
                    )
                flat = x.to(out).reshape(x.shape[0], -1) * b["scale"] - b["mean"]
                y = flat @ b["matrix"].T
                return y.reshape(x.shape) if self.zca else y
            c = b["channel_mean"].shape[0]
            if self.layout == "nhwc":
                unit = x.to(out) * b["scale"] - b["channel_mean"]
                nchw = unit.permute(0, 3, 1, 2)
            else:
                nchw = x.to(out).unsqueeze(1) if self.layout == "gray" else x.to(out)
                nchw = nchw * b["scale"] - b["channel_mean"].reshape(c, 1, 1)
            p = self.pad
            padded = torch.nn.functional.pad(nchw, (p, p, p, p), mode="reflect")
            y = torch.nn.functional.conv2d(padded, b["weight"], b["bias"])
            if self.layout == "nhwc":
                return y.permute(0, 2, 3, 1).contiguous()
            return y.squeeze(1) if self.layout == "gray" else y
