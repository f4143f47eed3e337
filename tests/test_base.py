"""Shared behaviour: parameter validation at fit, tags, set_output, clone, summary."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from sk_pixels import PixelCenterer, PixelNormalizer, PixelStandardizer

ALL = [PixelNormalizer, PixelCenterer, PixelStandardizer]


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_init_only_stores_parameters(cls):
    est = cls(scope="nonsense", max_value=-3)  # validated at fit, not here
    assert est.get_params()["scope"] == "nonsense"
    with pytest.raises(ValueError, match="The 'scope' parameter of .* must be a str among"):
        est.fit(np.zeros((1, 2, 2, 3)))


def test_negative_max_value_is_rejected_at_fit():
    with pytest.raises(ValueError, match="max_value must be 'auto' or a number > 0"):
        PixelCenterer(max_value=-1).fit(np.zeros((1, 2, 2, 3)))


def test_integer_output_dtype_is_rejected():
    with pytest.raises(ValueError, match="dtype must be a float dtype"):
        PixelCenterer(dtype=np.int32).fit(np.zeros((1, 2, 2, 3)))


def test_transform_before_fit_raises_not_fitted(uint8_batch):
    with pytest.raises(NotFittedError):
        PixelStandardizer().transform(uint8_batch)


def test_tags_follow_parameters():
    assert PixelStandardizer().__sklearn_tags__().requires_fit
    assert not PixelStandardizer(scope="image").__sklearn_tags__().requires_fit
    tags = PixelCenterer().__sklearn_tags__()
    assert tags.input_tags.allow_nan and tags.input_tags.three_d_array
    assert tags.transformer_tags.preserves_dtype == ["float64", "float32"]


@pytest.mark.parametrize("kind", ["complex", "string"])
def test_non_numeric_dtypes_are_rejected(kind):
    X = np.zeros((1, 2, 2, 3), dtype=complex) if kind == "complex" else np.full((1, 2, 2, 3), "a")
    with pytest.raises(ValueError, match="Complex data not supported|bytes/strings"):
        PixelCenterer().fit(X)


def test_bool_is_rejected_with_a_remedy():
    with pytest.raises(ValueError, match=r"dtype bool.*astype\(np.uint8\)"):
        PixelCenterer().fit(np.zeros((1, 2, 2, 3), dtype=bool))


def test_inf_is_rejected():
    X = np.zeros((1, 2, 2, 3))
    X[0, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        PixelStandardizer().fit(X)


def test_set_output_pandas_on_flattened_input():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(np.arange(12.0).reshape(3, 4) / 12, columns=list("abcd"))
    out = PixelStandardizer().set_output(transform="pandas").fit_transform(X)
    assert list(out.columns) == list("abcd")
    assert list(PixelStandardizer().fit(X).get_feature_names_out()) == list("abcd")


def test_clone_keeps_parameters_and_drops_state(uint8_batch):
    est = PixelStandardizer(clip=2.0, mean="imagenet").fit(uint8_batch)
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    assert not hasattr(copy, "mean_")


def test_summary_reports_what_was_seen(uint8_batch):
    text = PixelStandardizer().fit(uint8_batch).summary()
    assert "fitted on 4 images, 140 pixels per channel, dtype uint8, max_value 255" in text
    assert "mean per channel" in text


def test_refit_resets_state(uint8_batch, rng):
    est = PixelCenterer().fit(uint8_batch)
    other = rng.integers(0, 256, (2, 3, 3, 1), dtype=np.uint8)
    est.fit(other)
    assert est.n_channels_ == 1 and est.n_samples_seen_ == 2


def test_fit_stats_equals_fit_on_pixels(uint8_batch):
    from sk_pixels import PixelStats

    stats = PixelStats.from_array(uint8_batch)
    for cls, kwargs in [(PixelStandardizer, {}), (PixelCenterer, {}), (PixelNormalizer, {"scope": "dataset"})]:
        a = cls(**kwargs).fit_stats(stats)
        b = cls(**kwargs).fit(uint8_batch)
        assert_array_equal(a.transform(uint8_batch), b.transform(uint8_batch))


def test_fit_stats_rejects_other_objects():
    with pytest.raises(TypeError, match="expects a PixelStats"):
        PixelStandardizer().fit_stats(np.zeros(3))
