"""Options every subcommand shares, spelled once: ``--format``, ``--lang``, ``--explain``.

Subcommand modules import only ``argparse`` and this module at import time (``netsize --help``
imports all of them); the work is imported inside their ``run``.
"""

from __future__ import annotations

import argparse
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Any

FORMATS = ("table", "json", "csv", "markdown")
LANGUAGES = ("en", "zh")
SCHEMA_VERSION = 1


def _format_name(text: str) -> str:
    # "text" was the table's name in llm and schedule before every command took the same four.
    return "table" if text.lower() == "text" else text.lower()


def add_format(parser: argparse.ArgumentParser, formats: tuple[str, ...] = FORMATS) -> None:
    """``-f/--format`` with the formats this command can write (default table)."""
    parser.add_argument("-f", "--format", choices=formats, default="table", type=_format_name,
                        help=f"output format: {', '.join(formats)} (default table)")


def add_lang(parser: argparse.ArgumentParser, what: str = "labels and formulas") -> None:
    """``--lang en|zh``."""
    parser.add_argument("--lang", choices=LANGUAGES, default="en", type=str.lower,
                        help=f"language of {what}: en or zh (default en)")


def add_explain(parser: argparse.ArgumentParser, what: str = "every figure's formula with its values") -> None:
    parser.add_argument("--explain", action="store_true", help=f"also print {what}")


def add_width(parser: argparse.ArgumentParser) -> None:
    from netsize.cli._values import columns

    parser.add_argument("--width", type=columns, metavar="COLUMNS",
                        help="table width (default: the terminal's; unlimited when output is not a terminal)")


def print_json(data: Any) -> None:
    """``data`` as indented JSON with non-ASCII text kept readable (``--lang zh``)."""
    import json

    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def with_schema(data: dict[str, Any]) -> dict[str, Any]:
    """Every JSON object of the command line starts with its ``schema_version`` (docs/json.md)."""
    return {"schema_version": SCHEMA_VERSION, **data}
