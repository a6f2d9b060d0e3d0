"""A generic before/after check that a PyTorch model was left exactly as found.

``capture(model)`` walks ``vars(module)`` of every module reachable from ``model`` (registered
children, and modules held in plain lists, tuples and dicts), into lists, tuples and dicts, and
records every value met: a tensor's identity, device, dtype, shape, strides, storage,
``requires_grad``, ``.grad`` and values; a container's identity and contents; any other
object's identity. It also records the global state a pass may touch (module-hook registries,
the MHA fast-path flag, the random generators). ``assert_unchanged(before, model)`` captures
again and names every path that differs. Written independently of netsize's own snapshot, so
that it checks it rather than repeats it.
"""

from __future__ import annotations

import random
from typing import Any

import torch
from torch import nn
from torch.nn.modules import module as _hooks

__all__ = ["assert_unchanged", "capture"]


def _tensor_record(t: torch.Tensor) -> tuple[Any, ...]:
    if isinstance(t, nn.parameter.UninitializedTensorMixin):
        return ("uninitialized", id(t), type(t))
    meta = t.device.type == "meta"
    strided = t.layout == torch.strided
    values = None if meta else t.detach().clone() if strided else t.detach().to_dense()
    ptr = None if meta or not strided else t.untyped_storage().data_ptr()
    grad = None if t.grad is None else id(t.grad)
    return (
        "tensor",
        id(t),
        type(t),
        str(t.device),
        t.dtype,
        tuple(t.shape),
        t.stride() if t.layout == torch.strided else str(t.layout),
        ptr,
        t.requires_grad,
        grad,
        values,
    )


def capture(model: nn.Module) -> dict[str, Any]:
    state: dict[str, Any] = {}
    seen_modules: dict[int, str] = {}
    pending: list[tuple[str, nn.Module]] = [("model", model)]

    def walk(path: str, v: Any, depth: int) -> None:
        if isinstance(v, torch.Tensor):
            state[path] = _tensor_record(v)
        elif isinstance(v, nn.Module):
            state[path] = ("module", id(v))
            pending.append((path, v))
        elif depth < 12 and isinstance(v, (list, tuple)):
            state[path] = (type(v).__name__, id(v), len(v))
            for i, x in enumerate(v):
                walk(f"{path}[{i}]", x, depth + 1)
        elif depth < 12 and isinstance(v, dict):
            state[path] = (type(v).__name__, id(v), tuple(repr(k) for k in v))
            for k, x in v.items():
                walk(f"{path}[{k!r}]", x, depth + 1)
        else:
            state[path] = ("object", id(v))

    while pending:
        path, m = pending.pop()
        if id(m) in seen_modules:
            continue
        seen_modules[id(m)] = path
        state[f"{path}.__dict__"] = tuple(vars(m))
        for k, v in vars(m).items():
            walk(f"{path}.{k}", v, 0)
    for name in ("_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks"):
        state[f"torch.nn.modules.module.{name}"] = tuple(getattr(_hooks, name))
    state["mha_fastpath"] = torch.backends.mha.get_fastpath_enabled()
    state["torch_rng"] = torch.random.get_rng_state()
    state["python_rng"] = random.getstate()
    return state


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            return False
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if a.is_floating_point() or a.is_complex():
            return bool(((a == b) | (a.isnan() & b.isnan())).all())
        return torch.equal(a, b)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def assert_unchanged(before: dict[str, Any], model: nn.Module) -> None:
    after = capture(model)
    changed = sorted(
        k for k in before.keys() | after.keys() if k not in before or k not in after or not _same(before[k], after[k])
    )
    assert not changed, f"the model or global state changed at: {changed[:12]}"
