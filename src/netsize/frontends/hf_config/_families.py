"""One builder per model family. Builders only translate config fields into layers; the layers count."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netsize._errors import NetsizeError
from netsize._layer import Layer
from netsize._network import Graph, Network
from netsize._registry import layer_type
from netsize.layers.attention import ScaledDotProductAttention
from netsize.layers.embedding import Embedding, PositionalEmbedding, RelativePositionBias
from netsize.layers.linear import Linear
from netsize.layers.transformer import BiasAdd, NewGELU, TakeToken, llama_block

DEFAULT_SEQ_LEN = 1024  # cap on max_position_embeddings when no --seq-len is given
_NO_POSITION_LIMIT_SEQ_LEN = 512  # T5 (relative positions: no table to bound the length)

Config = dict[str, Any]


@dataclass(frozen=True)
class Family:
    model_type: str
    architectures: tuple[str, ...]  # the first is the default when the config names none
    defaults: Config  # the config class's defaults in transformers 5.23
    build: Callable[[Config, str, int], Network]


def _make(name: str, **fields: Any) -> Layer:
    return layer_type(name)(**fields)


def _act(name: str) -> Layer:
    if name == "gelu_new":  # transformers' NewGELUActivation: separate ops, four saved tensors
        return NewGELU()
    name = { "gelu_pytorch_tanh": "gelu_tanh", "gelu_fast": "gelu_tanh",
            "swish": "silu"}.get(name, name)
    if name == "gelu_tanh":
        return _make("gelu", approximate="tanh")
    if name in ("gelu", "relu", "silu", "tanh", "sigmoid"):
        return _make(name)
    raise NetsizeError(f"activation {name!r} is not supported; use gelu, gelu_new, relu, silu, tanh or sigmoid")


ATTN_IMPLEMENTATIONS = ("eager", "sdpa")


def _attn_implementation(cfg: Config) -> str:
    """``eager`` unless the config asks for a fused kernel (``sdpa``, ``flash_attention_2``...)."""
    name = cfg.get("_attn_implementation") or cfg.get("attn_implementation") or "eager"
    return "eager" if name == "eager" else "sdpa"


def _use_cache(cfg: Config) -> bool:
    """transformers' ``use_cache`` (config field, the family's default when absent): a causal
    decoder's self-attention keeps its keys and values in a ``DynamicCache`` until the forward
    returns, in ``eval()`` and in ``train()`` alike (only gradient checkpointing turns it off)."""
    return bool(cfg.get("use_cache", True))


def _dropout(g: Graph, name: str, p: float, x: str) -> str:
    """A training-time dropout node when ``p > 0`` (its mask is kept for backward)."""
    return g.add(name, _make("dropout", p=p), x) if p else x


def _seq_default(cfg: Config, key: str | None) -> int:
    if key is None or cfg.get(key) is None:
        return _NO_POSITION_LIMIT_SEQ_LEN
    return min(int(cfg[key]), DEFAULT_SEQ_LEN)


# ----- GPT-2 ------------------------------------------------------------------------------


def _gpt2(cfg: Config, arch: str, seq_len: int) -> Network:
    d, heads, layers = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
    inner = cfg.get("n_inner") or 4 * d
    eps = cfg["layer_norm_epsilon"]
    p = "transformer." if arch == "GPT2LMHeadModel" else ""
    g = Graph(arch, inputs={"input_ids": (seq_len,)})
    wte = g.add(f"{p}wte", Embedding(cfg["vocab_size"], d), "input_ids")
    wpe = g.add(f"{p}wpe", PositionalEmbedding(cfg["n_positions"], d), "input_ids")
    x = g.add(f"{p}embed_add", _make("add"), [wte, wpe])
    x = _dropout(g, f"{p}drop", cfg["embd_pdrop"], x)
    resid, impl = cfg["resid_pdrop"], _attn_implementation(cfg)
    for i in range(layers):
        b = f"{p}h.{i}."
        n = g.add(f"{b}ln_1", _make("layernorm", normalized_shape=d, eps=eps), x)
        qkv = g.add(f"{b}attn.c_attn", Linear(d, 3 * d), n)
        attn = ScaledDotProductAttention(heads, causal=True, dropout=cfg["attn_pdrop"], implementation=impl,
                                         kv_cache=_use_cache(cfg))
        a = g.add(f"{b}attn.attn", attn, qkv)
        a = g.add(f"{b}attn.c_proj", Linear(d, d), a)
        a = _dropout(g, f"{b}attn.resid_dropout", resid, a)
        x = g.add(f"{b}residual1", _make("add"), [x, a])
        n = g.add(f"{b}ln_2", _make("layernorm", normalized_shape=d, eps=eps), x)
        m = g.add(f"{b}mlp.c_fc", Linear(d, inner), n)
        m = g.add(f"{b}mlp.act", _act(cfg["activation_function"]), m)
        m = g.add(f"{b}mlp.c_proj", Linear(inner, d), m)
        m = _dropout(g, f"{b}mlp.dropout", resid, m)
        x = g.add(f"{b}residual2", _make("add"), [x, m])
    x = g.add(f"{p}ln_f", _make("layernorm", normalized_shape=d, eps=eps), x)
    if arch == "GPT2LMHeadModel":
        tied = wte if cfg["tie_word_embeddings"] else None
        g.add("lm_head", Linear(d, cfg["vocab_size"], bias=False), x, tied_to=tied)
    return g.build()


# ----- BERT -------------------------------------------------------------------------------


def _bert(cfg: Config, arch: str, seq_len: int) -> Network:
    d, heads, inter = cfg["hidden_size"], cfg["num_attention_heads"], cfg["intermediate_size"]
    eps, act = cfg["layer_norm_eps"], cfg["hidden_act"]
    p = "" if arch == "BertModel" else "bert."
    g = Graph(arch, inputs={"input_ids": (seq_len,)})
    ln = {"normalized_shape": d, "eps": eps}
    e = f"{p}embeddings."
    words = g.add(f"{e}word_embeddings", Embedding(cfg["vocab_size"], d, cfg.get("pad_token_id")), "input_ids")
    pos = g.add(f"{e}position_embeddings", PositionalEmbedding(cfg["max_position_embeddings"], d), "input_ids")
    types = g.add(f"{e}token_type_embeddings", Embedding(cfg["type_vocab_size"], d), "input_ids")
    x = g.add(f"{e}add", _make("add"), [words, pos, types])
    x = g.add(f"{e}LayerNorm", _make("layernorm", **ln), x)
    for i in range(cfg["num_hidden_layers"]):
        b = f"{p}encoder.layer.{i}."
        q = g.add(f"{b}attention.self.query", Linear(d, d), x)
        k = g.add(f"{b}attention.self.key", Linear(d, d), x)
        v = g.add(f"{b}attention.self.value", Linear(d, d), x)
        a = g.add(f"{b}attention.self.attn", ScaledDotProductAttention(heads), [q, k, v])
        a = g.add(f"{b}attention.output.dense", Linear(d, d), a)
        x = g.add(f"{b}attention.output.residual", _make("add"), [x, a])
        x = g.add(f"{b}attention.output.LayerNorm", _make("layernorm", **ln), x)
        h = g.add(f"{b}intermediate.dense", Linear(d, inter), x)
        h = g.add(f"{b}intermediate.intermediate_act_fn", _act(act), h)
        h = g.add(f"{b}output.dense", Linear(inter, d), h)
        x = g.add(f"{b}output.residual", _make("add"), [x, h])
        x = g.add(f"{b}output.LayerNorm", _make("layernorm", **ln), x)
    if arch in ("BertModel", "BertForSequenceClassification"):
        t = g.add(f"{p}pooler.first_token", TakeToken(0), x)
        t = g.add(f"{p}pooler.dense", Linear(d, d), t)
        t = g.add(f"{p}pooler.activation", _make("tanh"), t)
        if arch == "BertForSequenceClassification":
            labels = cfg.get("num_labels") or len(cfg.get("id2label") or {}) or 2
            g.add("classifier", Linear(d, labels), t)
    elif arch == "BertForMaskedLM":
        c = "cls.predictions."
        h = g.add(f"{c}transform.dense", Linear(d, d), x)
        h = g.add(f"{c}transform.transform_act_fn", _act(act), h)
        h = g.add(f"{c}transform.LayerNorm", _make("layernorm", **ln), h)
        if cfg["tie_word_embeddings"]:
            # decoder.weight is the word embeddings, decoder.bias is cls.predictions.bias.
            h = g.add(f"{c}decoder", Linear(d, cfg["vocab_size"], bias=False), h, tied_to=words)
            g.add(f"{c}bias", BiasAdd(cfg["vocab_size"]), h)
        else:
            # Untied: the decoder has its own weight and bias; cls.predictions.bias stays a
            # separate parameter that forward does not use.
            h = g.add(f"{c}decoder", Linear(d, cfg["vocab_size"], bias=True), h)
            g.add(f"{c}bias", BiasAdd(cfg["vocab_size"], used=False), h)
    return g.build()


# ----- LLaMA, Mistral, Mixtral, Qwen2 -----------------------------------------------------


def _decoder_only(kind: str) -> Callable[[Config, str, int], Network]:
    def build(cfg: Config, arch: str, seq_len: int) -> Network:
        d, heads = cfg["hidden_size"], cfg["num_attention_heads"]
        kv = cfg.get("num_key_value_heads") or heads
        head_dim = cfg.get("head_dim") or d // heads
        if kind == "qwen2":
            qkv_bias, o_bias, mlp_bias = True, False, False
        elif kind == "llama":
            qkv_bias = o_bias = bool(cfg.get("attention_bias", False))
            mlp_bias = bool(cfg.get("mlp_bias", False))
        else:
            qkv_bias = o_bias = mlp_bias = False
        moe = (cfg["num_local_experts"], cfg["num_experts_per_tok"]) if kind == "mixtral" else None
        g = Graph(arch, inputs={"input_ids": (seq_len,)})
        causal_lm = arch.endswith("ForCausalLM")
        p = "model." if causal_lm else ""
        emb = g.add(f"{p}embed_tokens", Embedding(cfg["vocab_size"], d, cfg.get("pad_token_id")), "input_ids")
        x = emb
        for i in range(cfg["num_hidden_layers"]):
            block = llama_block(
                d,
                heads,
                cfg["intermediate_size"],
                seq_len=seq_len,
                num_kv_heads=kv,
                head_dim=head_dim,
                eps=cfg["rms_norm_eps"],
                attention_bias=qkv_bias,
                o_bias=o_bias,
                mlp_bias=mlp_bias,
                activation=cfg["hidden_act"],
                sliding_window=_window(cfg, kind, i),
                moe=moe,
                kv_cache=_use_cache(cfg),
            )
            x = g.add_network(f"{p}layers.{i}", block, x)
        x = g.add(f"{p}norm", _make("rmsnorm", normalized_shape=d, eps=cfg["rms_norm_eps"]), x)
        if causal_lm:
            tied = emb if cfg["tie_word_embeddings"] else None
            g.add("lm_head", Linear(d, cfg["vocab_size"], bias=False), x, tied_to=tied)
        return g.build()

    return build


def _window(cfg: Config, kind: str, layer: int) -> int | None:
    """The sliding window a layer's mask applies (it changes what is needed, not what eager computes)."""
    if kind == "mistral" or kind == "mixtral":
        return cfg.get("sliding_window")
    if kind == "qwen2" and cfg.get("use_sliding_window"):
        types = cfg.get("layer_types")
        if types:
            return cfg.get("sliding_window") if types[layer] == "sliding_attention" else None
        return cfg.get("sliding_window") if layer >= cfg.get("max_window_layers", 0) else None
    return None


# ----- T5 ---------------------------------------------------------------------------------


def _t5(cfg: Config, arch: str, seq_len: int) -> Network:
    d, dkv, heads, ff = cfg["d_model"], cfg["d_kv"], cfg["num_heads"], cfg["d_ff"]
    inner = heads * dkv
    eps = cfg["layer_norm_epsilon"]
    proj = cfg["feed_forward_proj"]
    gated = proj.startswith("gated-")
    act = proj.removeprefix("gated-")
    if gated and act == "gelu":
        act = "gelu_new"  # transformers maps "gated-gelu" to gelu_new
    buckets, max_dist = cfg["relative_attention_num_buckets"], cfg["relative_attention_max_distance"]
    inputs: dict[str, Sequence[int]] = {"input_ids": (seq_len,)}
    if arch != "T5EncoderModel":
        inputs["decoder_input_ids"] = (seq_len,)
    g = Graph(arch, inputs=inputs)
    rms = {"normalized_shape": d, "eps": eps}
    shared = g.add("shared", Embedding(cfg["vocab_size"], d), "input_ids")

    def attention(prefix: str, x: str, memory: str, causal: bool, bias: bool) -> str:
        q = g.add(f"{prefix}.q", Linear(d, inner, bias=False), x)
        k = g.add(f"{prefix}.k", Linear(d, inner, bias=False), memory)
        v = g.add(f"{prefix}.v", Linear(d, inner, bias=False), memory)
        if bias:
            g.add(f"{prefix}.relative_attention_bias",
                  RelativePositionBias(buckets, heads, bidirectional=not causal, max_distance=max_dist), [x, memory])
        a = g.add(f"{prefix}.attn", ScaledDotProductAttention(heads, causal=causal), [q, k, v])
        return g.add(f"{prefix}.o", Linear(inner, d, bias=False), a)

    def feed_forward(prefix: str, x: str) -> str:
        if gated:
            h0 = g.add(f"{prefix}.wi_0", Linear(d, ff, bias=False), x)
            h0 = g.add(f"{prefix}.act", _act(act), h0)
            h1 = g.add(f"{prefix}.wi_1", Linear(d, ff, bias=False), x)
            h = g.add(f"{prefix}.mul", _make("multiply"), [h0, h1])
        else:
            h = g.add(f"{prefix}.wi", Linear(d, ff, bias=False), x)
            h = g.add(f"{prefix}.act", _act(act), h)
        return g.add(f"{prefix}.wo", Linear(ff, d, bias=False), h)

    x = shared
    for i in range(cfg["num_layers"]):
        b = f"encoder.block.{i}.layer."
        n = g.add(f"{b}0.layer_norm", _make("rmsnorm", **rms), x)
        a = attention(f"{b}0.SelfAttention", n, n, causal=False, bias=i == 0)
        x = g.add(f"{b}0.residual", _make("add"), [x, a])
        n = g.add(f"{b}1.layer_norm", _make("rmsnorm", **rms), x)
        h = feed_forward(f"{b}1.DenseReluDense", n)
        x = g.add(f"{b}1.residual", _make("add"), [x, h])
    encoded = g.add("encoder.final_layer_norm", _make("rmsnorm", **rms), x)
    if arch == "T5EncoderModel":
        return g.build()
    x = g.add("decoder.embed_tokens", Embedding(cfg["vocab_size"], d), "decoder_input_ids", tied_to=shared)
    for i in range(cfg.get("num_decoder_layers") or cfg["num_layers"]):
        b = f"decoder.block.{i}.layer."
        n = g.add(f"{b}0.layer_norm", _make("rmsnorm", **rms), x)
        a = attention(f"{b}0.SelfAttention", n, n, causal=True, bias=i == 0)
        x = g.add(f"{b}0.residual", _make("add"), [x, a])
        n = g.add(f"{b}1.layer_norm", _make("rmsnorm", **rms), x)
        a = attention(f"{b}1.EncDecAttention", n, encoded, causal=False, bias=False)
        x = g.add(f"{b}1.residual", _make("add"), [x, a])
        n = g.add(f"{b}2.layer_norm", _make("rmsnorm", **rms), x)
        h = feed_forward(f"{b}2.DenseReluDense", n)
        x = g.add(f"{b}2.residual", _make("add"), [x, h])
    x = g.add("decoder.final_layer_norm", _make("rmsnorm", **rms), x)
    if arch == "T5ForConditionalGeneration":
        # transformers 5 always ties T5's lm_head to `shared`: T5Config.__post_init__ forces
        # tie_word_embeddings=True (a saved False, as in T5 v1.1, only turns off output scaling).
        g.add("lm_head", Linear(d, cfg["vocab_size"], bias=False), x, tied_to=shared)
    return g.build()


# ----- registry ---------------------------------------------------------------------------

_LLAMA_LIKE = {
    "hidden_act": "silu",
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": False,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "hidden_size": 4096,
    "vocab_size": 32000,
    "head_dim": None,
    "use_cache": True,
}

FAMILIES: dict[str, Family] = {
    f.model_type: f
    for f in (
        Family(
            "gpt2",
            ("GPT2LMHeadModel", "GPT2Model"),
            {"vocab_size": 50257, "n_positions": 1024, "n_embd": 768, "n_layer": 12, "n_head": 12, "n_inner": None,
             "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5, "tie_word_embeddings": True,
             "resid_pdrop": 0.1, "embd_pdrop": 0.1, "attn_pdrop": 0.1, "use_cache": True},
            _gpt2,
        ),
        Family(
            "bert",
            ("BertModel", "BertForMaskedLM", "BertForSequenceClassification"),
            {"vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
             "intermediate_size": 3072, "hidden_act": "gelu", "max_position_embeddings": 512, "type_vocab_size": 2,
             "layer_norm_eps": 1e-12, "pad_token_id": 0, "tie_word_embeddings": True},
            _bert,
        ),
        Family(
            "llama",
            ("LlamaForCausalLM", "LlamaModel"),
            {**_LLAMA_LIKE, "intermediate_size": 11008, "num_key_value_heads": None, "max_position_embeddings": 2048,
             "attention_bias": False, "mlp_bias": False},
            _decoder_only("llama"),
        ),
        Family(
            "mistral",
            ("MistralForCausalLM", "MistralModel"),
            {**_LLAMA_LIKE, "intermediate_size": 14336, "num_key_value_heads": 8, "max_position_embeddings": 131072,
             "sliding_window": 4096},
            _decoder_only("mistral"),
        ),
        Family(
            "mixtral",
            ("MixtralForCausalLM", "MixtralModel"),
            {**_LLAMA_LIKE, "intermediate_size": 14336, "num_key_value_heads": 8, "max_position_embeddings": 131072,
             "rms_norm_eps": 1e-5, "sliding_window": None, "num_local_experts": 8, "num_experts_per_tok": 2},
            _decoder_only("mixtral"),
        ),
        Family(
            "qwen2",
            ("Qwen2ForCausalLM", "Qwen2Model"),
            {**_LLAMA_LIKE, "vocab_size": 151936, "intermediate_size": 22016, "num_key_value_heads": 32,
             "max_position_embeddings": 32768, "use_sliding_window": False, "sliding_window": None,
             "max_window_layers": 28},
            _decoder_only("qwen2"),
        ),
        Family(
            "t5",
            ("T5ForConditionalGeneration", "T5Model", "T5EncoderModel"),
            {"vocab_size": 32128, "d_model": 512, "d_kv": 64, "d_ff": 2048, "num_layers": 6, "num_decoder_layers": None,
             "num_heads": 8, "relative_attention_num_buckets": 32, "relative_attention_max_distance": 128,
             "layer_norm_epsilon": 1e-6, "feed_forward_proj": "relu", "tie_word_embeddings": True},
            _t5,
        ),
    )
}

SUPPORTED: tuple[str, ...] = tuple(FAMILIES)

# LLaMA 1/2/3 configs all say model_type "llama"; these names are accepted as aliases.
_POSITION_KEY = {"gpt2": "n_positions", "t5": None}


def load_config(config: Config | str | Path) -> Config:
    """A config as a dict: a dict is used as is; a path (file or a folder holding ``config.json``)
    is read as JSON."""
    if isinstance(config, dict):
        return dict(config)
    path = Path(config)
    if path.is_dir():
        path = path / "config.json"
    if not path.is_file():
        raise NetsizeError(f"config file {str(path)!r} not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise NetsizeError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(data, dict):
        raise NetsizeError(f"{path}: a config must be a JSON object")
    return data


def resolved_config(config: Config | str | Path) -> tuple[Family, Config, str]:
    """(family, config with the family's defaults filled in, architecture counted)."""
    cfg = load_config(config)
    model_type = cfg.get("model_type")
    if model_type not in FAMILIES:
        got = "no model_type" if model_type is None else f"model_type {model_type!r}"
        raise NetsizeError(
            f"config has {got}; supported model types: {', '.join(SUPPORTED)} "
            "(LLaMA 1/2/3 use 'llama')"
        )
    family = FAMILIES[model_type]
    full = {**family.defaults, **cfg}
    archs = cfg.get("architectures") or [family.architectures[0]]
    arch = archs[0]
    if arch not in family.architectures:
        raise NetsizeError(
            f"architecture {arch!r} of model_type {model_type!r} is not supported; "
            f"supported: {', '.join(family.architectures)}"
        )
    return family, full, arch


def network_from_config(config: Config | str | Path, seq_len: int | None = None) -> Network:
    """The network of a Hugging Face config, for token-id inputs of ``seq_len`` positions.

    ``seq_len`` defaults to ``min(max_position_embeddings, 1024)`` (GPT-2: ``n_positions``;
    T5, which has no position table: 512).
    """
    family, cfg, arch = resolved_config(config)
    if seq_len is None:
        seq_len = _seq_default(cfg, _POSITION_KEY.get(family.model_type, "max_position_embeddings"))
    if not isinstance(seq_len, int) or seq_len <= 0:
        raise NetsizeError(f"sequence length must be a positive integer (got {seq_len!r})")
    return family.build(cfg, arch, seq_len)
