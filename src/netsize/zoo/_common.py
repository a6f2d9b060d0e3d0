"""Helpers shared by the zoo's builders."""

from __future__ import annotations

from collections.abc import Iterable

from netsize._layer import Layer
from netsize._network import Graph


def chain(g: Graph, prefix: str, layers: Iterable[Layer], start: int = 0) -> str:
    """Add ``layers`` one after another as ``prefix.0``, ``prefix.1``... (an ``nn.Sequential``).

    An empty ``prefix`` names them ``0``, ``1``... as a top-level ``nn.Sequential`` does.
    """
    for i, layer in enumerate(layers, start):
        g.add(f"{prefix}.{i}" if prefix else str(i), layer)
    return g.last
