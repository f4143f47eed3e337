"""In Pipelines and GridSearchCV, and persisted with joblib."""

from __future__ import annotations

import joblib
import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from sk_pixels import PixelCenterer, PixelNormalizer, PixelStandardizer


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)  # (1797, 64) float64, values 0-16
    return X[:600], y[:600]


def _pipeline():
    return Pipeline(
        [
            ("pixels", PixelStandardizer(max_value=16, image_shape=(8, 8))),
            ("clf", LogisticRegression(max_iter=300)),
        ]
    )


def test_grid_search_over_scope_and_per_channel(digits):
    X, y = digits
    grid = GridSearchCV(
        _pipeline(),
        {
            "pixels__scope": ["dataset", "batch", "image"],
            "pixels__per_channel": [True, False],
        },
        cv=3,
    )
    grid.fit(X, y)
    assert grid.best_score_ > 0.85
    assert len(grid.cv_results_["params"]) == 6


def test_grid_search_over_the_estimators_themselves_and_clip(digits):
    X, y = digits
    grid = GridSearchCV(
        _pipeline(),
        [
            {
                "pixels": [
                    PixelNormalizer(max_value=16),
                    PixelCenterer(max_value=16, normalize=True),
                ]
            },
            {
                "pixels": [PixelStandardizer(max_value=16)],
                "pixels__clip": [None, 1.0, 3.0],
            },
        ],
        cv=3,
    )
    grid.fit(X, y)
    assert len(grid.cv_results_["params"]) == 5
    assert grid.best_score_ > 0.85


def test_joblib_round_trip_of_estimator_and_pipeline(digits, tmp_path, uint8_batch):
    X, y = digits
    pipe = _pipeline().fit(X, y)
    joblib.dump(pipe, tmp_path / "pipe.joblib")
    loaded = joblib.load(tmp_path / "pipe.joblib")
    assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))
    assert_array_equal(loaded[0].transform(X), pipe[0].transform(X))

    scaler = PixelStandardizer(clip=2.0).fit(uint8_batch)
    joblib.dump(scaler, tmp_path / "scaler.joblib")
    again = joblib.load(tmp_path / "scaler.joblib")
    assert again.get_params() == scaler.get_params()
    assert again.stats_ == scaler.stats_
    assert_array_equal(again.transform(uint8_batch), scaler.transform(uint8_batch))


def test_pipeline_on_4d_images_then_flatten(uint8_batch):
    from sklearn.preprocessing import FunctionTransformer

    pipe = Pipeline(
        [
            ("scale", PixelStandardizer(mean="imagenet", std="imagenet")),
            ("flatten", FunctionTransformer(lambda Z: Z.reshape(len(Z), -1))),
        ]
    )
    out = pipe.fit_transform(uint8_batch)
    assert out.shape == (4, 5 * 7 * 3)
    assert np.isfinite(out).all()
