"""Image layouts: every accepted input as one channels-last ``(n, H, W, C)`` view.

Accepted inputs (the first axis is always the images):

================================  ==========================================
``X.shape``                       read as
================================  ==========================================
``(n, H, W, C)``                  ``channel_axis=-1`` (the default)
``(n, C, H, W)``                  ``channel_axis=1``
``(n, H, W)``                     grayscale images
``(n, *spatial, C)``              volumes ``(n, D, H, W, C)``, clips
                                  ``(n, T, H, W, C)``: any number of spatial
                                  axes, pooled by the statistics (and
                                  ``(n, C, *spatial)`` with ``channel_axis=1``)
``(n, *spatial)``                 ``channel_axis=None``: no channel axis
``(n, n_features)``               flattened images of ``image_shape`` when
                                  given (``(H, W, C)`` or ``(H, W)``), else
                                  ``n_features`` pixels of one channel
================================  ==========================================

The statistics and the transforms only ever see the canonical view, so none of
them branches on layout.  The view shares memory with ``X``: writing through the
view of an output array writes the output in the caller's layout.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np


class LayoutWarning(UserWarning):
    """X's shape fits the layout it is read in, but more often means another.

    Raised by the estimators for a 3-D ``(n, H, 3 or 4)`` batch (read as
    grayscale images; often one colour image without its batch axis) and a 4-D
    batch whose last axis is long while axis 1 holds 1, 3 or 4 values (read as
    channels-last; often channels-first).  An explicit layout
    (``channel_axis``, ``image_shape``) never raises it; code that knows its
    layout can ignore the category::

        warnings.filterwarnings("ignore", category=sk_pixels.LayoutWarning)
    """


def _normalize_axis(channel_axis: int, ndim: int, shape: tuple[int, ...]) -> int:
    axis = channel_axis + ndim if channel_axis < 0 else channel_axis
    if not 1 <= axis < ndim:
        raise ValueError(
            f"channel_axis={channel_axis} does not exist for {ndim}-D input of shape "
            f"{shape} (axis 0 holds the images). Use channel_axis=-1 for "
            "(n, H, W, C) or channel_axis=1 for (n, C, H, W)."
        )
    return axis


def image_view(
    X: Any,
    channel_axis: int | None = -1,
    image_shape: tuple[int, ...] | None = None,
    xp: Any = np,
) -> Any:
    """Return ``X`` as a channels-last ``(n, H, W, C)`` view.

    Parameters
    ----------
    X : ndarray of shape (n, *spatial, C), (n, C, *spatial) or (n, n_features)
        Validated image batch.
    channel_axis : int or None, default=-1
        Axis of ``X`` (or of ``X.reshape((n, *image_shape))``) holding the channels.
        None means that the images have no channel axis (grayscale), whatever
        their number of dimensions.
    image_shape : tuple of int or None, default=None
        Shape of one image, for flattened 2-D input.
    xp : namespace, default=numpy
        The array namespace of ``X`` (``dask.array``, an Array API namespace):
        the same layout rules for every backend.

    Returns
    -------
    view : ndarray of shape (n, H, W, C)
        A view of ``X`` (a reshape of 2-D input with ``image_shape``, or the
        folding of the spatial axes of a volume, copies only when ``X``'s
        strides do not allow a view).

    Examples
    --------
    >>> import numpy as np
    >>> image_view(np.zeros((2, 3, 4, 5)), channel_axis=1).shape
    (2, 4, 5, 3)
    >>> image_view(np.zeros((2, 12)), image_shape=(2, 2, 3)).shape
    (2, 2, 2, 3)
    >>> image_view(np.zeros((2, 12))).shape
    (2, 1, 12, 1)
    >>> image_view(np.zeros((2, 5, 6, 7, 3))).shape  # volumes: D and H folded
    (2, 30, 7, 3)
    >>> image_view(np.zeros((2, 6, 7)), channel_axis=None).shape
    (2, 6, 7, 1)
    """
    if image_shape is not None:
        image_shape = tuple(int(s) for s in image_shape)
        if not 1 <= len(image_shape) <= 3:
            raise ValueError(
                f"image_shape={image_shape} has {len(image_shape)} entries; pass "
                "the shape of one image, (H, W, C), (H, W) or (n_features,)."
            )
        if X.ndim == 2:
            n_values = int(np.prod(image_shape))
            if n_values != X.shape[1]:
                raise ValueError(
                    f"image_shape={image_shape} holds {n_values} values per image, "
                    f"but X has {X.shape[1]} features per sample. Pass the shape of "
                    "one image, e.g. (H, W, C) or (H, W)."
                )
            X = xp.reshape(X, (X.shape[0], *image_shape))
        elif tuple(X.shape[1:]) != image_shape:
            raise ValueError(
                f"image_shape={image_shape} does not match the shape of the images "
                f"in X, {tuple(X.shape[1:])}. image_shape is only needed for "
                "flattened 2-D input; leave it as None for image-shaped input."
            )
    if X.ndim == 2:
        return X[:, None, :, None]
    if X.ndim == 3 or channel_axis is None:
        X = X[..., None]  # no channel axis: one channel
    else:
        axis = _normalize_axis(channel_axis, X.ndim, X.shape)
        if axis != X.ndim - 1:
            permute = getattr(xp, "permute_dims", None) or xp.transpose
            X = permute(X, tuple(a for a in range(X.ndim) if a != axis) + (axis,))
    if X.ndim == 4:
        return X
    # Volumes and clips (n, D, H, W, C), (n, T, H, W, C)...: statistics pool every
    # spatial axis, so the leading ones are folded into the rows.
    n, *spatial, channels = X.shape
    return xp.reshape(X, (n, int(np.prod(spatial[:-1])), spatial[-1], channels))


@lru_cache(maxsize=64)
def channel_index(
    image_shape_in: tuple[int, ...],
    channel_axis: int | None,
    image_shape: tuple[int, ...] | None,
) -> np.ndarray:
    """Channel of each value of one input image, reduced to its broadcast shape.

    Per-channel coefficients indexed with it broadcast against a batch in its
    own layout, so that a backend that cannot write through a channels-last
    view (a device array) never transposes the batch.

    Examples
    --------
    >>> channel_index((4, 5, 3), -1, None)
    array([[[0, 1, 2]]])
    >>> channel_index((3, 4, 5), 1, None).shape
    (3, 1, 1)
    """
    one = np.empty((1, *image_shape_in), dtype=np.intp)
    channels_last = image_view(one, channel_axis, image_shape)
    channels_last[...] = np.arange(channels_last.shape[-1])
    index = one[0]
    for axis in range(index.ndim):
        first = index.take([0], axis=axis)
        if np.array_equal(np.broadcast_to(first, index.shape), index):
            index = first
    index.flags.writeable = False
    return index
