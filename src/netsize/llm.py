"""The figures people ask of a language model, from the same analysis as every other number.

For a sequence length and batch: forward multiply-adds per sequence and per token, training
FLOPs per token (exact, next to the ``6N`` rule), KV-cache bytes per token and for the whole
context (grouped-query aware), and the weights' bytes per dtype.

Rules, stated once:

- ``tokens = batch * seq_len`` (the first token-id input's length; an encoder-decoder reads
  ``seq_len`` tokens on each side, and a "token" here is one position of that length; Whisper's
  encoder reads its fixed 30 s of log-mel frames and ``seq_len`` is the decoder's tokens).
- Forward multiply-adds are the analysis' total (projections, attention's ``QK^T`` and ``AV``
  over the full ``s x s`` scores as the kernel computes them, the LM head); per token = total /
  tokens.
- Training FLOPs per token = 3 x forward FLOPs = 6 x forward multiply-adds: every forward matmul
  is matched in the backward pass by two of the same size (the gradient with respect to its
  input and with respect to its weight; for attention's products, with respect to both
  operands). Element-wise work is not included, as in the ``6N`` rule.
- ``6N``, shown with both ``N``: all the parameters a token uses (a mixture-of-experts counts the
  router and its top-k experts), and Kaplan et al.'s ``N``, the same without the embedding and
  position tables (the scaling-law paper's definition). The rule ignores attention's ``s^2`` work;
  the first ``N`` counts lookup tables (which cost no multiply-adds), and both miss a tied LM
  head's second use (an untied head is in both).
- KV cache: every causal self-attention keeps its keys and values: per token
  ``sum over layers of (H_kv*d_k + H_kv*d_v)`` elements, ``2 * layers * H_kv * d`` when all layers
  agree; for the context x ``seq_len * batch`` (:func:`netsize.layers.attention.kv_cache_elements`,
  the formula of the KV cache a ``ScaledDotProductAttention(kv_cache=True)`` retains in the
  memory model). (Cross-attention caches of encoder-decoders,
  fixed by the encoder length, are not included.) Bytes per dtype: elements x bits / 8.
- Recurrent state (Mamba's selective scan): no KV cache; each sequence carries a fixed state,
  ``conv_state`` ``D*K`` and ``ssm_state`` ``D*S`` per layer, whatever the context length
  (the scan layers' ``recurrent_state_elements``). It is reported per sequence, adds nothing
  per token, and the whole context's cache is ``state x batch`` (plus any KV cache).
- Weights: parameters x bits / 8 per dtype (int4 packs two per byte); a config's
  ``quantization_config`` (GPTQ, AWQ, bitsandbytes) adds the bytes as that method stores them
  (:mod:`netsize.quantization`: packed weights, scales, zeros, 16-bit rest).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from netsize._analyze import analyze
from netsize._display import ShowsItself
from netsize._dtypes import DTYPE_BITS, REPORTED_DTYPES, dtype_bytes
from netsize._errors import NetsizeError
from netsize._i18n import register_messages
from netsize._network import Network
from netsize._summary import LayerRecord, Summary
from netsize._term import Term, floor_div_exact, prod_str

__all__ = ["LLMFigures", "kv_cache_elements_by_layer", "kv_cache_elements_per_token", "llm_figures"]

register_messages(
    {
        "tokens": {"en": "tokens", "zh": "词元数"},
        "active_params": {"en": "active params per token", "zh": "每个词元激活的参数"},
        "macs_per_sequence": {"en": "multiply-adds per sequence", "zh": "每个序列的乘加次数"},
        "macs_per_token": {"en": "multiply-adds per token", "zh": "每个词元的乘加次数"},
        "forward_flops_per_token": {"en": "forward FLOPs per token", "zh": "每个词元的前向浮点运算次数"},
        "training_flops_per_token": {"en": "training FLOPs per token", "zh": "每个词元的训练浮点运算次数"},
        "training_flops_6n": {"en": "training FLOPs per token, 6N rule (N = all params a token uses)",
                              "zh": "每个词元的训练浮点运算次数（6N 规则，N = 每个词元使用的全部参数）"},
        "training_flops_6n_non_embedding": {"en": "training FLOPs per token, 6N rule (Kaplan's N: non-embedding)",
                                            "zh": "每个词元的训练浮点运算次数（6N 规则，Kaplan 的 N：非嵌入参数）"},
        "kv_cache_elements_per_token": {"en": "KV-cache elements per token", "zh": "每个词元的 KV 缓存元素个数"},
        # English keeps the names these figures have always had in the explanation; Chinese names them.
        "kv_cache_bytes_per_token": {"en": "kv_cache_bytes_per_token", "zh": "每个词元的 KV 缓存字节数"},
        "kv_cache_bytes_context": {"en": "kv_cache_bytes_context", "zh": "整个上下文的 KV 缓存字节数"},
        "recurrent_state_elements_per_sequence": {"en": "recurrent state elements per sequence",
                                                  "zh": "每个序列的循环状态元素个数"},
        "weights_bytes": {"en": "weights_bytes", "zh": "权重字节数"},
    }
)


@dataclass(frozen=True, repr=False)
class LLMFigures(ShowsItself):
    """The LLM figures of one model at one sequence length and batch (all exact ints)."""

    model: str
    seq_len: int
    batch_size: int
    params: int
    active_params: int
    embedding_params: int
    macs_per_sequence: int
    macs_per_token: int
    forward_flops_per_token: int
    training_flops_per_token: int
    training_flops_6n: int
    kv_cache_elements_per_token: int
    kv_cache_bytes_per_token: dict[str, int]
    kv_cache_bytes_context: dict[str, int]
    weights_bytes: dict[str, int]
    terms: tuple[Term, ...] = field(default=(), repr=False, compare=False)
    recurrent_state_elements_per_sequence: int = 0  # state-space models: fixed, independent of seq_len

    @property
    def training_flops_6n_non_embedding(self) -> int:
        """``6N`` with Kaplan et al.'s ``N``: the parameters a token uses, embeddings excluded."""
        return 6 * (self.active_params - self.embedding_params)

    def to_dict(self) -> dict[str, Any]:
        """Keys as every JSON of netsize names them (docs/json.md): ``multiply_adds_*``, and bytes
        per dtype as ``{dtype: int}`` under a name ending in ``_bytes``."""
        return {
            "model": self.model,
            "seq_len": self.seq_len,
            "batch_size": self.batch_size,
            "params": self.params,
            "active_params": self.active_params,
            "embedding_params": self.embedding_params,
            "multiply_adds_per_sequence": self.macs_per_sequence,
            "multiply_adds_per_token": self.macs_per_token,
            "forward_flops_per_token": self.forward_flops_per_token,
            "training_flops_per_token": self.training_flops_per_token,
            "training_flops_6n": self.training_flops_6n,
            "training_flops_6n_non_embedding": self.training_flops_6n_non_embedding,
            "kv_cache_elements_per_token": self.kv_cache_elements_per_token,
            "kv_cache_bytes_per_token": dict(self.kv_cache_bytes_per_token),
            "kv_cache_bytes": dict(self.kv_cache_bytes_context),
            "model_size_bytes": dict(self.weights_bytes),
            **({"recurrent_state_elements_per_sequence": self.recurrent_state_elements_per_sequence}
               if self.recurrent_state_elements_per_sequence else {}),
        }

    def explain(self, lang: str = "en") -> str:
        """Every figure with its formula and values substituted."""
        return "\n".join(t.render(lang) for t in self.terms)


def _attention_kv(record: LayerRecord) -> int | None:
    """K and V elements per token kept by a causal self-attention record; None if it keeps none."""
    if record.analysis is None:
        return None
    from netsize.layers.attention import (
        GroupedQueryAttention,
        MultiheadAttention,
        ScaledDotProductAttention,
        kv_cache_elements,
    )

    kind = record.kind
    ins = record.input_shapes
    if kind == ScaledDotProductAttention.kind:  # the same formula as its retained KV cache
        if len(ins) == 1:
            return kv_cache_elements(1, 1, ins[0][-1] // 3, ins[0][-1] // 3)
        return kv_cache_elements(1, 1, ins[1][-1], ins[2][-1])
    if kind == GroupedQueryAttention.kind and len(ins) == 1:
        return next(t.value for t in record.analysis.extra_terms if t.name == "kv_cache_elements") // (
            ins[0][0] * ins[0][1]
        )
    if kind == MultiheadAttention.kind and len(ins) == 1:
        return kv_cache_elements(1, 1, ins[0][-1], ins[0][-1])
    return None


def kv_cache_elements_per_token(summary: Summary, causal: dict[str, bool] | None = None) -> tuple[int, list[int]]:
    """(total, per causal attention) K and V elements kept per token. ``causal`` names the layers
    that are causal self-attention (default: those whose analysis reports the pairs it needs)."""
    if causal is None:
        causal = _causal_map(summary, None)
    per_layer: list[int] = []
    for r in summary.layers:
        if not causal.get(r.name):
            continue
        kv = _attention_kv(r)
        if kv is not None:
            per_layer.append(kv)
    return sum(per_layer), per_layer


def kv_cache_elements_by_layer(summary: Summary) -> dict[str, int]:
    """K and V elements kept per token by each causal self-attention of ``summary``, by layer name
    (what a decode step reads per cached token)."""
    causal = _causal_map(summary, None)
    out: dict[str, int] = {}
    for r in summary.layers:
        if causal.get(r.name) and (kv := _attention_kv(r)) is not None:
            out[r.name] = kv
    return out


def llm_figures(
    target: Summary | Network | dict[str, Any] | str | Path,
    seq_len: int | None = None,
    batch_size: int = 1,
) -> LLMFigures:
    """The LLM figures of a Hugging Face config (dict or path), a network or a summary.

    ``seq_len``: for a config, the sequence analysed (default: the frontend's default);
    a network or summary has its own. ``batch_size``: for a config or network.

    >>> f = llm_figures({"model_type": "gpt2"}, seq_len=1024)
    >>> f.params, f.kv_cache_bytes_per_token["bfloat16"]
    (124439808, 36864)
    """
    measured: int | None = None
    quantization: Any = None
    source = "config"
    if isinstance(target, Summary):
        summary = target
        network = None
    elif isinstance(target, Network):
        network = target
        summary = analyze(network, batch_size=batch_size)
    else:  # a Hugging Face config, read by the resolver
        from netsize._target import read_config
        from netsize.frontends.hf_config import analyse_config

        config, source = read_config(target)
        # The path itself when there is one, so that an error names the file it is about.
        summary, network, measured = analyse_config(config if isinstance(target, dict) else target, seq_len=seq_len,
                                                    batch_size=batch_size, with_cache=True)
        quantization = config.get("quantization_config")
    causal = _causal_map(summary, network)
    figures = _figures(summary, causal, measured, _sliding_windows(network))
    if quantization is not None:
        from netsize.quantization import quantized_weights

        q = quantized_weights(summary, quantization, source)
        if q is not None:
            figures = replace(figures, weights_bytes={**figures.weights_bytes, q.label: q.bytes},
                              terms=(*figures.terms, q.term))
    return figures


def _causal_map(summary: Summary, network: Network | None) -> dict[str, bool]:
    out: dict[str, bool] = {}
    if network is not None:
        for node in network.nodes:
            out[node.name] = bool(getattr(node.layer, "causal", False))
        return out
    # A summary alone: causal (or windowed) attention reports the query-key pairs it needs.
    for r in summary.layers:
        a = r.analysis
        out[r.name] = a is not None and any(t.name == "attention_pairs_needed" for t in a.extra_terms)
    return out


def _sliding_windows(network: Network | None) -> dict[str, int]:
    """Sliding windows of the network's attention cores, by node name."""
    if network is None:
        return {}
    return {n.name: w for n in network.nodes if isinstance(w := getattr(n.layer, "sliding_window", None), int)}


def _context_kv(summary: Summary, causal: dict[str, bool], windows: dict[str, int], seq: int,
                batch: int) -> tuple[int, str, str]:
    """K and V elements cached for the whole context: each causal layer keeps ``min(S, W - 1)``
    positions under a sliding window ``W`` (transformers' ``DynamicSlidingWindowLayer`` keeps the
    last ``W - 1``), all ``S`` otherwise."""
    total, parts = 0, []
    for r in summary.layers:
        if not causal.get(r.name):
            continue
        kv = _attention_kv(r)
        if kv is None:
            continue
        w = windows.get(r.name)
        kept = seq if w is None else min(seq, w - 1)
        total += kv * kept * batch
        parts.append(f"{kv}*{kept}")
    return total, "sum over layers of kv_elements*min(S, W - 1)*batch", f"({' + '.join(parts) or '0'})*{batch}"


def _figures(summary: Summary, causal: dict[str, bool], measured: int | None = None,
             windows: dict[str, int] | None = None) -> LLMFigures:
    # the first (N, S) input: token ids (Whisper's log-mel features (N, mels, frames) come before them)
    shape = next((s for s in summary.input_shapes.values() if len(s) == 2), summary.input_shape)
    if len(shape) < 2:
        raise NetsizeError(f"LLM figures need a sequence input (N, S); {summary.model} takes {list(shape)}")
    if len(shape) >= 4:  # (N, C, H, W): an image (ViT, CLIP's vision tower), whose axis 1 is not a length
        raise NetsizeError(f"LLM figures need a sequence input (N, S); {summary.model} takes images {list(shape)}: "
                           "use netsize summary for its counts")
    batch, seq = shape[0], shape[1]
    tokens = batch * seq
    totals = summary.totals
    params = totals.params
    macs = totals.multiply_adds
    moe_inactive = 0
    for r in summary.layers:
        if r.analysis is None or r.params == 0:
            continue
        named = {t.name: t.value for t in r.analysis.extra_terms}
        if "params_total" in named and "params_active" in named:
            moe_inactive += named["params_total"] - named["params_active"]
    active = params - moe_inactive
    embedding = sum(r.params for r in summary.layers if r.kind in ("Embedding", "PositionalEmbedding"))
    macs_seq, seq_notes = floor_div_exact(macs, batch)
    macs_tok, tok_notes = floor_div_exact(macs, tokens)
    kv_tok, per_layer = kv_cache_elements_per_token(summary, causal)
    states = [t.value for r in summary.layers if r.analysis is not None
              for t in r.analysis.extra_terms if t.name == "recurrent_state_elements"]
    state_seq, state_notes = floor_div_exact(sum(states), batch)
    terms: list[Term] = [
        Term("tokens", tokens, "batch*seq_len", prod_str(batch, seq)),
        Term("params", params, "sum of layer params (tied once)", ""),
    ]
    if active != params:
        terms.append(Term("active_params", active, "params - (E - k) experts' params", f"{params} - {moe_inactive}"))
    terms += [
        Term("multiply_adds", macs, "sum of layer multiply-adds", ""),
        Term("macs_per_sequence", macs_seq, "multiply_adds / batch", f"{macs}/{batch}", seq_notes),
        Term("macs_per_token", macs_tok, "multiply_adds / tokens", f"{macs}/{tokens}", tok_notes),
        Term("forward_flops_per_token", 2 * macs_tok, "2*macs_per_token", f"2*{macs_tok}"),
        Term("training_flops_per_token", 6 * macs_tok, "3*forward_flops_per_token (forward + 2x backward)",
             f"3*{2 * macs_tok}"),
        Term("training_flops_6n", 6 * active, "6*N (N = all params a token uses)", f"6*{active}"),
        Term("training_flops_6n_non_embedding", 6 * (active - embedding),
             "6*N (Kaplan's N = params a token uses - embedding params)", f"6*({active} - {embedding})"),
    ]
    if states:
        uniform = len(set(states)) == 1
        sym = "layers*N*D*(K + S)" if uniform else "sum over layers of N*D*(K + S)"
        sub = f"{len(states)}*{states[0]}" if uniform else f"({' + '.join(map(str, states))})"
        terms.append(Term("recurrent_state_elements_per_sequence", state_seq,
                          f"{sym} / batch (conv_state D*K + ssm_state D*S per layer, independent of seq_len)",
                          f"{sub}/{batch}", state_notes))
    ctx_sym, ctx_sub = "", ""
    if measured is not None:
        kv_ctx = measured
        kv_tok, kv_notes = floor_div_exact(measured, tokens)
        terms.append(Term("kv_cache_elements_per_token", kv_tok,
                          "cache elements / tokens (measured: one transformers forward with use_cache on meta)",
                          f"{measured}/{tokens}", kv_notes))
    elif per_layer:
        uniform = len(set(per_layer)) == 1
        sym = "layers*(H_kv*d_k + H_kv*d_v)" if uniform else "sum over causal attention of (H_kv*d_k + H_kv*d_v)"
        sub = f"{len(per_layer)}*{per_layer[0]}" if uniform else " + ".join(map(str, per_layer))
        terms.append(Term("kv_cache_elements_per_token", kv_tok, sym, sub))
    elif states:
        terms.append(Term("kv_cache_elements_per_token", 0, "no KV cache: a fixed recurrent state per sequence", ""))
    else:
        terms.append(Term("kv_cache_elements_per_token", 0, "no causal self-attention: nothing cached", ""))
    if measured is None:
        if windows:
            kv_ctx, ctx_sym, ctx_sub = _context_kv(summary, causal, windows, seq, batch)
        else:
            kv_ctx = kv_tok * tokens
        if states:
            kv_ctx += state_seq * batch
            kv_part = f"{kv_tok}*{tokens}" if not ctx_sym else ctx_sub
            ctx_sym = f"{ctx_sym or 'kv_elements*tokens'} + recurrent_state*batch"
            ctx_sub = f"({kv_part} + {state_seq}*{batch})"
    kv_bytes_tok = {d: dtype_bytes(kv_tok, d) for d in REPORTED_DTYPES}
    kv_bytes_ctx = {d: dtype_bytes(kv_ctx, d) for d in REPORTED_DTYPES}
    weights = {d: dtype_bytes(params, d) for d in REPORTED_DTYPES}
    for d in REPORTED_DTYPES:
        bits = DTYPE_BITS[d]
        terms.append(
            Term(f"kv_cache_bytes_per_token[{d}]", kv_bytes_tok[d], "kv_elements*bits/8", f"{kv_tok}*{bits}/8")
        )
    for d in REPORTED_DTYPES:
        if ctx_sym:
            terms.append(Term(f"kv_cache_bytes_context[{d}]", kv_bytes_ctx[d], f"({ctx_sym})*bits/8",
                              f"{ctx_sub}*{DTYPE_BITS[d]}/8"))
        elif measured is not None:
            terms.append(Term(f"kv_cache_bytes_context[{d}]", kv_bytes_ctx[d], "measured cache elements*bits/8",
                              f"{kv_ctx}*{DTYPE_BITS[d]}/8"))
        else:
            terms.append(Term(f"kv_cache_bytes_context[{d}]", kv_bytes_ctx[d], "kv_elements*tokens*bits/8",
                              f"{kv_tok}*{tokens}*{DTYPE_BITS[d]}/8"))
    for d in REPORTED_DTYPES:
        terms.append(Term(f"weights_bytes[{d}]", weights[d], "params*bits/8", f"{params}*{DTYPE_BITS[d]}/8"))
    return LLMFigures(
        model=summary.model,
        seq_len=seq,
        batch_size=batch,
        params=params,
        active_params=active,
        embedding_params=embedding,
        macs_per_sequence=macs_seq,
        macs_per_token=macs_tok,
        forward_flops_per_token=2 * macs_tok,
        training_flops_per_token=6 * macs_tok,
        training_flops_6n=6 * active,
        kv_cache_elements_per_token=kv_tok,
        kv_cache_bytes_per_token=kv_bytes_tok,
        kv_cache_bytes_context=kv_bytes_ctx,
        weights_bytes=weights,
        terms=tuple(terms),
        recurrent_state_elements_per_sequence=state_seq,
    )
