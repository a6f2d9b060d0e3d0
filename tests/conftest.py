"""Shared test setup: modules that need torch are not collected where torch is missing."""

from __future__ import annotations

import importlib.util

collect_ignore: list[str] = []
if importlib.util.find_spec("torch") is None:
    collect_ignore.append("torch_models.py")
