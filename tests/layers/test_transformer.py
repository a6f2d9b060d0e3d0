"""Feed-forward, gated, mixture-of-experts layers, and whole transformer blocks built from them, against torch."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import netsize
from netsize import Graph, Layer, Network, analyze, analyze_layer, layer_type
from netsize.layers import (
    FeedForward,
    GatedFeedForward,
    Linear,
    MixtureOfExperts,
    MultiheadAttention,
    ScaledDotProductAttention,
)

torch = pytest.importorskip("torch")
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

nn = torch.nn


def _macs(fn) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        fn()
    return counter.get_total_flops() // 2


@settings(max_examples=60, deadline=None)
@given(d=st.integers(1, 12), f=st.integers(1, 20), rows=st.lists(st.integers(1, 4), min_size=1, max_size=2),
       bias=st.booleans())
def test_feed_forward_matches_torch(d, f, rows, bias):
    m = nn.Sequential(nn.Linear(d, f, bias=bias), nn.GELU(), nn.Linear(f, d, bias=bias))
    x = torch.randn(*rows, d)
    rec = analyze_layer("ffn", FeedForward(d, f, bias=bias), (tuple(x.shape),))
    assert rec.output_shape == tuple(m(x).shape)
    assert rec.params == sum(p.numel() for p in m.parameters())
    assert rec.multiply_adds == _macs(lambda: m(x))


class _SwiGLU(nn.Module):
    def __init__(self, d, f, bias):
        super().__init__()
        self.gate, self.up, self.down = nn.Linear(d, f, bias), nn.Linear(d, f, bias), nn.Linear(f, d, bias)

    def forward(self, x):
        return self.down(nn.functional.silu(self.gate(x)) * self.up(x))


@settings(max_examples=60, deadline=None)
@given(d=st.integers(1, 12), f=st.integers(1, 20), n=st.integers(1, 3), s=st.integers(1, 5), bias=st.booleans())
def test_gated_feed_forward_matches_torch(d, f, n, s, bias):
    m = _SwiGLU(d, f, bias)
    x = torch.randn(n, s, d)
    rec = analyze_layer("mlp", GatedFeedForward(d, f, bias=bias), ((n, s, d),))
    assert rec.params == sum(p.numel() for p in m.parameters())
    assert rec.multiply_adds == _macs(lambda: m(x))


class _MoE(nn.Module):
    """Top-k routing over per-expert SwiGLUs, experts run on their routed tokens only."""

    def __init__(self, d, f, experts, k):
        super().__init__()
        self.k = k
        self.router = nn.Linear(d, experts, bias=False)
        self.experts = nn.ModuleList(_SwiGLU(d, f, False) for _ in range(experts))

    def forward(self, x):
        flat = x.reshape(-1, x.shape[-1])
        weights, chosen = torch.topk(self.router(flat).softmax(-1), self.k, dim=-1)
        out = torch.zeros_like(flat)
        for e, expert in enumerate(self.experts):
            token, slot = torch.where(chosen == e)
            if len(token):
                out.index_add_(0, token, expert(flat[token]) * weights[token, slot, None])
        return out.view_as(x)


@settings(max_examples=40, deadline=None)
@given(d=st.integers(1, 8), f=st.integers(1, 8), experts=st.integers(1, 5), k=st.integers(1, 5),
       n=st.integers(1, 2), s=st.integers(1, 6))
def test_mixture_of_experts_counts_top_k_experts_per_token(d, f, experts, k, n, s):
    k = min(k, experts)
    m = _MoE(d, f, experts, k)
    x = torch.randn(n, s, d)
    rec = analyze_layer("moe", MixtureOfExperts(d, f, experts, k), ((n, s, d),))
    assert rec.params == sum(p.numel() for p in m.parameters())
    assert rec.multiply_adds == _macs(lambda: m(x))
    terms = {t.name: t.value for t in rec.analysis.extra_terms}
    assert terms["params_total"] == rec.params
    one_expert = sum(p.numel() for p in m.experts[0].parameters())
    assert terms["params_active"] == m.router.weight.numel() + k * one_expert


@settings(max_examples=25, deadline=None)
@given(heads=st.integers(1, 3), head_dim=st.integers(1, 4), ff=st.integers(1, 16), s=st.integers(1, 5),
       n=st.integers(1, 2), norm_first=st.booleans(), bias=st.booleans())
def test_encoder_block_matches_torch_transformer_encoder_layer(heads, head_dim, ff, s, n, norm_first, bias):
    d = heads * head_dim
    m = nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0, batch_first=True, norm_first=norm_first, bias=bias)
    x = torch.randn(n, s, d)
    net = encoder_block(d, heads, ff, seq_len=s, norm_first=norm_first, bias=bias)
    summary = analyze(net, batch_size=n)
    assert summary.totals.params == sum(p.numel() for p in m.parameters())
    # need_weights=False takes the SDPA path, uncounted on CPU; the same layer computed with
    # need_weights=True shows its attention products.
    sa = m.self_attn
    expected = _macs(lambda: (sa(x, x, x, need_weights=True), m.linear2(m.linear1(x))))
    assert summary.totals.multiply_adds == expected
    assert summary.output_shapes[0] == tuple(m(x).shape)


@settings(max_examples=20, deadline=None)
@given(heads=st.integers(1, 3), head_dim=st.integers(1, 4), ff=st.integers(1, 16), s=st.integers(1, 5),
       mem=st.integers(1, 5), norm_first=st.booleans())
def test_decoder_block_matches_torch_transformer_decoder_layer(heads, head_dim, ff, s, mem, norm_first):
    d = heads * head_dim
    m = nn.TransformerDecoderLayer(d, heads, ff, dropout=0.0, batch_first=True, norm_first=norm_first)
    tgt, memory = torch.randn(1, s, d), torch.randn(1, mem, d)
    net = decoder_block(d, heads, ff, seq_len=s, memory_len=mem, norm_first=norm_first)
    summary = analyze(net)
    assert summary.totals.params == sum(p.numel() for p in m.parameters())
    expected = _macs(lambda: (m.self_attn(tgt, tgt, tgt, need_weights=True),
                              m.multihead_attn(tgt, memory, memory, need_weights=True),
                              m.linear2(m.linear1(tgt))))
    assert summary.totals.multiply_adds == expected
    assert summary.output_shapes[0] == tuple(m(tgt, memory).shape)


def test_llama_block_matches_transformers_decoder_layer():
    transformers = pytest.importorskip("transformers")
    config = transformers.LlamaConfig(hidden_size=32, intermediate_size=40, num_attention_heads=4,
                                      num_key_value_heads=2, num_hidden_layers=1, vocab_size=10)
    config._attn_implementation = "eager"
    with torch.device("meta"):
        model = transformers.LlamaModel(config)
    layer = model.layers[0]
    net = llama_block(32, 4, 40, seq_len=6, num_kv_heads=2)
    summary = analyze(net, batch_size=2)
    assert summary.totals.params == sum(p.numel() for p in layer.parameters())
    with torch.device("meta"):
        ids = torch.zeros(2, 6, dtype=torch.long)
    whole = _macs(lambda: model(input_ids=ids))  # one layer, no LM head: the layer's work
    assert summary.totals.multiply_adds == whole


def test_block_counts_are_the_sum_of_their_layers():
    g = Graph("two", input_shape=(5, 16))
    g.add_network("layers.0", llama_block(16, 4, 24, seq_len=5, num_kv_heads=1))
    g.add_network("layers.1", llama_block(16, 4, 24, seq_len=5, moe=(4, 2)))
    s = analyze(g.build(), batch_size=3)
    rows = {r.name: r for r in s.rows(depth=2)}  # torchinfo's depth: layers.0 is the second level
    for block in ("layers.0", "layers.1"):
        members = [r for r in s.layers if r.name.startswith(block + ".")]
        assert rows[block].params == sum(r.params for r in members) > 0
        assert rows[block].multiply_adds == sum(r.multiply_adds for r in members) > 0


def test_errors_name_the_numbers():
    with pytest.raises(netsize.NetsizeError, match="top_k=3 exceeds num_experts=2"):
        MixtureOfExperts(8, 8, 2, 3)
    with pytest.raises(netsize.NetsizeError, match="expects 8 features but receives 6"):
        analyze_layer("ffn", FeedForward(8, 4), ((1, 6),))
    with pytest.raises(netsize.NetsizeError, match="unknown activation 'gelux'"):
        FeedForward(8, 4, activation="gelux")


@pytest.mark.parametrize("bias", [False, True])
def test_fused_feed_forwards_count_like_their_separate_layers(bias):
    from netsize.layers import GELU, Linear, Multiply, SiLU

    g = Graph("ffn", input_shape=(5, 8))
    h = g.add("fc1", Linear(8, 12, bias), "input")
    h = g.add("act", GELU(), h)
    g.add("fc2", Linear(12, 8, bias), h)
    plain = analyze(g.build(), batch_size=2).totals
    fused = analyze_layer("ffn", FeedForward(8, 12, "gelu", bias), ((2, 5, 8),))
    assert (fused.params, fused.multiply_adds, fused.other_ops) == (
        plain.params, plain.multiply_adds, plain.other_ops)

    g = Graph("swiglu", input_shape=(5, 8))
    gate = g.add("act", SiLU(), g.add("gate", Linear(8, 12, bias), "input"))
    up = g.add("up", Linear(8, 12, bias), "input")
    g.add("down", Linear(12, 8, bias), g.add("mul", Multiply(), [gate, up]))
    gated = analyze(g.build(), batch_size=2).totals
    fused = analyze_layer("mlp", GatedFeedForward(8, 12, "silu", bias), ((2, 5, 8),))
    assert (fused.params, fused.multiply_adds, fused.other_ops) == (
        gated.params, gated.multiply_adds, gated.other_ops)


@pytest.mark.parametrize("autocast", [None, "bfloat16"])
def test_new_gelu_saves_what_transformers_new_gelu_activation_saves(autocast):
    pytest.importorskip("transformers")
    from transformers.activations import NewGELUActivation

    from netsize.layers.transformer import NewGELU
    from netsize.memory._torch_observe import _Autocast

    shape = (2, 5, 12)
    low = torch.bfloat16 if autocast else torch.float32
    x = torch.randn(*shape, requires_grad=True)
    xin = x.to(low)  # the input as the previous (autocast) matmul hands it over
    seen: dict[int, int] = {}

    def pack(t):
        seen[id(t.untyped_storage())] = t.untyped_storage().nbytes()
        return t

    act = NewGELUActivation()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        if autocast:
            with _Autocast(torch.bfloat16):
                act(xin)
        else:
            act(xin)
    a = analyze_layer("act", NewGELU(), ((*shape,),)).analysis
    n = 2 * 5 * 12
    fp32 = a.memory.saved_float32_elements
    assert [t.value for t in a.extra_terms if t.name == "saved_float32_elements"] == [fp32]
    assert a.memory.saved_inputs == (0,) and a.memory.saved_extra_elements == 3 * n == fp32
    # its input in its own dtype + the float32 part (all float32 without autocast)
    assert sum(seen.values()) == n * low.itemsize + 4 * fp32
    # counts are tanh-GELU's
    gelu = analyze_layer("g", netsize.layers.GELU(approximate="tanh"), ((*shape,),))
    assert a.other_ops == gelu.analysis.other_ops


# ----- blocks as PyTorch and transformers build them, from netsize's layers --------------------
# (the config frontend builds its own; these compose the layers the way torch.nn does, so that
# the whole block is checked against torch)


def _make(name: str, **fields: object) -> Layer:
    """A layer by its registered name."""
    return layer_type(name)(**fields)


def _act(activation: str) -> Layer:
    if activation.startswith("gelu"):
        approx = "tanh" if activation in ("gelu_new", "gelu_tanh", "gelu_pytorch_tanh") else "none"
        return _make("gelu", approximate=approx)
    return _make({"swish": "silu"}.get(activation, activation))


def encoder_block(
    d_model: int,
    nhead: int,
    dim_feedforward: int = 2048,
    seq_len: int = 1,
    activation: str = "relu",
    layer_norm_eps: float = 1e-5,
    norm_first: bool = False,
    bias: bool = True,
) -> Network:
    """``torch.nn.TransformerEncoderLayer`` (batch first) as a network with its module names:
    ``self_attn``, ``linear1``, ``activation``, ``linear2``, ``norm1``, ``norm2`` and the two
    residual adds. ``norm_first`` is pre-norm; the default is post-norm as PyTorch's.
    """
    g = Graph("encoder_block", input_shape=(seq_len, d_model))
    ln = {"normalized_shape": d_model, "eps": layer_norm_eps, "bias": bias}
    x = "input"
    h = g.add("norm1", _make("layernorm", **ln), x) if norm_first else x
    h = g.add("self_attn", MultiheadAttention(d_model, nhead, bias=bias), h)
    x = g.add("add1", _make("add"), [x, h])
    if not norm_first:
        x = g.add("norm1", _make("layernorm", **ln), x)
    h = g.add("norm2", _make("layernorm", **ln), x) if norm_first else x
    h = g.add("linear1", _linear(d_model, dim_feedforward, bias), h)
    h = g.add("activation", _act(activation), h)
    h = g.add("linear2", _linear(dim_feedforward, d_model, bias), h)
    x = g.add("add2", _make("add"), [x, h])
    if not norm_first:
        g.add("norm2", _make("layernorm", **ln), x)
    return g.build()


def decoder_block(
    d_model: int,
    nhead: int,
    dim_feedforward: int = 2048,
    seq_len: int = 1,
    memory_len: int | None = None,
    activation: str = "relu",
    layer_norm_eps: float = 1e-5,
    norm_first: bool = False,
    bias: bool = True,
    causal: bool = True,
) -> Network:
    """``torch.nn.TransformerDecoderLayer`` (batch first): inputs ``tgt`` and ``memory``;
    ``self_attn`` (causal by default), ``multihead_attn`` (cross-attention to ``memory``),
    ``linear1``, ``linear2``, ``norm1..3``.
    """
    g = Graph("decoder_block", inputs={"tgt": (seq_len, d_model), "memory": (memory_len or seq_len, d_model)})
    ln = {"normalized_shape": d_model, "eps": layer_norm_eps, "bias": bias}
    x = "tgt"
    h = g.add("norm1", _make("layernorm", **ln), x) if norm_first else x
    h = g.add("self_attn", MultiheadAttention(d_model, nhead, bias=bias, causal=causal), h)
    x = g.add("add1", _make("add"), [x, h])
    if not norm_first:
        x = g.add("norm1", _make("layernorm", **ln), x)
    h = g.add("norm2", _make("layernorm", **ln), x) if norm_first else x
    h = g.add("multihead_attn", MultiheadAttention(d_model, nhead, bias=bias), [h, "memory", "memory"])
    x = g.add("add2", _make("add"), [x, h])
    if not norm_first:
        x = g.add("norm2", _make("layernorm", **ln), x)
    h = g.add("norm3", _make("layernorm", **ln), x) if norm_first else x
    h = g.add("linear1", _linear(d_model, dim_feedforward, bias), h)
    h = g.add("activation", _act(activation), h)
    h = g.add("linear2", _linear(dim_feedforward, d_model, bias), h)
    x = g.add("add3", _make("add"), [x, h])
    if not norm_first:
        g.add("norm3", _make("layernorm", **ln), x)
    return g.build()


def llama_block(
    hidden_size: int,
    num_heads: int,
    intermediate_size: int,
    seq_len: int = 1,
    num_kv_heads: int | None = None,
    head_dim: int | None = None,
    eps: float = 1e-6,
    attention_bias: bool = False,
    o_bias: bool = False,
    mlp_bias: bool = False,
    activation: str = "silu",
    sliding_window: int | None = None,
    moe: tuple[int, int] | None = None,
    kv_cache: bool = False,
) -> Network:
    """A pre-norm decoder layer as LLaMA/Mistral/Qwen2/Mixtral name it: ``input_layernorm``,
    ``self_attn.{q,k,v,o}_proj`` around a causal rotary ``self_attn.attn`` core (grouped-query
    when ``num_kv_heads < num_heads``), ``post_attention_layernorm`` and ``mlp`` (SwiGLU
    ``gate_proj/up_proj/down_proj``, or a :class:`MixtureOfExperts` when ``moe=(experts, top_k)``).
    ``kv_cache``: the attention keeps its keys and values until the forward returns.
    """
    d, h = hidden_size, num_heads
    kv = num_kv_heads or h
    hd = head_dim or d // h
    g = Graph("decoder_layer", input_shape=(seq_len, d))
    rms = {"normalized_shape": d, "eps": eps}
    x = "input"
    n = g.add("input_layernorm", _make("rmsnorm", **rms), x)
    q = g.add("self_attn.q_proj", _linear(d, h * hd, attention_bias), n)
    k = g.add("self_attn.k_proj", _linear(d, kv * hd, attention_bias), n)
    v = g.add("self_attn.v_proj", _linear(d, kv * hd, attention_bias), n)
    a = g.add(
        "self_attn.attn",
        ScaledDotProductAttention(
            h, kv, causal=True, sliding_window=sliding_window, rotary=True, kv_cache=kv_cache
        ),
        [q, k, v],
    )
    o = g.add("self_attn.o_proj", _linear(h * hd, d, o_bias), a)
    x = g.add("residual1", _make("add"), [x, o])
    n = g.add("post_attention_layernorm", _make("rmsnorm", **rms), x)
    if moe is not None:
        experts, top_k = moe
        m = g.add("mlp", MixtureOfExperts(d, intermediate_size, experts, top_k, activation=activation), n)
    else:
        gate = g.add("mlp.gate_proj", _linear(d, intermediate_size, mlp_bias), n)
        act = g.add("mlp.act_fn", _act(activation), gate)
        up = g.add("mlp.up_proj", _linear(d, intermediate_size, mlp_bias), n)
        prod = g.add("mlp.mul", _make("multiply"), [act, up])
        m = g.add("mlp.down_proj", _linear(intermediate_size, d, mlp_bias), prod)
    g.add("residual2", _make("add"), [x, m])
    return g.build()


def _linear(n_in: int, n_out: int, bias: bool) -> Layer:
    return Linear(n_in, n_out, bias)

