"""Trace a torch model on meta tensors and translate what it does into core records.

One forward pass runs with the model's parameters and buffers swapped for meta tensors of the
same shapes (no data, no activations allocated), under global module hooks (which module runs)
and a dispatch mode (which aten ops run inside it). Each aten op that multiplies and adds maps to
a core op (:mod:`._ops`); each leaf module that maps to a core layer is analysed by that layer
(:mod:`._modules`) and cross-checked against the trace. The model is left as found.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import field, replace
from typing import Any

import torch
from torch import nn
from torch.nn.modules import module as _module_hooks
from torch.utils._python_dispatch import TorchDispatchMode

from netsize._analyze import _analysis, analyze_layer
from netsize._errors import NetsizeError
from netsize._i18n import register_messages
from netsize._layer import Analysis, Context, Layer, MemoryContract
from netsize._record import record
from netsize._shape import Shape, elements, shape_str
from netsize._summary import LayerRecord, Summary
from netsize._term import Term, message
from netsize.frontends.torch import _fast
from netsize.frontends.torch._custom import Formulas, counts
from netsize.frontends.torch._modules import core_layer
from netsize.frontends.torch._ops import META_OUTPUTS, NOT_IN_FLOPCOUNTER, TRANSLATIONS, does_arithmetic
from netsize.frontends.torch._safety import (
    CopyOnWrite,
    ModelSnapshot,
    _TensorState,
    copy_before_write,
    swap_to_meta,
)

ROOT = "(root)"

register_messages(
    {
        "note.traced_own": {
            "en": "work done in this module's own forward, outside its submodules (traced)",
            "zh": "本模块自身前向计算中、子模块之外的运算（追踪所得）",
        },
    }
)

_IGNORED = {
    torch.ops.prim.device.default,
    torch.ops.aten.size.default,
    torch.ops.aten.sym_size.default,
    torch.ops.aten.stride.default,
    torch.ops.aten.sym_stride.default,
    torch.ops.aten.numel.default,
    torch.ops.aten.sym_numel.default,
    torch.ops.aten.dim.default,
    torch.ops.aten.storage_offset.default,
    torch.ops.aten.sym_storage_offset.default,
    torch.ops.aten.is_contiguous.default,
    torch.ops.aten.is_contiguous.memory_format,
    torch.ops.aten.is_strides_like_format.default,
    torch.ops.aten.is_non_overlapping_and_dense.default,
    torch.ops.prim.layout.default,
}


# Tagged pointwise, but moving data rather than computing.
_COPIES = {torch.ops.aten.clone, torch.ops.aten.copy_, torch.ops.aten.copy, torch.ops.aten.lift_fresh_copy}


# The other-ops rule of a traced module (one documented rule, by aten's own op tags): one per
# output element of a pointwise op, one per input element of a reduction; fused kernels that
# carry neither tag (softmax, layer_norm) and data movement count nothing.
_POINTWISE = "pointwise output elements"
_REDUCTION = "reduction input elements"

# What the tracer does with each aten op, worked out once per op (tags, tables and dispatch
# keys cost more to ask than most ops cost to trace): (translation to core ops, decomposable,
# meta-output rule, other-ops rule, name to report as uncounted).
_IGNORE: tuple[Any, ...] = ()
_SAFE_SOFTMAX = getattr(torch.ops.aten, "_safe_softmax", None)
_SAFE_SOFTMAX = _SAFE_SOFTMAX.default if _SAFE_SOFTMAX is not None else None
_PLANS: dict[Any, tuple[Any, ...]] = {}


def _plan(func: Any) -> tuple[Any, ...]:
    if func in _IGNORED:
        return _IGNORE
    packet = func._overloadpacket
    translate = TRANSLATIONS.get(packet)
    tags = func.tags
    pointwise, reduction = torch.Tag.pointwise in tags, torch.Tag.reduction in tags
    rule = _POINTWISE if pointwise and packet not in _COPIES else _REDUCTION if reduction else None
    uncounted = str(packet) if not (pointwise or reduction) and does_arithmetic(func) else None
    return (translate, translate is None and _decomposable(func), META_OUTPUTS.get(packet), rule, uncounted)


class _LazyModel(Exception):
    """The model has parameters whose sizes its first forward pass decides."""


@record(frozen=False)
class _Op:
    label: str
    layer: Layer | None  # None: a user's formula
    inputs: tuple[Shape, ...]
    term: Term


@record(frozen=False)
class _Frame:
    module: nn.Module
    name: str
    call: int
    has_children: bool = False
    inputs: tuple[Shape, ...] = ()
    outputs: tuple[Shape, ...] = ()
    ops: list[_Op] = field(default_factory=list)
    other_ops: int = 0
    uncounted: dict[str, int] = field(default_factory=dict)  # aten ops no rule counted: calls
    custom: bool = False  # counted by a user's module formula
    counted_by_core: bool = False  # its record is the core layer's (which counts its ops)


def _op_term(layer: Layer, inputs: tuple[Shape, ...]) -> tuple[Term, tuple[Shape, ...]]:
    a = _analysis(layer, inputs, Context())  # remembered per process, like every layer's analysis
    term = a.multiply_adds or Term("multiply_adds", 0)
    return term, a.outputs


class _Tracer(TorchDispatchMode):
    """Attributes every multiply-add of an aten op to the innermost running module."""

    def __init__(self, names: dict[int, str], formulas: Formulas | None = None) -> None:
        super().__init__()
        self.names = names
        self.formulas = formulas or Formulas(None)
        self.stack: list[_Frame] = []
        self.done: list[_Frame] = []
        self.calls: dict[str, int] = {}
        self.unknown: set[str] = set()
        self.failed_op: Any = None  # the innermost aten op that raised
        # Real tensors (by storage) to copy before an op writes them: set for the meta pass, where
        # only a tensor the model holds outside its modules (a hook's closure) can still be real.
        self.watched: dict[tuple[Any, ...], _TensorState] = {}
        # scaled_dot_product_attention on meta tensors runs its math path: q@k^T, _safe_softmax
        # (which nothing else calls), scores@v. The two products around each _safe_softmax are
        # what a real CPU pass computes in one fused op that FlopCounterMode does not count.
        self.sdpa_macs = 0
        self._last_product = 0
        self._after_softmax = False

    # module hooks -------------------------------------------------------------------------
    def pre(self, module: nn.Module, args: Any) -> None:
        name = self.names.get(id(module))
        if name is None or (self.stack and self.stack[-1].custom):
            return  # inside a module a user's formula counts, nothing is traced apart
        self.calls[name] = self.calls.get(name, 0) + 1
        if self.stack:
            self.stack[-1].has_children = True
        self.stack.append(_Frame(module, name, self.calls[name], custom=self.formulas.for_module(module) is not None))

    def post(self, module: nn.Module, args: Any, kwargs: Any, output: Any) -> None:
        if self.names.get(id(module)) is None or not self.stack or self.stack[-1].module is not module:
            return
        frame = self.stack.pop()
        if not kwargs and len(args) == 1 and isinstance(args[0], torch.Tensor):  # most calls: one tensor in
            frame.inputs = (_shape(args[0]),)
        else:
            frame.inputs = tuple(_shape(t) for t in _tensors((args, kwargs)))
        frame.outputs = (_shape(output),) if isinstance(output, torch.Tensor) else tuple(
            _shape(t) for t in _tensors(output)
        )
        if frame.custom:
            who = f"{frame.name or ROOT} ({type(module).__name__})"
            macs, other = counts(self.formulas.for_module(module)(module, args, output), who)  # type: ignore[misc]
            term = Term("multiply_adds", macs, f"formula for {type(module).__name__}", str(macs))
            frame.ops, frame.other_ops, frame.uncounted = [_Op("custom formula", None, frame.inputs, term)], other, {}
        self.done.append(frame)

    # dispatch ---------------------------------------------------------------------------
    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # Otherwise TorchDispatchMode wraps __torch_dispatch__ in torch._disable_dynamo, which
        # imports torch._dynamo (and sympy) on the first call: about a second in every fresh
        # process, for a mode that is never compiled.
        return False

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        plan = _PLANS.get(func)
        if plan is None:
            plan = _PLANS[func] = _plan(func)
        if plan is _IGNORE:
            return func(*args, **kwargs)
        translate, decompose, meta_outputs, rule, uncounted = plan
        if func is _SAFE_SOFTMAX:
            self.sdpa_macs += self._last_product
            self._after_softmax = True
        if self.watched:
            copy_before_write(self.watched, func, args, kwargs)
        if self.formulas.ops:
            custom = self.formulas.for_op(func)
            if custom is not None:
                return self._custom_op(func, custom, args, kwargs)
        if decompose:
            # As FlopCounterMode does: look inside ops that decompose into counted ones.
            with self:
                r = func.decompose(*args, **kwargs)
            if r is not NotImplemented:
                return r
        try:
            if meta_outputs is not None and args and isinstance(args[0], torch.Tensor) and args[0].is_meta:
                out = meta_outputs(args, kwargs)
            else:
                out = _fast.run(func, args, kwargs)
        except Exception:
            if self.failed_op is None:
                self.failed_op = func
            raise
        if not self.stack:
            return out
        frame = self.stack[-1]
        if translate is None:
            if rule is not None:
                tensors = _tensors(out if rule == _POINTWISE else args)
                if tensors:
                    frame.other_ops += elements(_shape(tensors[0]))
            if uncounted is not None:
                frame.uncounted[uncounted] = frame.uncounted.get(uncounted, 0) + 1
            return out
        product = 0
        for label, layer, ins in translate(args, kwargs):
            try:
                term, _ = _op_term(layer, ins)
            except NetsizeError as err:
                raise NetsizeError(
                    f"{frame.name or ROOT}: {func._overloadpacket} with inputs {', '.join(shape_str(s) for s in ins)}: "
                    f"{err}"
                ) from None
            frame.ops.append(_Op(label, layer, ins, term))
            product += term.value
        if self._after_softmax:
            self.sdpa_macs += product
            self._after_softmax = False
        self._last_product = product
        return out

    def _custom_op(self, func: Any, formula: Any, args: Any, kwargs: Any) -> Any:
        out = func(*args, **kwargs)
        if self.stack:
            frame = self.stack[-1]
            macs, other = counts(formula(args, kwargs, out), str(func._overloadpacket))
            ins = tuple(_shape(t) for t in _tensors(args))
            term = Term("multiply_adds", macs, f"formula for {func._overloadpacket}", str(macs))
            frame.ops.append(_Op(str(func._overloadpacket), None, ins, term))
            frame.other_ops += other
        return out


_DECOMPOSABLE: dict[Any, bool] = {}


def _decomposable(func: Any) -> bool:
    """Whether ``func.decompose`` can do anything (a CompositeImplicitAutograd kernel): asked
    once per op, since entering the mode again to find out costs more than most ops."""
    known = _DECOMPOSABLE.get(func)
    if known is None:
        key = torch._C.DispatchKey.CompositeImplicitAutograd
        known = not isinstance(func, torch._ops.HigherOrderOperator) and (
            key in getattr(func, "py_kernels", {})
            or torch._C._dispatch_has_kernel_for_dispatch_key(func.name(), "CompositeImplicitAutograd")
        )
        _DECOMPOSABLE[func] = known
    return known


def _shape(t: torch.Tensor) -> Shape:
    return tuple(map(int, t.shape))


def _tensors(obj: Any) -> list[torch.Tensor]:
    """Tensors in an argument or output structure, in order (tuples, lists, dicts, HF outputs)."""
    # An explicit stack, not a recursive closure: called twice per module call, a closure that
    # refers to itself is a reference cycle each time, left for the garbage collector.
    if isinstance(obj, torch.Tensor):
        return [obj]
    out: list[torch.Tensor] = []
    stack: list[tuple[Any, int]] = [(obj, 0)]
    while stack:
        o, depth = stack.pop()
        if isinstance(o, torch.Tensor):
            out.append(o)
        elif depth > 20 or type(o) in _NO_TENSORS:
            continue
        elif isinstance(o, (list, tuple)):
            stack.extend((v, depth + 1) for v in reversed(o))
        elif isinstance(o, Mapping):
            stack.extend((v, depth + 1) for v in reversed(list(o.values())))
    return out


_NO_TENSORS = frozenset({bool, int, float, str, type(None)})


# ------------------------------------------------------------------------------------------
# inputs


def _is_shape(x: Any) -> bool:
    return isinstance(x, (tuple, list)) and all(isinstance(d, int) for d in x)


def _input_shapes(input_size: Any) -> list[Shape]:
    if _is_shape(input_size):
        return [tuple(input_size)]
    if isinstance(input_size, (tuple, list)) and all(_is_shape(s) for s in input_size):
        return [tuple(s) for s in input_size]
    raise NetsizeError(f"input_size must be a shape such as (1, 3, 224, 224) or a list of shapes (got {input_size!r})")


def _make_inputs(
    input_size: Any, input_data: Any, dtypes: Any, batch_dim: int | None, kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Positional and keyword arguments of the forward call, tensors still as the user gave them."""
    if input_size is not None and input_data is not None:
        raise NetsizeError("give input_size or input_data, not both")
    if input_size is None and input_data is None and not kwargs:
        raise NetsizeError("give input_size=(1, 3, 224, 224) or input_data=<tensor, tuple or dict>")
    if input_data is not None:
        if isinstance(input_data, torch.Tensor):
            return (input_data,), dict(kwargs)
        if isinstance(input_data, Mapping):
            return (), {**input_data, **kwargs}
        if isinstance(input_data, (tuple, list)):
            return tuple(input_data), dict(kwargs)
        raise NetsizeError(f"input_data must be a tensor, a tuple/list or a dict (got {type(input_data).__name__})")
    if input_size is None:
        return (), dict(kwargs)
    shapes = _input_shapes(input_size)
    if dtypes is None:
        types = [torch.get_default_dtype()] * len(shapes)
    elif isinstance(dtypes, torch.dtype):
        types = [dtypes] * len(shapes)
    else:
        types = list(dtypes)
        if len(types) != len(shapes):
            raise NetsizeError(f"{len(types)} dtypes given for {len(shapes)} inputs")
    args = []
    for s, dt in zip(shapes, types, strict=True):
        full = s if batch_dim is None else (*s[:batch_dim], 1, *s[batch_dim:])
        args.append(torch.empty(full, dtype=dt, device="meta"))
    return tuple(args), dict(kwargs)


def _to_meta(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        if obj.is_meta:
            return obj
        return torch.empty_strided(tuple(obj.shape), tuple(obj.stride()), dtype=obj.dtype, device="meta")
    if isinstance(obj, Mapping):
        return (
            type(obj)({k: _to_meta(v) for k, v in obj.items()})
            if type(obj) is dict
            else {k: _to_meta(v) for k, v in obj.items()}
        )
    if isinstance(obj, tuple):
        return tuple(_to_meta(v) for v in obj)
    if isinstance(obj, list):
        return [_to_meta(v) for v in obj]
    return _object_copy(obj, meta=True)


def _object_copy(obj: Any, meta: bool) -> Any:
    """A copy of an input object that holds tensors in its attributes (a Hugging Face cache
    passed as ``past_key_values``): the forward pass grows it in place, and the user's own must
    not change. For the meta pass its tensors become meta stand-ins (no data copied)."""
    if isinstance(obj, (str, bytes, int, float, bool, type)) or obj is None or callable(obj):
        return obj
    found: dict[int, torch.Tensor] = {}

    def walk(o: Any, depth: int) -> None:
        if isinstance(o, torch.Tensor):
            found[id(o)] = o
        elif depth < 6 and isinstance(o, (list, tuple)):
            for v in o:
                walk(v, depth + 1)
        elif depth < 6 and isinstance(o, Mapping):
            for v in o.values():
                walk(v, depth + 1)
        elif depth < 6 and hasattr(o, "__dict__") and not isinstance(o, (nn.Module, type)):
            for v in vars(o).values():
                walk(v, depth + 1)

    walk(obj, 0)
    if not found:
        return obj
    memo: dict[int, Any] = {i: _to_meta(t) for i, t in found.items()} if meta else {}
    try:
        return copy.deepcopy(obj, memo)
    except Exception:  # an object that cannot be copied: pass it as it is
        return obj


def _to_real(obj: Any, device: torch.device) -> Any:
    if isinstance(obj, torch.Tensor):
        if not obj.is_meta:
            return obj
        if obj.dtype.is_floating_point or obj.dtype.is_complex:
            return torch.rand(obj.shape, dtype=obj.dtype, device=device)
        return torch.zeros(obj.shape, dtype=obj.dtype, device=device)
    if isinstance(obj, Mapping):
        return {k: _to_real(v, device) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return tuple(_to_real(v, device) for v in obj)
    if isinstance(obj, list):
        return [_to_real(v, device) for v in obj]
    return _object_copy(obj, meta=False)


def _input_names(model: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Shape]:
    try:
        params = [
            p.name
            for p in inspect.signature(model.forward).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    named: dict[str, Shape] = {}
    for i, a in enumerate(args):
        base = params[i] if i < len(params) else f"input_{i}"
        for j, t in enumerate(_tensors(a)):
            named[base if j == 0 else f"{base}.{j}"] = _shape(t)
    for k, v in kwargs.items():
        for j, t in enumerate(_tensors(v)):
            named[k if j == 0 else f"{k}.{j}"] = _shape(t)
    return named


# ------------------------------------------------------------------------------------------
# running


@contextlib.contextmanager
def _hooked(tracer: _Tracer) -> Iterator[None]:
    pre = _module_hooks.register_module_forward_pre_hook(tracer.pre)
    post = _module_hooks.register_module_forward_hook(tracer.post, with_kwargs=True)
    fast = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)  # the fused path hides attention from hooks
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(fast)
        pre.remove()
        post.remove()


def _data_dependent(err: BaseException) -> bool:
    text = str(err)
    names = type(err).__name__
    return (
        "cannot be called on meta tensors" in text
        or "data-dependent" in text
        or "data dependent" in text
        or "register_meta" in text
        or "meta_nonzero" in text
        or "DataDependent" in names
        or "DynamicOutputShape" in names
        or ("meta" in text and ("item()" in text or "nonzero" in text or "Cannot copy out of meta" in text))
    )


def _run_meta(
    model: nn.Module, tracer: _Tracer, args: tuple[Any, ...], kwargs: dict[str, Any], snapshot: ModelSnapshot
) -> Any:
    args, kwargs = _to_meta(args), _to_meta(kwargs)
    swap_to_meta(snapshot)  # parameters, buffers and tensors in attributes; snapshot.restore() undoes it
    tracer.watched = snapshot.watched_storages()
    with torch.no_grad(), _hooked(tracer), tracer:
        return model(*args, **kwargs)


def _run_real(
    model: nn.Module, tracer: _Tracer, args: tuple[Any, ...], kwargs: dict[str, Any], snapshot: ModelSnapshot
) -> Any:
    snapshot.copy_values()  # a real pass can write any tensor the model holds
    device = next((t.device for t in [*model.parameters(), *model.buffers()]), torch.device("cpu"))
    args, kwargs = _to_real(args, device), _to_real(kwargs, device)
    with torch.no_grad(), _hooked(tracer), CopyOnWrite(snapshot), tracer:
        return model(*args, **kwargs)


# ------------------------------------------------------------------------------------------
# records


@record(frozen=False)
class _Owned:
    """Parameters and buffers a frame counts, and the names of frames it shares tensors with."""

    weights: list[tuple[str, Shape, bool]] = field(default_factory=list)  # (name, shape, trainable)
    biases: list[tuple[str, Shape, bool]] = field(default_factory=list)
    buffers: list[tuple[str, Shape]] = field(default_factory=list)
    shared_with: list[str] = field(default_factory=list)



def _owner(path: str, called: set[str]) -> str:
    parts = path.split(".") if path else []
    while parts:
        candidate = ".".join(parts)
        if candidate in called:
            return candidate
        parts.pop()
    return ""


def _ownership(model: nn.Module, called: set[str]) -> dict[str, _Owned]:
    owned: dict[str, _Owned] = {}
    first: dict[int, str] = {}
    # named_parameters then named_buffers (remove_duplicate=False), from one walk of the modules
    modules = list(model.named_modules(remove_duplicate=False))
    for kind, attr in (("p", "_parameters"), ("b", "_buffers")):
        for path, module in modules:
            if not getattr(module, attr):
                continue
            who = _owner(path, called)
            for local, t in getattr(module, attr).items():
                if t is None:
                    continue
                full = f"{path}.{local}" if path else local
                entry = owned.setdefault(who, _Owned())
                if id(t) in first:
                    if first[id(t)] != who:
                        entry.shared_with.append(first[id(t)])
                    continue
                first[id(t)] = who
                rel = full[len(who) + 1 :] if who else full
                if kind == "b":
                    entry.buffers.append((rel, _shape(t)))
                elif "bias" in local:
                    entry.biases.append((rel, _shape(t), t.requires_grad))
                else:
                    entry.weights.append((rel, _shape(t), t.requires_grad))
    return owned


def _sum_term(name: str, items: Sequence[tuple[Any, ...]]) -> Term | None:
    if not items:
        return None
    value = sum(elements(it[1]) for it in items)
    symbolic = " + ".join(f"|{it[0]}|" for it in items[:8]) + (" + ..." if len(items) > 8 else "")
    substituted = " + ".join(shape_str(it[1]) or "1" for it in items[:8]) + (" + ..." if len(items) > 8 else "")
    return Term(name, value, symbolic, substituted)


def _macs_term(ops: list[_Op]) -> Term | None:
    if not ops:
        return None
    groups: dict[tuple[str, str], list[int]] = {}
    for op in ops:
        key = (op.label, op.term.substituted or str(op.term.value))
        groups.setdefault(key, [0, op.term.value])[0] += 1
    parts_sym, parts_sub = [], []
    for (label, sub), (count, _) in groups.items():
        parts_sym.append(label if count == 1 else f"{count}*{label}")
        parts_sub.append(sub if count == 1 else f"{count}*({sub})")
    value = sum(op.term.value for op in ops)
    return Term("multiply_adds", value, " + ".join(parts_sym[:12]), " + ".join(parts_sub[:12]))


def _traced_record(frame: _Frame, name: str, own: _Owned, leaf: bool) -> LayerRecord:
    weights = _sum_term("weights", own.weights)
    biases = _sum_term("biases", own.biases)
    buffers = _sum_term("buffers", own.buffers)
    macs = _macs_term(frame.ops)
    other = None
    if frame.other_ops:
        rule = "pointwise output elements + reduction input elements (traced aten ops)"
        other = Term("other_ops", frame.other_ops, rule)
    analysis = Analysis(
        outputs=frame.outputs,
        weights=weights,
        biases=biases,
        buffers=buffers,
        multiply_adds=macs,
        other_ops=other,
        memory=MemoryContract(saved_inputs=None if leaf else ()),
    )
    params = sum(elements(s) for _, s, _ in own.weights + own.biases)
    trainable = sum(elements(s) for _, s, g in own.weights + own.biases if g)
    notes = []
    if own.shared_with:
        notes.append(message("note.tied", other=own.shared_with[0]))
    if params and trainable < params:
        notes.append(message("note.frozen"))
    if not leaf:
        notes.append(message("note.traced_own"))
    acts = sum(elements(s) for s in frame.outputs) if leaf else 0
    saved = sum(elements(s) for s in frame.inputs) if leaf else 0
    return LayerRecord(
        name=name,
        kind=type(frame.module).__name__,
        input_shapes=frame.inputs,
        output_shapes=frame.outputs,
        weights=weights.value if weights else 0,
        biases=biases.value if biases else 0,
        params=params,
        trainable_params=trainable,
        non_trainable_params=params - trainable,
        buffers=buffers.value if buffers else 0,
        multiply_adds=macs.value if macs else 0,
        other_ops=frame.other_ops,
        activation_elements=acts,
        saved_elements=saved,
        analysis=analysis,
        notes=tuple(notes),
    )


def _core_record(frame: _Frame, name: str, own: _Owned) -> LayerRecord | None:
    """The core layer's record when the module maps to one and agrees with the trace."""
    layer = core_layer(frame.module)
    if layer is None:
        return None
    ins = frame.inputs
    if isinstance(layer.arity, int):
        ins = ins[: layer.arity]
    try:
        record = analyze_layer(name, layer, ins)
    except (NetsizeError, TypeError, ValueError, IndexError):
        return None
    module_params = _elements_of(frame.module, "_parameters")
    module_buffers = _elements_of(frame.module, "_buffers")
    traced_macs = sum(op.term.value for op in frame.ops)
    if (
        record.output_shapes != frame.outputs
        or record.params != module_params
        or record.buffers != module_buffers
        or record.multiply_adds != traced_macs
    ):
        return None
    params = sum(elements(s) for _, s, _ in own.weights + own.biases)
    trainable = sum(elements(s) for _, s, g in own.weights + own.biases if g)
    buffers = sum(elements(s) for _, s in own.buffers)
    if params == record.params and trainable == params and buffers == record.buffers:
        return record
    if params == 0 and own.shared_with and buffers == record.buffers:
        return analyze_layer(name, layer, ins, tied_to=own.shared_with[0])
    notes = list(record.notes)
    if own.shared_with:
        notes.append(message("note.tied", other=own.shared_with[0]))
    if params and trainable < params:
        notes.append(message("note.frozen"))
    bias_count = sum(elements(s) for _, s, _ in own.biases)
    return replace(
        record,
        weights=params - bias_count,
        biases=bias_count,
        params=params,
        trainable_params=trainable,
        non_trainable_params=params - trainable,
        buffers=buffers,
        notes=tuple(notes),
    )


def _elements_of(module: nn.Module, kind: str) -> int:
    """Elements of ``module``'s distinct parameters or buffers (``kind``: ``_parameters`` or
    ``_buffers``) and its submodules', as ``sum(p.numel() for p in module.parameters())``."""
    if module._modules:
        tensors = module.parameters() if kind == "_parameters" else module.buffers()
        return sum(t.numel() for t in tensors)
    # a module without submodules: its own dict, without the generator machinery of parameters()
    distinct = {id(t): t for t in getattr(module, kind).values() if t is not None}
    return sum(t.numel() for t in distinct.values())


def _records(model: nn.Module, frames: list[_Frame]) -> list[LayerRecord]:
    called = {f.name for f in frames}
    owned = _ownership(model, called)
    records: list[LayerRecord] = []
    for frame in frames:
        base = frame.name or ROOT
        name = base if frame.call == 1 else f"{base}#{frame.call}"
        if frame.call == 1:
            own = owned.get(frame.name, _Owned())
        else:
            total = owned.get(frame.name, _Owned())
            has = bool(total.weights or total.biases or total.buffers or total.shared_with)
            own = _Owned(shared_with=[base] if has else [])
        leaf = not frame.has_children
        if leaf:
            rec = None if frame.custom else _core_record(frame, name, own)
            frame.counted_by_core = rec is not None
            records.append(rec if rec is not None else _traced_record(frame, name, own, leaf=True))
        elif own.weights or own.biases or own.buffers or frame.ops:
            records.append(_traced_record(frame, name, own, leaf=False))
    return records


# ------------------------------------------------------------------------------------------
# public


def summary(
    model: nn.Module,
    input_size: Any = None,
    input_data: Any = None,
    depth: int | None = None,
    batch_dim: int | None = None,
    dtypes: Any = None,
    fallback: bool = True,
    formulas: Mapping[Any, Any] | None = None,
    **kwargs: Any,
) -> Summary:
    """Shapes, parameters, buffers and multiply-adds of every module of ``model``.

    The forward pass runs once on meta tensors: nothing is computed and no activation is
    allocated, and a model built under ``torch.device("meta")`` works too. ``input_size`` is a
    shape (batch first) or a list of shapes (``dtypes`` gives their dtypes, default float);
    ``input_data`` a tensor, a tuple/list of positional arguments or a dict of keyword arguments
    (real or meta tensors; only their shapes are used); further ``kwargs`` go to ``forward``.
    ``batch_dim``: insert a batch axis of size 1 at this index of each ``input_size`` shape.
    ``depth``: keep rows down to this depth (0 = top-level modules), deeper ones summed into
    their block; ``None`` keeps every module (and every explanation).

    Multiply-adds come from the aten ops run inside each module, each counted by a core op,
    so they equal ``torch.utils.flop_counter.FlopCounterMode``'s FLOPs / 2 on the same path.
    A module that calls no submodule and maps to a core layer (``nn.Conv2d`` -> ``Conv2d``)
    gets that layer's record and explanation when its shapes and counts agree with the trace.
    Work done in a module's own ``forward`` outside its submodules is a row named after the
    module (``(root)`` for the model itself); a module called again is ``name#2``, its
    parameters counted once. Shared (tied) tensors count once, at their first owner.

    If the forward pass needs tensor values (``.item()``, ``nonzero``), meta tensors cannot run
    it: with ``fallback=True`` a model with real weights is run once for real (warning), else
    :class:`NetsizeError` explains why. Any other failure of the meta pass (an op without a meta
    kernel, a tensor made on the CPU inside ``forward``) falls back the same way.

    Every aten op that does arithmetic no rule counts (``torch.fft.rfft``, ``torch.cdist``,
    ``F.interpolate`` in a traced module...) is listed in ``uncounted_ops`` and in ``notes``.
    ``formulas`` gives a custom module class or op its count, ``{MyBlock: f, "aten::fft_r2c": g}``
    (see :func:`netsize.frontends.torch.register_formula`).
    """
    if not isinstance(model, nn.Module):
        raise NetsizeError(f"summary needs a torch.nn.Module (got {type(model).__name__})")
    args, kw = _make_inputs(input_size, input_data, dtypes, batch_dim, kwargs)
    snapshot = ModelSnapshot(model, copy_values=False)  # the meta pass cannot reach the real values
    try:
        return _summary(model, snapshot, args, kw, depth, batch_dim, fallback, Formulas(formulas))
    finally:
        snapshot.restore()  # whatever happened, the model is left as it was found


def _uncounted(frames: list[_Frame]) -> tuple[tuple[str, int], ...]:
    """Calls of each aten op no rule counted, over the frames whose ops the trace counts (a
    module analysed by its core layer has its ops counted by that layer)."""
    calls: dict[str, int] = {}
    for f in frames:
        if not f.counted_by_core:
            for op, n in f.uncounted.items():
                calls[op] = calls.get(op, 0) + n
    return tuple(sorted(calls.items()))


def _flopcounter_notes(frames: list[_Frame], real_pass: bool) -> list[str]:
    """Where netsize's multiply-adds exceed FlopCounterMode's, by how much and why."""
    beyond: dict[str, int] = {}
    for f in frames:
        for op in f.ops:
            why = NOT_IN_FLOPCOUNTER.get(op.label)
            if why is not None and op.term.value:
                beyond[why] = beyond.get(why, 0) + op.term.value
    notes = []
    for why, n in beyond.items():
        assumed = ""
        if not real_pass and "grouped" in why:
            assumed = "; on meta tensors every routed row is taken to be in a group"
        notes.append(
            f"{n:,} multiply-adds are {why}: torch.utils.flop_counter.FlopCounterMode has no formula for this op "
            f"and counts 0, so its total is lower by exactly {n:,}{assumed}"
        )
    return notes


def _fast_path_note(frames: list[_Frame]) -> str | None:
    """What PyTorch's fused fast paths would hide from FlopCounterMode in a real eval pass.

    In eval mode under ``torch.no_grad()``, ``nn.TransformerEncoderLayer`` can run as one
    ``aten._transformer_encoder_layer_fwd`` and ``nn.MultiheadAttention`` as one
    ``aten._native_multi_head_attention`` (torchvision's ViT does). FlopCounterMode has no formula
    for either, so a real pass measured with it misses their multiply-adds. netsize turns the fast
    paths off while it traces and counts the ops they stand for, as in training.
    """
    layers = [f.name for f in frames if isinstance(f.module, nn.TransformerEncoderLayer) and not f.module.training]
    fused = 0
    modules = 0
    for f in frames:
        inside = any(f.name == n or f.name.startswith(n + ".") for n in layers)
        alone = isinstance(f.module, nn.MultiheadAttention) and not f.module.training
        if inside or alone:
            fused += sum(op.term.value for op in f.ops)
            if f.name in layers or (alone and not inside):
                modules += 1
    if not fused:
        return None
    return (
        f"{fused:,} multiply-adds are in {modules} nn.MultiheadAttention or nn.TransformerEncoderLayer module"
        f"{'s' if modules > 1 else ''} in eval mode: under torch.no_grad() PyTorch may run them through its fused "
        "fast path (aten._native_multi_head_attention, aten._transformer_encoder_layer_fwd), which "
        "torch.utils.flop_counter.FlopCounterMode counts as 0, so a real pass measured with it can be lower by up "
        f"to {fused:,}; netsize counts the projections and attention products the fast path computes"
    )


def _on_cpu(model: nn.Module) -> bool:
    """Whether the model holds real tensors on the CPU (where a user would measure it for real)."""
    tensor = next(iter(model.parameters()), None)
    if tensor is None:
        tensor = next(iter(model.buffers()), None)
    return tensor is not None and tensor.device.type == "cpu"


def _config_hint(model: nn.Module) -> str:
    """For a Hugging Face model of a family netsize builds from its config: how to count it
    without any forward pass."""
    config = getattr(model, "config", None)
    if not hasattr(config, "to_dict") or not getattr(config, "model_type", None):
        return ""
    try:
        from netsize.frontends.hf_config import is_native

        native = is_native({**config.to_dict(), "architectures": [type(model).__name__]})
    except Exception:  # any config netsize cannot read: no hint
        return ""
    if not native:
        return ""
    return (
        f" netsize builds {config.model_type} models from their config, without a forward pass: "
        "netsize.frontends.hf_config.summary_from_config(model.config.to_dict()), or `netsize summary config.json`."
    )


def _failure(model: nn.Module, tracer: _Tracer, err: BaseException) -> tuple[str, str]:
    """Where a pass failed (`` in name (Class), in aten op``) and what the error said."""
    frame = tracer.stack[-1] if tracer.stack else None
    where = f" in {frame.name or ROOT} ({type(frame.module).__name__})" if frame else ""
    if tracer.failed_op is not None:
        where += f", in {tracer.failed_op}"
    what = str(err) if isinstance(err, _LazyModel) else f"{type(err).__name__}: {err}"
    return where, what


def _summary(
    model: nn.Module,
    snapshot: ModelSnapshot,
    args: tuple[Any, ...],
    kw: dict[str, Any],
    depth: int | None,
    batch_dim: int | None,
    fallback: bool,
    formulas: Formulas,
) -> Summary:
    named = list(model.named_modules())
    names = {id(m): n for n, m in named}
    tracer = _Tracer(names, formulas)
    lazy = snapshot.uninitialized
    on_cpu = _on_cpu(model)  # asked before the meta pass swaps the model's tensors
    notes: list[str] = []
    real_pass = False  # the meta pass failed and one real forward pass ran instead
    try:
        if lazy:
            raise _LazyModel("it has uninitialized (lazy) parameters, whose sizes only a real forward pass sets")
        output = _run_meta(model, tracer, args, kw, snapshot)
    except NetsizeError:
        raise
    except Exception as err:
        snapshot.restore()  # the real pass, if any, runs on the model as found
        where, what = _failure(model, tracer, err)
        first_line = what.splitlines()[0] if what else what
        real = all(not t.is_meta for t in [*model.parameters(), *model.buffers()])
        values = isinstance(err, _LazyModel) or _data_dependent(err)
        if not fallback or not real:
            why = (
                "It reads tensor values (data-dependent control flow or output sizes) or has lazy parameters."
                if values
                else "An op without a meta kernel, a tensor made on another device inside forward "
                "(torch.eye(n) without device=x.device), or a wrong input shape or dtype."
            )
            raise NetsizeError(
                f"{type(model).__name__} cannot run on meta tensors{where}: {first_line}. {why} "
                + (
                    "Build the model on a real device (netsize then falls back to one real forward pass), "
                    "or make the forward shape-only."
                    if not real
                    else "Pass fallback=True so netsize can fall back to one real forward pass."
                )
                + _config_hint(model)
            ) from None
        if lazy:
            model = copy.deepcopy(model)
            names = {id(m): n for n, m in model.named_modules()}
            snapshot = ModelSnapshot(model)
        tracer = _Tracer(names, formulas)
        try:
            output = _run_real(model, tracer, args, kw, snapshot)
        except NetsizeError:
            raise
        except Exception as err2:
            where2, what2 = _failure(model, tracer, err2)
            raise NetsizeError(
                f"{type(model).__name__}: the forward pass failed on meta tensors{where}: {first_line}; "
                f"one real forward pass failed too{where2}: {what2.splitlines()[0] if what2 else what2}. "
                "Check the input shapes and dtypes the model expects."
            ) from None
        finally:
            snapshot.restore()
        fallback_note = (
            f"{type(model).__name__} cannot run on meta tensors{where} ({first_line}); "
            "analysed it with one real forward pass instead"
            + (" on a copy" if lazy else "")
            + ", which computed the outputs and allocated the activations"
        )
        notes.append(fallback_note)
        real_pass = True
        warnings.warn(f"netsize: {fallback_note}", RuntimeWarning, stacklevel=3)
    records = _records(model, tracer.done)
    notes.extend(_flopcounter_notes(tracer.done, real_pass=real_pass))
    fast_path = _fast_path_note(tracer.done)
    if fast_path:
        notes.append(fast_path)
    if tracer.sdpa_macs and not real_pass and on_cpu:
        notes.append(
            f"{tracer.sdpa_macs:,} multiply-adds are the attention products of scaled_dot_product_attention "
            "(q@k^T and scores@v): a real pass on CPU usually computes them in one fused op, "
            "aten._scaled_dot_product_flash_attention_for_cpu, which torch.utils.flop_counter.FlopCounterMode "
            f"counts as 0, so measured that way its total can be lower by {tracer.sdpa_macs:,} (on meta tensors and "
            "on CUDA it counts them)"
        )
    uncounted = _uncounted(tracer.done)
    if uncounted:
        listed = ", ".join(f"{op} x{n}" for op, n in uncounted)
        notes.append(
            f"{len(uncounted)} aten op{'s' if len(uncounted) > 1 else ''} reached no counting rule and added 0 to "
            f"multiply-adds and other ops: {listed}. Give them a formula with "
            "netsize.frontends.torch.register_formula or summary(..., formulas=...)"
        )
    inputs = _input_names(model, args, kw)
    if not inputs:
        raise NetsizeError("the forward call received no tensor; give input_size or input_data")
    first = next(iter(inputs.values()))
    b = 0 if batch_dim is None else batch_dim
    result = Summary(
        model=type(model).__name__,
        input_shapes=inputs,
        batch_size=first[b] if len(first) > b else 1,
        convention="torch",
        layout="channels_first",
        layers=tuple(records),
        output_shapes=tuple(_shape(t) for t in _tensors(output)),
        notes=tuple(notes),
        uncounted_ops=uncounted,
        block_kinds={n: type(m).__name__ for n, m in named},
    )
    if depth is None:
        return result
    kinds = result.block_kinds
    rows = tuple(replace(r, kind=kinds.get(r.name, r.kind)) if r.kind == "Block" else r for r in result.rows(depth))
    return replace(result, layers=rows)
