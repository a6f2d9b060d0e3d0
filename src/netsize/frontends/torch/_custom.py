"""Formulas users give for what netsize cannot count by itself: a custom module or a custom op.

A formula returns the multiply-adds as an ``int``, or a mapping with ``"multiply_adds"`` and/or
``"other_ops"``. Register it for the whole process (:func:`register_formula`, e.g. in the
package that defines the module, so the command line sees it too) or for one call
(``summary(..., formulas={...})``, which wins).

* A module formula ``f(module, inputs, output)`` gets the module, its positional inputs (a
  tuple) and its output, as tensors whose ``.shape`` and ``.dtype`` are real (their values are
  not: the pass runs on meta tensors). The module becomes one row with that count; what runs
  inside it (its submodules included) is not traced separately. Its parameters are still
  counted from the module itself.
* An op formula ``f(args, kwargs, output)`` gets the aten op's arguments and output. Key it by
  the op (``torch.ops.aten.fft_r2c``, ``torch.ops.mylib.myop``) or its name
  (``"aten::fft_r2c"``); it replaces netsize's own rule for that op, if any.

>>> import torch
>>> from netsize.frontends.torch import summary
>>> class Gram(torch.nn.Module):  # x @ x^T through a kernel netsize cannot see
...     def forward(self, x):
...         return torch.empty(x.shape[0], x.shape[0], device=x.device)
>>> s = summary(Gram(), input_size=(3, 5), formulas={Gram: lambda m, inputs, out: 3 * 3 * 5})
>>> s.totals.multiply_adds
45
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from netsize._errors import NetsizeError

Formula = Callable[..., Any]

_REGISTERED: dict[Any, Formula] = {}


def register_formula(key: Any, formula: Formula | None = None) -> Any:
    """Give a module class or an aten/custom op its formula, for every later ``summary`` call.

    ``key``: a ``torch.nn.Module`` subclass, an op (``torch.ops.aten.fft_r2c`` or one overload of
    it) or an op name (``"aten::fft_r2c"``). Usable as a decorator:

    >>> import torch
    >>> @register_formula("aten::linalg_solve_ex")
    ... def solve(args, kwargs, output):
    ...     n = args[0].shape[-1]
    ...     return n**3 // 3 + n * n  # LU factorisation and one solve, multiply-adds
    >>> unregister_formula("aten::linalg_solve_ex")
    """
    if formula is None:
        def decorate(f: Formula) -> Formula:
            register_formula(key, f)
            return f

        return decorate
    _REGISTERED[_key(key)] = formula
    return formula


def unregister_formula(key: Any) -> None:
    """Remove a formula given with :func:`register_formula`."""
    _REGISTERED.pop(_key(key), None)


def _key(key: Any) -> Any:
    if isinstance(key, type):
        return key
    if isinstance(key, str):
        return key.replace(".", "::", 1) if "::" not in key else key
    name = getattr(key, "_qualified_op_name", None)  # an OpOverloadPacket
    if name is None:
        packet = getattr(key, "_overloadpacket", None)  # an OpOverload
        name = getattr(packet, "_qualified_op_name", None)
    if name is None:
        raise NetsizeError(
            f"a formula is keyed by a module class, an op (torch.ops.aten.fft_r2c) or an op name "
            f"('aten::fft_r2c'), not {key!r}"
        )
    return name


class Formulas:
    """The formulas in force for one call: the registered ones, overridden by the call's own."""

    def __init__(self, given: Mapping[Any, Formula] | None) -> None:
        table = dict(_REGISTERED)
        for k, f in (given or {}).items():
            table[_key(k)] = f
        self.modules = {k: f for k, f in table.items() if isinstance(k, type)}
        self.ops = {k: f for k, f in table.items() if isinstance(k, str)}

    def for_module(self, module: Any) -> Formula | None:
        if not self.modules:
            return None
        for cls in type(module).__mro__:
            if cls in self.modules:
                return self.modules[cls]
        return None

    def for_op(self, func: Any) -> Formula | None:
        if not self.ops:
            return None
        return self.ops.get(func._overloadpacket._qualified_op_name)


def counts(value: Any, who: str) -> tuple[int, int]:
    """``(multiply_adds, other_ops)`` of what a formula returned."""
    if isinstance(value, bool) or not isinstance(value, (int, Mapping)):
        raise NetsizeError(
            f"the formula for {who} returned {value!r}: return an int (multiply-adds) or a dict with "
            "'multiply_adds' and/or 'other_ops'"
        )
    if isinstance(value, int):
        macs, other = value, 0
    else:
        unknown = set(value) - {"multiply_adds", "other_ops"}
        if unknown:
            raise NetsizeError(f"the formula for {who} returned unknown keys {sorted(unknown)}")
        macs, other = value.get("multiply_adds", 0), value.get("other_ops", 0)
    for name, v in (("multiply_adds", macs), ("other_ops", other)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise NetsizeError(f"the formula for {who} gave {name}={v!r}: it must be a non-negative int")
    return macs, other
