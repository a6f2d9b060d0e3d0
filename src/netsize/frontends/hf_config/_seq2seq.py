"""BART, mBART, Pegasus, mT5 and Whisper, built natively from config fields.

Builders follow the rules in :mod:`._families`. BART, mBART, Pegasus and Whisper share one
encoder-decoder template (:func:`_encoder_decoder`); only a :class:`_Style` tells them apart:

- BART: post-norm layers, learned positions with an offset of 2 (a table of
  ``max_position_embeddings + 2`` rows), ``layernorm_embedding`` after the embeddings.
- mBART: as BART, but pre-norm layers and a final ``layer_norm`` after each stack.
- Pegasus: pre-norm, final ``layer_norm``, sinusoidal positions stored as a frozen
  ``nn.Embedding`` of ``max_position_embeddings`` rows (a parameter that does not train, so
  transformers' ``parameters()`` counts it: netsize counts it as non-trainable).
- Whisper: pre-norm, final ``layer_norm``; the encoder reads log-mel features through two
  ``Conv1d`` (kernel 3; the second with stride 2) with GELU, then adds a frozen sinusoidal table
  of ``max_source_positions`` rows; the decoder has learned positions
  (``max_target_positions``); ``k_proj`` has no bias; the LM head is ``proj_out``.

Sequence lengths: BART, mBART and Pegasus read ``seq_len`` tokens on each side (as T5), at most
``max_position_embeddings``. Whisper's encoder input is fixed by the model, not by ``seq_len``:
``input_features`` of ``num_mel_bins x 2*max_source_positions`` frames (80 x 3000, 30 s of
audio; transformers refuses any other length), and ``seq_len`` is the decoder's token count,
at most ``max_target_positions`` (448; the default).

mT5 is T5 v1.1 (gated GELU) and reuses T5's builder, with one difference: the published mT5
configs say ``tie_word_embeddings: false`` and their checkpoints hold ``lm_head`` apart from
``shared``. transformers 5.23's ``MT5Config`` forces the flag to true, so a model built from the
config alone ties them (mt5-small: 172,119,424 params), but ``from_pretrained`` leaves two
different tensors untied (300,176,768, the published "300M"). netsize follows the config's flag:
the model as loaded.

KV cache (``netsize llm``): the decoder's causal self-attention, per generated token. The
cross-attention cache (the encoder output's keys and values, fixed by the encoder length, not
growing per token) is kept by transformers' ``EncoderDecoderCache`` and by the memory model
(``kv_cache`` on the cross-attention cores) but is not in the per-token figure, as
:mod:`netsize.llm` states. Both caches follow the config's ``use_cache`` (a forward without
labels); BART's, mBART's and Pegasus' heads turn the cache off when given labels (or QA
positions): ``"use_cache": false`` models that training step.

Memory (network walk against transformers observed on the meta device, batch 4, 32 tokens,
small configs): BART training peak +1.2%, Whisper -0.1%; inference peaks -6.5% and -7.7%.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from netsize._errors import NetsizeError
from netsize._network import Graph, Network
from netsize.frontends.hf_config._decoder import activation, dropout, make
from netsize.frontends.hf_config._families import (
    Config,
    Family,
    _act,
    _attn_implementation,
    _heads,
    _labels,
    _t5,
    _use_cache,
)
from netsize.frontends.hf_config._fields import Fields
from netsize.layers.attention import ScaledDotProductAttention
from netsize.layers.conv import Conv1d
from netsize.layers.embedding import Embedding, PositionalEmbedding
from netsize.layers.linear import Linear
from netsize.layers.tensor_ops import Parameter
from netsize.layers.transformer import BiasAdd, TakeToken

_LN_EPS = 1e-5  # nn.LayerNorm's default: these families take no epsilon from the config


@dataclass(frozen=True)
class _Style:
    stem: str  # class-name stem: Bart, MBart, Pegasus, Whisper
    pre_norm: bool
    positions: str  # "offset2" (BART's learned table + 2), "sinusoidal" (frozen table), "learned"
    layernorm_embedding: bool
    final_norm: bool
    scales_embeddings: bool  # the forward multiplies the embeddings by embed_scale (1.0 or sqrt(d))
    logits_bias: bool  # ForConditionalGeneration adds the final_logits_bias buffer
    k_bias: bool = True  # Whisper's k_proj has no bias
    audio: bool = False  # Whisper: conv front end on log-mel features
    default_labels: int = 2  # num_labels without id2label or num_labels (BartConfig: 3, for MNLI)
    lm_head: str = "lm_head"


_BART = _Style("Bart", pre_norm=False, positions="offset2", layernorm_embedding=True, final_norm=False,
               scales_embeddings=True, logits_bias=True, default_labels=3)
_MBART = _Style("MBart", pre_norm=True, positions="offset2", layernorm_embedding=True, final_norm=True,
                scales_embeddings=True, logits_bias=True)
_PEGASUS = _Style("Pegasus", pre_norm=True, positions="sinusoidal", layernorm_embedding=False, final_norm=True,
                  scales_embeddings=True, logits_bias=True)
_WHISPER = _Style("Whisper", pre_norm=True, positions="learned", layernorm_embedding=False, final_norm=True,
                  scales_embeddings=False, logits_bias=False, k_bias=False, audio=True, lm_head="proj_out")


@dataclass(frozen=True)
class _Sizes:
    d: int
    vocab: int
    pad: int | None
    act: str
    drop: float
    attn_drop: float
    act_drop: float
    impl: str
    cache: bool
    tie: bool


def _check_positions(f: Fields, key: str, seq_len: int, what: str) -> int:
    limit = f.int(key, min=1)
    if seq_len > limit:
        raise NetsizeError(
            f"{f.source}: {what} {seq_len} exceeds {key} ({limit}); use --seq-len {limit} or less"
        )
    return limit


def _encoder_decoder(style: _Style, f: Fields, arch: str, seq_len: int) -> Network:
    head = arch.removeprefix(style.stem)
    d = f.int("d_model", min=1)
    vocab = f.int("vocab_size", min=1)
    sizes = _Sizes(
        d=d, vocab=vocab, pad=f.opt_int("pad_token_id", min=-vocab, max=vocab - 1), act=_act(f, "activation_function"),
        drop=f.rate("dropout"), attn_drop=f.rate("attention_dropout"), act_drop=f.rate("activation_dropout"),
        impl=_attn_implementation(f), cache=_use_cache(f), tie=f.bool("tie_word_embeddings", True),
    )
    f.rate("encoder_layerdrop")  # training-time skipping of whole layers: no count changes
    f.rate("decoder_layerdrop")
    if not style.audio:
        f.bool("scale_embedding", False)  # a multiplication by sqrt(d_model): no parameter, no multiply-add
    dec_heads, dec_ff = f.int("decoder_attention_heads", min=1), f.int("decoder_ffn_dim", min=1)
    _heads(f, "decoder_attention_heads", dec_heads, d, "d_model")
    dec_layers = f.int("decoder_layers", min=0)
    enc_layers = f.int("encoder_layers", min=0)
    enc_heads, enc_ff = f.int("encoder_attention_heads", min=1), f.int("encoder_ffn_dim", min=1)
    _heads(f, "encoder_attention_heads", enc_heads, d, "d_model")
    if style.audio:
        mel = f.int("num_mel_bins", min=1)
        frames = 2 * f.int("max_source_positions", min=1)
        dec_key = "max_target_positions"
        if f.bool("use_weighted_layer_sum", False):
            raise f.error("use_weighted_layer_sum", "is not modelled by netsize (a softmax-weighted sum of every "
                          "encoder layer's output)", True)
    else:
        dec_key = "max_position_embeddings"
    if head == "ForAudioClassification":
        g = Graph(arch, inputs={"input_features": (mel, frames)})
        x = _encoder(g, style, f, sizes, "encoder.", "input_features", enc_layers, enc_heads, enc_ff)
        proj = f.int("classifier_proj_size", min=1)
        x = g.add("projector", Linear(d, proj), x)
        x = g.add("mean", make("reduce", op="mean", axes=(1,), keepdims=False), x)
        g.add("classifier", Linear(proj, _labels(f)), x)
        return g.build()
    _check_positions(f, dec_key, seq_len, "decoder sequence length" if style.audio else "sequence length")
    if head == "ForCausalLM":
        g = Graph(arch, inputs={"input_ids": (seq_len,)})
        p = "model.decoder."
        x, words = _decoder(g, style, f, sizes, p, "input_ids", None, None, dec_layers, dec_heads, dec_ff)
        g.add(style.lm_head, Linear(d, vocab, bias=False), x, tied_to=words if sizes.tie else None)
        return g.build()
    p = "" if head == "Model" else "model."
    inputs: dict[str, Sequence[int]]
    if style.audio:
        inputs = {"input_features": (mel, frames), "decoder_input_ids": (seq_len,)}
    else:
        inputs = {"input_ids": (seq_len,), "decoder_input_ids": (seq_len,)}
    g = Graph(arch, inputs=inputs)
    shared: str | None = None
    if not style.audio:
        if sizes.tie:
            # shared, encoder.embed_tokens and decoder.embed_tokens are one table, looked up by the encoder first
            shared = g.add(f"{p}encoder.embed_tokens", Embedding(vocab, d, sizes.pad), "input_ids")
        else:
            # untied: shared is a table of its own that no forward reads (each stack has its own)
            g.add(f"{p}shared", Parameter((vocab, d), used=False), [])
    source = shared if shared is not None else ("input_features" if style.audio else "input_ids")
    encoded = _encoder(g, style, f, sizes, f"{p}encoder.", source, enc_layers, enc_heads, enc_ff,
                       embedded=shared is not None)
    x, words = _decoder(g, style, f, sizes, f"{p}decoder.", "decoder_input_ids", encoded, shared, dec_layers,
                        dec_heads, dec_ff)
    if head == "ForConditionalGeneration":
        x = g.add(style.lm_head, Linear(d, vocab, bias=False), x, tied_to=words if sizes.tie else None)
        if style.logits_bias:
            g.add("final_logits_bias", BiasAdd(vocab, buffer=True), x)
    elif head == "ForSequenceClassification":
        # the hidden state at each example's last eos token (transformers checks every example has one)
        c = "classification_head."
        drop = f.rate("classifier_dropout")
        x = g.add(f"{c}eos_token", TakeToken(-1), x)
        x = dropout(g, f"{c}dropout", drop, x)
        x = g.add(f"{c}dense", Linear(d, d), x)
        x = g.add(f"{c}tanh", make("tanh"), x)
        x = dropout(g, f"{c}dropout_out", drop, x)
        given = f.raw("id2label") is not None or f.raw("num_labels") is not None
        g.add(f"{c}out_proj", Linear(d, _labels(f) if given else style.default_labels), x)
    elif head == "ForQuestionAnswering":
        g.add("qa_outputs", Linear(d, 2), x)  # transformers sets num_labels = 2 for this head
    return g.build()


def _embed(g: Graph, style: _Style, s: _Sizes, p: str, x: str, ids: str, table: int, trainable: bool) -> str:
    """Token embeddings ``x`` (scaled when the family's forward scales them) plus positions."""
    if style.scales_embeddings:
        x = g.add(f"{p}embed_scale", make("elementwise", op="mul", ops=1), x)
    pos = g.add(f"{p}embed_positions", PositionalEmbedding(table, s.d), ids, trainable=trainable)
    x = g.add(f"{p}embed_add", make("add"), [x, pos])
    if style.layernorm_embedding:
        x = g.add(f"{p}layernorm_embedding", make("layernorm", normalized_shape=s.d, eps=_LN_EPS), x)
    return dropout(g, f"{p}dropout", s.drop, x)


def _attention(g: Graph, style: _Style, s: _Sizes, a: str, x: str, memory: str, heads: int, causal: bool,
               cache: bool) -> str:
    d = s.d
    q = g.add(f"{a}q_proj", Linear(d, d), x)
    k = g.add(f"{a}k_proj", Linear(d, d, bias=style.k_bias), memory)
    v = g.add(f"{a}v_proj", Linear(d, d), memory)
    core = ScaledDotProductAttention(heads, causal=causal, dropout=s.attn_drop, implementation=s.impl,
                                     kv_cache=cache)
    h = g.add(f"{a}attn", core, [q, k, v])
    return g.add(f"{a}out_proj", Linear(d, d), h)


def _sublayer(g: Graph, style: _Style, s: _Sizes, b: str, norm: str, x: str, body: object) -> str:
    """One residual block: pre-norm ``x + body(norm(x))`` or post-norm ``norm(x + body(x))``."""
    assert callable(body)
    ln = {"normalized_shape": s.d, "eps": _LN_EPS}
    if style.pre_norm:
        h = body(g.add(f"{b}{norm}", make("layernorm", **ln), x))
        h = dropout(g, f"{b}{norm}.dropout", s.drop, h)
        return g.add(f"{b}{norm}.residual", make("add"), [x, h])
    h = dropout(g, f"{b}{norm}.dropout", s.drop, body(x))
    h = g.add(f"{b}{norm}.residual", make("add"), [x, h])
    return g.add(f"{b}{norm}", make("layernorm", **ln), h)


def _feed_forward(g: Graph, s: _Sizes, b: str, x: str, ff: int) -> str:
    h = g.add(f"{b}fc1", Linear(s.d, ff), x)
    h = g.add(f"{b}activation_fn", activation(s.act), h)
    h = dropout(g, f"{b}activation_dropout", s.act_drop, h)
    return g.add(f"{b}fc2", Linear(ff, s.d), h)


def _encoder(g: Graph, style: _Style, f: Fields, s: _Sizes, p: str, source: str, layers: int, heads: int, ff: int,
             embedded: bool = False) -> str:
    d = s.d
    if style.audio:
        x = g.add(f"{p}conv1", Conv1d(f.int("num_mel_bins"), d, 3, padding=1), source)
        x = g.add(f"{p}conv1.gelu", make("gelu"), x)
        x = g.add(f"{p}conv2", Conv1d(d, d, 3, stride=2, padding=1), x)
        x = g.add(f"{p}conv2.gelu", make("gelu"), x)
        x = g.add(f"{p}permute", make("permute", dims=(0, 2, 1)), x)
        # embed_positions is an nn.Embedding with requires_grad off, read whole (max_source_positions rows)
        pos = g.add(f"{p}embed_positions", PositionalEmbedding(f.int("max_source_positions"), d), x,
                    trainable=False)
        x = g.add(f"{p}embed_add", make("add"), [x, pos])
        x = dropout(g, f"{p}dropout", s.drop, x)
    else:
        ids = "input_ids"
        x = source if embedded else g.add(f"{p}embed_tokens", Embedding(s.vocab, d, s.pad), ids)
        x = _embed(g, style, s, p, x, ids, *_position_table(style, f))
    for i in range(layers):
        b = f"{p}layers.{i}."
        x = _sublayer(g, style, s, b, "self_attn_layer_norm", x,
                      lambda h, b=b: _attention(g, style, s, f"{b}self_attn.", h, h, heads, False, False))
        x = _sublayer(g, style, s, b, "final_layer_norm", x, lambda h, b=b: _feed_forward(g, s, b, h, ff))
    if style.final_norm:
        x = g.add(f"{p}layer_norm", make("layernorm", normalized_shape=d, eps=_LN_EPS), x)
    return x


def _position_table(style: _Style, f: Fields, key: str = "max_position_embeddings") -> tuple[int, bool]:
    """(rows of the position table, trainable)."""
    rows = f.int(key, min=1)
    if style.positions == "offset2":
        return rows + 2, True  # BART looks positions up at 2 .. S+1
    return rows, style.positions == "learned"


def _decoder(g: Graph, style: _Style, f: Fields, s: _Sizes, p: str, ids: str, encoded: str | None,
             shared: str | None, layers: int, heads: int, ff: int) -> tuple[str, str]:
    """The decoder stack; (output, the node holding its token embeddings). Without ``encoded``
    (ForCausalLM) the cross-attention modules are held but not run."""
    d = s.d
    words = g.add(f"{p}embed_tokens", Embedding(s.vocab, d, s.pad), ids, tied_to=shared)
    key = "max_target_positions" if style.audio else "max_position_embeddings"
    x = _embed(g, style, s, p, words, ids, *_position_table(style, f, key))
    cross_params = 4 * d * d + (4 if style.k_bias else 3) * d
    for i in range(layers):
        b = f"{p}layers.{i}."
        x = _sublayer(g, style, s, b, "self_attn_layer_norm", x,
                      lambda h, b=b: _attention(g, style, s, f"{b}self_attn.", h, h, heads, True, s.cache))
        if encoded is not None:
            x = _sublayer(g, style, s, b, "encoder_attn_layer_norm", x,
                          lambda h, b=b: _attention(g, style, s, f"{b}encoder_attn.", h, encoded, heads, False,
                                                    s.cache))
        else:  # held by the decoder layer, unused without encoder_hidden_states
            g.add(f"{b}encoder_attn", Parameter((cross_params,), used=False), [])
            g.add(f"{b}encoder_attn_layer_norm", Parameter((2 * d,), used=False), [])
        x = _sublayer(g, style, s, b, "final_layer_norm", x, lambda h, b=b: _feed_forward(g, s, b, h, ff))
    if style.final_norm:
        x = g.add(f"{p}layer_norm", make("layernorm", normalized_shape=d, eps=_LN_EPS), x)
    return x, words


def _bart(f: Fields, arch: str, seq_len: int) -> Network:
    return _encoder_decoder(_BART, f, arch, seq_len)


def _mbart(f: Fields, arch: str, seq_len: int) -> Network:
    return _encoder_decoder(_MBART, f, arch, seq_len)


def _pegasus(f: Fields, arch: str, seq_len: int) -> Network:
    return _encoder_decoder(_PEGASUS, f, arch, seq_len)


def _mt5(f: Fields, arch: str, seq_len: int) -> Network:
    return _t5(f, arch, seq_len, untied_head=True)


def _whisper(f: Fields, arch: str, seq_len: int) -> Network:
    return _encoder_decoder(_WHISPER, f, arch, seq_len)


_BART_LIKE_DEFAULTS: Config = {
    "vocab_size": 50265, "max_position_embeddings": 1024, "encoder_layers": 12, "encoder_ffn_dim": 4096,
    "encoder_attention_heads": 16, "decoder_layers": 12, "decoder_ffn_dim": 4096, "decoder_attention_heads": 16,
    "encoder_layerdrop": 0.0, "decoder_layerdrop": 0.0, "activation_function": "gelu", "d_model": 1024,
    "dropout": 0.1, "attention_dropout": 0.0, "activation_dropout": 0.0, "classifier_dropout": 0.0,
    "scale_embedding": False, "use_cache": True, "pad_token_id": 1, "eos_token_id": 2, "tie_word_embeddings": True,
}
_WHISPER_BASE = {k: v for k, v in _BART_LIKE_DEFAULTS.items() if k != "max_position_embeddings"}
_BART_ALIASES = {"num_attention_heads": "encoder_attention_heads", "hidden_size": "d_model",
                 "num_hidden_layers": "encoder_layers"}


def _heads_of(stem: str, heads: Sequence[str]) -> tuple[str, ...]:
    return tuple(stem + h for h in heads)


_BART_HEADS = ("ForConditionalGeneration", "Model", "ForSequenceClassification", "ForQuestionAnswering",
               "ForCausalLM")

FAMILIES: tuple[Family, ...] = (
    Family("bart", _heads_of("Bart", _BART_HEADS), _BART_LIKE_DEFAULTS, _bart, aliases=_BART_ALIASES),
    Family("mbart", _heads_of("MBart", _BART_HEADS), _BART_LIKE_DEFAULTS, _mbart, aliases=_BART_ALIASES),
    Family(
        "pegasus",
        _heads_of("Pegasus", ("ForConditionalGeneration", "Model", "ForCausalLM")),
        {**_BART_LIKE_DEFAULTS, "pad_token_id": 0, "eos_token_id": 1},
        _pegasus,
        aliases=_BART_ALIASES,
    ),
    Family(
        "mt5",
        _heads_of("MT5", ("ForConditionalGeneration", "Model", "EncoderModel", "ForSequenceClassification",
                          "ForTokenClassification", "ForQuestionAnswering")),
        {"vocab_size": 250112, "d_model": 512, "d_kv": 64, "d_ff": 1024, "num_layers": 8, "num_decoder_layers": None,
         "num_heads": 6, "relative_attention_num_buckets": 32, "relative_attention_max_distance": 128,
         "layer_norm_epsilon": 1e-6, "feed_forward_proj": "gated-gelu", "tie_word_embeddings": True,
         "dropout_rate": 0.1, "classifier_dropout": 0.0},
        _mt5,
        aliases={"hidden_size": "d_model", "num_attention_heads": "num_heads", "num_hidden_layers": "num_layers",
                 "head_dim": "d_kv"},
        position_key=None,
    ),
    Family(
        "whisper",
        _heads_of("Whisper", ("ForConditionalGeneration", "Model", "ForCausalLM", "ForAudioClassification")),
        {**_WHISPER_BASE, "vocab_size": 51865, "num_mel_bins": 80, "encoder_layers": 4,
         "encoder_attention_heads": 6, "decoder_layers": 4, "decoder_attention_heads": 6, "decoder_ffn_dim": 1536,
         "encoder_ffn_dim": 1536, "d_model": 384, "dropout": 0.0, "max_source_positions": 1500,
         "max_target_positions": 448, "pad_token_id": 50256, "eos_token_id": 50256, "use_weighted_layer_sum": False,
         "classifier_proj_size": 256},
        _whisper,
        aliases={"num_attention_heads": "encoder_attention_heads", "hidden_size": "d_model",
                 "num_hidden_layers": "encoder_layers"},
        position_key="max_target_positions",
    ),
)
