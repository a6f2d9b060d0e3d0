"""Bytes of a model's weights as a Hugging Face ``quantization_config`` stores them (GPTQ, AWQ,
bitsandbytes 8-bit and 4-bit), from the analysis' layers. The per-weight layouts are
:mod:`netsize.plan._quant`'s (one place for them); this module maps a config onto them and says
which weights are quantized.

Which weights are quantized: every linear layer's weight (mixture-of-experts experts included:
gate and up ``D -> F``, down ``F -> D``), except ``lm_head`` and ``modules_to_not_convert``;
everything else (embeddings, norms, biases, routers, the LM head) stays in 16 bits, as
transformers' quantizers leave it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netsize._dtypes import dtype_bytes
from netsize._errors import NetsizeError
from netsize._summary import Summary
from netsize._term import Term
from netsize.plan._quant import Quantization, linear_weight_bytes

__all__ = ["QuantizedWeights", "quantized_weights"]

_EXPERT_KIND = "MixtureOfExperts"


@dataclass(frozen=True)
class QuantizedWeights:
    label: str  # "gptq int4 (group 128)"
    bytes: int
    quantized_params: int
    other_params: int
    term: Term


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
    q = _scheme(method, qcfg, source)
    # per weight: the byte layout of netsize.plan's quantised storage (one place for those rules)
    total = dtype_bytes(other, q.compute_dtype) + sum(linear_weight_bytes(i, o, False, q).value for i, o in mats)
    if method in ("gptq", "awq"):
        label = f"{method} int{q.bits} (group {q.group_size})"
    elif q.method in ("nf4", "fp4"):
        label = f"bitsandbytes 4-bit ({q.method}{', double quant' if q.double_quant else ''})"
    else:
        label = "bitsandbytes 8-bit"
    example = linear_weight_bytes(*mats[0], False, q) if mats else None
    sym = ("sum over quantized weights of (" + (example.symbolic if example else "0") + ") + 2*other_params")
    sub = f"{len(mats)} weights, other_params = {other}"
    return QuantizedWeights(label, total, quantized, other, Term(f"weights_bytes[{label}]", total, sym, sub))


def _scheme(method: str, qcfg: dict[str, Any], source: str) -> Quantization:
    if method in ("gptq", "awq"):
        bits = qcfg.get("bits", qcfg.get("w_bit"))
        group = qcfg.get("group_size", qcfg.get("q_group_size", 128))
        if type(bits) is not int or bits not in (2, 3, 4, 8):
            raise NetsizeError(f"{source}: quantization_config bits must be 2, 3, 4 or 8 (got {bits!r})")
        if type(group) is not int or (group <= 0 and group != -1):
            raise NetsizeError(f"{source}: quantization_config group_size must be a positive integer or -1 "
                               f"(got {group!r})")
        return Quantization(method, bits=bits, group_size=group, compute_dtype="float16")
    if qcfg.get("load_in_4bit"):
        kind = qcfg.get("bnb_4bit_quant_type", "fp4")
        if kind not in ("nf4", "fp4"):
            raise NetsizeError(f"{source}: quantization_config bnb_4bit_quant_type must be 'nf4' or 'fp4' "
                               f"(got {kind!r})")
        return Quantization(kind, double_quant=bool(qcfg.get("bnb_4bit_use_double_quant", False)),
                            compute_dtype="float16")
    if qcfg.get("load_in_8bit"):
        return Quantization("int8", compute_dtype="float16")
    raise NetsizeError(f"{source}: quantization_config (bitsandbytes) sets neither load_in_4bit nor load_in_8bit")
