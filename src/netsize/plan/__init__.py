"""Will it fit? Memory per GPU for serving, LoRA/QLoRA and full fine-tuning, on one GPU or many.

A plan takes an analysed model and a setup and gives each scenario's bytes per GPU, broken down
into named terms with their formulas (``--explain``), and whether it fits on each GPU of the
table in :mod:`netsize.plan._gpus`. Everything is arithmetic on the model's layers: nothing is
allocated. The rules are in ``docs/plan.md``.

>>> import netsize
>>> from netsize.plan import plan
>>> net = netsize.zoo.get("resnet18").build()
>>> p = plan(net, scenarios=("full",), gpu="t4")
>>> p.scenario("full").trainable_params
11689512
"""

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
from netsize.plan._lora import LoRA, LoRACount, lora_count, output_layer
from netsize.plan._quant import METHODS as QUANT_METHODS
from netsize.plan._quant import Quantization, linear_weight_bytes
from netsize.plan._states import OPTIMIZERS, optimizer_name, optimizer_state_bytes

__all__ = [
    "GPU", "GPUS", "OPTIMIZERS", "QUANT_METHODS", "SCENARIOS", "GPUFit", "LoRA", "Plan", "Quantization",
    "Scenario", "Setup", "gpu_named", "plan",
]  # fmt: skip

SCENARIOS = ("serve", "lora", "qlora", "full")
PRECISIONS = ("amp", "master", "bf16", "fp32")
FSDP_MODES = ("full_shard", "shard_grad_op", "hybrid_shard")

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
    """

    seq_len: int = 2048
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

    def __post_init__(self) -> None:
        for name in ("seq_len", "micro_batch", "grad_accum", "gpus", "gpus_per_node", "tensor_parallel",
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
        }  # fmt: skip


@dataclass(frozen=True, repr=False)  # str/repr/HTML/pandas: netsize._display
class Plan(ShowsItself):
    """Every scenario of a plan for one model and setup."""

    model: str
    params: int
    setup: Setup
    scenarios: tuple[Scenario, ...]
    gpu: str | None = None

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
                "checkpointing": s.checkpointing, "lora": {"r": s.lora.r, "alpha": s.lora.alpha,
                "targets": s.lora.targets if isinstance(s.lora.targets, str) else list(s.lora.targets),
                "bias": s.lora.bias, "modules_to_save": list(s.lora.modules_to_save)},
                "quant": s.quant.label, "serve_batch": s.serve_batch, "context": s.context,
                "block_size": s.block_size, "gpu_memory_utilization": s.gpu_memory_utilization,
                "kv_dtype": s.kv_dtype,
            },
            "scenarios": [sc.to_dict() for sc in self.scenarios],
        }  # fmt: skip

    def explain(self, lang: str = "en") -> str:
        out: list[str] = []
        for sc in self.scenarios:
            out.append(f"[{sc.name}] {sc.description}")
            out += ["  " + t.render(lang) for t in (*sc.extra, *sc.parts)]
            out += ["  note: " + n for n in sc.notes]
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


def _activation_bytes(network: Network, setup: Setup, batch: int) -> int:
    """Activations of one micro-batch under bf16 autocast, from netsize.memory's network method: what
    autograd saves, or, where more, everything but the model states at the step's peak (the
    recomputation of a checkpointed segment, the backward's transients)."""
    from netsize.memory import estimate

    r = estimate(network, batch_size=batch, dtype="float32", optimizer="sgd", autocast="bfloat16",
                 checkpointing=setup.checkpointing)  # fmt: skip
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


# --- scenarios --------------------------------------------------------------------------------


def _fits(total: int, gpu_list: Sequence[GPU], cap: float = 1.0) -> tuple[GPUFit, ...]:
    out = []
    for g in gpu_list:
        budget = int(g.memory_bytes * cap)
        out.append(GPUFit(g.key, g.memory_bytes, total <= budget, budget - total))
    return tuple(out)


def _serve(summary: Summary, setup: Setup, gpu_list: Sequence[GPU]) -> Scenario:
    q = setup.quant
    dtype = q.compute_dtype
    w = _weights(summary, q, dtype)
    tp = setup.tensor_parallel * setup.pipeline_stages
    weights = -(-w.total_bytes // tp)
    context = setup.context or setup.seq_len
    per_token = _kv_per_token_elements(summary)
    kv_token_bytes = dtype_bytes(per_token, setup.kv_dtype)
    blocks = -(-context // setup.block_size)
    kv_seq = blocks * setup.block_size * kv_token_bytes
    kv = -(-(kv_seq * setup.serve_batch) // tp)
    # The largest layer output of one prefill of `context` tokens, in the compute dtype. The LM
    # head is left out: servers compute logits for the last token of each sequence only. The
    # analysis ran at one sequence of its own length; outputs are linear in tokens for every
    # layer but eager attention's scores, which servers' fused kernels never materialise.
    head = output_layer(summary)
    tokens0 = _tokens(summary)
    outputs = (r.activation_elements for r in summary.layers if r.name != head and "Attention" not in r.kind)
    largest = max(outputs, default=0)
    largest_prefill = -(-largest * context // tokens0)
    act = -(-dtype_bytes(largest_prefill, dtype) // tp)
    parts = (
        Term("weights", weights, f"weight storage ({q.label}, rest {dtype}) / model-parallel {tp}",
             f"{w.total_bytes} / {tp}" if tp > 1 else ""),
        Term("kv_cache", kv, "batch * ceil(context / block) * block * KV bytes per token / model-parallel",
             f"{setup.serve_batch} * {blocks} * {setup.block_size} * {kv_token_bytes} / {tp}"),
        Term("largest_activation", act, f"largest layer output of one prefill of the context, {dtype}",
             f"{largest_prefill} * {dtype_bytes(1, dtype)} / {tp}"),
    )  # fmt: skip
    total = sum(t.value for t in parts)
    fits = []
    for g in gpu_list:
        budget = int(g.memory_bytes * setup.gpu_memory_utilization)
        room = budget - weights - act
        per_seq = -(-kv_seq // tp)
        fits.append(GPUFit(g.key, g.memory_bytes, total <= budget, budget - total,
                           max(0, room // per_seq) if per_seq else None))  # fmt: skip
    notes = [f"budget = GPU memory x gpu_memory_utilization {setup.gpu_memory_utilization} (vLLM's meaning)"]
    if q.method != "none":
        notes.append(f"{w.quantised_layers} linear layers quantised ({q.label}); {w.kept_layers} layers kept in "
                     f"{dtype} (embeddings, norms, the LM head)")
    extra = (Term("kv_cache_bytes_per_token", kv_token_bytes, f"KV elements per token * bytes({setup.kv_dtype})",
                  f"{per_token} * {dtype_bytes(1, setup.kv_dtype)}"),)  # fmt: skip
    if per_token == 0:
        notes.append("this model has no causal self-attention: no KV cache")
    desc = f"serve: {q.label} weights, batch {setup.serve_batch} x context {context:,}, {setup.kv_dtype} KV cache"
    return Scenario("serve", desc, 0, parts, total, 0, tuple(fits), extra, tuple(notes))


def _train(
    name: str,
    summary: Summary,
    network: Network,
    setup: Setup,
    gpu_list: Sequence[GPU],
) -> Scenario:
    precision = setup.resolved_precision()
    stage = setup.zero_stage
    dp = setup.shard_degree
    mp = setup.tensor_parallel * setup.pipeline_stages
    opt = optimizer_name(setup.optimizer)
    deepspeed = setup.zero > 0 and setup.fsdp is None
    notes: list[str] = []
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
        n = -(-n // mp)
        return -(-n // dp) if sharded else n

    weights = shard(base_bytes + adapter_weight_bytes, stage >= 3)
    if setup.offload_params:
        weights = 0
    grads = shard(trainable * grad_bytes_per, stage >= 2 and not deepspeed)
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
    act = -(-_activation_bytes(network, setup, setup.micro_batch) // setup.tensor_parallel)
    if name != "full":
        notes.append("activations counted as for full training (an upper bound: frozen layers need not save "
                     "their inputs)")
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
    parts.append(Term("activations", act, "micro-batch activations at the peak (bf16 autocast) / tensor-parallel",
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
                    tuple(notes))


def _gradients_term(
    value: int, trainable: int, per: int, stage: int, deepspeed: bool, offload: bool, mp: int, dp: int
) -> Term:
    if deepspeed and offload:
        return Term("gradients", 0, "0 (reduced into the float32 partition on the CPU as they are produced)")
    if deepspeed and stage >= 3:
        return Term("gradients", 0, "0 (reduce-scattered into the float32 partition as they are produced)")
    sharded = stage >= 2 and not deepspeed
    symbolic = "trainable * bytes per gradient / model-parallel" + (" / shards" if sharded else "")
    return Term("gradients", value, symbolic, f"{trainable} * {per} / {mp}" + (f" / {dp}" if sharded else ""))


def plan(
    target: Any,
    scenarios: Sequence[str] = ("serve", "lora", "full"),
    setup: Setup | None = None,
    gpu: str | None = None,
    **options: Any,
) -> Plan:
    """Plan serving and fine-tuning of ``target`` (a Network, a HF config path or dict, a zoo name).

    ``setup`` (or keyword options of :class:`Setup`) describes the run; ``gpu`` restricts the
    fits table to one GPU. Every figure is per GPU.
    """
    if setup is None:
        setup = Setup(**options)
    elif options:
        setup = replace(setup, **options)
    for s in scenarios:
        if s not in SCENARIOS:
            raise NetsizeError(f"unknown scenario {s!r}; use one of {', '.join(SCENARIOS)}")
    network = _network(target, setup)
    summary = analyze(network, batch_size=1)
    gpu_list = [gpu_named(gpu)] if gpu else list(GPUS)
    out = []
    for s in scenarios:
        if s == "serve":
            out.append(_serve(summary, setup, gpu_list))
        else:
            out.append(_train(s, summary, network, setup, gpu_list))
    return Plan(network.name, summary.totals.params, setup, tuple(out), gpu)


def _network(target: Any, setup: Setup) -> Network:
    """The network to plan: ``target`` itself, or a Hugging Face config rebuilt with the attention
    kernel that runs it; a TARGET name is resolved by :mod:`netsize._target`."""
    from netsize._target import Target, load_target, read_config, target_kind

    if isinstance(target, Network):
        return target
    if isinstance(target, str) and target_kind(target) != "hf_config":
        target = load_target(target, seq_len=setup.seq_len)
    if isinstance(target, Target):
        if target.config is not None:
            config = dict(target.config)
        elif target.network is not None:
            return target.network
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

    return network_from_config(config, seq_len=setup.seq_len)
