"""Which core layer a ``torch.nn`` module is: translation by the core's torch-like field names.

A ``torch.nn`` class maps to the core layer registered under its class name (``Conv2d`` ->
:class:`netsize.layers.Conv2d`); each field of the core layer takes the module attribute of the
same name. The tracer uses the result only when its shapes, parameters, buffers and
multiply-adds agree with what the trace saw, so a wrong translation costs an explanation,
never a wrong number.
"""

from __future__ import annotations

import dataclasses
from functools import cache, lru_cache
from typing import Any

import torch
from torch import nn

from netsize import _registry
from netsize._errors import NetsizeError
from netsize._layer import Layer
from netsize.layers import layer_type

# Attributes that torch names differently from the core field (field -> how to read it).
_DERIVED: dict[str, dict[str, Any]] = {
    "MultiheadAttention": {
        "bias": lambda m: m.in_proj_bias is not None,
        "add_bias_kv": lambda m: m.bias_k is not None,
    },
}


def _torch_class_of(module_class: type) -> type | None:
    for cls in module_class.__mro__:
        if cls.__module__.startswith("torch.nn.") and cls is not nn.Module:
            return cls
    return None


def _value(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        return True
    if isinstance(v, list):
        return tuple(v)
    return v


# Per module class: the core layer type and, per field, how to read it from the module (None:
# no core layer). Per (core type, field values): the built layer, frozen and shareable; building
# and validating it again for every module of every call was a tenth of a steady-state call.
# Both are remembered while the set of registered layer names stays the same.
_registered = 0  # the number of registered layer names the remembered plans were made with


@cache
def _plan(module_class: type) -> tuple[type, tuple[tuple[str, Any], ...]] | None:
    cls = _torch_class_of(module_class)
    if cls is None:
        return None
    for candidate in (cls, *cls.__mro__[1:]):
        if not candidate.__module__.startswith("torch.nn.") or candidate is nn.Module:
            break
        try:
            core = layer_type(candidate.__name__)
        except NetsizeError:
            continue
        if not dataclasses.is_dataclass(core):
            return None
        derived = _DERIVED.get(candidate.__name__, {})
        return core, tuple((f.name, derived.get(f.name)) for f in dataclasses.fields(core))
    return None


def core_layer(module: nn.Module) -> Layer | None:
    """The core layer for ``module``, or ``None`` when there is none or it cannot be built."""
    global _registered
    if len(_registry._LAYERS) != _registered:  # a layer type registered since: plans may change
        _plan.cache_clear()
        _built.cache_clear()
        _registered = len(_registry._LAYERS)
    plan = _plan(type(module))
    if plan is None:
        return None
    core, fields = plan
    kwargs: dict[str, Any] = {}
    for name, derive in fields:
        if derive is not None:
            kwargs[name] = derive(module)
        elif name == "bias" and (getattr(module, "bias", False) is None):
            kwargs[name] = False
        elif hasattr(module, name):
            kwargs[name] = _value(getattr(module, name))
    try:
        return _built(core, tuple((name, type(v), v) for name, v in kwargs.items()))  # type: 1 == True == 1.0
    except TypeError:  # a field value that cannot be a key (a dict): built every time
        return _build(core, kwargs)


@lru_cache(maxsize=4096)
def _built(core: type, fields: tuple[tuple[str, type, Any], ...]) -> Layer | None:
    return _build(core, {name: v for name, _, v in fields})


def _build(core: type, kwargs: dict[str, Any]) -> Layer | None:
    try:
        return core(**kwargs)  # type: ignore[no-any-return]
    except (NetsizeError, TypeError, ValueError):  # caught here, so a TypeError out of _built is its key's
        return None
