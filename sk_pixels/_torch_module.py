"""``PixelAffine``: the transform of a fitted estimator as a ``torch.nn.Module``.

Imported by ``to_torch()`` only (PyTorch is optional).  The module is defined
at the top level of this module so that ``torch.save`` pickles it by name.
"""

from __future__ import annotations

import numpy as np

from ._kernels import _needs_float64
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
            # Host copies for the precision decision (no device sync per call).
            self._host = (np.array(scale, np.float64), np.array(offset, np.float64))

        def extra_repr(self) -> str:
            clip = None if self.clip_bounds is None else self.clip_bounds.tolist()
            return (
                f"n_channels={self.scale.numel()}, clip={clip}, "
                f"channel_axis={self.channel_axis}, image_shape={self.image_shape}"
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if not isinstance(x, torch.Tensor):
                raise TypeError(
                    f"PixelAffine takes a torch.Tensor, got {type(x).__name__}. "
                    "Convert it with torch.as_tensor(x)."
                )
            in_dtype = np.dtype(str(x.dtype).removeprefix("torch."))
            out = output_float_dtype(in_dtype, self.dtype)
            compute = np.float64 if _needs_float64(in_dtype, out, *self._host) else out
            compute_t = getattr(torch, np.dtype(compute).name)
            # The channel of each value of one image, reduced to a broadcast
            # shape; the layout checks of transform (channel_axis, image_shape).
            index = channel_index(
                tuple(x.shape[1:]), self.channel_axis, self.image_shape
            )
            if int(index.max(initial=0)) + 1 != self.scale.numel():
                raise ValueError(
                    f"x of shape {tuple(x.shape)} has {int(index.max(initial=0)) + 1} "
                    f"channel(s), but the module was exported from an estimator "
                    f"fitted on {self.scale.numel()}."
                )
            where = torch.tensor(np.array(index), device=self.scale.device)
            scale = self.scale.to(compute_t)[where]
            offset = self.offset.to(compute_t)[where]
            y = x.to(compute_t) * scale + offset
            if self.clip_bounds is not None:
                lo, hi = self.clip_bounds.to(compute_t)
                y = torch.clamp(y, lo, hi)
            return y.to(getattr(torch, out.name))
