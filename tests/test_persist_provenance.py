"""Provenance: set_provenance -> save_json -> load_json gives it back, validated.

Laws: the round trip returns the same ``provenance_`` (and the same transform);
the file records the counts of the fit; a file without provenance is version 1
as before; ``get_params``/``clone`` ignore it; every malformed provenance is
refused by ``set_provenance`` or ``load_json`` with a message naming the field.
"""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import clone

from sk_pixels import (
    PixelCenterer,
    PixelNormalizer,
    PixelStandardizer,
    PixelStats,
    load_json,
    save_json,
)
from sk_pixels.persist import FORMAT_VERSION, InvalidModelFileError

RNG = np.random.default_rng(4)
X8 = RNG.integers(0, 256, size=(3, 4, 5, 3), dtype=np.uint8)
NOTE = "resize 256, center-crop 224"

#: (id, estimator fitted or not, set_provenance kwargs)
ROUND_TRIPS = [
    ("fitted-note", PixelStandardizer().fit(X8), {"note": NOTE}),
    (
        "fitted-every-field",
        PixelCenterer().fit(X8),
        {
            "note": "ImageNet train\n\tresize 256 (bilinear), center-crop 224",
            "source": "/data/imagenet/train",
            "mode": "RGB",
            "sampling": "5% random, seed 0",
            "n_skipped": 3,
        },
    ),
    ("unicode", PixelStandardizer().fit(X8), {"note": "Größe 256 → 224, 中心"}),
    ("no-note", PixelNormalizer(scope="dataset").fit(X8), {"source": "x/"}),
    ("unfitted-preset", PixelStandardizer(mean="imagenet", std="imagenet"), {}),
    ("stateless-fitted", PixelNormalizer().fit(X8), {"note": NOTE}),
    (
        "fit-stats",
        PixelStandardizer().fit_stats(PixelStats.from_array(X8)),
        {"note": NOTE, "mode": "RGB"},
    ),
]


@pytest.mark.parametrize(
    "name, estimator, fields", ROUND_TRIPS, ids=[c[0] for c in ROUND_TRIPS]
)
def test_provenance_round_trip_is_identity(name, estimator, fields, tmp_path):
    estimator = _copy(estimator).set_provenance(**fields)
    path = tmp_path / "m.json"
    save_json(estimator, path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    # Provenance is version 2; version 3 (array blocks) is only for mean images.
    assert doc["format_version"] == 2 < FORMAT_VERSION
    loaded = load_json(path)
    assert loaded.provenance_ == estimator.provenance_
    assert loaded.get_params() == estimator.get_params()
    fitted = hasattr(estimator, "n_samples_seen_")
    assert doc["provenance"]["n_images"] == (3 if fitted else None)
    stats = getattr(estimator, "stats_", None)
    assert doc["provenance"]["n_pixels"] == (None if stats is None else 3 * 4 * 5)
    if fitted:
        assert_array_equal(loaded.transform(X8), estimator.transform(X8))


def _copy(estimator):
    """A fresh copy with the fitted state (set_provenance mutates)."""
    import copy

    return copy.deepcopy(estimator)


def test_provenance_records_version_and_utc_time():
    before = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    provenance = PixelStandardizer().fit(X8).set_provenance(NOTE).provenance_
    after = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    from sk_pixels import __version__

    assert provenance["library_version"] == __version__
    assert before <= provenance["created"] <= after  # ISO 8601 sorts as time
    assert set(provenance) == {
        "note",
        "source",
        "mode",
        "sampling",
        "n_skipped",
        "library_version",
        "created",
    }


def test_file_without_provenance_is_version_1_and_loads_without_it(tmp_path):
    path = tmp_path / "m.json"
    save_json(PixelStandardizer().fit(X8), path)
    doc = json.loads(path.read_text())
    assert doc["format_version"] == 1 and "provenance" not in doc
    assert not hasattr(load_json(path), "provenance_")


def test_provenance_is_not_a_parameter():
    scaler = PixelStandardizer().fit(X8)
    params = scaler.get_params()
    scaler.set_provenance(NOTE)
    assert scaler.get_params() == params
    assert not hasattr(clone(scaler), "provenance_")


def test_summary_shows_provenance():
    scaler = PixelStandardizer().fit(X8)
    scaler.set_provenance(NOTE, source="photos/", mode="RGB", n_skipped=2)
    text = scaler.summary()
    assert f"  preprocessing: {NOTE}" in text
    assert "  computed on: source photos/, mode RGB, skipped files 2" in text
    stateless = PixelNormalizer().set_provenance("raw sensor values").summary()
    assert "stateless" in stateless and "preprocessing: raw sensor values" in stateless
    assert "preprocessing" not in PixelStandardizer().fit(X8).summary()


@pytest.mark.parametrize(
    "fields, error, match",
    [
        ({"note": 1}, TypeError, "note must be a str or None. Got note=1"),
        ({"note": b"crop"}, TypeError, "Got note=b'crop' \\(bytes\\)"),
        ({"n_skipped": "3"}, TypeError, "n_skipped must be an int"),
        (
            {"note": "x" * 2001},
            ValueError,
            "'note' has 2001 characters, more than 2000",
        ),
        ({"source": "s" * 1001}, ValueError, "'source' has 1001 characters"),
        ({"mode": "RGB" * 6}, ValueError, "'mode' has 18 characters, more than 16"),
        ({"note": "red\x1b[31m"}, ValueError, r"control character '\\x1b' at 3"),
        ({"source": "a\nb"}, ValueError, r"'source' holds the control character '\\n'"),
        ({"note": "ok\u202egnp.exe"}, ValueError, r"control character '\\u202e' at 2"),
        ({"n_skipped": -1}, ValueError, "'n_skipped' must be an integer >= 0"),
        ({"n_skipped": True}, ValueError, "'n_skipped' must be an integer >= 0"),
    ],
    ids=lambda v: None,
)
def test_set_provenance_refuses_malformed_fields(fields, error, match):
    scaler = PixelStandardizer().fit(X8)
    with pytest.raises(error, match=match):
        scaler.set_provenance(**fields)
    assert not hasattr(scaler, "provenance_")


# -- load_json: a file's provenance is validated like every other field ----------------
def _saved_doc(tmp_path) -> dict:
    scaler = PixelStandardizer().fit(X8).set_provenance(NOTE, mode="RGB")
    save_json(scaler, tmp_path / "ok.json")
    return json.loads((tmp_path / "ok.json").read_text())


def _edit(key, value):
    def edit(doc):
        doc["provenance"][key] = value

    return edit


def _set(key, value):
    def edit(doc):
        doc[key] = value

    return edit


MALFORMED = [
    ("version-1", _set("format_version", 1), r"unknown key\(s\) \['provenance'\]"),
    ("not-object", _set("provenance", [NOTE]), "provenance must be a JSON object"),
    ("extra-key", _edit("code", "os.system"), r"unknown key\(s\) \[\"'code'\"\]"),
    ("missing-key", lambda d: d["provenance"].pop("mode"), r"missing \['mode'\]"),
    ("note-number", _edit("note", 3), "'note' must be a string or null, got int"),
    ("note-long", _edit("note", "q" * 5000), "'note' has 5000 characters"),
    ("note-escape", _edit("note", "\x1b]0;pwned\x07"), "control character"),
    ("created-free", _edit("created", "yesterday"), "'created' must be a UTC time"),
    ("skipped-float", _edit("n_skipped", 1.5), "'n_skipped' must be an integer"),
    ("images-wrong", _edit("n_images", 4), "'provenance.n_images' is 4 but the fit"),
    ("pixels-wrong", _edit("n_pixels", 1), "'provenance.n_pixels' is 1 but the fit"),
    ("pixels-missing", lambda d: d["provenance"].pop("n_pixels"), "missing"),
]


@pytest.mark.parametrize("name, edit, match", MALFORMED, ids=[c[0] for c in MALFORMED])
def test_load_json_refuses_malformed_provenance(name, edit, match, tmp_path):
    doc = _saved_doc(tmp_path)
    edit(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InvalidModelFileError, match=match) as info:
        load_json(path)
    assert str(info.value).startswith(f"{path}: ")


def test_load_json_refuses_a_megabyte_note_quickly(tmp_path):
    doc = _saved_doc(tmp_path)
    doc["provenance"]["note"] = '"' * ((1 << 20) // 2 - 4096)  # escaped: ~1 MiB
    path = tmp_path / "big.json"
    path.write_text(json.dumps(doc))
    start = time.perf_counter()
    with pytest.raises(InvalidModelFileError, match=r"'note' has \d+ characters"):
        load_json(path)
    assert time.perf_counter() - start < 2.0  # linear checks (~0.1 s here)


# -- sk-pixels fit ---------------------------------------------------------------------
def test_cli_fit_saves_and_shows_provenance(tmp_path, capsys):
    cli = pytest.importorskip("sk_pixels.cli")
    from PIL import Image

    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(X8[i]).save(folder / f"im{i}.png")
    (folder / "broken.png").write_bytes(b"not a png")
    model = tmp_path / "m.json"
    code = cli.main(
        ["fit", str(folder), "-o", str(model), "--estimator", "standardizer"]
        + ["--note", NOTE, "--on-error", "skip"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert f"preprocessing: {NOTE}" in out
    assert re.search(r"computed on: source .*images, mode RGB, .*skipped files 1", out)
    provenance = load_json(model).provenance_
    assert provenance["note"] == NOTE and provenance["n_skipped"] == 1
    assert provenance["source"] == str(folder) and provenance["sampling"] == "all"
