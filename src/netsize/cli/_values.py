"""Types of command-line options (the parser itself makes every mistake one line: cli/__init__.py).

Every malformed option (``-b 0``, ``--width 5``, ``--throughput nan``) is refused with one line
``netsize: error: OPTION: what is wrong`` and exit status 2. The values a TARGET takes (shapes,
``--var``) are parsed by :mod:`netsize._target`.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

# The bounds live in netsize._limits, imported when a value is parsed: `netsize --help` builds
# every parser without importing the engine (tests/cli/test_cli_consistent.py).
MAX_INT = 2**62  # = netsize._limits.MAX_INT; tests/test_bad_input.py checks they agree


def positive_int(text: str) -> int:
    """An ``argparse`` type: an integer from 1 to 2**62."""
    try:
        value = int(text.replace("_", "")) if len(text) <= 30 else None
    except ValueError:
        value = None
    if value is None or not 0 < value <= MAX_INT:
        raise argparse.ArgumentTypeError(f"must be a positive integer up to 2**62 (got {_brief(text)})")
    return value


def non_negative_int(text: str) -> int:
    """An ``argparse`` type: an integer from 0 to 2**62."""
    if text.strip() == "0":
        return 0
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"must be an integer of 0 or more (got {_brief(text)})") from None


def columns(text: str) -> int:
    """An ``argparse`` type: a terminal width from 20 to 10,000 columns."""
    try:
        value = int(text) if len(text) <= 10 else 0
    except ValueError:
        value = 0
    if not 20 <= value <= 10_000:
        raise argparse.ArgumentTypeError(f"must be a width from 20 to 10000 columns (got {_brief(text)})")
    return value


def positive_float(text: str) -> float:
    """An ``argparse`` type: a finite number above 0 (``nan`` and ``inf`` are refused)."""
    try:
        value = float(text) if len(text) <= 40 else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0 (got {_brief(text)})")
    return value


def fraction(text: str) -> float:
    """An ``argparse`` type: a number in (0, 1]."""
    try:
        value = positive_float(text)
    except argparse.ArgumentTypeError:
        value = math.nan
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be a fraction above 0 and at most 1, e.g. 0.4 (got {_brief(text)})")
    return value


def _brief(text: str) -> str:
    return _short(text)


def _short(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."
