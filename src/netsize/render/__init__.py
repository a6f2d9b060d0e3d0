"""Renderers of a :class:`~netsize.Summary`: terminal table (rich), JSON, CSV, Markdown.

They format what the analysis computed and compute nothing themselves. ``rich`` is imported
only when a table is drawn.
"""

from __future__ import annotations

from typing import Any

from netsize._summary import Summary
from netsize.render._format import convention_line, footer_items, footer_lines
from netsize.render._text import CSV_COLUMNS, to_csv, to_json, to_markdown

FORMATS = ("table", "json", "csv", "markdown")

__all__ = [
    "CSV_COLUMNS",
    "FORMATS",
    "convention_line",
    "footer_items",
    "footer_lines",
    "print_table",
    "render",
    "table_text",
    "to_csv",
    "to_json",
    "to_markdown",
]


def print_table(summary: Summary, console: Any = None, **options: Any) -> None:
    """Print the rich table to ``console`` (default stdout at the terminal's width; when stdout
    is not a terminal and no width is given, every column in plain text, without rich)."""
    if console is None and options.get("width") is None:
        import sys

        from netsize.render._console import _is_terminal

        if not _is_terminal(sys.stdout):
            from netsize.render._plain import plain_table

            sys.stdout.write(plain_table(summary, **{k: v for k, v in options.items() if k != "width"}))
            return
    from netsize.render._table import print_table as _print

    _print(summary, console, **options)


def table_text(summary: Summary, width: int = 80, **options: Any) -> str:
    """The terminal table as plain text at ``width`` columns."""
    from netsize.render._table import table_text as _text

    return _text(summary, width, **options)


def render(
    summary: Summary,
    fmt: str = "table",
    *,
    depth: int | None = None,
    lang: str = "en",
    dtype: str = "float32",
    explain: bool = False,
    width: int = 80,
) -> str:
    """The summary as text in ``fmt`` (``table``, ``json``, ``csv`` or ``markdown``)."""
    if fmt == "json":
        return to_json(summary, depth, explain=explain, lang=lang)
    if fmt == "csv":
        return to_csv(summary, depth)
    if fmt == "markdown":
        return to_markdown(summary, depth, lang=lang, dtype=dtype, explain=explain)
    if fmt == "table":
        return table_text(summary, width, depth=depth, lang=lang, dtype=dtype, explain=explain)
    from netsize._errors import NetsizeError

    raise NetsizeError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
