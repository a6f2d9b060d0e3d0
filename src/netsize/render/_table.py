"""The terminal table (rich)."""

from __future__ import annotations

import io
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from netsize._i18n import translate
from netsize._summary import LayerRecord, Summary, explain_record
from netsize.render._format import convention_line, count, footer_items, shape, title


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
    cells = [_cells(r) for r in rows]
    foot = [translate("render.total", lang), "", "", count(totals.params), count(totals.multiply_adds),
            count(totals.activation_elements)]
    widths = [max(cell_len(str(c[i])) for c in [heads, foot, *cells]) for i in range(len(heads))]
    widths[0] = min(widths[0], 16)  # a long layer name may fold to this width before columns go
    shown = list(range(len(heads)))
    for optional in (1, 5):  # Kind, then Activations
        if sum(widths[i] for i in shown) + 2 * len(shown) - 1 <= width:
            break
        shown.remove(optional)
    t = Table(
        title=Text(title(summary, lang), style="bold"),
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
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in footer_items(summary, lang, dtype):
        grid.add_row(label, value)
    parts: list[Any] = [t, grid, Text(convention_line(summary.convention, lang), style="dim")]
    parts += [Text(f"Note: {note}", style="yellow") for note in summary.notes]
    if explain:
        parts += [Text(""), Text(translate("render.formulas", lang), style="bold")]
        parts += [Text(explain_record(record, lang) + "\n") for record in summary.layers]
    return Group(*parts)


def _cells(r: LayerRecord) -> list[str]:
    return [r.name, r.kind, shape(r.output_shape), count(r.params), count(r.multiply_adds),
            count(r.activation_elements)]


def print_table(summary: Summary, console: Console | None = None, **options: Any) -> None:
    """Print the table to ``console`` (default: stdout, terminal width)."""
    console = console or Console()
    console.print(table(summary, width=console.width, **options))


def table_text(summary: Summary, width: int = 80, **options: Any) -> str:
    """The table as plain text at ``width`` columns (no colour, no trailing spaces)."""
    # force_jupyter=False: inside a notebook rich would otherwise display the table instead of returning it.
    console = Console(
        width=width, record=True, file=io.StringIO(), color_system=None, force_terminal=False, force_jupyter=False
    )
    print_table(summary, console, **options)
    return "\n".join(line.rstrip() for line in console.export_text().splitlines()) + "\n"
