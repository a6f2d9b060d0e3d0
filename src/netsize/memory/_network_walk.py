"""The network method: memory of a core ``Network`` from its layers' memory contracts.

Each layer states what its op keeps for backward, its working memory and what outlives it
(:class:`netsize.MemoryContract`); tensors are identified by the node output they are (an in-place
op's output is its input's storage), and liveness walks of the forward (inference under
``no_grad``; the forward of training, keeping the saved set), the backward (saved tensors freed as
their last user runs backward, activation and parameter gradients growing) and the optimizer step
give the peaks. See ``docs/memory.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING

from netsize._dtypes import dtype_bytes
from netsize._layer import AttentionCall
from netsize._network import Network
from netsize._shape import elements
from netsize._summary import LayerRecord, Summary
from netsize.memory._attention_kernel import EFFICIENT, FLASH, log_sum_exp_elements, sdpa_backend
from netsize.memory._common import block_bytes, optimizer_state_factor
from netsize.memory._cuda_workspace import cublas_workspace_bytes, cudnn_conv_workspace_bytes

if TYPE_CHECKING:
    from netsize.memory._report import LayerMemory, MemoryReport

# Layer kinds whose op autocast runs in the low precision dtype / in float32 (CUDA policy).
LOWER_KINDS = {
    "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "Linear", "Bilinear",
    "MatMul", "BatchMatMul", "MultiheadAttention", "Attention", "ScaledDotProductAttention", "LSTM", "GRU", "RNN",
    "LSTMCell", "GRUCell", "RNNCell",
}  # fmt: skip
FP32_KINDS = {"LayerNorm", "GroupNorm", "RMSNorm", "Softmax", "LogSoftmax", "Softplus", "CrossEntropyLoss"}
# Layers whose saved input serves only their weight's gradient: frozen, they keep none of it
# (``mm``/``convolution`` save ``self`` only when ``mat2``/``weight`` needs a gradient).
WEIGHT_GRAD_INPUT_KINDS = {"Linear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
                           "ConvTranspose3d"}  # fmt: skip


@dataclass(frozen=True)
class LoraAdapters:
    """A LoRA setup on a network, as peft builds it: every parameter frozen but the adapters
    (``A``: ``r x K``, ``B``: ``N x r``, in the parameters' dtype) on the ``layers`` named, and the
    layers in ``trained`` (peft's ``modules_to_save``), trained in full.

    What autograd then keeps (checked with ``saved_tensors_hooks``): nothing for a layer none of
    whose inputs needs a gradient (everything below the first adapter); for a frozen linear or
    convolution whose input needs one, no input (it serves only the weight's gradient) but, under
    autocast, the low-precision copy of its weight, which autocast does not cache for a frozen
    weight (its cast cache holds leaves that require grad); for a frozen RMSNorm, no normalised
    output (the weight's gradient's operand); and for each adapter, its input (under autocast a
    low-precision copy of its own) for ``A``'s gradient and ``A``'s output (``r`` per row) for
    ``B``'s.
    """

    layers: tuple[str, ...]
    r: int
    trained: tuple[str, ...] = ()
    #: the frozen base's weights are already in autocast's dtype (a bf16 base under bf16 autocast,
    #: as peft and the planner hold it): autocast makes no copies of them
    base_in_autocast_dtype: bool = False
    #: peft's ``lora_dropout``: above 0 each adapter drops its input first (a 1-byte mask kept,
    #: and A keeps the dropped input instead of the input)
    dropout: float = 0.0



@dataclass
class _Tensor:
    key: str
    elements: int
    dtype: str
    producer: int  # index of the producing node, -1 for a network input
    consumers: list[int] = field(default_factory=list)
    savers: list[int] = field(default_factory=list)
    alias_of: str | None = None

    @cached_property  # elements and dtype are fixed when the tensor is made; asked for many times
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



def from_network(
    summary: Summary,
    network: Network | None,
    dtype: str,
    opt: str,
    autocast: str | None,
    checkpointing: bool,
    checkpoint_segments: int | None = None,
    adapters: LoraAdapters | None = None,
) -> MemoryReport:
    from netsize.memory._report import MemoryReport

    records = summary.layers
    refs = _refs(summary, network)
    low = autocast
    p_bytes = dtype_bytes(1, dtype)
    tensors: dict[str, _Tensor] = {}
    adapted = set(adapters.layers) if adapters is not None else set()
    trained = set(adapters.trained) if adapters is not None else set()
    # the gradient blocks of each layer's trainable tensors, and the adapters' weight blocks
    grads_of = [0] * len(records)
    adapter_weights = 0
    for i, rec in enumerate(records):
        if (adapters is None or rec.name in trained) and rec.trainable_params:
            grads_of[i] = block_bytes((rec.trainable_params - rec.biases) * p_bytes) + block_bytes(
                rec.biases * p_bytes)
        if rec.name in adapted:
            assert adapters is not None
            k, n = rec.input_shapes[0][-1], rec.output_shapes[0][-1]
            ab = block_bytes(adapters.r * k * p_bytes) + block_bytes(n * adapters.r * p_bytes)
            grads_of[i] += ab
            adapter_weights += ab
    needs_grad: set[str] = set()  # tensors that require grad (all of them without adapters)
    kernel_outputs: set[str] = set()
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
    workspace = [0] * len(records)  # transient bytes inside a layer's forward (MemoryContract.workspace_*)
    retained = [0] * len(records)  # alive to the end of the forward (MemoryContract.retained_elements: a KV cache)
    retained_saved = [0] * len(records)  # the part of it that is also in extra_saved (one storage)
    cast_weights = 0
    cast_of = [0] * len(records)  # autocast's weight cache fills layer by layer as the forward runs
    cudnn_workspace = 0  # the largest convolution workspace (estimated, in the peaks)
    outputs_of: list[list[str]] = []
    for i, (rec, ins) in enumerate(zip(records, refs, strict=True)):
        a = rec.analysis.memory if rec.analysis is not None else None
        in_tensors = [tensor(k, s) for k, s in zip(ins, rec.input_shapes, strict=True)]
        for t in in_tensors:
            root(t).consumers.append(i)
        in_dtype = in_tensors[0].dtype if in_tensors else dtype
        if low and rec.kind in LOWER_KINDS:
            out_dtype = low
            cast_of[i] = block_bytes(dtype_bytes(rec.params, low)) if rec.params else 0
            cast_weights += cast_of[i]
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
        frozen = adapters is not None and rec.name not in trained
        graph = not frozen or rec.name in adapted or any(root(t).key in needs_grad for t in in_tensors)
        if graph:
            needs_grad.update(keys)
        if frozen and cast_of[i]:
            # autocast casts a frozen weight at each call: kept for backward when the input needs a
            # gradient, else gone when the product is done
            cast_weights -= cast_of[i]
            weight_cast = block_bytes(dtype_bytes(rec.params - rec.biases, low or dtype))
            cast_of[i] = 0
            if adapters is not None and adapters.base_in_autocast_dtype:
                weight_cast = 0
            if graph and rec.kind in WEIGHT_GRAD_INPUT_KINDS:
                extra_saved[i] += weight_cast
            else:
                workspace[i] += weight_cast
        if rec.name in adapted:
            assert adapters is not None
            x = root(in_tensors[0])
            _adapter(i, rec, x, x.key in needs_grad, adapters, low, tensors, cast_keys, workspace, kernel_outputs,
                     extra_saved)
            if low:
                # A and B are trainable leaves: autocast caches their low-precision copies
                k, n = rec.input_shapes[0][-1], rec.output_shapes[0][-1]
                ab = block_bytes(dtype_bytes(adapters.r * k, low)) + block_bytes(dtype_bytes(n * adapters.r, low))
                cast_of[i] += ab
                cast_weights += ab
        if a is None or not graph:
            continue
        if frozen and rec.kind in WEIGHT_GRAD_INPUT_KINDS:
            a = replace(a, saved_inputs=())
        elif frozen and rec.kind == "RMSNorm" and rec.params:
            # the normalised output is kept only for the weight's gradient
            a = replace(a, saved_extra_elements=max(0, a.saved_extra_elements - elements(rec.input_shapes[0])))
        call = a.attention
        if call is not None and a.saved_inputs is None and not call.seq_first_output:
            kernel_outputs.add(keys[0])  # a fused kernel's output: its contract counts it as saved
        if (adapters is not None and call is not None and call.kv_heads < call.heads and a.saved_inputs is None
                and len(in_tensors) == 3 and _backend(call, low or dtype) == EFFICIENT):
            # the memory-efficient kernel takes no grouped heads: keys and values are repeated to H
            # heads before it, and it keeps the repeated copies, not the grouped inputs. Only with
            # adapters: in full training the output projection's saved input counts the kernel's
            # output a second time, which stands in for them (exact when H = 2 H_kv; to be fixed
            # together, with the float32 mask the kernel keeps as its bias)
            repeated = call.batch * call.heads * call.kv_len * (call.head_dim + call.value_head_dim)
            a = replace(a, saved_inputs=(0,), saved_extra_elements=a.saved_extra_elements + repeated)
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
        extra_saved[i] += (
            block_bytes(dtype_bytes(a.saved_extra_elements - fp32, act))
            + block_bytes(dtype_bytes(fp32, fp32_act))
            + block_bytes(a.saved_extra_bytes)
        )
        ws32 = min(a.workspace_elements, a.workspace_float32_elements)
        workspace[i] += block_bytes(dtype_bytes(a.workspace_elements - ws32, act)) + block_bytes(
            dtype_bytes(ws32, fp32_act)
        )
        if rec.kind == "Conv2d" and rec.analysis is not None and rec.analysis.windows:
            conv_ws = _conv_workspace(rec, summary.layout, in_tensors[0], low)
            workspace[i] += conv_ws
            cudnn_workspace = max(cudnn_workspace, conv_ws)
        if a.attention is not None:
            more_saved, more_workspace = _attention_kernel_bytes(a.attention, act)
            extra_saved[i] += more_saved
            workspace[i] += more_workspace
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

    # checkpointing: each unit (a block of a stack, a segment of a sequence of layers) keeps only
    # the tensors entering it; its saved set is recomputed in backward while its layers run
    unit_of = checkpoint_units([rec.name for rec in records], checkpoint_segments) if checkpointing else []
    saved = {t.key for t in real if t.savers and t.key not in inputs_keys}
    extra_kept = list(extra_saved)
    recompute: dict[str, int] = {}
    if checkpointing:
        kept: set[str] = set()
        for t in real:
            if t.key in inputs_keys:
                continue
            made_in = unit_of[t.producer] if t.producer >= 0 else None
            enters_unit = any(unit_of[c] is not None and unit_of[c] != made_in for c in t.consumers)
            if enters_unit or any(unit_of[i] is None for i in t.savers):
                kept.add(t.key)
        for t in real:
            if t.key in inputs_keys or t.key in kept:
                continue
            for unit in {u for u in (unit_of[i] for i in t.savers) if u is not None}:
                recompute[unit] = recompute.get(unit, 0) + t.bytes
        for i, b in enumerate(extra_saved):
            u = unit_of[i]
            if u is not None:
                recompute[u] = recompute.get(u, 0) + b
                extra_kept[i] = 0
        saved = kept
    extra_total = sum(extra_kept)

    # one allocator block per tensor: weight, bias, and the buffers (counted as one block here)
    weights = adapter_weights + sum(
        block_bytes((r.params - r.biases) * p_bytes)
        + block_bytes(r.biases * p_bytes)
        + block_bytes(r.buffers * p_bytes)
        for r in records
    )
    grads = sum(grads_of)
    factor = optimizer_state_factor(opt)
    state = factor * grads
    input_bytes = sum(tensors[k].bytes for k in inputs_keys)
    activation = sum(tensors[k].bytes for k in saved) + extra_total
    layers = _layer_breakdown(records, real, saved, extra_kept, outputs_of, tensors)

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
    def forward_peak(keep_saved: bool, walk: list[int] | None = None) -> tuple[int, int]:
        """(peak, held at the end) of the forward; ``walk`` gets the bytes held while each layer
        runs (its outputs and its workspace included), the moments the peak is taken over."""
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
            cur += cast_of[i]  # the weight's low-precision copy joins the cast cache
            peak = max(peak, cur + workspace[i])  # live set while layer i runs: + outputs + workspace
            if walk is not None:
                walk.append(cur + workspace[i])
            for key in {root(tensor(k, s)).key for k, s in zip(refs[i], records[i].input_shapes, strict=True)}:
                remaining[key] -= 1
                if remaining[key] == 0 and key in live and key not in outputs and not (keep_saved and key in saved):
                    cur -= live.pop(key)
        return peak, cur

    inf_peak, _ = forward_peak(False)
    forward_walk: list[int] = []
    fwd_peak, end_fwd = forward_peak(True, forward_walk)
    base = weights + input_bytes
    peak_inference = base + inf_peak  # with the cast cache as it fills

    # training, step 2: weights + state + (forward) ... + backward with growing gradients
    train_base = base + state
    loss_fp32 = sum(
        block_bytes(dtype_bytes(tensors[k].elements, "float32"))
        for k in outputs
        if low and tensors[k].dtype != "float32"
    )
    fwd = train_base + max(fwd_peak, end_fwd + loss_fp32) + extra_total
    # The step as this walk sees it, one moment per layer and phase; its highest point is the
    # training peak (the report's and the plot's curve is this, not a per-layer account).
    steps: list[tuple[str, str, int]] = [("start", "", train_base + extra_total)]
    steps += [("forward", rec.name, train_base + extra_total + b) for rec, b in zip(records, forward_walk, strict=True)]
    steps.append(("loss", "", train_base + end_fwd + loss_fp32 + extra_total))
    live_saved = {k: tensors[k].bytes for k in saved}
    cur = train_base + end_fwd + extra_total
    bw_peak = cur
    grad_live: dict[str, int] = {}
    # who holds a saved tensor in backward: its savers and, under checkpointing, the units it enters
    holders = {
        k: set(tensors[k].savers) | {c for c in tensors[k].consumers if checkpointing and unit_of[c] is not None}
        for k in saved
    }
    pending_savers = {k: len(holders[k]) for k in saved}
    held_by: dict[int, list[str]] = {}  # layer -> the saved tensors it holds (one pass, not one per layer)
    for saved_key, who in holders.items():
        for holder in who:
            held_by.setdefault(holder, []).append(saved_key)
    for key in outputs:  # gradient of the outputs (loss backward)
        grad_live[key] = tensors[key].bytes
        cur += tensors[key].bytes
    # The loss reads low-precision outputs in float32 (autocast runs losses in float32): its
    # gradient arrives in float32 and is cast down, both alive at the start of backward.
    bw_peak = max(bw_peak, cur + loss_fp32)
    steps.append(("loss backward", "", cur + loss_fp32))
    for i in range(len(records) - 1, -1, -1):
        rec = records[i]
        new = grads_of[i]
        for ref, in_shape in zip(refs[i], rec.input_shapes, strict=True):
            t = root(tensor(ref, in_shape))
            if t.producer >= 0 and t.key not in grad_live and (adapters is None or t.key in needs_grad):
                grad_live[t.key] = t.bytes
                new += t.bytes
        cur += new
        # a checkpointed unit's recomputed saved set is alive while its layers run backward
        bw_peak = max(bw_peak, cur + (recompute.get(unit_of[i] or "", 0) if checkpointing else 0))
        steps.append(("backward", rec.name, cur + (recompute.get(unit_of[i] or "", 0) if checkpointing else 0)))
        for key in outputs_of[i]:
            r = root(tensors[key]).key
            if r in grad_live and tensors[r].producer == i:
                cur -= grad_live.pop(r)
        for key in held_by.get(i, ()):
            if key in live_saved:
                pending_savers[key] -= 1
                if pending_savers[key] == 0 and key not in outputs:
                    cur -= live_saved.pop(key)
        cur -= extra_kept[i] - train_retained_saved[i]
        # autocast's cache ends with the forward; a weight's cast copy lives on as the saved
        # operand of its layer, freed once that layer's backward is done
        cur -= cast_of[i]
    opt_temp = grads if opt in ("adam", "adamw") else 0  # foreach Adam: sqrt(exp_avg_sq) temporaries
    # the model's output, and the KV cache it holds, is alive until the step ends
    opt_peak = base + grads + state + opt_temp + sum(train_retained)
    peak_training = max(fwd, bw_peak, opt_peak)
    steps.append(("optimizer", "", opt_peak))
    return MemoryReport(
        model=summary.model,
        batch_size=summary.batch_size,
        dtype=dtype,
        optimizer=opt,
        autocast=autocast,
        checkpointing=checkpointing,
        checkpoint_segments=checkpoint_segments if checkpointing else None,
        cudnn_workspace_bytes=cudnn_workspace,
        cublas_workspace_bytes=cublas_workspace_bytes(training=True),
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
        steps=tuple(steps),
    )


def _adapter(
    i: int,
    rec: LayerRecord,
    x: _Tensor,
    x_needs_grad: bool,
    adapters: LoraAdapters,
    low: str | None,
    tensors: dict[str, _Tensor],
    cast_keys: set[str],
    workspace: list[int],
    kernel_outputs: set[str],
    extra_saved: list[int],
) -> None:
    """peft's ``result + B(A(x)) * scaling`` on layer ``i``: ``A`` keeps its input (under autocast
    a low-precision copy of its own: activations are cast at each call, and peft first casts x to
    A's float32), ``B`` keeps ``A``'s
    output; ``B``'s output and its scaled copy are alive beside the base output while the sum is
    made."""
    r = adapters.r
    rows = x.elements // rec.input_shapes[0][-1]
    act = low or x.dtype
    if adapters.dropout > 0:
        # native_dropout's output (in x's dtype once peft cast it to float32 under autocast): what
        # A reads instead of x; its bool mask is kept where x needs a gradient
        if x_needs_grad:
            extra_saved[i] += block_bytes(x.elements)
        dropped_dtype = "float32" if low else x.dtype
        key = f"{x.key}#lora_dropout:{rec.name}"
        tensors[key] = _Tensor(key, x.elements, dropped_dtype, i)
        cast_keys.add(key)
        if low:
            workspace[i] += tensors[key].bytes  # cast down by autocast for A, then freed
        else:
            x = tensors[key]
    if low:
        # peft casts x to A's dtype (float32, the parameters') and autocast back down: a copy per
        # adapter even where x is already in the low dtype
        if x.dtype != "float32" and adapters.dropout == 0:
            workspace[i] += block_bytes(dtype_bytes(x.elements, "float32"))
        key = f"{x.key}@{low}#lora:{rec.name}"
        tensors[key] = _Tensor(key, x.elements, low, i)
        cast_keys.add(key)
        x = tensors[key]
    if x.key not in kernel_outputs:  # else already counted, in the attention's saved set
        x.savers.append(i)
    key = f"{rec.name}#lora_A"
    tensors[key] = _Tensor(key, rows * r, act, i)
    cast_keys.add(key)  # made inside the layer: alive from it, as autocast's copies are
    tensors[key].savers.append(i)
    workspace[i] += 2 * block_bytes(dtype_bytes(rows * rec.output_shapes[0][-1], act))


def _conv_workspace(rec: LayerRecord, layout: str, x: _Tensor, low: str | None) -> int:
    """cuDNN's forward workspace of a 2-D convolution (``_cuda_workspace``), from its windows and
    its groups (``K_h*K_w*C_in*C_out / weights``); the input as the convolution reads it (the
    low-precision copy under autocast)."""
    assert rec.analysis is not None and rec.analysis.windows is not None
    windows = rec.analysis.windows
    axis = -1 if layout == "channels_last" else 1
    c_in, c_out = rec.input_shapes[0][axis], rec.output_shapes[0][axis]
    kernel = tuple(w.kernel for w in windows)
    groups = (kernel[0] * kernel[1] * c_in * c_out) // rec.weights if rec.weights and len(kernel) == 2 else 1
    dtype = low or x.dtype
    return cudnn_conv_workspace_bytes(
        kernel, tuple(w.stride for w in windows), tuple(w.dilation for w in windows), groups,
        dtype_bytes(x.elements, dtype),
    )


def checkpoint_units(names: list[str], segments: int | None = None) -> list[str | None]:
    """The checkpointed unit of each node (``None``: not checkpointed), from the dotted names, as
    the PyTorch-module method places ``torch.utils.checkpoint``: the first numbered part of a name
    marks a member of a stack; a member with parts after the number is a block (``layer1.0.conv1``
    is in unit ``layer1.0``; ``model.layers.3.mlp`` in ``model.layers.3``: each transformer
    layer), a member that ends at the number is a plain layer of a sequence (``features.7``), and a
    sequence is cut as ``checkpoint_sequential`` cuts it: ``segments`` (default
    ``round(sqrt(length))``) pieces of ``length // segments`` layers, all checkpointed but the last,
    which runs normally and takes the remainder. A network with no numbered stack has its
    top-level dotted blocks checkpointed whole (``b3.fc`` is in ``b3``).

    >>> checkpoint_units(["conv1", "layer1.0.conv1", "layer1.0.relu", "layer1.1.conv1", "fc"])
    [None, 'layer1.0', 'layer1.0', 'layer1.1', None]
    >>> checkpoint_units([f"features.{i}" for i in range(7)], segments=3)
    ['features#0', 'features#0', 'features#1', 'features#1', None, None, None]
    """
    units: list[str | None] = [None] * len(names)
    sequences: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        parts = name.split(".")
        for j, part in enumerate(parts):
            if part.isdigit():
                if j < len(parts) - 1:
                    units[i] = ".".join(parts[: j + 1])
                else:
                    sequences.setdefault(".".join(parts[:j]), []).append(i)
                break
    if not sequences and all(u is None for u in units):
        # no numbered stack: each top-level block (``b3.fc`` is in ``b3``), checkpointed whole
        tops = [name.split(".")[0] if "." in name else None for name in names]
        return tops if len(set(tops) - {None}) > 1 else units
    for container, members in sequences.items():
        if len(members) < 2:
            continue
        count = min(segments or max(1, round(len(members) ** 0.5)), len(members))
        size = len(members) // count
        for k in range(count - 1):
            for i in members[k * size : (k + 1) * size]:
                units[i] = f"{container}#{k}"
    return units


def _attention_kernel_bytes(call: AttentionCall, dtype: str) -> tuple[int, int]:
    """Saved and working bytes beyond the fused-kernel contract a layer states, for the kernel
    PyTorch's CUDA dispatcher picks for ``dtype`` (see ``_attention_kernel``): the
    memory-efficient kernel pads its log-sum-exp to 32 queries; the math path keeps the scaled
    q and k, the probabilities ``N*H*L*S`` and, with dropout, its mask and the dropped
    probabilities (all in float32 for 16-bit inputs: the math path computes in float32), and
    holds two ``N*H*L*S`` tensors while it runs. A sequence-first caller (``seq_first_output``)
    keeps a copy of the output unless flash wrote it in that layout."""
    backend = _backend(call, dtype)
    n, h, q_len = call.batch, call.heads, call.q_len
    copy = block_bytes(dtype_bytes(n * h * q_len * call.value_head_dim, dtype)) if call.seq_first_output else 0
    if backend == EFFICIENT:
        pad = log_sum_exp_elements(EFFICIENT, n, h, q_len) - log_sum_exp_elements(FLASH, n, h, q_len)
        return (block_bytes(dtype_bytes(pad, "float32")) if pad else 0) + copy, 0
    if backend == FLASH:
        return 0, 0
    math_dtype = "float32" if dtype in ("float16", "bfloat16") else dtype
    scores = n * h * q_len * call.kv_len
    tensors = [n * h * q_len * call.head_dim, n * h * call.kv_len * call.head_dim, scores]
    if call.dropout > 0:
        tensors += [scores, scores]  # the mask (in the dtype: the math path's bernoulli) and the dropped
    saved = sum(block_bytes(dtype_bytes(e, math_dtype)) for e in tensors) + copy
    return saved, 2 * block_bytes(dtype_bytes(scores, math_dtype))


def _backend(call: AttentionCall, dtype: str) -> str:
    """The kernel PyTorch's CUDA dispatcher picks for an attention call in ``dtype``."""
    return sdpa_backend(
        dtype,
        heads=call.heads,
        kv_heads=call.kv_heads,
        q_len=call.q_len,
        kv_len=call.kv_len,
        head_dim=call.head_dim,
        value_head_dim=call.value_head_dim,
        has_mask=call.has_mask,
        causal=call.causal,
        enable_gqa=call.enable_gqa,
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
    from netsize.memory._report import LayerMemory

    share = [0] * len(records)
    for t in real:
        if t.key in saved and t.savers:
            share[min(t.savers)] += t.bytes
    out = []
    for i, rec in enumerate(records):
        ob = sum(tensors[k].bytes for k in outputs_of[i] if tensors[k].alias_of is None)
        out.append(LayerMemory(rec.name, rec.kind, share[i] + extra[i], ob))
    return tuple(out)
