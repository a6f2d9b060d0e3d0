"""DistilBERT, ALBERT, ELECTRA and DeBERTa-v2, built natively from config fields.

Builders follow the rules in :mod:`._families`: every field transformers' modeling code reads
for the family is read here through :class:`Fields` (typed, range-checked) and either modelled
or refused by name. Module names are transformers' own, so per-layer rows line up with the real
model; a module called again (ALBERT's shared layers) is ``name#2``, ``name#3``... with its
parameters counted at the first call, as the PyTorch frontend names repeated calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from netsize._network import Graph, Network
from netsize.frontends.hf_config._decoder import activation, dropout, make
from netsize.frontends.hf_config._families import (
    _BERT_DEFAULTS,
    BertBody,
    Family,
    _act,
    _attn_implementation,
    _classifier_dropout,
    _heads,
    _labels,
    _use_cache,
    _vocab_projection,
    bert_layer,
)
from netsize.frontends.hf_config._fields import Fields
from netsize.layers.attention import ScaledDotProductAttention
from netsize.layers.embedding import Embedding, PositionalEmbedding
from netsize.layers.linear import Linear
from netsize.layers.transformer import BiasAdd, TakeToken


def _prefix(arch: str, stem: str, base: str) -> str:
    """The base model's attribute (``distilbert.``) under a head; nothing for the bare model."""
    return "" if arch == f"{stem}Model" else base


def _tied_head(g: Graph, name: str, h: str, words: str, d: int, vocab: int, tie: bool) -> str:
    """A ``Linear(d, vocab)`` output layer whose weight is the word embeddings' when tied and
    whose bias is always its own (DistilBERT's ``vocab_projector``, ELECTRA's
    ``generator_lm_head``: only ``.weight`` is in ``_tied_weights_keys``)."""
    if tie:
        h = g.add(name, Linear(d, vocab, bias=False), h, tied_to=words)
        return g.add(f"{name}.bias", BiasAdd(vocab), h)
    return g.add(name, Linear(d, vocab), h)


# ----- DistilBERT -------------------------------------------------------------------------


def _distilbert(f: Fields, arch: str, seq_len: int) -> Network:
    """DistilBERT: BERT's post-norm layers without token types or pooler. LayerNorm epsilon is
    fixed at 1e-12 in the modeling code. ``sinusoidal_pos_embds`` only fills the position table
    with sines and cosines: it stays an ``nn.Embedding`` parameter (``requires_grad`` true in
    transformers 5), so it changes no count."""
    d, heads = f.int("dim", min=1), f.int("n_heads", min=1)
    _heads(f, "n_heads", heads, d, "dim")
    layers, inner = f.int("n_layers", min=0), f.int("hidden_dim", min=1)
    vocab, positions = f.int("vocab_size", min=1), f.int("max_position_embeddings", min=1)
    f.bool("sinusoidal_pos_embds", False)
    pad = f.opt_int("pad_token_id", min=-vocab, max=vocab - 1)
    drop, attn_p = f.rate("dropout"), f.rate("attention_dropout")
    act = _act(f, "activation")
    tie = f.bool("tie_word_embeddings", True)
    impl = _attn_implementation(f)
    p = _prefix(arch, "DistilBert", "distilbert.")
    g = Graph(arch, inputs={"input_ids": (seq_len,)})
    ln = {"normalized_shape": d, "eps": 1e-12}
    e = f"{p}embeddings."
    words = g.add(f"{e}word_embeddings", Embedding(vocab, d, pad), "input_ids")
    pos = g.add(f"{e}position_embeddings", PositionalEmbedding(positions, d), "input_ids")
    x = g.add(f"{e}add", make("add"), [words, pos])
    x = g.add(f"{e}LayerNorm", make("layernorm", **ln), x)
    x = dropout(g, f"{e}dropout", drop, x)
    for i in range(layers):
        b = f"{p}transformer.layer.{i}."
        a = f"{b}attention."
        q = g.add(f"{a}q_lin", Linear(d, d), x)
        k = g.add(f"{a}k_lin", Linear(d, d), x)
        v = g.add(f"{a}v_lin", Linear(d, d), x)
        h = g.add(f"{a}attn", ScaledDotProductAttention(heads, dropout=attn_p, implementation=impl), [q, k, v])
        h = g.add(f"{a}out_lin", Linear(d, d), h)
        h = g.add(f"{b}sa_residual", make("add"), [h, x])
        x = g.add(f"{b}sa_layer_norm", make("layernorm", **ln), h)
        h = g.add(f"{b}ffn.lin1", Linear(d, inner), x)
        h = g.add(f"{b}ffn.activation", activation(act), h)
        h = g.add(f"{b}ffn.lin2", Linear(inner, d), h)
        h = dropout(g, f"{b}ffn.dropout", drop, h)
        h = g.add(f"{b}output_residual", make("add"), [h, x])
        x = g.add(f"{b}output_layer_norm", make("layernorm", **ln), h)
    head = arch.removeprefix("DistilBert")
    if head == "ForMaskedLM":
        h = g.add("vocab_transform", Linear(d, d), x)
        h = g.add("activation", activation(act), h)
        h = g.add("vocab_layer_norm", make("layernorm", **ln), h)
        _tied_head(g, "vocab_projector", h, words, d, vocab, tie)
    elif head == "ForSequenceClassification":
        t = g.add("first_token", TakeToken(0), x)
        t = g.add("pre_classifier", Linear(d, d), t)
        t = g.add("relu", make("relu"), t)
        t = dropout(g, "dropout", f.rate("seq_classif_dropout"), t)
        g.add("classifier", Linear(d, _labels(f)), t)
    elif head == "ForTokenClassification":
        t = dropout(g, "dropout", drop, x)
        g.add("classifier", Linear(d, _labels(f)), t)
    elif head == "ForQuestionAnswering":
        if _labels(f) != 2:
            raise f.error("num_labels", "must be 2 for DistilBertForQuestionAnswering (start and end logits)",
                          _labels(f))
        t = dropout(g, "dropout", f.rate("qa_dropout"), x)
        g.add("qa_outputs", Linear(d, 2), t)
    return g.build()


# ----- ALBERT -----------------------------------------------------------------------------


def _albert(f: Fields, arch: str, seq_len: int) -> Network:
    """ALBERT: embeddings of ``embedding_size`` projected to ``hidden_size``
    (``embedding_hidden_mapping_in``); ``num_hidden_groups`` groups of ``inner_group_num``
    layers, layer ``i`` running group ``int(i / (num_hidden_layers / num_hidden_groups))``, so a
    group's parameters are counted once and its work once per call (later calls: ``name#2``...)."""
    e_size, d = f.int("embedding_size", min=1), f.int("hidden_size", min=1)
    heads = f.int("num_attention_heads", min=1)
    _heads(f, "num_attention_heads", heads, d, "hidden_size")
    layers = f.int("num_hidden_layers", min=1)
    groups = f.int("num_hidden_groups", min=1, max=layers)
    inner_n = f.int("inner_group_num", min=1)
    inter = f.int("intermediate_size", min=1)
    act = _act(f, "hidden_act")
    vocab, positions = f.int("vocab_size", min=1), f.int("max_position_embeddings", min=1)
    types = f.int("type_vocab_size", min=1)
    pad = f.opt_int("pad_token_id", min=-vocab, max=vocab - 1)
    eps = f.float("layer_norm_eps", min=0)
    hidden_p, attn_p = f.rate("hidden_dropout_prob"), f.rate("attention_probs_dropout_prob")
    tie = f.bool("tie_word_embeddings", True)
    impl = _attn_implementation(f)
    p = _prefix(arch, "Albert", "albert.")
    g = Graph(arch, inputs={"input_ids": (seq_len,)})
    e = f"{p}embeddings."
    words = g.add(f"{e}word_embeddings", Embedding(vocab, e_size, pad), "input_ids")
    pos = g.add(f"{e}position_embeddings", PositionalEmbedding(positions, e_size), "input_ids")
    tok = g.add(f"{e}token_type_embeddings", Embedding(types, e_size), "input_ids")
    x = g.add(f"{e}add", make("add"), [words, pos, tok])
    x = g.add(f"{e}LayerNorm", make("layernorm", normalized_shape=e_size, eps=eps), x)
    x = dropout(g, f"{e}dropout", hidden_p, x)
    x = g.add(f"{p}encoder.embedding_hidden_mapping_in", Linear(e_size, d), x)
    ln = {"normalized_shape": d, "eps": eps}
    calls = [0] * groups

    def layer(b: str, call: int, x: str) -> str:
        suffix = "" if call == 1 else f"#{call}"

        def add(leaf: str, layer: Any, inputs: Sequence[str] | str, params: bool = False) -> str:
            tied = f"{b}{leaf}" if suffix and params else None
            return g.add(f"{b}{leaf}{suffix}", layer, inputs, tied_to=tied)

        q = add("attention.query", Linear(d, d), x, True)
        k = add("attention.key", Linear(d, d), x, True)
        v = add("attention.value", Linear(d, d), x, True)
        h = add("attention.attn", ScaledDotProductAttention(heads, dropout=attn_p, implementation=impl), [q, k, v])
        h = add("attention.dense", Linear(d, d), h, True)
        if hidden_p:
            h = add("attention.output_dropout", make("dropout", p=hidden_p), h)
        h = add("attention.residual", make("add"), [x, h])
        a = add("attention.LayerNorm", make("layernorm", **ln), h, True)
        h = add("ffn", Linear(d, inter), a, True)
        h = add("activation", activation(act), h)
        h = add("ffn_output", Linear(inter, d), h, True)
        h = add("residual", make("add"), [h, a])
        return add("full_layer_layer_norm", make("layernorm", **ln), h, True)

    for i in range(layers):
        group = int(i / (layers / groups))  # transformers' own float arithmetic, to pick the same group
        calls[group] += 1
        for j in range(inner_n):
            x = layer(f"{p}encoder.albert_layer_groups.{group}.albert_layers.{j}.", calls[group], x)
    head = arch.removeprefix("Albert")
    pooled = None
    if head in ("Model", "ForPreTraining", "ForSequenceClassification"):
        t = g.add(f"{p}first_token", TakeToken(0), x)
        t = g.add(f"{p}pooler", Linear(d, d), t)
        pooled = g.add(f"{p}pooler_activation", make("tanh"), t)
    cls_p = f.rate("classifier_dropout_prob")
    if head in ("ForMaskedLM", "ForPreTraining"):
        h = g.add("predictions.dense", Linear(d, e_size), x)
        h = g.add("predictions.activation", activation(act), h)
        h = g.add("predictions.LayerNorm", make("layernorm", normalized_shape=e_size, eps=eps), h)
        _vocab_projection(g, "predictions.decoder", "predictions.bias", h, words, e_size, vocab, tie)
    if head == "ForPreTraining":
        assert pooled is not None
        t = dropout(g, "sop_classifier.dropout", cls_p, pooled)
        g.add("sop_classifier.classifier", Linear(d, _labels(f)), t)
    elif head == "ForSequenceClassification":
        assert pooled is not None
        t = dropout(g, "dropout", cls_p, pooled)
        g.add("classifier", Linear(d, _labels(f)), t)
    elif head == "ForTokenClassification":
        t = dropout(g, "dropout", cls_p, x)
        g.add("classifier", Linear(d, _labels(f)), t)
    elif head == "ForQuestionAnswering":
        g.add("qa_outputs", Linear(d, _labels(f)), x)
    return g.build()


# ----- ELECTRA ----------------------------------------------------------------------------


def _electra(f: Fields, arch: str, seq_len: int) -> Network:
    """ELECTRA: BERT's encoder on embeddings of ``embedding_size``, projected to ``hidden_size``
    (``embeddings_project``) when the two differ; no pooler. The discriminator head
    (``ElectraForPreTraining``) scores each token, the generator head (``ElectraForMaskedLM``,
    ``ElectraForCausalLM``) maps back to ``embedding_size`` and to the vocabulary through the
    word embeddings (tied weight, own bias). Multiple choice (``summary_*`` fields) is not built."""
    e_size, d = f.int("embedding_size", min=1), f.int("hidden_size", min=1)
    heads = f.int("num_attention_heads", min=1)
    _heads(f, "num_attention_heads", heads, d, "hidden_size")
    layers, inter = f.int("num_hidden_layers", min=0), f.int("intermediate_size", min=1)
    act = _act(f, "hidden_act")
    vocab, positions = f.int("vocab_size", min=1), f.int("max_position_embeddings", min=1)
    types = f.int("type_vocab_size", min=1)
    pad = f.opt_int("pad_token_id", min=-vocab, max=vocab - 1)
    eps = f.float("layer_norm_eps", min=0)
    hidden_p, attn_p = f.rate("hidden_dropout_prob"), f.rate("attention_probs_dropout_prob")
    decoder = f.bool("is_decoder", False)
    cross = f.bool("add_cross_attention", False)
    if cross and not decoder:
        raise f.error("add_cross_attention", "needs is_decoder true (ElectraLayer refuses cross-attention in an "
                      "encoder)", True)
    tie = f.bool("tie_word_embeddings", True)
    impl = _attn_implementation(f)
    cache = decoder and _use_cache(f)
    p = _prefix(arch, "Electra", "electra.")
    inputs: dict[str, Sequence[int]] = {"input_ids": (seq_len,)}
    if cross:
        inputs["encoder_hidden_states"] = (seq_len, d)
    g = Graph(arch, inputs=inputs)
    e = f"{p}embeddings."
    words = g.add(f"{e}word_embeddings", Embedding(vocab, e_size, pad), "input_ids")
    pos = g.add(f"{e}position_embeddings", PositionalEmbedding(positions, e_size), "input_ids")
    tok = g.add(f"{e}token_type_embeddings", Embedding(types, e_size), "input_ids")
    x = g.add(f"{e}add", make("add"), [words, pos, tok])
    x = g.add(f"{e}LayerNorm", make("layernorm", normalized_shape=e_size, eps=eps), x)
    x = dropout(g, f"{e}dropout", hidden_p, x)
    if e_size != d:
        x = g.add(f"{p}embeddings_project", Linear(e_size, d), x)
    ln = {"normalized_shape": d, "eps": eps}
    body = BertBody(d, heads, inter, act, ln, hidden_p, attn_p, impl)
    for i in range(layers):
        x = bert_layer(g, f"{p}encoder.layer.{i}.", x, body, causal=decoder, kv_cache=cache,
                       cross="encoder_hidden_states" if cross else None)
    head = arch.removeprefix("Electra")
    if head == "ForPreTraining":
        h = g.add("discriminator_predictions.dense", Linear(d, d), x)
        h = g.add("discriminator_predictions.activation", activation(act), h)
        g.add("discriminator_predictions.dense_prediction", Linear(d, 1), h)
    elif head in ("ForMaskedLM", "ForCausalLM"):
        h = g.add("generator_predictions.dense", Linear(d, e_size), x)
        h = g.add("generator_predictions.activation", activation("gelu"), h)
        h = g.add("generator_predictions.LayerNorm", make("layernorm", normalized_shape=e_size, eps=eps), h)
        _tied_head(g, "generator_lm_head", h, words, e_size, vocab, tie)
    elif head == "ForSequenceClassification":
        drop = _classifier_dropout(f, "hidden_dropout_prob", 0.0)
        t = g.add("classifier.first_token", TakeToken(0), x)
        t = dropout(g, "classifier.dropout", drop, t)
        t = g.add("classifier.dense", Linear(d, d), t)
        t = g.add("classifier.activation", activation("gelu"), t)
        t = dropout(g, "classifier.dropout_out", drop, t)
        g.add("classifier.out_proj", Linear(d, _labels(f)), t)
    elif head == "ForTokenClassification":
        t = dropout(g, "dropout", _classifier_dropout(f, "hidden_dropout_prob", 0.0), x)
        g.add("classifier", Linear(d, _labels(f)), t)
    elif head == "ForQuestionAnswering":
        g.add("qa_outputs", Linear(d, _labels(f)), x)
    return g.build()


_ENCODER_HEADS = ("ForSequenceClassification", "ForTokenClassification", "ForQuestionAnswering")

FAMILIES: tuple[Family, ...] = (
    Family(
        "distilbert",
        tuple("DistilBert" + h for h in ("ForMaskedLM", "Model", *_ENCODER_HEADS)),
        {"vocab_size": 30522, "max_position_embeddings": 512, "sinusoidal_pos_embds": False, "n_layers": 6,
         "n_heads": 12, "dim": 768, "hidden_dim": 3072, "dropout": 0.1, "attention_dropout": 0.1,
         "activation": "gelu", "qa_dropout": 0.1, "seq_classif_dropout": 0.2, "pad_token_id": 0,
         "tie_word_embeddings": True},
        _distilbert,
        aliases={"hidden_size": "dim", "num_attention_heads": "n_heads", "num_hidden_layers": "n_layers"},
    ),
    Family(
        "albert",
        tuple("Albert" + h for h in ("ForMaskedLM", "Model", "ForPreTraining", *_ENCODER_HEADS)),
        {"vocab_size": 30000, "embedding_size": 128, "hidden_size": 4096, "num_hidden_layers": 12,
         "num_hidden_groups": 1, "num_attention_heads": 64, "intermediate_size": 16384, "inner_group_num": 1,
         "hidden_act": "gelu_new", "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
         "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
         "classifier_dropout_prob": 0.1, "pad_token_id": 0, "tie_word_embeddings": True},
        _albert,
    ),
    Family(
        "electra",
        tuple("Electra" + h for h in ("ForPreTraining", "Model", "ForMaskedLM", "ForCausalLM", *_ENCODER_HEADS)),
        {**_BERT_DEFAULTS, "embedding_size": 128, "hidden_size": 256, "num_attention_heads": 4,
         "intermediate_size": 1024, "use_cache": True, "classifier_dropout": None, "is_decoder": False,
         "add_cross_attention": False},
        _electra,
    ),
)
