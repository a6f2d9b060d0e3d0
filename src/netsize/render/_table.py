"""The terminal table (rich)."""

from __future__ import annotations

import io
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Span, Text

from netsize._i18n import translate
from netsize._summary import Summary, explain_records
from netsize.render._format import convention_line, footer_items, printable, title
from netsize.render._plain import (
    OPTIONAL_COLUMNS,
    RIGHT_ALIGNED_FROM,
    aligned_line,
    column_widths,
    columns,
    rule,
)


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
    heads, cells, foot = columns(summary, depth, lang)
    widths = column_widths(heads, cells, foot)
    # When every name fits on one line the table is drawn as one aligned text (see _aligned);
    # otherwise a long layer name may fold to 16 columns before columns are left out.
    fixed = sum(widths) + 2 * len(widths) - 1 <= width
    if not fixed:
        widths[0] = min(widths[0], 16)
    shown = list(range(len(heads)))
    for optional in OPTIONAL_COLUMNS:
        if sum(widths[i] for i in shown) + 2 * len(shown) - 1 <= width:
            break
        shown.remove(optional)
    dropped = [heads[i] for i in OPTIONAL_COLUMNS if i not in shown]
    t: Any
    if fixed:
        t = _aligned(title(summary, lang), [heads[i] for i in shown], [[c[i] for i in shown] for c in cells],
                     [foot[i] for i in shown], [widths[i] for i in shown],
                     [i >= RIGHT_ALIGNED_FROM for i in shown],
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
            t.add_column(heads[i], footer=foot[i], justify="right" if i >= RIGHT_ALIGNED_FROM else "left",
                         no_wrap=True)
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

    starts = [1 + sum(widths[:i]) + 2 * i for i in range(len(widths))]
    text = Text("\n")
    text.append(aligned_line(heads, widths, right) + "\n", style="bold")
    text.append(rule(widths) + "\n")
    # The body is joined once and its Kind cells coloured by spans: appending and styling row by
    # row was most of the time of a 10,000-row table.
    body = [aligned_line(cells, widths, right) + "\n" for cells in rows]
    at = len(text)
    text.append("".join(body))
    if kind_column is not None:
        first, last = starts[kind_column], starts[kind_column] + widths[kind_column]
        for row in body:
            text.spans.append(Span(at + first, at + last, "cyan"))
            at += len(row)
    text.append("\n")
    text.append(aligned_line(foot, widths, right) + "\n", style="bold")
    text.no_wrap = True
    text.overflow = "ignore"
    return Group(Text(title_text, style="bold"), text)  # the title wraps in a narrow terminal


def print_table(summary: Summary, console: Console | None = None, width: int | None = None,
                **options: Any) -> None:
    """Print the table to ``console``; by default to stdout at ``width`` or the terminal's width.
    (Stdout that is not a terminal, without a width, never gets here: :func:`netsize.render.print_table`
    writes it as plain text without importing rich.)"""
    if console is None:
        from netsize.render._console import emit

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
