"""Spec names of layer types: the table and :func:`register_layer`. Adding a layer never edits the engine.

The table holds what has been imported; finding a name (and importing the layer module that
registers it) is :func:`netsize.layers.layer_type`, one stratum up, so that the core never
imports the layer library.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from netsize._errors import NetsizeError
from netsize._layer import Layer

L = TypeVar("L", bound=type[Layer])

_LAYERS: dict[str, type[Layer]] = {}


def spec_key(name: str) -> str:
    """``name`` as the table keys it: case, ``_`` and ``-`` ignored."""
    return name.lower().replace("_", "").replace("-", "")


def register_layer(*names: str) -> Callable[[L], L]:
    """Class decorator: make a layer type available under ``names`` (case and ``_``/``-`` ignored).

    A name may be registered once; a second registration is a programming error.
    """
    if not all(isinstance(n, str) for n in names):  # @register_layer without its parentheses
        raise NetsizeError("register_layer is called with the spec names: write @register_layer('my_layer') "
                           "or @register_layer() (the class's kind), with the parentheses")

    def decorate(cls: L) -> L:
        if not (isinstance(cls, type) and issubclass(cls, Layer)):
            raise NetsizeError(f"register_layer decorates a subclass of netsize.Layer (got {cls!r})")
        for name in names or (cls.kind,):
            key = spec_key(name)
            # The same class imported twice (pytest's importlib mode) replaces itself; two
            # different classes under one name are a programming error.
            if key in _LAYERS and _LAYERS[key].__qualname__ != cls.__qualname__:
                raise NetsizeError(f"layer name {name!r} already registered to {_LAYERS[key].__name__}; "
                                   "choose another name")
            _LAYERS[key] = cls
        return cls

    return decorate


def registered(name: str) -> type[Layer] | None:
    """The class registered as ``name``, if its module has been imported (no loading: the
    lookup that imports layer modules on demand is :func:`netsize.layers.layer_type`)."""
    return _LAYERS.get(spec_key(name))


def registered_names() -> dict[str, type[Layer]]:
    """Every spec name registered so far (normalised) and its class."""
    return dict(_LAYERS)
