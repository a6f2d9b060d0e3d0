"""Renderers of a :class:`~netsize.Summary`: terminal table (rich), JSON, CSV, Markdown; and of
every other result (reports, listings, checks, comparisons, plans, plots, the HTML page).

They format what the analysis computed and compute nothing themselves. ``rich`` is imported
only when a table is drawn. This face is what other packages use; the renderers of other
results (:data:`_LAZY`) are imported on first use, so that a command pays only for its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from netsize._summary import Summary
from netsize.render._format import convention_line, footer_items, footer_lines
from netsize.render._text import CSV_COLUMNS, to_csv, to_json, to_markdown

FORMATS = ("table", "json", "csv", "markdown")

# name -> the module of this package that defines it, imported when the name is first used
_LAZY: dict[str, str] = {
    "check_csv": "_check", "check_markdown": "_check", "check_text": "_check",
    "compare_csv": "_compare", "compare_markdown": "_compare", "compare_text": "_compare",
    "printable": "_format",
    "page": "_html",
    "emit_listing": "_listing",
    "plan_csv": "_plan", "plan_markdown": "_plan", "plan_text": "_plan",
    "plot_memory": "_plot", "plot_summary": "_plot",
    "emit": "_report", "llm_rows": "_report", "llm_title": "_report", "memory_detail": "_report",
    "memory_rows": "_report", "memory_title": "_report", "schedule_rows": "_report",
}  # fmt: skip

__all__ = [
    "CSV_COLUMNS",
    "FORMATS",
    "check_csv",
    "check_markdown",
    "check_text",
    "compare_csv",
    "compare_markdown",
    "compare_text",
    "convention_line",
    "emit",
    "emit_listing",
    "footer_items",
    "footer_lines",
    "llm_rows",
    "llm_title",
    "memory_detail",
    "memory_rows",
    "memory_title",
    "page",
    "plan_csv",
    "plan_markdown",
    "plan_text",
    "plot_memory",
    "plot_summary",
    "print_table",
    "printable",
    "render",
    "schedule_rows",
    "table_text",
    "to_csv",
    "to_json",
    "to_markdown",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:  # the same names, for type checkers (tests/test_strata.py keeps _LAZY complete)
    from netsize.render._check import check_csv, check_markdown, check_text
    from netsize.render._compare import compare_csv, compare_markdown, compare_text
    from netsize.render._format import printable
    from netsize.render._html import page
    from netsize.render._listing import emit_listing
    from netsize.render._plan import plan_csv, plan_markdown, plan_text
    from netsize.render._plot import plot_memory, plot_summary
    from netsize.render._report import (
        emit,
        llm_rows,
        llm_title,
        memory_detail,
        memory_rows,
        memory_title,
        schedule_rows,
    )


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
