"""Shared test setup: modules that need torch are not collected where torch is missing."""

from __future__ import annotations

import importlib.util

# tests/data is reference material (the GPU measuring script imports torchvision): never collected.
collect_ignore: list[str] = ["data"]
if importlib.util.find_spec("torch") is None:
    collect_ignore.append("torch_models.py")
