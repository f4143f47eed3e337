"""Docstring fragments shared by the three estimators (substituted, not repeated)."""

_SHARED = {
    "per_channel": """per_channel : bool, default=True
        Compute one statistic per channel (True) or one for all channels
        of an image together (False).""",
    "per_pixel": """per_pixel : bool, default=False
        Learn one statistic per pixel position and channel (a mean image,
        Caffe's "subtract the mean image") instead of one per channel. Every
        image must then have the training images' shape; ``scope="dataset"``
        or ``"batch"`` only, with learned (not fixed) statistics.""",
    "pixel_shape": """pixel_shape_ : tuple of int
        ``per_pixel=True`` only: the shape of one training image in the
        input's layout (``(H, W, C)``, ``(C, H, W)``, ``(H, W)``, or
        ``(n_features,)`` for flattened input without ``image_shape``).""",
    "max_value": """max_value : "auto" or float, default="auto"
        Domain maximum of the input pixels, the units of the data. ``"auto"``
        is 255 for ``uint8``, 65535 for ``uint16``, the dtype's maximum for
        other integer types, and 1.0 for floats (float pixels are assumed
        to lie in [0, 1]). Pass ``max_value=255`` for float data in 0-255
        units, or 4095 for 12-bit data stored in ``uint16``.""",
    "layout": """channel_axis : int or None, default=-1
        Axis of 4-D input that holds the channels: -1 for ``(n, H, W, C)``,
        1 for ``(n, C, H, W)``. 3-D input ``(n, H, W)`` is grayscale.

    image_shape : tuple of int, default=None
        Shape of one image, ``(H, W, C)`` or ``(H, W)``, when ``X`` holds
        flattened images of shape ``(n, H * W * C)``. Without it, 2-D input
        is read as ``n_features`` pixels of one channel.

    dtype : {"float32", "float64"}, numpy dtype or None, default=None
        Output dtype. None keeps float32/float64 input's dtype and gives
        float32 for integer (and float16) input.""",
    "seen_attributes": """n_samples_seen_ : int
        Number of images seen by ``fit`` / ``partial_fit``.

    n_channels_ : int
        Number of channels seen in ``fit``.

    n_features_in_ : int
        Number of values per sample in ``fit`` (``H * W * C`` for images).

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when ``fit`` was given a DataFrame.

    max_value_ : float
        ``max_value`` resolved for the dtype seen in ``fit``.

    input_dtype_ : str
        Dtype of the training pixels (``"uint8"``...).""",
    "layout_note": """Every layout is read through one channels-last view, so statistics
    and results do not depend on layout. The input is never modified, and no
    temporary the size of the batch is made besides the output. NaN pixels
    are ignored when learning statistics and stay NaN in the output; +/-inf
    is rejected.""",
}


_SHARED["nodata"] = """nodata : float, sequence of float or None, default=None
        Sentinel of missing pixels, in input pixel units: one number for
        every channel, or one per channel (``(0, 0, 65535)``); NaN means that
        NaN marks them. Values equal to the sentinel of their channel are left
        out of that channel's statistics (GDAL's per-band rule: each channel
        keeps its own exact count) and of its percentiles, and ``transform``
        writes them as ``nodata_fill``. A sentinel that no pixel of the input
        dtype can equal (``-9999`` for ``uint8``) leaves nothing out.

    nodata_fill : float, default=0.0
        Value, in output units, that ``transform`` writes where a pixel is
        nodata, or masked in a :class:`numpy.ma.MaskedArray` input."""

_SHARED[
    "nodata_note"
] = """A :class:`numpy.ma.MaskedArray` (or a Dask array of masked chunks) leaves
    its masked values out of the statistics, channel by channel, as ``nodata``
    does; ``transform`` then returns a masked array with the same mask, whose
    masked positions hold ``nodata_fill``. ``inverse_transform`` maps every
    value back, ``nodata_fill`` included (it cannot tell a filled pixel from
    a valid one that maps to the same value), except that a masked input
    gives a masked result with the same mask, holding 0 under it. A channel
    with no valid pixel in ``fit`` is refused at ``transform``. Masks and
    nodata cost a boolean array the size of the batch, and a copy of the
    input where values are left out (masked values are read as 0 and nodata
    values are never scaled, so neither can overflow)."""

_SHARED["common_attributes"] = (
    _SHARED["seen_attributes"]
    + """

    stats_ : PixelStats
        Per-channel statistics of the training pixels (learning scopes
        only); merge-able, and what ``summary()`` reports."""
)


def fill_doc(cls):
    """Substitute ``%(name)s`` fragments of ``_SHARED`` into ``cls.__doc__``."""
    cls.__doc__ = cls.__doc__ % _SHARED
    return cls
