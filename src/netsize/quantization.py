"""How quantised weights are stored, byte for byte: per linear layer (:class:`Quantization`,
:func:`linear_weight_bytes`, the one place for these layouts, used by ``netsize plan``), and for a
whole model as a Hugging Face ``quantization_config`` stores it (GPTQ, AWQ, bitsandbytes 8-bit and
4-bit; :func:`quantized_weights`, used by ``netsize llm``).

Each method's layout is the one its library keeps in GPU memory for one ``Linear(K -> N)``
(``K`` in_features, ``N`` out_features, ``n = K*N`` weights):

- ``int8`` (bitsandbytes LLM.int8, ``Linear8bitLt``): the weight as int8 (``n`` bytes) and ``SCB``,
  one float32 absmax per output row (``4*N``).
- ``nf4`` / ``fp4`` (bitsandbytes ``Linear4bit``, ``Params4bit``): two weights per byte
  (``ceil(n/2)``), one absmax per block of ``blocksize`` (64) weights, float32 (``4*ceil(n/64)``),
  and the 16-entry float32 code table (64 bytes). With double quantisation
  (``bnb_4bit_use_double_quant``) the absmax values are themselves quantised: one uint8 per block,
  one float32 absmax per 256 of those, the 256-entry float32 code table of that second
  quantisation (1,024 bytes) and its float32 offset (4 bytes).
- ``gptq`` (AutoGPTQ / GPTQModel ``QuantLinear``, ``b`` bits, group size ``g``): ``qweight`` int32
  ``(K*b/32, N)`` = ``K*N*b/8`` bytes, ``qzeros`` int32 ``(ceil(K/g), N*b/32)``, ``scales`` float16
  ``(ceil(K/g), N)``, ``g_idx`` int32 ``(K)``.
- ``awq`` (AutoAWQ GEMM ``WQLinear``): ``qweight`` int32 ``(K, N*b/32)``, ``qzeros`` int32
  ``(ceil(K/g), N*b/32)``, ``scales`` float16 ``(ceil(K/g), N)``; no ``g_idx``.
- ``fp8``: one byte per weight and one float32 scale per tensor (per-tensor static scaling, as
  vLLM's ``fp8`` checkpoints store it).

Biases stay in the compute dtype. Layers that are not quantised (embeddings, norms, the LM head:
what transformers' quantisers leave out by default) keep ``compute_dtype``. Byte counts are the
tensors' own sizes; the CUDA caching allocator rounds each tensor up to 512 bytes, which matters
only for the small per-layer tables.

Which weights a ``quantization_config`` quantizes: every linear layer's weight (mixture-of-experts
experts included: gate and up ``D -> F``, down ``F -> D``), except ``lm_head`` and
``modules_to_not_convert``; everything else (embeddings, norms, biases, routers, the LM head) stays
in 16 bits, as transformers' quantizers leave it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netsize._dtypes import canonical_dtype, dtype_bytes
from netsize._errors import NetsizeError
from netsize._summary import Summary
from netsize._term import Term

__all__ = ["METHODS", "Quantization", "QuantizedWeights", "ceil_div", "linear_weight_bytes", "quantized_weights"]

METHODS = ("none", "fp8", "int8", "nf4", "fp4", "gptq", "awq")


@dataclass(frozen=True)
class Quantization:
    """A weight-storage scheme: ``method`` (one of :data:`METHODS`), its bits and block/group size.

    >>> q = Quantization("nf4", double_quant=True)
    >>> linear_weight_bytes(4096, 4096, False, q).value
    8655940
    """

    method: str = "none"
    bits: int = 4
    group_size: int = 128
    blocksize: int = 64
    double_quant: bool = False
    compute_dtype: str = "bfloat16"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise NetsizeError(f"unknown quantisation {self.method!r}; use one of {', '.join(METHODS)}")
        if self.method in ("gptq", "awq") and self.bits not in (2, 3, 4, 8):
            raise NetsizeError(f"{self.method} stores 2, 3, 4 or 8 bits per weight (got {self.bits})")
        if self.group_size == 0 or self.group_size < -1:
            raise NetsizeError(f"group size must be positive, or -1 for one group per column (got {self.group_size})")
        if self.blocksize <= 0:
            raise NetsizeError(f"blocksize must be positive (got {self.blocksize})")
        canonical_dtype(self.compute_dtype)

    @property
    def label(self) -> str:
        if self.method in ("gptq", "awq"):
            return f"{self.method} int{self.bits} g{self.group_size}"
        if self.method in ("nf4", "fp4") and self.double_quant:
            return f"{self.method} + double quant"
        return self.compute_dtype if self.method == "none" else self.method


def ceil_div(a: int, b: int) -> int:
    """``ceil(a / b)`` for positive ints, exactly."""
    return -(-a // b)


def linear_weight_bytes(in_features: int, out_features: int, bias: bool, q: Quantization) -> Term:
    """Bytes one ``Linear(in_features -> out_features)`` occupies under ``q``, with its formula."""
    k, n_out = in_features, out_features
    n = k * n_out
    bias_bytes = dtype_bytes(n_out, q.compute_dtype) if bias else 0
    b_sym = " + bias" if bias else ""
    b_sub = f" + {bias_bytes}" if bias else ""
    m = q.method
    if m == "none":
        value = dtype_bytes(n, q.compute_dtype) + bias_bytes
        return Term("weight_bytes", value, f"K*N*bytes({q.compute_dtype}){b_sym}",
                    f"{k}*{n_out}*{dtype_bytes(1, q.compute_dtype)}{b_sub}")
    if m == "fp8":
        return Term("weight_bytes", n + 4 + bias_bytes, f"K*N + 4 (scale){b_sym}", f"{k}*{n_out} + 4{b_sub}")
    if m == "int8":
        return Term("weight_bytes", n + 4 * n_out + bias_bytes, f"K*N + 4*N (SCB){b_sym}",
                    f"{k}*{n_out} + 4*{n_out}{b_sub}")
    if m in ("nf4", "fp4"):
        blocks = ceil_div(n, q.blocksize)
        packed = ceil_div(n, 2)
        if q.double_quant:
            nested = ceil_div(blocks, 256)
            value = packed + blocks + 4 * nested + 1024 + 4 + 64 + bias_bytes
            return Term(
                "weight_bytes", value,
                f"ceil(K*N/2) + B + 4*ceil(B/256) + 1024 + 4 + 64{b_sym}, B = ceil(K*N/{q.blocksize})",
                f"{packed} + {blocks} + 4*{nested} + 1024 + 4 + 64{b_sub}",
            )  # fmt: skip
        value = packed + 4 * blocks + 64 + bias_bytes
        return Term("weight_bytes", value, f"ceil(K*N/2) + 4*B + 64{b_sym}, B = ceil(K*N/{q.blocksize})",
                    f"{packed} + 4*{blocks} + 64{b_sub}")
    g = k if q.group_size == -1 else q.group_size
    groups = ceil_div(k, g)
    bits = q.bits
    packed = ceil_div(n * bits, 8)
    zeros = groups * ceil_div(n_out * bits, 32) * 4
    scales = 2 * groups * n_out
    if m == "gptq":
        value = packed + zeros + scales + 4 * k + bias_bytes
        return Term(
            "weight_bytes", value,
            f"K*N*{bits}/8 + 4*G*ceil(N*{bits}/32) + 2*G*N + 4*K{b_sym}, G = ceil(K/{g})",
            f"{packed} + {zeros} + {scales} + {4 * k}{b_sub}",
        )  # fmt: skip
    value = packed + zeros + scales + bias_bytes
    return Term(
        "weight_bytes", value,
        f"K*N*{bits}/8 + 4*G*ceil(N*{bits}/32) + 2*G*N{b_sym}, G = ceil(K/{g})",
        f"{packed} + {zeros} + {scales}{b_sub}",
    )  # fmt: skip


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
    # per weight: linear_weight_bytes' layout (one place for those rules)
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
