"""Leave the user's model exactly as it was found: snapshot everything a forward pass may change,
restore it in a ``finally``.

A forward pass (on meta tensors or, in the fallback, for real) can change a model in many ways
nobody asked for: a submodule registered under two names, caches held in plain attributes
(``self.cell_anchors = [a.to(device) ...]``), dicts keyed by device that gain entries, tensors
changed in place, ``.data`` swapped, training flags, hooks, the random generators. The snapshot
records, for every module reachable from the model through ``vars(module)`` (registered or held
in plain lists, tuples and dicts):

* the module's ``__dict__`` (which attributes point at which objects: ``_parameters``,
  ``_buffers``, ``_modules``, hook dicts, plain attributes, ``training``), and the contents of
  every list and dict reachable from it, so that added, removed or replaced entries come back;
* for every reachable tensor: its storage, shape, strides, dtype and device (an alias restores
  them through ``.data``), ``requires_grad``, ``.grad``, and its values: a copy of every real
  tensor that is not a parameter (buffers and caches, small); parameters are copied only if an
  in-place op is about to write them (:class:`CopyOnWrite`, used by the real pass);
* the global state the passes touch: module-hook registries, the MHA fast-path flag and the
  torch, Python and NumPy random generators.

>>> import torch
>>> m = torch.nn.Linear(2, 2)
>>> snap = ModelSnapshot(m)
>>> m.cache = [torch.ones(1)]; m.weight.data = torch.zeros(1); m.bias.requires_grad = False
>>> _ = m.eval()
>>> snap.restore()
>>> hasattr(m, "cache"), tuple(m.weight.shape), m.bias.requires_grad, m.training
(False, (2, 2), True, True)
"""

from __future__ import annotations

import operator
import random
import sys
from collections import OrderedDict
from collections.abc import MutableMapping
from typing import Any

import torch
from torch import nn
from torch.nn.modules import module as _module_hooks
from torch.utils._python_dispatch import TorchDispatchMode

from netsize._record import record

_MAX_DEPTH = 12

# Values that hold no tensor: skipped at once (most of a module's __dict__).
_ATOMS = frozenset({bool, int, float, complex, str, bytes, type(None), torch.dtype, torch.device, torch.Size})

# Module-level hook registries of torch.nn (a pass adds global hooks and must remove them).
_GLOBAL_HOOK_DICTS = (
    "_global_forward_hooks",
    "_global_forward_pre_hooks",
    "_global_backward_hooks",
    "_global_backward_pre_hooks",
    "_global_forward_hooks_always_called",
    "_global_forward_hooks_with_kwargs",
    "_global_module_registration_hooks",
    "_global_parameter_registration_hooks",
    "_global_buffer_registration_hooks",
)


@record(frozen=False)
class _TensorState:
    tensor: torch.Tensor
    alias: torch.Tensor  # shares the original storage: restores storage, shape, dtype, device
    requires_grad: bool
    grad: torch.Tensor | None
    version: int
    copy: torch.Tensor | None  # the values, for tensors a pass may write
    written: bool = False  # an in-place op wrote its storage (through .data, no version bump)


def _storage_key(t: torch.Tensor) -> tuple[Any, ...]:
    if t.is_meta or t.device.type == "meta":
        return ("meta", id(t))
    try:
        ptr = t.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):  # tensor subclasses without a storage
        ptr = id(t)
    return (t.device.type, ptr)


class ModelSnapshot:
    """Everything of ``model`` that a forward pass may change; :meth:`restore` puts it back.

    ``restore`` may be called several times (after a failed meta pass, then after the real one).
    """

    def __init__(self, model: nn.Module) -> None:
        self.modules: list[tuple[nn.Module, dict[str, Any]]] = []
        self.lists: list[tuple[list[Any], list[Any]]] = []
        self.dicts: list[tuple[MutableMapping[Any, Any], list[tuple[Any, Any]]]] = []
        self.tensors: dict[int, _TensorState] = {}
        self._seen: set[int] = set()
        pending: list[nn.Module] = [model]
        while pending:
            m = pending.pop()
            if id(m) in self._seen:
                continue
            self._seen.add(id(m))
            state = dict(vars(m))
            self.modules.append((m, state))
            for v in state.values():
                tp = type(v)
                if tp in _ATOMS:
                    continue
                if (tp is dict or tp is OrderedDict) and not v:  # the many empty hook dicts
                    if id(v) not in self._seen:
                        self._seen.add(id(v))
                        self.dicts.append((v, []))
                    continue
                self._walk(v, pending, 0)
        present = [n for n in _GLOBAL_HOOK_DICTS if hasattr(_module_hooks, n)]
        self.global_hooks = {n: dict(getattr(_module_hooks, n)) for n in present}
        self.mha_fastpath = torch.backends.mha.get_fastpath_enabled()
        self.rng = torch.random.get_rng_state()
        self.cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
        self.py_rng = random.getstate()
        # Only a numpy.random already imported has a state anyone can rely on; touching it
        # otherwise imports it (about 80 ms of a first call) for nothing.
        np_random = sys.modules.get("numpy.random")
        self.np_rng = np_random.get_state() if np_random is not None else None

    def _walk(self, v: Any, pending: list[nn.Module], depth: int) -> None:
        if type(v) in _ATOMS:
            return
        if isinstance(v, torch.Tensor):
            self._tensor(v)
            return
        if isinstance(v, nn.Module):
            pending.append(v)
            return
        if depth > _MAX_DEPTH or not (
            # the ABC check is slow the first time for each type (about 0.1 s per model): ask it
            # only of types that have an items() method, as every MutableMapping does
            isinstance(v, (list, tuple, dict)) or (hasattr(type(v), "items") and isinstance(v, MutableMapping))
        ):
            return
        if id(v) in self._seen:
            return
        self._seen.add(id(v))
        if isinstance(v, list):
            self.lists.append((v, list(v)))
            items: Any = list(v)
        elif isinstance(v, tuple):
            items = v
        else:
            try:
                pairs = list(v.items())
            except Exception:  # a mapping-like object that cannot be listed: leave it alone
                return
            if isinstance(v, MutableMapping):
                self.dicts.append((v, pairs))
            items = [x for _, x in pairs]
        for x in items:
            self._walk(x, pending, depth + 1)

    def _tensor(self, t: torch.Tensor) -> None:
        if id(t) in self.tensors or isinstance(t, nn.parameter.UninitializedTensorMixin):
            return  # an uninitialized (lazy) parameter has no data: the dicts keep its identity
        alias = t.detach()
        real = not (t.is_meta or t.device.type == "meta")
        copy = None
        if real and not isinstance(t, nn.Parameter):
            try:
                copy = t.detach().clone()
            except Exception:  # a tensor subclass that cannot be cloned: identity is still restored
                copy = None
        self.tensors[id(t)] = _TensorState(t, alias, t.requires_grad, t.grad, t._version, copy)

    # --- copy on write -----------------------------------------------------------------------
    def watched_storages(self) -> dict[tuple[Any, ...], _TensorState]:
        """Real tensors without a copy of their values, by storage: what :class:`CopyOnWrite` guards."""
        return {_storage_key(s.alias): s for s in self.tensors.values() if s.copy is None and not s.alias.is_meta}

    # --- restore --------------------------------------------------------------------------
    def restore(self) -> None:
        with torch.no_grad():
            for m, state in self.modules:
                d = vars(m)
                # Same keys in the same order, each the same object; else put the dict back whole.
                same = len(d) == len(state) and all(map(operator.is_, d.values(), state.values()))
                if not same or d.keys() != state.keys():
                    d.clear()
                    d.update(state)
            for lst, items in self.lists:
                if len(lst) != len(items) or not all(map(operator.is_, lst, items)):
                    lst[:] = items
            for dct, pairs in self.dicts:
                if len(dct) != len(pairs) or (
                    pairs
                    and not all(
                        a[1] is b[1] and (a[0] is b[0] or a[0] == b[0])
                        for a, b in zip(dct.items(), pairs, strict=True)
                    )
                ):
                    dct.clear()
                    dct.update(pairs)
            for s in self.tensors.values():
                self._restore_tensor(s)
        for n, hooks in self.global_hooks.items():
            registry = getattr(_module_hooks, n)
            if registry.keys() != hooks.keys():
                registry.clear()
                registry.update(hooks)
        torch.backends.mha.set_fastpath_enabled(self.mha_fastpath)
        torch.random.set_rng_state(self.rng)
        if self.cuda_rng is not None:
            torch.cuda.set_rng_state_all(self.cuda_rng)
        random.setstate(self.py_rng)
        np_random = sys.modules.get("numpy.random")
        if np_random is not None and self.np_rng is not None:
            np_random.set_state(self.np_rng)

    @staticmethod
    def _restore_tensor(s: _TensorState) -> None:
        t, a = s.tensor, s.alias
        moved = (
            t.device != a.device
            or t.dtype != a.dtype
            or t.shape != a.shape
            or t.layout != a.layout
            or (t.layout == torch.strided and t.stride() != a.stride())
            or (_storage_key(t) != _storage_key(a)
            and not a.is_meta)
        )
        if moved:
            t.data = a
        if s.copy is not None and (t._version != s.version or s.written or not _equal(t.data, s.copy)):
            t.data.copy_(s.copy)  # through .data: an in-place write on a leaf that requires grad
            s.version, s.written = t._version, False
        if t.requires_grad != s.requires_grad and t.is_leaf:
            t.requires_grad_(s.requires_grad)
        if t.grad is not s.grad and t.is_leaf:
            t.grad = s.grad


def _equal(a: torch.Tensor, b: torch.Tensor) -> bool:
    try:
        return a.shape == b.shape and a.dtype == b.dtype and bool(torch.equal(a, b))
    except Exception:  # a layout torch.equal does not take: copy the values back to be sure
        return False


class CopyOnWrite(TorchDispatchMode):
    """Copies a watched tensor's values just before an in-place op first writes it, so that
    :meth:`ModelSnapshot.restore` can put them back (parameters are not copied up front)."""

    def __init__(self, snapshot: ModelSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.watched = snapshot.watched_storages()

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        return False  # wrapping __torch_dispatch__ in _disable_dynamo would import torch._dynamo

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if self.watched and func._schema.is_mutable:
            for arg, value in zip(func._schema.arguments, args, strict=False):
                info = arg.alias_info
                if info is not None and info.is_write and isinstance(value, torch.Tensor) and not value.is_meta:
                    s = self.watched.pop(_storage_key(value), None)
                    if s is not None:
                        s.copy = s.alias.clone()
                        s.version = s.tensor._version
                        s.written = True
        return func(*args, **kwargs)


def _meta_like(t: torch.Tensor, memo: dict[int, torch.Tensor]) -> torch.Tensor:
    if t.is_meta or t.device.type == "meta" or isinstance(t, nn.parameter.UninitializedTensorMixin):
        return t
    if t.layout != torch.strided or t.is_quantized:  # no meta stand-in with strides: left real
        return t
    if id(t) not in memo:
        m = torch.empty_strided(tuple(t.shape), tuple(t.stride()), dtype=t.dtype, device="meta")
        memo[id(t)] = nn.Parameter(m, requires_grad=t.requires_grad) if isinstance(t, nn.Parameter) else m
    return memo[id(t)]


def _meta_value(v: Any, memo: dict[int, torch.Tensor], depth: int) -> Any:
    """``v`` with its real tensors replaced by meta stand-ins: lists and dicts in place (the
    snapshot restores their contents), tuples rebuilt."""
    if type(v) in _ATOMS:
        return v
    if isinstance(v, torch.Tensor):
        return _meta_like(v, memo)
    if depth > _MAX_DEPTH or isinstance(v, nn.Module):
        return v
    if isinstance(v, list):
        for i, x in enumerate(v):
            y = _meta_value(x, memo, depth + 1)
            if y is not x:
                v[i] = y
        return v
    if isinstance(v, dict):
        for k, x in list(v.items()):
            y = _meta_value(x, memo, depth + 1)
            if y is not x:
                v[k] = y
        return v
    if type(v) is tuple:
        items = tuple(_meta_value(x, memo, depth + 1) for x in v)
        return items if any(a is not b for a, b in zip(items, v, strict=True)) else v
    return v


_NOT_STATE = frozenset({"_modules", "_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks",
                        "_state_dict_hooks", "_state_dict_pre_hooks", "_load_state_dict_pre_hooks",
                        "_load_state_dict_post_hooks", "_forward_hooks_with_kwargs", "_forward_pre_hooks_with_kwargs",
                        "_forward_hooks_always_called", "_non_persistent_buffers_set"})  # fmt: skip


def swap_to_meta(snapshot: ModelSnapshot) -> None:
    """Put meta stand-ins (same shapes, strides, dtypes; shared tensors stay shared) in place of
    every real tensor of every snapshotted module: parameters, buffers and tensors in plain
    attributes. :meth:`ModelSnapshot.restore` undoes it."""
    memo: dict[int, torch.Tensor] = {}
    for m, _ in snapshot.modules:
        d = vars(m)
        for key, v in list(d.items()):
            if key in _NOT_STATE:
                continue
            y = _meta_value(v, memo, 0)
            if y is not v:
                d[key] = y
