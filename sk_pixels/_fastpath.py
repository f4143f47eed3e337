"""transform's fast path: small NumPy calls of a kind already validated.

A data-loader worker calls ``transform`` once per image, on one thread, so the
generic validation (scikit-learn's ``validate_data``/``check_array`` with its
dataframe detection, the parameter checks, the coefficients, the kernel's
float64-route decision) costs many times the pixels' own work. This module
skips what cannot differ from a previous call and checks the rest:

- :func:`remember` runs after a transform that took the full path and
  succeeded, on a plain NumPy array: it records a *plan* for inputs of that
  dtype and number of dimensions (the layout, channel count, output dtype,
  the kernel's :class:`~sk_pixels._kernels.Plan` and the units check), and
  the *fingerprint* of the estimator it was built from;
- :func:`transform` takes the fast path only when the estimator's fingerprint
  is unchanged and X is a C-contiguous ``numpy.ndarray`` (no subclass) of a
  planned dtype and dimension, with the planned channel count (and feature
  count for 2-D input), whose layout raises no warning, holds no infinity
  (float input), and is small enough for one thread; ``out`` must be a
  C-contiguous array of the planned output dtype, and goes through the same
  checks as on the full path. Anything else returns None, and the full path
  runs, with every error and warning it gives.

The fingerprint holds the *values* of every entry of the estimator's
``__dict__`` (parameters and fitted attributes, arrays by their bytes, fitted
statistics by their fields), never an object's identity: editing a parameter
array in place (``mean[0] = 90``), ``set_params``, a new ``fit`` or a
``partial_fit`` all change it, and the next call takes the full path (and plans
again). What the plan applies is what the full path applies: the same
coefficients from the same methods, the same kernel, the same checks on X's
maximum, so the results are equal to the bit.
"""

from __future__ import annotations

import operator
import weakref

import numpy as np
from sklearn.utils._set_output import _wrap_data_with_container

from . import _kernels, _threads
from ._backends._common import raise_on_overflow, restore_dtype
from ._input import _ambiguous_layout
from ._layout import image_view
from ._units import output_float_dtype

#: Plans of each estimator (kept only as long as the estimator lives).
_PLANS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

#: Parameters that the fast path does not implement when set (not None).
_UNSUPPORTED = ("nodata",)


def _unsupported(estimator) -> bool:
    """Whether a parameter asks for what the plans do not implement: nodata,
    or a mean image (``per_pixel``: coefficients of an image's shape)."""
    return getattr(estimator, "per_pixel", False) or any(
        getattr(estimator, name, None) is not None for name in _UNSUPPORTED
    )


class _Uncacheable(Exception):
    """An attribute whose value cannot be fingerprinted (no fast path)."""


_ATOMS = frozenset((int, float, str, bool, type(None), complex, bytes, type))


def _immutable(value) -> bool:
    """Whether ``value`` can never change (so that being it means equal to it)."""
    kind = type(value)
    if kind in _ATOMS or isinstance(value, (np.generic, np.dtype)):
        return True
    return kind is tuple and all(_immutable(v) for v in value)


def _contents(array: np.ndarray):
    """What an array holds: its bytes, or its Python ints (exact statistics)."""
    if not array.dtype.hasobject:
        return array.tobytes()
    items = array.ravel().tolist()
    if not all(type(v) in _ATOMS for v in items):
        raise _Uncacheable("object array")
    return items


class Fingerprint:
    """The values that the transform of an estimator depends on.

    Everything reachable from its ``__dict__`` (parameters, fitted attributes,
    the fields of its fitted statistics): each container (a ``__dict__``, a
    list, a dict, the slots of an object) by the objects it holds, and each
    array by its dtype, shape and contents. An immutable value (a number, a
    string, a tuple of them) is the same value exactly when it is the same
    object; a mutable one is also compared by contents, read again on each
    comparison, so an in-place edit (``mean[0] = 90``) is seen.
    """

    __slots__ = ("arrays", "containers")

    def __init__(self, estimator) -> None:
        self.containers: list = []
        self.arrays: list = []
        self._walk(estimator.__dict__)

    def _walk(self, value) -> None:
        if _immutable(value):
            return
        kind = type(value)
        if kind is np.ndarray:
            self.arrays.append((value, value.dtype, value.shape, _contents(value)))
            return
        if kind is dict:
            held = tuple(value.values())
            self.containers.append((value, tuple(value), held))
        elif kind is list:
            held = tuple(value)
            self.containers.append((value, None, held))
        else:
            fields = getattr(value, "__dict__", None)
            slots = getattr(kind, "__slots__", None)
            if fields is None and not slots:
                raise _Uncacheable(kind.__name__)
            if fields is not None:
                self._walk(fields)
            if slots:
                names = (slots,) if isinstance(slots, str) else tuple(slots)
                held = tuple(getattr(value, name, None) for name in names)
                self.containers.append((value, names, held))
            return
        for item in held:
            self._walk(item)

    def matches(self, estimator) -> bool:
        """Whether ``estimator`` holds the same values as when this was taken."""
        containers = self.containers
        if containers[0][0] is not estimator.__dict__:
            return False
        for container, names, held in containers:
            kind = type(container)
            if kind is dict:
                if len(container) != len(held) or tuple(container) != names:
                    return False
                now = container.values()
            elif kind is list:
                now = container
                if len(now) != len(held):
                    return False
            else:
                now = [getattr(container, name, None) for name in names]
            if not all(map(operator.is_, now, held)):
                return False
        for array, dtype, shape, contents in self.arrays:
            if (
                array.shape != shape
                or array.dtype != dtype
                or _contents(array) != contents
            ):
                return False
        return True


def fingerprint(estimator) -> Fingerprint | None:
    """The :class:`Fingerprint` of ``estimator``, or None (no fast path)."""
    try:
        return Fingerprint(estimator)
    except _Uncacheable:
        return None


class _Entry:
    __slots__ = ("__weakref__", "key", "plans")

    def __init__(self, key: Fingerprint) -> None:
        self.key = key
        self.plans: dict[tuple, _Plan] = {}


class _Plan:
    """What transform does to NumPy input of one dtype and ndim, for one state."""

    __slots__ = (
        "check",
        "dtype",
        "float_input",
        "kernel",
        "layout",
        "n_channels",
        "n_features",
        "ndim",
        "out_dtype",
    )

    def __init__(self, estimator, X: np.ndarray, dtype: np.dtype) -> None:
        layout = estimator._layout()
        n_channels = image_view(X, *layout).shape[-1]
        self.layout = layout
        self.dtype, self.ndim = X.dtype, X.ndim
        self.n_channels = n_channels
        self.n_features = X.shape[1] if X.ndim == 2 else None
        self.float_input = dtype.kind == "f"
        self.out_dtype = output_float_dtype(dtype, estimator.dtype)
        affine, self.check = estimator._fixed_map(dtype)
        scale, center, base = affine.centered_for_view(n_channels, False)
        self.kernel = _kernels.Plan(
            dtype, self.out_dtype, scale, base, affine.clip, center
        )

    def apply(self, estimator, X: np.ndarray, out):
        """The transform of X, or None where the full path must run."""
        view = image_view(X, *self.layout)
        if view.shape[-1] != self.n_channels or (
            self.n_features is not None and X.shape[1] != self.n_features
        ):
            return None
        if _ambiguous_layout(X.shape, *self.layout) is not None:
            return None  # the full path warns
        if out is None:
            if 2 * X.nbytes + X.size * 8 >= _threads.MIN_PARALLEL_BYTES:
                return None  # large: threads, on the full path
            if self.float_input and not _no_infinity(X):
                return None  # the full path refuses infinity
            out = np.empty(X.shape, dtype=self.out_dtype)
        else:
            if (
                type(out) is not np.ndarray
                or out.dtype != self.out_dtype
                or not out.flags.c_contiguous
                or X.nbytes + out.nbytes >= _threads.MIN_PARALLEL_BYTES
            ):
                return None
            if self.float_input and not _no_infinity(X):
                return None
            out = _kernels.check_out(out, X.shape, X)
        dst = image_view(out, *self.layout)
        track = self.check is not None
        if self.kernel.may_overflow:
            with raise_on_overflow(out.dtype):
                observed = self.kernel.run(view, dst, track, n_threads=1)
        else:  # integer pixels whose range maps well inside the output's
            observed = self.kernel.run(view, dst, track, n_threads=1)
        if self.check is not None:
            self.check(observed)
        return _wrap_data_with_container("transform", out, X, estimator)


def _no_infinity(X: np.ndarray) -> bool:
    """Whether float X holds no +/-inf (NaN allowed), usually in one cheap pass."""
    with np.errstate(all="ignore"):
        if np.isfinite(np.add.reduce(X, axis=None)):
            return True  # an infinity would make the sum inf or NaN
    return not bool(np.isinf(X).any())


def transform(estimator, X, out):
    """``estimator.transform(X, out=out)`` by a plan, or None (take the full path)."""
    if type(X) is not np.ndarray:
        return None
    entry = _PLANS.get(estimator)
    if entry is None:
        return None
    plan = entry.plans.get((X.dtype, X.ndim))
    if plan is None or X.size == 0 or not X.flags.c_contiguous:
        return None
    if not entry.key.matches(estimator):
        return None
    return plan.apply(estimator, X, out)


def remember(estimator, X, dtype: np.dtype) -> None:
    """Plan transforms like the one of X that just succeeded on the full path."""
    if (
        type(X) is not np.ndarray
        or X.dtype != dtype
        or X.size == 0
        or not X.flags.c_contiguous
        or estimator.scope not in ("domain", "dataset")
        or _unsupported(estimator)
        or hasattr(estimator, "feature_names_in_")  # names are checked each call
    ):
        return
    _add_plan(estimator, (X.dtype, X.ndim), lambda: _Plan(estimator, X, dtype))


def _add_plan(estimator, kind: tuple, make) -> None:
    """Record ``make()`` as the plan of ``kind``, under the estimator's current
    fingerprint (a new entry when its values changed since the last plan)."""
    entry = _PLANS.get(estimator)
    if entry is None or not entry.key.matches(estimator):
        key = fingerprint(estimator)
        if key is None:
            return
        entry = _Entry(key)
    elif kind in entry.plans:
        return
    entry.plans[kind] = make()
    _PLANS[estimator] = entry


class _InversePlan:
    """What inverse_transform does to float NumPy input of one dtype and ndim."""

    __slots__ = ("kernel", "layout", "n_channels", "n_features", "out_dtype")

    def __init__(self, estimator, X: np.ndarray) -> None:
        self.layout = estimator._layout()
        self.n_channels = image_view(X, *self.layout).shape[-1]
        self.n_features = X.shape[1] if X.ndim == 2 else None
        self.out_dtype = output_float_dtype(X.dtype, estimator.dtype)
        affine = estimator._inverse_map()
        scale, center, base = affine.centered_for_view(self.n_channels, False)
        self.kernel = _kernels.Plan(
            X.dtype, self.out_dtype, scale, base, affine.clip, center
        )

    def apply(self, estimator, X: np.ndarray, restore: bool):
        view = image_view(X, *self.layout)
        if (
            view.shape[-1] != self.n_channels
            or (self.n_features is not None and X.shape[1] != self.n_features)
            or _ambiguous_layout(X.shape, *self.layout) is not None
            or 2 * X.nbytes + X.size * 8 >= _threads.MIN_PARALLEL_BYTES
            or not _no_infinity(X)
        ):
            return None
        out = np.empty(X.shape, dtype=self.out_dtype)
        with raise_on_overflow(out.dtype):
            self.kernel.run(view, image_view(out, *self.layout), n_threads=1)
        return restore_dtype(out, estimator.input_dtype_) if restore else out


def inverse_transform(estimator, X, restore: bool):
    """``estimator.inverse_transform(X)`` by a plan, or None (the full path)."""
    if type(X) is not np.ndarray:
        return None
    entry = _PLANS.get(estimator)
    plan = None if entry is None else entry.plans.get(("inverse", X.dtype, X.ndim))
    if plan is None or X.size == 0 or not X.flags.c_contiguous:
        return None
    if not entry.key.matches(estimator):
        return None
    return plan.apply(estimator, X, restore)


def remember_inverse(estimator, X) -> None:
    """Plan inverse transforms like the one of float X that just succeeded."""
    if (
        type(X) is not np.ndarray
        or X.dtype not in (np.float32, np.float64)
        or X.size == 0
        or not X.flags.c_contiguous
        or _unsupported(estimator)
    ):
        return
    kind = ("inverse", X.dtype, X.ndim)
    _add_plan(estimator, kind, lambda: _InversePlan(estimator, X))
