"""Two or more networks side by side: totals, size per dtype, a training step's memory, and the
blocks they share, with each block's numbers per model.

>>> import netsize
>>> from netsize.compare import compare
>>> a = netsize.analyze(netsize.zoo.get("alexnet").build())
>>> b = netsize.analyze(netsize.zoo.get("alexnet-grouped").build())
>>> c = compare([("alexnet", a), ("alexnet-grouped", b)])
>>> c.totals["params"]
[62378344, 60965224]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from netsize._display import ShowsItself
from netsize._dtypes import REPORTED_DTYPES
from netsize._summary import Summary

__all__ = ["Comparison", "SharedRow", "compare"]

TOTAL_FIELDS = ("params", "trainable_params", "buffers", "multiply_adds", "flops", "other_ops", "activation_elements")
MEMORY_FIELDS = ("weights_bytes", "gradient_bytes", "optimizer_bytes", "activation_bytes", "peak_training_bytes",
                 "peak_inference_bytes")  # fmt: skip


@dataclass(frozen=True)
class SharedRow:
    """A block or layer present in every model, with its params, multiply-adds and output shape in each."""

    name: str
    kinds: tuple[str, ...]
    params: tuple[int, ...]
    multiply_adds: tuple[int, ...]
    output_shapes: tuple[tuple[int, ...], ...]

    @property
    def differs(self) -> bool:
        return len(set(self.params)) > 1 or len(set(self.multiply_adds)) > 1 or len(set(self.output_shapes)) > 1


@dataclass(frozen=True, repr=False)  # str/repr/HTML/pandas: netsize._display
class Comparison(ShowsItself):
    """``names`` of the models; per total field a list of values, one per model (same order)."""

    names: tuple[str, ...]
    totals: dict[str, list[int]]
    model_size_bytes: dict[str, list[int]]
    memory: dict[str, list[int]] = field(default_factory=dict)
    memory_setup: str = ""
    shared: tuple[SharedRow, ...] = ()
    only_in: dict[str, list[str]] = field(default_factory=dict)
    depth: int = 1

    def to_dict(self) -> dict[str, Any]:
        """One object per model (its totals, model size per dtype, memory), then the shared blocks."""
        models = []
        for i, name in enumerate(self.names):
            m: dict[str, Any] = {"model": name}
            m.update({f: values[i] for f, values in self.totals.items()})
            m["model_size_bytes"] = {d: values[i] for d, values in self.model_size_bytes.items()}
            if self.memory:
                m["memory"] = {f: values[i] for f, values in self.memory.items()}
            m["only_here"] = self.only_in.get(name, [])
            models.append(m)
        return {
            "models": models,
            "memory_setup": self.memory_setup,
            "depth": self.depth,
            "shared": [
                {"name": r.name, "kinds": list(r.kinds), "params": list(r.params),
                 "multiply_adds": list(r.multiply_adds), "output_shapes": [list(s) for s in r.output_shapes]}
                for r in self.shared
            ],
        }  # fmt: skip


def compare(
    models: Sequence[tuple[str, Summary]],
    memory: Sequence[Any] | None = None,
    memory_setup: str = "",
    depth: int = 1,
) -> Comparison:
    """Compare analysed models. ``memory``: one :class:`netsize.memory.MemoryReport` per model, optional.
    ``depth``: the level of blocks compared, as torchinfo counts it (1: top-level blocks, ``layer1``, ``features``)."""
    names = tuple(n for n, _ in models)
    totals = {f: [int(getattr(s.totals, f)) for _, s in models] for f in TOTAL_FIELDS}
    sizes = {d: [s.model_size()[d] for _, s in models] for d in REPORTED_DTYPES}
    mem: dict[str, list[int]] = {}
    if memory is not None:
        mem = {f: [int(getattr(m, f)) for m in memory] for f in MEMORY_FIELDS}
    rows = [{r.name: r for r in s.rows(depth)} for _, s in models]
    order = [r.name for r in models[0][1].rows(depth)]
    shared = []
    for name in order:
        if all(name in rr for rr in rows):
            recs = [rr[name] for rr in rows]
            shared.append(SharedRow(name, tuple(r.kind for r in recs), tuple(r.params for r in recs),
                                    tuple(r.multiply_adds for r in recs),
                                    tuple(r.output_shape[1:] for r in recs)))  # fmt: skip
    only_in = {n: [k for k in rr if not all(k in o for o in rows)] for n, rr in zip(names, rows, strict=True)}
    only_in = {n: v for n, v in only_in.items() if v}
    return Comparison(names, totals, sizes, mem, memory_setup, tuple(shared), only_in, depth)
