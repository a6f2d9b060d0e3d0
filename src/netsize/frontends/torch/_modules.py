"""Which core layer a ``torch.nn`` module is: translation by the core's torch-like field names.

A ``torch.nn`` class maps to the core layer registered under its class name (``Conv2d`` ->
:class:`netsize.layers.Conv2d`); each field of the core layer takes the module attribute of the
same name. The tracer uses the result only when its shapes, parameters, buffers and
multiply-adds agree with what the trace saw, so a wrong translation costs an explanation,
never a wrong number.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn

from netsize._errors import NetsizeError
from netsize._layer import Layer
from netsize._registry import layer_type

# Attributes that torch names differently from the core field (field -> how to read it).
_DERIVED: dict[str, dict[str, Any]] = {
    "MultiheadAttention": {
        "bias": lambda m: m.in_proj_bias is not None,
        "add_bias_kv": lambda m: m.bias_k is not None,
    },
}


def _torch_class(module: nn.Module) -> type | None:
    for cls in type(module).__mro__:
        if cls.__module__.startswith("torch.nn.") and cls is not nn.Module:
            return cls
    return None


def _value(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        return True
    if isinstance(v, list):
        return tuple(v)
    return v


def core_layer(module: nn.Module) -> Layer | None:
    """The core layer for ``module``, or ``None`` when there is none or it cannot be built."""
    cls = _torch_class(module)
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
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(core):
            if f.name in derived:
                kwargs[f.name] = derived[f.name](module)
            elif f.name == "bias" and (getattr(module, "bias", False) is None):
                kwargs[f.name] = False
            elif hasattr(module, f.name):
                kwargs[f.name] = _value(getattr(module, f.name))
        try:
            return core(**kwargs)
        except (NetsizeError, TypeError, ValueError):
            return None
    return None
