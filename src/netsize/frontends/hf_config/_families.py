"""One builder per model family. Builders only translate config fields into layers; the layers count.

Every field a builder reads goes through :class:`~netsize.frontends.hf_config._fields.Fields`
(type and range checked, one message naming the field and the file). A field of the family that
would change the model and that netsize does not model is refused by name, never ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from netsize._errors import NetsizeError
from netsize._layer import Layer
from netsize._network import Graph, Network
from netsize.frontends.hf_config._decoder import (
    ACTIVATIONS,
    DecoderSpec,
    MLASpec,
    MoESpec,
    activation,
    build_decoder,
    dropout,
    make,
)
from netsize.frontends.hf_config._fields import Fields
from netsize.layers.attention import ScaledDotProductAttention
from netsize.layers.embedding import Embedding, PositionalEmbedding, RelativePositionBias
from netsize.layers.linear import Linear
from netsize.layers.transformer import BiasAdd, TakeToken

Config = dict[str, Any]
Builder = Callable[[Fields, str, int], Network]


@dataclass(frozen=True)
class Family:
    model_type: str
    architectures: tuple[str, ...]  # the first is the default when the config names none
    defaults: Config  # the config class's defaults in transformers 5.23
    build: Builder
    aliases: dict[str, str] = field(default_factory=dict)  # transformers' attribute_map: alias -> field
    position_key: str | None = "max_position_embeddings"  # None: no position limit (T5)
    positions_after_pad: bool = False  # RoBERTa: positions numbered from pad_token_id + 1
    # The position limit when it is not a top-level field (CLIP: text_config's); None: no limit
    position_limit: Callable[[Fields], int | None] | None = None


ATTN_IMPLEMENTATIONS = ("eager", "sdpa")

# transformers' attribute_map of GPT-2 and the families that kept its field names (GPT-J, GPTBigCode)
GPT2_ALIASES = {"hidden_size": "n_embd", "max_position_embeddings": "n_positions", "num_attention_heads": "n_head",
                "num_hidden_layers": "n_layer"}


def _attn_implementation(f: Fields) -> str:
    """``eager`` unless the config asks for a fused kernel (``sdpa``, ``flash_attention_2``...)."""
    name = f.raw("_attn_implementation") or f.raw("attn_implementation") or "eager"
    return "eager" if name == "eager" else "sdpa"


def _use_cache(f: Fields) -> bool:
    """transformers' ``use_cache`` (config field, the family's default when absent): a causal
    decoder's self-attention keeps its keys and values in a ``DynamicCache`` until the forward
    returns, in ``eval()`` and in ``train()`` alike (only gradient checkpointing turns it off)."""
    return f.bool("use_cache", True)


def _act(f: Fields, key: str) -> str:
    return f.str_choice(key, ACTIVATIONS)


def _labels(f: Fields) -> int:
    """transformers' ``num_labels``: the length of ``id2label`` when given, else ``num_labels``, else 2."""
    id2label = f.raw("id2label")
    if id2label is not None:
        if not isinstance(id2label, dict) or not id2label:
            raise f.error("id2label", "must be a non-empty object mapping label ids to names", id2label)
        n = f.opt_int("num_labels", min=1)
        if n is not None and n != len(id2label):
            raise f.error("num_labels", f"disagrees with id2label's {len(id2label)} labels", n)
        return len(id2label)
    return f.opt_int("num_labels", min=1) or 2


def _heads(f: Fields, heads_key: str, heads: int, d: int, d_key: str) -> int:
    """Head size ``d / heads``, which must divide exactly."""
    if d % heads:
        raise f.error(d_key, f"must be divisible by {heads_key} ({heads})", d)
    return d // heads


def _classifier_dropout(f: Fields, fallback: str | None, default: float) -> float:
    if f.raw("classifier_dropout") is not None:
        return f.rate("classifier_dropout")
    if fallback is not None and f.raw(fallback) is not None:
        return f.rate(fallback)
    return default


def _head_kind(arch: str) -> str:
    for suffix, kind in (("ForCausalLM", "lm"), ("LMHeadModel", "lm"), ("ForSequenceClassification", "seq_cls"),
                         ("ForTokenClassification", "token_cls"), ("ForQuestionAnswering", "qa")):
        if arch.endswith(suffix):
            return kind
    return "none"


# ----- GPT-2 ------------------------------------------------------------------------------


def _gpt2(f: Fields, arch: str, seq_len: int) -> Network:
    d, heads, layers = f.int("n_embd", min=1), f.int("n_head", min=1), f.int("n_layer", min=0)
    _heads(f, "n_head", heads, d, "n_embd")
    inner = f.opt_int("n_inner", min=1) or 4 * d
    eps = f.float("layer_norm_epsilon", min=0)
    vocab, positions = f.int("vocab_size", min=1), f.int("n_positions", min=1)
    act = _act(f, "activation_function")
    cross = f.bool("add_cross_attention", False)
    embd, resid, attn_p = f.rate("embd_pdrop"), f.rate("resid_pdrop"), f.rate("attn_pdrop")
    impl, cache = _attn_implementation(f), _use_cache(f)
    tie = f.bool("tie_word_embeddings", True)
    head = _head_kind(arch)
    p = "" if head == "none" else "transformer."
    inputs: dict[str, Sequence[int]] = {"input_ids": (seq_len,)}
    if cross:
        inputs["encoder_hidden_states"] = (seq_len, d)
    g = Graph(arch, inputs=inputs)
    ln = {"normalized_shape": d, "eps": eps}
    wte = g.add(f"{p}wte", Embedding(vocab, d), "input_ids")
    wpe = g.add(f"{p}wpe", PositionalEmbedding(positions, d), "input_ids")
    x = g.add(f"{p}embed_add", make("add"), [wte, wpe])
    x = dropout(g, f"{p}drop", embd, x)
    for i in range(layers):
        b = f"{p}h.{i}."
        n = g.add(f"{b}ln_1", make("layernorm", **ln), x)
        qkv = g.add(f"{b}attn.c_attn", Linear(d, 3 * d), n)
        attn = ScaledDotProductAttention(heads, causal=True, dropout=attn_p, implementation=impl, kv_cache=cache)
        a = g.add(f"{b}attn.attn", attn, qkv)
        a = g.add(f"{b}attn.c_proj", Linear(d, d), a)
        a = dropout(g, f"{b}attn.resid_dropout", resid, a)
        x = g.add(f"{b}residual1", make("add"), [x, a])
        if cross:  # GPT2Block with add_cross_attention: ln_cross_attn, then attention to the encoder
            c = f"{b}crossattention."
            n = g.add(f"{b}ln_cross_attn", make("layernorm", **ln), x)
            q = g.add(f"{c}q_attn", Linear(d, d), n)
            kv = g.add(f"{c}c_attn", Linear(d, 2 * d), "encoder_hidden_states")
            kv = g.add(f"{c}split", make("split", split_size_or_sections=d, dim=-1), kv)
            a = g.add(f"{c}attn", ScaledDotProductAttention(heads, dropout=attn_p, implementation=impl),
                      [q, f"{kv}:0", f"{kv}:1"])
            a = g.add(f"{c}c_proj", Linear(d, d), a)
            a = dropout(g, f"{c}resid_dropout", resid, a)
            x = g.add(f"{b}residual_cross", make("add"), [x, a])
        n = g.add(f"{b}ln_2", make("layernorm", **ln), x)
        m = g.add(f"{b}mlp.c_fc", Linear(d, inner), n)
        m = g.add(f"{b}mlp.act", activation(act), m)
        m = g.add(f"{b}mlp.c_proj", Linear(inner, d), m)
        m = dropout(g, f"{b}mlp.dropout", resid, m)
        x = g.add(f"{b}residual2", make("add"), [x, m])
    x = g.add(f"{p}ln_f", make("layernorm", **ln), x)
    if head == "lm":
        g.add("lm_head", Linear(d, vocab, bias=False), x, tied_to=wte if tie else None)
    elif head == "seq_cls":
        g.add("score", Linear(d, _labels(f), bias=False), x)
    elif head == "token_cls":
        x = dropout(g, "dropout", _classifier_dropout(f, "hidden_dropout", 0.1), x)
        g.add("classifier", Linear(d, _labels(f)), x)
    elif head == "qa":
        g.add("qa_outputs", Linear(d, 2), x)
    return g.build()


# ----- BERT -------------------------------------------------------------------------------


def _bert(f: Fields, arch: str, seq_len: int) -> Network:
    return _bert_like(f, arch, seq_len, roberta=False)


def _roberta(f: Fields, arch: str, seq_len: int) -> Network:
    return _bert_like(f, arch, seq_len, roberta=True)


def _roberta_positions(f: Fields, seq_len: int, positions: int, pad: int | None) -> None:
    """RoBERTa numbers positions from ``pad_token_id + 1``: a sequence may use
    ``max_position_embeddings - pad_token_id - 1`` of them (512 of 514 for roberta-base)."""
    usable = positions - (pad or 0) - 1
    if seq_len > usable:
        raise NetsizeError(
            f"{f.source}: sequence length {seq_len} exceeds the {usable} positions RoBERTa can number "
            f"(max_position_embeddings {positions} - pad_token_id {pad or 0} - 1); use --seq-len {usable} or less"
        )


@dataclass(frozen=True)
class BertBody:
    """The sizes of a BERT encoder layer (BERT, RoBERTa, ELECTRA share it)."""

    d: int
    heads: int
    inter: int
    act: str
    ln: dict[str, Any]
    hidden_p: float
    attn_p: float
    impl: str


def bert_layer(g: Graph, b: str, x: str, s: BertBody, causal: bool = False, kv_cache: bool = False,
               cross: str | None = None) -> str:
    """One ``BertLayer`` under prefix ``b`` (ending in a dot): self-attention, optional
    cross-attention to ``cross``, then the feed-forward block, each post-norm."""

    def attention(a: str, x: str, memory: str, causal: bool, kv_cache: bool) -> str:
        q = g.add(f"{a}self.query", Linear(s.d, s.d), x)
        k = g.add(f"{a}self.key", Linear(s.d, s.d), memory)
        v = g.add(f"{a}self.value", Linear(s.d, s.d), memory)
        core = ScaledDotProductAttention(s.heads, causal=causal, dropout=s.attn_p, implementation=s.impl,
                                         kv_cache=kv_cache)
        h = g.add(f"{a}self.attn", core, [q, k, v])
        h = g.add(f"{a}output.dense", Linear(s.d, s.d), h)
        h = dropout(g, f"{a}output.dropout", s.hidden_p, h)
        h = g.add(f"{a}output.residual", make("add"), [x, h])
        return g.add(f"{a}output.LayerNorm", make("layernorm", **s.ln), h)

    x = attention(f"{b}attention.", x, x, causal, kv_cache)
    if cross is not None:
        x = attention(f"{b}crossattention.", x, cross, False, False)
    h = g.add(f"{b}intermediate.dense", Linear(s.d, s.inter), x)
    h = g.add(f"{b}intermediate.intermediate_act_fn", activation(s.act), h)
    h = g.add(f"{b}output.dense", Linear(s.inter, s.d), h)
    h = dropout(g, f"{b}output.dropout", s.hidden_p, h)
    x = g.add(f"{b}output.residual", make("add"), [x, h])
    return g.add(f"{b}output.LayerNorm", make("layernorm", **s.ln), x)


def _bert_like(f: Fields, arch: str, seq_len: int, roberta: bool) -> Network:
    d, heads = f.int("hidden_size", min=1), f.int("num_attention_heads", min=1)
    inter = f.int("intermediate_size", min=1)
    _heads(f, "num_attention_heads", heads, d, "hidden_size")
    layers = f.int("num_hidden_layers", min=0)
    eps, act = f.float("layer_norm_eps", min=0), _act(f, "hidden_act")
    vocab = f.int("vocab_size", min=1)
    positions = f.int("max_position_embeddings", min=1)
    types = f.int("type_vocab_size", min=1)
    pad = f.opt_int("pad_token_id", min=-vocab, max=vocab - 1)
    hidden_p, attn_p = f.rate("hidden_dropout_prob"), f.rate("attention_probs_dropout_prob")
    decoder = f.bool("is_decoder", False)
    cross = f.bool("add_cross_attention", False)
    if cross and not decoder:
        raise f.error("add_cross_attention", "needs is_decoder true (BertLayer refuses cross-attention in an encoder)",
                      True)
    tie = f.bool("tie_word_embeddings", True)
    impl = _attn_implementation(f)
    cache = decoder and _use_cache(f)
    stem = arch.split("For")[0].removesuffix("Model").removesuffix("LMHead")  # Bert, Roberta, XLMRoberta
    p = "" if arch == f"{stem}Model" else ("roberta." if roberta else "bert.")
    if roberta:
        _roberta_positions(f, seq_len, positions, pad)
    inputs: dict[str, Sequence[int]] = {"input_ids": (seq_len,)}
    if cross:
        inputs["encoder_hidden_states"] = (seq_len, d)
    g = Graph(arch, inputs=inputs)
    ln = {"normalized_shape": d, "eps": eps}
    e = f"{p}embeddings."
    words = g.add(f"{e}word_embeddings", Embedding(vocab, d, pad), "input_ids")
    pos = g.add(f"{e}position_embeddings", PositionalEmbedding(positions, d), "input_ids")
    tok = g.add(f"{e}token_type_embeddings", Embedding(types, d), "input_ids")
    x = g.add(f"{e}add", make("add"), [words, pos, tok])
    x = g.add(f"{e}LayerNorm", make("layernorm", **ln), x)
    x = dropout(g, f"{e}dropout", hidden_p, x)

    body = BertBody(d, heads, inter, act, ln, hidden_p, attn_p, impl)
    for i in range(layers):
        x = bert_layer(g, f"{p}encoder.layer.{i}.", x, body, causal=decoder, kv_cache=cache,
                       cross="encoder_hidden_states" if cross else None)
    head = arch.removeprefix(stem)
    if roberta:
        _roberta_heads(g, f, head, p, x, words, d, vocab, ln, act, tie, hidden_p)
        return g.build()
    pooled = None
    if head in ("Model", "ForSequenceClassification", "ForPreTraining", "ForNextSentencePrediction"):
        t = g.add(f"{p}pooler.first_token", TakeToken(0), x)
        t = g.add(f"{p}pooler.dense", Linear(d, d), t)
        pooled = g.add(f"{p}pooler.activation", make("tanh"), t)
    if head == "ForSequenceClassification":
        assert pooled is not None
        t = dropout(g, "dropout", _classifier_dropout(f, "hidden_dropout_prob", 0.0), pooled)
        g.add("classifier", Linear(d, _labels(f)), t)
    elif head == "ForTokenClassification":
        t = dropout(g, "dropout", _classifier_dropout(f, "hidden_dropout_prob", 0.0), x)
        g.add("classifier", Linear(d, _labels(f)), t)
    elif head == "ForQuestionAnswering":
        g.add("qa_outputs", Linear(d, 2), x)
    if head in ("ForMaskedLM", "LMHeadModel", "ForPreTraining"):
        c = "cls.predictions."
        h = g.add(f"{c}transform.dense", Linear(d, d), x)
        h = g.add(f"{c}transform.transform_act_fn", activation(act), h)
        h = g.add(f"{c}transform.LayerNorm", make("layernorm", **ln), h)
        _vocab_projection(g, f"{c}decoder", f"{c}bias", h, words, d, vocab, tie)
    if head in ("ForPreTraining", "ForNextSentencePrediction"):
        assert pooled is not None
        g.add("cls.seq_relationship", Linear(d, 2), pooled)
    return g.build()


def _vocab_projection(g: Graph, decoder: str, bias: str, h: str, words: str, d: int, vocab: int, tie: bool) -> None:
    if tie:
        # decoder.weight is the word embeddings, decoder.bias is the head's own bias parameter.
        h = g.add(decoder, Linear(d, vocab, bias=False), h, tied_to=words)
        g.add(bias, BiasAdd(vocab), h)
    else:
        # Untied: the decoder has its own weight and bias; the head's bias stays a separate
        # parameter that forward does not use.
        h = g.add(decoder, Linear(d, vocab, bias=True), h)
        g.add(bias, BiasAdd(vocab, used=False), h)


def _roberta_heads(g: Graph, f: Fields, head: str, p: str, x: str, words: str, d: int, vocab: int,
                   ln: dict[str, Any], act: str, tie: bool, hidden_p: float) -> None:
    """RoBERTa's heads: ``lm_head`` (dense, GELU, layer_norm, decoder), a classification head on
    the first token (dropout, dense, tanh, dropout, out_proj; no pooler), token classification
    and QA as BERT's. The bare model keeps BERT's pooler."""
    if head == "Model":
        t = g.add(f"{p}pooler.first_token", TakeToken(0), x)
        t = g.add(f"{p}pooler.dense", Linear(d, d), t)
        g.add(f"{p}pooler.activation", make("tanh"), t)
    elif head in ("ForMaskedLM", "ForCausalLM"):
        h = g.add("lm_head.dense", Linear(d, d), x)
        h = g.add("lm_head.gelu", activation("gelu"), h)
        h = g.add("lm_head.layer_norm", make("layernorm", **ln), h)
        _vocab_projection(g, "lm_head.decoder", "lm_head.bias", h, words, d, vocab, tie)
    else:
        first_token_classification_heads(g, f, head, x, d, ("classifier.tanh", make("tanh")))


def first_token_classification_heads(g: Graph, f: Fields, head: str, x: str, d: int,
                                     act: tuple[str, Layer]) -> None:
    """The sequence classifier on the first token (dropout, dense, ``act``, dropout, out_proj:
    RoBERTa's tanh, ELECTRA's GELU), the token classifier and the QA span head, as RoBERTa and
    ELECTRA build them; ``act`` is the activation's row name and layer."""
    if head == "ForSequenceClassification":
        drop = _classifier_dropout(f, "hidden_dropout_prob", 0.0)
        t = g.add("classifier.first_token", TakeToken(0), x)
        t = dropout(g, "classifier.dropout", drop, t)
        t = g.add("classifier.dense", Linear(d, d), t)
        t = g.add(act[0], act[1], t)
        t = dropout(g, "classifier.dropout_out", drop, t)
        g.add("classifier.out_proj", Linear(d, _labels(f)), t)
    elif head == "ForTokenClassification":
        t = dropout(g, "dropout", _classifier_dropout(f, "hidden_dropout_prob", 0.0), x)
        g.add("classifier", Linear(d, _labels(f)), t)
    elif head == "ForQuestionAnswering":
        g.add("qa_outputs", Linear(d, _labels(f)), x)


ROBERTA_HEADS = ("Model", "ForMaskedLM", "ForCausalLM", "ForSequenceClassification", "ForTokenClassification",
                 "ForQuestionAnswering")
BERT_ARCHITECTURES = ("BertModel", "BertForMaskedLM", "BertForSequenceClassification", "BertForTokenClassification",
                      "BertForQuestionAnswering", "BertForPreTraining", "BertLMHeadModel",
                      "BertForNextSentencePrediction")


# ----- LLaMA, Mistral, Mixtral, Qwen2 -----------------------------------------------------


def decoder_basics(f: Fields, *, act_key: str = "hidden_act", eps_key: str | None = "rms_norm_eps",
                   tie_default: bool = False) -> dict[str, Any]:
    """The fields every LLaMA-lineage config shares, checked, as :class:`DecoderSpec` arguments."""
    d, heads = f.int("hidden_size", min=1), f.int("num_attention_heads", min=1)
    vocab = f.int("vocab_size", min=1)
    kv = f.opt_int("num_key_value_heads", min=1) or heads
    if heads % kv:
        raise f.error("num_attention_heads", f"must be a multiple of num_key_value_heads ({kv})", heads)
    head_dim = f.opt_int("head_dim", min=1)
    if head_dim is None:
        head_dim = d // heads
        if head_dim == 0:
            raise f.error("num_attention_heads", f"must not exceed hidden_size ({d}) unless head_dim is set", heads)
    return {
        "vocab": vocab,
        "d": d,
        "layers": f.int("num_hidden_layers", min=0),
        "heads": heads,
        "kv_heads": kv,
        "head_dim": head_dim,
        "ff": f.int("intermediate_size", min=1),
        "act": _act(f, act_key),
        "eps": f.float(eps_key, min=0) if eps_key is not None else 1e-5,
        "tie": f.bool("tie_word_embeddings", tie_default),
        "attention_dropout": f.rate("attention_dropout"),
        "pad_token_id": f.opt_int("pad_token_id", min=-vocab, max=vocab - 1),
        "kv_cache": _use_cache(f),
        "implementation": _attn_implementation(f),
    }


def layer_windows(f: Fields, layers: int, window: int | None, default_types: Sequence[str] | None = None
                  ) -> list[int | None]:
    """Per-layer sliding windows from ``layer_types`` (each ``full_attention`` or
    ``sliding_attention``; one per layer) or ``default_types`` when the config has none."""
    types = f.str_list("layer_types", ("full_attention", "sliding_attention"), length=layers)
    if types is None:
        types = list(default_types) if default_types is not None else ["full_attention"] * layers
    return [window if t == "sliding_attention" else None for t in types]


def _decoder_family(spec_of: Callable[[Fields], DecoderSpec]) -> Builder:
    def build(f: Fields, arch: str, seq_len: int) -> Network:
        spec = spec_of(f)
        head = _head_kind(arch)
        labels = _labels(f) if head in ("seq_cls", "token_cls") else 2
        drop = _classifier_dropout(f, "hidden_dropout", 0.1) if head == "token_cls" else 0.0
        return build_decoder(spec, arch, seq_len, head, labels, drop)

    return build


def _llama(f: Fields) -> DecoderSpec:
    bias = f.bool("attention_bias", False)
    return DecoderSpec(**decoder_basics(f), q_bias=bias, o_bias=bias, mlp_bias=f.bool("mlp_bias", False))


def _mistral(f: Fields) -> DecoderSpec:
    base = decoder_basics(f)
    window = f.opt_int("sliding_window", min=1)
    return DecoderSpec(**base, sliding=[window] * base["layers"])


def _mixtral(f: Fields) -> DecoderSpec:
    base = decoder_basics(f)
    experts = f.int("num_local_experts", min=1)
    top_k = f.int("num_experts_per_tok", min=1, max=experts)
    window = f.opt_int("sliding_window", min=1)
    moe = MoESpec(experts, top_k, base["ff"])
    return DecoderSpec(**base, sliding=[window] * base["layers"], moe=[moe] * base["layers"])


def _qwen2_windows(f: Fields, layers: int) -> list[int | None]:
    """Qwen2/Qwen3: ``sliding_window`` applies only with ``use_sliding_window``, to the layers
    ``layer_types`` marks sliding (default: those from ``max_window_layers`` on)."""
    use = f.bool("use_sliding_window", False)
    window = f.opt_int("sliding_window", min=1) if use else None
    first = f.int("max_window_layers", min=0)
    default = ["sliding_attention" if window is not None and i >= first else "full_attention" for i in range(layers)]
    return layer_windows(f, layers, window, default)


def _qwen2(f: Fields) -> DecoderSpec:
    base = decoder_basics(f)
    return DecoderSpec(**base, q_bias=True, sliding=_qwen2_windows(f, base["layers"]))


def _qwen_moe_layers(f: Fields, layers: int, expert_ff_key: str = "moe_intermediate_size",
                     shared: bool = False) -> list[MoESpec | None]:
    """Qwen2-MoE / Qwen3-MoE: layer ``i`` routes to experts unless it is in ``mlp_only_layers``,
    when ``num_experts > 0`` and ``(i + 1) % decoder_sparse_step == 0``; other layers are dense."""
    experts = f.int("num_experts", min=0)
    step = f.int("decoder_sparse_step", min=1)
    dense_only = set(f.int_list("mlp_only_layers", min=0) or [])
    if experts == 0:
        return [None] * layers
    top_k = f.int("num_experts_per_tok", min=1, max=experts)
    expert_ff = f.int(expert_ff_key, min=1)
    shared_ff = f.int("shared_expert_intermediate_size", min=0) if shared else 0
    moe = MoESpec(experts, top_k, expert_ff, shared_ff, shared_gate=shared)
    return [moe if i not in dense_only and (i + 1) % step == 0 else None for i in range(layers)]


def _qwen3(f: Fields) -> DecoderSpec:
    base = decoder_basics(f)
    bias = f.bool("attention_bias", False)
    return DecoderSpec(**base, q_bias=bias, o_bias=bias, qk_norm="head", sliding=_qwen2_windows(f, base["layers"]))


def _qwen2_moe(f: Fields) -> DecoderSpec:
    base = decoder_basics(f)
    windows = _qwen2_moe_windows(f, base["layers"])
    return DecoderSpec(**base, q_bias=f.bool("qkv_bias", True), sliding=windows,
                       moe=_qwen_moe_layers(f, base["layers"], shared=True))


def _qwen2_moe_windows(f: Fields, layers: int) -> list[int | None]:
    """Qwen2-MoE's default layer types: with ``use_sliding_window``, the odd-numbered layers
    (``(i + 1) % 2``) below ``max_window_layers`` slide."""
    use = f.bool("use_sliding_window", False)
    window = f.opt_int("sliding_window", min=1) if use else None
    first = f.int("max_window_layers", min=0)
    default = ["sliding_attention" if (i + 1) % 2 and i < first and use else "full_attention" for i in range(layers)]
    return layer_windows(f, layers, window, default)


def _qwen3_moe(f: Fields) -> DecoderSpec:
    base = decoder_basics(f)
    bias = f.bool("attention_bias", False)
    use = f.bool("use_sliding_window", False)
    window = f.opt_int("sliding_window", min=1) if use else None
    return DecoderSpec(**base, q_bias=bias, o_bias=bias, qk_norm="head", sliding=[window] * base["layers"],
                       moe=_qwen_moe_layers(f, base["layers"]))


def _no_bidirectional(f: Fields) -> None:
    if f.bool("use_bidirectional_attention", False):
        raise f.error("use_bidirectional_attention", "is not modelled by netsize (it builds causal decoders)", True)


def _gemma(f: Fields) -> DecoderSpec:
    _no_bidirectional(f)
    bias = f.bool("attention_bias", False)
    return DecoderSpec(**decoder_basics(f, tie_default=True), q_bias=bias, o_bias=bias)


def _gemma2(f: Fields) -> DecoderSpec:
    """Gemma 2: four norms per layer (sandwich), sliding and global layers alternating; the
    logit soft-capping (``tanh``) and ``query_pre_attn_scalar`` change no count of work."""
    _no_bidirectional(f)
    f.opt_float("attn_logit_softcapping", min=0)
    f.opt_float("final_logit_softcapping", min=0)
    base = decoder_basics(f, act_key="hidden_activation", tie_default=True)
    bias = f.bool("attention_bias", False)
    layers = base["layers"]
    window = f.opt_int("sliding_window", min=1)
    default = ["sliding_attention" if (i + 1) % 2 else "full_attention" for i in range(layers)]
    return DecoderSpec(**base, q_bias=bias, o_bias=bias, layout="sandwich",
                       sliding=layer_windows(f, layers, window, default))


def _gemma3(f: Fields) -> DecoderSpec:
    """Gemma 3 (text): Gemma 2's sandwich norms plus per-head q/k RMSNorms; five sliding layers
    to one global by default (``sliding_window_pattern`` 6)."""
    _no_bidirectional(f)
    base = decoder_basics(f, act_key="hidden_activation", tie_default=True)
    bias = f.bool("attention_bias", False)
    layers = base["layers"]
    window = f.opt_int("sliding_window", min=1)
    pattern = f.int("sliding_window_pattern", min=1, default=6)
    default = ["sliding_attention" if (i + 1) % pattern else "full_attention" for i in range(layers)]
    return DecoderSpec(**base, q_bias=bias, o_bias=bias, layout="sandwich", qk_norm="head",
                       sliding=layer_windows(f, layers, window, default))


def _phi3(f: Fields) -> DecoderSpec:
    """Phi-3: fused ``qkv_proj`` and ``gate_up_proj``, residual dropouts; its long-context rope
    scaling (``rope_scaling`` longrope factors) changes no count."""
    base = decoder_basics(f)
    window = f.opt_int("sliding_window", min=1)
    return DecoderSpec(**base, fused_qkv="qkv_proj", mlp="gated_fused", residual_dropout=f.rate("resid_pdrop"),
                       sliding=[window] * base["layers"])


def _olmo(f: Fields) -> DecoderSpec:
    """OLMo: parameter-free LayerNorms (eps 1e-5, fixed); ``clip_qkv`` clamps values, no count."""
    f.opt_float("clip_qkv", min=0)
    bias = f.bool("attention_bias", False)
    return DecoderSpec(**decoder_basics(f, eps_key=None), norm="layernorm_noparams", q_bias=bias, o_bias=bias)


def _olmo2(f: Fields) -> DecoderSpec:
    """OLMo 2: norms after attention and MLP (no input norm), q/k RMSNorms over all heads."""
    bias = f.bool("attention_bias", False)
    return DecoderSpec(**decoder_basics(f), q_bias=bias, o_bias=bias, layout="post", qk_norm="full")


def _granite(f: Fields) -> DecoderSpec:
    """Granite: LLaMA with multipliers on embeddings, residuals, attention and logits (no count)."""
    for key in ("embedding_multiplier", "residual_multiplier", "attention_multiplier", "logits_scaling"):
        f.float(key)
    bias = f.bool("attention_bias", False)
    return DecoderSpec(**decoder_basics(f), q_bias=bias, o_bias=bias, mlp_bias=f.bool("mlp_bias", False))


def _starcoder2(f: Fields) -> DecoderSpec:
    """StarCoder2: LayerNorms with biases, biased projections (``use_bias``), a plain
    ``c_fc``/``c_proj`` MLP, embedding and residual dropouts."""
    base = decoder_basics(f, eps_key="norm_epsilon", tie_default=True)
    bias = f.bool("use_bias", True)
    window = f.opt_int("sliding_window", min=1)
    return DecoderSpec(**base, norm="layernorm", q_bias=bias, o_bias=bias, mlp_bias=bias, mlp="plain",
                       mlp_names=("c_fc", "c_proj"), residual_dropout=f.rate("residual_dropout"),
                       embedding_dropout=f.rate("embedding_dropout"), sliding=[window] * base["layers"])


def _cohere(f: Fields) -> DecoderSpec:
    """Cohere (Command-R): one weight-only LayerNorm feeding attention and MLP in parallel;
    optional q/k LayerNorms with a weight per head and position (``use_qk_norm``)."""
    f.float("logit_scale")
    base = decoder_basics(f, eps_key="layer_norm_eps", tie_default=True)
    bias = f.bool("attention_bias", False)
    qk = "full" if f.bool("use_qk_norm", False) else None
    return DecoderSpec(**base, norm="layernorm_nobias", q_bias=bias, o_bias=bias, layout="parallel", qk_norm=qk,
                       qk_norm_kind="layernorm_nobias")


def _deepseek_v3(f: Fields) -> DecoderSpec:
    """DeepSeek-V3: multi-head latent attention, dense first ``first_k_dense_replace`` layers,
    then ``n_routed_experts`` routed experts (top ``num_experts_per_tok``; group-limited routing
    picks which, not how many) plus ``n_shared_experts`` shared ones. The multi-token-prediction
    module is not part of transformers' model (nor of this one)."""
    base = decoder_basics(f)
    layers = base["layers"]
    bias = f.bool("attention_bias", False)
    mla = MLASpec(f.opt_int("q_lora_rank", min=1), f.int("kv_lora_rank", min=1), f.int("qk_nope_head_dim", min=0),
                  f.int("qk_rope_head_dim", min=1), f.int("v_head_dim", min=1), bias)
    experts = f.int("n_routed_experts", min=1)
    top_k = f.int("num_experts_per_tok", min=1, max=experts)
    groups = f.int("n_group", min=1)
    if experts % groups:
        raise f.error("n_routed_experts", f"must be divisible by n_group ({groups})", experts)
    f.int("topk_group", min=1, max=groups)
    expert_ff = f.int("moe_intermediate_size", min=1)
    shared = f.int("n_shared_experts", min=0)
    dense = f.int("first_k_dense_replace", min=0)
    moe = MoESpec(experts, top_k, expert_ff, shared * expert_ff, shared_name="shared_experts")
    base = {**base, "head_dim": mla.nope + mla.rope, "kv_cache": False}
    return DecoderSpec(**base, mla=mla, moe=[None if i < dense else moe for i in range(layers)])


def _gpt_neox(f: Fields) -> DecoderSpec:
    """GPT-NeoX (Pythia): LayerNorms with biases, one interleaved ``query_key_value`` projection,
    a plain GELU MLP, and by default (``use_parallel_residual``) attention and MLP side by side on
    two norms of the same input; partial rotary (``rotary_pct``) changes no count."""
    base = decoder_basics(f, eps_key="layer_norm_eps")
    if base["heads"] != base["kv_heads"]:
        raise f.error("num_key_value_heads", "is not a GPT-NeoX field (its attention has one key/value head per "
                      "query head)", base["kv_heads"])
    bias = f.bool("attention_bias", True)
    layout = "parallel2" if f.bool("use_parallel_residual", True) else "pre"
    names = {"base": "gpt_neox.", "embed": "embed_in", "attn": "attention", "o_proj": "dense",
             "token_cls": "classifier"}
    return DecoderSpec(**base, norm="layernorm", q_bias=bias, o_bias=bias, mlp_bias=True, mlp="plain",
                       fused_qkv="query_key_value", mlp_names=("dense_h_to_4h", "dense_4h_to_h"), layout=layout,
                       residual_dropout=f.rate("hidden_dropout"), embedding_dropout=f.rate("hidden_dropout"),
                       final_norm="final_layer_norm", names=names)


def _phi(f: Fields) -> DecoderSpec:
    """Phi-1/1.5/2: one LayerNorm feeding attention and a plain MLP (``fc1``/``fc2``) in
    parallel, biases everywhere (the LM head too), optional per-head q/k LayerNorms
    (``qk_layernorm``); ``partial_rotary_factor`` changes no count."""
    base = decoder_basics(f, eps_key="layer_norm_eps")
    qk = "head" if f.bool("qk_layernorm", False) else None
    names = {"o_proj": "dense", "q_norm": "q_layernorm", "k_norm": "k_layernorm"}
    return DecoderSpec(**base, norm="layernorm", q_bias=True, o_bias=True, mlp_bias=True, mlp="plain",
                       mlp_names=("fc1", "fc2"), layout="parallel", qk_norm=qk, qk_norm_kind="layernorm",
                       residual_dropout=f.rate("resid_pdrop"), embedding_dropout=f.rate("embd_pdrop"),
                       final_norm="final_layernorm", lm_head_bias=True, names=names)


# ----- T5 ---------------------------------------------------------------------------------


def _t5_activation(f: Fields) -> tuple[bool, str]:
    proj = f.str("feed_forward_proj")
    parts = proj.split("-")
    if (len(parts) > 1 and parts[0] != "gated") or len(parts) > 2 or parts[-1] not in ACTIVATIONS:
        raise f.error("feed_forward_proj", f"must be ACT or gated-ACT with ACT one of {', '.join(ACTIVATIONS)}", proj)
    gated = parts[0] == "gated" and len(parts) == 2
    act = "gelu_new" if proj == "gated-gelu" else parts[-1]  # transformers maps "gated-gelu" to gelu_new
    return gated, act


def _t5(f: Fields, arch: str, seq_len: int, untied_head: bool = False) -> Network:
    """T5 (and mT5, through ``untied_head``: see the LM head below). Heads: conditional
    generation, the bare model, the encoder alone, and the classifiers transformers wraps around
    them (``transformer.``: sequence classification on the last eos token's decoder state, token
    classification on the encoder; question answering on the decoder's output)."""
    d, dkv, heads, ff = f.int("d_model", min=1), f.int("d_kv", min=1), f.int("num_heads", min=1), f.int("d_ff", min=1)
    inner = heads * dkv
    eps = f.float("layer_norm_epsilon", min=0)
    gated, act = _t5_activation(f)
    vocab = f.int("vocab_size", min=1)
    buckets = f.int("relative_attention_num_buckets", min=1)
    max_dist = f.int("relative_attention_max_distance", min=1)
    layers = f.int("num_layers", min=0)
    dec_layers = f.opt_int("num_decoder_layers", min=0)
    drop = f.rate("dropout_rate")
    impl = _attn_implementation(f)
    inputs: dict[str, Sequence[int]] = {"input_ids": (seq_len,)}
    encoder_only = arch.endswith(("EncoderModel", "ForTokenClassification"))
    p = "transformer." if arch.endswith(("ForSequenceClassification", "ForTokenClassification")) else ""
    if not encoder_only:
        inputs["decoder_input_ids"] = (seq_len,)
    g = Graph(arch, inputs=inputs)
    rms = {"normalized_shape": d, "eps": eps}
    shared = g.add(f"{p}shared", Embedding(vocab, d), "input_ids")

    def attention(prefix: str, x: str, memory: str, causal: bool, bias: bool) -> str:
        q = g.add(f"{prefix}.q", Linear(d, inner, bias=False), x)
        k = g.add(f"{prefix}.k", Linear(d, inner, bias=False), memory)
        v = g.add(f"{prefix}.v", Linear(d, inner, bias=False), memory)
        if bias:
            g.add(f"{prefix}.relative_attention_bias",
                  RelativePositionBias(buckets, heads, bidirectional=not causal, max_distance=max_dist), [x, memory])
        a = g.add(f"{prefix}.attn", ScaledDotProductAttention(heads, causal=causal, dropout=drop, implementation=impl),
                  [q, k, v])
        return g.add(f"{prefix}.o", Linear(inner, d, bias=False), a)

    def feed_forward(prefix: str, x: str) -> str:
        if gated:
            h0 = g.add(f"{prefix}.wi_0", Linear(d, ff, bias=False), x)
            h0 = g.add(f"{prefix}.act", activation(act), h0)
            h1 = g.add(f"{prefix}.wi_1", Linear(d, ff, bias=False), x)
            h = g.add(f"{prefix}.mul", make("multiply"), [h0, h1])
        else:
            h = g.add(f"{prefix}.wi", Linear(d, ff, bias=False), x)
            h = g.add(f"{prefix}.act", activation(act), h)
        h = dropout(g, f"{prefix}.dropout", drop, h)
        return g.add(f"{prefix}.wo", Linear(ff, d, bias=False), h)

    def sublayer(b: str, x: str, h: str) -> str:
        h = dropout(g, f"{b}.dropout", drop, h)
        return g.add(f"{b}.residual", make("add"), [x, h])

    x = dropout(g, f"{p}encoder.dropout", drop, shared)
    for i in range(layers):
        b = f"{p}encoder.block.{i}.layer."
        n = g.add(f"{b}0.layer_norm", make("rmsnorm", **rms), x)
        x = sublayer(f"{b}0", x, attention(f"{b}0.SelfAttention", n, n, causal=False, bias=i == 0))
        n = g.add(f"{b}1.layer_norm", make("rmsnorm", **rms), x)
        x = sublayer(f"{b}1", x, feed_forward(f"{b}1.DenseReluDense", n))
    encoded = g.add(f"{p}encoder.final_layer_norm", make("rmsnorm", **rms), x)
    encoded = dropout(g, f"{p}encoder.final_dropout", drop, encoded)
    if encoder_only:
        if arch.endswith("ForTokenClassification"):
            x = dropout(g, "dropout", f.rate("classifier_dropout"), encoded)
            g.add("classifier", Linear(d, _labels(f)), x)
        return g.build()
    x = g.add(f"{p}decoder.embed_tokens", Embedding(vocab, d), "decoder_input_ids", tied_to=shared)
    x = dropout(g, f"{p}decoder.dropout", drop, x)
    for i in range(layers if dec_layers is None else dec_layers):
        b = f"{p}decoder.block.{i}.layer."
        n = g.add(f"{b}0.layer_norm", make("rmsnorm", **rms), x)
        x = sublayer(f"{b}0", x, attention(f"{b}0.SelfAttention", n, n, causal=True, bias=i == 0))
        n = g.add(f"{b}1.layer_norm", make("rmsnorm", **rms), x)
        x = sublayer(f"{b}1", x, attention(f"{b}1.EncDecAttention", n, encoded, causal=False, bias=False))
        n = g.add(f"{b}2.layer_norm", make("rmsnorm", **rms), x)
        x = sublayer(f"{b}2", x, feed_forward(f"{b}2.DenseReluDense", n))
    x = g.add(f"{p}decoder.final_layer_norm", make("rmsnorm", **rms), x)
    x = dropout(g, f"{p}decoder.final_dropout", drop, x)
    if arch.endswith("ForConditionalGeneration"):
        # transformers 5 always ties T5's lm_head to `shared`: T5Config.__post_init__ forces
        # tie_word_embeddings=True (a saved False, as in T5 v1.1, only turns off output scaling).
        # untied_head (mT5): a saved False keeps lm_head a table of its own, as from_pretrained
        # loads the published mT5 checkpoints (both tensors present and different: not tied).
        untied = untied_head and not f.bool("tie_word_embeddings", True)
        g.add("lm_head", Linear(d, vocab, bias=False), x, tied_to=None if untied else shared)
    elif arch.endswith("ForQuestionAnswering"):
        g.add("qa_outputs", Linear(d, _labels(f)), x)
    elif arch.endswith("ForSequenceClassification"):
        c, cls_drop = "classification_head.", f.rate("classifier_dropout")
        x = g.add(f"{c}eos_token", TakeToken(-1), x)  # the last eos token's state (one per example)
        x = dropout(g, f"{c}dropout", cls_drop, x)
        x = g.add(f"{c}dense", Linear(d, d), x)
        x = g.add(f"{c}tanh", make("tanh"), x)
        x = dropout(g, f"{c}dropout_out", cls_drop, x)
        g.add(f"{c}out_proj", Linear(d, _labels(f)), x)
    return g.build()


# ----- registry ---------------------------------------------------------------------------

LLAMA_LIKE: Config = {
    "hidden_act": "silu",
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": False,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "hidden_size": 4096,
    "vocab_size": 32000,
    "head_dim": None,
    "use_cache": True,
    "attention_dropout": 0.0,
}

_BERT_DEFAULTS: Config = {
    "vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
    "intermediate_size": 3072, "hidden_act": "gelu", "max_position_embeddings": 512, "type_vocab_size": 2,
    "layer_norm_eps": 1e-12, "pad_token_id": 0, "tie_word_embeddings": True, "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
}

_DECODER_HEADS = ("ForCausalLM", "Model", "ForSequenceClassification", "ForTokenClassification",
                  "ForQuestionAnswering")


def decoder_architectures(stem: str, heads: Sequence[str] = _DECODER_HEADS) -> tuple[str, ...]:
    return tuple(stem + h for h in heads)


# This module's families; _catalog.FAMILIES gathers them with the other family modules'.
CORE_FAMILIES: tuple[Family, ...] = (
    Family(
        "gpt2",
        ("GPT2LMHeadModel", "GPT2Model", "GPT2ForSequenceClassification", "GPT2ForTokenClassification",
         "GPT2ForQuestionAnswering"),
        {"vocab_size": 50257, "n_positions": 1024, "n_embd": 768, "n_layer": 12, "n_head": 12, "n_inner": None,
         "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5, "tie_word_embeddings": True,
         "resid_pdrop": 0.1, "embd_pdrop": 0.1, "attn_pdrop": 0.1, "use_cache": True},
        _gpt2,
        aliases=GPT2_ALIASES,
        position_key="n_positions",
    ),
    Family(
        "bert",
        BERT_ARCHITECTURES,
        _BERT_DEFAULTS,
        _bert,
    ),
    Family(
        "roberta",
        tuple("Roberta" + h for h in ROBERTA_HEADS),
        {**_BERT_DEFAULTS, "vocab_size": 50265, "pad_token_id": 1},
        _roberta,
        positions_after_pad=True,
    ),
    Family(
        "xlm-roberta",
        tuple("XLMRoberta" + h for h in ROBERTA_HEADS),
        {**_BERT_DEFAULTS, "pad_token_id": 1},
        _roberta,
        positions_after_pad=True,
    ),
    Family(
        "llama",
        decoder_architectures("Llama"),
        {**LLAMA_LIKE, "intermediate_size": 11008, "num_key_value_heads": None, "max_position_embeddings": 2048,
         "attention_bias": False, "mlp_bias": False},
        _decoder_family(_llama),
    ),
    Family(
        "mistral",
        decoder_architectures("Mistral"),
        {**LLAMA_LIKE, "intermediate_size": 14336, "num_key_value_heads": 8, "max_position_embeddings": 131072,
         "sliding_window": 4096},
        _decoder_family(_mistral),
    ),
    Family(
        "mixtral",
        decoder_architectures("Mixtral"),
        {**LLAMA_LIKE, "intermediate_size": 14336, "num_key_value_heads": 8, "max_position_embeddings": 131072,
         "rms_norm_eps": 1e-5, "sliding_window": None, "num_local_experts": 8, "num_experts_per_tok": 2},
        _decoder_family(_mixtral),
    ),
    Family(
        "qwen2",
        decoder_architectures("Qwen2"),
        {**LLAMA_LIKE, "vocab_size": 151936, "intermediate_size": 22016, "num_key_value_heads": 32,
         "max_position_embeddings": 32768, "use_sliding_window": False, "sliding_window": 4096,
         "max_window_layers": 28},
        _decoder_family(_qwen2),
    ),
    Family(
        "qwen3",
        decoder_architectures("Qwen3"),
        {**LLAMA_LIKE, "vocab_size": 151936, "intermediate_size": 22016, "num_key_value_heads": 32, "head_dim": 128,
         "max_position_embeddings": 32768, "attention_bias": False, "use_sliding_window": False,
         "sliding_window": 4096, "max_window_layers": 28},
        _decoder_family(_qwen3),
    ),
    Family(
        "qwen2_moe",
        decoder_architectures("Qwen2Moe"),
        {**LLAMA_LIKE, "vocab_size": 151936, "hidden_size": 2048, "intermediate_size": 5632,
         "num_hidden_layers": 24,
         "num_attention_heads": 16, "num_key_value_heads": 16, "max_position_embeddings": 32768,
         "use_sliding_window": False, "sliding_window": 4096, "max_window_layers": 28, "decoder_sparse_step": 1,
         "moe_intermediate_size": 1408, "shared_expert_intermediate_size": 5632, "num_experts_per_tok": 4,
         "num_experts": 60, "mlp_only_layers": None, "qkv_bias": True},
        _decoder_family(_qwen2_moe),
    ),
    Family(
        "qwen3_moe",
        decoder_architectures("Qwen3Moe"),
        {**LLAMA_LIKE, "vocab_size": 151936, "hidden_size": 2048, "intermediate_size": 6144,
         "num_hidden_layers": 24,
         "num_attention_heads": 32, "num_key_value_heads": 4, "max_position_embeddings": 32768,
         "attention_bias": False, "use_sliding_window": False, "sliding_window": 4096, "decoder_sparse_step": 1,
         "moe_intermediate_size": 768, "num_experts_per_tok": 8, "num_experts": 128, "mlp_only_layers": None},
        _decoder_family(_qwen3_moe),
        aliases={"num_local_experts": "num_experts"},
    ),
    Family(
        "gemma",
        decoder_architectures("Gemma"),
        {**LLAMA_LIKE, "vocab_size": 256000, "hidden_size": 3072, "intermediate_size": 24576,
         "num_hidden_layers": 28,
         "num_attention_heads": 16, "num_key_value_heads": 16, "head_dim": 256, "hidden_act": "gelu_pytorch_tanh",
         "max_position_embeddings": 8192, "pad_token_id": 0, "tie_word_embeddings": True, "attention_bias": False},
        _decoder_family(_gemma),
    ),
    Family(
        "gemma2",
        decoder_architectures("Gemma2"),
        {**LLAMA_LIKE, "vocab_size": 256000, "hidden_size": 2304, "intermediate_size": 9216,
         "num_hidden_layers": 26,
         "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256,
         "hidden_activation": "gelu_pytorch_tanh",
         "max_position_embeddings": 8192, "pad_token_id": 0, "tie_word_embeddings": True, "attention_bias": False,
         "sliding_window": 4096, "final_logit_softcapping": 30.0, "attn_logit_softcapping": 50.0},
        _decoder_family(_gemma2),
    ),
    Family(
        "gemma3_text",
        decoder_architectures("Gemma3", ("ForCausalLM", "TextModel", "TextForSequenceClassification")),
        {**LLAMA_LIKE, "vocab_size": 262208, "hidden_size": 2304, "intermediate_size": 9216,
         "num_hidden_layers": 26,
         "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256,
         "hidden_activation": "gelu_pytorch_tanh",
         "max_position_embeddings": 131072, "pad_token_id": 0, "tie_word_embeddings": True, "attention_bias": False,
         "sliding_window": 4096},
        _decoder_family(_gemma3),
    ),
    Family(
        "phi3",
        decoder_architectures("Phi3"),
        {**LLAMA_LIKE, "vocab_size": 32064, "hidden_size": 3072, "intermediate_size": 8192,
         "num_key_value_heads": None,
         "resid_pdrop": 0.0, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5, "pad_token_id": 32000,
         "sliding_window": None},
        _decoder_family(_phi3),
    ),
    Family(
        "olmo",
        decoder_architectures("Olmo", ("ForCausalLM", "Model")),
        {**LLAMA_LIKE, "vocab_size": 50304, "intermediate_size": 11008, "num_key_value_heads": None,
         "max_position_embeddings": 2048, "pad_token_id": 1, "attention_bias": False, "clip_qkv": None},
        _decoder_family(_olmo),
    ),
    Family(
        "olmo2",
        decoder_architectures("Olmo2", ("ForCausalLM", "Model")),
        {**LLAMA_LIKE, "vocab_size": 50304, "intermediate_size": 11008, "num_key_value_heads": None,
         "max_position_embeddings": 2048, "pad_token_id": 1, "attention_bias": False, "rms_norm_eps": 1e-5},
        _decoder_family(_olmo2),
    ),
    Family(
        "granite",
        decoder_architectures("Granite", ("ForCausalLM", "Model")),
        {**LLAMA_LIKE, "intermediate_size": 11008, "num_key_value_heads": None, "max_position_embeddings": 2048,
         "pad_token_id": None, "attention_bias": False, "mlp_bias": False, "embedding_multiplier": 1.0,
         "logits_scaling": 1.0, "residual_multiplier": 1.0, "attention_multiplier": 1.0},
        _decoder_family(_granite),
    ),
    Family(
        "starcoder2",
        decoder_architectures("Starcoder2"),
        {**LLAMA_LIKE, "vocab_size": 49152, "hidden_size": 3072, "intermediate_size": 12288,
         "num_hidden_layers": 30,
         "num_attention_heads": 24, "num_key_value_heads": 2, "hidden_act": "gelu_pytorch_tanh",
         "max_position_embeddings": 4096, "norm_epsilon": 1e-5, "sliding_window": None, "residual_dropout": 0.0,
         "embedding_dropout": 0.0, "use_bias": True, "tie_word_embeddings": True},
        _decoder_family(_starcoder2),
    ),
    Family(
        "cohere",
        decoder_architectures("Cohere", ("ForCausalLM", "Model")),
        {**LLAMA_LIKE, "vocab_size": 256000, "hidden_size": 8192, "intermediate_size": 22528, "logit_scale": 0.0625,
         "num_hidden_layers": 40, "num_attention_heads": 64, "num_key_value_heads": None,
         "max_position_embeddings": 8192, "layer_norm_eps": 1e-5, "pad_token_id": 0, "tie_word_embeddings": True,
         "attention_bias": False, "use_qk_norm": False},
        _decoder_family(_cohere),
    ),
    Family(
        "deepseek_v3",
        decoder_architectures("DeepseekV3", ("ForCausalLM", "Model", "ForSequenceClassification",
                                             "ForTokenClassification")),
        {**LLAMA_LIKE, "vocab_size": 129280, "hidden_size": 7168, "intermediate_size": 18432,
         "moe_intermediate_size": 2048, "num_hidden_layers": 61, "num_attention_heads": 128,
         "num_key_value_heads": 128, "n_shared_experts": 1, "n_routed_experts": 256, "kv_lora_rank": 512,
         "q_lora_rank": 1536, "qk_rope_head_dim": 64, "v_head_dim": 128, "qk_nope_head_dim": 128, "n_group": 8,
         "topk_group": 4, "num_experts_per_tok": 8, "first_k_dense_replace": 3, "max_position_embeddings": 4096,
         "attention_bias": False},
        _decoder_family(_deepseek_v3),
        aliases={"num_local_experts": "n_routed_experts"},
    ),
    Family(
        "gpt_neox",
        decoder_architectures("GPTNeoX"),
        {**LLAMA_LIKE, "vocab_size": 50432, "hidden_size": 6144, "num_hidden_layers": 44, "num_attention_heads": 64,
         "intermediate_size": 24576, "hidden_act": "gelu", "hidden_dropout": 0.0, "classifier_dropout": 0.1,
         "max_position_embeddings": 2048, "layer_norm_eps": 1e-5, "tie_word_embeddings": False,
         "use_parallel_residual": True, "attention_bias": True, "num_key_value_heads": None},
        _decoder_family(_gpt_neox),
    ),
    Family(
        "phi",
        decoder_architectures("Phi", ("ForCausalLM", "Model", "ForSequenceClassification",
                                      "ForTokenClassification")),
        {**LLAMA_LIKE, "vocab_size": 51200, "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 24,
         "num_key_value_heads": None, "resid_pdrop": 0.0, "embd_pdrop": 0.0, "hidden_act": "gelu_new",
         "max_position_embeddings": 2048, "layer_norm_eps": 1e-5, "qk_layernorm": False},
        _decoder_family(_phi),
    ),
    Family(
        "t5",
        ("T5ForConditionalGeneration", "T5Model", "T5EncoderModel"),
        {"vocab_size": 32128, "d_model": 512, "d_kv": 64, "d_ff": 2048, "num_layers": 6, "num_decoder_layers": None,
         "num_heads": 8, "relative_attention_num_buckets": 32, "relative_attention_max_distance": 128,
         "layer_norm_epsilon": 1e-6, "feed_forward_proj": "relu", "tie_word_embeddings": True,
         "dropout_rate": 0.1},
        _t5,
        aliases={"hidden_size": "d_model", "num_attention_heads": "num_heads", "num_hidden_layers": "num_layers",
                 "head_dim": "d_kv"},
        position_key=None,
    ),
)
