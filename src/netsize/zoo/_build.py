"""A zoo entry built for an input size, as every front end does it: the command line's TARGET
(``netsize summary alexnet --input-size 3,224,224``) and the calculator's ``{"zoo": NAME}``.

The input size goes to the builder as its ``input_shape`` variable; the network it builds is
the zoo's own (its fixed sizes kept), so an input the network cannot take is refused where the
analysis meets it, with the same message everywhere.
"""

from __future__ import annotations

from typing import Any

from netsize._errors import NetsizeError
from netsize._network import Network


def build_with_input(entry: Any, input_size: Any = None, variables: dict[str, Any] | None = None) -> Network:
    """``entry.build(**variables)`` with ``input_shape=input_size`` (per sample) when given; a
    value the builder cannot use is one NetsizeError naming the values."""
    variables = dict(variables or {})
    if isinstance(input_size, dict):
        raise NetsizeError(f"{entry.name} has one input; give --input-size as a shape like 3,224,224")
    if input_size is not None:
        variables["input_shape"] = tuple(input_size)
    try:
        network: Network = entry.build(**variables)
    except (TypeError, ValueError, OverflowError, ZeroDivisionError) as err:  # a value the builder cannot use
        given = ", ".join(f"{k}={v!r}" for k, v in variables.items())
        raise NetsizeError(f"{entry.name}: cannot build with {given}: {err}") from None
    return network
