"""Malformed estimator files: one table, run against load_json and ``sk-pixels apply``.

Each row is one change to a valid file written by ``save_json`` and the error
it must give: always :class:`InvalidModelFileError` (never an OverflowError, a
TypeError or a traceback), with a message that names the field.  The CLI must
print that message on one line and exit with code 1.  A last group of tests
checks that every check is linear in the size of the file (hostile 1 MiB
files are refused or loaded in well under a second each; the bound is 5 s).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from PIL import Image

from sk_pixels import PixelNormalizer, PixelStandardizer, load_json, save_json
from sk_pixels.persist import InvalidModelFileError

from ._outcomes import Raises

cli = pytest.importorskip("sk_pixels.cli")

RNG = np.random.default_rng(0)
X8 = RNG.integers(1, 255, size=(2, 4, 4, 3), dtype=np.uint8)
XF = RNG.random((2, 4, 4, 3)).astype(np.float32)

#: Valid files the rows start from: name -> (estimator, training images).
BASES = {
    "uint8": (PixelStandardizer(), X8),
    "float32": (PixelStandardizer(), XF),
    "normalizer": (PixelNormalizer(scope="dataset"), X8),
}
HUGE = 10**400  # 401 digits: beyond float64, an OverflowError for float()


@dataclass(frozen=True)
class Case:
    id: str
    edit: Callable[[dict], Any]  # changes the document, or returns the file's text
    raises: Raises
    base: str = "uint8"


def set_(field: str, value: Any) -> Callable[[dict], None]:
    """Set ``field`` (dotted, ``[i]`` for a list item) of the document to ``value``."""

    def edit(doc: dict) -> None:
        *parents, last = field.replace("[", ".[").split(".")
        node = doc
        for part in parents:
            node = node[int(part[1:-1])] if part.startswith("[") else node[part]
        if last.startswith("["):
            node[int(last[1:-1])] = value
        else:
            node[last] = value

    return edit


def both(*edits: Callable[[dict], None]) -> Callable[[dict], None]:
    def edit(doc: dict) -> None:
        for one in edits:
            one(doc)

    return edit


def token(field: str, text: str) -> Callable[[dict], str]:
    """Write ``text`` verbatim (a token json.dumps cannot write) as ``field``."""
    marker = "__token__"

    def edit(doc: dict) -> str:
        set_(field, marker)(doc)
        return json.dumps(doc).replace(f'"{marker}"', text)

    return edit


def bad(match: str) -> Raises:
    return Raises(InvalidModelFileError, match)


CASES = [
    # -- the file itself ------------------------------------------------------------
    Case(
        "class-os-system", set_("class", "os.system"), bad("unknown class 'os.system'")
    ),
    Case("class-pipeline", set_("class", "Pipeline"), bad("unknown class 'Pipeline'")),
    Case("format-other", set_("format", "other"), bad("not an sk_pixels estimator")),
    Case(
        "format-version-newer",
        set_("format_version", 4),
        bad("format version 4 was written by a newer"),
    ),
    Case(
        "format-version-string",
        set_("format_version", "1"),
        bad("'format_version' must be an integer"),
    ),
    Case(
        "format-version-huge",
        set_("format_version", HUGE),
        bad("'format_version' holds an integer of 401 digits"),
    ),
    Case("unknown-key", set_("extra", 1), bad(r"unknown key\(s\) \['extra'\]")),
    Case(
        "library-version-number",
        set_("library_version", 1),
        bad("'library_version' must be a string"),
    ),
    Case(
        "statistics-channel-without-pixels",
        both(
            *(
                set_(f"fitted.statistics.{key}[0]", value)
                for key, value in [
                    ("count", 0),
                    ("sum", 0),
                    ("sumsq", 0),
                    ("min", None),
                    ("max", None),
                ]
            )
        ),
        bad("'fitted.statistics' has a channel with no pixel"),
    ),
    Case(
        "missing-params",
        lambda d: d.pop("params"),
        bad(r"missing key\(s\) \['params'\]"),
    ),
    Case(
        "channel-order-wrong-count",
        set_("channel_order", "L"),
        bad(r"'channel_order' is 'L' \(1 channels\) but the estimator was fitted on 3"),
    ),
    Case(
        "channel-order-number", set_("channel_order", 3), bad("'channel_order' must be")
    ),
    Case(
        "channel-order-list",
        set_("channel_order", ["RGB"]),
        bad("'channel_order' must be one of"),
    ),
    # -- params ---------------------------------------------------------------------
    Case("per-channel-string", set_("params.per_channel", "yes"), bad("'per_channel'")),
    Case("scope-unknown", set_("params.scope", "global"), bad("'scope' parameter")),
    Case(
        "mean-object",
        set_("params.mean", {"__class__": "x"}),
        bad("'mean' .*an object"),
    ),
    Case("clip-negative", set_("params.clip", -1), bad("'clip' parameter")),
    Case(
        "std-negative",
        both(set_("params.std", [1, -2, 3]), set_("params.mean", [1, 2, 3])),
        bad("std must hold values > 0"),
    ),
    Case("ddof-missing", lambda d: d["params"].pop("ddof"), bad(r"\['ddof'\]")),
    Case("mean-huge", set_("params.mean", HUGE), bad("'params.mean' holds an integer")),
    Case(
        "mean-huge-item",
        set_("params.mean", [1, HUGE, 2]),
        bad(r"'params.mean\[1\]' holds an integer of 401 digits"),
    ),
    Case(
        "max-value-param-huge",
        set_("params.max_value", HUGE),
        bad("'params.max_value' holds an integer"),
    ),
    Case("clip-huge", set_("params.clip", HUGE), bad("'params.clip' holds an integer")),
    Case("ddof-huge", set_("params.ddof", HUGE), bad("'params.ddof' holds an integer")),
    Case(
        "mean-nan",
        token("params.mean", "[1, NaN, 2]"),
        bad(r"'params.mean\[1\]' holds the non-finite number NaN"),
    ),
    Case(
        "std-overflows-when-squared",
        set_("params.std", 1e308),
        bad("'params' and 'fitted' give fitted statistics that overflow float64"),
    ),
    Case(
        "image-shape-float",
        set_("params.image_shape", [4.0, 4, 3]),
        bad("parameter 'image_shape' must be a flat list of integers > 0"),
    ),
    Case(
        "image-shape-zero",
        set_("params.image_shape", [0, 4, 3]),
        bad("parameter 'image_shape' must be a flat list of integers > 0"),
    ),
    Case(
        "feature-range-strings",
        set_("params.feature_range", ["0", "1"]),
        bad("parameter 'feature_range' must be a flat list of numbers"),
        base="normalizer",
    ),
    # -- fitted: counts and units ---------------------------------------------------
    Case(
        "n-samples-seen-bool",
        set_("fitted.n_samples_seen", True),
        bad("'fitted.n_samples_seen' must be an integer"),
    ),
    Case(
        "n-samples-seen-huge",
        set_("fitted.n_samples_seen", HUGE),
        bad("'fitted.n_samples_seen' holds an integer"),
    ),
    Case(
        "n-channels-wrong",
        set_("fitted.n_channels", 4),
        bad("has 3 channels but 'fitted.n_channels' is 4"),
    ),
    Case(
        "n-channels-huge",
        set_("fitted.n_channels", HUGE),
        bad("'fitted.n_channels' holds an integer"),
    ),
    Case(
        "n-features-in-float",
        set_("fitted.n_features_in", 1.5),
        bad("'fitted.n_features_in' must be an integer"),
    ),
    Case(
        "input-dtype-object",
        set_("fitted.input_dtype", "object"),
        bad("'fitted.input_dtype' must name a numeric dtype"),
    ),
    Case(
        "max-value-zero",
        set_("fitted.max_value", 0),
        bad("'fitted.max_value' must be > 0"),
    ),
    Case(
        "max-value-negative",
        set_("fitted.max_value", -255.0),
        bad("'fitted.max_value' must be > 0 and finite"),
    ),
    Case(
        "max-value-string",
        set_("fitted.max_value", "255"),
        bad("'fitted.max_value' must be a number"),
    ),
    Case(
        "max-value-huge-int",
        set_("fitted.max_value", HUGE),
        bad("'fitted.max_value' holds an integer of 401 digits"),
    ),
    Case(
        "max-value-overflows",
        token("fitted.max_value", "1e999"),
        bad("'fitted.max_value' holds the number 1e999 that overflows to infinity"),
    ),
    Case(
        "max-value-infinity",
        token("fitted.max_value", "Infinity"),
        bad("'fitted.max_value' holds the non-finite number Infinity"),
    ),
    Case(
        "max-value-nan",
        token("fitted.max_value", "NaN"),
        bad("'fitted.max_value' holds the non-finite number NaN"),
    ),
    Case(
        "max-value-subnormal",
        set_("fitted.max_value", 1e-320),
        bad(r"'fitted.max_value' is 1e-320, but max_value='auto' for uint8 .* 255.0"),
    ),
    Case(
        "max-value-edited",
        set_("fitted.max_value", 254.0),
        bad("'fitted.max_value' is 254.0, but"),
    ),
    # -- fitted: derived statistics -------------------------------------------------
    Case(
        "std-negative-derived",
        set_("fitted.std", [1.0, -2.0, 3.0]),
        bad("'fitted.std' holds a negative value"),
    ),
    Case(
        "mean-short", set_("fitted.mean", [1.0, 2.0]), bad("'fitted.mean' has 2 value")
    ),
    Case(
        "mean-edited",
        lambda d: d["fitted"]["mean"].__setitem__(0, d["fitted"]["mean"][0] + 1e-9),
        bad("'fitted.mean' = .* does not match the value recomputed"),
    ),
    Case(
        "mean-huge-derived",
        set_("fitted.mean[0]", HUGE),
        bad(r"'fitted.mean\[0\]' holds an integer"),
    ),
    Case(
        "std-nan-derived",
        token("fitted.std", "[NaN, 1.0, 1.0]"),
        bad(r"'fitted.std\[0\]' holds the non-finite number NaN"),
    ),
    Case(
        "std-infinity-derived",
        token("fitted.std", "[Infinity, 1.0, 1.0]"),
        bad(r"'fitted.std\[0\]' holds the non-finite number Infinity"),
    ),
    Case(
        "std-overflow-derived",
        token("fitted.std", "[1e999, 1.0, 1.0]"),
        bad(r"'fitted.std\[0\]' holds the number 1e999 that overflows to infinity"),
    ),
    Case(
        "data-min-on-standardizer",
        set_("fitted.data_min", [0, 0, 0]),
        bad("'fitted.data_min' is not an attribute"),
    ),
    Case(
        "std-missing", lambda d: d["fitted"].pop("std"), bad("'fitted.std' is missing")
    ),
    # -- fitted.statistics ----------------------------------------------------------
    Case(
        "statistics-null",
        set_("fitted.statistics", None),
        bad("learns statistics, but 'fitted.statistics' is null"),
    ),
    Case(
        "count-short",
        set_("fitted.statistics.count", [10, 10]),
        bad("'fitted.statistics' has 2 channels but 'fitted.n_channels' is 3"),
    ),
    Case(
        "count-not-integers",
        set_("fitted.statistics.count", [10, 10.5, 10]),
        bad("'fitted.statistics' is invalid: Field 'count' must hold integers"),
    ),
    Case(
        "exact-false",
        set_("fitted.statistics.exact", False),
        bad("'fitted.statistics' is invalid"),
    ),
    Case(
        "sumsq-negative",
        set_("fitted.statistics.sumsq", [-1, 1, 1]),
        bad("'fitted.statistics' is invalid: .*must not be negative"),
    ),
    Case(
        "n-images-negative",
        set_("fitted.statistics.n_images", -1),
        bad("'fitted.statistics' is invalid: Field 'n_images'"),
    ),
    Case(
        "n-images-disagrees",
        set_("fitted.statistics.n_images", 99),
        bad("'fitted.statistics.n_images' is 99 but 'fitted.n_samples_seen' is 2"),
    ),
    Case(
        "count-huge",
        set_("fitted.statistics.count[2]", HUGE),
        bad(r"'fitted.statistics.count\[2\]' holds an integer of 401 digits"),
    ),
    Case(
        "sum-huge",
        set_("fitted.statistics.sum[1]", HUGE),
        bad(r"'fitted.statistics.sum\[1\]' holds an integer"),
    ),
    Case(
        "sumsq-huge-negative",
        set_("fitted.statistics.sumsq[0]", -HUGE),
        bad(r"'fitted.statistics.sumsq\[0\]' holds an integer"),
    ),
    Case(
        "min-huge",
        set_("fitted.statistics.min[0]", HUGE),
        bad(r"'fitted.statistics.min\[0\]' holds an integer"),
    ),
    Case(
        "max-minus-infinity",
        token("fitted.statistics.max", "[-Infinity, 1, 2]"),
        bad(r"'fitted.statistics.max\[0\]' holds the non-finite number -Infinity"),
    ),
    Case(
        "statistics-dtype-differs",
        set_("fitted.statistics.dtype", "uint16"),
        bad(
            "'fitted.statistics.dtype' is 'uint16' but 'fitted.input_dtype' is 'uint8'"
        ),
    ),
    Case(
        "input-dtype-differs",
        both(set_("fitted.input_dtype", "uint16"), set_("fitted.max_value", 65535.0)),
        bad(
            "'fitted.statistics.dtype' is 'uint8' but 'fitted.input_dtype' is 'uint16'"
        ),
    ),
    Case(
        "input-dtype-wider-than-float-statistics",
        set_("fitted.input_dtype", "float64"),
        bad("'fitted.statistics.dtype' is 'float32' but 'fitted.input_dtype' is 'flo"),
        base="float32",
    ),
    Case(
        "input-dtype-integer-for-float-statistics",
        both(set_("fitted.input_dtype", "uint8"), set_("fitted.max_value", 255.0)),
        bad(
            "'fitted.statistics.dtype' is 'float32' but 'fitted.input_dtype' is 'uint8'"
        ),
        base="float32",
    ),
    Case(
        "min-above-max",
        both(
            set_("fitted.statistics.min[0]", 200), set_("fitted.statistics.max[0]", 10)
        ),
        bad("'fitted.statistics' is invalid: Field 'min' exceeds field 'max'"),
    ),
    Case(
        "min-above-max-float",
        both(
            set_("fitted.statistics.min[0]", 0.9), set_("fitted.statistics.max[0]", 0.1)
        ),
        bad("'fitted.statistics' is invalid: Field 'min' exceeds field 'max'"),
        base="float32",
    ),
    Case(
        "min-not-integer",
        set_("fitted.statistics.min[0]", 0.5),
        bad("'fitted.statistics.min' must hold integers in \\[0, 255\\]"),
    ),
    Case(
        "max-outside-dtype",
        set_("fitted.statistics.max[0]", 256),
        bad("'fitted.statistics.max' must hold integers in \\[0, 255\\]"),
    ),
    Case(
        "sum-outside-range",
        set_("fitted.statistics.sum[0]", 0),
        bad(r"'fitted.statistics.sum' \(0\) is outside count \* \[min, max\]"),
    ),
    Case(
        "sumsq-below-sum-squared",
        lambda d: d["fitted"]["statistics"]["sumsq"].__setitem__(
            0, d["fitted"]["statistics"]["sum"][0]
        ),
        bad(r"'fitted.statistics' is invalid: .*count \* sumsq < sum\*\*2"),
    ),
    Case(
        "m2-huge",
        set_("fitted.statistics.m2[0]", HUGE),
        bad(r"'fitted.statistics.m2\[0\]' holds an integer"),
        base="float32",
    ),
    Case(
        "float-mean-overflows",
        token("fitted.statistics.mean[1]", "-1e400"),
        bad(r"'fitted.statistics.mean\[1\]' holds the number -1e400 that overflows"),
        base="float32",
    ),
    Case(
        "data-max-edited",
        set_("fitted.data_max", [255.0, 255.0, 255.0]),
        bad("'fitted.data_max' = .* does not match"),
        base="normalizer",
    ),
]


@pytest.fixture(scope="module")
def valid_docs(tmp_path_factory) -> dict[str, dict]:
    folder = tmp_path_factory.mktemp("valid")
    docs = {}
    for name, (estimator, X) in BASES.items():
        path = folder / f"{name}.json"
        save_json(estimator.fit(X), path, channel_order="RGB")
        docs[name] = json.loads(path.read_text())
    return docs


def _malformed(case: Case, docs: dict[str, dict], folder) -> str:
    doc = json.loads(json.dumps(docs[case.base]))
    text = case.edit(doc)
    path = folder / f"{case.id}.json"
    path.write_text(text if isinstance(text, str) else json.dumps(doc))
    return str(path)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_load_json_refuses_malformed_file_naming_the_field(case, valid_docs, tmp_path):
    path = _malformed(case, valid_docs, tmp_path)
    with pytest.raises(case.raises.exc, match=case.raises.match) as info:
        load_json(path)
    assert str(info.value).startswith(f"{path}: ")


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    Image.fromarray(X8[0]).save(folder / "im.png")
    return folder


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_cli_apply_prints_one_line_for_malformed_file(
    case, valid_docs, images, tmp_path, capsys
):
    path = _malformed(case, valid_docs, tmp_path)
    out = tmp_path / "out.npy"
    code = cli.main(["apply", path, str(images), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err
    assert re.search(case.raises.match, err)  # the same message, naming the field
    assert not out.exists()


def test_every_base_file_loads(valid_docs, tmp_path):
    for name, doc in valid_docs.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(doc))
        assert type(load_json(path)) is type(BASES[name][0])


# -- what save_json writes, load_json reads ---------------------------------------
@pytest.mark.parametrize(
    "estimator, X",
    [
        (PixelNormalizer(feature_range=("0", "1")), X8),
        (PixelNormalizer(scope="dataset", feature_range=("-1", "1")), X8),
    ],
    ids=["domain-string-range", "dataset-string-range"],
)
def test_save_json_refuses_what_load_json_would_refuse(tmp_path, estimator, X):
    path = tmp_path / "m.json"
    with pytest.raises(
        ValueError, match="load_json would refuse the file .*feature_range"
    ):
        save_json(estimator.fit(X), path)
    assert not path.exists()


# -- linear checks: hostile files of 1 MiB ----------------------------------------
MIB = 1 << 20
HOSTILE = {
    # A string of escaped quotes: a closed-string regex retried at every quote
    # made the depth pre-check quadratic (64 KB took ~17 s).
    "escaped-quotes": '\\"' * (MIB // 2),
    "escaped-quotes-in-string": '{"format": "' + '\\"' * (MIB // 2 - 8) + '"}',
    "open-brackets": "[" * MIB,
    "nested-brackets": "[" * (MIB // 2) + "]" * (MIB // 2),
    "brackets-in-strings": "[" + ",".join(['"[{[{"'] * (MIB // 8)) + "]",
    "long-integer": '{"format": ' + "9" * (MIB - 12) + "}",
    "long-float": '{"format": 0.' + "1" * (MIB - 14) + "}",
    "long-exponent": '{"format": 1' + "0" * (MIB - 21) + "e-999999}",
    "many-keys": "{" + ",".join(f'"k{i}": {i}' for i in range(MIB // 16)) + "}",
    "many-numbers": "[" + ",".join(["1e308"] * (MIB // 6)) + "]",
}


@pytest.mark.parametrize("shape", list(HOSTILE))
def test_hostile_1mib_file_is_refused_in_linear_time(tmp_path, shape):
    text = HOSTILE[shape]
    assert MIB // 2 < len(text) <= MIB
    path = tmp_path / "hostile.json"
    path.write_text(text)
    start = time.perf_counter()
    with pytest.raises(InvalidModelFileError):
        load_json(path)
    # Linear checks take well under a second; the quadratic scan took hours.
    assert time.perf_counter() - start < 5.0


def test_valid_file_padded_to_1mib_loads_in_linear_time(tmp_path, valid_docs):
    # Feature names are free text: a genuine file can be large and full of quotes.
    n = 1400
    frame_names = ['\\"[{' * 120 + str(k) for k in range(n)]
    doc = json.loads(json.dumps(valid_docs["uint8"]))
    doc["fitted"]["n_features_in"] = n
    doc["fitted"]["feature_names_in"] = [json.loads(f'"{s}"') for s in frame_names]
    path = tmp_path / "big.json"
    path.write_text(json.dumps(doc))
    assert MIB // 2 < path.stat().st_size <= MIB
    start = time.perf_counter()
    assert len(load_json(path).feature_names_in_) == n
    assert time.perf_counter() - start < 5.0


GROWN = {
    # A valid file grown to ~1 MiB inside one field: the schema checks stay linear.
    "unknown-params": (
        lambda d, n: d["params"].update({f"p{i}": i for i in range(n)}),
        r"unknown key\(s\) \['p0', .* and \d+ more",
    ),
    "long-statistics": (
        lambda d, n: d["fitted"]["statistics"].update(
            {k: [1] * n for k in ("count", "sum", "sumsq", "min", "max")}
        ),
        "'fitted.statistics' has 60000 channels",
    ),
    "long-feature-names": (
        lambda d, n: d["fitted"].update({"feature_names_in": ["x"] * n}),
        "'fitted.feature_names_in' must be null or n_features_in strings",
    ),
}


@pytest.mark.parametrize("shape", list(GROWN))
def test_valid_file_grown_to_1mib_is_refused_in_linear_time(
    valid_docs, tmp_path, shape
):
    grow, match = GROWN[shape]
    doc = json.loads(json.dumps(valid_docs["uint8"]))
    grow(doc, 60_000)
    path = tmp_path / "grown.json"
    path.write_text(json.dumps(doc))
    assert MIB // 4 < path.stat().st_size <= MIB
    start = time.perf_counter()
    with pytest.raises(InvalidModelFileError, match=match):
        load_json(path)
    assert time.perf_counter() - start < 5.0
