"""Training and inference memory of a network: weights, gradients, optimizer state,
activations kept for the backward pass, and the peak of one step.

>>> from netsize import Sequential, layers
>>> from netsize.memory import estimate
>>> net = Sequential([("fc1", layers.Linear(1000, 1000)), ("fc2", layers.Linear(1000, 10))], input_shape=(1000,))
>>> r = estimate(net, batch_size=32, optimizer="adam")
>>> r.weights_bytes >= 4 * (1000 * 1000 + 1000 + 1000 * 10 + 10)    # 512-byte blocks per tensor
True
>>> r.optimizer_bytes == 2 * r.gradient_bytes    # Adam: exp_avg and exp_avg_sq
True

Two ways of knowing what is alive:

* a core ``Network`` / ``Summary`` (zoo, spec, Hugging Face config): from each layer's
  saved-for-backward contract (``Analysis.saved_inputs``, ``saved_outputs``,
  ``saved_extra_elements``, ``saved_float32_elements``, ``saved_extra_bytes``, ``inplace``) and
  forward working memory (``workspace_elements``, ``workspace_float32_elements``), tensors kept to
  the end of the forward (``retained_elements``: a KV cache), tensors
  identified by the node output they are, and a liveness walk of the forward and backward passes;
* a PyTorch ``nn.Module``: observed exactly by replaying inference and two training steps on
  the meta device (see :mod:`netsize.memory._torch_observe`).

The terms and how they were checked against an H100 are in ``docs/memory.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from netsize._analyze import analyze
from netsize._display import ShowsItself
from netsize._dtypes import canonical_dtype, dtype_bytes
from netsize._errors import NetsizeError
from netsize._network import Network
from netsize._shape import elements
from netsize._summary import LayerRecord, Summary

__all__ = ["OPTIMIZERS", "LayerMemory", "MemoryReport", "block_bytes", "estimate", "optimizer_state_factor"]

BLOCK = 512  # CUDA caching allocator: every block is a multiple of 512 bytes

OPTIMIZERS = ("adam", "adamw", "sgd", "sgd_momentum", "none")
_OPT_ALIASES = {"sgd-momentum": "sgd_momentum", "momentum": "sgd_momentum", "sgdm": "sgd_momentum"}
_AUTOCAST = ("bfloat16", "float16")

# Layer kinds whose op autocast runs in the low precision dtype / in float32 (CUDA policy).
LOWER_KINDS = {
    "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "Linear", "Bilinear",
    "MatMul", "BatchMatMul", "MultiheadAttention", "Attention", "ScaledDotProductAttention", "LSTM", "GRU", "RNN",
    "LSTMCell", "GRUCell", "RNNCell",
}  # fmt: skip
FP32_KINDS = {"LayerNorm", "GroupNorm", "RMSNorm", "Softmax", "LogSoftmax", "Softplus", "CrossEntropyLoss"}


def block_bytes(nbytes: int) -> int:
    """``nbytes`` rounded up to the caching allocator's 512-byte blocks.

    >>> block_bytes(1), block_bytes(512), block_bytes(513)
    (512, 512, 1024)
    """
    return -(-nbytes // BLOCK) * BLOCK if nbytes > 0 else 0


def optimizer_state_factor(optimizer: str) -> int:
    """Tensors of parameter size an optimizer keeps: Adam/AdamW 2, SGD with momentum 1, SGD 0."""
    return {"adam": 2, "adamw": 2, "sgd_momentum": 1, "sgd": 0, "none": 0}[_optimizer(optimizer)]


def _optimizer(name: str) -> str:
    key = name.lower().replace(" ", "_")
    key = _OPT_ALIASES.get(key, key)
    if key not in OPTIMIZERS:
        raise NetsizeError(f"unknown optimizer {name!r}; use one of {', '.join(OPTIMIZERS)}")
    return key


@dataclass(frozen=True)
class LayerMemory:
    """One layer's share: bytes of the tensors it keeps for backward (each tensor counted once,
    at the first layer that keeps it) and bytes of its outputs."""

    name: str
    kind: str
    saved_bytes: int
    output_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "saved_bytes": self.saved_bytes,
            "output_bytes": self.output_bytes,
        }


@dataclass(frozen=True, repr=False)  # str/repr/HTML/pandas: netsize._display
class MemoryReport(ShowsItself):
    """Bytes of one training step and of inference (CUDA caching allocator blocks)."""

    model: str
    batch_size: int
    dtype: str
    optimizer: str
    autocast: str | None
    checkpointing: bool
    method: str  # "network" (layer contracts) or "torch" (observed on the meta device)
    params: int
    trainable_params: int
    weights_bytes: int
    gradient_bytes: int
    optimizer_bytes: int
    activation_bytes: int
    input_bytes: int
    autocast_weight_copies_bytes: int
    peak_training_bytes: int
    peak_inference_bytes: int
    peak_backward_bytes: int = 0
    peak_optimizer_step_bytes: int = 0
    layers: tuple[LayerMemory, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        keys = (
            "model", "batch_size", "dtype", "optimizer", "autocast", "checkpointing", "method", "params",
            "trainable_params", "weights_bytes", "gradient_bytes", "optimizer_bytes", "activation_bytes",
            "input_bytes", "autocast_weight_copies_bytes", "peak_training_bytes", "peak_inference_bytes",
            "peak_backward_bytes", "peak_optimizer_step_bytes",
        )  # fmt: skip
        d: dict[str, Any] = {k: getattr(self, k) for k in keys}
        d["layers"] = [m.to_dict() for m in self.layers]
        return d


def estimate(
    target: Any,
    batch_size: int = 1,
    dtype: str = "float32",
    optimizer: str = "adam",
    autocast: str | None = None,
    checkpointing: bool = False,
    *,
    input_size: Any = None,
    seq_len: int | None = None,
    make_batch: Any = None,
    loss_fn: Any = None,
) -> MemoryReport:
    """Memory of one training step (steady state: the optimizer state exists) and of inference.

    ``target``: a core :class:`~netsize.Network`, a :class:`~netsize.Summary` (its batch size
    is used), an object with ``.network`` or ``.module`` (a CLI target), or a ``torch.nn.Module``
    with ``input_size`` (per sample, without the batch axis) or ``make_batch`` (a callable that
    returns the batch on the meta device); a Hugging Face model needs only ``seq_len``.
    ``dtype``: the parameters' dtype. ``autocast``: ``bfloat16``/``float16`` mixed precision.
    ``optimizer``: ``adam``, ``adamw``, ``sgd``, ``sgd_momentum`` or ``none``.
    """
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise NetsizeError(f"batch size must be a positive integer (got {batch_size!r})")
    dtype = canonical_dtype(dtype)
    opt = _optimizer(optimizer)
    if autocast is not None:
        autocast = canonical_dtype(autocast)
        if autocast not in _AUTOCAST:
            raise NetsizeError(f"autocast dtype must be bfloat16 or float16 (got {autocast!r})")
        if dtype != "float32":
            raise NetsizeError(f"autocast keeps float32 parameters; use --dtype float32 with it (got {dtype})")
    module = getattr(target, "module", None)
    network = getattr(target, "network", None)
    if isinstance(target, (Network, Summary)):
        network = target
    elif network is None and module is None and _is_torch_module(target):
        module = target
    if input_size is None:
        input_size = getattr(target, "input_size", None)
    if network is not None and not (module is not None and network is None):
        summary = network if isinstance(network, Summary) else analyze(network, batch_size=batch_size)
        net = network if isinstance(network, Network) else None
        return _from_network(summary, net, dtype, opt, autocast, checkpointing)
    if module is not None:
        return _from_module(
            module, batch_size, dtype, opt, autocast, checkpointing, input_size, seq_len, make_batch, loss_fn
        )
    raise NetsizeError(
        f"cannot estimate memory of {type(target).__name__}: give a Network, a Summary or a torch.nn.Module"
    )


def _is_torch_module(obj: Any) -> bool:
    return any(c.__module__.startswith("torch.nn") and c.__name__ == "Module" for c in type(obj).__mro__)


# --- PyTorch modules: observed on the meta device --------------------------------------------


def _from_module(
    module: Any,
    batch_size: int,
    dtype: str,
    opt: str,
    autocast: str | None,
    checkpointing: bool,
    input_size: Any,
    seq_len: int | None,
    make_batch: Any,
    loss_fn: Any,
) -> MemoryReport:
    from netsize.memory import _torch_observe as obs_mod

    name = type(module).__name__
    with obs_mod.untouched(module):  # a meta-built module is observed in place, then restored
        model = obs_mod.to_meta(module)
        if not any(p.requires_grad for p in model.parameters()):
            raise NetsizeError(
                f"{name}: the model has no trainable parameters, so a training step has nothing to update "
                "(`netsize summary` shows its shapes and counts)"
            )
        if make_batch is None:
            make_batch = obs_mod.batch_maker(model, batch_size, input_size, seq_len)
        try:
            o = obs_mod.observe(
                model, make_batch, dtype=dtype, autocast=autocast, optimizer=opt, loss_fn=loss_fn,
                checkpointing=checkpointing,
            )
        except NetsizeError:
            raise
        except RecursionError:
            raise NetsizeError(f"{name}: the forward pass recursed without end on meta tensors") from None
        except Exception as err:  # the user's forward: as `summary` reports it, one line
            first = str(err).splitlines()[0] if str(err) else ""
            raise NetsizeError(f"{name}: the training step failed on meta tensors: {type(err).__name__}: {first}") \
                from None
        kinds = {name: type(m).__name__ for name, m in model.named_modules()}
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    per_layer: dict[str, int] = {}
    for s in o.saved:
        per_layer[s.module] = per_layer.get(s.module, 0) + s.bytes
    layers = tuple(LayerMemory(n, kinds.get(n, "Module"), b, 0) for n, b in per_layer.items())
    return MemoryReport(
        model=type(module).__name__,
        batch_size=batch_size,
        dtype=dtype,
        optimizer=opt,
        autocast=autocast,
        checkpointing=checkpointing,
        method="torch",
        params=o.params,
        trainable_params=trainable,
        weights_bytes=o.weights_bytes,
        gradient_bytes=o.gradient_bytes,
        optimizer_bytes=o.optimizer_bytes,
        activation_bytes=o.activation_bytes,
        input_bytes=o.input_bytes,
        autocast_weight_copies_bytes=o.autocast_weight_copies_bytes,
        peak_training_bytes=o.peak_training_bytes,
        peak_inference_bytes=o.peak_inference_bytes,
        peak_backward_bytes=o.peak_backward_bytes,
        peak_optimizer_step_bytes=o.peak_optimizer_bytes,
        layers=layers,
    )


# --- core networks: the layers' saved-for-backward contracts + liveness -----------------------


@dataclass
class _Tensor:
    key: str
    elements: int
    dtype: str
    producer: int  # index of the producing node, -1 for a network input
    consumers: list[int] = field(default_factory=list)
    savers: list[int] = field(default_factory=list)
    alias_of: str | None = None

    @property
    def bytes(self) -> int:
        return block_bytes(dtype_bytes(self.elements, self.dtype))


def _refs(summary: Summary, network: Network | None) -> list[list[str]]:
    """Each record's input tensor keys (``node`` or ``node:k``)."""
    if network is not None and len(network.nodes) == len(summary.layers):
        return [[r[:-2] if r.endswith(":0") else r for r in n.inputs] for n in network.nodes]
    # A Summary alone: a chain (each layer takes the previous one's output).
    out: list[list[str]] = []
    prev = next(iter(summary.input_shapes))
    for rec in summary.layers:
        if len(rec.input_shapes) == 1:
            out.append([prev])
        else:
            out.append([f"{rec.name}.in{k}" for k in range(len(rec.input_shapes))])
        prev = rec.name
    return out



def _from_network(
    summary: Summary, network: Network | None, dtype: str, opt: str, autocast: str | None, checkpointing: bool
) -> MemoryReport:
    records = summary.layers
    refs = _refs(summary, network)
    low = autocast
    tensors: dict[str, _Tensor] = {}
    for name, shape in summary.input_shapes.items():
        tensors[name] = _Tensor(name, elements(shape), dtype, -1)

    def tensor(key: str, shape: tuple[int, ...]) -> _Tensor:
        if key not in tensors:  # an input the chain fallback could not name
            tensors[key] = _Tensor(key, elements(shape), dtype, -1)
        return tensors[key]

    def root(t: _Tensor) -> _Tensor:
        while t.alias_of is not None:
            t = tensors[t.alias_of]
        return t

    cast_keys: set[str] = set()  # autocast's saved low-precision copies of inputs
    extra_saved = [0] * len(records)  # bytes not tied to a tensor (BN statistics, masks, indices)
    workspace = [0] * len(records)  # transient bytes inside a layer's forward (Analysis.workspace_*)
    retained = [0] * len(records)  # alive to the end of the forward (Analysis.retained_elements: a KV cache)
    retained_saved = [0] * len(records)  # the part of it that is also in extra_saved (one storage)
    cast_weights = 0
    outputs_of: list[list[str]] = []
    for i, (rec, ins) in enumerate(zip(records, refs, strict=True)):
        a = rec.analysis
        in_tensors = [tensor(k, s) for k, s in zip(ins, rec.input_shapes, strict=True)]
        for t in in_tensors:
            root(t).consumers.append(i)
        in_dtype = in_tensors[0].dtype if in_tensors else dtype
        if low and rec.kind in LOWER_KINDS:
            out_dtype = low
            cast_weights += block_bytes(dtype_bytes(rec.params, low)) if rec.params else 0
        elif low and rec.kind in FP32_KINDS:
            out_dtype = "float32"
        else:
            out_dtype = in_dtype
        keys = []
        for k, shape in enumerate(rec.output_shapes):
            key = rec.name if k == 0 else f"{rec.name}:{k}"
            t = _Tensor(key, elements(shape), out_dtype, i)
            if k == 0 and a is not None and a.inplace and in_tensors:
                t.alias_of = root(in_tensors[0]).key
            tensors[key] = t
            keys.append(key)
        outputs_of.append(keys)
        if a is None:
            continue
        kept_inputs = range(len(in_tensors)) if a.saved_inputs is None else a.saved_inputs
        for j in kept_inputs:
            t = root(in_tensors[j])
            if low and (rec.kind in LOWER_KINDS or rec.kind in FP32_KINDS) and t.dtype != out_dtype:
                # autocast saves the cast copy, a tensor of its own
                ckey = f"{t.key}@{out_dtype}"
                if ckey not in tensors:
                    tensors[ckey] = _Tensor(ckey, t.elements, out_dtype, i)
                    cast_keys.add(ckey)
                t = tensors[ckey]
            t.savers.append(i)
        for j in a.saved_outputs:
            root(tensors[keys[j]]).savers.append(i)
        act = out_dtype if rec.kind not in LOWER_KINDS else (low or dtype)
        # the part a layer states stays float32 under autocast (softmax probabilities...)
        fp32_act = "float32" if low else act
        fp32 = min(a.saved_extra_elements, a.saved_float32_elements)
        extra_saved[i] = (
            block_bytes(dtype_bytes(a.saved_extra_elements - fp32, act))
            + block_bytes(dtype_bytes(fp32, fp32_act))
            + block_bytes(a.saved_extra_bytes)
        )
        ws32 = min(a.workspace_elements, a.workspace_float32_elements)
        workspace[i] = block_bytes(dtype_bytes(a.workspace_elements - ws32, act)) + block_bytes(
            dtype_bytes(ws32, fp32_act)
        )
        if a.retained_elements:
            # a KV cache: keys and values, one tensor each (split evenly when there are two)
            half = a.retained_elements // 2
            retained[i] = block_bytes(dtype_bytes(half, act)) + block_bytes(
                dtype_bytes(a.retained_elements - half, act)
            )
            rs = min(a.retained_saved_elements, a.retained_elements)
            retained_saved[i] = min(retained[i] if rs == a.retained_elements else block_bytes(dtype_bytes(rs, act)),
                                    extra_saved[i])

    outputs = {root(tensors[r[:-2] if r.endswith(":0") else r]).key for r in _output_refs(summary, network)}
    real = [t for t in tensors.values() if t.alias_of is None]
    inputs_keys = set(summary.input_shapes)

    # checkpointing: per top-level block, keep only the tensors entering it; recompute inside
    block_of = [rec.name.split(".")[0] for rec in records]
    saved = {t.key for t in real if t.savers and t.key not in inputs_keys}
    recompute_peak = 0
    if checkpointing:
        kept: set[str] = set()
        per_block: dict[str, int] = {}
        for t in real:
            if t.key in inputs_keys:
                continue
            if t.savers:
                blk = block_of[t.savers[0]]
                per_block[blk] = per_block.get(blk, 0) + t.bytes
            if t.producer >= 0 and any(block_of[c] != block_of[t.producer] for c in t.consumers):
                kept.add(t.key)
        for i, b in enumerate(extra_saved):
            per_block[block_of[i]] = per_block.get(block_of[i], 0) + b
        recompute_peak = max(per_block.values(), default=0)
        saved = kept
        extra_total = 0
    else:
        extra_total = sum(extra_saved)

    p_bytes = dtype_bytes(1, dtype)
    # one allocator block per tensor: weight, bias, and the buffers (counted as one block here)
    weights = sum(
        block_bytes((r.params - r.biases) * p_bytes)
        + block_bytes(r.biases * p_bytes)
        + block_bytes(r.buffers * p_bytes)
        for r in records
    )
    grads = sum(
        block_bytes((r.trainable_params - r.biases) * p_bytes) + block_bytes(r.biases * p_bytes)
        for r in records
        if r.trainable_params
    )
    factor = optimizer_state_factor(opt)
    state = factor * grads
    input_bytes = sum(tensors[k].bytes for k in inputs_keys)
    activation = sum(tensors[k].bytes for k in saved) + extra_total
    layers = _layer_breakdown(
        records, real, saved, extra_saved if not checkpointing else [0] * len(records), outputs_of, tensors
    )

    casts_by_node: dict[int, list[_Tensor]] = {}
    for t in real:
        if t.key in cast_keys:  # node names may hold '@' too (zoo: ``relu@2``)
            casts_by_node.setdefault(t.producer, []).append(t)

    # Retained tensors (a KV cache) live from their layer to the end of the forward at inference;
    # in training (transformers keeps use_cache on in train(); only gradient checkpointing turns
    # it off) to the end of the step: the part that is also saved is not freed in backward.
    train_retained = [0] * len(records) if checkpointing else retained
    train_retained_saved = [0] * len(records) if checkpointing else retained_saved

    # forward liveness (inference, and the forward of training with saved tensors kept)
    def forward_peak(keep_saved: bool) -> tuple[int, int]:
        live: dict[str, int] = {}
        remaining = {t.key: len(t.consumers) for t in real}
        peak = cur = 0
        for i, _rec in enumerate(records):
            for key in outputs_of[i]:
                t = tensors[key]
                if t.alias_of is None:
                    live[key] = t.bytes
                    cur += t.bytes
            for t in casts_by_node.get(i, ()):
                if keep_saved and t.key in saved:
                    live[t.key] = t.bytes
                    cur += t.bytes
            # the saved part of a training-time cache is already in extra_total
            cur += train_retained[i] - train_retained_saved[i] if keep_saved else retained[i]
            peak = max(peak, cur + workspace[i])  # live set while layer i runs: + outputs + workspace
            for key in {root(tensor(k, s)).key for k, s in zip(refs[i], records[i].input_shapes, strict=True)}:
                remaining[key] -= 1
                if remaining[key] == 0 and key in live and key not in outputs and not (keep_saved and key in saved):
                    cur -= live.pop(key)
        return peak, cur

    inf_peak, _ = forward_peak(False)
    fwd_peak, end_fwd = forward_peak(True)
    base = weights + input_bytes
    base_inf = base + cast_weights if low else base  # the cast cache fills during inference too
    peak_inference = base_inf + inf_peak

    # training, step 2: weights + state + (forward) ... + backward with growing gradients
    train_base = base + state
    loss_fp32 = sum(
        block_bytes(dtype_bytes(tensors[k].elements, "float32"))
        for k in outputs
        if low and tensors[k].dtype != "float32"
    )
    fwd = train_base + max(fwd_peak, end_fwd + loss_fp32) + extra_total + (cast_weights if low else 0)
    live_saved = {k: tensors[k].bytes for k in saved}
    cur = train_base + end_fwd + extra_total + (cast_weights if low else 0)
    bw_peak = cur
    grad_live: dict[str, int] = {}
    pending_savers = {k: sum(1 for s in tensors[k].savers) for k in saved}
    for key in outputs:  # gradient of the outputs (loss backward)
        grad_live[key] = tensors[key].bytes
        cur += tensors[key].bytes
    # The loss reads low-precision outputs in float32 (autocast runs losses in float32): its
    # gradient arrives in float32 and is cast down, both alive at the start of backward.
    bw_peak = max(bw_peak, cur + loss_fp32)
    for i in range(len(records) - 1, -1, -1):
        rec = records[i]
        new = 0
        if rec.trainable_params:
            new += block_bytes((rec.trainable_params - rec.biases) * p_bytes) + block_bytes(rec.biases * p_bytes)
        for ref, in_shape in zip(refs[i], rec.input_shapes, strict=True):
            t = root(tensor(ref, in_shape))
            if t.producer >= 0 and t.key not in grad_live:
                grad_live[t.key] = t.bytes
                new += t.bytes
        cur += new
        bw_peak = max(bw_peak, cur + (recompute_peak if checkpointing else 0))
        for key in outputs_of[i]:
            r = root(tensors[key]).key
            if r in grad_live and tensors[r].producer == i:
                cur -= grad_live.pop(r)
        for key in list(live_saved):
            if i in tensors[key].savers:
                pending_savers[key] -= 1
                if pending_savers[key] == 0 and key not in outputs:
                    cur -= live_saved.pop(key)
        cur -= extra_saved[i] - train_retained_saved[i] if not checkpointing else 0
    opt_temp = grads if opt in ("adam", "adamw") else 0  # foreach Adam: sqrt(exp_avg_sq) temporaries
    # the model's output, and the KV cache it holds, is alive until the step ends
    opt_peak = base + grads + state + opt_temp + sum(train_retained)
    peak_training = max(fwd, bw_peak, opt_peak)
    return MemoryReport(
        model=summary.model,
        batch_size=summary.batch_size,
        dtype=dtype,
        optimizer=opt,
        autocast=autocast,
        checkpointing=checkpointing,
        method="network",
        params=summary.totals.params,
        trainable_params=summary.totals.trainable_params,
        weights_bytes=weights,
        gradient_bytes=grads,
        optimizer_bytes=state,
        activation_bytes=activation,
        input_bytes=input_bytes,
        autocast_weight_copies_bytes=cast_weights if low else 0,
        peak_training_bytes=peak_training,
        peak_inference_bytes=peak_inference,
        peak_backward_bytes=bw_peak,
        peak_optimizer_step_bytes=opt_peak,
        layers=layers,
    )


def _output_refs(summary: Summary, network: Network | None) -> tuple[str, ...]:
    if network is not None:
        return network.output_refs
    return (summary.layers[-1].name,) if summary.layers else tuple(summary.input_shapes)


def _layer_breakdown(
    records: tuple[LayerRecord, ...],
    real: list[_Tensor],
    saved: set[str],
    extra: list[int],
    outputs_of: list[list[str]],
    tensors: dict[str, _Tensor],
) -> tuple[LayerMemory, ...]:
    share = [0] * len(records)
    for t in real:
        if t.key in saved and t.savers:
            share[min(t.savers)] += t.bytes
    out = []
    for i, rec in enumerate(records):
        ob = sum(tensors[k].bytes for k in outputs_of[i] if tensors[k].alias_of is None)
        out.append(LayerMemory(rec.name, rec.kind, share[i] + extra[i], ob))
    return tuple(out)
