"""The summary table's columns and aligned lines, without rich.

The terminal table (:mod:`netsize.render._table`) draws these lines with rich's styles; when
the output is not a terminal (a pipe, a file) nothing is styled and nothing wraps, so the same
lines are written as they are and rich is not imported at all: importing and running rich was
about half of the time of ``netsize summary resnet50 | ...`` (issue 10).
"""

from __future__ import annotations

import unicodedata

from netsize._i18n import translate
from netsize._summary import LayerRecord, Summary, explain_records
from netsize.render._format import convention_line, count, footer_items, keras_shape, printable, shape, title

RULE = "─"
OPTIONAL_COLUMNS = (1, 5)  # left out in this order when the table is too wide: Kind, then Activations
RIGHT_ALIGNED_FROM = 3  # Params, Mult-adds and Activations are numbers


def cell_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: East Asian wide and full-width characters take two,
    combining marks and zero-width characters none (as rich's ``cell_len`` counts them)."""
    if text.isascii():
        return len(text)
    width = 0
    for ch in text:
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def columns(summary: Summary, depth: int | None, lang: str) -> tuple[list[str], list[list[str]], list[str]]:
    """The table's header, one row of cells per layer, and the totals row."""
    heads = [translate(k, lang) for k in ("render.layer", "render.kind", "render.output_shape", "render.params",
                                           "render.multiply_adds", "render.activations")]
    keras = summary.convention == "keras" and summary.batch_size == 1
    cells = [_cells(r, keras) for r in summary.rows(depth)]
    totals = summary.totals
    foot = [translate("render.total", lang), "", "", count(totals.params), count(totals.multiply_adds),
            count(totals.activation_elements)]
    return heads, cells, foot


def _cells(r: LayerRecord, keras: bool = False) -> list[str]:
    # Keras models show their batch axis as None, as model.summary() does: (None, 111, 111, 16).
    out = keras_shape(r.output_shape) if keras else shape(r.output_shape)
    return [printable(r.name), printable(r.kind), out, count(r.params), count(r.multiply_adds),
            count(r.activation_elements)]


def column_widths(heads: list[str], cells: list[list[str]], foot: list[str]) -> list[int]:
    return [max(cell_width(c[i]) for c in [heads, foot, *cells]) for i in range(len(heads))]


def aligned_line(cells: list[str], widths: list[int], right: list[bool]) -> str:
    """One row, each cell padded to its column's width, two spaces apart, as rich's SIMPLE_HEAD
    box lays a table out."""
    parts = [(c.rjust if r else c.ljust)(w - cell_width(c) + len(c)) for c, w, r in zip(cells, widths, right,
                                                                                       strict=True)]
    return " " + "  ".join(parts)


def rule(widths: list[int]) -> str:
    return " " + RULE * (sum(widths) + 2 * len(widths) - 2)


def plain_table(summary: Summary, *, depth: int | None = None, lang: str = "en", dtype: str = "float32",
                explain: bool = False) -> str:
    """The table as it reads in a pipe: every column, no styles, no trailing spaces."""
    heads, cells, foot = columns(summary, depth, lang)
    widths = column_widths(heads, cells, foot)
    right = [i >= RIGHT_ALIGNED_FROM for i in range(len(heads))]
    lines = [title(summary, lang), "", aligned_line(heads, widths, right), rule(widths)]
    lines += [aligned_line(c, widths, right) for c in cells]
    lines += ["", aligned_line(foot, widths, right), ""]
    items = footer_items(summary, lang, dtype)
    label_width = max((cell_width(label) for label, _ in items), default=0)
    lines += [label + " " * (label_width - cell_width(label) + 2) + value for label, value in items]
    lines.append(convention_line(summary.convention, lang))
    lines += [printable(translate("render.note", lang, note=note)) for note in summary.notes]
    if explain:
        lines += ["", translate("render.formulas", lang)]
        for text in explain_records(summary.layers, lang):
            lines += [printable(text), ""]
    return "".join(line.rstrip() + "\n" for item in lines for line in item.splitlines() or [""])
