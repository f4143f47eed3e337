"""
============================================
Pixel scaling in a Pipeline with grid search
============================================

The estimators are ordinary scikit-learn transformers: they go into a
:class:`~sklearn.pipeline.Pipeline`, and their parameters are searched like any
other. Here the scope of
:class:`~sk_pixels.PixelStandardizer` is tuned, with the regularization, in front
of a ridge
classifier on scikit-learn's digits (8 x 8 images with values 0-16).
"""

# %%
# The data and the pipeline
# -------------------------
# The digits are flattened images of one channel, with values 0 to 16: tell the
# scaler the image shape and the units (``max_value=16``).
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import RidgeClassifier
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from sk_pixels import PixelStandardizer

X, y = load_digits(return_X_y=True)
print(X.shape, X.min(), X.max())

pipe = Pipeline(
    [
        ("pixels", PixelStandardizer(max_value=16, image_shape=(8, 8))),
        ("clf", RidgeClassifier()),
    ]
)

# %%
# Search the scaling
# ------------------
# ``scope="dataset"`` standardizes with the statistics of the training folds;
# ``scope="image"`` standardizes each image with its own.
grid = GridSearchCV(
    pipe,
    {"pixels__scope": ["dataset", "image"], "clf__alpha": [0.1, 10.0]},
    cv=3,
)
grid.fit(X, y)
print(grid.best_params_, round(grid.best_score_, 3))

# %%
# The cross-validated accuracy of each candidate:
labels = [
    f"scope={p['pixels__scope']!r}\nalpha={p['clf__alpha']}"
    for p in grid.cv_results_["params"]
]
mean = grid.cv_results_["mean_test_score"]
spread = grid.cv_results_["std_test_score"]
fig, ax = plt.subplots(figsize=(7, 3), layout="constrained")
ax.barh(np.arange(len(mean)), mean, xerr=spread, color="tab:blue")
ax.set_yticks(np.arange(len(mean)), labels, fontsize=8)
ax.set_xlim(0.8, 1.0)
ax.set_xlabel("mean accuracy over 3 folds")
plt.show()

# %%
# The fitted scalers
# ------------------
# The best pipeline's scaler is refitted on all the digits. A scaler of the
# ``"dataset"`` scope learns statistics in the digits' units (0-16), which
# :func:`sk_pixels.save_json` stores and ``to_torchvision`` exports.
print(grid.best_estimator_.named_steps["pixels"])
dataset_scaler = PixelStandardizer(max_value=16, image_shape=(8, 8)).fit(X)
print("mean", dataset_scaler.mean_.round(3), "std", dataset_scaler.std_.round(3))
for key, values in dataset_scaler.to_torchvision().items():
    print(key, [round(v, 4) for v in values])
