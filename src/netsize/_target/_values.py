"""Values a TARGET takes, as the command line and the web app give them: input shapes
(``-i 3,224,224``, ``-i image=3x224x224``) and model variables (``--var num_classes=10``).

Every malformed value (``--var num_classes=ten`` for an int, ``-i 3,x,2``) is refused with one
``NetsizeError`` naming the option and what is wrong.
"""

from __future__ import annotations

import math
import re
from typing import Any

from netsize._errors import NetsizeError
from netsize._limits import MAX_INT

__all__ = ["check_variable_types", "parse_input_sizes", "parse_shape", "parse_variables"]

_SHAPE = re.compile(r"\s*\d+(\s*(?:,|x|×|\s)\s*\d+)*\s*")


def parse_shape(text: str, option: str = "--input-size") -> tuple[int, ...]:
    """``3,224,224``, ``3x224x224`` or ``[3, 224, 224]`` -> ``(3, 224, 224)``; anything else
    (``3,x,2``, ``3,,2``, ``-1``) is refused.

    >>> parse_shape("3x224x224")
    (3, 224, 224)
    """
    inner = text.strip()
    if inner[:1] in "[(" and inner[-1:] in "])":
        inner = inner[1:-1]
    inner = inner.lower()
    if len(inner) > 400 or not _SHAPE.fullmatch(inner):
        raise NetsizeError(f"{option}: {_brief(text)} is not positive sizes like 3,224,224 or 3x224x224")
    shape = tuple(int(p) for p in re.split(r"\s*[,x×\s]\s*", inner.strip()))
    if any(d <= 0 or d > MAX_INT for d in shape):
        raise NetsizeError(f"{option}: {_brief(text)}: every size must be from 1 to 2**62")
    from netsize._limits import MAX_RANK

    if len(shape) > MAX_RANK + 1:
        raise NetsizeError(f"{option}: {len(shape)} axes; a shape may have at most {MAX_RANK + 1}")
    return shape


def parse_input_sizes(values: list[str] | None) -> tuple[int, ...] | dict[str, tuple[int, ...]] | None:
    """``["3,224,224"]`` -> ``(3, 224, 224)``; ``["image=3x224x224", ...]`` -> a dict."""
    if not values:
        return None
    named: dict[str, tuple[int, ...]] = {}
    plain: tuple[int, ...] | None = None
    for value in values:
        name, sep, text = value.rpartition("=")
        if sep and not name.strip():
            raise NetsizeError(f"--input-size: {_brief(value)} has no input name before '='")
        shape = parse_shape(text, f"--input-size {name.strip()}" if sep else "--input-size")
        if sep:
            named[name.strip()] = shape
        elif plain is not None:
            raise NetsizeError("--input-size given twice without names; use NAME=SHAPE for several inputs")
        else:
            plain = shape
    if named and plain is not None:
        raise NetsizeError("--input-size: name every input (NAME=SHAPE) when giving several")
    return named or plain


def parse_variables(items: list[str]) -> dict[str, Any]:
    """``["num_classes=10", "kernel=[3,3]"]`` -> ``{"num_classes": 10, "kernel": [3, 3]}`` (YAML values,
    read with a spec's bounds: no tags, no alias bombs, no huge integers)."""
    if not items:  # the YAML reader is imported only for --var
        return {}
    from netsize.spec import parse_value

    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip().isidentifier():
            raise NetsizeError(f"--var expects NAME=VALUE (got {_brief(item)})")
        name = name.strip()
        out[name] = parse_value(text, f"--var {name}") if text.strip() else ""
    return out


def check_variable_types(variables: dict[str, Any], defaults: dict[str, Any], what: str) -> None:
    """Refuse ``--var`` values whose type differs from the default's (``num_classes=x`` where an
    int is expected), and non-positive sizes, naming the variable."""
    for name, value in variables.items():
        if name not in defaults:
            continue
        default = defaults[name]
        if isinstance(default, bool):
            ok, expected = isinstance(value, bool), "true or false"
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_INT
            expected = "a positive integer"
        elif isinstance(default, float):
            ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            expected = "a finite number"
        elif isinstance(default, tuple | list):
            ok = isinstance(value, list | tuple) and all(
                isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_INT for v in value
            ) and len(value) == len(default)
            expected = f"a list of {len(default)} positive integers, like {list(default)}"
        elif isinstance(default, str):
            ok, expected = isinstance(value, str), "a string"
        else:
            continue
        if not ok:
            raise NetsizeError(f"--var {name}: {what} expects {expected} (got {_short(value)})")


def _brief(text: str) -> str:
    return _short(text)


def _short(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."
