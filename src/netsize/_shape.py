"""Shapes are tuples of ints, batch first. Helpers for channel layouts."""

from __future__ import annotations

from math import prod

from netsize._errors import NetsizeError

Shape = tuple[int, ...]

CHANNELS_FIRST = "channels_first"
CHANNELS_LAST = "channels_last"
LAYOUTS = (CHANNELS_FIRST, CHANNELS_LAST)


def elements(shape: Shape) -> int:
    """Number of elements of a tensor of this shape."""
    return prod(shape)


def shape_str(shape: Shape) -> str:
    """``1x96x55x55``."""
    return "x".join(str(d) for d in shape)


def split_channels(shape: Shape, layout: str, spatial_dims: int, what: str) -> tuple[int, int, Shape]:
    """(batch, channels, spatial sizes) of an N-C-spatial or N-spatial-C shape.

    ``what`` names the layer kind for the error when the rank is wrong.
    """
    if len(shape) != spatial_dims + 2:
        expected = "N, C, " + ", ".join(["D", "H", "W"][-spatial_dims:]) if spatial_dims <= 3 else ""
        if layout == CHANNELS_LAST:
            expected = "N, " + ", ".join(["D", "H", "W"][-spatial_dims:]) + ", C"
        raise NetsizeError(
            f"{what} needs a {spatial_dims + 2}-d input ({expected}) but receives "
            f"{len(shape)}-d {shape_str(shape)}"
        )
    if layout == CHANNELS_LAST:
        return shape[0], shape[-1], tuple(shape[1:-1])
    return shape[0], shape[1], tuple(shape[2:])


def join_channels(batch: int, channels: int, spatial: Shape, layout: str) -> Shape:
    """The inverse of :func:`split_channels`."""
    if layout == CHANNELS_LAST:
        return (batch, *spatial, channels)
    return (batch, channels, *spatial)


def channel_axis(rank: int, layout: str) -> int:
    return rank - 1 if layout == CHANNELS_LAST else 1
