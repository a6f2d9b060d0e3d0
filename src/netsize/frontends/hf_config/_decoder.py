"""One decoder-only template for the LLaMA lineage (LLaMA, Mistral, Mixtral, Qwen2/3 and their MoE
variants, Gemma 1/2/3, Phi-3, OLMo 1/2, Granite, StarCoder2, Cohere...): a family is a function
from its config to a :class:`DecoderSpec` (plain values); :func:`build_decoder` turns any spec
into a network with transformers' module names. Only the differences between families live in
the spec: norm kind, which projections carry biases, fused projections, q/k norms, where the
norms sit, gated or plain MLP, experts, sliding windows, dropouts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from netsize._layer import Layer
from netsize._network import Graph, Network
from netsize.layers import layer_type
from netsize.layers.attention import ScaledDotProductAttention
from netsize.layers.embedding import Embedding
from netsize.layers.linear import Linear
from netsize.layers.transformer import MixtureOfExperts, NewGELU


def make(name: str, **fields: object) -> Layer:
    return layer_type(name)(**fields)


def activation(name: str) -> Layer:
    """transformers' ``ACT2FN[name]`` as a netsize layer (names already validated)."""
    if name == "gelu_new":  # NewGELUActivation: separate ops, four saved tensors
        return NewGELU()
    name = {"gelu_pytorch_tanh": "gelu_tanh", "gelu_fast": "gelu_tanh", "swish": "silu"}.get(name, name)
    if name == "gelu_tanh":
        return make("gelu", approximate="tanh")
    return make(name)


ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "relu", "silu", "swish", "tanh", "sigmoid")


def norm(kind: str, size: int | tuple[int, ...], eps: float) -> Layer:
    """``rms`` (RMSNorm weight), ``layernorm`` (weight and bias), ``layernorm_nobias`` (weight only:
    Cohere, OLMo-1 variants), ``layernorm_noparams`` (OLMo-1's parameter-free LayerNorm)."""
    if kind == "rms":
        return make("rmsnorm", normalized_shape=size, eps=eps)
    if kind == "layernorm":
        return make("layernorm", normalized_shape=size, eps=eps)
    if kind == "layernorm_nobias":
        return make("layernorm", normalized_shape=size, eps=eps, bias=False)
    return make("layernorm", normalized_shape=size, eps=eps, elementwise_affine=False)


def dropout(g: Graph, name: str, p: float, x: str) -> str:
    """A training-time dropout node when ``p > 0`` (its mask is kept for backward)."""
    return g.add(name, make("dropout", p=p), x) if p else x


@dataclass(frozen=True)
class MoESpec:
    """Routed experts (``experts``, ``top_k``, each a gated FFN of ``expert_ff``) and optionally a
    shared expert of ``shared_ff`` (Qwen2-MoE: scaled by a sigmoid gate ``shared_gate``;
    DeepSeek: added as is)."""

    experts: int
    top_k: int
    expert_ff: int
    shared_ff: int = 0
    shared_gate: bool = False
    shared_name: str = "shared_expert"


@dataclass(frozen=True)
class MLASpec:
    """Multi-head latent attention (DeepSeek-V2/V3): queries through a low-rank ``q_lora_rank``
    (or a plain ``q_proj`` when None), keys and values from one compressed latent of
    ``kv_lora_rank`` plus a shared rotary key of ``rope`` per token, expanded per head by
    ``kv_b_proj``. Heads see ``nope + rope`` query/key features and ``v`` value features. The
    cache keeps the latent: ``kv_lora_rank + rope`` elements per token and layer."""

    q_lora_rank: int | None
    kv_lora_rank: int
    nope: int
    rope: int
    v: int
    bias: bool = False
    eps: float = 1e-6  # DeepseekV3RMSNorm's default for the q_a and kv_a norms


@dataclass(frozen=True)
class DecoderSpec:
    vocab: int
    d: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    ff: int
    act: str
    eps: float
    norm: str = "rms"
    q_bias: bool = False  # q, k, v projections
    o_bias: bool = False
    mlp_bias: bool = False
    fused_qkv: str | None = None  # name of one q|k|v projection (Phi-3: "qkv_proj")
    mlp: str = "gated"  # "gated" (gate/up/down), "gated_fused" (Phi-3 gate_up_proj), "plain" (c_fc/c_proj)
    mlp_names: tuple[str, ...] = ("gate_proj", "up_proj", "down_proj")
    qk_norm: str | None = None  # "head" (per head_dim: Qwen3, Gemma3) or "full" (H*d wide: OLMo2)
    qk_norm_kind: str = "rms"
    layout: str = "pre"  # "pre", "sandwich" (Gemma2/3: pre and post norms), "post" (OLMo2), "parallel" (Cohere),
    # "parallel2" (GPT-NeoX: x + attn(norm1(x)) + mlp(norm2(x)))
    sliding: Sequence[int | None] = ()  # per layer; empty: none
    moe: Sequence[MoESpec | None] = ()  # per layer; empty: dense everywhere
    attention_dropout: float = 0.0
    residual_dropout: float = 0.0  # after attention and after the MLP (Phi-3 resid_pdrop, StarCoder2)
    embedding_dropout: float = 0.0
    tie: bool = False
    kv_cache: bool = True
    implementation: str = "eager"
    pad_token_id: int | None = None
    final_norm: str = "norm"
    mla: MLASpec | None = None
    lm_head_bias: bool = False  # Phi-1/2
    names: dict[str, str] = field(default_factory=dict)  # module-name overrides (see _name)


_NAMES = {"base": "model.", "embed": "embed_tokens", "attn": "self_attn", "o_proj": "o_proj",
          "token_cls": "score", "q_norm": "q_norm", "k_norm": "k_norm"}


def _name(s: DecoderSpec, key: str) -> str:
    """A module name of the family (LLaMA's unless ``names`` overrides it: GPT-NeoX's ``gpt_neox.``,
    ``embed_in``, ``attention``, ``dense``...)."""
    return s.names.get(key, _NAMES[key])


def build_decoder(spec: DecoderSpec, arch: str, seq_len: int, head: str, num_labels: int = 2,
                  classifier_dropout: float = 0.0) -> Network:
    """The network of ``spec``. ``head``: ``"lm"`` (``lm_head``), ``"none"`` (the bare model),
    ``"seq_cls"`` (``score``, no bias), ``"token_cls"`` (dropout + ``score``), ``"qa"``
    (``qa_outputs``)."""
    s, d = spec, spec.d
    g = Graph(arch, inputs={"input_ids": (seq_len,)})
    p = "" if head == "none" else _name(s, "base")
    emb = g.add(f"{p}{_name(s, 'embed')}", Embedding(s.vocab, d, s.pad_token_id), "input_ids")
    x = emb
    x = dropout(g, f"{p}embed_dropout", s.embedding_dropout, x)
    for i in range(s.layers):
        x = _layer(g, s, f"{p}layers.{i}.", i, x, seq_len)
    x = g.add(f"{p}{s.final_norm}", norm(s.norm, d, s.eps), x)
    if head == "lm":
        if s.lm_head_bias and s.tie:  # the weight is the embeddings', the bias the head's own
            h = g.add("lm_head", Linear(d, s.vocab, bias=False), x, tied_to=emb)
            g.add("lm_head.bias", make("bias_add", features=s.vocab), h)
        else:
            g.add("lm_head", Linear(d, s.vocab, bias=s.lm_head_bias), x, tied_to=emb if s.tie else None)
    elif head == "seq_cls":
        g.add("score", Linear(d, num_labels, bias=False), x)
    elif head == "token_cls":
        x = dropout(g, "dropout", classifier_dropout, x)
        g.add(_name(s, "token_cls"), Linear(d, num_labels), x)
    elif head == "qa":
        g.add("qa_outputs", Linear(d, 2), x)
    return g.build()


def _layer(g: Graph, s: DecoderSpec, b: str, i: int, x: str, seq_len: int) -> str:
    d = s.d
    n_in = g.add(f"{b}input_layernorm", norm(s.norm, d, s.eps), x) if s.layout != "post" else x
    attn = _attention(g, s, f"{b}{_name(s, 'attn')}.", i, n_in)
    if s.layout == "parallel":  # Cohere, Phi-1/2: x + attn(norm(x)) + mlp(norm(x))
        attn = dropout(g, f"{b}resid_attn_dropout", s.residual_dropout, attn)
        m = dropout(g, f"{b}resid_mlp_dropout", s.residual_dropout, _mlp(g, s, b, i, n_in))
        return g.add(f"{b}residual", make("add"), [x, attn, m])
    if s.layout == "parallel2":  # GPT-NeoX: x + attn(norm1(x)) + mlp(norm2(x)), each dropped out
        attn = dropout(g, f"{b}post_attention_dropout", s.residual_dropout, attn)
        n = g.add(f"{b}post_attention_layernorm", norm(s.norm, d, s.eps), x)
        m = dropout(g, f"{b}post_mlp_dropout", s.residual_dropout, _mlp(g, s, b, i, n))
        return g.add(f"{b}residual", make("add"), [x, attn, m])
    if s.layout == "sandwich" or s.layout == "post":
        attn = g.add(f"{b}post_attention_layernorm", norm(s.norm, d, s.eps), attn)
    attn = dropout(g, f"{b}resid_attn_dropout", s.residual_dropout, attn)
    x = g.add(f"{b}residual1", make("add"), [x, attn])
    if s.layout == "pre":
        n = g.add(f"{b}post_attention_layernorm", norm(s.norm, d, s.eps), x)
    elif s.layout == "sandwich":
        n = g.add(f"{b}pre_feedforward_layernorm", norm(s.norm, d, s.eps), x)
    else:
        n = x
    m = _mlp(g, s, b, i, n)
    if s.layout in ("sandwich", "post"):
        m = g.add(f"{b}post_feedforward_layernorm", norm(s.norm, d, s.eps), m)
    m = dropout(g, f"{b}resid_mlp_dropout", s.residual_dropout, m)
    return g.add(f"{b}residual2", make("add"), [x, m])


def _mla(g: Graph, s: DecoderSpec, m: MLASpec, a: str, x: str) -> str:
    d, h = s.d, s.heads
    qk = m.nope + m.rope
    if m.q_lora_rank is None:
        q = g.add(f"{a}q_proj", Linear(d, h * qk, bias=False), x)
    else:
        q = g.add(f"{a}q_a_proj", Linear(d, m.q_lora_rank, m.bias), x)
        q = g.add(f"{a}q_a_layernorm", norm("rms", m.q_lora_rank, m.eps), q)
        q = g.add(f"{a}q_b_proj", Linear(m.q_lora_rank, h * qk, bias=False), q)
    ckv = g.add(f"{a}kv_a_proj_with_mqa", Linear(d, m.kv_lora_rank + m.rope, m.bias), x)
    parts = g.add(f"{a}kv_split", make("split", split_size_or_sections=(m.kv_lora_rank, m.rope), dim=-1), ckv)
    latent = g.add(f"{a}kv_a_layernorm", norm("rms", m.kv_lora_rank, m.eps), f"{parts}:0")
    kv = g.add(f"{a}kv_b_proj", Linear(m.kv_lora_rank, h * (m.nope + m.v), bias=False), latent)
    kv = g.add(f"{a}kv_b_split", make("split", split_size_or_sections=(h * m.nope, h * m.v), dim=-1), kv)
    # every head reads the one rotary key: (N, S, rope) broadcast to h heads beside its own part
    k = g.add(f"{a}key", make("concat", dim=-1), [f"{kv}:0"] + [f"{parts}:1"] * h)
    core = ScaledDotProductAttention(h, h, causal=True, rotary=True, dropout=s.attention_dropout,
                                     implementation=s.implementation)
    o = g.add(f"{a}attn", core, [q, k, f"{kv}:1"])
    return g.add(f"{a}o_proj", Linear(h * m.v, d, m.bias), o)


def _attention(g: Graph, s: DecoderSpec, a: str, i: int, x: str) -> str:
    if s.mla is not None:
        return _mla(g, s, s.mla, a, x)
    d, h, kv, hd = s.d, s.heads, s.kv_heads, s.head_dim
    if s.fused_qkv:
        qkv = g.add(f"{a}{s.fused_qkv}", Linear(d, (h + 2 * kv) * hd, s.q_bias), x)
        split = g.add(f"{a}split", make("split", split_size_or_sections=(h * hd, kv * hd, kv * hd), dim=-1), qkv)
        q, k, v = f"{split}:0", f"{split}:1", f"{split}:2"
    else:
        q = g.add(f"{a}q_proj", Linear(d, h * hd, s.q_bias), x)
        k = g.add(f"{a}k_proj", Linear(d, kv * hd, s.q_bias), x)
        v = g.add(f"{a}v_proj", Linear(d, kv * hd, s.q_bias), x)
    if s.qk_norm == "full":
        q = g.add(f"{a}{_name(s, 'q_norm')}", norm(s.qk_norm_kind, h * hd, s.eps), q)
        k = g.add(f"{a}{_name(s, 'k_norm')}", norm(s.qk_norm_kind, kv * hd, s.eps), k)
    elif s.qk_norm == "head":
        q = g.add(f"{a}q_heads", make("reshape", shape=(-1, h, hd)), q)
        q = g.add(f"{a}{_name(s, 'q_norm')}", norm(s.qk_norm_kind, hd, s.eps), q)
        q = g.add(f"{a}q_merge", make("reshape", shape=(-1, h * hd)), q)
        k = g.add(f"{a}k_heads", make("reshape", shape=(-1, kv, hd)), k)
        k = g.add(f"{a}{_name(s, 'k_norm')}", norm(s.qk_norm_kind, hd, s.eps), k)
        k = g.add(f"{a}k_merge", make("reshape", shape=(-1, kv * hd)), k)
    window = s.sliding[i] if s.sliding else None
    core = ScaledDotProductAttention(h, kv, causal=True, sliding_window=window, rotary=True,
                                     dropout=s.attention_dropout, implementation=s.implementation,
                                     kv_cache=s.kv_cache)
    o = g.add(f"{a}attn", core, [q, k, v])
    return g.add(f"{a}{_name(s, 'o_proj')}", Linear(h * hd, d, s.o_bias), o)


def _mlp(g: Graph, s: DecoderSpec, b: str, i: int, x: str) -> str:
    d, f = s.d, s.ff
    moe = s.moe[i] if s.moe else None
    if moe is not None:
        name = f"{b}mlp.experts" if moe.shared_ff else f"{b}mlp"  # the shared expert's nodes live under mlp.
        routed = g.add(name, MixtureOfExperts(d, moe.expert_ff, moe.experts, moe.top_k, activation=s.act), x)
        if not moe.shared_ff:
            return routed
        shared = _gated(g, f"{b}mlp.{moe.shared_name}.", d, moe.shared_ff, s.act, False, x)
        if moe.shared_gate:
            gate = g.add(f"{b}mlp.shared_expert_gate", Linear(d, 1, bias=False), x)
            gate = g.add(f"{b}mlp.shared_expert_gate_act", make("sigmoid"), gate)
            shared = g.add(f"{b}mlp.shared_expert_scale", make("multiply"), [shared, gate])
        return g.add(f"{b}mlp.combine", make("add"), [routed, shared])
    m = f"{b}mlp."
    if s.mlp == "plain":
        up, down = s.mlp_names[0], s.mlp_names[-1]
        h = g.add(f"{m}{up}", Linear(d, f, s.mlp_bias), x)
        h = g.add(f"{m}act", activation(s.act), h)
        return g.add(f"{m}{down}", Linear(f, d, s.mlp_bias), h)
    if s.mlp == "gated_fused":
        gu = g.add(f"{m}gate_up_proj", Linear(d, 2 * f, s.mlp_bias), x)
        parts = g.add(f"{m}chunk", make("split", split_size_or_sections=(f, f), dim=-1), gu)
        act = g.add(f"{m}activation_fn", activation(s.act), f"{parts}:0")
        prod = g.add(f"{m}mul", make("multiply"), [f"{parts}:1", act])
        return g.add(f"{m}down_proj", Linear(f, d, s.mlp_bias), prod)
    return _gated(g, m, d, f, s.act, s.mlp_bias, x, s.mlp_names)


def _gated(g: Graph, m: str, d: int, f: int, act_name: str, bias: bool, x: str,
           names: tuple[str, ...] = ("gate_proj", "up_proj", "down_proj")) -> str:
    gate = g.add(f"{m}{names[0]}", Linear(d, f, bias), x)
    act = g.add(f"{m}act_fn", activation(act_name), gate)
    up = g.add(f"{m}{names[1]}", Linear(d, f, bias), x)
    prod = g.add(f"{m}mul", make("multiply"), [act, up])
    return g.add(f"{m}{names[2]}", Linear(f, d, bias), prod)
