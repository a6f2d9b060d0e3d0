"""How long: a roofline estimate of a training step, a prefill, one decode step and decode tokens/s.

Each layer of the analysis does ``F`` FLOPs and must move ``B`` bytes through the GPU's memory: its
weights (read once per pass), its inputs (read) and its output (written), and in a decode step each
causal attention core also reads the whole KV cache of its sequences. On a GPU with peak ``P``
FLOP/s for the compute dtype and memory bandwidth ``W`` bytes/s, both reached at the fraction
``e`` (the efficiency knob, default 1: the roofline itself), the layer takes
``max(F / (P*e), B / (W*e))`` seconds: compute-bound when the first term is the larger, memory-bound
otherwise. A phase's time is the sum over its layers (kernels run one after another).

- ``F`` = 2 x multiply-adds (matrix products, at the tensor-core peak of the dtype) + other ops
  (element-wise work, counted at the same rate: those layers are memory-bound anyway).
- ``B`` = weight bytes + (input elements + output elements) x bytes per element. Fused kernels move
  less (a fused attention never writes its scores; netsize counts the kernel's inputs and output
  only, as sdpa does), so this is the unfused traffic of each layer.
- Prefill of ``C`` tokens: layers linear in tokens scale by ``C/S`` from the analysed length ``S``,
  attention cores by ``(C/S)^2``; the LM head computes the last token only, as servers do.
- Decode step at batch ``b`` and context ``C``: every layer runs on ``b`` tokens (its per-token share
  of the analysis), reading its weights once for the batch; each attention core does
  ``b*C/S^2`` of its prefill work and reads ``b*C`` tokens of K and V. A mixture-of-experts layer
  reads at most its active experts' weights per token: ``min(total, b * active)``.
- Training step: forward + backward = 3 x the forward (each forward matmul is matched by two of the
  same size; activation checkpointing recomputes the forward: 4 x), per micro-batch on the GPU's
  share (``1/tp`` of every layer, its pipeline stage's blocks), times ``grad_accum + pp - 1``
  micro-batch slots (1F1B pipeline: ``pp - 1`` slots of bubble), plus the optimizer step, which
  reads and writes the model states once (memory-bound).
- Not modelled: communication (tensor-parallel all-reduces, pipeline sends, data-parallel gradient
  reduction, ZeRO gathers), kernel launch gaps, and any overlap beyond the roofline's ``max``.

None of these figures has been measured on a GPU by netsize: the roofline is a floor on time (a
ceiling on throughput) at efficiency 1; measured runs reach a fraction of it (docs/plan.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from netsize._dtypes import dtype_bytes
from netsize._errors import NetsizeError
from netsize._summary import LayerRecord, Summary
from netsize.plan._gpus import GPU
from netsize.plan._lora import output_layer

__all__ = ["LayerTime", "Phase", "Roofline", "roofline"]

_CORE_KINDS = ("ScaledDotProductAttention",)


@dataclass(frozen=True)
class LayerTime:
    """One layer (or ``count`` equal layers of repeated blocks, ``*`` for the block index) in a phase:
    FLOPs and bytes of one pass, ``seconds`` of each layer over the whole phase (all its passes)."""

    name: str
    count: int
    flops: int
    bytes: int
    seconds: float
    bound: str  # "compute" or "memory"


@dataclass(frozen=True)
class Phase:
    """One phase on one GPU: FLOPs, bytes moved, seconds, the layers and what bounds each."""

    name: str
    flops: int
    bytes: int
    seconds: float
    layers: tuple[LayerTime, ...]
    formula: str

    @property
    def compute_bound_share(self) -> float:
        """Share of the layers' time spent in compute-bound layers."""
        busy = sum(lt.count * lt.seconds for lt in self.layers if lt.bound == "compute")
        every = sum(lt.count * lt.seconds for lt in self.layers)
        return busy / every if every else 0.0


@dataclass(frozen=True)
class Roofline:
    """Time estimates on one GPU model, per GPU of the setup."""

    gpu: str
    dtype: str
    efficiency: float
    peak_flops: int
    bandwidth_bytes_per_second: int
    prefill: Phase
    decode: Phase
    decode_batch: int
    context: int
    training: Phase | None
    training_tokens_per_step: int
    training_model_flops_per_step: int
    gpus: int
    notes: tuple[str, ...]
    generative: bool = True  # a causal LM: prefill and decode; otherwise one forward pass of the batch

    @property
    def decode_tokens_per_second(self) -> float:
        """Tokens per second of the whole batch in decode (``batch / decode step``)."""
        return self.decode_batch / self.decode.seconds if self.decode.seconds else 0.0

    @property
    def training_mfu(self) -> float | None:
        """Model FLOPs utilisation the estimate implies: model FLOPs per step / (step time x GPUs x peak)."""
        if self.training is None or not self.training.seconds:
            return None
        return self.training_model_flops_per_step / (self.training.seconds * self.gpus * self.peak_flops)

    def to_dict(self) -> dict[str, object]:
        def phase(p: Phase) -> dict[str, object]:
            return {"flops": p.flops, "bytes": p.bytes, "time_seconds": p.seconds,
                    "compute_bound_share": round(p.compute_bound_share, 4)}  # fmt: skip

        out: dict[str, object] = {
            "gpu": self.gpu, "dtype": self.dtype, "efficiency": self.efficiency, "peak_flops": self.peak_flops,
            "bandwidth_bytes_per_second": self.bandwidth_bytes_per_second, "context": self.context,
            "prefill" if self.generative else "forward": phase(self.prefill), "measured": False,
        }  # fmt: skip
        if self.generative:
            out.update({"decode_step": phase(self.decode), "decode_batch": self.decode_batch,
                        "decode_tokens_per_second": self.decode_tokens_per_second})  # fmt: skip
        if self.training is not None:
            out["training_step"] = phase(self.training)
            out["training_tokens_per_step"] = self.training_tokens_per_step
            out["training_mfu"] = self.training_mfu
        return out

    def explain(self) -> list[str]:
        """Each phase's terms and each layer's (grouped over blocks) FLOPs, bytes, time and bound."""
        p, w, e = self.peak_flops, self.bandwidth_bytes_per_second, self.efficiency
        out = [f"roofline on {self.gpu}: time = max(F / (P*e), B / (W*e)) per layer, P = {p / 1e12:g} TFLOP/s "
               f"({self.dtype}), W = {w / 1e9:g} GB/s, e = {e:g} (datasheet peaks; not measured)"]
        for ph in (self.training, self.prefill, self.decode if self.generative else None):
            if ph is None:
                continue
            out.append(f"{ph.name}: {ph.formula} = {_seconds(ph.seconds)}; F = {ph.flops:,} FLOPs, "
                       f"B = {ph.bytes:,} bytes; {ph.compute_bound_share:.0%} of the time compute-bound")
            for lt in ph.layers:
                count = f" x{lt.count}" if lt.count > 1 else ""
                passes = lt.seconds / max(lt.flops / (p * e), lt.bytes / (w * e)) if lt.flops or lt.bytes else 1.0
                times = f" x {passes:g} passes" if abs(passes - 1) > 1e-9 else ""
                out.append(f"  {lt.name}{count}: F = {lt.flops:,}, B = {lt.bytes:,}, "
                           f"max({_seconds(lt.flops / (p * e))}, {_seconds(lt.bytes / (w * e))}){times} = "
                           f"{_seconds(lt.seconds)} ({lt.bound}-bound)")
        if self.training is not None and self.training_mfu is not None:
            out.append(f"training MFU implied = model FLOPs per step / (step time * GPUs * P) = "
                       f"{self.training_model_flops_per_step:,} / ({_seconds(self.training.seconds)} * {self.gpus} * "
                       f"{p / 1e12:g}e12) = {self.training_mfu:.1%}")
        if self.generative:
            out.append(f"decode tokens/s = batch / decode step = {self.decode_batch} / "
                       f"{_seconds(self.decode.seconds)} = {self.decode_tokens_per_second:,.1f}")
        out += [f"note: {n}" for n in self.notes]
        return out


def _seconds(s: float) -> str:
    if s >= 1:
        return f"{s:.3f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3f} ms"
    return f"{s * 1e6:.3f} us"


@dataclass(frozen=True)
class _Work:
    """One layer's work in a phase: FLOPs and bytes."""

    name: str
    flops: int
    bytes: int


def _elements(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _active_weight_params(rec: LayerRecord, tokens: int) -> int:
    """Weights a pass over ``tokens`` tokens reads: all; for a lookup table the rows it gathers
    (one per token); for a mixture of experts at most the active experts of each token."""
    if rec.kind in ("Embedding", "PositionalEmbedding") and rec.output_shape:
        return min(rec.params, tokens * rec.output_shape[-1])
    if rec.kind == "Linear" and rec.params == 0 and rec.multiply_adds and rec.input_shapes:
        # a head tied to the embedding owns no parameters but reads the whole table
        return rec.input_shapes[0][-1] * rec.output_shape[-1]
    if rec.analysis is None:
        return rec.params
    named = {t.name: t.value for t in rec.analysis.extra_terms}
    if "params_total" in named and "params_active" in named:
        return min(named["params_total"], tokens * named["params_active"])
    return rec.params


def _seq_len(summary: Summary) -> int:
    first = summary.layers[0].input_shapes[0] if summary.layers and summary.layers[0].input_shapes else (1,)
    return first[1] if len(first) == 2 else 1


def _pass(summary: Summary, dtype: str, weight_bytes: dict[str, int] | None, scale_num: int, scale_den: int,
          core_num: int, core_den: int, head_tokens: int | None, kv_read: dict[str, int],
          weight_tokens: int) -> list[_Work]:  # fmt: skip
    """Each layer's FLOPs and bytes in one pass: token-linear layers at ``scale_num/scale_den`` of
    the analysis, attention cores at ``core_num/core_den``, the head on ``head_tokens`` tokens."""
    head = output_layer(summary)
    tokens0 = max(1, _tokens(summary))
    out: list[_Work] = []
    for rec in summary.layers:
        is_core = rec.kind in _CORE_KINDS
        num, den = (core_num, core_den) if is_core else (scale_num, scale_den)
        if rec.name == head and head_tokens is not None:
            num, den = head_tokens, tokens0
        flops = -(-(2 * rec.multiply_adds + rec.other_ops) * num // den)
        moved = sum(_elements(s) for s in rec.input_shapes) + sum(_elements(s) for s in rec.output_shapes)
        act_bytes = -(-dtype_bytes(moved, dtype) * scale_num // scale_den)  # inputs and outputs: linear in tokens
        if rec.name == head and head_tokens is not None:
            act_bytes = -(-dtype_bytes(moved, dtype) * head_tokens // tokens0)
        params = _active_weight_params(rec, weight_tokens)
        w = (weight_bytes or {}).get(rec.name)
        if w is None or params != rec.params:  # quantised storage applies to layers read whole
            w = dtype_bytes(params, dtype)
        out.append(_Work(rec.name, flops, w + act_bytes + kv_read.get(rec.name, 0)))
    return out


def _tokens(summary: Summary) -> int:
    first = summary.layers[0].input_shapes[0] if summary.layers and summary.layers[0].input_shapes else (1,)
    return first[0] * (first[1] if len(first) == 2 else 1)


_INDEX = re.compile(r"\.\d+\.")


def _phase(name: str, works: list[_Work], share_num: int, share_den: int, repeat_num: int, repeat_den: int,
           gpu_peak: int, bandwidth: int, e: float, formula: str, extra_seconds: float = 0.0,
           extra_bytes: int = 0) -> Phase:  # fmt: skip
    """Sum the layers' roofline times, each on the GPU's share ``share_num/share_den`` of it, times
    ``repeat_num/repeat_den`` (passes per phase); layers of repeated blocks grouped under ``*``."""
    groups: dict[tuple[str, int, int], list[float]] = {}
    order: list[tuple[str, int, int]] = []
    total_s = 0.0
    total_f = total_b = 0
    for wk in works:
        f = -(-wk.flops * share_num // share_den)
        b = -(-wk.bytes * share_num // share_den)
        t = max(f / (gpu_peak * e), b / (bandwidth * e)) if (f or b) else 0.0
        total_s += t * repeat_num / repeat_den
        total_f += f * repeat_num // repeat_den
        total_b += b * repeat_num // repeat_den
        key = (_INDEX.sub(".*.", wk.name), f, b)
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(t * repeat_num / repeat_den)
    layers = []
    for key in order:
        ts = groups[key]
        label, f, b = key
        compute = f / gpu_peak >= b / bandwidth
        layers.append(LayerTime(label, len(ts), f, b, ts[0], "compute" if compute else "memory"))
    total_s += extra_seconds
    total_b += extra_bytes
    return Phase(name, total_f, total_b, total_s, tuple(layers), formula)


def roofline(
    summary: Summary,
    gpu: GPU,
    *,
    dtype: str = "bfloat16",
    efficiency: float = 1.0,
    context: int,
    decode_batch: int = 1,
    kv_dtype: str = "bfloat16",
    kv_elements_by_layer: dict[str, int],
    serve_weight_bytes: int | None = None,
    tensor_parallel: int = 1,
    stage_share: tuple[int, int] = (1, 1),
    pipeline_stages: int = 1,
    training: tuple[int, int, int, bool] | None = None,
    optimizer_state_bytes: int = 0,
    gpus: int = 1,
    training_flops_per_token: int = 0,
    notes: tuple[str, ...] = (),
) -> Roofline:
    """The roofline times of ``summary`` on ``gpu`` (per GPU of a ``tensor_parallel`` x pipeline layout).

    ``kv_elements_by_layer``: K and V elements per token of each causal attention core (what a
    decode step reads per cached token). ``training``: (micro_batch, seq_len, grad_accum,
    checkpointing) for a training step; ``optimizer_state_bytes``: the model states the optimizer
    step reads and writes on one GPU.
    """
    if not 0 < efficiency <= 1:
        raise NetsizeError(f"efficiency must be in (0, 1] (got {efficiency})")
    if gpu.bandwidth_bytes_per_second <= 0:
        raise NetsizeError(f"GPU {gpu.key} has no memory bandwidth in the table")
    peak = gpu.peak(dtype)
    bw = gpu.bandwidth_bytes_per_second
    s0 = max(1, _seq_len(summary))
    tokens0 = max(1, _tokens(summary))
    tp = tensor_parallel
    all_notes = list(notes)
    weight_scale = (serve_weight_bytes, sum(r.params for r in summary.layers)) if serve_weight_bytes else None

    def serve_weights() -> dict[str, int] | None:
        if weight_scale is None:
            return None
        wb, params = weight_scale
        return {r.name: -(-wb * r.params // params) for r in summary.layers if params}

    # prefill: one sequence of `context` tokens (times the batch), the head on the last token only
    prefill_works = _pass(summary, dtype, serve_weights(), context * decode_batch, tokens0,
                          context * context * decode_batch, s0 * s0, decode_batch, {}, context * decode_batch)
    generative = bool(kv_elements_by_layer)
    prefill = _phase("prefill" if generative else "forward pass", prefill_works, 1, tp, 1, 1, peak, bw, efficiency,
                     f"sum over layers of max(F, B) terms, batch {decode_batch} x {context:,} tokens / TP {tp}")
    # decode: `decode_batch` new tokens against `context` cached ones
    kv_read = {name: dtype_bytes(kv * context * decode_batch, kv_dtype) for name, kv in kv_elements_by_layer.items()}
    decode_works = _pass(summary, dtype, serve_weights(), decode_batch, tokens0, decode_batch * context, s0 * s0,
                         decode_batch, kv_read, decode_batch)
    decode = _phase("decode step", decode_works, 1, tp, 1, 1, peak, bw, efficiency,
                    f"sum over layers of max(F, B) terms, {decode_batch} token(s) x context {context:,} / TP {tp}")
    train: Phase | None = None
    tokens_step = model_flops = 0
    if training is not None:
        micro, seq, accum, checkpointing = training
        works = _pass(summary, dtype, None, micro * seq, tokens0, micro * seq * seq, s0 * s0, None, {}, micro * seq)
        passes = 4 if checkpointing else 3
        slots = accum + pipeline_stages - 1
        share_num, share_den = stage_share[0], stage_share[1] * tp
        opt_seconds = 2 * optimizer_state_bytes / (bw * efficiency)
        train = _phase(
            "training step", works, share_num, share_den, passes * slots, 1, peak, bw, efficiency,
            f"({passes} passes (forward + 2x backward{' + recompute' if checkpointing else ''}) x "
            f"(grad_accum {accum} + PP {pipeline_stages} - 1) micro-batch slots) x layer times of the GPU's share "
            f"({stage_share[0]}/{stage_share[1]} of the blocks, 1/{tp} of each) + optimizer step "
            f"(2 x {optimizer_state_bytes:,} bytes of model states / (W*e) = {_seconds(opt_seconds)})",
            extra_seconds=opt_seconds, extra_bytes=2 * optimizer_state_bytes,
        )  # fmt: skip
        dp = max(1, gpus // (tp * pipeline_stages))
        tokens_step = micro * seq * accum * dp
        model_flops = training_flops_per_token * tokens_step
        if pipeline_stages > 1:
            all_notes.append(f"pipeline bubble: {pipeline_stages - 1} of {slots} micro-batch slots idle (1F1B)")
    all_notes.append("communication (TP all-reduce, PP sends, DP gradient reduction, ZeRO gathers) not modelled")
    return Roofline(gpu.key, dtype, efficiency, peak, bw, prefill, decode, decode_batch, context, train,
                    tokens_step, model_flops, gpus, tuple(all_notes), generative)
