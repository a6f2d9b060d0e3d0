"""A count that carries its own formula, so totals and explanations cannot drift apart."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import field

from netsize._i18n import translate
from netsize._record import record


@record
class Message:
    """A translatable note: a catalogue key and the values it mentions."""

    key: str
    params: tuple[tuple[str, object], ...] = ()

    def render(self, lang: str = "en") -> str:
        return translate(self.key, lang, **dict(self.params))


def message(key: str, **params: object) -> Message:
    return Message(key, tuple(params.items()))


@record
class Term:
    """One named count: ``name = symbolic = substituted = value``.

    ``name`` is a catalogue key or a symbol such as ``O_H``; ``symbolic`` the formula in
    letters (``K_h*K_w*C_in*C_out``); ``substituted`` the same with the layer's own values
    (``11*11*3*96``). ``value`` is always an exact int.

    >>> Term("weights", 34848, "K_h*K_w*C_in*C_out", "11*11*3*96").render()
    'weights = K_h*K_w*C_in*C_out = 11*11*3*96 = 34,848'
    """

    name: str
    value: int
    symbolic: str = ""
    substituted: str = ""
    notes: tuple[Message, ...] = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.value, int) or isinstance(self.value, bool):
            raise TypeError(f"Term {self.name!r} value must be int, got {type(self.value).__name__}")

    def render(self, lang: str = "en") -> str:
        """``name = symbolic = substituted = value  (notes)`` in ``lang``; in Chinese the formula's
        words follow the glossary (:mod:`netsize._glossary`) and notes take full-width punctuation."""
        from netsize._glossary import formula, list_separator

        name, bracket, rest = self.name.partition("[")  # "weights_bytes[int8]": a quantity per dtype
        label = translate(name, lang)
        parts = [(formula(label, lang) if label == name else label) + bracket + rest]
        for part in (self.symbolic, self.substituted):
            if part and part not in parts and part != str(self.value):
                parts.append(part)
        if self.symbolic and len(parts) > 1 and parts[1] == self.symbolic:
            parts[1] = formula(self.symbolic, lang)
        parts.append(f"{self.value:,}")
        text = " = ".join(parts)
        if self.notes:
            notes = list_separator(lang).join(n.render(lang) for n in self.notes)
            text += f"（{notes}）" if lang == "zh" else f"  ({notes})"
        return text


def total(name: str, terms: Iterable[Term], symbolic: str = "") -> Term:
    """A term that is the sum of others, showing each part's value."""
    items = [t for t in terms]
    value = sum(t.value for t in items)
    substituted = " + ".join(f"{t.value}" for t in items) if len(items) > 1 else ""
    return Term(name, value, symbolic, substituted)


def prod_str(*factors: int) -> str:
    """``11*11*3*96`` for the substituted form of a product."""
    return "*".join(str(f) for f in factors)


def floor_div_exact(numerator: int, denominator: int, ceil: bool = False) -> tuple[int, tuple[Message, ...]]:
    """Integer division (floor or ceil) with a note when the division is not exact.

    >>> floor_div_exact(213, 4)[0]
    53
    >>> floor_div_exact(213, 4)[1][0].render()
    'not exact: 213/4 = 53.25, floored to 53'
    """
    result = -(-numerator // denominator) if ceil else numerator // denominator
    if numerator % denominator == 0:
        return result, ()
    key = "note.ceiled" if ceil else "note.floored"
    note = message(
        key,
        numerator=numerator,
        denominator=denominator,
        fraction=fraction_str(numerator, denominator),
        result=result,
    )
    return result, (note,)


def fraction_str(numerator: int, denominator: int, digits: int = 4) -> str:
    """A short decimal for a fraction: ``53.25``, ``0.3333``."""
    value = numerator / denominator  # int / int is correctly rounded, as float(Fraction(n, d))
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return text
