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
    key: tuple[Any, ...]  # the original storage (_storage_key of alias)
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
    ``copy_values=False`` copies no values up front: for a pass on meta stand-ins
    (:func:`swap_to_meta`), which cannot reach the real tensors through the model, and whose
    tracer copies any real tensor it is about to write (:func:`copy_before_write`). Call
    :meth:`copy_values` before a real pass.
    """

    def __init__(self, model: nn.Module, copy_values: bool = True) -> None:
        self._copy_values = copy_values
        self.modules: list[tuple[nn.Module, dict[str, Any]]] = []
        self.lists: list[tuple[list[Any], list[Any]]] = []
        self.dicts: list[tuple[MutableMapping[Any, Any], list[tuple[Any, Any]]]] = []
        self.empty_dicts: list[dict[Any, Any]] = []  # the many empty hook dicts: restored if any fills
        self.tensors: dict[int, _TensorState] = {}
        # (module, attribute) whose value holds a tensor: all that swap_to_meta needs to visit
        self.tensor_slots: list[tuple[nn.Module, str]] = []
        self._seen: set[int] = set()
        self.uninitialized = False  # met a lazy module's uninitialized parameter or buffer
        pending: list[nn.Module] = [model]
        # The loop runs for every attribute of every module (about 25 each, most of them empty
        # hook dicts): kept to a few operations each.
        seen, atoms, empties, modules, dicts = self._seen, _ATOMS, self.empty_dicts, self.modules, self.dicts
        tensor_type = torch.Tensor
        while pending:
            m = pending.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            state = dict(vars(m))
            modules.append((m, state))
            for key, v in state.items():
                tp = type(v)
                if tp in atoms:
                    continue
                if tp is dict or tp is OrderedDict:
                    if not v:
                        empties.append(v)  # a dict met twice is listed twice: clearing it twice is harmless
                        continue
                    if (key == "_modules" or key == "_parameters" or key == "_buffers") and id(v) not in seen:
                        # torch's own registries: modules, or tensors (None for a registered None)
                        seen.add(id(v))
                        pairs = list(v.items())
                        dicts.append((v, pairs))
                        if key == "_modules":
                            pending.extend(x for _, x in pairs if x is not None)
                            continue
                        for _, x in pairs:
                            if isinstance(x, tensor_type):
                                self._tensor(x)
                            elif x is not None:
                                self._walk(x, pending, 1)
                        self.tensor_slots.append((m, key))
                        continue
                elif tp is tuple and all(type(x) in atoms for x in v):  # kernel_size, stride...
                    continue
                if self._walk(v, pending, 0) and key not in _NOT_STATE:
                    self.tensor_slots.append((m, key))
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

    def _walk(self, v: Any, pending: list[nn.Module], depth: int) -> bool:
        """Record ``v``; whether it holds a tensor (or may: a container met before)."""
        if type(v) in _ATOMS:
            return False
        if isinstance(v, torch.Tensor):
            self._tensor(v)
            return True
        if isinstance(v, nn.Module):
            pending.append(v)
            return False
        if depth > _MAX_DEPTH or not (
            # the ABC check is slow the first time for each type (about 0.1 s per model): ask it
            # only of types that have an items() method, as every MutableMapping does
            isinstance(v, (list, tuple, dict)) or (hasattr(type(v), "items") and isinstance(v, MutableMapping))
        ):
            return False
        if id(v) in self._seen:
            return True
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
                return False
            if isinstance(v, MutableMapping):
                self.dicts.append((v, pairs))
            items = [x for _, x in pairs]
        found = False
        for x in items:
            if self._walk(x, pending, depth + 1):
                found = True
        return found

    def _tensor(self, t: torch.Tensor) -> None:
        if id(t) in self.tensors:
            return
        if isinstance(t, nn.parameter.UninitializedTensorMixin):
            self.uninitialized = True
            return  # an uninitialized (lazy) parameter has no data: the dicts keep its identity
        alias = t.detach()
        real = not (t.is_meta or t.device.type == "meta")
        copy = _clone(t) if real and self._copy_values and not isinstance(t, nn.Parameter) else None
        self.tensors[id(t)] = _TensorState(t, alias, t.requires_grad, t.grad, t._version, copy, _storage_key(alias))

    def copy_values(self) -> None:
        """Copy the values of every real tensor that is not a parameter and has no copy yet (before
        a real pass, on a snapshot taken with ``copy_values=False``)."""
        if self._copy_values:
            return
        self._copy_values = True
        for s in self.tensors.values():
            if s.copy is None and not isinstance(s.tensor, nn.Parameter) and not s.alias.is_meta:
                s.copy = _clone(s.tensor)
                s.version = s.tensor._version

    # --- copy on write -----------------------------------------------------------------------
    def watched_storages(self) -> dict[tuple[Any, ...], _TensorState]:
        """Real tensors without a copy of their values, by storage: what :class:`CopyOnWrite` guards."""
        return {s.key: s for s in self.tensors.values() if s.copy is None and not s.alias.is_meta}

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
            if any(map(len, self.empty_dicts)):
                for empty in self.empty_dicts:
                    empty.clear()
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
            or (not a.is_meta and _storage_key(t) != s.key)
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


# Per aten op: the names and positions of the arguments it writes (an empty tuple for most ops).
_WRITES: dict[Any, tuple[tuple[int, str], ...]] = {}


def _written_arguments(func: Any) -> tuple[tuple[int, str], ...]:
    known = _WRITES.get(func)
    if known is None:
        schema = func._schema
        known = tuple(
            (i, a.name)
            for i, a in enumerate(schema.arguments)
            if a.alias_info is not None and a.alias_info.is_write
        ) if schema.is_mutable else ()
        _WRITES[func] = known
    return known


def copy_before_write(watched: dict[tuple[Any, ...], _TensorState], func: Any, args: Any, kwargs: Any) -> None:
    """Copy the values of every watched tensor (by storage) that ``func`` is about to write in
    place, positionally or by keyword (``out=``), the first time it is written. For most ops
    (nothing written) one dictionary lookup."""
    for i, name in _written_arguments(func):
        value = args[i] if i < len(args) else kwargs.get(name)
        if isinstance(value, torch.Tensor) and not value.is_meta:
            s = watched.pop(_storage_key(value), None)
            if s is not None:
                s.copy = s.alias.clone()
                s.version = s.tensor._version
                s.written = True


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
        if self.watched:
            copy_before_write(self.watched, func, args, kwargs)
        return func(*args, **kwargs)


def _clone(t: torch.Tensor) -> torch.Tensor | None:
    try:
        return t.detach().clone()
    except Exception:  # a tensor subclass that cannot be cloned: identity is still restored
        return None


def _meta_like(t: torch.Tensor, memo: dict[int, torch.Tensor]) -> torch.Tensor:
    known = memo.get(id(t))
    if known is not None:
        return known
    plain = type(t) is torch.Tensor or type(t) is nn.Parameter
    if t.is_meta or (not plain and t.device.type == "meta") or isinstance(t, nn.parameter.UninitializedTensorMixin):
        return t
    if t.layout != torch.strided or t.is_quantized:  # no meta stand-in with strides: left real
        return t
    m = torch.empty_strided(tuple(t.shape), tuple(t.stride()), dtype=t.dtype, device="meta")
    if type(t) is nn.Parameter:  # what Parameter(m) does for a plain tensor, without its Python frame
        m = torch.Tensor._make_subclass(nn.Parameter, m, t.requires_grad)
    elif isinstance(t, nn.Parameter):
        m = nn.Parameter(m, requires_grad=t.requires_grad)
    memo[id(t)] = m
    return m


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
    for m, key in snapshot.tensor_slots:
        d = vars(m)
        v = d[key]
        y = _meta_value(v, memo, 0)
        if y is not v:
            d[key] = y
