"""``PixelAffine``: the transform of a fitted estimator as a ``torch.nn.Module``.

Imported by ``to_torch()`` only (PyTorch is optional).  The module is defined
at the top level of this module so that ``torch.save`` pickles it by name.
"""

from __future__ import annotations

import numpy as np

from ._kernels import uncentred_needs_float64
from ._layout import channel_index
from ._units import output_float_dtype

try:
    import torch
except ImportError:  # pragma: no cover - to_torch says how to install PyTorch
    torch = None

if torch is not None:

    class PixelAffine(torch.nn.Module):
        """``clip(x * scale + offset)`` per channel, as ``transform`` computes it.

        Parameters
        ----------
        scale, offset : array-like of shape (n_channels,)
            Coefficients, input pixel units to output units (kept as float64
            buffers).
        clip : (lo, hi) or None
            Bounds applied after the map (buffers too).
        channel_axis, image_shape, dtype
            The estimator's layout and output dtype parameters.
        """

        def __init__(self, scale, offset, clip, *, channel_axis, image_shape, dtype):
            super().__init__()
            as64 = {"dtype": torch.float64}
            self.register_buffer("scale", torch.tensor(np.asarray(scale), **as64))
            self.register_buffer("offset", torch.tensor(np.asarray(offset), **as64))
            self.register_buffer(
                "clip_bounds", None if clip is None else torch.tensor(clip, **as64)
            )
            self.channel_axis = channel_axis
            self.image_shape = image_shape
            self.dtype = dtype
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
            return (
                f"n_channels={self.scale.numel()}, clip={clip}, "
                f"channel_axis={self.channel_axis}, image_shape={self.image_shape}"
            )

        def _plan(self, dtype: torch.dtype, image_shape: tuple[int, ...]) -> tuple:
            """Output dtype, then scale, offset and bounds in the compute dtype,
            shaped to broadcast against a batch of ``image_shape`` images."""
            in_dtype = np.dtype(str(dtype).removeprefix("torch."))
            out = output_float_dtype(in_dtype, self.dtype)
            host = [b.detach().cpu().numpy() for b in (self.scale, self.offset)]
            compute = (
                np.float64 if uncentred_needs_float64(in_dtype, out, *host) else out
            )
            compute_t = getattr(torch, np.dtype(compute).name)
            # The channel of each value of one image, reduced to a broadcast
            # shape; the layout checks of transform (channel_axis, image_shape).
            index = channel_index(image_shape, self.channel_axis, self.image_shape)
            found = int(index.max(initial=0)) + 1
            if found != self.scale.numel():
                raise ValueError(
                    f"x with images of shape {image_shape} has {found} channel(s), "
                    f"but the module was exported from an estimator fitted on "
                    f"{self.scale.numel()}."
                )
            where = torch.tensor(np.array(index), device=self.scale.device)
            bounds = (
                (None, None)
                if self.clip_bounds is None
                else tuple(self.clip_bounds.to(compute_t))
            )
            return (
                getattr(torch, out.name),
                self.scale.to(compute_t)[where],
                self.offset.to(compute_t)[where],
                *bounds,
            )

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
            out_t, scale, offset, lo, hi = plan
            y = x.to(scale.dtype) * scale + offset
            if lo is not None:
                y = torch.clamp(y, lo, hi)
            return y.to(out_t)
