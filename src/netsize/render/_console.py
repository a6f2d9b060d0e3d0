"""Writing rich renderables to stdout: at the terminal's width in a terminal; unlimited width,
no colour and no trailing spaces when the output is piped or redirected, so that no column is
dropped and no line is cut for a pipe."""

from __future__ import annotations

import io
import sys
from typing import Any

# A width no table reaches: when stdout is not a terminal, lines are as long as their content.
UNLIMITED = 100_000


def emit(renderable: Any, width: int | None = None, file: Any = None) -> None:
    """Print ``renderable`` to ``file`` (default stdout)."""
    from rich.console import Console

    out = file if file is not None else sys.stdout
    if _is_terminal(out):
        Console(file=out, width=width, emoji=False, markup=False).print(renderable)
        return
    # markup and emoji off: a layer or model name like "head[0]" or ":fire:" is printed as it is.
    console = Console(width=width or UNLIMITED, file=io.StringIO(), color_system=None, force_terminal=False,
                      record=True, soft_wrap=False, emoji=False, markup=False)
    from rich.console import Group
    from rich.text import Text

    parts = [renderable]
    while any(isinstance(p, Group) for p in parts):
        parts = [q for p in parts for q in (p.renderables if isinstance(p, Group) else [p])]
    for part in parts:
        if isinstance(part, Text) and _fits(part.plain, width or UNLIMITED):
            # Without colour and within the width, rich prints a text's characters as they are; a
            # 10,000-row table drawn by rich's line splitting and segments took 0.5 s, written here 10 ms.
            out.write(plain_text(console.export_text()))
            out.write(plain_text(part.plain + part.end))
        else:
            console.print(part)
    out.write(plain_text(console.export_text()))


def _fits(text: str, width: int) -> bool:
    """Whether no line of ``text`` can reach ``width`` cells (two cells a character at most) and
    no tab needs expanding."""
    return "\t" not in text and 2 * max(map(len, text.split("\n"))) < width


def render_text(renderable: Any, width: int = 80) -> str:
    """``renderable`` as plain text at ``width`` columns, without trailing spaces."""
    from rich.console import Console

    console = Console(width=width, file=io.StringIO(), color_system=None, force_terminal=False, record=True)
    console.print(renderable)
    return plain_text(console.export_text())


def plain_text(text: str) -> str:
    return "".join(line.rstrip() + "\n" for line in text.splitlines())


def _is_terminal(out: Any) -> bool:
    try:
        return bool(out.isatty())
    except (AttributeError, ValueError):
        return False
