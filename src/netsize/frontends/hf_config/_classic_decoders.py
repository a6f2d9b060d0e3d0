"""Falcon, OPT, BLOOM, GPT-J, GPTBigCode and StableLM, built natively from config fields.

Builders follow the rules in :mod:`._families`: module names as transformers 5.23 names them,
every field the modeling code reads either modelled, checked as having no effect on counts, or
refused by name.
"""

from __future__ import annotations

from dataclasses import replace

from netsize._errors import NetsizeError
from netsize._network import Graph, Network
from netsize.frontends.hf_config._decoder import activation, dropout, make, norm
from netsize.frontends.hf_config._families import (
    GPT2_ALIASES,
    Family,
    _act,
    _attn_implementation,
    _classifier_dropout,
    _head_kind,
    _heads,
    _labels,
    _use_cache,
    decoder_architectures,
)
from netsize.frontends.hf_config._fields import Fields
from netsize.layers.attention import ScaledDotProductAttention
from netsize.layers.embedding import Embedding, PositionalEmbedding
from netsize.layers.linear import Linear

_LN_EPS = 1e-5  # nn.LayerNorm's default, for families whose config has no epsilon (OPT)


def _output_head(g: Graph, f: Fields, head: str, x: str, d: int, vocab: int, emb: str, tie: bool, *,
                 lm_bias: bool = False, token_cls: str = "classifier", dropout_fallback: str | None = None,
                 qa_labels: bool = False) -> None:
    """The head classes these families share: ``lm_head`` (tied to the embeddings when ``tie``;
    a tied head with a bias keeps its own bias), ``score`` (no bias), dropout + ``classifier``
    (token classification), ``qa_outputs`` (2 outputs, or ``num_labels`` for GPT-J)."""
    if head == "lm":
        if lm_bias and tie:  # the weight is the embeddings', the bias the head's own
            h = g.add("lm_head", Linear(d, vocab, bias=False), x, tied_to=emb)
            g.add("lm_head.bias", make("bias_add", features=vocab), h)
        else:
            g.add("lm_head", Linear(d, vocab, bias=lm_bias), x, tied_to=emb if tie else None)
    elif head == "seq_cls":
        g.add("score", Linear(d, _labels(f), bias=False), x)
    elif head == "token_cls":
        x = dropout(g, "dropout", _classifier_dropout(f, dropout_fallback, 0.1), x)
        g.add(token_cls, Linear(d, _labels(f)), x)
    elif head == "qa":
        g.add("qa_outputs", Linear(d, _labels(f) if qa_labels else 2), x)


def _causal_core(heads: int, kv_heads: int, f: Fields, *, rotary: bool, p: float,
                 kernels: tuple[str, ...] | None = None) -> ScaledDotProductAttention:
    """The family's causal attention. ``kernels``: when given, the only fused kernels its
    transformers code has (BLOOM none, GPT-J flash-attention only, no sdpa); any other request
    runs eager, transformers' default for them (``netsize plan`` asks for sdpa by default)."""
    impl = _attn_implementation(f)
    if impl != "eager" and kernels is not None:
        name = str(f.raw("_attn_implementation") or f.raw("attn_implementation"))
        impl = impl if any(k in name for k in kernels) else "eager"
    return ScaledDotProductAttention(heads, kv_heads, causal=True, rotary=rotary, dropout=p, implementation=impl,
                                     kv_cache=_use_cache(f))


# ----- Falcon -----------------------------------------------------------------------------


def _falcon(f: Fields, arch: str, seq_len: int) -> Network:
    """Falcon (RW) decoders. ``query_key_value`` packs the queries and the keys and values of
    ``num_kv_heads`` heads (new decoder architecture, Falcon-40B/180B), of one head
    (``multi_query``, Falcon-7B) or of every head. ``parallel_attn`` feeds attention and MLP from
    the same input (one norm, or ``ln_attn``/``ln_mlp`` with ``num_ln_in_parallel_attn`` 2, the
    new architecture's default); ``alibi`` replaces rotary positions by linear biases (no count
    of work: they are added to the scores with the mask). ``bias`` gives every projection a bias.

    KV cache: the new architecture broadcasts each key/value head to its group of query heads
    *before* transformers' ``DynamicCache`` stores them, so the cache holds ``num_attention_heads``
    heads (as transformers keeps it, not the ``num_kv_heads`` a serving engine would).

    Kernels: with ``sdpa``, multi-query Falcon hands one key/value head to
    ``scaled_dot_product_attention`` without ``enable_gqa``, which no fused kernel takes: PyTorch
    runs its math path, modelled as eager attention. Not modelled: with ALiBi, the causal mask
    carries the biases per head (``N*H*L*S``, built once and kept by every sdpa call)."""
    d, heads = f.int("hidden_size", min=1), f.int("num_attention_heads", min=1)
    hd = _heads(f, "num_attention_heads", heads, d, "hidden_size")
    layers, vocab = f.int("num_hidden_layers", min=0), f.int("vocab_size", min=1)
    new = f.bool("new_decoder_architecture", False)
    multi_query = f.bool("multi_query", True)
    parallel = f.bool("parallel_attn", True)
    kv = f.opt_int("num_kv_heads", min=1) or heads
    alibi, bias = f.bool("alibi", False), f.bool("bias", False)
    ff = f.opt_int("ffn_hidden_size", min=1) or 4 * d
    act = _act(f, "activation")
    eps = f.float("layer_norm_epsilon", min=0)
    hidden_p, attn_p = f.rate("hidden_dropout"), f.rate("attention_dropout")
    n_ln = f.opt_int("num_ln_in_parallel_attn", min=1, max=2)
    tie = f.bool("tie_word_embeddings", True)
    if new:
        if not parallel:
            raise f.error("parallel_attn", "must be true with new_decoder_architecture (transformers' "
                          "FalconDecoderLayer builds no ln_attn/ln_mlp otherwise and fails in forward)", False)
        if heads % kv:
            raise f.error("num_attention_heads", f"must be a multiple of num_kv_heads ({kv})", heads)
        n_ln = 2 if n_ln is None else n_ln
        qkv_heads = kv
    else:
        if parallel and n_ln == 2:
            raise f.error("num_ln_in_parallel_attn", "2 needs new_decoder_architecture (the old layout "
                          "reads input_layernorm, which transformers then does not build)", 2)
        if not multi_query and kv != heads:
            raise f.error("num_kv_heads", f"must equal num_attention_heads ({heads}) unless multi_query or "
                          "new_decoder_architecture is set (transformers reshapes the keys to that many heads)", kv)
        qkv_heads = 1 if multi_query else heads
    head = _head_kind(arch)
    p = "" if head == "none" else "transformer."
    g = Graph(arch, inputs={"input_ids": (seq_len,)})
    emb = g.add(f"{p}word_embeddings", Embedding(vocab, d), "input_ids")
    x = emb
    for i in range(layers):
        b = f"{p}h.{i}."
        if new and n_ln == 2:
            attn_in = g.add(f"{b}ln_attn", norm("layernorm", d, eps), x)
            mlp_in = g.add(f"{b}ln_mlp", norm("layernorm", d, eps), x)
        else:
            attn_in = mlp_in = g.add(f"{b}input_layernorm", norm("layernorm", d, eps), x)
        a = f"{b}self_attention."
        qkv = g.add(f"{a}query_key_value", Linear(d, (heads + 2 * qkv_heads) * hd, bias), attn_in)
        parts = g.add(f"{a}split", make("split", split_size_or_sections=(heads * hd, qkv_heads * hd,
                                                                         qkv_heads * hd), dim=-1), qkv)
        k, v = f"{parts}:1", f"{parts}:2"
        core_kv = qkv_heads
        if new and kv != heads:  # torch.broadcast_to each key/value head over its group, then copied
            k, v = (_broadcast_heads(g, f"{a}{name}", t, kv, heads // kv, hd) for name, t in (("key", k), ("value", v)))
            core_kv = heads
        core = _causal_core(heads, core_kv, f, rotary=not alibi, p=attn_p if alibi else 0.0)
        if core_kv != heads and core.implementation == "sdpa":
            # one key/value head passed to F.scaled_dot_product_attention without enable_gqa:
            # no fused kernel takes it, PyTorch runs its math path (matmul, softmax, matmul)
            core = replace(core, implementation="eager")
        o = g.add(f"{a}attn", core, [f"{parts}:0", k, v])
        o = g.add(f"{a}dense", Linear(d, d, bias), o)
        if new or parallel:
            m = _falcon_mlp(g, b, d, ff, act, bias, mlp_in)
            m = g.add(f"{b}mlp_add_attention", make("add"), [m, o])
        else:
            o = dropout(g, f"{b}attention_dropout", attn_p, o)
            x = g.add(f"{b}residual1", make("add"), [x, o])
            n = g.add(f"{b}post_attention_layernorm", norm("layernorm", d, eps), x)
            m = _falcon_mlp(g, b, d, ff, act, bias, n)
        m = dropout(g, f"{b}hidden_dropout", hidden_p, m)
        x = g.add(f"{b}residual", make("add"), [x, m])
    x = g.add(f"{p}ln_f", norm("layernorm", d, eps), x)
    _output_head(g, f, head, x, d, vocab, emb, tie, dropout_fallback="hidden_dropout")
    return g.build()


def _broadcast_heads(g: Graph, name: str, x: str, kv: int, group: int, hd: int) -> str:
    t = g.add(f"{name}_heads", make("reshape", shape=(-1, kv, 1, hd)), x)
    t = g.add(f"{name}_broadcast", make("expand", shape=(1, 1, kv, group, hd)), t)
    return g.add(f"{name}_merge", make("reshape", shape=(-1, kv * group * hd)), t)


def _falcon_mlp(g: Graph, b: str, d: int, ff: int, act: str, bias: bool, x: str) -> str:
    h = g.add(f"{b}mlp.dense_h_to_4h", Linear(d, ff, bias), x)
    h = g.add(f"{b}mlp.act", activation(act), h)
    return g.add(f"{b}mlp.dense_4h_to_h", Linear(ff, d, bias), h)



# ----- OPT --------------------------------------------------------------------------------


def _opt(f: Fields, arch: str, seq_len: int) -> Network:
    """OPT: learned positions with transformers' offset of 2 (``max_position_embeddings + 2``
    rows), word embeddings of ``word_embed_proj_dim`` projected in and out (``project_in``,
    ``project_out``, OPT-350m) when it differs from ``hidden_size``, norms before
    (``do_layer_norm_before``) or after each sublayer (350m), ``enable_bias`` on every
    projection, ``layer_norm_elementwise_affine``. ``layerdrop`` skips whole layers at random in
    training: no count changes."""
    d, heads = f.int("hidden_size", min=1), f.int("num_attention_heads", min=1)
    _heads(f, "num_attention_heads", heads, d, "hidden_size")
    layers, vocab = f.int("num_hidden_layers", min=0), f.int("vocab_size", min=1)
    ff = f.int("ffn_dim", min=1)
    positions = f.int("max_position_embeddings", min=1)
    proj = f.opt_int("word_embed_proj_dim", min=1) or d
    before = f.bool("do_layer_norm_before", True)
    final_norm = before and not f.bool("_remove_final_layer_norm", False)
    bias, affine = f.bool("enable_bias", True), f.bool("layer_norm_elementwise_affine", True)
    act = _act(f, "activation_function")
    drop, attn_p = f.rate("dropout"), f.rate("attention_dropout")
    f.rate("layerdrop")
    pad = f.opt_int("pad_token_id", min=-vocab, max=vocab - 1)
    tie = f.bool("tie_word_embeddings", True)
    if seq_len > positions:
        raise NetsizeError(f"{f.source}: sequence length {seq_len} exceeds OPT's {positions} positions "
                           f"(max_position_embeddings); use --seq-len {positions} or less")
    head = _head_kind(arch)
    p = "decoder." if head == "none" else "model.decoder."
    g = Graph(arch, inputs={"input_ids": (seq_len,)})
    ln = "layernorm" if affine else "layernorm_noparams"
    emb = g.add(f"{p}embed_tokens", Embedding(vocab, proj, pad), "input_ids")
    pos = g.add(f"{p}embed_positions", PositionalEmbedding(positions + 2, d), "input_ids")
    x = g.add(f"{p}project_in", Linear(proj, d, bias=False), emb) if proj != d else emb
    x = g.add(f"{p}embed_add", make("add"), [x, pos])
    for i in range(layers):
        b = f"{p}layers.{i}."
        n = g.add(f"{b}self_attn_layer_norm", norm(ln, d, _LN_EPS), x) if before else x
        a = f"{b}self_attn."
        q = g.add(f"{a}q_proj", Linear(d, d, bias), n)
        k = g.add(f"{a}k_proj", Linear(d, d, bias), n)
        v = g.add(f"{a}v_proj", Linear(d, d, bias), n)
        o = g.add(f"{a}attn", _causal_core(heads, heads, f, rotary=False, p=attn_p), [q, k, v])
        o = g.add(f"{a}out_proj", Linear(d, d, bias), o)
        o = dropout(g, f"{b}attn_dropout", drop, o)
        x = g.add(f"{b}residual1", make("add"), [x, o])
        if not before:
            x = g.add(f"{b}self_attn_layer_norm", norm(ln, d, _LN_EPS), x)
        n = g.add(f"{b}final_layer_norm", norm(ln, d, _LN_EPS), x) if before else x
        m = g.add(f"{b}fc1", Linear(d, ff, bias), n)
        m = g.add(f"{b}activation_fn", activation(act), m)
        m = g.add(f"{b}fc2", Linear(ff, d, bias), m)
        m = dropout(g, f"{b}mlp_dropout", drop, m)
        x = g.add(f"{b}residual2", make("add"), [x, m])
        if not before:
            x = g.add(f"{b}final_layer_norm", norm(ln, d, _LN_EPS), x)
    if final_norm:
        x = g.add(f"{p}final_layer_norm", norm(ln, d, _LN_EPS), x)
    if proj != d:
        x = g.add(f"{p}project_out", Linear(d, proj, bias=False), x)
    _output_head(g, f, head, x, proj, vocab, emb, tie)
    return g.build()


# ----- BLOOM ------------------------------------------------------------------------------


def _bloom(f: Fields, arch: str, seq_len: int) -> Network:
    """BLOOM: a LayerNorm on the word embeddings, ALiBi positions (linear biases added to the
    scores by ``baddbmm``: no table, no length limit, no count of work), a packed
    ``query_key_value`` per head, a tanh-GELU MLP of ``4*hidden_size``. With
    ``apply_residual_connection_post_layernorm`` the residuals start from the norms' outputs.
    ``pretraining_tp`` > 1 with ``slow_but_exact`` splits ``dense`` and ``dense_4h_to_h`` into
    slices (same multiply-adds; their bias adds are then skipped, not modelled)."""
    d, heads = f.int("hidden_size", min=1), f.int("n_head", min=1)
    _heads(f, "n_head", heads, d, "hidden_size")
    layers, vocab = f.int("n_layer", min=0), f.int("vocab_size", min=1)
    eps = f.float("layer_norm_epsilon", min=0)
    hidden_p, attn_p = f.rate("hidden_dropout"), f.rate("attention_dropout")
    post = f.bool("apply_residual_connection_post_layernorm", False)
    f.int("pretraining_tp", min=1)
    f.bool("slow_but_exact", False)
    tie = f.bool("tie_word_embeddings", True)
    head = _head_kind(arch)
    p = "" if head == "none" else "transformer."
    g = Graph(arch, inputs={"input_ids": (seq_len,)})
    emb = g.add(f"{p}word_embeddings", Embedding(vocab, d), "input_ids")
    x = g.add(f"{p}word_embeddings_layernorm", norm("layernorm", d, eps), emb)
    for i in range(layers):
        b = f"{p}h.{i}."
        n = g.add(f"{b}input_layernorm", norm("layernorm", d, eps), x)
        a = f"{b}self_attention."
        qkv = g.add(f"{a}query_key_value", Linear(d, 3 * d), n)
        o = g.add(f"{a}attn", _causal_core(heads, heads, f, rotary=False, p=attn_p, kernels=()), qkv)
        o = g.add(f"{a}dense", Linear(d, d), o)
        o = dropout(g, f"{a}hidden_dropout", hidden_p, o)
        x = g.add(f"{b}residual1", make("add"), [n if post else x, o])
        n = g.add(f"{b}post_attention_layernorm", norm("layernorm", d, eps), x)
        m = g.add(f"{b}mlp.dense_h_to_4h", Linear(d, 4 * d), n)
        m = g.add(f"{b}mlp.gelu_impl", activation("gelu_pytorch_tanh"), m)
        m = g.add(f"{b}mlp.dense_4h_to_h", Linear(4 * d, d), m)
        m = dropout(g, f"{b}mlp.hidden_dropout", hidden_p, m)
        x = g.add(f"{b}residual2", make("add"), [n if post else x, m])
    x = g.add(f"{p}ln_f", norm("layernorm", d, eps), x)
    _output_head(g, f, head, x, d, vocab, emb, tie, dropout_fallback="hidden_dropout")
    return g.build()


# ----- GPT-J ------------------------------------------------------------------------------


def _gptj(f: Fields, arch: str, seq_len: int) -> Network:
    """GPT-J: attention and MLP side by side on one LayerNorm (``x + attn(ln_1(x)) +
    mlp(ln_1(x))``), bias-free q/k/v/out projections, rotary positions on the first
    ``rotary_dim`` features of each head (the rotation's few element-wise ops are counted as if on
    the whole head), an ``lm_head`` with a bias (tied or not). ``GPTJForQuestionAnswering`` has
    ``num_labels`` outputs but its forward splits them into start and end: only 2 run."""
    d, heads = f.int("n_embd", min=1), f.int("n_head", min=1)
    hd = _heads(f, "n_head", heads, d, "n_embd")
    layers, vocab = f.int("n_layer", min=0), f.int("vocab_size", min=1)
    f.int("n_positions", min=1)
    rotary_dim = f.int("rotary_dim", min=1, max=hd)
    if rotary_dim % 2:
        raise f.error("rotary_dim", "must be even (the rotation pairs features)", rotary_dim)
    inner = f.opt_int("n_inner", min=1) or 4 * d
    act = _act(f, "activation_function")
    eps = f.float("layer_norm_epsilon", min=0)
    embd, resid, attn_p = f.rate("embd_pdrop"), f.rate("resid_pdrop"), f.rate("attn_pdrop")
    tie = f.bool("tie_word_embeddings", False)
    head = _head_kind(arch)
    if head == "qa" and _labels(f) != 2:
        raise f.error("num_labels", "must be 2 for GPTJForQuestionAnswering (its forward splits qa_outputs into "
                      "start and end logits)", _labels(f))
    p = "" if head == "none" else "transformer."
    g = Graph(arch, inputs={"input_ids": (seq_len,)})
    emb = g.add(f"{p}wte", Embedding(vocab, d), "input_ids")
    x = dropout(g, f"{p}drop", embd, emb)
    for i in range(layers):
        b = f"{p}h.{i}."
        n = g.add(f"{b}ln_1", norm("layernorm", d, eps), x)
        a = f"{b}attn."
        q = g.add(f"{a}q_proj", Linear(d, d, bias=False), n)
        k = g.add(f"{a}k_proj", Linear(d, d, bias=False), n)
        v = g.add(f"{a}v_proj", Linear(d, d, bias=False), n)
        o = g.add(f"{a}attn", _causal_core(heads, heads, f, rotary=True, p=attn_p, kernels=("flash",)),
                  [q, k, v])
        o = g.add(f"{a}out_proj", Linear(d, d, bias=False), o)
        o = dropout(g, f"{a}resid_dropout", resid, o)
        m = g.add(f"{b}mlp.fc_in", Linear(d, inner), n)
        m = g.add(f"{b}mlp.act", activation(act), m)
        m = g.add(f"{b}mlp.fc_out", Linear(inner, d), m)
        m = dropout(g, f"{b}mlp.dropout", resid, m)
        x = g.add(f"{b}residual", make("add"), [o, m, x])
    x = g.add(f"{p}ln_f", norm("layernorm", d, eps), x)
    _output_head(g, f, head, x, d, vocab, emb, tie, lm_bias=True, qa_labels=True)
    return g.build()


# ----- GPTBigCode (SantaCoder, StarCoder) -------------------------------------------------


def _gpt_bigcode(f: Fields, arch: str, seq_len: int) -> Network:
    """GPTBigCode: GPT-2 with one key/value head (``multi_query``, the default) packed after the
    queries in ``c_attn``. ``scale_attn_weights`` and the float32 softmax switches change no
    count; ``add_cross_attention`` is refused (transformers cannot run it: multi-query refuses
    it, and without multi-query its key/value split fails)."""
    d, heads = f.int("n_embd", min=1), f.int("n_head", min=1)
    hd = _heads(f, "n_head", heads, d, "n_embd")
    layers, vocab = f.int("n_layer", min=0), f.int("vocab_size", min=1)
    positions = f.int("n_positions", min=1)
    inner = f.opt_int("n_inner", min=1) or 4 * d
    act = _act(f, "activation_function")
    eps = f.float("layer_norm_epsilon", min=0)
    embd, resid, attn_p = f.rate("embd_pdrop"), f.rate("resid_pdrop"), f.rate("attn_pdrop")
    kv = 1 if f.bool("multi_query", True) else heads
    for key in ("scale_attn_weights", "attention_softmax_in_fp32", "scale_attention_softmax_in_fp32"):
        f.bool(key, True)
    if f.bool("add_cross_attention", False):
        raise f.error("add_cross_attention", "is not modelled by netsize (transformers' GPTBigCode cannot run "
                      "cross-attention: NotImplementedError with multi_query, a failed split without)", True)
    tie = f.bool("tie_word_embeddings", True)
    head = _head_kind(arch)
    p = "" if head == "none" else "transformer."
    g = Graph(arch, inputs={"input_ids": (seq_len,)})
    emb = g.add(f"{p}wte", Embedding(vocab, d), "input_ids")
    pos = g.add(f"{p}wpe", PositionalEmbedding(positions, d), "input_ids")
    x = g.add(f"{p}embed_add", make("add"), [emb, pos])
    x = dropout(g, f"{p}drop", embd, x)
    for i in range(layers):
        b = f"{p}h.{i}."
        n = g.add(f"{b}ln_1", norm("layernorm", d, eps), x)
        a = f"{b}attn."
        qkv = g.add(f"{a}c_attn", Linear(d, d + 2 * kv * hd), n)
        parts = g.add(f"{a}split", make("split", split_size_or_sections=(d, kv * hd, kv * hd), dim=-1), qkv)
        o = g.add(f"{a}attn", _causal_core(heads, kv, f, rotary=False, p=attn_p),
                  [f"{parts}:0", f"{parts}:1", f"{parts}:2"])
        o = g.add(f"{a}c_proj", Linear(d, d), o)
        o = dropout(g, f"{a}resid_dropout", resid, o)
        x = g.add(f"{b}residual1", make("add"), [o, x])
        n = g.add(f"{b}ln_2", norm("layernorm", d, eps), x)
        m = g.add(f"{b}mlp.c_fc", Linear(d, inner), n)
        m = g.add(f"{b}mlp.act", activation(act), m)
        m = g.add(f"{b}mlp.c_proj", Linear(inner, d), m)
        m = dropout(g, f"{b}mlp.dropout", resid, m)
        x = g.add(f"{b}residual2", make("add"), [x, m])
    x = g.add(f"{p}ln_f", norm("layernorm", d, eps), x)
    _output_head(g, f, head, x, d, vocab, emb, tie, dropout_fallback="hidden_dropout")
    return g.build()


# ----- StableLM ---------------------------------------------------------------------------


def _partial_rotary(f: Fields) -> None:
    """``partial_rotary_factor`` (top level or in ``rope_parameters``/``rope_scaling``): the
    share of each head that rotates; it changes no count of work netsize states."""
    if f.raw("partial_rotary_factor") is not None:
        f.float("partial_rotary_factor", min=0, max=1)
    for key in ("rope_parameters", "rope_scaling"):
        nested = f.raw(key)
        if isinstance(nested, dict) and nested.get("partial_rotary_factor") is not None:
            f.sub(key).float("partial_rotary_factor", min=0, max=1)


def _stablelm(f: Fields, arch: str, seq_len: int) -> Network:
    """StableLM (3B-4E1T, StableLM 2): LayerNorms with biases, q/k/v biases with
    ``use_qkv_bias``, a gated SiLU MLP without biases, partial rotary positions
    (``partial_rotary_factor``), optional per-head q/k LayerNorms (``qk_layernorm``: one
    weight-only LayerNorm of ``head_dim`` per head, ``norms.0`` ... as transformers holds them) and
    optionally attention and MLP side by side on one norm (``use_parallel_residual``).
    ``hidden_dropout`` drops the MLP's output only."""
    d, heads = f.int("hidden_size", min=1), f.int("num_attention_heads", min=1)
    hd = _heads(f, "num_attention_heads", heads, d, "hidden_size")
    kv = f.opt_int("num_key_value_heads", min=1) or heads
    if heads % kv:
        raise f.error("num_attention_heads", f"must be a multiple of num_key_value_heads ({kv})", heads)
    layers, vocab = f.int("num_hidden_layers", min=0), f.int("vocab_size", min=1)
    ff = f.int("intermediate_size", min=1)
    act = _act(f, "hidden_act")
    eps = f.float("layer_norm_eps", min=0)
    qkv_bias, qk_norm = f.bool("use_qkv_bias", False), f.bool("qk_layernorm", False)
    parallel = f.bool("use_parallel_residual", False)
    hidden_p, attn_p = f.rate("hidden_dropout"), f.rate("attention_dropout")
    pad = f.opt_int("pad_token_id", min=-vocab, max=vocab - 1)
    tie = f.bool("tie_word_embeddings", False)
    _partial_rotary(f)
    head = _head_kind(arch)
    p = "" if head == "none" else "model."
    g = Graph(arch, inputs={"input_ids": (seq_len,)})
    emb = g.add(f"{p}embed_tokens", Embedding(vocab, d, pad), "input_ids")
    x = emb
    for i in range(layers):
        b = f"{p}layers.{i}."
        n = g.add(f"{b}input_layernorm", norm("layernorm", d, eps), x)
        a = f"{b}self_attn."
        q = g.add(f"{a}q_proj", Linear(d, heads * hd, qkv_bias), n)
        k = g.add(f"{a}k_proj", Linear(d, kv * hd, qkv_bias), n)
        v = g.add(f"{a}v_proj", Linear(d, kv * hd, qkv_bias), n)
        if qk_norm:
            q = _norm_per_head(g, f"{a}q_layernorm", q, heads, hd, eps)
            k = _norm_per_head(g, f"{a}k_layernorm", k, kv, hd, eps)
        o = g.add(f"{a}attn", _causal_core(heads, kv, f, rotary=True, p=attn_p), [q, k, v])
        o = g.add(f"{a}o_proj", Linear(d, d, bias=False), o)
        if parallel:
            m = dropout(g, f"{b}dropout", hidden_p, _gated_mlp(g, f"{b}mlp.", d, ff, act, n))
            x = g.add(f"{b}residual", make("add"), [x, o, m])
        else:
            x = g.add(f"{b}residual1", make("add"), [x, o])
            n = g.add(f"{b}post_attention_layernorm", norm("layernorm", d, eps), x)
            m = dropout(g, f"{b}dropout", hidden_p, _gated_mlp(g, f"{b}mlp.", d, ff, act, n))
            x = g.add(f"{b}residual2", make("add"), [x, m])
    x = g.add(f"{p}norm", norm("layernorm", d, eps), x)
    _output_head(g, f, head, x, d, vocab, emb, tie, token_cls="score", dropout_fallback="hidden_dropout")
    return g.build()


def _norm_per_head(g: Graph, name: str, x: str, heads: int, hd: int, eps: float) -> str:
    """StableLmLayerNormPerHead: split the heads, one weight-only LayerNorm each, concatenate."""
    parts = g.add(f"{name}.split", make("split", split_size_or_sections=hd, dim=-1), x)
    normed = [g.add(f"{name}.norms.{j}", norm("layernorm_nobias", hd, eps), f"{parts}:{j}") for j in range(heads)]
    return g.add(f"{name}.cat", make("concat", dim=-1), normed)


def _gated_mlp(g: Graph, m: str, d: int, ff: int, act: str, x: str) -> str:
    gate = g.add(f"{m}gate_proj", Linear(d, ff, bias=False), x)
    gate = g.add(f"{m}act_fn", activation(act), gate)
    up = g.add(f"{m}up_proj", Linear(d, ff, bias=False), x)
    h = g.add(f"{m}mul", make("multiply"), [gate, up])
    return g.add(f"{m}down_proj", Linear(ff, d, bias=False), h)


FAMILIES: tuple[Family, ...] = (
    Family(
        "falcon",
        decoder_architectures("Falcon"),
        {"vocab_size": 65024, "hidden_size": 4544, "num_hidden_layers": 32, "num_attention_heads": 71,
         "num_ln_in_parallel_attn": None, "layer_norm_epsilon": 1e-5, "use_cache": True, "hidden_dropout": 0.0,
         "attention_dropout": 0.0, "num_kv_heads": None, "alibi": False, "new_decoder_architecture": False,
         "multi_query": True, "parallel_attn": True, "bias": False, "max_position_embeddings": 2048,
         "ffn_hidden_size": None, "activation": "gelu", "tie_word_embeddings": True},
        _falcon,
        aliases={"n_embed": "hidden_size"},
    ),
    Family(
        "opt",
        decoder_architectures("OPT", ("ForCausalLM", "Model", "ForSequenceClassification", "ForQuestionAnswering")),
        {"vocab_size": 50272, "hidden_size": 768, "num_hidden_layers": 12, "ffn_dim": 3072,
         "max_position_embeddings": 2048, "do_layer_norm_before": True, "_remove_final_layer_norm": False,
         "word_embed_proj_dim": None, "dropout": 0.1, "attention_dropout": 0.0, "num_attention_heads": 12,
         "activation_function": "relu", "layerdrop": 0.0, "use_cache": True, "pad_token_id": 1,
         "enable_bias": True, "layer_norm_elementwise_affine": True, "tie_word_embeddings": True},
        _opt,
    ),
    Family(
        "bloom",
        decoder_architectures("Bloom"),
        {"vocab_size": 250880, "hidden_size": 64, "n_layer": 2, "n_head": 8, "layer_norm_epsilon": 1e-5,
         "use_cache": True, "pad_token_id": None, "apply_residual_connection_post_layernorm": False,
         "hidden_dropout": 0.0, "attention_dropout": 0.0, "pretraining_tp": 1, "slow_but_exact": False,
         "tie_word_embeddings": True},
        _bloom,
        aliases={"num_hidden_layers": "n_layer", "num_attention_heads": "n_head", "n_embed": "hidden_size"},
        position_key=None,
    ),
    Family(
        "gptj",
        decoder_architectures("GPTJ", ("ForCausalLM", "Model", "ForSequenceClassification", "ForQuestionAnswering")),
        {"vocab_size": 50400, "n_positions": 2048, "n_embd": 4096, "n_layer": 28, "n_head": 16, "rotary_dim": 64,
         "n_inner": None, "activation_function": "gelu_new", "resid_pdrop": 0.0, "embd_pdrop": 0.0,
         "attn_pdrop": 0.0, "layer_norm_epsilon": 1e-5, "use_cache": True, "tie_word_embeddings": False},
        _gptj,
        aliases=GPT2_ALIASES,
        position_key="n_positions",
    ),
    Family(
        "gpt_bigcode",
        decoder_architectures("GPTBigCode", ("ForCausalLM", "Model", "ForSequenceClassification",
                                             "ForTokenClassification")),
        {"vocab_size": 50257, "n_positions": 1024, "n_embd": 768, "n_layer": 12, "n_head": 12, "n_inner": None,
         "activation_function": "gelu_pytorch_tanh", "resid_pdrop": 0.1, "embd_pdrop": 0.1, "attn_pdrop": 0.1,
         "layer_norm_epsilon": 1e-5, "scale_attn_weights": True, "use_cache": True,
         "attention_softmax_in_fp32": True, "scale_attention_softmax_in_fp32": True, "multi_query": True,
         "add_cross_attention": False, "tie_word_embeddings": True},
        _gpt_bigcode,
        aliases=GPT2_ALIASES,
        position_key="n_positions",
    ),
    Family(
        "stablelm",
        decoder_architectures("StableLm", ("ForCausalLM", "Model", "ForSequenceClassification",
                                           "ForTokenClassification")),
        {"vocab_size": 50304, "intermediate_size": 6912, "hidden_size": 2560, "num_hidden_layers": 32,
         "num_attention_heads": 32, "num_key_value_heads": 32, "hidden_act": "silu", "max_position_embeddings": 4096,
         "layer_norm_eps": 1e-5, "use_cache": True, "tie_word_embeddings": False, "use_qkv_bias": False,
         "qk_layernorm": False, "use_parallel_residual": False, "hidden_dropout": 0.0, "attention_dropout": 0.0,
         "pad_token_id": None},
        _stablelm,
    ),
)

__all__ = ["FAMILIES"]

