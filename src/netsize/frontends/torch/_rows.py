"""torchinfo's rows (``summary_list``) of a traced pass: one :class:`ModuleCall` per module
call, placed as torchinfo 1.8 places them.

Each module's depth, attribute name and parent come from a walk of the registered modules in
torchinfo's order (a module registered twice takes its last place); rows are made in call order
by the tracer's hooks; containers that were never called (``nn.ModuleList``) are inserted above
their first called child; ``ScriptModule``s and, with no input, every module are listed from
the walk. Parameter counts are torchinfo's (a pruned ``weight_orig`` counts its mask's ones).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from netsize._calls import ModuleCall, set_children

__all__ = ["RowBuilder"]


def _class_name(module: nn.Module) -> str:
    if isinstance(module, torch.jit.ScriptModule):
        return str(getattr(module, "original_name", type(module).__name__))
    return type(module).__name__


def _kernel_size(module: nn.Module) -> Any:
    k = getattr(module, "kernel_size", None)
    if k is None:
        return None
    if isinstance(k, int):
        return int(k)
    try:
        return list(k)
    except TypeError:
        return None


class RowBuilder:
    """Collects the rows of one pass (``pre``/``post`` from the tracer's module hooks)."""

    def __init__(self, model: nn.Module, names: Mapping[int, str], no_input: bool = False) -> None:
        self.rows: list[ModuleCall] = []
        self.seen: set[int] = set()
        self._params: dict[int, tuple[int, int, int, dict[str, tuple[str, int]], bool]] = {}
        # id -> (var_name, depth, parent's walk row): the last place a module is registered
        self.place: dict[int, tuple[str, int, ModuleCall | None]] = {}
        self.names = names
        # A pruned weight counts its mask's ones, which only the real values (before the meta
        # swap) hold: then every count is taken now; otherwise when a row is made (shapes suffice).
        pruned = any(name.endswith("_orig") for name, _ in model.named_parameters())
        stack: list[tuple[str, nn.Module, int, ModuleCall | None]] = [(type(model).__name__, model, 0, None)]
        while stack:
            var_name, module, depth, parent = stack.pop()
            walk_row = self._row(module, var_name, depth, parent)
            self.place[id(module)] = (var_name, depth, parent)
            if pruned:
                self._count(walk_row, module)
            if no_input or isinstance(module, torch.jit.ScriptModule):
                self._add(walk_row, module)
            stack += [
                (n, m, depth + 1, walk_row) for n, m in reversed(module._modules.items()) if m is not None
            ]
        self._walk_rows: dict[int, ModuleCall] = {}

    def _row(self, module: nn.Module, var_name: str, depth: int, parent: ModuleCall | None) -> ModuleCall:
        row = ModuleCall(
            class_name=_class_name(module),
            var_name=var_name,
            depth=depth,
            name=self.names.get(id(module), ""),
            layer_id=id(module),
            is_leaf_layer=not any(m is not None for m in module._modules.values()),
            kernel_size=_kernel_size(module),
            parent_info=parent,
        )
        row.module = module  # type: ignore[attr-defined]  # only while the rows are built
        return row

    def _count(self, row: ModuleCall, module: nn.Module) -> None:
        known = self._params.get(id(module))
        if known is None:
            known = self._params[id(module)] = _params(module, top=row.parent_info is None)
        row.num_params, row.trainable_params, row.param_bytes, row.inner_layers = known[:4]
        row.lazy = known[4]  # type: ignore[attr-defined]  # only while the rows are built

    def _add(self, row: ModuleCall, module: nn.Module) -> None:
        self._count(row, module)
        row.is_recursive = id(module) in self.seen
        self.rows.append(row)
        self.seen.add(id(module))

    def pre(self, module: nn.Module) -> ModuleCall | None:
        place = self.place.get(id(module))
        if place is None or isinstance(module, torch.jit.ScriptModule):
            return None
        row = self._row(module, *place)
        self._add(row, module)
        return row

    def post(self, row: ModuleCall, args: Any, kwargs: Any, output: Any, batch_dim: int | None) -> None:
        del kwargs  # torchinfo's hooks see the positional arguments only
        if getattr(row, "lazy", False):  # a lazy parameter its forward has just made: counted now
            module = row.module  # type: ignore[attr-defined]
            self._params.pop(id(module), None)
            self._count(row, module)
        row.input_size, _ = calculate_size(args, batch_dim)
        row.output_size, elem_bytes = calculate_size(output, batch_dim)
        row.output_bytes = elem_bytes * _prod(row.output_size)
        row.executed = True

    def finish(self) -> list[ModuleCall]:
        """The rows with torchinfo's missing containers inserted, indices and children set."""
        rows = self.rows
        _add_missing_containers(rows, self)
        set_children(rows)
        for row in rows:
            row.__dict__.pop("module", None)
            row.__dict__.pop("lazy", None)
            row.parent_info = None  # the walk rows are not part of the result
        return rows


def _params(module: nn.Module, top: bool) -> tuple[int, int, int, dict[str, tuple[str, int]], bool]:
    """torchinfo's ``calculate_num_params``: elements, trainable elements, bytes, tensors, and
    whether a lazy (uninitialized) parameter was left out."""
    total = trainable = nbytes = 0
    lazy = False
    inner: dict[str, tuple[str, int]] = {}
    # a module without submodules: its own dict (what named_parameters walks, without the walk)
    items = module.named_parameters() if module._modules else _own(module)
    for name, p in items:
        if isinstance(p, nn.parameter.UninitializedTensorMixin):
            lazy = True
            continue
        n = p.numel()
        if name.endswith("_orig"):
            mask = _rgetattr(module, f"{name[:-5]}_mask")
            if mask is not None and not mask.is_meta:
                n = int(torch.sum(mask))
                name = name[:-5]
        nbytes += p.element_size() * n
        total += n
        if p.requires_grad:
            trainable += n
        size = list(p.shape)
        if name == "weight" and len(size) > 1:
            size[0], size[1] = size[1], size[0]
        if not top or "." not in name:
            inner[name] = (str(size), n)
    return total, trainable, nbytes, inner, lazy


def _own(module: nn.Module) -> list[tuple[str, nn.Parameter]]:
    seen: set[int] = set()
    out = []
    for name, p in module._parameters.items():
        if p is not None and id(p) not in seen:
            seen.add(id(p))
            out.append((name, p))
    return out


def _rgetattr(module: Any, attr: str) -> torch.Tensor | None:
    for part in attr.split("."):
        if not hasattr(module, part):
            return None
        module = getattr(module, part)
    return module if isinstance(module, torch.Tensor) else None


def _add_missing_containers(rows: list[ModuleCall], builder: RowBuilder) -> None:
    """torchinfo's ``add_missing_container_layers``: a container never called itself (a
    ModuleList) gets a row above its first child that ran, with its parameters counted."""
    seen = {r.layer_id for r in rows}
    current: dict[int, ModuleCall] = {}
    idx = 0
    while idx < len(rows):
        row = rows[idx]
        rel = 0
        hierarchy: dict[int, ModuleCall] = {}
        parent = row.parent_info
        while parent is not None and parent.depth > 0:
            hierarchy[parent.depth] = parent
            parent = parent.parent_info
        for d in range(1, row.depth):
            if d not in hierarchy:
                break
            if (d not in current or current[d].layer_id != hierarchy[d].layer_id) and hierarchy[d] is not rows[
                idx + rel - 1
            ]:
                container = hierarchy[d]
                builder._count(container, container.module)  # type: ignore[attr-defined]
                container.is_recursive = container.layer_id in seen
                rows.insert(idx + rel, container)
                seen.add(container.layer_id)
                current[d] = container
                rel += 1
        current[row.depth] = row
        d = row.depth + 1
        while d in current:
            current.pop(d)
            d += 1
        idx += rel + 1


def _prod(sizes: Any) -> int:
    out = 1
    if isinstance(sizes, (list, tuple)):
        for s in sizes:
            out *= _prod(s) if isinstance(s, (list, tuple)) else int(s)
    return out


def calculate_size(inputs: Any, batch_dim: int | None) -> tuple[Any, int]:
    """torchinfo's ``LayerInfo.calculate_size``: the shape torchinfo shows for a module's
    inputs or output, and the bytes of one element."""
    if inputs is None:
        return [], 0
    if isinstance(inputs, torch.Tensor):
        return list(inputs.shape), inputs.element_size()
    if isinstance(inputs, (list, tuple)) and inputs and isinstance(inputs[0], torch.Tensor):
        # torchinfo reads inputs[0].data: for a tensor, an alias of the same size (made here
        # without one: an alias is an op the tracer would see, per module call)
        size = list(inputs[0].shape)
        if batch_dim is not None:
            size = [*size[:batch_dim], 1, *size[batch_dim + 1 :]]
        return size, inputs[0].element_size()
    if isinstance(inputs, (list, tuple)) and inputs and hasattr(inputs[0], "data") and hasattr(
        inputs[0].data, "size"
    ):
        size = list(inputs[0].data.size())
        elem = inputs[0].data.element_size()
        if batch_dim is not None:
            size = [*size[:batch_dim], 1, *size[batch_dim + 1 :]]
        return size, elem
    if isinstance(inputs, Mapping):
        values = list(inputs.values())
        size, elem = _nested_size(values[-1]) if values else ([], 0)
        if batch_dim is not None:
            size = [[*size[:batch_dim], 1, *size[batch_dim + 1 :]]]
        return size, elem
    if isinstance(inputs, torch.Tensor):
        return list(inputs.size()), inputs.element_size()
    if isinstance(inputs, (list, tuple)):
        size, elem = _nested_size(inputs)
        if batch_dim is not None and batch_dim < len(size):
            size[batch_dim] = 1
        return size, elem
    if hasattr(inputs, "__array__") and hasattr(inputs, "shape"):  # a numpy array
        return [int(d) for d in inputs.shape], int(inputs.dtype.itemsize)
    return [], 0


def _nested_size(inputs: Any) -> tuple[Any, int]:
    if hasattr(inputs, "tensors"):
        return _nested_size(inputs.tensors)
    if isinstance(inputs, torch.Tensor):
        return list(inputs.size()), inputs.element_size()
    if type(inputs).__module__ == "numpy" and hasattr(inputs, "shape"):
        return [int(d) for d in inputs.shape], int(inputs.dtype.itemsize)
    if not hasattr(inputs, "__getitem__") or not inputs:
        return [], 0
    if isinstance(inputs, Mapping):
        return _nested_size(list(inputs.values()))
    if hasattr(inputs, "size") and callable(inputs.size) and hasattr(inputs, "element_size"):
        return list(inputs.size()), inputs.element_size()
    if isinstance(inputs, (list, tuple)):
        return _nested_size(inputs[0])
    return [], 0
