"""The terminal table (rich)."""

from __future__ import annotations

import io
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Console, Group
from rich.table import Table
from rich.text import Span, Text

from netsize._i18n import translate
from netsize._summary import LayerRecord, Summary, explain_records
from netsize.render._format import convention_line, count, footer_items, keras_shape, printable, shape, title


def table(
    summary: Summary,
    *,
    depth: int | None = None,
    lang: str = "en",
    dtype: str = "float32",
    explain: bool = False,
    width: int = 120,
) -> Group:
    """A rich renderable: title, per-layer table with totals, footer lines, optional formulas.

    Columns are left out, in this order, until the table fits in ``width`` columns: Kind
    (``netsize explain`` and wider terminals show it), then Activations (its total stays in the
    footer). Shapes and numbers never fold; a long layer name folds (to 16 columns at least).
    """
    rows = summary.rows(depth)
    totals = summary.totals
    heads = [translate(k, lang) for k in ("render.layer", "render.kind", "render.output_shape", "render.params",
                                           "render.multiply_adds", "render.activations")]
    keras = summary.convention == "keras" and summary.batch_size == 1
    cells = [_cells(r, keras) for r in rows]
    foot = [translate("render.total", lang), "", "", count(totals.params), count(totals.multiply_adds),
            count(totals.activation_elements)]
    widths = [max(_cell_len(str(c[i])) for c in [heads, foot, *cells]) for i in range(len(heads))]
    # When every name fits on one line the table is drawn as one aligned text (see _aligned);
    # otherwise a long layer name may fold to 16 columns before columns are left out.
    fixed = sum(widths) + 2 * len(widths) - 1 <= width
    if not fixed:
        widths[0] = min(widths[0], 16)
    shown = list(range(len(heads)))
    for optional in (1, 5):  # Kind, then Activations
        if sum(widths[i] for i in shown) + 2 * len(shown) - 1 <= width:
            break
        shown.remove(optional)
    dropped = [heads[i] for i in (1, 5) if i not in shown]
    t: Any
    if fixed:
        t = _aligned(title(summary, lang), [heads[i] for i in shown], [[c[i] for i in shown] for c in cells],
                     [foot[i] for i in shown], [widths[i] for i in shown], [i >= 3 for i in shown],
                     kind_column=shown.index(1) if 1 in shown else None)
    else:
        t = _rich_table(title(summary, lang), heads, foot, cells, shown)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in footer_items(summary, lang, dtype):
        grid.add_row(label, value)
    parts: list[Any] = [t, grid, Text(convention_line(summary.convention, lang), style="dim")]
    parts += [Text(printable(translate("render.note", lang, note=note)), style="yellow") for note in summary.notes]
    if dropped:
        parts.append(Text(translate("render.dropped", lang, columns=", ".join(dropped), width=width), style="dim"))
    if explain:
        parts += [Text(""), Text(translate("render.formulas", lang), style="bold")]
        # one text (each explanation and a blank line): a Text each was most of the time on 10,000 layers
        texts = explain_records(summary.layers, lang)
        parts.append(Text("".join(printable(t) + "\n\n" for t in texts)[:-1]))
    return Group(*parts)


def _rich_table(title_text: str, heads: list[str], foot: list[str], cells: list[list[str]],
                shown: list[int]) -> Table:
    """The table when a layer name must fold to fit: rich measures and wraps."""
    t = Table(
        title=Text(title_text, style="bold"),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_footer=True,
        pad_edge=False,
        padding=(0, 1),
        header_style="bold",
        footer_style="bold",
    )
    for i in shown:
        if i >= 2:
            t.add_column(heads[i], footer=foot[i], justify="right" if i >= 3 else "left", no_wrap=True)
        else:
            t.add_column(heads[i], footer=foot[i], overflow="fold", style="cyan" if i == 1 else None)
    for c in cells:
        t.add_row(*(c[i] for i in shown))
    return t


def _aligned(title_text: str, heads: list[str], rows: list[list[str]], foot: list[str], widths: list[int],
             right: list[bool], kind_column: int | None) -> Group:
    """The table when every cell fits on one line: one Text, each column padded to its width, laid
    out as rich's SIMPLE_HEAD box draws it. Rich drawing 150 rows cell by cell was most of the time
    of `netsize summary resnet50` (README, start-up); one text draws in a fraction of it."""

    def line(cells: list[str]) -> str:
        parts = [(c.rjust if r else c.ljust)(w - _cell_len(c) + len(c)) for c, w, r in zip(cells, widths, right,
                                                                                           strict=True)]
        return " " + "  ".join(parts)

    total_width = sum(widths) + 2 * len(widths)
    starts = [1 + sum(widths[:i]) + 2 * i for i in range(len(widths))]
    text = Text("\n")
    text.append(line(heads) + "\n", style="bold")
    text.append(" " + "─" * (total_width - 2) + "\n")
    # The body is joined once and its Kind cells coloured by spans: appending and styling row by
    # row was most of the time of a 10,000-row table.
    body = [line(cells) + "\n" for cells in rows]
    at = len(text)
    text.append("".join(body))
    if kind_column is not None:
        first, last = starts[kind_column], starts[kind_column] + widths[kind_column]
        for row in body:
            text.spans.append(Span(at + first, at + last, "cyan"))
            at += len(row)
    text.append("\n")
    text.append(line(foot) + "\n", style="bold")
    text.no_wrap = True
    text.overflow = "ignore"
    return Group(Text(title_text, style="bold"), text)  # the title wraps in a narrow terminal


def _cell_len(text: str) -> int:
    # ASCII takes one cell a character; rich measures the rest (wide characters take two)
    return len(text) if text.isascii() else cell_len(text)


def _cells(r: LayerRecord, keras: bool = False) -> list[str]:
    # Keras models show their batch axis as None, as model.summary() does: (None, 111, 111, 16).
    out = keras_shape(r.output_shape) if keras else shape(r.output_shape)
    return [printable(r.name), printable(r.kind), out, count(r.params), count(r.multiply_adds),
            count(r.activation_elements)]


def print_table(summary: Summary, console: Console | None = None, width: int | None = None,
                **options: Any) -> None:
    """Print the table to ``console``; by default to stdout at the terminal's width, or at full
    width without trailing spaces when stdout is not a terminal (a pipe keeps every column)."""
    if console is None:
        import sys

        from netsize.render._console import UNLIMITED, _is_terminal, emit

        if width is None and not _is_terminal(sys.stdout):
            width = UNLIMITED
        if width is None:
            width = Console().width
        emit(table(summary, width=width, **options), width=width)
        return
    console.print(table(summary, width=width or console.width, **options))


def table_text(summary: Summary, width: int = 80, **options: Any) -> str:
    """The table as plain text at ``width`` columns (no colour, no trailing spaces)."""
    # force_jupyter=False: inside a notebook rich would otherwise display the table instead of returning it.
    console = Console(
        width=width, record=True, file=io.StringIO(), color_system=None, force_terminal=False, force_jupyter=False
    )
    print_table(summary, console, **options)
    return "\n".join(line.rstrip() for line in console.export_text().splitlines()) + "\n"
