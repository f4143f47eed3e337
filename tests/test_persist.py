"""save_json / load_json: exact round trips of every configuration; tampering."""

from __future__ import annotations

import json
import os
import pickle
import stat

import joblib
import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from sk_pixels import (
    PixelCenterer,
    PixelNormalizer,
    PixelStandardizer,
    PixelStats,
    load_json,
    save_json,
)
from sk_pixels._base import _FITTED
from sk_pixels.persist import FORMAT_VERSION, InvalidModelFileError, atomic_open

from ._outcomes import Raises, check

RNG = np.random.default_rng(0)
X8 = RNG.integers(0, 256, size=(4, 5, 6, 3), dtype=np.uint8)
X16 = RNG.integers(0, 4096, size=(3, 4, 5, 3), dtype=np.uint16)
XF = RNG.random((3, 4, 5, 3)).astype(np.float32)

# (id, estimator, training data, data to transform)
CONFIGS = [
    ("normalizer-domain", PixelNormalizer(), X8),
    ("normalizer-domain-pm1", PixelNormalizer(feature_range=(-1, 1)), X8),
    ("normalizer-dataset", PixelNormalizer(scope="dataset"), X8),
    (
        "normalizer-dataset-global",
        PixelNormalizer(scope="dataset", per_channel=False),
        X8,
    ),
    ("normalizer-batch", PixelNormalizer(scope="batch"), X8),
    ("normalizer-image-global", PixelNormalizer(scope="image", per_channel=False), X8),
    ("centerer", PixelCenterer(), X8),
    ("centerer-global", PixelCenterer(per_channel=False), X8),
    ("centerer-normalize", PixelCenterer(normalize=True), X8),
    ("centerer-imagenet", PixelCenterer(mean="imagenet"), X8),
    ("centerer-caffe", PixelCenterer(mean="caffe"), X8),
    ("centerer-array", PixelCenterer(mean=np.array([100.0, 110.0, 120.0])), X8),
    ("centerer-image", PixelCenterer(scope="image"), X8),
    ("standardizer", PixelStandardizer(), X8),
    ("standardizer-global-ddof1", PixelStandardizer(per_channel=False, ddof=1), X8),
    (
        "standardizer-positive",
        PixelStandardizer(per_channel=False, clip=1.0, rescale=True),
        X8,
    ),
    ("standardizer-clip", PixelStandardizer(clip=2.5), X8),
    ("standardizer-imagenet", PixelStandardizer(mean="imagenet", std="imagenet"), X8),
    ("standardizer-clip-preset", PixelStandardizer(mean="clip", std="clip"), XF),
    ("standardizer-fixed-mean", PixelStandardizer(mean=[120, 125, 130]), X8),
    ("standardizer-fixed-std", PixelStandardizer(std=(50.0, 60.0, 70.0)), X8),
    ("standardizer-batch", PixelStandardizer(scope="batch"), X8),
    ("standardizer-image-tf", PixelStandardizer(scope="image", adjusted_std=True), X8),
    ("standardizer-12bit", PixelStandardizer(max_value=4095), X16),
    ("standardizer-float", PixelStandardizer(dtype=np.float64), XF),
    ("standardizer-nchw", PixelStandardizer(channel_axis=1), X8.transpose(0, 3, 1, 2)),
    ("standardizer-flat", PixelStandardizer(image_shape=(5, 6, 3)), X8.reshape(4, -1)),
]


def _assert_params_equal(loaded, original):
    params, expected = loaded.get_params(), original.get_params()
    assert params.keys() == expected.keys()
    for name, value in expected.items():
        if name == "dtype" and value is not None:
            assert np.dtype(params[name]) == np.dtype(value)
        elif isinstance(value, (np.ndarray, list, tuple)):
            assert_array_equal(np.asarray(params[name]), np.asarray(value))
        else:
            assert params[name] == value and type(params[name]) is type(value), name


def _assert_fitted_equal(loaded, original):
    for name in _FITTED:
        assert hasattr(loaded, name) == hasattr(original, name), name
        if not hasattr(original, name):
            continue
        value, expected = getattr(loaded, name), getattr(original, name)
        if isinstance(expected, PixelStats):
            assert value == expected
        elif isinstance(expected, np.ndarray):
            assert value.shape == expected.shape
            assert_array_equal(value, expected)
        else:
            assert value == expected, name


@pytest.mark.parametrize("name, estimator, X", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_save_load_roundtrip_is_exact(tmp_path, name, estimator, X):
    fitted = clone(estimator).fit(X)
    path = tmp_path / "model.json"
    save_json(fitted, path)
    loaded = load_json(path)
    assert type(loaded) is type(fitted)
    _assert_params_equal(loaded, fitted)
    _assert_fitted_equal(loaded, fitted)
    Y = fitted.transform(X)
    assert_array_equal(loaded.transform(X), Y)
    if fitted.scope in ("dataset", "domain"):
        assert_array_equal(loaded.inverse_transform(Y), fitted.inverse_transform(Y))


@pytest.mark.parametrize(
    "name, estimator, X", CONFIGS[::3], ids=[c[0] for c in CONFIGS[::3]]
)
def test_save_load_unfitted_estimator(tmp_path, name, estimator, X):
    save_json(estimator, tmp_path / "m.json")
    loaded = load_json(tmp_path / "m.json")
    assert not hasattr(loaded, "n_samples_seen_")
    _assert_params_equal(loaded, estimator)
    assert_array_equal(loaded.fit(X).transform(X), clone(estimator).fit(X).transform(X))


def test_roundtrip_after_partial_fit_of_mixed_float_dtypes(tmp_path):
    scaler = PixelStandardizer().partial_fit(XF).partial_fit(XF.astype(np.float64))
    assert scaler.input_dtype_ == "float32" and scaler.stats_.input_dtype == "float64"
    save_json(scaler, tmp_path / "m.json")
    loaded = load_json(tmp_path / "m.json")
    _assert_fitted_equal(loaded, scaler)
    assert_array_equal(loaded.transform(XF), scaler.transform(XF))


def test_roundtrip_of_fit_stats_and_dataframe_feature_names(tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        X8.reshape(4, -1)[:, :6].astype(np.float64) / 255,
        columns=[f"px{k}" for k in range(6)],
    )
    scaler = PixelStandardizer().fit(frame)
    save_json(scaler, tmp_path / "m.json")
    loaded = load_json(tmp_path / "m.json")
    assert_array_equal(loaded.feature_names_in_, scaler.feature_names_in_)
    assert_array_equal(loaded.transform(frame), scaler.transform(frame))

    from_stats = PixelStandardizer(mean="imagenet", std="imagenet").fit_stats(
        PixelStats.from_array(X8)
    )
    save_json(from_stats, tmp_path / "s.json")
    _assert_fitted_equal(load_json(tmp_path / "s.json"), from_stats)


def test_file_is_documented_plain_json(tmp_path):
    scaler = PixelStandardizer().fit(X8)
    save_json(scaler, tmp_path / "m.json", channel_order="RGB")
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["format"] == "sk_pixels.estimator"
    # Without provenance the file is version 1 (what every release reads).
    assert doc["format_version"] == 1 < FORMAT_VERSION
    assert doc["class"] == "PixelStandardizer" and doc["channel_order"] == "RGB"
    assert (
        doc["fitted"]["max_value"] == 255.0 and doc["fitted"]["input_dtype"] == "uint8"
    )
    assert doc["fitted"]["mean"] == scaler.mean_.tolist()
    assert doc["fitted"]["statistics"]["sum"] == [int(s) for s in scaler.stats_.sum]
    estimator, meta = load_json(tmp_path / "m.json", return_metadata=True)
    assert meta == {
        "channel_order": "RGB",
        "library_version": doc["library_version"],
        "format_version": 1,
    }


def test_preset_channel_order_is_recorded_and_checked(tmp_path):
    caffe = PixelCenterer(mean="caffe").fit(X8)
    save_json(caffe, tmp_path / "c.json")
    assert (
        load_json(tmp_path / "c.json", return_metadata=True)[1]["channel_order"]
        == "BGR"
    )
    with pytest.raises(ValueError, match="numbers are for BGR images"):
        save_json(caffe, tmp_path / "c.json", channel_order="RGB")
    with pytest.raises(
        ValueError, match="has 1 channels, but the estimator was fitted on 3"
    ):
        save_json(PixelStandardizer().fit(X8), tmp_path / "x.json", channel_order="L")
    with pytest.raises(ValueError, match="channel_order must be one of"):
        save_json(PixelStandardizer(), tmp_path / "x.json", channel_order="rgb")


def test_save_json_refuses_other_objects(tmp_path):
    pipeline = make_pipeline(PixelNormalizer())
    with pytest.raises(
        TypeError, match="got Pipeline. Save a whole Pipeline with joblib"
    ):
        save_json(pipeline, tmp_path / "p.json")
    assert not (tmp_path / "p.json").exists()


def test_writes_are_atomic(tmp_path):
    path = tmp_path / "m.json"
    save_json(PixelStandardizer().fit(X8), path)
    before = path.read_bytes()
    with pytest.raises(RuntimeError):
        with atomic_open(path) as fh:
            fh.write("{half a fi")
            raise RuntimeError("disk full")
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.json"]  # no temporary file left
    assert stat.S_IMODE(path.stat().st_mode) & 0o044  # not mkstemp's private 0600


# -- tampered and hostile files ------------------------------------------------------
@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "model.json"
    save_json(PixelStandardizer().fit(X8), path, channel_order="RGB")
    return path


class _Payload:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_renamed_json_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.json"
    path.write_bytes(pickle.dumps(_Payload(str(marker))))
    with pytest.raises(InvalidModelFileError, match="pickle/joblib file, not JSON"):
        load_json(path)
    assert not marker.exists()
    joblib.dump(PixelStandardizer().fit(X8), tmp_path / "j.json")
    with pytest.raises(InvalidModelFileError, match="never unpickles"):
        load_json(tmp_path / "j.json")


def test_load_json_rejects_broken_files(saved, tmp_path):
    text = saved.read_text()
    saved.write_text(text[: len(text) // 2])
    with pytest.raises(InvalidModelFileError, match="invalid JSON .*truncated"):
        load_json(saved)
    (tmp_path / "empty.json").write_text("")
    with pytest.raises(InvalidModelFileError, match="the file is empty"):
        load_json(tmp_path / "empty.json")
    (tmp_path / "utf16.json").write_text('{"format": 1}', encoding="utf-16")
    with pytest.raises(InvalidModelFileError, match="not UTF-8 text"):
        load_json(tmp_path / "utf16.json")
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InvalidModelFileError, match="nested 100000 levels deep"):
        load_json(tmp_path / "deep.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(InvalidModelFileError, match="not an sk_pixels estimator file"):
        load_json(tmp_path / "list.json")
    (tmp_path / "dup.json").write_text('{"format": "a", "format": "b"}')
    with pytest.raises(InvalidModelFileError, match="duplicate key 'format'"):
        load_json(tmp_path / "dup.json")
    with pytest.raises(InvalidModelFileError, match="cannot read the file"):
        load_json(tmp_path / "missing.json")


def test_load_json_size_limit(saved):
    size = saved.stat().st_size
    with pytest.raises(
        InvalidModelFileError,
        match=f"the file is {size} bytes, more than the 100-byte limit",
    ):
        load_json(saved, max_bytes=100)
    assert load_json(saved, max_bytes=size).n_channels_ == 3


def test_strings_with_brackets_do_not_count_as_nesting(tmp_path):
    pd = pytest.importorskip("pandas")
    columns = ["[" * 20 + str(k) for k in range(4)]
    frame = pd.DataFrame(RNG.random((3, 4)), columns=columns)
    scaler = PixelStandardizer().fit(frame)
    save_json(scaler, tmp_path / "m.json")
    assert_array_equal(load_json(tmp_path / "m.json").feature_names_in_, columns)


@pytest.mark.parametrize(
    "estimator, outcome",
    [
        (PixelCenterer(mean=np.inf), Raises(ValueError, r"'mean' holds a non-finite")),
        (PixelCenterer(mean=[1.0, np.nan]), Raises(ValueError, "non-finite value")),
        (PixelCenterer(mean={"r": 1.0}), Raises(TypeError, "of type dict cannot be")),
    ],
    ids=["inf", "nan-in-list", "dict"],
)
def test_parameters_a_file_cannot_store_are_refused_at_save(
    tmp_path, estimator, outcome
):
    check(outcome, lambda: save_json(estimator, tmp_path / "m.json"))
    assert not (tmp_path / "m.json").exists()


def test_nested_array_parameters_are_refused_at_save(tmp_path):
    nested = PixelCenterer(mean=[[100.0, 110.0, 120.0]]).fit(X8)
    with pytest.raises(ValueError, match="'mean' is nested"):
        save_json(nested, tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()
