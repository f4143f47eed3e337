"""The transform's accuracy, as stated in ``sk_pixels._kernels`` and the README.

Laws:

* a constant image or channel maps to exactly the map's value at its centre
  (0 when standardizing or centering, ``feature_range[0]`` for min-max, 0.5 for
  ``clip`` with ``rescale``), on every backend;
* float32 output ``y`` is within ``ERROR_BOUND * eps * (|y*| + |base|) +
  eps**2 * |center * scale|`` (plus what underflow loses) of the exact value
  ``y*`` of the float64 map, for centres and spreads of every magnitude;
* the README and the user guide state the bound the code guarantees.
"""

from __future__ import annotations

import pathlib
import re
from fractions import Fraction

import numpy as np
import pytest
import sklearn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sk_pixels import PixelCenterer, PixelNormalizer, PixelStandardizer, _kernels
from sk_pixels._affine import Affine
from sk_pixels._backends._array_api import ARRAY_API
from sk_pixels._backends._numpy import NUMPY

from .test_backends import BACKENDS, _dispatch

ROOT = pathlib.Path(__file__).resolve().parents[1]


# -- item 1: constant images ----------------------------------------------------------
# (estimator, the value every pixel of a constant image must map to)
CONSTANT = {
    "standardize-image-global-adjusted": (
        PixelStandardizer(scope="image", per_channel=False, adjusted_std=True),
        0.0,
    ),
    "standardize-image": (PixelStandardizer(scope="image"), 0.0),
    "standardize-batch": (PixelStandardizer(scope="batch"), 0.0),
    "standardize-dataset": (PixelStandardizer(), 0.0),
    "standardize-clip": (PixelStandardizer(scope="image", clip=3.0), 0.0),
    "standardize-rescale": (
        PixelStandardizer(scope="image", clip=3.0, rescale=True),
        0.5,
    ),
    "center-image": (PixelCenterer(scope="image"), 0.0),
    "center-dataset-normalized": (PixelCenterer(normalize=True), 0.0),
    "minmax-image": (PixelNormalizer(scope="image"), 0.0),
    "minmax-batch-pm1": (PixelNormalizer(scope="batch", feature_range=(-1, 1)), -1.0),
    "minmax-dataset-odd-range": (
        PixelNormalizer(scope="dataset", feature_range=(-0.3, 2.7)),
        -0.3,
    ),
}

# (dtype, constant value): TensorFlow's uniform image, values whose float32
# product with 1/std rounds, a float32 value that is not a short binary fraction.
CONSTANT_VALUES = [
    ("uint8", 249),
    ("uint8", 77),
    ("uint16", 30001),
    ("int16", -7),
    ("int32", 123456789),
    ("float32", 249.0),
    ("float32", np.float32(0.1)),
    ("float32", np.float32(-3.3e5)),
    ("float64", 0.1),
]


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize(
    "dtype, value", CONSTANT_VALUES, ids=[f"{d}-{v}" for d, v in CONSTANT_VALUES]
)
@pytest.mark.parametrize("name", list(CONSTANT))
def test_constant_image_maps_to_exactly_the_base(backend, dtype, value, name):
    estimator, expected = CONSTANT[name]
    est = sklearn.clone(estimator)
    if dtype.startswith("float") and name == "center-dataset-normalized":
        est.set_params(max_value=4e5)
    X = np.full((2, 19, 19, 3), value, dtype=dtype)
    if est.scope == "image":
        # Two constant images, each standardized on its own statistics.
        X[1] = np.asarray(value, dtype=dtype) // 3
    else:
        X = X[:1]  # statistics over the batch: one constant image
    with _dispatch(backend):
        Xb, to_numpy = BACKENDS[backend](X)
        Y = to_numpy(est.fit(Xb).transform(Xb))
    assert np.all(Y == expected), np.unique(Y)[:5]


def test_constant_channel_maps_to_exactly_zero_among_varying_ones(rng):
    X = rng.integers(0, 256, (3, 224, 224, 3)).astype(np.uint8)
    X[..., 1] = 201
    for est in (PixelStandardizer(scope="image"), PixelStandardizer()):
        assert np.all(est.fit(X).transform(X)[..., 1] == 0)
    minmax = PixelNormalizer(scope="dataset", feature_range=(-1, 1))
    assert np.all(minmax.fit_transform(X)[..., 1] == -1)


# -- item 2: the stated bound ---------------------------------------------------------
def _bound(y_ref, base, center, scale, out_dtype):
    """The bound of ``sk_pixels._kernels`` (written out again, from its docstring)."""
    info = np.finfo(out_dtype)
    eps = float(info.eps)
    return (
        _kernels.ERROR_BOUND * eps * (np.abs(y_ref) + np.abs(base))
        + eps**2 * np.abs(center * scale)
        + _kernels.ERROR_BOUND * eps * float(info.smallest_normal)
    )


@st.composite
def centred_maps(draw):
    """Pixels around a centre of any magnitude, and a map that centres them."""
    dtypes = ["uint8", "uint16", "int16", "int32", "float32", "float64"]
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    n_channels = draw(st.sampled_from([1, 3]))
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        center = draw(st.floats(float(info.min), float(info.max)))
        spread = 10.0 ** draw(st.floats(-4, np.log10(float(info.max) - info.min)))
    else:
        top = 37 if dtype == np.float32 else 300
        center = draw(st.sampled_from([-1, 1])) * 10.0 ** draw(st.floats(-45, top))
        # Spreads from far below the centre's ulp to far above the centre.
        spread = abs(center) * 10.0 ** draw(st.floats(-12, 3)) + 1e-44
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    width = draw(st.sampled_from([0.01, 1, 30]))
    z = rng.standard_normal((2, 5, 7, n_channels)) * width
    x = center + spread * z
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        x = np.clip(np.round(x), info.min, info.max)
    else:
        x = np.clip(x, -np.finfo(dtype).max / 4, np.finfo(dtype).max / 4)
    x = x.astype(dtype)
    x.reshape(-1)[0] = np.asarray(center, dtype=dtype)  # a pixel at the centre
    # The centre is the mean of the pixels, or the requested one, or a neighbour.
    mean = x.astype(np.float64).mean()
    center = draw(st.sampled_from([mean, center, np.nextafter(mean, np.inf)]))
    scale = draw(st.sampled_from([1.0, -1.0, 0.5])) / spread
    base = draw(st.sampled_from([0.0, 0.5, -1.0, 1e-3, 7.25]))
    return x, Affine.centered(scale, center, base=base)


@pytest.mark.parametrize("backend", ["numpy", "array_api_strict"])
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=centred_maps())
def test_transform_error_within_stated_bound(backend, case):
    x, affine = case
    with np.errstate(all="ignore"):
        y_ref = (x.astype(np.float64) - affine.center) * affine.scale + affine.base
    if not np.all(np.abs(y_ref) < np.finfo(np.float32).max / 2):
        return  # beyond float32: an overflow error, not an accuracy question
    if backend == "numpy":
        y = NUMPY.apply(x, affine, np.dtype(np.float32), (-1, None))
    else:
        xp = pytest.importorskip("array_api_strict")
        pytest.importorskip("array_api_compat")
        with sklearn.config_context(array_api_dispatch=True):
            y = ARRAY_API.apply(xp.asarray(x), affine, np.dtype(np.float32), (-1, None))
        y = np.asarray(y)
    assert y.dtype == np.float32
    err = np.abs(y.astype(np.float64) - y_ref)
    bound = _bound(y_ref, affine.base, affine.center, affine.scale, np.float32)
    worst = np.argmax(err - bound)
    assert np.all(err <= bound), (
        x.reshape(-1)[worst],
        y.reshape(-1)[worst],
        y_ref.reshape(-1)[worst],
        err.reshape(-1)[worst] / bound.reshape(-1)[worst],
    )


@settings(max_examples=60, deadline=None)
@given(
    center=st.floats(-1e15, 1e15),
    log_spread=st.floats(-6, 12),
    base=st.sampled_from([0.0, 0.5, -1.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_float64_transform_error_within_stated_bound(center, log_spread, base, seed):
    # float64 output: the reference is exact rational arithmetic.
    spread = 10.0**log_spread
    x = center + spread * np.random.default_rng(seed).standard_normal((1, 3, 4, 1))
    affine = Affine.centered(1 / spread, center, base=base)
    y = NUMPY.apply(x, affine, np.dtype(np.float64), (-1, None))
    s, c, b = (Fraction(float(v)) for v in (affine.scale, affine.center, base))
    for xi, yi in zip(x.reshape(-1), y.reshape(-1)):
        exact = (Fraction(float(xi)) - c) * s + b
        err = abs(Fraction(float(yi)) - exact)
        eps = Fraction(float(np.finfo(np.float64).eps))
        assert err <= _kernels.ERROR_BOUND * eps * (abs(exact) + abs(b)), float(err)


def test_uint16_near_constant_image_of_the_issue_is_accurate(rng):
    # Mean 30000, std 30 (mean/std ~ 1000): 137,000 ulp of error before the fix.
    X = np.clip(rng.normal(30000, 30, (4, 64, 64, 3)), 0, 65535).astype(np.uint16)
    est = PixelStandardizer().fit(X)
    Y = est.transform(X)
    ref = (X - est.mean_) / est.std_
    eps = np.finfo(np.float32).eps
    bound = _kernels.ERROR_BOUND * eps * np.abs(ref) + eps**2 * np.abs(
        est.mean_ / est.std_
    )
    assert np.all(np.abs(Y - ref) <= bound)


# -- the bound is the one the documentation states -----------------------------------
DOCUMENTS = ["README.md", "docs/user_guide/exactness.md", "docs/user_guide/speed.md"]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_documented_accuracy_is_the_guaranteed_bound(document):
    text = (ROOT / document).read_text(encoding="utf-8")
    pattern = r"within\s+`?(\d+)\s*·\s*eps\s*·\s*\(\|y\*?\|\s*\+\s*\|y₀\|\)"
    stated = re.findall(pattern, text)
    assert stated, f"{document} states no accuracy bound of the form 'within N·eps·...'"
    assert {int(n) for n in stated} == {_kernels.ERROR_BOUND}
    assert "eps²" in text
    module = _kernels.__doc__
    assert "ERROR_BOUND * eps * (|y*| + |base|)" in module
    assert f"``ERROR_BOUND`` = {_kernels.ERROR_BOUND} covers" in module
