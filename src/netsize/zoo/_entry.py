"""A zoo entry (:class:`ZooEntry`) and the table of entries: ``register``, ``names``, ``get``."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import field
from typing import Any

from netsize._errors import NetsizeError
from netsize._network import Network
from netsize._record import record
from netsize._shape import CHANNELS_FIRST, Shape

__all__ = ["ZooEntry", "get", "names", "register"]


@record
class ZooEntry:
    """A named network: where it comes from, its default input, and how to build it.

    ``build(**variables)`` passes ``variables`` (e.g. ``num_classes=10``,
    ``input_shape=(3, 384, 384)``) to the builder; ``input_shape`` is per sample, without the
    batch axis, in the model's ``layout``. ``convention`` is how its source counts
    (``torch``, or ``keras``: BatchNorm statistics as non-trainable params).
    """

    name: str
    description: str
    source: str
    input_shape: Shape
    builder: Callable[..., Network] = field(repr=False, compare=False)
    layout: str = CHANNELS_FIRST
    convention: str = "torch"

    @property
    def variables(self) -> dict[str, Any]:
        """The variables ``build`` accepts, with their defaults."""
        params = inspect.signature(self.builder).parameters
        out: dict[str, Any] = {"input_shape": self.input_shape}
        out.update({k: p.default for k, p in params.items() if k != "input_shape"})
        return out

    def build(self, **variables: Any) -> Network:
        known = self.variables
        unknown = [k for k in variables if k not in known]
        if unknown:
            accepted = ", ".join(f"{k}={v!r}" for k, v in known.items())
            raise NetsizeError(f"{self.name}: unknown variable(s) {', '.join(unknown)}; it accepts {accepted}")
        shape = variables.pop("input_shape", None)
        shape = self.input_shape if shape is None else _shape(self.name, shape)
        return self.builder(input_shape=shape, **variables)


def _shape(name: str, shape: Sequence[int] | str) -> Shape:
    if isinstance(shape, str):
        try:
            shape = [int(s) for s in shape.lower().replace(",", "x").split("x") if s.strip()]
        except ValueError:
            raise NetsizeError(f"{name}: input_shape {shape!r} is not sizes like 3x224x224") from None
    return tuple(int(s) for s in shape)


_ENTRIES: dict[str, ZooEntry] = {}


def _key(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


def register(entry: ZooEntry) -> ZooEntry:
    """Add ``entry`` (case, ``_`` and ``-`` are ignored when looking names up)."""
    key = _key(entry.name)
    if key in _ENTRIES:
        raise ValueError(f"zoo entry {entry.name!r} registered twice")
    _ENTRIES[key] = entry
    return entry


def names() -> list[str]:
    """Every entry's name, in registration order (families together)."""
    return [e.name for e in _ENTRIES.values()]


def get(name: str) -> ZooEntry:
    """The entry called ``name``; an unknown name lists the closest ones."""
    entry = _ENTRIES.get(_key(name))
    if entry is None:
        all_names = [e.name for e in _ENTRIES.values()]
        import difflib

        close = difflib.get_close_matches(name.lower(), all_names, n=4, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; available: {', '.join(all_names)}"
        raise NetsizeError(f"unknown zoo model {name!r}{hint}")
    return entry
