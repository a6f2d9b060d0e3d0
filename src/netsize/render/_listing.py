"""Plain listings (``netsize zoo``, ``netsize layers``): a header row and text cells, in every
format. Formatting only."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from netsize._i18n import register_messages, translate

register_messages(
    {
        "listing.name": {"en": "Name", "zh": "名称"},
        "listing.field": {"en": "Field", "zh": "字段"},
        "listing.source": {"en": "source", "zh": "来源"},
        "listing.input_per_sample": {"en": "input (per sample)", "zh": "输入（每个样本）"},
        "listing.convention": {"en": "convention", "zh": "计数约定"},
        "listing.variables": {"en": "variables (--var NAME=VALUE)", "zh": "变量（--var NAME=VALUE）"},
        "listing.value": {"en": "Value", "zh": "值"},
        "listing.input": {"en": "Input", "zh": "输入"},
        "listing.description": {"en": "Description", "zh": "说明"},
        "listing.kind": {"en": "Kind", "zh": "类型"},
        "listing.spec_names": {"en": "Spec names", "zh": "规格文件中的名称"},
    }
)


def emit_listing(fmt: str, keys: Sequence[str], cells: Sequence[Sequence[str]], data: object, *,
                 lang: str = "en", width: int | None = None) -> None:
    """``keys`` name the columns (``listing.<key>`` labels them); ``data`` is the JSON."""
    if fmt == "json":
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return
    if fmt == "csv":
        from netsize.render._format import csv_text

        sys.stdout.write(csv_text(keys, cells))
        return
    heads = [translate(f"listing.{k}", lang) for k in keys]
    if fmt == "markdown":
        lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
        sys.stdout.write("\n".join(lines) + "\n")
        return
    from rich import box
    from rich.table import Table

    from netsize.render._console import emit

    t = Table(box=box.SIMPLE_HEAD, pad_edge=False, header_style="bold")
    for i, head in enumerate(heads):
        last = i == len(heads) - 1
        t.add_column(head, no_wrap=not last, overflow="fold", style="bold" if i == 0 else None)
    for row in cells:
        t.add_row(*row)
    emit(t, width=width)
