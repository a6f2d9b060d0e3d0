"""Check and convert a layer's fields from spec values, using the layer dataclass's type hints."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, Literal, Union

from netsize._layer import Layer
from netsize._limits import MAX_INT

_MISSING = object()


class FieldError(Exception):
    """A short fact about one field's value."""


_FIELDS: dict[type[Layer], dict[str, tuple[Any, bool]]] = {}


def layer_fields(cls: type[Layer]) -> dict[str, tuple[Any, bool]]:
    """``{field: (type hint, required)}`` for the fields a spec may set (computed once per class)."""
    if cls not in _FIELDS:
        _FIELDS[cls] = _layer_fields(cls)
    return _FIELDS[cls]


def _layer_fields(cls: type[Layer]) -> dict[str, tuple[Any, bool]]:
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # a hint that cannot be resolved: accept any value for it
        hints = {}
    out: dict[str, tuple[Any, bool]] = {}
    fields: tuple[dataclasses.Field[Any], ...] = dataclasses.fields(cls) if dataclasses.is_dataclass(cls) else ()
    for f in fields:
        if not f.init or f.name.startswith("_"):
            continue
        required = (
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ) or bool(f.metadata.get("required"))
        out[f.name] = (hints.get(f.name, Any), required)
    return out


def coerce(hint: Any, value: Any) -> Any:
    """``value`` converted to ``hint`` (YAML lists become tuples) or :class:`FieldError`.

    >>> coerce(int | tuple[int, int], [3, 3])
    (3, 3)
    >>> coerce(int | tuple[int, int], "3x3")
    Traceback (most recent call last):
    ...
    netsize.spec._fields.FieldError: must be an int or a list of 2 ints (got '3x3')
    """
    ok, out = _try(hint, value)
    if not ok:
        shown = repr(value)
        raise FieldError(f"must be {describe(hint)} (got {shown if len(shown) <= 80 else shown[:77] + '...'})")
    return out


def _try(hint: Any, value: Any) -> tuple[bool, Any]:
    if hint is Any:
        return True, tuple(value) if isinstance(value, list) else value
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        for arm in typing.get_args(hint):
            ok, out = _try(arm, value)
            if ok:
                return True, out
        return False, None
    if hint is type(None) or hint is None:
        return value is None, None
    if hint is bool:
        return isinstance(value, bool), value
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_INT, value
    if hint is float:
        # nan and inf are no size: a scale factor of .inf would make an infinite tensor
        if isinstance(value, int | float) and not isinstance(value, bool) and abs(value) <= MAX_INT:
            as_float = float(value)
            return math.isfinite(as_float), as_float
        return False, None
    if hint is str:
        return isinstance(value, str), value
    if origin is Literal:
        return value in typing.get_args(hint), value
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            return False, None
        args = typing.get_args(hint)
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            items = [args[0]] * len(value)
        elif origin is list:
            items = [args[0] if args else Any] * len(value)
        else:
            if args and len(args) != len(value):
                return False, None
            items = list(args) if args else [Any] * len(value)
        out = []
        for item_hint, item in zip(items, value, strict=True):
            ok, conv = _try(item_hint, item)
            if not ok:
                return False, None
            out.append(conv)
        return True, tuple(out) if origin is tuple else out
    if isinstance(hint, type):
        return isinstance(value, hint), value
    return True, value


def describe(hint: Any) -> str:
    """``an int or a list of ints`` for ``int | tuple[int, ...]``."""
    if hint is Any:
        return "any value"
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        arms = [a for a in typing.get_args(hint) if a is not type(None)]
        text = " or ".join(describe(a) for a in arms)
        return text + (" (or null)" if len(arms) < len(typing.get_args(hint)) else "")
    if hint is bool:
        return "true or false"
    if hint is int:
        return "an int"
    if hint is float:
        return "a finite number"
    if hint is str:
        return "a string"
    if hint is type(None) or hint is None:
        return "null"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if origin in (tuple, list):
        args = typing.get_args(hint)
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_plural(args[0])}"
        if origin is list and args:
            return f"a list of {_plural(args[0])}"
        if args and len({a for a in args}) == 1:
            return f"a list of {len(args)} {_plural(args[0])}"
        return "a list of " + ", ".join(describe(a) for a in args) if args else "a list"
    if isinstance(hint, type):
        return f"a {hint.__name__}"
    return str(hint)


def _plural(hint: Any) -> str:
    word = describe(hint)
    for article in ("an ", "a "):
        if word.startswith(article):
            return word[len(article) :] + "s"
    return word
