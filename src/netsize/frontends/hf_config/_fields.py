"""Typed, range-checked reading of config fields: one clear error per bad field, naming the field
and the file, instead of a traceback deep in a builder.

JSON gives Python ``bool``, ``int``, ``float`` (``1e400`` and ``Infinity`` become ``inf``, ``NaN``
``nan``), ``str``, ``list``, ``dict`` and ``None``. A count must be an ``int`` (not ``2.0``,
``"2"`` or ``true``); a rate or epsilon a finite number; a switch a ``bool``; a name a string.

>>> f = Fields({"n_layer": 2, "n_embd": 64.0}, "config.json")
>>> f.int("n_layer", min=1)
2
>>> f.int("n_embd", min=1)
Traceback (most recent call last):
    ...
netsize._errors.NetsizeError: config.json: field 'n_embd' must be an integer >= 1 (got 64.0, a float)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias

from netsize._errors import NetsizeError

_MISSING: Any = object()
# builtins by other names: the readers below are called int, float, bool and str
_Int: TypeAlias = int
_Float: TypeAlias = float
_Bool: TypeAlias = bool
_Str: TypeAlias = str


def _describe(value: Any) -> str:
    kind = {bool: "a boolean", int: "an integer", float: "a float", str: "a string", list: "a list",
            dict: "an object", type(None): "null"}.get(type(value), type(value).__name__)
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text}, {kind}" if value is not None else "null"


class Fields:
    """A config's fields (the family's defaults already merged in) read with their types checked.

    ``source`` names the file (or ``"config"`` for a dict) in every message. Each reader takes
    the field's name; a missing field is an error unless ``default`` is given.
    """

    def __init__(self, data: Mapping[_Str, Any], source: _Str = "config") -> None:
        self.data = dict(data)
        self.source = source

    def __contains__(self, key: _Str) -> _Bool:
        return key in self.data

    def raw(self, key: _Str, default: Any = None) -> Any:
        """The field as it is, unchecked (for presence tests and nested objects)."""
        return self.data.get(key, default)

    def sub(self, key: _Str) -> Fields:
        """A nested object (``text_config``) as its own :class:`Fields`."""
        value = self.data.get(key)
        if not isinstance(value, dict):
            raise self.error(key, "must be an object", value)
        return Fields(value, f"{self.source} ({key})")

    def error(self, key: _Str, rule: _Str, value: Any = _MISSING) -> NetsizeError:
        got = "" if value is _MISSING else f" (got {_describe(value)})"
        return NetsizeError(f"{self.source}: field {key!r} {rule}{got}")

    def _get(self, key: _Str, default: Any) -> Any:
        if key in self.data:
            return self.data[key]
        if default is _MISSING:
            raise NetsizeError(f"{self.source}: field {key!r} is missing")
        return default

    def int(self, key: _Str, *, min: _Int | None = None, max: _Int | None = None, default: Any = _MISSING) -> _Int:
        """An integer in ``[min, max]``."""
        value = self._get(key, default)
        return self._check_int(key, value, min, max)

    def _check_int(self, key: _Str, value: Any, lo: _Int | None, hi: _Int | None) -> _Int:
        rule = "must be an integer"
        if lo is not None and hi is not None:
            rule += f" in {lo}..{hi}"
        elif lo is not None:
            rule += f" >= {lo}"
        elif hi is not None:
            rule += f" <= {hi}"
        if type(value) is not int:
            raise self.error(key, rule, value)
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise self.error(key, rule, value)
        return value

    def opt_int(self, key: _Str, *, min: _Int | None = None, max: _Int | None = None) -> _Int | None:
        """An integer in range, or ``None`` when the field is absent or null."""
        value = self.data.get(key)
        return None if value is None else self._check_int(key, value, min, max)

    def float(self, key: _Str, *, min: _Float | None = None, max: _Float | None = None,
              below: _Float | None = None, default: Any = _MISSING) -> _Float:
        """A finite number (an integer is accepted) in ``[min, max]`` (``below``: strictly less)."""
        value = self._get(key, default)
        return self._check_float(key, value, min, max, below)

    def _check_float(self, key: _Str, value: Any, lo: _Float | None, hi: _Float | None,
                     below: _Float | None) -> _Float:
        parts = []
        if lo is not None:
            parts.append(f">= {lo:g}")
        if hi is not None:
            parts.append(f"<= {hi:g}")
        if below is not None:
            parts.append(f"< {below:g}")
        rule = "must be a finite number" + (" " + " and ".join(parts) if parts else "")
        if type(value) not in (int, _Float) or not math.isfinite(value):
            raise self.error(key, rule, value)
        if (lo is not None and value < lo) or (hi is not None and value > hi) or (below is not None and value >= below):
            raise self.error(key, rule, value)
        return float(value)

    def opt_float(self, key: _Str, *, min: _Float | None = None, max: _Float | None = None,
                  below: _Float | None = None) -> _Float | None:
        value = self.data.get(key)
        return None if value is None else self._check_float(key, value, min, max, below)

    def rate(self, key: _Str, default: Any = 0.0) -> _Float:
        """A dropout probability in ``[0, 1)`` (absent or null: ``default``)."""
        value = self.data.get(key)
        if value is None:
            value = default
        return self._check_float(key, value, 0.0, None, 1.0)

    def bool(self, key: _Str, default: Any = _MISSING) -> _Bool:
        """``true`` / ``false`` (``0`` and ``1`` are accepted, as Python's truth test reads them)."""
        value = self._get(key, default)
        if value is None and default is not _MISSING:
            value = default
        if type(value) is bool:
            return value
        if type(value) is int and value in (0, 1):
            return bool(value)
        raise self.error(key, "must be true or false", value)

    def str(self, key: _Str, default: Any = _MISSING) -> _Str:
        value = self._get(key, default)
        if not isinstance(value, _Str):
            raise self.error(key, "must be a string", value)
        return value

    def str_choice(self, key: _Str, choices: Iterable[_Str], default: Any = _MISSING) -> _Str:
        """One of ``choices``."""
        options = tuple(choices)
        value = self._get(key, default)
        if not isinstance(value, _Str) or value not in options:
            raise self.error(key, f"must be one of {', '.join(repr(c) for c in options)}", value)
        return value

    def str_list(self, key: _Str, choices: Iterable[_Str] | None = None,
                 length: _Int | None = None) -> list[_Str] | None:
        """A list of strings (each one of ``choices``), of ``length`` items when given; None when
        absent or null."""
        value = self.data.get(key)
        if value is None:
            return None
        options = tuple(choices) if choices is not None else None
        want = "a list of strings" if options is None else f"a list of {', '.join(repr(c) for c in options)}"
        if not isinstance(value, list) or not all(isinstance(v, _Str) for v in value):
            raise self.error(key, f"must be {want}", value)
        if options is not None:
            bad = [v for v in value if v not in options]
            if bad:
                raise self.error(key, f"must be {want}", bad[0])
        if length is not None and len(value) != length:
            raise self.error(key, f"must have one entry per layer ({length}), not {len(value)}")
        return list(value)

    def int_list(self, key: _Str, *, min: _Int | None = None, length: _Int | None = None) -> list[_Int] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, list):
            raise self.error(key, "must be a list of integers", value)
        out = [self._check_int(f"{key}[{i}]", v, min, None) for i, v in enumerate(value)]
        if length is not None and len(out) != length:
            raise self.error(key, f"must have one entry per layer ({length}), not {len(out)}")
        return out

    def absent_or(self, key: _Str, allowed: Iterable[Any], why: _Str) -> None:
        """Refuse a field netsize does not model when it is set to a value that changes the model."""
        value = self.data.get(key)
        if value is None:
            return
        ok = tuple(allowed)
        if any(type(value) is type(a) and value == a for a in ok):
            return
        raise self.error(key, f"is not modelled by netsize ({why})", value)
