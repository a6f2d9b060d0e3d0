"""Spec names of layer types. Adding a layer never edits the engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from netsize._errors import NetsizeError
from netsize._layer import Layer

L = TypeVar("L", bound=type[Layer])

_LAYERS: dict[str, type[Layer]] = {}


def _key(name: str) -> str:
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
            key = _key(name)
            # The same class imported twice (pytest's importlib mode) replaces itself; two
            # different classes under one name are a programming error.
            if key in _LAYERS and _LAYERS[key].__qualname__ != cls.__qualname__:
                raise NetsizeError(f"layer name {name!r} already registered to {_LAYERS[key].__name__}; "
                                   "choose another name")
            _LAYERS[key] = cls
        return cls

    return decorate


def layer_type(name: str) -> type[Layer]:
    """The layer class registered as ``name``; an unknown name suggests the closest ones."""
    if not isinstance(name, str):
        if isinstance(name, type) and issubclass(name, Layer):
            return name
        raise NetsizeError(f"layer_type takes a spec name such as 'conv2d' (got {name!r}); "
                           "`netsize layers` lists them")
    cls = _LAYERS.get(_key(name))
    if cls is None:
        _ensure_loaded(name)
        cls = _LAYERS.get(_key(name))
    if cls is None:
        import difflib

        close = difflib.get_close_matches(_key(name), list(_LAYERS), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `netsize layers` lists them"
        raise NetsizeError(f"unknown layer type {name!r}{hint}")
    return cls


def layer_names() -> dict[str, type[Layer]]:
    """Every registered spec name (normalised) and its class."""
    _ensure_loaded()
    return dict(_LAYERS)


def _ensure_loaded(name: str | None = None) -> None:
    """Import the built-in layer module registering ``name`` (every module when None or unknown)."""
    from netsize import layers

    if name is None or not layers.load_for_spec_name(name) or _key(name) not in _LAYERS:
        layers.load_all()
