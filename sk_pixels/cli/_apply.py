"""``sk-pixels apply``: transform images with a saved model into ``.npy`` files."""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._common import (
    DataError,
    add_source_arguments,
    add_sources_argument,
    add_trust_pickle_argument,
    check_output,
    decoder_report,
    load_model,
    mode_for_model,
    positive_bytes,
    report_skipped,
    show_progress,
)

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

HELP = "transform images with a saved model into .npy"


class NpyStack:
    """Stream equally-shaped arrays into one ``.npy`` file, without holding them.

    Rows go to a temporary raw file; :meth:`finish` writes the ``.npy`` header
    (whose shape is only known at the end) and copies the rows after it, all
    through :func:`~sk_pixels.persist.atomic_open`.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        folder = os.path.dirname(os.path.abspath(path))
        self._raw = tempfile.TemporaryFile(dir=folder)
        self.shape: tuple[int, ...] | None = None
        self.dtype: np.dtype | None = None
        self.count = 0
        self.sources: list[str] = []  # the file of each row, in order

    def append(self, array: np.ndarray, source: str) -> None:
        import numpy as np

        if self.shape is None:
            self.shape, self.dtype = array.shape, array.dtype
        elif array.shape != self.shape:
            raise DataError(
                f"{source} has shape {array.shape} but the first image had "
                f"{self.shape}; one .npy holds images of one size. Give a folder as "
                "-o to get one .npy per image."
            )
        self._raw.write(np.ascontiguousarray(array, dtype=self.dtype).tobytes())
        self.count += 1

    def finish(self) -> None:
        import numpy as np

        from .._files import atomic_open

        header = {
            "descr": np.lib.format.dtype_to_descr(self.dtype),
            "fortran_order": False,
            "shape": (self.count, *self.shape),
        }
        try:
            self._raw.seek(0)
            with atomic_open(self.path, "wb") as fh:
                np.lib.format.write_array_header_1_0(fh, header)
                shutil.copyfileobj(self._raw, fh, length=1 << 20)
        finally:
            self._raw.close()

    def discard(self) -> None:
        self._raw.close()


def paths_file(output: str) -> str:
    """``out.paths.txt`` next to ``out.npy``: the source file of each row."""
    return os.path.splitext(output)[0] + ".paths.txt"


def output_names(paths: list[str], sources: Sequence[str]) -> dict[str, str]:
    """``.npy`` name of each image: its path below the folder it came from."""
    folders = [os.path.abspath(s) for s in sources if os.path.isdir(s)]
    names: dict[str, str] = {}
    taken: dict[str, str] = {}
    for path in paths:
        absolute = os.path.abspath(path)
        base = next((f for f in folders if absolute.startswith(f + os.sep)), None)
        relative = os.path.relpath(absolute, base) if base else os.path.basename(path)
        name = os.path.splitext(relative)[0] + ".npy"
        if name in taken:
            raise DataError(
                f"{path} and {taken[name]} would both be written to {name}; rename one "
                "or apply them separately."
            )
        taken[name] = path
        names[path] = name
    return names


def apply_model(
    model: str,
    sources: Sequence[str],
    output: str,
    *,
    mode: str | None = None,
    trust_pickle: bool = False,
    on_error: str = "raise",
    progress: bool = False,
    max_bytes: int | None = None,
) -> tuple[int, list[tuple[str, str]]]:
    """Transform images with a saved model, streaming (``sk-pixels apply``).

    Parameters
    ----------
    model : str
        ``.json`` model (or ``.joblib`` with ``trust_pickle=True``).
    sources : sequence of str
        Folders, globs or files.
    output : str
        ``OUT.npy``: one array ``(n, H, W[, C])`` of the transformed images
        (all of one size), and ``OUT.paths.txt``, the source file of each row
        in order, one per line (skipped files have no row); anything else: a
        folder of one ``.npy`` per image, mirroring the source folders.  A
        ``.npy`` output is checked before any image is read: its folder must
        exist, and it must not be one of the inputs.
    mode : str or None, default=None
        Image mode; None uses the model's channel order (RGB when unknown).
    trust_pickle : bool, default=False
        Allow a ``.joblib`` model (``joblib.load`` runs code from the file).
    on_error, progress
        As in :func:`sk_pixels.io.iter_images`.
    max_bytes : int or None, default=None
        Largest ``.json`` model file read (None: ``load_json``'s 1 MiB); a
        mean image or a whitener saved as JSON may need more.

    Returns
    -------
    n_written : int
        Images transformed.
    skipped : list of (str, str)
    """
    import numpy as np

    from .._files import atomic_open
    from .._layout import LayoutWarning
    from .._progress import progress_bar
    from ..io import SkippedImagesWarning, iter_images

    single = output.lower().endswith(".npy")
    if single:
        check_output(output, sources, "-o")
        check_output(paths_file(output), sources, "-o")
    estimator, order = load_model(
        model, trust_pickle, max_bytes=max_bytes, option="--max-bytes"
    )
    mode = mode_for_model(estimator, order, mode)
    images = iter_images(list(sources), mode=mode, on_error=on_error, with_paths=True)
    stack = NpyStack(output) if single else None
    names = None if single else output_names(images.paths, sources)
    written = 0
    try:
        with warnings.catch_warnings():
            # The caller lists the skipped files.
            warnings.simplefilter("ignore", category=SkippedImagesWarning)
            # Its images come in a known layout ((H, W) or (H, W, C), C <= 4).
            warnings.simplefilter("ignore", category=LayoutWarning)
            with progress_bar(len(images.paths), enabled=progress) as bar:
                for path, image in images:
                    result = estimator.transform(image[None])[0]
                    if stack is not None:
                        stack.append(result, path)
                        stack.sources.append(path)
                    else:
                        target = os.path.join(output, names[path])
                        os.makedirs(os.path.dirname(target), exist_ok=True)
                        with atomic_open(target, "wb") as fh:
                            np.save(fh, result)
                    written += 1
                    bar.update(1)
                bar.update(len(images.skipped))
    except BaseException:
        if stack is not None:
            stack.discard()
        raise
    if written == 0:
        if stack is not None:
            stack.discard()
        raise DataError(
            f"all {len(images.paths)} image files were unreadable; nothing written."
        )
    if stack is not None:
        stack.finish()
        with atomic_open(paths_file(output), "w") as fh:
            fh.writelines(f"{path}\n" for path in stack.sources)
    return written, images.skipped


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model",
        metavar="MODEL",
        help="model.json (or model.joblib with --trust-pickle)",
    )
    add_sources_argument(parser)
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="OUT.npy (one array, plus OUT.paths.txt: the file of each row) or a "
        "folder (one .npy per image)",
    )
    add_trust_pickle_argument(parser, "model")
    parser.add_argument(
        "--max-bytes",
        type=positive_bytes,
        default=None,
        metavar="N",
        help="largest .json model file to read, in bytes (default 1048576, "
        "1 MiB); a mean image or a whitener saved as JSON may need more",
    )
    add_source_arguments(parser, jobs=False)


def run(args: argparse.Namespace) -> int:
    with decoder_report(args.verbose):
        written, skipped = apply_model(
            args.model,
            args.sources,
            args.output,
            mode=args.mode,
            trust_pickle=args.trust_pickle,
            on_error=args.on_error,
            progress=show_progress(args),
            max_bytes=args.max_bytes,
        )
        report_skipped(skipped)
    print(f"wrote {written} transformed image(s) to {args.output}")
    if args.output.lower().endswith(".npy"):
        print(f"wrote the file of each row to {paths_file(args.output)}")
    return 0
