"""The layer library. Each module holds a family of layer types and lists them in ``__all__``.

Modules are discovered, so adding a layer touches only its own module and its test. They are
imported on first use: ``netsize.layers.Conv2d`` or the spec name ``conv2d`` imports
``conv.py`` alone (importing all fourteen modules costs tens of milliseconds, more than the rest
of ``netsize summary``). Which module holds which class and spec name is read from the modules'
source (their ``__all__`` list and ``@register_layer(...)`` names); a test checks that this index
equals what importing every module registers, and any name the index misses is found by
importing everything.
"""

from __future__ import annotations

import importlib
import os
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import netsize._layer  # a plain import: tests read the `from` imports below as the module list

_HERE = os.path.dirname(__file__)
_STRING = re.compile(r"[\"']([^\"']+)[\"']")

# class name -> module, spec key (normalised as the registry does) -> module
_CLASS_MODULE: dict[str, str] = {}
_SPEC_MODULE: dict[str, str] = {}
_MODULES: list[str] = []


def _spec_key(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


def _scan() -> None:
    for filename in sorted(os.listdir(_HERE)):
        module, ext = os.path.splitext(filename)
        if ext != ".py" or module.startswith("_"):
            continue
        _MODULES.append(module)
        with open(os.path.join(_HERE, filename), encoding="utf-8") as file:
            source = file.read()
        # str.find, not a MULTILINE regex: a `^`-anchored pattern is tried at every position of
        # the 200 kB of layer source, which made this scan ~8 ms of every command.
        start = source.find("\n__all__")
        if start >= 0:
            for name in _STRING.findall(source, start, source.find("]", start)):
                if name in _CLASS_MODULE:
                    raise ImportError(f"layer class {name} defined twice ({_CLASS_MODULE[name]} and {module})")
                _CLASS_MODULE[name] = module
        start = source.find("\n@register_layer(")
        while start >= 0:
            end = source.find(")", start)
            for name in _STRING.findall(source, start, end):
                _SPEC_MODULE[_spec_key(name)] = module
            start = source.find("\n@register_layer(", end)


_scan()
__all__ = sorted(_CLASS_MODULE)  # pyright: ignore[reportUnsupportedDunderAll]


def _load(module: str) -> Any:
    return importlib.import_module(f"{__name__}.{module}")


def load_all() -> None:
    """Import every layer module (so that every layer type is registered)."""
    for module in _MODULES:
        _load(module)


def load_for_spec_name(name: str) -> bool:
    """Import the module that registers spec name ``name``; False when the index does not know it."""
    module = _SPEC_MODULE.get(_spec_key(name))
    if module is None:
        return False
    _load(module)
    return True


def layer_type(name: str) -> type[netsize._layer.Layer]:
    """The layer class registered as spec name ``name`` (its module imported on first use); an
    unknown name suggests the closest ones."""
    from netsize._registry import registered, registered_names

    if not isinstance(name, str):
        from netsize._errors import NetsizeError
        from netsize._layer import Layer

        if isinstance(name, type) and issubclass(name, Layer):
            return name
        raise NetsizeError(f"layer_type takes a spec name such as 'conv2d' (got {name!r}); "
                           "`netsize layers` lists them")
    cls = registered(name)
    if cls is None:
        if not load_for_spec_name(name) or registered(name) is None:
            load_all()
        cls = registered(name)
    if cls is None:
        import difflib

        from netsize._errors import NetsizeError

        close = difflib.get_close_matches(_spec_key(name), list(registered_names()), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `netsize layers` lists them"
        raise NetsizeError(f"unknown layer type {name!r}{hint}")
    return cls


def layer_names() -> dict[str, type[netsize._layer.Layer]]:
    """Every spec name of the built-in and registered layer types (normalised) and its class."""
    from netsize._registry import registered_names

    load_all()
    return registered_names()


def __getattr__(name: str) -> Any:
    module = _CLASS_MODULE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_load(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # the same names, spelled out for type checkers; tests keep this list complete
    from netsize.layers.activation import *  # noqa: F403
    from netsize.layers.attention import *  # noqa: F403
    from netsize.layers.conv import *  # noqa: F403
    from netsize.layers.crop import *  # noqa: F403
    from netsize.layers.disentangled_attention import *  # noqa: F403
    from netsize.layers.embedding import *  # noqa: F403
    from netsize.layers.linear import *  # noqa: F403
    from netsize.layers.matmul import *  # noqa: F403
    from netsize.layers.merge import *  # noqa: F403
    from netsize.layers.norm import *  # noqa: F403
    from netsize.layers.pool import *  # noqa: F403
    from netsize.layers.recurrent import *  # noqa: F403
    from netsize.layers.shape_ops import *  # noqa: F403
    from netsize.layers.ssm import *  # noqa: F403
    from netsize.layers.tensor_ops import *  # noqa: F403
    from netsize.layers.tokens import *  # noqa: F403
    from netsize.layers.transformer import *  # noqa: F403
    from netsize.layers.upsample import *  # noqa: F403
