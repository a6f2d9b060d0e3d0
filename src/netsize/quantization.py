"""Bytes of a model's weights as a Hugging Face ``quantization_config`` stores them (GPTQ, AWQ,
bitsandbytes 8-bit and 4-bit), from the analysis' layers.

Rules, stated once (``I`` in-features, ``O`` out-features of a quantized linear weight, ``b``
bits, ``g`` group size along the input, ``G = ceil(I / g)`` groups, one group when ``g = -1``):

- Quantized: every linear layer's weight (mixture-of-experts experts included: gate and up
  ``D -> F``, down ``F -> D``), except ``lm_head`` and ``modules_to_not_convert``. Everything
  else (embeddings, norms, biases, routers, the LM head) stays in 16 bits.
- GPTQ: ``qweight`` ``I*O*b/8`` bytes, ``qzeros`` ``G*O*b/8``, ``scales`` ``2*G*O`` (float16),
  ``g_idx`` ``4*I`` (int32) per weight.
- AWQ: ``qweight`` ``I*O*b/8``, ``qzeros`` ``G*O*b/8``, ``scales`` ``2*G*O``.
- bitsandbytes 8-bit (LLM.int8): ``I*O`` bytes and a float32 scale per output row ``4*O``.
- bitsandbytes 4-bit (NF4/FP4): ``I*O/2`` bytes, one absmax per block of 64 (float32,
  ``4*ceil(I*O/64)``) and the 16-entry float32 code book (64 bytes); with double quantization
  the absmax are one byte each plus a float32 per 256 of them, a 256-entry float32 code book and
  a float32 offset: ``ceil(I*O/64) + 4*ceil(I*O/64/256) + 1024 + 4`` (bitsandbytes' ``QuantState``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netsize._errors import NetsizeError
from netsize._summary import Summary
from netsize._term import Term

__all__ = ["QuantizedWeights", "quantized_weights"]

_EXPERT_KIND = "MixtureOfExperts"


@dataclass(frozen=True)
class QuantizedWeights:
    label: str  # "gptq int4 (group 128)"
    bytes: int
    quantized_params: int
    other_params: int
    term: Term


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _matrices(summary: Summary, skip: set[str]) -> tuple[list[tuple[int, int]], int]:
    """(in, out) of every quantized weight, and the parameters left in 16 bits."""
    mats: list[tuple[int, int]] = []
    quantized = 0
    for r in summary.layers:
        leaf = r.name.rsplit(".", 1)[-1]
        if r.params == 0 or leaf in skip or r.name in skip or r.name == "lm_head":
            continue
        if r.kind == "Linear" and r.input_shapes:
            i, o = r.input_shapes[0][-1], r.output_shape[-1]
            mats.append((i, o))
            quantized += i * o
        elif r.kind == _EXPERT_KIND and r.analysis is not None and r.analysis.weights is not None:
            # weights = D*E (router, kept in 16 bits) + E*3*D*F (gated experts)
            d = r.input_shapes[0][-1]
            f = next(t.value for t in r.analysis.shape_terms if t.name == "F")
            experts = r.analysis.weights.value // (d + 3 * d * f)
            mats += [(d, f), (d, f), (f, d)] * experts
            quantized += experts * 3 * d * f
    return mats, quantized


def quantized_weights(summary: Summary, qcfg: Any, source: str = "config") -> QuantizedWeights | None:
    """The weights' bytes under ``qcfg`` (a config's ``quantization_config``); None if absent."""
    if qcfg is None:
        return None
    if not isinstance(qcfg, dict):
        raise NetsizeError(f"{source}: field 'quantization_config' must be an object (got {type(qcfg).__name__})")
    method = qcfg.get("quant_method")
    if method is None and (qcfg.get("load_in_4bit") or qcfg.get("load_in_8bit")):
        method = "bitsandbytes"
    if method not in ("gptq", "awq", "bitsandbytes"):
        raise NetsizeError(f"{source}: quantization_config quant_method {method!r} is not modelled; "
                           "netsize reads gptq, awq and bitsandbytes")
    skip_list = qcfg.get("modules_to_not_convert") or qcfg.get("llm_int8_skip_modules") or []
    if not isinstance(skip_list, list) or not all(isinstance(m, str) for m in skip_list):
        raise NetsizeError(f"{source}: quantization_config modules_to_not_convert must be a list of module names")
    mats, quantized = _matrices(summary, set(skip_list))
    other = summary.totals.params - quantized
    if method in ("gptq", "awq"):
        bits = qcfg.get("bits", qcfg.get("w_bit"))
        group = qcfg.get("group_size", qcfg.get("q_group_size", 128))
        if type(bits) is not int or bits not in (2, 3, 4, 8):
            raise NetsizeError(f"{source}: quantization_config bits must be 2, 3, 4 or 8 (got {bits!r})")
        if type(group) is not int or (group <= 0 and group != -1):
            raise NetsizeError(f"{source}: quantization_config group_size must be a positive integer or -1 "
                               f"(got {group!r})")
        total = 2 * other
        for i, o in mats:
            groups = 1 if group == -1 else _ceil(i, group)
            total += _ceil(i * o * bits, 8) + _ceil(groups * o * bits, 8) + 2 * groups * o
            if method == "gptq":
                total += 4 * i
        label = f"{method} int{bits} (group {group})"
        extra = " + g_idx 4*I" if method == "gptq" else ""
        sym = f"sum over quantized weights of (I*O*b/8 + G*O*b/8 + 2*G*O{extra}) + 2*other_params"
        sub = f"{len(mats)} weights, b = {bits}, g = {group}, other_params = {other}"
    elif qcfg.get("load_in_4bit"):
        double = bool(qcfg.get("bnb_4bit_use_double_quant", False))
        total = 2 * other
        for i, o in mats:
            blocks = _ceil(i * o, 64)
            total += _ceil(i * o, 2) + 64 + (blocks + 4 * _ceil(blocks, 256) + 1024 + 4 if double else 4 * blocks)
        kind = qcfg.get("bnb_4bit_quant_type", "fp4")
        label = f"bitsandbytes 4-bit ({kind}{', double quant' if double else ''})"
        sym = "sum of (I*O/2 + absmax per 64) + 2*other_params"
        sub = f"{len(mats)} weights, other_params = {other}"
    elif qcfg.get("load_in_8bit"):
        total = 2 * other + sum(i * o + 4 * o for i, o in mats)
        label = "bitsandbytes 8-bit"
        sym = "sum of (I*O + 4*O) + 2*other_params"
        sub = f"{len(mats)} weights, other_params = {other}"
    else:
        raise NetsizeError(f"{source}: quantization_config (bitsandbytes) sets neither load_in_4bit nor load_in_8bit")
    return QuantizedWeights(label, total, quantized, other,
                            Term(f"weights_bytes[{label}]", total, sym, sub))
