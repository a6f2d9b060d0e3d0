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
from netsize.frontends.hf_config._decoder import ACTIVATIONS, activation, dropout, make
from netsize.frontends.hf_config._families import (
    _BERT_DEFAULTS,
    BertBody,
    Family,
    _act,
    _attn_implementation,
    _heads,
    _labels,
    _use_cache,
    _vocab_projection,
    bert_layer,
    first_token_classification_heads,
)
from netsize.frontends.hf_config._fields import Fields
from netsize.layers.attention import ScaledDotProductAttention
from netsize.layers.disentangled_attention import DisentangledSelfAttention
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
    # token classification alone falls back to hidden_dropout_prob when the field is null
    token_p = cls_p if f.raw("classifier_dropout_prob") is not None else hidden_p
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
        t = dropout(g, "dropout", token_p, x)
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
    else:
        first_token_classification_heads(g, f, head, x, d, ("classifier.activation", activation("gelu")))
    return g.build()


# ----- DeBERTa-v2 -------------------------------------------------------------------------

_POS_ATT_TYPES = ("c2p", "p2c", "p2p")  # p2p: accepted by configs, unused by DeBERTa-v2's code


def _pos_att_type(f: Fields) -> set[str]:
    """``pos_att_type``: ``"p2c|c2p"`` (split at ``|``, lower-cased, as the config does) or a list."""
    raw = f.raw("pos_att_type")
    if raw is None:
        return set()
    items = [x.strip() for x in raw.lower().split("|")] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(x, str) and x in _POS_ATT_TYPES for x in items):
        raise f.error("pos_att_type", "must be a list (or a '|'-separated string) of 'c2p', 'p2c', 'p2p'", raw)
    return set(items)


def _deberta_v2(f: Fields, arch: str, seq_len: int) -> Network:
    """DeBERTa-v2/v3: disentangled attention (``relative_attention``) adds content-to-position
    (``c2p``) and position-to-content (``p2c``) scores against a shared table of
    ``2 * att_span`` relative positions (``att_span``: ``position_buckets`` when > 0, else
    ``max_relative_positions``, else ``max_position_embeddings``), projected in every layer by
    ``pos_key_proj``/``pos_query_proj`` or, with ``share_att_key``, by the layer's own
    ``key_proj``/``query_proj`` (called again: ``#2``). ``norm_rel_ebd: layer_norm`` normalises
    the table once per forward; ``conv_kernel_size > 0`` adds a convolution beside the first
    layer. Optional absolute positions (``position_biased_input``), token types
    (``type_vocab_size > 0``) and a factorised embedding (``embedding_size``, ``embed_proj``).
    The masked-LM head is the legacy ``cls.predictions`` (``legacy``, the default) or
    ``lm_predictions.lm_head``, which multiplies by the word embeddings themselves."""
    d, heads = f.int("hidden_size", min=1), f.int("num_attention_heads", min=1)
    _heads(f, "num_attention_heads", heads, d, "hidden_size")
    head_size = f.opt_int("attention_head_size", min=1)
    if head_size is not None and head_size * heads != d:
        raise f.error("attention_head_size", f"is not modelled by netsize unless num_attention_heads x "
                      f"attention_head_size = hidden_size ({d}; the output projection expects it)", head_size)
    layers, inter = f.int("num_hidden_layers", min=0), f.int("intermediate_size", min=1)
    act = _act(f, "hidden_act")
    vocab, positions = f.int("vocab_size", min=1), f.int("max_position_embeddings", min=1)
    e_size = f.opt_int("embedding_size", min=1) or d
    types = f.int("type_vocab_size", min=0)
    pad = f.opt_int("pad_token_id", min=-vocab, max=vocab - 1)
    eps = f.float("layer_norm_eps", min=0)
    hidden_p, attn_p = f.rate("hidden_dropout_prob"), f.rate("attention_probs_dropout_prob")
    biased_input = f.bool("position_biased_input", True)
    relative = f.bool("relative_attention", False)
    att_types = _pos_att_type(f)
    c2p, p2c = "c2p" in att_types, "p2c" in att_types
    share = f.bool("share_att_key", False)
    max_rel = f.int("max_relative_positions", default=-1)
    buckets = f.int("position_buckets", default=-1)
    norm_rel = f.raw("norm_rel_ebd", "none")
    if not isinstance(norm_rel, str) or not {x.strip() for x in norm_rel.lower().split("|")} <= {"none", "layer_norm"}:
        raise f.error("norm_rel_ebd", "must be 'none' or 'layer_norm'", norm_rel)
    kernel = f.int("conv_kernel_size", min=0, default=0)
    conv_groups = f.int("conv_groups", min=1, default=1)
    conv_act = f.str_choice("conv_act", ACTIVATIONS, default="tanh")
    if kernel and kernel % 2 == 0:
        raise f.error("conv_kernel_size", "must be odd (ConvLayer pads (k - 1) // 2 per side; an even kernel "
                      "shortens the sequence and its mask no longer fits)", kernel)
    if kernel and d % conv_groups:
        raise f.error("conv_groups", f"must divide hidden_size ({d})", conv_groups)
    f.float("pooler_dropout", min=0, below=1, default=0.0)
    pooler_size = f.opt_int("pooler_hidden_size", min=1)
    if pooler_size is not None and pooler_size != d:
        raise f.error("pooler_hidden_size", f"is not modelled by netsize unless it equals hidden_size ({d}; the "
                      "classifier reads hidden_size features)", pooler_size)
    legacy = f.bool("legacy", True)
    if not legacy and e_size != d and arch.endswith("ForMaskedLM"):
        raise f.error("legacy", f"false needs embedding_size = hidden_size ({d}): the head multiplies by the "
                      "word embeddings", False)
    tie = f.bool("tie_word_embeddings", True)
    span = buckets if buckets > 0 else (max_rel if max_rel >= 1 else positions)
    p = _prefix(arch, "DebertaV2", "deberta.")
    g = Graph(arch, inputs={"input_ids": (seq_len,)})
    e = f"{p}embeddings."
    words = g.add(f"{e}word_embeddings", Embedding(vocab, e_size, pad), "input_ids")
    parts = [words]
    if biased_input:
        parts.append(g.add(f"{e}position_embeddings", PositionalEmbedding(positions, e_size), "input_ids"))
    if types:
        parts.append(g.add(f"{e}token_type_embeddings", Embedding(types, e_size), "input_ids"))
    x = g.add(f"{e}add", make("add"), parts) if len(parts) > 1 else words
    if e_size != d:
        x = g.add(f"{e}embed_proj", Linear(e_size, d, bias=False), x)
    ln = {"normalized_shape": d, "eps": eps}
    x = g.add(f"{e}LayerNorm", make("layernorm", **ln), x)
    x = g.add(f"{e}mask", make("elementwise", op="mul"), x)  # embeddings * attention_mask
    x = dropout(g, f"{e}dropout", hidden_p, x)
    embedded = x
    rel = None
    if relative:
        rel = g.add(f"{p}encoder.rel_embeddings", make("parameter", shape=(1, 2 * span, d)), [])
        if "layer_norm" in norm_rel.lower():
            rel = g.add(f"{p}encoder.LayerNorm", make("layernorm", **ln), rel)
    for i in range(layers):
        b = f"{p}encoder.layer.{i}."
        a = f"{b}attention.self."
        q = g.add(f"{a}query_proj", Linear(d, d), x)
        k = g.add(f"{a}key_proj", Linear(d, d), x)
        v = g.add(f"{a}value_proj", Linear(d, d), x)
        table: list[str] = []
        if rel is not None:
            r = dropout(g, f"{a}pos_dropout", hidden_p, rel)
            if share:
                pos_q = g.add(f"{a}query_proj#2", Linear(d, d), r, tied_to=f"{a}query_proj")
                pos_k = g.add(f"{a}key_proj#2", Linear(d, d), r, tied_to=f"{a}key_proj")
            else:
                pos_k = g.add(f"{a}pos_key_proj", Linear(d, d), r) if c2p else ""
                pos_q = g.add(f"{a}pos_query_proj", Linear(d, d), r) if p2c else ""
            table = [t for t, used in ((pos_k, c2p), (pos_q, p2c)) if used]
        core = DisentangledSelfAttention(heads, c2p=bool(table) and c2p, p2c=bool(table) and p2c, dropout=attn_p)
        h = g.add(f"{a}attn", core, [q, k, v, *table])
        h = g.add(f"{b}attention.output.dense", Linear(d, d), h)
        h = dropout(g, f"{b}attention.output.dropout", hidden_p, h)
        h = g.add(f"{b}attention.output.residual", make("add"), [h, x])
        x = g.add(f"{b}attention.output.LayerNorm", make("layernorm", **ln), h)
        h = g.add(f"{b}intermediate.dense", Linear(d, inter), x)
        h = g.add(f"{b}intermediate.intermediate_act_fn", activation(act), h)
        h = g.add(f"{b}output.dense", Linear(inter, d), h)
        h = dropout(g, f"{b}output.dropout", hidden_p, h)
        h = g.add(f"{b}output.residual", make("add"), [h, x])
        x = g.add(f"{b}output.LayerNorm", make("layernorm", **ln), h)
        if i == 0 and kernel:
            c = f"{p}encoder.conv."
            t = g.add(f"{c}permute_in", make("transpose", perm=(0, 2, 1)), embedded)
            t = g.add(f"{c}conv", make("conv1d", in_channels=d, out_channels=d, kernel_size=kernel,
                                       padding=(kernel - 1) // 2, groups=conv_groups), t)
            t = g.add(f"{c}permute_out", make("transpose", perm=(0, 2, 1)), t)
            t = g.add(f"{c}mask_fill", make("elementwise", op="masked_fill"), t)
            t = dropout(g, f"{c}dropout", hidden_p, t)
            t = g.add(f"{c}activation", activation(conv_act), t)
            t = g.add(f"{c}residual", make("add"), [x, t])
            t = g.add(f"{c}LayerNorm", make("layernorm", **ln), t)
            x = g.add(f"{c}mask", make("elementwise", op="mul"), t)
    head = arch.removeprefix("DebertaV2")
    if head == "ForMaskedLM":
        if legacy:
            c = "cls.predictions."
            h = g.add(f"{c}transform.dense", Linear(d, e_size), x)
            h = g.add(f"{c}transform.transform_act_fn", activation(act), h)
            h = g.add(f"{c}transform.LayerNorm", make("layernorm", normalized_shape=e_size, eps=eps), h)
            _vocab_projection(g, f"{c}decoder", f"{c}bias", h, words, e_size, vocab, tie)
        else:
            c = "lm_predictions.lm_head."
            h = g.add(f"{c}dense", Linear(d, d), x)
            h = g.add(f"{c}transform_act_fn", activation(act), h)
            h = g.add(f"{c}LayerNorm", make("layernorm", **ln), h)
            h = g.add(f"{c}word_embeddings", Linear(d, vocab, bias=False), h, tied_to=words)
            g.add(f"{c}bias", BiasAdd(vocab), h)
    elif head == "ForSequenceClassification":
        t = g.add("pooler.first_token", TakeToken(0), x)
        t = dropout(g, "pooler.dropout", f.rate("pooler_dropout"), t)
        t = g.add("pooler.dense", Linear(d, d), t)
        t = g.add("pooler.activation", activation(f.str_choice("pooler_hidden_act", ACTIVATIONS)), t)
        cls_p = f.raw("cls_dropout")
        t = dropout(g, "dropout", f.rate("cls_dropout") if cls_p is not None else hidden_p, t)
        g.add("classifier", Linear(d, _labels(f)), t)
    elif head == "ForTokenClassification":
        t = dropout(g, "dropout", hidden_p, x)
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
    Family(
        "deberta-v2",
        tuple("DebertaV2" + h for h in ("Model", "ForMaskedLM", *_ENCODER_HEADS)),
        {"vocab_size": 128100, "hidden_size": 1536, "num_hidden_layers": 24, "num_attention_heads": 24,
         "intermediate_size": 6144, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
         "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 512, "type_vocab_size": 0,
         "layer_norm_eps": 1e-7, "relative_attention": False, "max_relative_positions": -1, "pad_token_id": 0,
         "position_biased_input": True, "pos_att_type": None, "pooler_dropout": 0.0, "pooler_hidden_act": "gelu",
         "legacy": True, "tie_word_embeddings": True},
        _deberta_v2,
    ),
)
