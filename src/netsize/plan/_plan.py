"""The plan's types (:class:`Setup`, :class:`Scenario`, :class:`Plan`) and the arithmetic of each
scenario: weights, gradients, optimizer state, activations and KV cache per GPU, each a term with
its formula. :mod:`netsize.plan` re-exports the public names."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from netsize._analyze import analyze
from netsize._display import ShowsItself
from netsize._dtypes import canonical_dtype, dtype_bytes
from netsize._errors import NetsizeError
from netsize._i18n import register_messages
from netsize._network import Network
from netsize._summary import Summary
from netsize._term import Term
from netsize.plan._gpus import GPU, GPUS
from netsize.plan._gpus import gpu as gpu_named
from netsize.plan._lora import LoRA, LoRACount, lora_count, matches, output_layer
from netsize.plan._peft_targets import PEFT_VERSION, default_lora_targets
from netsize.plan._roofline import Roofline, roofline
from netsize.plan._states import optimizer_name, optimizer_state_bytes
from netsize.quantization import Quantization, linear_weight_bytes

__all__ = ["SCENARIOS", "GPUFit", "Plan", "Scenario", "Setup", "plan"]

SCENARIOS = ("serve", "lora", "qlora", "full")
PRECISIONS = ("amp", "master", "bf16", "fp32")
FSDP_MODES = ("full_shard", "shard_grad_op", "hybrid_shard")
ACTIVATION_DTYPES = ("autocast", "bf16", "fp32")

register_messages(
    {
        "weight_bytes": {"en": "weight bytes", "zh": "权重字节数"},
        "weights": {"en": "weights", "zh": "权重"},
        "gradients": {"en": "gradients", "zh": "梯度"},
        "master_weights": {"en": "master weights", "zh": "主权重"},
        "optimizer_state": {"en": "optimizer state", "zh": "优化器状态"},
        "fp32_grad_partition": {"en": "float32 gradient partition", "zh": "float32 梯度分片"},
        "gathered_layer": {"en": "gathered layer (ZeRO-3)", "zh": "聚合的层（ZeRO-3）"},
        "activations": {"en": "activations", "zh": "激活"},
        "kv_cache": {"en": "KV cache", "zh": "KV 缓存"},
        "largest_activation": {"en": "largest activation", "zh": "最大激活"},
        "total_per_gpu": {"en": "total per GPU", "zh": "每块 GPU 合计"},
        "cpu_offload": {"en": "CPU memory per node (offload)", "zh": "每个节点的 CPU 内存（卸载）"},
        "lora_adapter_params": {"en": "LoRA adapter params", "zh": "LoRA 适配器参数"},
        "lora_bias_params": {"en": "trainable bias params", "zh": "可训练偏置参数"},
        "lora_saved_module_params": {"en": "modules_to_save params", "zh": "modules_to_save 参数"},
        "trainable_params": {"en": "trainable params", "zh": "可训练参数"},
        "max_batch": {"en": "largest batch at this context", "zh": "此上下文长度下的最大批量"},
        "max_context": {"en": "longest context at this batch", "zh": "此批量下的最长上下文"},
    }
)


@dataclass(frozen=True)
class Setup:
    """What the plan is for. Sizes are per GPU where it matters (``micro_batch``).

    ``precision``: ``amp`` (float32 weights, bf16 autocast; plain PyTorch/HF Trainer), ``master``
    (bf16 weights and gradients, float32 master copy; DeepSpeed/Megatron; the default under
    ZeRO), ``bf16`` (everything in bf16) or ``fp32``. ``attention``: the kernel a config's model
    runs (``sdpa``, transformers' default, or ``eager``) when the config does not name one.
    ``fsdp`` picks PyTorch FSDP's sharding
    instead of ZeRO (``full_shard`` = stage 3, ``shard_grad_op`` = stage 2, ``hybrid_shard`` =
    stage 3 inside a node).

    ``seq_len``: tokens per training sequence and the serving context's default; None (the default)
    is the model's own, as every command reads a config: ``min(max_position_embeddings, 1024)``
    (T5: 512; a network: its input's length). ``activations``: the dtype activations are saved in;
    None follows ``precision`` (``amp``: bf16 autocast, LayerNorm/softmax and their saved tensors in
    float32; ``master`` and ``bf16``: the model runs in bf16, everything saved in 16 bits, the
    setting of Korthikanti et al.'s ``sbh(34 + 5as/h)``; ``fp32``: float32), or name one of
    ``autocast``, ``bf16``, ``fp32``.
    """

    seq_len: int | None = None
    micro_batch: int = 1
    grad_accum: int = 1
    gpus: int = 1
    gpus_per_node: int = 8
    zero: int = 0
    fsdp: str | None = None
    offload_optimizer: bool = False
    offload_params: bool = False
    tensor_parallel: int = 1
    pipeline_stages: int = 1
    optimizer: str = "adamw"
    precision: str | None = None
    checkpointing: bool = False
    lora: LoRA = field(default_factory=LoRA)
    quant: Quantization = field(default_factory=Quantization)
    qlora_quant: Quantization = field(default_factory=lambda: Quantization("nf4", double_quant=True))
    serve_batch: int = 1
    context: int | None = None
    block_size: int = 16
    gpu_memory_utilization: float = 0.9
    kv_dtype: str = "bfloat16"
    attention: str = "sdpa"
    activations: str | None = None
    efficiency: float = 1.0  # fraction of the datasheet's peak FLOP/s and bandwidth the roofline assumes

    def __post_init__(self) -> None:
        if self.seq_len is not None and (not isinstance(self.seq_len, int) or isinstance(self.seq_len, bool)
                                         or self.seq_len <= 0):
            raise NetsizeError(f"seq-len must be a positive integer (got {self.seq_len!r})")
        if self.activations not in (None, *ACTIVATION_DTYPES):
            raise NetsizeError(f"activations must be one of {', '.join(ACTIVATION_DTYPES)} (got {self.activations!r})")
        for name in ("micro_batch", "grad_accum", "gpus", "gpus_per_node", "tensor_parallel",
                     "pipeline_stages", "serve_batch", "block_size"):  # fmt: skip
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise NetsizeError(f"{name.replace('_', '-')} must be a positive integer (got {v!r})")
        if self.context is not None and (not isinstance(self.context, int) or self.context <= 0):
            raise NetsizeError(f"context must be a positive integer (got {self.context!r})")
        model_parallel = self.tensor_parallel * self.pipeline_stages
        if self.gpus % model_parallel:
            raise NetsizeError(
                f"{self.gpus} GPUs cannot hold tensor-parallel {self.tensor_parallel} x pipeline "
                f"{self.pipeline_stages} = {model_parallel}-way model parallelism: use a multiple of {model_parallel}"
            )
        if self.fsdp is not None and self.fsdp not in FSDP_MODES:
            raise NetsizeError(f"fsdp must be one of {', '.join(FSDP_MODES)} (got {self.fsdp!r})")
        if self.fsdp is not None and self.zero:
            raise NetsizeError("choose ZeRO (--zero) or FSDP (--fsdp), not both")
        if self.precision is not None and self.precision not in PRECISIONS:
            raise NetsizeError(f"precision must be one of {', '.join(PRECISIONS)} (got {self.precision!r})")
        if not 0 < self.efficiency <= 1:
            raise NetsizeError(f"efficiency must be in (0, 1] (got {self.efficiency})")
        if not 0 < self.gpu_memory_utilization <= 1:
            raise NetsizeError(f"gpu-memory-utilization must be in (0, 1] (got {self.gpu_memory_utilization})")
        if self.zero not in (0, 1, 2, 3):
            raise NetsizeError(f"ZeRO stage must be 0, 1, 2 or 3 (got {self.zero})")
        if self.offload_params and self.zero_stage != 3:
            raise NetsizeError("offloading parameters needs ZeRO stage 3 (or FSDP full shard)")
        if self.offload_optimizer and self.zero_stage == 0:
            raise NetsizeError("offloading the optimizer needs a ZeRO stage (1, 2 or 3) or FSDP")
        if self.attention not in ("sdpa", "eager"):
            raise NetsizeError(f"attention must be sdpa or eager (got {self.attention!r})")
        optimizer_name(self.optimizer)
        canonical_dtype(self.kv_dtype)

    @property
    def data_parallel(self) -> int:
        return self.gpus // (self.tensor_parallel * self.pipeline_stages)

    @property
    def zero_stage(self) -> int:
        if self.fsdp == "shard_grad_op":
            return 2
        if self.fsdp in ("full_shard", "hybrid_shard"):
            return 3
        return self.zero

    @property
    def shard_degree(self) -> int:
        if self.fsdp == "hybrid_shard":
            return min(self.gpus_per_node, self.data_parallel)
        return self.data_parallel

    def resolved_precision(self) -> str:
        if self.precision is not None:
            return self.precision
        return "master" if self.zero and self.fsdp is None else "amp"

    def resolved_activations(self) -> str:
        if self.activations is not None:
            return self.activations
        return {"amp": "autocast", "fp32": "fp32"}.get(self.resolved_precision(), "bf16")


@dataclass(frozen=True)
class GPUFit:
    """One GPU of the table for one scenario: fits or not, and the headroom (negative: missing)."""

    gpu: str
    memory_bytes: int
    fits: bool
    headroom_bytes: int
    max_batch: int | None = None


@dataclass(frozen=True)
class Scenario:
    """One scenario's bytes per GPU, each part a term with its formula."""

    name: str
    description: str
    trainable_params: int
    parts: tuple[Term, ...]
    total_bytes: int
    cpu_bytes: int = 0
    fits: tuple[GPUFit, ...] = ()
    extra: tuple[Term, ...] = ()
    notes: tuple[str, ...] = ()
    error: str | None = None  # why this scenario could not be planned (the others still are)
    explanation: tuple[str, ...] = ()  # printed with --explain only

    def part(self, name: str) -> int:
        for t in self.parts:
            if t.name == name:
                return t.value
        return 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "trainable_params": self.trainable_params,
            "per_gpu_bytes": {t.name: t.value for t in self.parts},
            "total_per_gpu_bytes": self.total_bytes,
            "cpu_per_node_bytes": self.cpu_bytes,
            "terms": {t.name: t.value for t in self.extra},
            "fits": [
                {"gpu": f.gpu, "memory_bytes": f.memory_bytes, "fits": f.fits, "headroom_bytes": f.headroom_bytes,
                 **({"max_batch": f.max_batch} if f.max_batch is not None else {})}
                for f in self.fits
            ],
            "notes": list(self.notes),
            **({"error": self.error} if self.error else {}),
        }  # fmt: skip


@dataclass(frozen=True, repr=False)  # str/repr/HTML/pandas: netsize._display
class Plan(ShowsItself):
    """Every scenario of a plan for one model and setup."""

    model: str
    params: int
    setup: Setup
    scenarios: tuple[Scenario, ...]
    gpu: str | None = None
    roofline: Roofline | None = None  # time estimates, when the plan is for one GPU model

    def scenario(self, name: str) -> Scenario:
        for s in self.scenarios:
            if s.name == name:
                return s
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        s = self.setup
        return {
            "model": self.model,
            "params": self.params,
            "gpu": self.gpu,
            "setup": {
                "seq_len": s.seq_len, "micro_batch": s.micro_batch, "grad_accum": s.grad_accum, "gpus": s.gpus,
                "zero": s.zero, "fsdp": s.fsdp, "offload_optimizer": s.offload_optimizer,
                "offload_params": s.offload_params, "tensor_parallel": s.tensor_parallel,
                "pipeline_stages": s.pipeline_stages, "optimizer": s.optimizer, "precision": s.resolved_precision(),
                "checkpointing": s.checkpointing, "activations": s.resolved_activations(),
                "lora": {"r": s.lora.r, "alpha": s.lora.alpha,
                "targets": s.lora.targets if s.lora.targets is None or isinstance(s.lora.targets, str)
                else list(s.lora.targets),
                "bias": s.lora.bias, "modules_to_save": list(s.lora.modules_to_save)},
                "quant": s.quant.label, "serve_batch": s.serve_batch, "context": s.context,
                "block_size": s.block_size, "gpu_memory_utilization": s.gpu_memory_utilization,
                "kv_dtype": s.kv_dtype,
            },
            "scenarios": [sc.to_dict() for sc in self.scenarios],
            **({"roofline": self.roofline.to_dict()} if self.roofline is not None else {}),
        }  # fmt: skip

    def explain(self, lang: str = "en") -> str:
        out: list[str] = []
        for sc in self.scenarios:
            out.append(f"[{sc.name}] {sc.description}")
            if sc.error:
                out.append(f"  error: {sc.error}")
            out += ["  " + t.render(lang) for t in (*sc.extra, *sc.parts)]
            out += ["  note: " + n for n in sc.notes]
            out += ["  " + line for line in sc.explanation]
        if self.roofline is not None:
            out += self.roofline.explain()
        return "\n".join(out)


# --- the model's weights, layer by layer ------------------------------------------------------


@dataclass(frozen=True)
class _Weights:
    """Weight storage of the analysed model under one quantisation."""

    total_bytes: int
    quantised_layers: int
    kept_layers: int
    largest_layer_params: int
    tensors: tuple[tuple[int, ...], ...]  # trainable tensor shapes for a full fine-tune


def _weights(summary: Summary, q: Quantization, dtype: str) -> _Weights:
    head = output_layer(summary)
    total = 0
    quantised = kept = 0
    largest = 0
    tensors: list[tuple[int, ...]] = []
    for rec in summary.layers:
        if not rec.params:
            continue
        largest = max(largest, rec.params)
        if rec.kind == "Linear":
            k, n = rec.input_shapes[0][-1], rec.output_shape[-1]
            tensors.append((n, k))
            if rec.biases:
                tensors.append((n,))
            if q.method != "none" and rec.name != head:
                total += linear_weight_bytes(k, n, bool(rec.biases), replace(q, compute_dtype=dtype)).value
                quantised += 1
                continue
        elif rec.kind == "Embedding" and rec.weights:
            d = rec.output_shape[-1]
            tensors.append((rec.weights // d, d))
        else:
            if rec.weights:
                tensors.append((rec.weights,))
            if rec.biases:
                tensors.append((rec.biases,))
            rest = rec.params - rec.weights - rec.biases
            if rest:
                tensors.append((rest,))
        total += dtype_bytes(rec.params, dtype)
        kept += 1
    return _Weights(total, quantised, kept, largest, tuple(tensors))


def _activation_bytes(network: Network, setup: Setup, batch: int, adapters: Any = None) -> int:
    """Activations of one micro-batch, from netsize.memory's network method: what autograd saves,
    or, where more, everything but the model states at the step's peak (the recomputation of a
    checkpointed segment, the backward's transients). Under bf16 autocast LayerNorm, softmax and
    what they save stay float32; in pure bf16 every saved tensor is 16-bit. With ``adapters``
    (LoRA, QLoRA) what autograd keeps for a frozen base and its adapters."""
    from netsize.memory import estimate

    mode = setup.resolved_activations()
    dtype = {"autocast": "float32", "bf16": "bfloat16", "fp32": "float32"}[mode]
    autocast = "bfloat16" if mode == "autocast" else None
    r = estimate(network, batch_size=batch, dtype=dtype, optimizer="sgd", autocast=autocast,
                 checkpointing=setup.checkpointing, adapters=adapters)  # fmt: skip
    states = r.weights_bytes + r.gradient_bytes + r.optimizer_bytes + r.autocast_weight_copies_bytes
    return max(r.activation_bytes + r.input_bytes, r.peak_training_bytes - states)


def _tokens(summary: Summary) -> int:
    """Tokens the analysis ran on: batch x the first input's length (1 for inputs without one)."""
    first = summary.layers[0].input_shapes[0] if summary.layers and summary.layers[0].input_shapes else (1,)
    return first[0] * (first[1] if len(first) == 2 else 1)


def _kv_per_token_elements(summary: Summary) -> int:
    from netsize.llm import kv_cache_elements_per_token

    per_token, _ = kv_cache_elements_per_token(summary)
    return per_token


_ACTIVATION_EXPLANATION = {
    "autocast": (
        "activations (bf16 autocast): matrix products save bf16 tensors, but autocast runs LayerNorm and softmax "
        "in float32, so the LayerNorm inputs (the float32 residual stream) and the softmax output are saved in 4 "
        "bytes: sbh(4 + 2as/h) per layer more than Korthikanti et al.'s pure 16-bit sbh(34 + 5as/h), i.e. "
        "(38 + 7as/h) / (34 + 5as/h) = 1.30-1.33x at as/h 13-22 (1.12x with fused attention); "
        "--activations bf16 (or --precision master/bf16) is the paper's pure 16-bit setting",
    ),
    "bf16": ("activations (pure bf16): every saved tensor in 16 bits, dropout masks 1 byte: Korthikanti et al.'s "
             "setting, sbh(34 + 5as/h) per layer with eager attention",),
    "fp32": ("activations (float32): every saved tensor in 4 bytes",),
}


# --- tensor and pipeline parallel layout ------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """How tensor and pipeline parallelism split the model: each GPU holds ``1/tp`` of every layer
    (``kv_heads_per_gpu`` of the ``kv_heads`` KV heads) and the ``stage_layers`` blocks of its
    pipeline stage out of ``layers``."""

    tp: int
    pp: int
    layers: int | None
    stage_layers: int | None
    kv_heads: int | None
    kv_heads_per_gpu: int | None
    notes: tuple[str, ...]
    stage_params: int = 0  # parameters of the most loaded pipeline stage (0: split evenly)
    params: int = 0

    def model_states(self, n: int) -> int:
        """Bytes of ``n`` bytes of model state on the GPU holding the most loaded pipeline stage."""
        if self.stage_params and self.params:
            return -(-n * self.stage_params // (self.params * self.tp))
        if self.layers is None or self.stage_layers is None:
            return -(-n // (self.tp * self.pp))
        return -(-n * self.stage_layers // (self.layers * self.tp))

    def kv_cache(self, n: int) -> int:
        """Bytes of ``n`` bytes of KV cache on one GPU: its KV heads (replicated ones whole) of its stage."""
        stage = (self.stage_layers, self.layers) if self.layers and self.stage_layers else (1, self.pp)
        heads = (self.kv_heads_per_gpu, self.kv_heads) if self.kv_heads and self.kv_heads_per_gpu else (1, self.tp)
        return -(-n * stage[0] * heads[0] // (stage[1] * heads[1]))

    @property
    def symbolic(self) -> str:
        if self.layers is None:
            return "model-parallel"
        return "stage layers / layers / tensor-parallel"

    @property
    def substituted(self) -> str:
        if self.layers is None or self.stage_layers is None:
            return f"{self.tp * self.pp}"
        return f"{self.stage_layers}/{self.layers}/{self.tp}"


def _divisors(n: int) -> str:
    return ", ".join(str(d) for d in range(1, n + 1) if n % d == 0)


def _stage_params(summary: Summary, cores: list[str], stage_layers: int) -> tuple[int, int, str]:
    """Parameters of the most loaded pipeline stage, as Megatron-LM places them: each stage holds
    ``stage_layers`` blocks; the first also the input embeddings, the last the final norm and the
    output layer (a head tied to the embedding keeps its own copy of the table there)."""
    prefixes = set()
    for name in cores:
        parts = name.split(".")
        index = next((i for i, p in enumerate(parts) if p.isdigit()), None)
        if index is not None:
            prefixes.add(".".join(parts[: index + 1]) + ".")
    blocks = first = last = 0
    for r in summary.layers:
        if any(r.name.startswith(p) for p in prefixes):
            blocks += r.params
        elif r.kind in ("Embedding", "PositionalEmbedding"):
            first += r.params
        elif r.kind == "Linear" and not r.params and r.multiply_adds and r.input_shapes:
            last += r.input_shapes[0][-1] * r.output_shape[-1]  # tied head: its copy of the table
        else:
            last += r.params
    per_stage = -(-blocks * stage_layers // max(1, len(prefixes)))
    most = per_stage + max(first, last)
    return most, summary.totals.params, (f"most loaded stage = {stage_layers} of {len(prefixes)} blocks + "
                                         f"max(embeddings {first:,}, final norm and head {last:,}) = {most:,} params")


def _layout(network: Network, setup: Setup, summary: Summary | None = None) -> _Layout:
    """The tensor/pipeline layout, or one clear error when the model cannot be split that way.

    Tensor parallelism splits attention by heads (Megatron-LM, vLLM): the degree must divide the
    query heads. KV heads are split the same way when there are at least as many as the degree
    (which must then divide them); fewer KV heads than the degree are replicated, each on
    ``tp / kv_heads`` GPUs (the degree must be a multiple of them), as vLLM and Megatron-Core's
    grouped-query attention do. Pipeline stages take whole transformer blocks: a degree that does
    not divide the blocks is balanced (some stages hold one block more, and the plan is the
    fullest stage's); more stages than blocks is an error.
    """
    tp, pp = setup.tensor_parallel, setup.pipeline_stages
    cores: list[tuple[str, int, int]] = []
    for n in network.nodes:
        heads = getattr(n.layer, "num_heads", None)  # attention cores (sdpa, grouped-query, multi-head)
        if isinstance(heads, int):
            kv = getattr(n.layer, "num_kv_heads", None)
            cores.append((n.name, heads, kv if isinstance(kv, int) else heads))
    notes: list[str] = []
    kv_heads = kv_per_gpu = None
    if tp > 1:
        if not cores:
            notes.append(f"tensor-parallel {tp}: this model has no attention heads to check; every layer is "
                         "taken to split evenly")
        for name, heads, kv in cores:
            if heads % tp:
                raise NetsizeError(
                    f"tensor-parallel {tp} does not divide the {heads} query heads of {name}: tensor parallelism "
                    f"splits attention by heads; use a degree that divides {heads} ({_divisors(heads)})"
                )
            if kv >= tp and kv % tp:
                raise NetsizeError(f"tensor-parallel {tp} does not divide the {kv} KV heads of {name}: use a degree "
                                   f"that divides {kv} ({_divisors(kv)})")
            if kv < tp and tp % kv:
                raise NetsizeError(f"tensor-parallel {tp} is not a multiple of the {kv} KV heads of {name}: KV heads "
                                   f"fewer than the degree are replicated, which needs tp to be a multiple of {kv}")
        if cores:
            kv_heads = cores[0][2]
            kv_per_gpu = max(kv_heads // tp, 1)
            if kv_heads < tp:
                notes.append(f"{kv_heads} KV head(s) < tensor-parallel {tp}: each KV head is replicated on "
                             f"{tp // kv_heads} GPUs (vLLM, Megatron-Core), so every GPU caches {kv_per_gpu} KV head "
                             "and holds its whole K and V projections")
    layers = len(cores) or None
    stage_layers = None
    if pp > 1:
        if layers is None:
            notes.append(f"pipeline {pp}: no transformer blocks found; model states taken to split evenly")
        elif pp > layers:
            raise NetsizeError(f"pipeline stages {pp} exceed the model's {layers} transformer blocks: use --pp {layers}"
                               " or fewer")
        else:
            stage_layers = -(-layers // pp)
            if layers % pp:
                notes.append(f"pipeline {pp} does not divide {layers} blocks: stages balanced at {layers // pp} or "
                             f"{stage_layers} blocks; figures are for a stage of {stage_layers}")
    stage_params = params = 0
    if stage_layers and summary is not None:
        stage_params, params, how = _stage_params(summary, [c[0] for c in cores], stage_layers)
        notes.append(how)
    return _Layout(tp, pp, layers if stage_layers else None, stage_layers, kv_heads, kv_per_gpu, tuple(notes),
                   stage_params, params)


# --- scenarios --------------------------------------------------------------------------------


def _fits(total: int, gpu_list: Sequence[GPU], cap: float = 1.0) -> tuple[GPUFit, ...]:
    out = []
    for g in gpu_list:
        budget = int(g.memory_bytes * cap)
        out.append(GPUFit(g.key, g.memory_bytes, total <= budget, budget - total))
    return tuple(out)


def _serve(summary: Summary, setup: Setup, gpu_list: Sequence[GPU], layout: _Layout) -> Scenario:
    q = setup.quant
    dtype = q.compute_dtype
    w = _weights(summary, q, dtype)
    tp = setup.tensor_parallel * setup.pipeline_stages
    weights = layout.model_states(w.total_bytes)
    context = setup.context or setup.seq_len or _tokens(summary)
    per_token = _kv_per_token_elements(summary)
    kv_token_bytes = dtype_bytes(per_token, setup.kv_dtype)
    blocks = -(-context // setup.block_size)
    kv_seq = blocks * setup.block_size * kv_token_bytes
    kv = layout.kv_cache(kv_seq * setup.serve_batch)
    # The largest layer output of one prefill of `context` tokens, in the compute dtype. The LM
    # head is left out: servers compute logits for the last token of each sequence only. The
    # analysis ran at one sequence of its own length; outputs are linear in tokens for every
    # layer but eager attention's scores, which servers' fused kernels never materialise.
    head = output_layer(summary)
    tokens0 = _tokens(summary)
    outputs = (r.activation_elements for r in summary.layers if r.name != head and "Attention" not in r.kind)
    largest = max(outputs, default=0)
    largest_prefill = -(-largest * context // tokens0)
    ttp = setup.tensor_parallel
    act = -(-dtype_bytes(largest_prefill, dtype) // ttp)
    kv_share = "1" if tp == 1 else (
        f"{layout.stage_layers or 1}/{layout.layers or setup.pipeline_stages} * "
        f"{layout.kv_heads_per_gpu or 1}/{layout.kv_heads or ttp}")
    parts = (
        Term("weights", weights, f"weight storage ({q.label}, rest {dtype}) * {layout.symbolic}",
             f"{w.total_bytes} * 1/{layout.substituted}" if tp > 1 else ""),
        Term("kv_cache", kv, "batch * ceil(context / block) * block * KV bytes per token * stage layers / layers "
             "* KV heads per GPU / KV heads",
             f"{setup.serve_batch} * {blocks} * {setup.block_size} * {kv_token_bytes} * {kv_share}"),
        Term("largest_activation", act, f"largest layer output of one prefill of the context, {dtype} / "
             "tensor-parallel", f"{largest_prefill} * {dtype_bytes(1, dtype)} / {ttp}"),
    )  # fmt: skip
    total = sum(t.value for t in parts)
    fits = []
    for g in gpu_list:
        budget = int(g.memory_bytes * setup.gpu_memory_utilization)
        room = budget - weights - act
        per_seq = layout.kv_cache(kv_seq)
        fits.append(GPUFit(g.key, g.memory_bytes, total <= budget, budget - total,
                           max(0, room // per_seq) if per_seq else None))  # fmt: skip
    notes = [f"budget = GPU memory x gpu_memory_utilization {setup.gpu_memory_utilization} (vLLM's meaning)",
             *layout.notes]
    if q.method != "none":
        notes.append(f"{w.quantised_layers} linear layers quantised ({q.label}); {w.kept_layers} layers kept in "
                     f"{dtype} (embeddings, norms, the LM head)")
    extra = (Term("kv_cache_bytes_per_token", kv_token_bytes, f"KV elements per token * bytes({setup.kv_dtype})",
                  f"{per_token} * {dtype_bytes(1, setup.kv_dtype)}"),)  # fmt: skip
    if per_token == 0:
        notes.append("this model has no causal self-attention: no KV cache")
    desc = f"serve: {q.label} weights, batch {setup.serve_batch} x context {context:,}, {setup.kv_dtype} KV cache"
    if tp > 1:
        desc += f" (TP {setup.tensor_parallel}, PP {setup.pipeline_stages})"
    return Scenario("serve", desc, 0, parts, total, 0, tuple(fits), extra, tuple(notes))


def _train(
    name: str,
    summary: Summary,
    network: Network,
    setup: Setup,
    gpu_list: Sequence[GPU],
    layout: _Layout,
) -> Scenario:
    precision = setup.resolved_precision()
    stage = setup.zero_stage
    dp = setup.shard_degree
    mp = setup.tensor_parallel * setup.pipeline_stages
    opt = optimizer_name(setup.optimizer)
    deepspeed = setup.zero > 0 and setup.fsdp is None
    notes: list[str] = list(layout.notes)
    extra: list[Term] = []
    low = "bfloat16"
    if name == "full":
        w = _weights(summary, Quantization(), {"amp": "float32", "fp32": "float32"}.get(precision, low))
        trainable = summary.totals.params
        trainable_tensors = w.tensors
        weight_dtype = {"amp": "float32", "fp32": "float32"}.get(precision, low)
        grad_bytes_per = dtype_bytes(1, weight_dtype)
        master = 4 if precision == "master" else 0
        base_bytes = w.total_bytes
        adapter_weight_bytes = 0
    else:
        q = setup.qlora_quant if name == "qlora" else Quantization()
        w = _weights(summary, q, low)
        count: LoRACount = lora_count(summary, setup.lora)
        trainable = count.trainable_params
        extra.extend(count.terms)
        # peft keeps adapters in float32 (autocast_adapter_dtype) under a bf16 base.
        trainable_tensors = tuple((trainable,) for _ in range(1)) if trainable else ()
        weight_dtype = "float32"
        grad_bytes_per = 4
        master = 0
        base_bytes = w.total_bytes
        adapter_weight_bytes = 4 * trainable
        if name == "qlora":
            notes.append(f"base weights {setup.qlora_quant.label}: {w.quantised_layers} linear layers; "
                         f"{w.kept_layers} layers (embeddings, norms, the LM head) in bfloat16")
    opt_bytes = optimizer_state_bytes(opt, trainable_tensors)

    def shard(n: int, sharded: bool) -> int:
        n = layout.model_states(n)
        return -(-n // dp) if sharded else n

    weights = shard(base_bytes + adapter_weight_bytes, stage >= 3)
    if setup.offload_params:
        weights = 0
    # ZeRO-2 (DeepSpeed and FSDP alike) keeps only its partition of the half-precision gradients:
    # DeepSpeed's estimator counts them in its 18P/N since v0.14.3 (PR #5099).
    grads = shard(trainable * grad_bytes_per, stage >= 2)
    if deepspeed and stage >= 3:
        grads = 0  # reduce-scattered as produced; the float32 partition below holds them
    if deepspeed and setup.offload_optimizer:
        grads = 0
    master_b = shard(trainable * master, stage >= 1)
    opt_b = shard(opt_bytes, stage >= 1)
    fp32_grads = shard(4 * trainable, True) if deepspeed else 0
    cpu = 0
    if setup.offload_optimizer:
        # What leaves the GPUs (float32 master, moments, float32 gradients; the weights too with
        # parameter offload), per node, with DeepSpeed's additional_buffer_factor of 1.5.
        nodes = -(-setup.gpus // setup.gpus_per_node)
        offloaded = trainable * (master + 4) + opt_bytes + (base_bytes if setup.offload_params else 0)
        cpu = offloaded * 3 // (2 * nodes)
        master_b = opt_b = fp32_grads = 0
    gathered = 0
    if stage >= 3:
        gathered = 4 * w.largest_layer_params if deepspeed else 2 * 2 * w.largest_layer_params
    adapters = None
    if name != "full":
        from netsize.memory._network_walk import LoraAdapters

        # the base is frozen and held in bfloat16 (QLoRA's 4-bit weights are dequantised to it):
        # autocast makes no copies of it, and a frozen layer keeps no input for its weight
        trained = tuple(r.name for r in summary.layers if setup.lora.modules_to_save
                        and matches(r.name, setup.lora.modules_to_save))
        adapters = LoraAdapters(count.targeted, setup.lora.r, trained, base_in_autocast_dtype=True,
                                dropout=setup.lora.dropout)
    act = -(-_activation_bytes(network, setup, setup.micro_batch, adapters) // setup.tensor_parallel)
    if name != "full":
        notes.append("activations of a frozen base with LoRA adapters: a frozen layer keeps no input for its "
                     "weight's gradient, nothing is kept below the first adapter")
        if name == "qlora":
            notes.append("not counted: bitsandbytes dequantises each 4-bit weight to bfloat16 for its product, in "
                         "forward and backward (one layer's weight at a time, freed after)")
    parts = [
        Term("weights", weights, "weight bytes / model-parallel" + (" / shards" if stage >= 3 else ""),
             f"{base_bytes + adapter_weight_bytes} / {mp}" + (f" / {dp}" if stage >= 3 else "")),
        _gradients_term(grads, trainable, grad_bytes_per, stage, deepspeed, setup.offload_optimizer, mp, dp),
    ]  # fmt: skip
    if master:
        parts.append(Term("master_weights", master_b, "trainable * 4 / model-parallel / shards",
                          f"{trainable} * 4 / {mp} / {dp}"))
    parts.append(Term("optimizer_state", opt_b, f"{opt} state / model-parallel" + (" / shards" if stage else ""),
                      f"{opt_bytes} / {mp}" + (f" / {dp}" if stage else "")))  # fmt: skip
    if fp32_grads:
        parts.append(Term("fp32_grad_partition", fp32_grads, "trainable * 4 / model-parallel / shards",
                          f"{trainable} * 4 / {mp} / {dp}"))
    if gathered:
        largest = w.largest_layer_params
        parts.append(Term("gathered_layer", gathered, "4 * largest layer params", f"4 * {largest}"))
    tp = setup.tensor_parallel
    mode = {"autocast": "bf16 autocast", "bf16": "pure bf16", "fp32": "float32"}[setup.resolved_activations()]
    parts.append(Term("activations", act, f"micro-batch activations at the peak ({mode}) / tensor-parallel",
                      f"{act * tp} / {tp}" if tp > 1 else ""))
    total = sum(t.value for t in parts)
    if setup.offload_optimizer:
        notes.append("CPU memory per node includes DeepSpeed's additional_buffer_factor 1.5")
    what = {"full": "full fine-tuning", "lora": "LoRA", "qlora": "QLoRA"}[name]
    sharding = (f"FSDP {setup.fsdp}" if setup.fsdp else f"ZeRO-{setup.zero}" if setup.zero else "data parallel")
    desc = (f"{what}: {opt}, {precision} precision, {setup.gpus} GPU(s) ({sharding}, TP {setup.tensor_parallel}, "
            f"PP {setup.pipeline_stages}), micro-batch {setup.micro_batch} x seq {setup.seq_len}, "
            f"grad accum {setup.grad_accum}" + (", checkpointing" if setup.checkpointing else ""))  # fmt: skip
    return Scenario(name, desc, trainable, tuple(parts), total, cpu, _fits(total, gpu_list), tuple(extra),
                    tuple(notes), explanation=_ACTIVATION_EXPLANATION[setup.resolved_activations()])


def _gradients_term(
    value: int, trainable: int, per: int, stage: int, deepspeed: bool, offload: bool, mp: int, dp: int
) -> Term:
    if deepspeed and offload:
        return Term("gradients", 0, "0 (reduced into the float32 partition on the CPU as they are produced)")
    if deepspeed and stage >= 3:
        return Term("gradients", 0, "0 (reduce-scattered into the float32 partition as they are produced)")
    sharded = stage >= 2
    symbolic = "trainable * bytes per gradient / model-parallel" + (" / shards" if sharded else "")
    return Term("gradients", value, symbolic, f"{trainable} * {per} / {mp}" + (f" / {dp}" if sharded else ""))


def plan(
    target: Any,
    scenarios: Sequence[str] = ("serve", "lora", "full"),
    setup: Setup | None = None,
    gpu: str | None = None,
    model_type: str | None = None,
    **options: Any,
) -> Plan:
    """Plan serving and fine-tuning of ``target`` (a Network, a HF config path or dict, a zoo name).

    ``setup`` (or keyword options of :class:`Setup`) describes the run; ``gpu`` restricts the
    fits table to one GPU. Every figure is per GPU. LoRA targets left unset are peft's default for
    the architecture: the config's ``model_type``, or ``model_type`` for a Network. A scenario that
    cannot be planned (LoRA targets the model lacks) carries its error and the others are still
    planned; when none can be, that error is raised. An impossible parallel layout is an error.
    """
    if setup is None:
        setup = Setup(**options)
    elif options:
        setup = replace(setup, **options)
    for s in scenarios:
        if s not in SCENARIOS:
            raise NetsizeError(f"unknown scenario {s!r}; use one of {', '.join(SCENARIOS)}")
    network, config_type = _network(target, setup)
    model_type = model_type or config_type
    summary = analyze(network, batch_size=1)
    if setup.seq_len is None:
        setup = replace(setup, seq_len=_tokens(summary))
    if setup.lora.targets is None and (default := default_lora_targets(model_type)) is not None:
        setup = replace(setup, lora=replace(setup.lora, targets=default))
    layout = _layout(network, setup, summary)
    gpu_list = [gpu_named(gpu)] if gpu else list(GPUS)
    out: list[Scenario] = []
    for s in scenarios:
        try:
            if s == "serve":
                out.append(_serve(summary, setup, gpu_list, layout))
            else:
                out.append(_train(s, summary, network, setup, gpu_list, layout))
        except NetsizeError as err:
            message = str(err)
            if s in ("lora", "qlora") and setup.lora.targets is None:
                names = sorted({r.name.rsplit(".", 1)[-1] for r in summary.layers if r.kind == "Linear"})
                why = (f"peft {PEFT_VERSION} has no default LoRA targets for model_type {model_type!r}" if model_type
                       else "LoRA targets default to peft's for a config's model_type, and this model has none")
                message = (f"{why}: name them (--lora targets=NAME,NAME or targets=all-linear); this model's "
                           f"linear layers end in: {', '.join(names[:20]) or '(none)'}")
            out.append(Scenario(s, f"{s}: not planned", 0, (), 0, error=message))
    if out and all(sc.error for sc in out):
        raise NetsizeError(next(sc.error for sc in out if sc.error))
    times = _times(summary, setup, gpu_list[0], layout, out) if gpu else None
    return Plan(network.name, summary.totals.params, setup, tuple(out), gpu, times)


def _times(summary: Summary, setup: Setup, gpu: GPU, layout: _Layout, scenarios: Sequence[Scenario]) -> Roofline:
    """The roofline of serving (prefill, decode) and, when full fine-tuning was planned, its step."""
    from netsize.llm import kv_cache_elements_by_layer

    q = setup.quant
    full = next((sc for sc in scenarios if sc.name == "full" and not sc.error), None)
    training = None
    states = 0
    precision = setup.resolved_precision()
    if full is not None:
        training = (setup.micro_batch, setup.seq_len or _tokens(summary), setup.grad_accum, setup.checkpointing)
        states = sum(full.part(n) for n in ("weights", "gradients", "master_weights", "optimizer_state",
                                            "fp32_grad_partition"))  # fmt: skip
    dtype = "float32" if precision == "fp32" else "float8" if q.method == "fp8" else "bfloat16"
    serve_weights = _weights(summary, q, q.compute_dtype).total_bytes if q.method != "none" else None
    stage = (1, setup.pipeline_stages)
    if layout.layers and layout.stage_layers:
        stage = (layout.stage_layers, layout.layers)
    tokens0 = max(1, _tokens(summary))
    notes = [*layout.notes]
    if training is not None and precision == "fp32":
        notes.append("fp32 training: the FP32 (non-tensor) peak")
    return roofline(
        summary, gpu, dtype=dtype, efficiency=setup.efficiency, context=setup.context or setup.seq_len or tokens0,
        decode_batch=setup.serve_batch, kv_dtype=setup.kv_dtype,
        kv_elements_by_layer=kv_cache_elements_by_layer(summary),
        serve_weight_bytes=serve_weights, tensor_parallel=setup.tensor_parallel, stage_share=stage,
        pipeline_stages=setup.pipeline_stages, training=training, optimizer_state_bytes=states, gpus=setup.gpus,
        training_flops_per_token=6 * summary.totals.multiply_adds // tokens0, notes=tuple(notes),
    )  # fmt: skip


def _network(target: Any, setup: Setup) -> tuple[Network, str | None]:
    """The network to plan, and the config's ``model_type`` when it comes from a config: ``target``
    itself, or a Hugging Face config rebuilt with the attention kernel that runs it; a TARGET name
    is resolved by :mod:`netsize._target`."""
    from netsize._target import Target, load_target, read_config, target_kind

    if isinstance(target, Network):
        return target, None
    if isinstance(target, str) and target_kind(target) != "hf_config":
        target = load_target(target, seq_len=setup.seq_len)
    if isinstance(target, Target):
        if target.config is not None:
            config = dict(target.config)
        elif target.network is not None:
            return target.network, None
        else:
            raise NetsizeError(f"{target.name}: netsize plan takes a config, spec or zoo model, not a PyTorch callable")
    elif isinstance(target, (dict, str)) or hasattr(target, "__fspath__"):
        config = read_config(target)[0]
    else:
        raise NetsizeError(
            f"cannot plan {type(target).__name__}: give a Network, a TARGET (zoo name, spec, config.json) "
            "or a config dict"
        )
    # What runs the model: transformers' default kernel (sdpa), unless the config names one.
    if "attn_implementation" not in config and "_attn_implementation" not in config:
        config["attn_implementation"] = setup.attention
    from netsize.frontends.hf_config import network_from_config

    model_type = config.get("model_type")
    return network_from_config(config, seq_len=setup.seq_len), model_type if isinstance(model_type, str) else None
