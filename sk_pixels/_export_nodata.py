"""The ``nodata`` rule of ``transform`` inside the ONNX and PyTorch exports.

``transform`` writes ``nodata_fill`` (in the output dtype) wherever a pixel
equals the ``nodata`` sentinel of its channel (:mod:`sk_pixels._nodata`: NaN
as a sentinel matches NaN pixels; a sentinel that no pixel of the dtype can
hold matches nothing; a float sentinel is compared in the pixels' own float
dtype).  The exports evaluate the same rule on the input, as
``where(invalid, fill, map(x))``, with ``invalid`` the OR over the distinct
sentinels of ``(x == sentinel)`` (``isnan(x)`` for NaN), restricted to the
channels (or, for a mean image, the values of an image) that the sentinel is
for.  The fill comes after the clipping, as in ``transform``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._nodata import _matcher, check_fill, per_channel


def entry_sentinels(estimator: Any, n_entries: int) -> tuple | None:
    """``nodata`` as one sentinel for all, or one per coefficient entry.

    Entries are the channels, or with ``per_pixel=True`` the values of one
    image (``pixel_shape_`` in C order), each taking its channel's sentinel.
    None when the estimator has no ``nodata``.
    """
    nodata = estimator._nodata()
    if nodata is None:
        return None
    # One value, or one per channel (an unfitted preset: its channels).
    per_channel(nodata, int(getattr(estimator, "n_channels_", n_entries)))
    if len(nodata) == 1 or not getattr(estimator, "per_pixel", False):
        return nodata
    from ._per_pixel import PositionBackend

    shape = tuple(estimator.pixel_shape_)
    return PositionBackend(None, shape, estimator._channel_axis_of(shape)).positions(
        nodata
    )


def sentinel_groups(
    sentinels: tuple | None, n_entries: int, dtype: np.dtype
) -> list[tuple[Any, np.ndarray | None]]:
    """``[(key, chosen), ...]``: one test per distinct sentinel of ``dtype``.

    ``key`` is ``"nan"`` or the sentinel as a 0-d array of ``dtype`` (the
    value NumPy compares with); ``chosen`` the boolean mask of the entries it
    is for, None for all of them.  Empty when no pixel can be nodata.
    """
    if sentinels is None:
        return []
    dtype = np.dtype(dtype)
    full = sentinels * n_entries if len(sentinels) == 1 else sentinels
    groups: dict = {}
    for entry, sentinel in enumerate(full):
        key = _matcher(dtype, sentinel)
        if key is not None:
            groups.setdefault(key, []).append(entry)
    out = []
    for key, entries in groups.items():
        if key != "nan":
            with np.errstate(over="ignore", invalid="ignore"):
                key = np.array(key).astype(dtype)
        chosen = None
        if len(entries) < n_entries:
            chosen = np.zeros(n_entries, dtype=bool)
            chosen[entries] = True
        out.append((key, chosen))
    return out


#: Pixel dtypes compared in a wider integer type (exact) by the ONNX graph.
_EQUAL_TYPES = {
    "uint8": "int32",
    "int8": "int32",
    "uint16": "int32",
    "int16": "int32",
    "uint32": "int64",
}
#: ONNX TensorProto codes of those types.
_ONNX_INT = {"int32": 6, "int64": 7}


def onnx_nodata(
    helper: Any,
    numpy_helper: Any,
    groups: list,
    shaped: Any,
    fill: float,
    out_dtype: np.dtype,
    last: str,
    output: str,
) -> tuple[list, list]:
    """Nodes and initializers of ``output = Where(invalid, fill, last)``
    (``groups`` not empty).

    ``shaped`` turns a per-entry array into one that broadcasts against the
    input batch; ``last`` is the clipped map, already cast to ``out_dtype``.
    """
    check_fill(fill, out_dtype)
    nodes, inits, hits = [], [], []
    compared = None  # the pixels in a type every onnxruntime compares (below)
    for k, (key, chosen) in enumerate(groups):
        hit = f"nodata_hit{k}"
        if isinstance(key, str):  # "nan"
            nodes.append(helper.make_node("IsNaN", ["pixels"], [hit]))
        else:
            # onnxruntime before 1.17 has Equal for int32/int64/float/double
            # only: small integers are compared as int32, uint32 as int64
            # (both exact).
            key = np.asarray(key)
            wider = _EQUAL_TYPES.get(key.dtype.name)
            if wider is not None and compared is None:
                compared = "pixels_compared"
                nodes.append(
                    helper.make_node(
                        "Cast", ["pixels"], [compared], to=_ONNX_INT[wider]
                    )
                )
            if wider is not None:
                key = key.astype(wider)
            inits.append(numpy_helper.from_array(key, f"nodata{k}"))
            source = "pixels" if wider is None else compared
            nodes.append(helper.make_node("Equal", [source, f"nodata{k}"], [hit]))
        if chosen is not None:
            inits.append(numpy_helper.from_array(shaped(chosen), f"nodata_for{k}"))
            nodes.append(helper.make_node("And", [hit, f"nodata_for{k}"], [hit + "c"]))
            hit += "c"
        hits.append(hit)
    invalid = hits[0]
    for k, hit in enumerate(hits[1:]):
        nodes.append(helper.make_node("Or", [invalid, hit], [f"nodata_any{k}"]))
        invalid = f"nodata_any{k}"
    inits.append(
        numpy_helper.from_array(np.array(fill).astype(out_dtype), "nodata_fill")
    )
    nodes.append(helper.make_node("Where", [invalid, "nodata_fill", last], [output]))
    return nodes, inits
