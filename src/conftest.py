"""Doctest collection of the package: the torch-only modules are skipped where torch is missing."""

from __future__ import annotations

import importlib.util

collect_ignore_glob: list[str] = []
if importlib.util.find_spec("torch") is None:
    collect_ignore_glob += ["netsize/frontends/torch/*", "netsize/memory/_torch_observe.py"]
