"""Array API support: fit and transform PyTorch, CuPy, array_api_strict arrays in place.

With ``sklearn.set_config(array_api_dispatch=True)`` (or inside
``sklearn.config_context(array_api_dispatch=True)``), ``fit``, ``partial_fit``,
``transform`` and ``inverse_transform`` accept any array of a namespace that
scikit-learn supports (through ``array-api-compat``) and compute where the
array lives: a CUDA tensor is reduced and scaled on its GPU, never copied to
the host. Outputs are arrays of the input's namespace, on its device.

Fitted statistics stay on the host, as NumPy float64 (``mean_``, ``std_``...)
and an exact :class:`~sk_pixels.PixelStats`: they are a few numbers per channel,
and keeping them there lets one fitted estimator serve every namespace (fit on
NumPy, transform CUDA tensors; fit on a GPU, save as JSON, transform NumPy).
A ``"domain"``/``"dataset"`` transform sends the per-channel coefficients to
the device once, as two small arrays of the output dtype, and reuses them (with
the validation of the input's shape and dtype) while the estimator is unchanged:
the Python work per call is then a few microseconds, not the ~0.2 ms that
validating would take, which is longer than a GPU needs to scale a batch.

Statistics on a device, without precision loss (``PixelStats.from_view``, whose
kernels in :mod:`sk_pixels._reduce` serve NumPy and every namespace alike):

* **Integer pixels of up to 16 bits** are summed in ``int64`` on the device,
  in blocks small enough that a block sum of squares cannot overflow. Each block's sums
  are brought to the host as Python ints and added exactly, giving the same
  :class:`~sk_pixels.PixelStats`, to the bit, as NumPy input.
* **Other dtypes** are reduced in float64 where the device supports it, and
  otherwise (e.g. Apple MPS) in a compensated float32 scheme: per block, the
  corrected two-pass algorithm (a second pass sums the deviations from the
  first mean and corrects it, Chan, Golub and LeVeque 1983, eq. 1.7), so a
  block's mean and sum of squared deviations carry a relative error of about
  ``eps(float32) * log2(block)``; the blocks are then merged on the host in
  float64 with Chan et al.'s pairwise update, so the error does not grow with
  the number of blocks.

The transform is one expression per namespace: ``torch.addcmul(offset, x,
scale)`` on PyTorch (one fused kernel that reads ``uint8`` and writes
``float32``, optionally followed by an in-place clamp), and
``astype(x) * scale + offset`` computed in place on other namespaces.
"""

from __future__ import annotations

import weakref
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
from sklearn import get_config

from ._dispatch import proxy
from ._layout import image_view
from ._stats import PixelStats
from ._units import output_float_dtype, resolve_max_value
from ._xp import float_dtype, numpy_dtype, to_numpy  # noqa: F401 (re-exported)


# -- namespace helpers (scikit-learn's private array API module, in one place) ------
def dispatches(X: Any) -> bool:
    """Whether ``X`` takes the Array API path: dispatch on, and X not NumPy.

    NumPy input keeps the NumPy path (with or without dispatch), and without
    dispatch every input keeps scikit-learn's usual conversion.

    Examples
    --------
    >>> import numpy as np
    >>> dispatches(np.zeros(3))
    False
    """
    if isinstance(X, np.ndarray) or not get_config()["array_api_dispatch"]:
        return False
    try:
        import array_api_compat
    except ImportError:  # pragma: no cover - scikit-learn checks it at set_config
        return False
    return (
        array_api_compat.is_array_api_obj(X)
        and not array_api_compat.is_numpy_array(X)
        and not array_api_compat.is_dask_array(X)
    )


def namespace(X: Any) -> tuple[Any, Any]:
    """The array API namespace of ``X`` (``array_api_compat``'s) and its device."""
    import array_api_compat

    return array_api_compat.array_namespace(X), array_api_compat.device(X)


def _device(X):
    import array_api_compat

    return array_api_compat.device(X)


def _is_torch(xp) -> bool:
    return "torch" in xp.__name__


def check_output_dtype(out_np: np.dtype, xp, device) -> None:
    """Refuse a float64 output on a device without float64, saying what to do."""
    if out_np == np.float64 and float_dtype(xp, device) != xp.float64:
        raise ValueError(
            f"The output dtype is float64, but device {device!r} has no float64. "
            "Pass dtype='float32' (or give float32 input)."
        )


def view(X, xp, channel_axis, image_shape):
    """``X`` as a channels-last ``(n, H, W, C)`` array (as :mod:`sk_pixels._layout`)."""
    if X.ndim == 2 and image_shape is not None:
        X = xp.reshape(X, (X.shape[0], *(int(s) for s in image_shape)))
    if X.ndim == 2:
        return xp.reshape(X, (X.shape[0], 1, X.shape[1], 1))
    if X.ndim == 3:
        return xp.expand_dims(X, axis=3)
    axis = channel_axis % 4
    if axis == 3:
        return X
    return xp.permute_dims(X, tuple(a for a in range(4) if a != axis) + (axis,))


def check_finite(X, xp, dtype: np.dtype) -> None:
    """Refuse +/-inf, as ``check_array(..., ensure_all_finite="allow-nan")`` does."""
    if dtype.kind == "f" and bool(xp.any(xp.isinf(X))):
        raise ValueError(
            f"Input X contains infinity or a value too large for dtype('{dtype}')."
        )


def nanmax(X, xp) -> float:
    """Maximum of ``X`` ignoring NaN, as a float (NaN if all are NaN)."""
    value = float(xp.max(X))
    if value != value:  # NaN: some pixels are NaN
        low = xp.full((), -xp.inf, dtype=X.dtype, device=_device(X))
        value = float(xp.max(xp.where(xp.isnan(X), low, X)))
        value = np.nan if value == -np.inf else value
    return value


# -- the affine map on the device ------------------------------------------------------
@lru_cache(maxsize=64)
def _channel_index(image_shape_in: tuple, channel_axis, image_shape) -> np.ndarray:
    """Channel of each value of one input image, reduced to its broadcast shape.

    ``(H, W, C)`` input gives ``[[[0, 1, 2]]]`` (shape (1, 1, C)), ``(C, H, W)``
    gives shape (C, 1, 1): coefficients indexed with it broadcast against X in
    its own layout, so X is never transposed.
    """
    one = np.empty((1, *image_shape_in), dtype=np.intp)
    channels_last = image_view(one, channel_axis, image_shape)
    channels_last[...] = np.arange(channels_last.shape[-1])
    index = one[0]
    for axis in range(index.ndim):
        first = index.take([0], axis=axis)
        if np.array_equal(np.broadcast_to(first, index.shape), index):
            index = first
    index.flags.writeable = False
    return index


def _layout_coefficients(estimator, shape, values: np.ndarray, per_image: bool):
    """Per-channel (C,) or per-image (n, 1, 1, C) values, shaped for X's layout."""
    image_shape = (
        None if estimator.image_shape is None else tuple(estimator.image_shape)
    )
    index = _channel_index(tuple(shape[1:]), estimator.channel_axis, image_shape)
    if per_image:
        table = values.reshape(values.shape[0], values.shape[-1])
        return table[:, index]
    return values.reshape(-1)[index][None]


def device_coefficients(estimator, X, xp, device, coef, per_image, out_np):
    """Scale and offset as arrays of ``out_np`` on X's device, shaped for X's layout."""
    n_channels = view(
        X[:1, ...], xp, estimator.channel_axis, estimator.image_shape
    ).shape[-1]
    return tuple(
        xp.asarray(
            _layout_coefficients(estimator, X.shape, values, per_image).astype(out_np),
            device=device,
        )
        for values in coef.for_view(n_channels, per_image)
    )


def compute_dtype(xp, device, dtype, out_np, coef) -> np.dtype:
    """The dtype to scale in: the output's, or float64 where the NumPy kernel
    would switch to float64 blocks (``_kernels._needs_float64``: inputs that do
    not convert exactly, coefficients out of range, cancelling offsets) and the
    device has float64."""
    from ._kernels import _needs_float64

    if _needs_float64(dtype, out_np, coef.scale, coef.offset) and (
        float_dtype(xp, device) == xp.float64
    ):
        return np.dtype(np.float64)
    return np.dtype(out_np)


def apply(X, xp, scale, offset, clip, out_xp, compute_xp=None):
    """``clip(X * scale + offset)`` as ``out_xp``: one expression per namespace.

    With ``compute_xp`` (float64) set, the map runs in that dtype and the result
    is cast to ``out_xp`` once.
    """
    if compute_xp is not None and compute_xp != out_xp:
        wide = xp.astype(X, compute_xp, copy=True)
        wide *= scale
        wide += offset
        if clip is not None:
            wide = xp.clip(wide, *clip)
        return xp.astype(wide, out_xp)
    if xp.isdtype(X.dtype, "real floating") and X.dtype != out_xp:
        X = xp.astype(X, out_xp)
    if _is_torch(xp):
        import torch

        try:
            # One fused kernel: reads X once (uint8 or float), writes the output.
            out = torch.addcmul(offset, X, scale)
        except (RuntimeError, TypeError):  # pragma: no cover - dtypes torch lacks
            out = None
        if out is not None and out.dtype == out_xp:
            if clip is not None:
                out.clamp_(*clip)
            return out
    out = xp.astype(X, out_xp, copy=True)
    out *= scale
    out += offset
    if clip is not None:
        out = xp.clip(out, *clip)
    return out


class _Plan(NamedTuple):
    """What a fitted-map transform of one kind of input needs, ready on the device."""

    state: dict  # the estimator's __dict__ when the plan was made
    dtype: np.dtype
    out_xp: Any
    scale: Any
    offset: Any
    clip: tuple[float, float] | None
    track_max: bool
    compute_xp: Any  # the dtype the map runs in (see compute_dtype)


#: Per estimator (weakly held), plans for its last few (shape, dtype, device)
#: inputs. Validating a one-image proxy and sending the coefficients to the
#: device cost ~0.2 ms of Python per call, longer than scaling a whole batch on
#: a GPU; a plan is reused while the estimator's attributes are the same
#: objects (fit, partial_fit, set_params and fit_stats all assign new ones).
_PLANS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_MAX_PLANS = 8
_MISSING = object()


def _same_state(estimator, state: dict) -> bool:
    current = estimator.__dict__
    return len(current) == len(state) and all(
        current.get(name, _MISSING) is value for name, value in state.items()
    )


def _fitted_map_plan(estimator, X, xp, device) -> _Plan:
    """The validated plan of a ``"domain"``/``"dataset"`` transform of X (cached)."""
    key = (tuple(X.shape[1:]), str(X.dtype), str(device))
    plans = _PLANS.get(estimator)
    plan = None if plans is None else plans.get(key)
    if plan is not None and X.shape[0] > 0 and _same_state(estimator, plan.state):
        return plan
    dtype = estimator._prepare_transform(proxy(X.shape, numpy_dtype(X))).dtype
    estimator._check_learned_counts()
    out_np = output_float_dtype(dtype, estimator.dtype)
    check_output_dtype(out_np, xp, device)
    coef = estimator._coefficients(None, resolve_max_value(dtype, estimator.max_value))
    work = compute_dtype(xp, device, dtype, out_np, coef)
    scale, offset = device_coefficients(estimator, X, xp, device, coef, False, work)
    plan = _Plan(
        dict(estimator.__dict__),
        dtype,
        getattr(xp, out_np.name),
        scale,
        offset,
        coef.clip,
        estimator._should_track_max(dtype),
        getattr(xp, work.name),
    )
    if plans is None or len(plans) >= _MAX_PLANS:
        plans = _PLANS[estimator] = {}
    plans[key] = plan
    return plan


# -- estimator methods -----------------------------------------------------------------
def partial_fit(estimator, X):
    """``partial_fit`` of an array API array: statistics on its device."""
    xp, device = namespace(X)
    estimator._check_params()
    first_call = not hasattr(estimator, "n_samples_seen_")
    checked = estimator._validate(
        proxy(X.shape, numpy_dtype(X)), reset=first_call, fitting=True
    )
    dtype = checked.dtype
    check_finite(X, xp, dtype)
    stats = None
    if estimator._learns() or (
        dtype.kind == "f" and estimator._depends_on_unit_range()
    ):
        channels_last = view(X, xp, estimator.channel_axis, estimator.image_shape)
        stats = PixelStats.from_view(channels_last)
    estimator._record_batch(
        first_call=first_call, dtype=dtype, n_images=X.shape[0], stats=stats
    )
    return estimator


def transform(estimator, X):
    """``transform`` of an array API array: same namespace, same device."""
    xp, device = namespace(X)
    if estimator.scope in ("domain", "dataset"):
        plan = _fitted_map_plan(estimator, X, xp, device)
        check_finite(X, xp, plan.dtype)
        if plan.track_max:
            estimator._check_batch_scale(plan.dtype, nanmax(X, xp))
        return apply(
            X, xp, plan.scale, plan.offset, plan.clip, plan.out_xp, plan.compute_xp
        )
    from ._base import _nanmax

    dtype = estimator._prepare_transform(proxy(X.shape, numpy_dtype(X))).dtype
    check_finite(X, xp, dtype)
    out_np = output_float_dtype(dtype, estimator.dtype)
    check_output_dtype(out_np, xp, device)
    per_image = estimator.scope == "image"
    channels_last = view(X, xp, estimator.channel_axis, estimator.image_shape)
    stats = estimator._pool(PixelStats.from_view(channels_last, per_image=per_image))
    estimator._warn_domain(dtype, _nanmax(stats.max), "transform")
    coef = estimator._coefficients(stats, resolve_max_value(dtype, estimator.max_value))
    work = compute_dtype(xp, device, dtype, out_np, coef)
    scale, offset = device_coefficients(estimator, X, xp, device, coef, per_image, work)
    out_xp, work_xp = getattr(xp, out_np.name), getattr(xp, work.name)
    return apply(X, xp, scale, offset, coef.clip, out_xp, work_xp)


def inverse_transform(estimator, X, *, restore_dtype: bool = False):
    """``inverse_transform`` of an array API array: same namespace, same device."""
    xp, device = namespace(X)
    dtype = numpy_dtype(X)
    # The NumPy method on a one-image proxy runs every check (scope, fitted,
    # channels, learned counts) and gives the output dtype.
    out_np = estimator.inverse_transform(proxy(X.shape, dtype)).dtype
    if dtype not in (np.float32, np.float64):
        # As check_array(dtype=[float64, float32]) converts NumPy input.
        X = xp.astype(X, float_dtype(xp, device))
        dtype = np.dtype(str(X.dtype).rsplit(".", 1)[-1])
        out_np = output_float_dtype(dtype, estimator.dtype)
    check_finite(X, xp, dtype)
    coef = estimator._coefficients(None, estimator.max_value_).inverse()
    work = compute_dtype(xp, device, dtype, out_np, coef)
    scale, offset = device_coefficients(estimator, X, xp, device, coef, False, work)
    out = apply(
        X, xp, scale, offset, None, getattr(xp, out_np.name), getattr(xp, work.name)
    )
    if not restore_dtype:
        return out
    target = np.dtype(estimator.input_dtype_)
    if target.kind in "ui":
        info = np.iinfo(target)
        out = xp.clip(xp.round(out), float(info.min), float(info.max))
    return xp.astype(out, getattr(xp, target.name))
