"""Mean images with nodata: ``per_pixel=True`` fit with and without a mask.

``PixelCenterer(per_pixel=True)`` and ``PixelStandardizer(per_pixel=True)``
fitted on the same batch four ways: no mask, ``nodata=0``, one sentinel per
channel (``nodata=(0, 0, 255)``: the per-position grouping of sentinels) and a
``numpy.ma`` array masked where the pixels are 0.  The ratio is to the
unmasked fit of the same estimator; all masked fits must give the same
``mean_`` (and ``std_``) as the ``numpy.ma`` one, bit for bit.

Run: ``python benchmarks/bench_nodata_fit.py [--n 64]`` (~1 minute).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import compare, fmt_ms, markdown_table, report  # noqa: E402

from sk_pixels import PixelCenterer, PixelStandardizer  # noqa: E402


def table(X: np.ndarray) -> str:
    masked = np.ma.masked_equal(X, 0)
    ways = {
        "no mask": (X, {}),
        "nodata=0": (X, {"nodata": 0}),
        "nodata=(0, 0, 255)": (X, {"nodata": (0, 0, 255)}),
        "numpy.ma": (masked, {}),
    }
    rows = []
    for cls in (PixelCenterer, PixelStandardizer):

        def fit(data, kw, cls=cls):
            return cls(per_pixel=True, **kw).fit(data)

        reference = fit(masked, {}).mean_
        assert np.array_equal(fit(X, {"nodata": 0}).mean_, reference, equal_nan=True)
        times = compare(
            {name: (lambda d=d, kw=kw: fit(d, kw)) for name, (d, kw) in ways.items()},
            repeats=7,
            warmup=2,
        )
        base = times["no mask"].median
        for name, t in times.items():
            rows.append([cls.__name__, name, fmt_ms(t), f"{t.median / base:.2f}x"])
    return markdown_table(["estimator", "fit on", "ms (median ± MAD)", "ratio"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64, help="images per batch")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    sections = []
    for dtype, n in ((np.uint8, args.n), (np.uint16, args.n // 2)):
        high = np.iinfo(dtype).max + 1
        X = rng.integers(0, high, size=(n, 224, 224, 3), dtype=dtype)
        X[:, :16] = 0  # a nodata border, 7% of the pixels
        sections.append(f"{np.dtype(dtype)} {X.shape}, per_pixel=True\n\n{table(X)}")
    report(
        "## Mean image with nodata: fit time",
        "One thread per row unless sk_pixels uses more; medians of 7 rounds.",
        *sections,
    )


if __name__ == "__main__":
    main()
