"""``$variable`` substitution and small integer arithmetic: ``$width * 2``, ``${channels // groups}``."""

from __future__ import annotations

import ast
import difflib
import math
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from netsize._limits import MAX_EXPONENT, MAX_INT

#: Characters of one expression string.
MAX_EXPR_CHARS = 1000
_VAR = re.compile(r"\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")

_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}

_FUNCS: dict[str, Callable[..., Any]] = {
    "min": min,
    "max": max,
    "ceil": lambda x: math.ceil(x),
    "floor": lambda x: math.floor(x),
    "round": lambda x: round(x),
    "int": lambda x: int(x),
}


class ExprError(Exception):
    """A short fact about a bad expression; the loader adds where it is."""


def has_vars(value: Any) -> bool:
    return isinstance(value, str) and "$" in value


def evaluate(text: str, variables: Mapping[str, Any]) -> Any:
    """The value of an expression string.

    A string that is exactly ``$name`` takes the variable's value whatever its type (an int,
    a list...). Otherwise ``$name`` and ``${expr}`` are substituted and the whole string is
    evaluated as arithmetic: ``+ - * / // % **``, parentheses, ``min max ceil floor round``.
    ``/`` gives an int when the division is exact.

    >>> evaluate("$width * 2", {"width": 64})
    128
    >>> evaluate("${c // 4}", {"c": 256})
    64
    >>> evaluate("$k", {"k": [3, 3]})
    [3, 3]
    """
    whole = _VAR.fullmatch(text.strip())
    if whole and whole.group(2):
        return _lookup(whole.group(2), variables)
    if len(text) > MAX_EXPR_CHARS:
        raise ExprError(f"an expression of {len(text):,} characters; at most {MAX_EXPR_CHARS:,} are allowed")
    expr = _VAR.sub(lambda m: f"({m.group(1)})" if m.group(1) is not None else m.group(2), text)
    try:
        tree = ast.parse(expr.strip(), mode="eval")
        return _eval(tree.body, variables, text)
    except (SyntaxError, ValueError, MemoryError):
        raise ExprError(f"cannot read expression {text!r}") from None
    except RecursionError:
        raise ExprError(f"expression nested too deeply: {text[:60]!r}...") from None


def _lookup(name: str, variables: Mapping[str, Any]) -> Any:
    if name in variables:
        return variables[name]
    close = difflib.get_close_matches(name, list(variables), n=3)
    if close:
        hint = f"; did you mean {', '.join('$' + c for c in close)}?"
    elif variables:
        hint = f"; defined: {', '.join(sorted(variables))}"
    else:
        hint = "; define it under `variables:`"
    raise ExprError(f"unknown variable ${name}{hint}")


def _eval(node: ast.expr, variables: Mapping[str, Any], text: str) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return _bounded(node.value, text)
    if isinstance(node, ast.Name):
        return _lookup(node.id, variables)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        v = _number(_eval(node.operand, variables, text), text)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp):
        left = _number(_eval(node.left, variables, text), text)
        right = _number(_eval(node.right, variables, text), text)
        if isinstance(node.op, ast.Div):
            if right == 0:
                raise ExprError(f"division by zero in {text!r}")
            if isinstance(left, int) and isinstance(right, int) and left % right == 0:
                return left // right
            try:
                return _bounded(left / right, text)
            except OverflowError as err:
                raise ExprError(f"{text!r}: {err}") from None
        op = _BINOPS.get(type(node.op))
        if op is None:
            raise ExprError(f"operator not allowed in {text!r} (use + - * / // % **)")
        if isinstance(node.op, ast.FloorDiv | ast.Mod) and right == 0:
            raise ExprError(f"division by zero in {text!r}")
        if isinstance(node.op, ast.Pow):
            if abs(right) > MAX_EXPONENT and abs(left) != 1:
                raise ExprError(f"exponent {right} in {text!r} is past {MAX_EXPONENT}, the largest allowed")
            if left == 0 and right < 0:
                raise ExprError(f"division by zero in {text!r} (0 to a negative power)")
        try:
            return _bounded(op(left, right), text)
        except (ZeroDivisionError, OverflowError, ValueError) as err:
            raise ExprError(f"{text!r}: {err}") from None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS and not node.keywords:
        args = [_number(_eval(a, variables, text), text) for a in node.args]
        try:
            return _bounded(_FUNCS[node.func.id](*args), text)
        except (TypeError, ValueError, OverflowError) as err:
            raise ExprError(f"{node.func.id}(): {err} in {text!r}") from None
    if isinstance(node, ast.List | ast.Tuple):
        return [_eval(e, variables, text) for e in node.elts]
    raise ExprError(f"cannot evaluate {text!r}: only numbers, $variables and + - * / // % ** min max ceil floor")


def _number(v: Any, text: str) -> int | float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ExprError(f"{text!r}: arithmetic on a non-number ({_brief(v)})")
    number: int | float = _bounded(v, text)
    return number


def _bounded(v: Any, text: str) -> Any:
    """``v`` if it is a finite float or an int within ``MAX_INT`` (a complex or a huge number is refused)."""
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        if abs(v) > MAX_INT:
            raise ExprError(f"{text!r} is larger than 2**62, the largest integer netsize accepts")
        return v
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ExprError(f"{text!r} is not a finite number ({v})")
        return v
    if isinstance(v, complex):
        raise ExprError(f"{text!r} is not a real number")
    return v


def _brief(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


def substitute(value: Any, variables: Mapping[str, Any]) -> Any:
    """``value`` with every expression string in it (also inside lists) evaluated."""
    if has_vars(value):
        return evaluate(value, variables)
    if isinstance(value, list):
        return [substitute(v, variables) for v in value]
    return value
