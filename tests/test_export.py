"""to_torchvision / to_hf_config: exported numbers applied the libraries' way.

Applying them with each library's documented formula must equal our transform.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from sk_pixels import PixelCenterer, PixelNormalizer, PixelStandardizer

RNG = np.random.default_rng(0)
X8 = RNG.integers(0, 256, size=(3, 6, 7, 3), dtype=np.uint8)
X16 = RNG.integers(0, 65536, size=(2, 5, 4, 3), dtype=np.uint16)
X12 = RNG.integers(0, 4096, size=(2, 5, 4, 3), dtype=np.uint16)
XF = RNG.random((2, 5, 4, 3)).astype(np.float32)

EXPORTABLE = [
    ("standardizer", PixelStandardizer(), X8),
    ("standardizer-global", PixelStandardizer(per_channel=False), X8),
    ("standardizer-ddof1", PixelStandardizer(ddof=1), X8),
    ("standardizer-imagenet", PixelStandardizer(mean="imagenet", std="imagenet"), X8),
    ("standardizer-fixed-mean", PixelStandardizer(mean=[100, 120, 140]), X8),
    ("standardizer-uint16", PixelStandardizer(), X16),
    ("standardizer-12bit", PixelStandardizer(max_value=4095), X12),
    ("standardizer-float", PixelStandardizer(), XF),
    ("centerer", PixelCenterer(), X8),
    ("centerer-normalize-global", PixelCenterer(normalize=True, per_channel=False), X8),
    ("centerer-caffe", PixelCenterer(mean="caffe"), X8),
    ("normalizer-domain", PixelNormalizer(), X8),
    ("normalizer-domain-pm1", PixelNormalizer(feature_range=(-1, 1)), X8),
    ("normalizer-dataset", PixelNormalizer(scope="dataset"), X8),
    (
        "normalizer-dataset-float",
        PixelNormalizer(scope="dataset", per_channel=False),
        XF,
    ),
]
IDS = [c[0] for c in EXPORTABLE]


def torchvision_formula(X, mean, std):
    """``ToDtype(torch.float32, scale=True)`` then ``Normalize(mean, std)``, in NumPy.

    ``ToDtype`` divides integer tensors by their dtype's maximum (floats are
    left as they are); ``Normalize`` computes ``(x - mean[c]) / std[c]`` per
    channel (torchvision.transforms.v2.functional.normalize).
    """
    x = X.astype(np.float32)
    if X.dtype.kind in "ui":
        x = x / np.float32(np.iinfo(X.dtype).max)
    return (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)


def hf_formula(X, config):
    """A Hugging Face image processor's ``rescale`` then ``normalize``, in NumPy.

    ``rescale``: ``(image.astype(float64) * rescale_factor).astype(float32)``;
    ``normalize``: ``(image - mean) / std`` with mean/std cast to the image's
    dtype (transformers.image_transforms).
    """
    image = X.astype(np.float32)
    if config["do_rescale"]:
        image = (X.astype(np.float64) * config["rescale_factor"]).astype(np.float32)
    if config["do_normalize"]:
        mean = np.asarray(config["image_mean"], dtype=image.dtype)
        std = np.asarray(config["image_std"], dtype=image.dtype)
        image = (image - mean) / std
    return image


@pytest.mark.parametrize("name, estimator, X", EXPORTABLE, ids=IDS)
def test_to_torchvision_formula_equals_transform(name, estimator, X):
    fitted = clone(estimator).fit(X)
    exported = fitted.to_torchvision()
    assert set(exported) == {"mean", "std"}
    assert len(exported["mean"]) == len(exported["std"]) == X.shape[-1]
    assert all(type(v) is float for v in exported["mean"] + exported["std"])
    assert_allclose(
        torchvision_formula(X, **exported), fitted.transform(X), rtol=1e-5, atol=2e-5
    )


@pytest.mark.parametrize("name, estimator, X", EXPORTABLE, ids=IDS)
def test_to_hf_config_formula_equals_transform(name, estimator, X):
    fitted = clone(estimator).fit(X)
    config = fitted.to_hf_config()
    assert set(config) == {
        "do_rescale",
        "rescale_factor",
        "do_normalize",
        "image_mean",
        "image_std",
    }
    assert config["do_rescale"] == (X.dtype.kind in "ui")
    assert_allclose(hf_formula(X, config), fitted.transform(X), rtol=1e-5, atol=2e-5)


def test_exports_of_known_recipes():
    assert PixelStandardizer(mean="imagenet", std="imagenet").to_torchvision() == {
        "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225],
    }
    inception = PixelNormalizer(feature_range=(-1, 1)).fit(X8)
    assert inception.to_torchvision() == {"mean": [0.5] * 3, "std": [0.5] * 3}
    config = PixelStandardizer(mean="clip", std="clip").fit(X8).to_hf_config()
    assert config["image_mean"] == [0.48145466, 0.4578275, 0.40821073]
    assert config["rescale_factor"] == 1 / 255 and config["do_rescale"] is True
    # 12-bit data in uint16: HF rescales by 1/4095, torchvision's ToDtype by 1/65535.
    twelve = PixelStandardizer(max_value=4095).fit(X12)
    assert twelve.to_hf_config()["rescale_factor"] == 1 / 4095
    ratio = np.divide(
        twelve.to_torchvision()["std"], twelve.to_hf_config()["image_std"]
    )
    assert_allclose(ratio, 4095 / 65535)


@pytest.mark.parametrize(
    "estimator, message",
    [
        (
            PixelStandardizer(scope="image"),
            r"scope='image'\) computes its statistics from each image",
        ),
        (
            PixelNormalizer(scope="batch"),
            r"scope='batch'\) computes its statistics from each batch",
        ),
        (
            PixelStandardizer(clip=1.0, rescale=True),
            r"clip=1.0\) clips the standardized values and rescales",
        ),
        (PixelStandardizer(clip=3.0), "cannot express"),
    ],
)
@pytest.mark.parametrize("method", ["to_torchvision", "to_hf_config"])
def test_inexpressible_estimators_raise(estimator, message, method):
    fitted = clone(estimator).fit(X8)
    with pytest.raises(ValueError, match=message):
        getattr(fitted, method)()


@pytest.mark.parametrize(
    "estimator",
    [
        PixelStandardizer(),
        PixelStandardizer(mean="imagenet"),
        PixelCenterer(mean=[1, 2, 3]),
        PixelNormalizer(),
    ],
)
def test_unfitted_needs_fit_unless_all_presets(estimator):
    with pytest.raises(NotFittedError, match="call fit \\(or fit_stats\\) first"):
        estimator.to_torchvision()


# -- constant channels: the std the transform applies, never 0 ------------------------
def _constant_in(X, channels):
    X = X.copy()
    X[..., channels] = X[:1, :1, :1, channels]  # one value over every pixel
    return X


CONSTANT = [
    (
        "standardizer-uint8-all",
        PixelStandardizer(),
        _constant_in(X8, [0, 1, 2]),
        [0, 1, 2],
    ),
    ("standardizer-uint8-one", PixelStandardizer(), _constant_in(X8, [1]), [1]),
    ("standardizer-uint16", PixelStandardizer(), _constant_in(X16, [0, 2]), [0, 2]),
    ("standardizer-float", PixelStandardizer(), _constant_in(XF, [2]), [2]),
    (
        "standardizer-fixed-mean",
        PixelStandardizer(mean=[10, 20, 30]),
        _constant_in(X8, [0]),
        [0],
    ),
    (
        "normalizer-dataset",
        PixelNormalizer(scope="dataset"),
        _constant_in(X8, [0, 1]),
        [0, 1],
    ),
    (
        "normalizer-dataset-pm1",
        PixelNormalizer(scope="dataset", feature_range=(-1, 1)),
        _constant_in(XF, [1]),
        [1],
    ),
]


@pytest.mark.parametrize(
    "name, estimator, X, channels", CONSTANT, ids=[c[0] for c in CONSTANT]
)
@pytest.mark.parametrize("method", ["to_torchvision", "to_hf_config"])
def test_constant_channel_exports_the_std_applied_with_a_warning(
    name, estimator, X, channels, method
):
    fitted = clone(estimator).fit(X)
    with pytest.warns(
        UserWarning, match=r"constant in channel\(s\) " + re.escape(str(channels))
    ) as rec:
        exported = getattr(fitted, method)()
    assert len(rec) == 1 and rec[0].filename == __file__  # stacklevel: the caller
    std = exported["std"] if method == "to_torchvision" else exported["image_std"]
    assert all(np.isfinite(std)) and min(std) > 0
    # The numbers are the transform's: the frameworks' formulas reproduce it.
    if method == "to_torchvision":
        expected = torchvision_formula(X, **exported)
    else:
        expected = hf_formula(X, exported)
    assert_allclose(expected, fitted.transform(X), rtol=1e-5, atol=2e-5)


def test_constant_channel_exports_one_pixel_unit_as_std():
    X = _constant_in(X8, [0, 1, 2])
    with pytest.warns(UserWarning, match=r"std_ = \[0.0, 0.0, 0.0\]"):
        exported = PixelStandardizer().fit(X).to_torchvision()
    assert exported["std"] == [1 / 255] * 3  # 1 in pixel units, in 0-1 units


@pytest.mark.parametrize("export", ["to_torchvision", "to_hf_config", "to_keras"])
def test_export_of_statistics_learned_in_0_255_float_units_warns(export):
    # Issue 10, item 1: the numbers are in the data's units, the target's are 0-1.
    X = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype(np.float32)
    scaler = PixelStandardizer().fit(X)
    with pytest.warns(UserWarning, match=r"data's units.*max_value=255"):
        getattr(scaler, export)()
    assert "units: the data's own" in scaler.summary()
    refit = PixelStandardizer(max_value=255).fit(X)
    getattr(refit, export)()  # no warning: the units are said
    assert "units 0-255" in refit.summary()
