"""Checking published claims about a network: ``params=60M``, ``conv5.output=27x27x256``.

A claim names a quantity of the whole network or of one layer and a value as people write it
(``62,378,344``, ``60M``, ``1.1G``, ``93MB``, ``58 MiB``, ``13x13x256``). Each is checked against
the analysis; a claim that fails comes with the true value, by how much it is off and, for a shape
or a layer's count, the derivation that shows where it went wrong.

Tolerance: a claim holds when it is within ``tolerance`` of the truth (``"1%"`` relative, or an
absolute number). Without one, a rounded figure is taken at its own precision: ``60M`` means
59.5M to 60.5M, ``1.1G`` 1.05G to 1.15G, and a figure written out in full must be exact.

>>> import netsize
>>> s = netsize.analyze(netsize.zoo.get("alexnet").build())
>>> [r.holds for r in check(s, ["params=62,378,344", "conv5.output=27x27x256"])]
[True, False]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from netsize._dtypes import dtype_bytes
from netsize._errors import NetsizeError
from netsize._shape import Shape, shape_str
from netsize._summary import LayerRecord, Summary, explain_record

__all__ = ["QUANTITIES", "Claim", "ClaimResult", "check", "parse_claim"]

# quantity -> (what it is, whether it is a shape, whether it is bytes)
QUANTITIES: dict[str, str] = {
    "params": "parameters (weights + biases)",
    "trainable_params": "trainable parameters",
    "non_trainable_params": "non-trainable parameters",
    "weights": "weights",
    "biases": "biases",
    "buffers": "buffers",
    "multiply_adds": "multiply-adds (MACs)",
    "flops": "FLOPs (2 x multiply-adds)",
    "other_ops": "other operations",
    "activations": "activation elements (layer outputs)",
    "activation_bytes": "activation bytes (layer outputs, in --dtype)",
    "model_size": "bytes of the parameters (in --dtype)",
    "output": "output shape",
    "input": "input shape",
}
_ALIASES = {
    "parameters": "params", "param": "params", "macs": "multiply_adds", "mac": "multiply_adds",
    "mult_adds": "multiply_adds", "multadds": "multiply_adds", "madds": "multiply_adds", "flop": "flops",
    "activation": "activations", "activation_elements": "activations", "activations_bytes": "activation_bytes",
    "memory": "activation_bytes", "size": "model_size", "weights_bytes": "model_size", "shape": "output",
    "output_shape": "output", "input_shape": "input",
}  # fmt: skip
_SHAPES = ("output", "input")
_BYTES = ("activation_bytes", "model_size")
_COUNT_SUFFIX = {"": 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "B": 10**9, "T": 10**12}
_BYTE_SUFFIX = {
    "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
    "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40,
}  # fmt: skip


@dataclass(frozen=True)
class Claim:
    """``layer`` (None: the whole network), ``quantity`` (a key of :data:`QUANTITIES`), the value
    as written, and its parsed form: an exact number with the half-width it was written to, or a shape."""

    text: str
    layer: str | None
    quantity: str
    written: str
    value: Fraction | None = None
    precision: Fraction = Fraction(0)
    shape: Shape | None = None
    tolerance: str | None = None
    source: str = ""


@dataclass(frozen=True)
class ClaimResult:
    """One claim checked: ``holds``, the true value, the relative error and the explanation lines."""

    claim: Claim
    holds: bool
    actual: str
    actual_value: int | None = None
    error: float | None = None  # (claimed - actual) / actual
    explanation: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "claim": self.claim.text,
            "layer": self.claim.layer,
            "quantity": self.claim.quantity,
            "claimed": self.claim.written,
            "actual": self.actual,
            "actual_value": self.actual_value,
            "relative_error": self.error,
            "holds": self.holds,
            "source": self.claim.source,
            "explanation": list(self.explanation),
        }


def _quantity(name: str, text: str) -> str:
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    key = _ALIASES.get(key, key)
    if key not in QUANTITIES:
        import difflib

        close = difflib.get_close_matches(key, [*QUANTITIES, *_ALIASES], n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise NetsizeError(f"claim {text!r}: unknown quantity {name!r}.{hint} Known: {', '.join(QUANTITIES)}")
    return key


def _number(written: str, quantity: str, text: str) -> tuple[Fraction, Fraction]:
    """``"60M"`` -> (60,000,000, 500,000): the value and half a unit of its last written digit."""
    s = written.strip().replace(",", "").replace("_", "").replace(" ", "")
    m = re.fullmatch(r"([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)([A-Za-z]*)", s)
    if not m:
        raise NetsizeError(f"claim {text!r}: {written!r} is not a number (write e.g. 62,378,344, 60M, 1.1G, 93MB)")
    digits, suffix = m.groups()
    table = _BYTE_SUFFIX if quantity in _BYTES else _COUNT_SUFFIX
    key = suffix.upper() if quantity in _BYTES else suffix
    if key not in table:
        raise NetsizeError(f"claim {text!r}: unknown unit {suffix!r}; use one of {', '.join(k for k in table if k)}")
    try:
        d = Decimal(digits)
    except InvalidOperation:
        raise NetsizeError(f"claim {text!r}: {written!r} is not a number") from None
    scale = table[key]
    value = Fraction(d) * scale
    rounded = bool(suffix) or "." in digits or "e" in digits.lower()
    # A rounded figure's trailing zeros are not significant: "800K" is 8 hundred thousand, to the hundred thousand.
    exponent = d.normalize().as_tuple().exponent if rounded and "." not in digits else d.as_tuple().exponent
    assert isinstance(exponent, int)
    half = Fraction(1, 2) * Fraction(10) ** exponent * scale if rounded else Fraction(0)
    return value, half


def _shape(written: str, text: str) -> Shape:
    parts = re.split(r"\s*[x×*,]\s*", written.strip().strip("()[]"))
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        raise NetsizeError(f"claim {text!r}: {written!r} is not a shape (write e.g. 13x13x256)") from None
    if not dims or any(d <= 0 for d in dims):
        raise NetsizeError(f"claim {text!r}: {written!r} is not a shape (write e.g. 13x13x256)")
    return dims


def parse_claim(text: str, tolerance: str | None = None, source: str = "") -> Claim:
    """``"conv5.output=27x27x256"`` -> a :class:`Claim`. The layer is everything before the last dot."""
    name, sep, written = text.partition("=")
    if not sep or not name.strip() or not written.strip():
        raise NetsizeError(f"claim {text!r}: write QUANTITY=VALUE or LAYER.QUANTITY=VALUE, e.g. params=60M")
    name = name.strip()
    layer, dot, qty = name.rpartition(".")
    if not dot:
        layer, qty = "", name
    quantity = _quantity(qty, text)
    if quantity in _SHAPES:
        if not layer:
            raise NetsizeError(f"claim {text!r}: a shape claim names its layer, e.g. conv5.output=13x13x256")
        return Claim(text, layer, quantity, written.strip(), shape=_shape(written, text), tolerance=tolerance,
                     source=source)  # fmt: skip
    value, half = _number(written, quantity, text)
    return Claim(text, layer or None, quantity, written.strip(), value, half, tolerance=tolerance, source=source)


def _allowed(claim: Claim, actual: int) -> Fraction:
    tol = claim.tolerance
    if tol is None:
        return claim.precision
    t = str(tol).strip()
    try:
        if t.endswith("%"):
            return abs(Fraction(Decimal(t[:-1])) / 100 * actual)
        return abs(Fraction(Decimal(t)))
    except (InvalidOperation, ValueError):
        raise NetsizeError(f"tolerance {tol!r} is not a number or a percentage (e.g. 1% or 1000)") from None


def _actual(summary: Summary, record: LayerRecord | None, quantity: str, dtype: str) -> int:
    src: Any = record if record is not None else summary.totals
    if quantity == "activations":
        return int(src.activation_elements)
    if quantity == "activation_bytes":
        return dtype_bytes(int(src.activation_elements), dtype)
    if quantity == "model_size":
        return dtype_bytes(int(src.params), dtype)
    if quantity in ("weights", "biases") and record is None:
        return sum(getattr(r, quantity) for r in summary.layers)
    return int(getattr(src, quantity))


def _shape_readings(shape: Shape) -> list[tuple[str, Shape]]:
    """The ways a per-layer shape is written: with or without the batch, channels first or last."""
    per_sample = shape[1:]
    out = [("per sample", per_sample), ("with batch", shape)]
    if len(per_sample) >= 2:
        last = (*per_sample[1:], per_sample[0])
        out += [("per sample, channels last", last), ("with batch, channels last", (shape[0], *last))]
    if len(per_sample) == 1:
        out += [("as a column", (per_sample[0], 1)), ("as a row", (1, per_sample[0]))]
    return out


def _where_else(summary: Summary, claimed: Shape) -> list[str]:
    names = [r.name for r in summary.layers if any(s == claimed for _, s in _shape_readings(r.output_shape))]
    return names


def _record(summary: Summary, claim: Claim) -> LayerRecord:
    """The layer, or the block (``layer1``, ``enc5``) summed over its layers, that a claim names."""
    assert claim.layer is not None
    try:
        return summary.layer(claim.layer)
    except NetsizeError as err:
        for r in summary.rows(depth=claim.layer.count(".") + 1):  # the claim's own level (torchinfo's depth)
            if r.name == claim.layer:
                return r
        raise NetsizeError(f"claim {claim.text!r}: {err}") from None


def _breakdown(summary: Summary, quantity: str) -> str:
    """Where a network total comes from: its sum by layer kind, largest first."""
    field_name = {"activation_bytes": "activation_elements", "activations": "activation_elements",
                  "model_size": "params"}.get(quantity, quantity)  # fmt: skip
    by_kind: dict[str, int] = {}
    for r in summary.layers:
        by_kind[r.kind] = by_kind.get(r.kind, 0) + int(getattr(r, field_name))
    parts = sorted(((v, k) for k, v in by_kind.items() if v), reverse=True)
    what = "elements" if field_name == "activation_elements" else field_name.replace("_", "-")
    return f"{what} by layer kind: " + ", ".join(f"{k} {v:,}" for v, k in parts)


def _check_one(summary: Summary, claim: Claim, dtype: str, lang: str = "en") -> ClaimResult:
    record = None
    if claim.layer:
        record = _record(summary, claim)
    if claim.shape is not None:
        assert record is not None
        shape = record.output_shape if claim.quantity == "output" else record.input_shapes[0]
        holds = any(s == claim.shape for _, s in _shape_readings(shape))
        actual = shape_str(shape)
        lines: list[str] = []
        if not holds:
            n_terms = len(record.analysis.shape_terms) if record.analysis else 0
            lines = explain_record(record, lang).splitlines()[: 3 + n_terms]
            others = [n for n in _where_else(summary, claim.shape) if n != record.name]
            if others:
                lines.append(f"{'x'.join(map(str, claim.shape))} is the {claim.quantity} of {', '.join(others[:4])}: "
                             "perhaps a size carried over from there")  # fmt: skip
        return ClaimResult(claim, holds, actual, None, None, tuple(lines))
    actual_value = _actual(summary, record, claim.quantity, dtype)
    assert claim.value is not None
    diff = claim.value - actual_value
    holds = abs(diff) <= _allowed(claim, actual_value)
    error = float(diff / actual_value) if actual_value else None
    lines = []
    if not holds:
        if error is not None:
            lines.append(f"claimed {claim.written} is {error:+.1%} off the true {actual_value:,}")
        if record is not None:
            lines += explain_record(record, lang).splitlines()
        elif claim.quantity in ("params", "multiply_adds", "flops", "activations", "activation_bytes", "model_size"):
            lines.append(_breakdown(summary, claim.quantity))
    return ClaimResult(claim, holds, f"{actual_value:,}", actual_value, error, tuple(lines))


def check(summary: Summary, claims: list[str | Claim], tolerance: str | None = None,
          dtype: str = "float32", lang: str = "en") -> list[ClaimResult]:  # fmt: skip
    """Check each claim (text or :class:`Claim`) against ``summary``; explanations in ``lang``."""
    parsed = [parse_claim(c, tolerance) if isinstance(c, str) else c for c in claims]
    return [_check_one(summary, c, dtype, lang) for c in parsed]
