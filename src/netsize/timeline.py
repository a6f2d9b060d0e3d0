"""The memory held through one training step, moment by moment: the curve the report, the
calculator and ``netsize plot --what memory`` draw.

For the network method (zoo models, specs, configs netsize builds) this is the memory model's own
liveness walk (:attr:`netsize.memory.MemoryReport.steps`): the bytes held while each layer runs
its forward (its outputs and its working memory included), at the loss, while each layer runs its
backward (gradients growing, saved tensors freed) and during the optimizer step; its highest
point is ``peak_training_bytes``, the number ``netsize memory`` prints, so every view shows one
peak for one step.

A report of the PyTorch method (observed on the meta device) has no such walk; its curve is the
per-layer account of its ``layers`` (weights and optimizer state, each layer's saved tensors
added in the forward and freed in the backward as its gradients arrive), without the transients
of the observed peak. :func:`is_walk` tells which a curve is, and the views label the second kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netsize._dtypes import dtype_bytes
from netsize._summary import Summary


@dataclass(frozen=True)
class Point:
    """``bytes`` held at ``phase`` (``start``, ``forward``, ``loss``, ``loss backward``,
    ``backward``, ``optimizer``) of layer ``name`` (empty for a moment of no layer)."""

    phase: str
    name: str
    bytes: int


def is_walk(report: Any) -> bool:
    """Whether ``report``'s curve is the memory model's walk (its peak is the report's peak)."""
    return bool(getattr(report, "steps", ()))


def training_timeline(summary: Summary, report: Any) -> tuple[Point, ...]:
    """The curve of one training step; ``report`` is the MemoryReport of the same model."""
    if is_walk(report):
        return tuple(Point(phase, name, held) for phase, name, held in report.steps)
    held = int(report.weights_bytes) + int(report.optimizer_bytes) + int(report.input_bytes)
    points = [Point("start", "", held)]
    saved = {m.name: int(m.saved_bytes) for m in report.layers}
    order = [r.name for r in summary.layers]
    for name in order:
        held += saved.get(name, 0)
        points.append(Point("forward", name, held))
    grad_dtype = report.dtype
    for rec in reversed(summary.layers):
        held -= saved.get(rec.name, 0)
        held += dtype_bytes(rec.trainable_params, grad_dtype) if report.optimizer != "none" else 0
        points.append(Point("backward", rec.name, held))
    return tuple(points)


def peak(points: tuple[Point, ...]) -> Point:
    """The highest point (the first of equal ones)."""
    return max(points, key=lambda p: p.bytes)
