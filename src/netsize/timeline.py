"""The memory held through one training step, layer by layer: the curve the report and
``netsize plot --what memory`` draw.

From a :class:`netsize.memory.MemoryReport`: the step starts with the weights and the optimizer
state (steady state), the forward adds each layer's saved tensors, the backward walks the layers
in reverse, freeing what each saved and adding its gradients, and the optimizer step ends it. This
is the per-layer account of the memory model (its ``layers``), not its exact liveness walk: the
peak shown here is ``weights + optimizer + saved activations`` at the end of the forward, which the
report's ``peak_training_bytes`` (with transients) bounds from above.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netsize._dtypes import dtype_bytes
from netsize._summary import Summary


@dataclass(frozen=True)
class Point:
    """``bytes`` held after ``phase`` (``forward``/``backward``) of layer ``name``."""

    phase: str
    name: str
    bytes: int


def training_timeline(summary: Summary, report: Any) -> tuple[Point, ...]:
    """The curve of one training step; ``report`` is the MemoryReport of the same model."""
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
    return max(points, key=lambda p: p.bytes)
