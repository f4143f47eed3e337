"""Security: loading a stats file never runs code, and pickles need consent.

- ``load_json`` accepts only its own schema: no object hooks (a "class" can
  only be one of the three estimators), no unknown keys, a size limit checked
  before reading, and it opens no file but the one it is given (a model never
  refers to other files, so there is no path to traverse).
- A pickle (``joblib``) model is refused by the CLI unless ``--trust-pickle``
  is given, and its payload does not run; a pickle renamed ``.json`` is
  refused by ``load_json`` without unpickling it.
"""

from __future__ import annotations

import builtins
import io
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sk_pixels import PixelCenterer, PixelNormalizer, PixelStandardizer

persist = pytest.importorskip("sk_pixels.persist")
cli = pytest.importorskip("sk_pixels.cli")

from sk_pixels.persist import InvalidModelFileError, load_json, save_json  # noqa: E402


class _Payload:
    """Unpickling this creates the marker file: proof that code ran."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def _pickle_bytes(marker: Path) -> bytes:
    return pickle.dumps(_Payload(str(marker)))


@pytest.fixture
def doc(tmp_path):
    """A valid saved document (dict) of a fitted standardizer."""
    X = np.random.default_rng(0).integers(0, 256, (2, 4, 4, 3), dtype=np.uint8)
    path = tmp_path / "valid.json"
    save_json(PixelStandardizer().fit(X), path, channel_order="RGB")
    return json.loads(path.read_text())


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k in range(2):
        Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)).save(
            folder / f"im{k}.png"
        )
    return folder


def _write(tmp_path, doc, name="model.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


# -- only its own schema ---------------------------------------------------------------
def _tamper(doc, edit):
    doc = json.loads(json.dumps(doc))
    edit(doc)
    return doc


SCHEMA_ATTACKS = {
    "class-os-system": (
        lambda d: d.update({"class": "os.system"}),
        "unknown class 'os.system'",
    ),
    "class-dunder-import": (
        lambda d: d.update({"class": "__import__"}),
        "unknown class",
    ),
    "class-pipeline": (
        lambda d: d.update({"class": "Pipeline"}),
        "unknown class 'Pipeline'",
    ),
    "class-not-a-string": (
        lambda d: d.update({"class": ["PixelStandardizer"]}),
        "unknown class",
    ),
    "jsonpickle-object": (
        lambda d: d.update({"py/object": "subprocess.Popen"}),
        r"unknown key\(s\) \['py/object'\]",
    ),
    "dunder-key-in-params": (
        lambda d: d["params"].update({"__class__": "os.system"}),
        r"unknown key\(s\) \['__class__'\]",
    ),
    "object-as-param": (
        lambda d: d["params"].update({"mean": {"py/reduce": "os.system"}}),
        "parameter 'mean' must be a number, string, list or null",
    ),
    "nested-list-param": (
        lambda d: d["params"].update({"mean": [[1, 2], [3]]}),
        "flat list of numbers",
    ),
    "path-as-preset": (
        lambda d: d["params"].update({"mean": "../../etc/passwd"}),
        "invalid estimator: The 'mean' parameter",
    ),
    "unknown-fitted-key": (
        lambda d: d["fitted"].update({"pickle": "gASV"}),
        r"unknown key\(s\) \['pickle'\]",
    ),
    "wrong-format-name": (
        lambda d: d.update({"format": "joblib"}),
        "not an sk_pixels estimator file",
    ),
    "newer-format-version": (
        lambda d: d.update({"format_version": 99}),
        "format version 99 was written by a newer sk_pixels",
    ),
    "dtype-object": (
        lambda d: d["fitted"].update({"input_dtype": "object"}),
        "must name a numeric dtype",
    ),
    "dtype-code-string": (
        lambda d: d["fitted"].update({"input_dtype": "__import__('os')"}),
        "must name a numeric dtype",
    ),
    "negative-std": (
        lambda d: d["fitted"].update({"std": [-1.0, 1.0, 1.0]}),
        "negative value",
    ),
    "edited-mean": (
        lambda d: d["fitted"].update({"mean": [0.0, 0.0, 0.0]}),
        "does not match the value recomputed",
    ),
}


@pytest.mark.parametrize("attack", list(SCHEMA_ATTACKS))
def test_load_json_accepts_only_its_own_schema(tmp_path, doc, attack):
    edit, match = SCHEMA_ATTACKS[attack]
    path = _write(tmp_path, _tamper(doc, edit))
    with pytest.raises(InvalidModelFileError, match=match):
        load_json(path)


def test_load_json_uses_no_object_hook_and_imports_nothing(tmp_path, doc, monkeypatch):
    path = _write(tmp_path, doc)
    imported = []
    real_import = builtins.__import__

    def spy(name, *args, **kwargs):
        imported.append(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", spy)
    estimator = load_json(path)
    monkeypatch.undo()
    assert isinstance(estimator, PixelStandardizer)
    # Nothing named by the file (or anything outside the standard library's
    # json/numpy machinery) is imported while loading.
    suspicious = {"os.system", "subprocess", "pickle", "joblib", "importlib"}
    assert not suspicious & set(imported)


def test_load_json_size_limit_is_checked_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "huge.json"
    with open(path, "wb") as fh:  # sparse: 2 GiB that cost nothing
        fh.truncate(2 << 30)
    opened = []
    real_open = builtins.open
    monkeypatch.setattr(
        builtins,
        "open",
        lambda f, *a, **k: (opened.append(f), real_open(f, *a, **k))[1],
    )
    with pytest.raises(InvalidModelFileError, match="more than the 1048576-byte limit"):
        load_json(path)
    monkeypatch.undo()
    assert opened == []  # refused from its size alone


def test_load_json_size_limit_is_configurable(tmp_path, doc):
    path = _write(tmp_path, doc)
    size = path.stat().st_size
    with pytest.raises(InvalidModelFileError, match=f"the file is {size} bytes"):
        load_json(path, max_bytes=size - 1)
    assert isinstance(load_json(path, max_bytes=size), PixelStandardizer)


@pytest.mark.parametrize(
    "estimator",
    [
        PixelStandardizer(),
        PixelCenterer(mean="imagenet"),
        PixelNormalizer(scope="dataset"),
    ],
    ids=["standardizer", "centerer-preset", "normalizer"],
)
def test_load_json_opens_only_the_file_it_is_given(tmp_path, monkeypatch, estimator):
    X = np.random.default_rng(0).integers(0, 256, (2, 4, 4, 3), dtype=np.uint8)
    path = tmp_path / "model.json"
    save_json(estimator.fit(X), path)
    opened = []
    for module, name in ((builtins, "open"), (io, "open"), (os, "open")):
        real = getattr(module, name)

        def spy(f, *a, _real=real, **k):
            opened.append(os.fspath(f) if not isinstance(f, int) else f)
            return _real(f, *a, **k)

        monkeypatch.setattr(module, name, spy)
    load_json(path)
    monkeypatch.undo()
    assert {os.path.abspath(p) for p in opened if isinstance(p, str)} <= {str(path)}


def test_pickle_renamed_json_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.json"
    path.write_bytes(_pickle_bytes(marker))
    with pytest.raises(InvalidModelFileError, match="pickle/joblib file, not JSON"):
        load_json(path)
    assert not marker.exists()


# -- the CLI and pickles ---------------------------------------------------------------
@pytest.mark.parametrize(
    "name", ["model.joblib", "model.pkl", "model.pickle", "MODEL.JOBLIB"]
)
def test_cli_refuses_pickle_model_without_trust_pickle(capsys, tmp_path, images, name):
    marker = tmp_path / "pwned"
    model = tmp_path / name
    model.write_bytes(_pickle_bytes(marker))
    code = cli.main(["apply", str(model), str(images), "-o", str(tmp_path / "out.npy")])
    err = capsys.readouterr().err
    assert code == 2
    assert "--trust-pickle" in err and "runs code" in err
    assert "Traceback" not in err
    assert not marker.exists()
    assert not (tmp_path / "out.npy").exists()


def test_cli_pickle_renamed_json_is_refused_without_running_it(
    capsys, tmp_path, images
):
    marker = tmp_path / "pwned"
    model = tmp_path / "model.json"
    model.write_bytes(_pickle_bytes(marker))
    code = cli.main(["apply", str(model), str(images), "-o", str(tmp_path / "out.npy")])
    err = capsys.readouterr().err
    assert code == 1
    assert "pickle" in err
    assert not marker.exists()


def test_cli_trusted_joblib_model_round_trips(capsys, tmp_path, images):
    model = tmp_path / "model.joblib"
    assert (
        cli.main(["fit", str(images), "--estimator", "centerer", "-o", str(model)]) == 0
    )
    out = tmp_path / "out.npy"
    code = cli.main(
        ["apply", str(model), str(images), "-o", str(out), "--trust-pickle"]
    )
    assert code == 0, capsys.readouterr().err
    assert np.load(out).shape == (2, 4, 4, 3)
