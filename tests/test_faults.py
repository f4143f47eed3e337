"""Faults: interrupted writes, damaged stats files, files that change under us.

- An interrupted ``sk-pixels fit`` / ``apply`` (an exception midway, or the
  process killed with SIGKILL in the middle of writing) leaves no half-written
  output: the output path is absent, or still holds the previous complete file.
- A stats file that is truncated, empty, not UTF-8, deeply nested, binary or a
  directory fails cleanly: ``load_json`` raises ``InvalidModelFileError`` naming
  the file, and the CLI exits 1 with one line on stderr.
- A file that disappears or changes while ``dataset_stats`` runs is reported
  (``on_error="skip"``) or named in the error (``on_error="raise"``).
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from PIL import Image

from sk_pixels import PixelStandardizer, PixelStats

persist = pytest.importorskip("sk_pixels.persist")
io_mod = pytest.importorskip("sk_pixels.io")
cli = pytest.importorskip("sk_pixels.cli")

from sk_pixels.io import UnreadableImageError, dataset_stats  # noqa: E402
from sk_pixels.persist import InvalidModelFileError, load_json, save_json  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _png(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


@pytest.fixture
def folder(tmp_path):
    """Six 8x8 RGB PNGs with known pixels."""
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(6)]
    paths = [
        _png(tmp_path / "images" / f"im{k}.png", im) for k, im in enumerate(images)
    ]
    return tmp_path / "images", paths, images


@pytest.fixture
def model(tmp_path, folder):
    _, _, images = folder
    path = tmp_path / "model.json"
    save_json(PixelStandardizer().fit(np.stack(images)), path, channel_order="RGB")
    return path


def _leftovers(directory: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name not in keep)


def _main(capsys, *argv) -> tuple[int, str]:
    code = cli.main([str(a) for a in argv])
    err = capsys.readouterr().err
    return code, err


def _one_line_error(err: str, *fragments: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("sk-pixels: error:"), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[-1], (fragment, err)


# -- interrupted writes (exceptions) ---------------------------------------------------
class _Boom(RuntimeError):
    pass


def _fail_after_bytes(monkeypatch, limit: int) -> None:
    """Make the atomic writer's file objects fail after ``limit`` bytes."""
    real_fdopen = os.fdopen

    class Failing(io.IOBase):
        def __init__(self, fh):
            self._fh, self._written = fh, 0

        def write(self, data):
            if self._written + len(data) > limit:
                self._fh.write(data[: max(0, limit - self._written)])
                self._fh.flush()
                raise _Boom("disk full midway")
            self._written += len(data)
            return self._fh.write(data)

        def __getattr__(self, name):
            return getattr(self._fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._fh.close()

    def fdopen(fd, *args, **kwargs):
        return Failing(real_fdopen(fd, *args, **kwargs))

    monkeypatch.setattr(persist.os, "fdopen", fdopen)


@pytest.mark.parametrize(
    "previous", [False, True], ids=["no-previous-file", "previous-file"]
)
def test_save_json_failing_midway_leaves_no_partial_file(
    tmp_path, monkeypatch, previous
):
    path = tmp_path / "model.json"
    if previous:
        path.write_text("previous complete content\n")
    _fail_after_bytes(monkeypatch, 40)
    with pytest.raises(_Boom):
        save_json(PixelStandardizer().fit(np.zeros((1, 2, 2, 3), np.uint8)), path)
    if previous:
        assert path.read_text() == "previous complete content\n"
    else:
        assert not path.exists()
    assert _leftovers(tmp_path, {"model.json"}) == []


def test_save_json_failing_at_rename_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "model.json"
    path.write_text("old\n")

    def replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(persist.os, "replace", replace)
    with pytest.raises(OSError, match="No space left"):
        save_json(PixelStandardizer().fit(np.zeros((1, 2, 2, 3), np.uint8)), path)
    assert path.read_text() == "old\n"
    assert _leftovers(tmp_path, {"model.json"}) == []


@pytest.mark.parametrize("output", ["model.json", "model.joblib"])
def test_cli_fit_failing_midway_exits_cleanly_without_output(
    capsys, tmp_path, monkeypatch, folder, output
):
    root, _, _ = folder
    _fail_after_bytes(monkeypatch, 64)
    with pytest.raises(_Boom):
        cli.main(
            [
                "fit",
                str(root),
                "--estimator",
                "standardizer",
                "-o",
                str(tmp_path / output),
            ]
        )
    assert not (tmp_path / output).exists()
    assert _leftovers(tmp_path, {"images"}) == []


def test_cli_apply_failing_midway_leaves_previous_npy(
    capsys, tmp_path, monkeypatch, folder, model
):
    root, paths, _ = folder
    out = tmp_path / "out.npy"
    np.save(out, np.arange(3))
    calls = {"n": 0}
    real = PixelStandardizer.transform

    def flaky(self, X):
        calls["n"] += 1
        if calls["n"] == 4:
            raise ValueError("simulated failure on the 4th image")
        return real(self, X)

    monkeypatch.setattr(PixelStandardizer, "transform", flaky)
    code, err = _main(capsys, "apply", model, root, "-o", out)
    assert code == 1
    _one_line_error(err, "simulated failure")
    assert_array_equal(np.load(out), np.arange(3))  # untouched
    assert _leftovers(tmp_path, {"images", "model.json", "out.npy"}) == []


def test_cli_apply_to_folder_failing_midway_leaves_only_complete_files(
    capsys, tmp_path, monkeypatch, folder, model
):
    root, paths, images = folder
    out = tmp_path / "out"
    calls = {"n": 0}
    real = PixelStandardizer.transform

    def flaky(self, X):
        calls["n"] += 1
        if calls["n"] == 4:
            raise ValueError("simulated failure on the 4th image")
        return real(self, X)

    monkeypatch.setattr(PixelStandardizer, "transform", flaky)
    code, err = _main(capsys, "apply", model, root, "-o", out)
    assert code == 1
    _one_line_error(err, "simulated failure")
    written = sorted(p.name for p in out.iterdir())
    assert written == ["im0.npy", "im1.npy", "im2.npy"]  # whole files, in order
    reference = load_json(model)
    for k, name in enumerate(written):
        assert_array_equal(np.load(out / name), reference.transform(images[k][None])[0])


# _NpyStack.finish() does not close its raw temporary file when the final write
# fails (cli.py, reported): the unclosed file is collected later with a
# ResourceWarning. The temporary is already unlinked, so nothing stays on disk.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_cli_apply_failing_while_writing_npy_leaves_no_partial_file(
    capsys, tmp_path, monkeypatch, folder, model
):
    root, _, _ = folder
    out = tmp_path / "out.npy"
    _fail_after_bytes(monkeypatch, 200)
    with pytest.raises(_Boom):
        cli.main(["apply", str(model), str(root), "-o", str(out)])
    assert not out.exists()
    assert _leftovers(tmp_path, {"images", "model.json"}) == []


# -- interrupted writes (SIGKILL) ------------------------------------------------------
_KILL_WHILE_WRITING = textwrap.dedent(
    """
    import os, signal, sys
    import sk_pixels.persist as persist
    real_fdopen = os.fdopen

    class KillMidway:
        # Writes half of the first large chunk, flushes it to disk, dies.
        def __init__(self, fh):
            self._fh = fh
        def write(self, data):
            self._fh.write(data[: max(1, len(data) // 2)])
            self._fh.flush()
            os.fsync(self._fh.fileno())
            os.kill(os.getpid(), signal.SIGKILL)
        def __getattr__(self, name):
            return getattr(self._fh, name)
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            self._fh.close()

    persist.os.fdopen = lambda fd, *a, **k: KillMidway(real_fdopen(fd, *a, **k))
    from sk_pixels.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def _run_killed(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-c", _KILL_WHILE_WRITING, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("command", ["fit", "apply"])
@pytest.mark.parametrize("previous", [False, True], ids=["fresh", "over-previous"])
def test_killed_cli_leaves_no_half_written_output(
    tmp_path, folder, model, command, previous
):
    root, _, _ = folder
    out = tmp_path / ("new.json" if command == "fit" else "out.npy")
    if previous:
        out.write_bytes(b"previous complete file")
    if command == "fit":
        args = ["fit", str(root), "--estimator", "standardizer", "-o", str(out)]
    else:
        args = ["apply", str(model), str(root), "-o", str(out)]
    result = _run_killed(args, tmp_path)
    assert result.returncode == -signal.SIGKILL, result.stderr
    if previous:
        assert out.read_bytes() == b"previous complete file"
    else:
        assert not out.exists()
    # What a SIGKILL can leave is a hidden temporary file next to the output,
    # never a file under the output's name.
    strays = _leftovers(tmp_path, {"images", "model.json", out.name})
    assert all(
        name.startswith(f".{out.name}.") and name.endswith(".tmp") for name in strays
    )


# -- damaged stats files ---------------------------------------------------------------
def _valid_text(tmp_path) -> str:
    path = tmp_path / "valid.json"
    X = np.random.default_rng(0).integers(0, 256, (2, 4, 4, 3), dtype=np.uint8)
    save_json(PixelStandardizer().fit(X), path, channel_order="RGB")
    return path.read_text()


def _damaged_files(tmp_path):
    text = _valid_text(tmp_path)
    raw = text.encode()
    return {
        "empty": (b"", "the file is empty"),
        "whitespace-only": (b" \n\t\n", "the file is empty"),
        "truncated-at-10pct": (raw[: len(raw) // 10], "invalid JSON .*truncated"),
        "truncated-at-50pct": (raw[: len(raw) // 2], "invalid JSON .*truncated"),
        "truncated-last-byte": (raw.rstrip()[:-1], "invalid JSON .*truncated"),
        "not-utf8-latin1": (
            text.replace('"RGB"', '"RGB\xe9"').encode("latin-1"),
            "not UTF-8 text",
        ),
        "utf16": (text.encode("utf-16"), "not UTF-8 text|invalid JSON"),
        "random-binary": (
            bytes(np.random.default_rng(1).integers(0, 256, 512, dtype=np.uint8)),
            "not UTF-8 text|invalid JSON|pickle",
        ),
        "nul-bytes": (b"\x00" * 64, "invalid JSON"),
        "deeply-nested-list": (
            b"[" * 100_000 + b"]" * 100_000,
            "nested 100000 levels deep",
        ),
        "deeply-nested-object": (
            b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
            "nested 50000 levels deep",
        ),
        "nested-in-strings-ok-but-wrong": (
            b'{"format": "' + b"[" * 10_000 + b'"}',
            "not an sk_pixels estimator file",
        ),
        "json-array": (b"[1, 2, 3]", "not an sk_pixels estimator file"),
        "json-scalar": (b"42", "not an sk_pixels estimator file"),
        "nan-in-stats": (
            text.replace('"max_value": 255.0', '"max_value": NaN').encode(),
            "non-finite number NaN",
        ),
        "huge-number": (
            text.replace('"max_value": 255.0', '"max_value": 1e999').encode(),
            "overflows to infinity",
        ),
        "duplicate-key": (
            text.replace('"fitted": {', '"fitted": null, "fitted": {', 1).encode(),
            "duplicate key 'fitted'",
        ),
    }


DAMAGED = [
    "empty",
    "whitespace-only",
    "truncated-at-10pct",
    "truncated-at-50pct",
    "truncated-last-byte",
    "not-utf8-latin1",
    "utf16",
    "random-binary",
    "nul-bytes",
    "deeply-nested-list",
    "deeply-nested-object",
    "nested-in-strings-ok-but-wrong",
    "json-array",
    "json-scalar",
    "nan-in-stats",
    "huge-number",
    "duplicate-key",
]


@pytest.mark.parametrize("case", DAMAGED)
def test_load_json_rejects_damaged_file_cleanly(tmp_path, case):
    data, match = _damaged_files(tmp_path)[case]
    path = tmp_path / "model.json"
    path.write_bytes(data)
    with pytest.raises(InvalidModelFileError, match=match) as info:
        load_json(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("case", DAMAGED)
def test_cli_apply_with_damaged_model_exits_1_with_one_line(
    capsys, tmp_path, folder, case
):
    root, _, _ = folder
    data, _ = _damaged_files(tmp_path)[case]
    path = tmp_path / "model.json"
    path.write_bytes(data)
    code, err = _main(capsys, "apply", path, root, "-o", tmp_path / "out.npy")
    assert code == 1
    _one_line_error(err, "model.json")
    assert not (tmp_path / "out.npy").exists()


@pytest.mark.parametrize(
    ("make", "match"),
    [
        pytest.param(lambda p: None, "cannot read the file", id="missing"),
        pytest.param(
            lambda p: p.mkdir(), "cannot read the file|directory", id="directory"
        ),
        pytest.param(
            lambda p: p.symlink_to(p), "cannot read the file", id="symlink-loop"
        ),
    ],
)
def test_load_json_unreadable_path_fails_cleanly(tmp_path, make, match):
    path = tmp_path / "model.json"
    make(path)
    with pytest.raises(InvalidModelFileError, match=match):
        load_json(path)


# -- files that disappear or change while dataset_stats runs ---------------------------
def _mutate_during_listing(monkeypatch, action):
    """Run ``action(paths)`` right after dataset_stats lists its files."""
    from sk_pixels.io import _dataset

    real = _dataset.list_images

    def listing(*args, **kwargs):
        paths = real(*args, **kwargs)
        action(paths)
        return paths

    monkeypatch.setattr(_dataset, "list_images", listing)


def _replace_with_garbage(path):
    Path(path).write_bytes(b"not an image any more")


def _truncate(path):
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: len(data) // 2])


CHANGES = {
    "deleted": lambda p: os.unlink(p),
    "replaced-by-garbage": _replace_with_garbage,
    "truncated": _truncate,
    "emptied": lambda p: Path(p).write_bytes(b""),
    "replaced-by-directory": lambda p: (os.unlink(p), os.mkdir(p)),
}


@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("change", list(CHANGES))
def test_dataset_stats_reports_file_changed_midway_with_skip(
    monkeypatch, folder, change, n_jobs
):
    root, paths, images = folder
    victim = str(paths[2])
    _mutate_during_listing(monkeypatch, lambda listed: CHANGES[change](victim))
    stats, skipped = dataset_stats(
        root, on_error="skip", n_jobs=n_jobs, return_skipped=True
    )
    assert [p for p, _ in skipped] == [victim]
    assert skipped[0][1]  # a reason is given
    kept = np.stack([im for k, im in enumerate(images) if k != 2])
    assert stats == PixelStats.from_array(kept) or (
        stats.n_images == 5
        and np.array_equal(stats.mean, PixelStats.from_array(kept).mean)
    )


@pytest.mark.parametrize("change", list(CHANGES))
def test_dataset_stats_names_file_changed_midway_with_raise(
    monkeypatch, folder, change
):
    root, paths, _ = folder
    victim = str(paths[2])
    _mutate_during_listing(monkeypatch, lambda listed: CHANGES[change](victim))
    with pytest.raises(UnreadableImageError, match="im2.png") as info:
        dataset_stats(root, on_error="raise")
    assert info.value.path == victim


def test_dataset_stats_skip_warns_listing_the_vanished_file(monkeypatch, folder):
    root, paths, _ = folder
    _mutate_during_listing(monkeypatch, lambda listed: os.unlink(paths[0]))
    with pytest.warns(io_mod.SkippedImagesWarning, match="im0.png"):
        stats = dataset_stats(root, on_error="skip")
    assert stats.n_images == 5


def test_dataset_stats_all_files_vanished_is_an_error_not_empty_stats(
    monkeypatch, folder
):
    root, paths, _ = folder
    _mutate_during_listing(monkeypatch, lambda listed: [os.unlink(p) for p in listed])
    with pytest.raises(ValueError, match="All 6 image files were skipped"):
        dataset_stats(root, on_error="skip")


def test_cli_stats_with_vanished_file_lists_it_and_exits_0(
    capsys, monkeypatch, folder, tmp_path
):
    root, paths, _ = folder
    _mutate_during_listing(monkeypatch, lambda listed: os.unlink(paths[1]))
    out = tmp_path / "stats.json"
    code = cli.main(["stats", str(root), "--on-error", "skip", "--json", str(out)])
    err = capsys.readouterr().err
    assert code == 0
    assert "im1.png" in err
    report = json.loads(out.read_text())
    assert report["n_images"] == 5
    assert any("im1.png" in str(s) for s in report["skipped"])
