"""Provenance: what the pixels went through before their statistics were computed.

"Were these statistics computed before or after resize/crop?" has no answer
once the constants are copied.  An estimator can carry the answer as
``provenance_``, a plain dict set by :meth:`set_provenance` (not a constructor
parameter: it describes the data a fit saw, not how to fit, so ``get_params``,
``clone`` and grid searches are unchanged, and ``clone`` drops it as it drops
every fitted attribute).  :func:`~sk_pixels.save_json` stores it with the
counts of the fit (images, pixels per channel); ``summary()``, ``sk-pixels
fit`` and the ONNX export show it; :func:`~sk_pixels.load_json` gives it back,
validated as every other field of the file: known keys only, strings bounded
in length and free of control characters (no terminal escapes reach a
``summary()``), counts as integers.

Keys of ``provenance_`` (every key present; None when unknown):

================  ===========  ====================================================
key               type         meaning
================  ===========  ====================================================
note              str          free text: "resize 256, center-crop 224"
source            str          where the images came from (folder, glob, dataset)
mode              str          mode the images were decoded in ("RGB", "I;16"...)
sampling          str          how images were chosen ("all", "5% random, seed 0")
n_skipped         int >= 0     files that could not be decoded and were skipped
library_version   str          sk_pixels version that recorded it
created           str          UTC time it was recorded, ISO 8601 ("...T02:05:00Z")
================  ===========  ====================================================
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from ._version import __version__

#: Text fields -> their longest allowed length, in characters.
TEXT_LIMITS = {
    "note": 2000,
    "source": 1000,
    "mode": 16,
    "sampling": 200,
    "library_version": 64,
    "created": 20,
}
KEYS = (*TEXT_LIMITS, "n_skipped")
#: Keys that a file adds: the counts of the fit, recomputed at saving.
FILE_KEYS = (*KEYS, "n_images", "n_pixels")

#: Control characters (C0, DEL, C1) and the bidirectional overrides that
#: reorder what a terminal shows ("Trojan Source"): never in a field, but tab
#: and newline are allowed in the note.
_BIDI = "\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{_BIDI}]")
_NOTE_CONTROL = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f{_BIDI}]")
_CREATED = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def check_provenance(
    value: Any, fail: Callable[[str], Exception], keys: tuple[str, ...] = KEYS
) -> dict[str, Any]:
    """Validate a provenance dict; ``fail(message)`` makes the exception raised.

    Every key of ``keys`` must be present (None when unknown), no other; each
    text a str within its length limit and without control characters (the
    note may hold tabs and newlines); counts integers >= 0.  Linear in the
    size of the value.
    """
    if not isinstance(value, dict):
        raise fail(f"provenance must be a JSON object, got {type(value).__name__}.")
    unknown = sorted(repr(k)[:40] for k in set(value) - set(keys))
    missing = sorted(set(keys) - set(value))
    if unknown or missing:
        raise fail(
            f"provenance has unknown key(s) {unknown[:5]} / is missing {missing}; "
            f"expected exactly {list(keys)}."
        )
    for key in keys:
        item = value[key]
        if item is None:
            continue
        if key in TEXT_LIMITS:
            if not isinstance(item, str):
                raise fail(
                    f"provenance {key!r} must be a string or null, got "
                    f"{type(item).__name__}."
                )
            if len(item) > TEXT_LIMITS[key]:
                raise fail(
                    f"provenance {key!r} has {len(item)} characters, more than "
                    f"{TEXT_LIMITS[key]}. Shorten it."
                )
            control = (_NOTE_CONTROL if key == "note" else _CONTROL).search(item)
            if control:
                raise fail(
                    f"provenance {key!r} holds the control character "
                    f"{control.group()!r} at {control.start()}; use plain text"
                    f"{' (tabs and newlines are allowed)' if key == 'note' else ''}."
                )
            if key == "created" and not _CREATED.fullmatch(item):
                raise fail(
                    f"provenance 'created' must be a UTC time like "
                    f"'2026-01-31T12:00:00Z', got {item!r}."
                )
        elif isinstance(item, bool) or not isinstance(item, int) or item < 0:
            raise fail(
                f"provenance {key!r} must be an integer >= 0 or null, got {item!r:.40}."
            )
    return dict(value)


def read_provenance(estimator: Any, value: Any, reader: Any) -> None:
    """Check a file's ``provenance`` and set ``provenance_`` from it.

    ``reader.fail`` makes the error (it names the file); the counts must be
    those of the estimator as loaded.
    """
    checked = check_provenance(value, reader.fail, FILE_KEYS)
    expected = counts_of(estimator)
    for key, count in expected.items():
        if checked.pop(key) != count:
            raise reader.fail(
                f"field 'provenance.{key}' is {value[key]!r:.40} but the fit it "
                f"describes has {count}; the file was edited or is corrupt."
            )
    estimator.provenance_ = checked


def plain_text(text: str, limit: int) -> str:
    """``text`` made valid for a provenance field: control characters as ``?``,
    cut to ``limit`` characters (ending in ``...`` when cut)."""
    text = _CONTROL.sub("?", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def counts_of(estimator: Any) -> dict[str, int | None]:
    """``n_images`` and ``n_pixels`` (per channel) of the estimator's fit."""
    stats = getattr(estimator, "stats_", None)
    return {
        "n_images": (
            int(estimator.n_samples_seen_)
            if hasattr(estimator, "n_samples_seen_")
            else None
        ),
        # (a whitener's statistics are a covariance of rows: no pixel count)
        "n_pixels": None if stats is None else _n_pixels(stats),
    }


def _n_pixels(stats: Any) -> int | None:
    n_pixels = getattr(stats, "n_pixels", None)
    return None if n_pixels is None else int(n_pixels)


def describe(provenance: dict[str, Any] | None) -> list[str]:
    """Lines for ``summary()`` (empty without provenance)."""
    if not provenance:
        return []
    lines = []
    if provenance.get("note") is not None:
        note = provenance["note"].replace("\n", "\n" + " " * 14)
        lines.append(f"  preprocessing: {note}")
    facts = [
        f"{label} {provenance[key]}"
        for key, label in (
            ("source", "source"),
            ("mode", "mode"),
            ("sampling", "sampling"),
            ("n_skipped", "skipped files"),
        )
        if provenance.get(key) is not None
    ]
    if facts:
        lines.append("  computed on: " + ", ".join(facts))
    lines.append(
        f"  recorded by sk_pixels {provenance.get('library_version')} at "
        f"{provenance.get('created')}"
    )
    return lines


class _ProvenanceMixin:
    """``set_provenance()``: attach what the pixels went through."""

    def set_provenance(
        self, note=None, *, source=None, mode=None, sampling=None, n_skipped=None
    ):
        """Record what the pixels went through before their statistics were computed.

        Stored as the fitted attribute ``provenance_``, a plain dict (see
        Notes); :func:`~sk_pixels.save_json` writes it with the image and
        pixel counts of the fit, :meth:`summary` shows it, and
        :func:`~sk_pixels.load_json` gives it back. It is not a parameter:
        ``get_params`` and ``clone`` ignore it. Calling it again replaces it.

        Parameters
        ----------
        note : str or None, default=None
            Free text, at most 2000 characters (tabs and newlines allowed):
            the preprocessing, e.g. ``"resize 256, center-crop 224"``.
        source : str or None, default=None
            Where the images came from (a folder, a glob, a dataset name);
            at most 1000 characters.
        mode : str or None, default=None
            Mode the images were decoded in (``"RGB"``, ``"I;16"``...).
        sampling : str or None, default=None
            How the images were chosen (``"all"``, ``"5% random, seed 0"``).
        n_skipped : int or None, default=None
            Files skipped because they could not be decoded.

        Returns
        -------
        self : estimator
            With ``provenance_`` set (``library_version`` and ``created``,
            the UTC time, are added).

        Raises
        ------
        TypeError, ValueError
            A field of the wrong type, too long, or holding control
            characters.

        Notes
        -----
        ``fit`` (and ``fit_stats``) start afresh and drop the note, which
        described the statistics they replace; ``partial_fit`` keeps it. Set
        it again after refitting.

        Examples
        --------
        >>> import numpy as np
        >>> from sk_pixels import PixelStandardizer
        >>> X = np.array([[[[0, 102, 255]], [[51, 153, 204]]]], dtype=np.uint8)
        >>> scaler = PixelStandardizer().fit(X)
        >>> scaler = scaler.set_provenance("resize 256, center-crop 224", mode="RGB")
        >>> scaler.provenance_["note"], scaler.provenance_["mode"]
        ('resize 256, center-crop 224', 'RGB')
        """
        fields = {
            "note": note,
            "source": source,
            "mode": mode,
            "sampling": sampling,
            "n_skipped": n_skipped,
            "library_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        for key, value in fields.items():
            if value is not None and not isinstance(
                value, int if key == "n_skipped" else str
            ):
                raise TypeError(
                    f"{key} must be {'an int' if key == 'n_skipped' else 'a str'} or "
                    f"None. Got {key}={value!r:.80} ({type(value).__name__})."
                )
        self.provenance_ = check_provenance(fields, ValueError)
        return self
