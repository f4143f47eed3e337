"""The mode table: what each image mode gives, in one place.

A *channel order* names the channels of an array, first to last: its letters
are the channel names (``"BGR"`` is blue, green, red).  Model files record one
(:func:`sk_pixels.save_json`'s ``channel_order``).  An image *mode* is what
:func:`sk_pixels.io.load_image` reads a file as: a channel order, a pixel dtype
and the Pillow mode the pixels are converted through.  The CLI's tables, the
model files' ``channel_order`` field and the decoder all read this module, which
imports nothing heavy (the CLI's argument parser uses it).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Channel orders a model file may record -> channel names, first to last.
CHANNEL_ORDERS: dict[str, tuple[str, ...]] = {
    order: tuple(order) for order in ("RGB", "BGR", "RGBA", "BGRA", "L", "LA")
}


@dataclass(frozen=True)
class Mode:
    """One image mode of :func:`sk_pixels.io.load_image`.

    Attributes
    ----------
    order : str
        Channel order of the array, a key of :data:`CHANNEL_ORDERS`.
    dtype : {"uint8", "uint16"}
        Pixel dtype; the units run from 0 to the dtype's maximum.
    pillow : str
        Pillow mode an 8-bit image is converted to (BGR is read as RGB and
        its channels reversed); 16-bit pixels are converted in NumPy.
    """

    order: str
    dtype: str
    pillow: str

    @property
    def channels(self) -> tuple[str, ...]:
        """Channel names, first to last (``("L",)`` for a 2-D grayscale array)."""
        return CHANNEL_ORDERS[self.order]

    @property
    def reversed(self) -> bool:
        """Whether the channels are Pillow's in reverse order (BGR)."""
        return self.order != self.pillow and self.order == self.pillow[::-1]


#: Image modes -> what each gives.
MODE_TABLE: dict[str, Mode] = {
    "RGB": Mode(order="RGB", dtype="uint8", pillow="RGB"),
    "BGR": Mode(order="BGR", dtype="uint8", pillow="RGB"),
    "RGBA": Mode(order="RGBA", dtype="uint8", pillow="RGBA"),
    "L": Mode(order="L", dtype="uint8", pillow="L"),
    "LA": Mode(order="LA", dtype="uint8", pillow="LA"),
    "I;16": Mode(order="L", dtype="uint16", pillow="I;16"),
    # 16-bit colour (16-bit PNGs keep all their bits; 8-bit images are x 257).
    "RGB;16": Mode(order="RGB", dtype="uint16", pillow="RGB"),
    "BGR;16": Mode(order="BGR", dtype="uint16", pillow="RGB"),
    "RGBA;16": Mode(order="RGBA", dtype="uint16", pillow="RGBA"),
    "LA;16": Mode(order="LA", dtype="uint16", pillow="LA"),
}

#: Supported modes -> number of channels.
MODES: dict[str, int] = {name: len(mode.channels) for name, mode in MODE_TABLE.items()}


#: Not a table entry: every channel of a file in its native dtype (TIFFs with
#: many channels or float samples); arrays of any channel count and units.
NATIVE = "native"


def check_mode(mode: str) -> Mode | None:
    """The table entry of ``mode`` (None for ``"native"``); a ``ValueError``
    naming the choices otherwise."""
    if mode == NATIVE:
        return None
    try:
        return MODE_TABLE[mode]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unsupported mode {mode!r}; choose one of {sorted(MODES)} or "
            f"'native' (see the "
            "sk_pixels.io module docstring for what each gives)."
        ) from None


def channel_names(mode: str, n_channels: int) -> tuple[str, ...]:
    """Names of ``n_channels`` channels read in ``mode`` (a mode or a channel order).

    Falls back to ``c0, c1, ...`` when the mode is unknown or its channel count
    differs.

    Examples
    --------
    >>> channel_names("BGR", 3), channel_names("I;16", 1), channel_names("RGB", 2)
    (('B', 'G', 'R'), ('L',), ('c0', 'c1'))
    """
    entry = MODE_TABLE.get(mode)
    names = entry.channels if entry is not None else CHANNEL_ORDERS.get(mode, ())
    if len(names) == n_channels:
        return names
    return tuple(f"c{k}" for k in range(n_channels))


def mode_of_order(order: str, dtype: str = "uint8") -> str:
    """The image mode that reads arrays of channel ``order`` and pixel ``dtype``.

    Raises ``KeyError`` for an order no mode reads (``"BGRA"``).

    Examples
    --------
    >>> mode_of_order("L", "uint16"), mode_of_order("BGR")
    ('I;16', 'BGR')
    >>> mode_of_order("RGB", "float32")  # no float mode: the 8-bit one
    'RGB'
    """
    matches = [n for n, m in MODE_TABLE.items() if m.order == order]
    for name in matches:
        if MODE_TABLE[name].dtype == dtype:
            return name
    if matches:
        return matches[0]
    raise KeyError(order)
