"""Attention layers against torch: nn.MultiheadAttention, and F.scaled_dot_product_attention
(grouped-query via enable_gqa) behind nn.Linear projections."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import netsize
from netsize import Sequential, analyze, analyze_layer
from netsize.layers import GroupedQueryAttention, MultiheadAttention, ScaledDotProductAttention
from netsize.layers.attention import attention_pairs

torch = pytest.importorskip("torch")
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402


def _macs(fn) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        fn()
    return counter.get_total_flops() // 2


@settings(max_examples=60, deadline=None)
@given(
    heads=st.integers(1, 4),
    head_dim=st.integers(1, 5),
    n=st.integers(1, 3),
    q_len=st.integers(1, 6),
    k_len=st.integers(1, 6),
    bias=st.booleans(),
    add_bias_kv=st.booleans(),
    add_zero_attn=st.booleans(),
    kdim=st.one_of(st.none(), st.integers(1, 7)),
    vdim=st.one_of(st.none(), st.integers(1, 7)),
)
def test_multihead_attention_matches_torch(heads, head_dim, n, q_len, k_len, bias, add_bias_kv, add_zero_attn,
                                           kdim, vdim):
    e = heads * head_dim
    kd, vd = kdim or e, vdim or e
    m = torch.nn.MultiheadAttention(e, heads, bias=bias, add_bias_kv=add_bias_kv, add_zero_attn=add_zero_attn,
                                    kdim=kdim, vdim=vdim, batch_first=True)
    q, k, v = torch.randn(n, q_len, e), torch.randn(n, k_len, kd), torch.randn(n, k_len, vd)
    out, _ = m(q, k, v)
    expected_macs = _macs(lambda: m(q, k, v, need_weights=True))
    layer = MultiheadAttention(e, heads, bias=bias, add_bias_kv=add_bias_kv, add_zero_attn=add_zero_attn,
                               kdim=kdim, vdim=vdim)
    rec = analyze_layer("mha", layer, (tuple(q.shape), tuple(k.shape), tuple(v.shape)))
    assert rec.output_shape == tuple(out.shape)
    assert rec.params == sum(p.numel() for p in m.parameters())
    assert rec.multiply_adds == expected_macs


def test_self_attention_with_one_input_equals_three_same_inputs():
    layer = MultiheadAttention(16, 4)
    one = analyze_layer("a", layer, ((2, 5, 16),))
    three = analyze_layer("a", layer, ((2, 5, 16),) * 3)
    assert (one.params, one.multiply_adds) == (three.params, three.multiply_adds) == (1088, 2 * (4 * 5 * 16 * 16)
                                                                                      + 2 * 2 * 5 * 5 * 16)


class _TorchGQA(torch.nn.Module):
    def __init__(self, e, heads, kv_heads, head_dim, bias, out_bias, causal):
        super().__init__()
        self.h, self.kv, self.d, self.causal = heads, kv_heads, head_dim, causal
        self.q_proj = torch.nn.Linear(e, heads * head_dim, bias=bias)
        self.k_proj = torch.nn.Linear(e, kv_heads * head_dim, bias=bias)
        self.v_proj = torch.nn.Linear(e, kv_heads * head_dim, bias=bias)
        self.o_proj = torch.nn.Linear(heads * head_dim, e, bias=out_bias)

    def forward(self, x):
        n, s, _ = x.shape
        q = self.q_proj(x).view(n, s, self.h, self.d).transpose(1, 2)
        k = self.k_proj(x).view(n, s, self.kv, self.d).transpose(1, 2)
        v = self.v_proj(x).view(n, s, self.kv, self.d).transpose(1, 2)
        a = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=self.causal, enable_gqa=True)
        return self.o_proj(a.transpose(1, 2).reshape(n, s, self.h * self.d))


@settings(max_examples=60, deadline=None)
@given(
    kv_heads=st.integers(1, 3),
    group=st.integers(1, 3),
    head_dim=st.integers(1, 6),
    e=st.integers(1, 12),
    n=st.integers(1, 2),
    s=st.integers(1, 7),
    bias=st.booleans(),
    out_bias=st.booleans(),
    causal=st.booleans(),
)
def test_grouped_query_attention_matches_torch_sdpa_on_meta(kv_heads, group, head_dim, e, n, s, bias, out_bias,
                                                             causal):
    heads = kv_heads * group
    with torch.device("meta"):
        m = _TorchGQA(e, heads, kv_heads, head_dim, bias, out_bias, causal)
        x = torch.empty(n, s, e)
    expected = _macs(lambda: m(x))
    layer = GroupedQueryAttention(e, heads, kv_heads, head_dim, bias=bias, out_bias=out_bias, causal=causal,
                                  rotary=True)
    rec = analyze_layer("attn", layer, ((n, s, e),))
    assert rec.output_shape == tuple(m(x).shape)
    assert rec.params == sum(p.numel() for p in m.parameters())
    assert rec.multiply_adds == expected
    # The same attention as separate projections around the parameter-free core.
    g = netsize.Graph("decomposed", input_shape=(s, e))
    q = g.add("q", netsize.layers.Linear(e, heads * head_dim, bias), "input")
    k = g.add("k", netsize.layers.Linear(e, kv_heads * head_dim, bias), "input")
    v = g.add("v", netsize.layers.Linear(e, kv_heads * head_dim, bias), "input")
    a = g.add("core", ScaledDotProductAttention(heads, kv_heads, causal=causal), [q, k, v])
    g.add("o", netsize.layers.Linear(heads * head_dim, e, out_bias), a)
    totals = analyze(g.build(), batch_size=n).totals
    assert (totals.params, totals.multiply_adds) == (rec.params, rec.multiply_adds)


@settings(max_examples=200, deadline=None)
@given(q_len=st.integers(1, 12), extra=st.integers(0, 6), window=st.one_of(st.none(), st.integers(1, 12)))
def test_attention_pairs_equal_count_of_unmasked_entries(q_len, extra, window):
    k_len = q_len + extra
    offset = k_len - q_len
    brute = sum(
        1
        for i in range(q_len)
        for j in range(k_len)
        if j <= i + offset and (window is None or j > i + offset - window)
    )
    assert attention_pairs(q_len, k_len, causal=True, sliding_window=window) == brute
    assert attention_pairs(q_len, k_len, causal=False) == q_len * k_len


def test_causal_attention_reports_computed_and_needed():
    rec = analyze_layer("core", ScaledDotProductAttention(2, causal=True), ((1, 4, 6),) * 3)
    terms = {t.name: t.value for t in rec.analysis.extra_terms}
    d = 3
    assert rec.multiply_adds == 2 * 4 * 4 * (d + d)  # full 4x4 scores, as the kernel computes
    assert terms["attention_pairs"] == 16
    assert terms["attention_pairs_needed"] == 4 * 5 // 2
    assert terms["multiply_adds_needed"] == 2 * 10 * (d + d)
    assert "multiply-adds needed" in netsize.explain_record(rec)


def test_multi_query_attention_shares_one_key_value_head():
    mqa = analyze_layer("a", GroupedQueryAttention(64, 8, num_kv_heads=1), ((1, 10, 64),))
    kv = {t.name: t.value for t in mqa.analysis.extra_terms}["kv_cache_elements"]
    assert kv == 2 * 10 * 1 * 8
    assert mqa.params == 64 * 64 + 2 * 64 * 8 + 64 * 64


def test_cross_attention_reads_keys_from_memory():
    rec = analyze_layer("x", GroupedQueryAttention(8, 2), ((1, 3, 8), (1, 5, 8)))
    assert rec.output_shape == (1, 3, 8)
    assert rec.multiply_adds == 3 * 8 * 8 + 2 * 5 * 8 * 8 + 3 * 8 * 8 + 2 * 3 * 5 * 8


def test_packed_qkv_input_splits_in_three():
    rec = analyze_layer("core", ScaledDotProductAttention(4, causal=True), ((2, 5, 48),))
    assert rec.output_shape == (2, 5, 16)
    assert rec.multiply_adds == 2 * 4 * 5 * 5 * (4 + 4)


def test_errors_name_the_numbers():
    with pytest.raises(netsize.NetsizeError, match="num_heads=6 is not a multiple of num_kv_heads=4"):
        ScaledDotProductAttention(6, 4)
    with pytest.raises(netsize.NetsizeError, match="query has 8 features but embed_dim is 16; set embed_dim=8"):
        analyze(Sequential([("mha", MultiheadAttention(16, 2, kdim=16))], input_shape=(3, 8)))
    with pytest.raises(netsize.NetsizeError, match=r"query head size 4 \(= 8/2\) differs from key head size 2"):
        analyze_layer("core", ScaledDotProductAttention(2), ((1, 3, 8), (1, 3, 4), (1, 3, 4)))


def _saved_bytes(fn, x) -> dict[str, int]:
    """Bytes autograd keeps for backward during ``fn(x)`` (each storage once, ``x`` and parameters
    excluded), by dtype; dropout runs as on CUDA (``native_dropout``: a bool mask)."""
    from netsize.memory._torch_observe import _CudaDropout

    seen: dict[int, tuple[str, int]] = {}
    skip = {id(x.untyped_storage())}

    def pack(t):
        st_ = t.untyped_storage()
        if id(st_) not in skip and not isinstance(t, torch.nn.Parameter):
            seen[id(st_)] = (str(t.dtype).removeprefix("torch."), st_.nbytes())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), _CudaDropout():
        fn(x)
    out: dict[str, int] = {}
    for dtype, nbytes in seen.values():
        out[dtype] = out.get(dtype, 0) + nbytes
    return out


@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_eager_attention_saves_what_transformers_gpt2_eager_attention_saves(dropout):
    transformers = pytest.importorskip("transformers")
    from transformers.models.gpt2.modeling_gpt2 import GPT2Attention

    n, seq, heads, d = 2, 6, 4, 8
    cfg = transformers.GPT2Config(n_embd=heads * d, n_head=heads, n_positions=seq, attn_pdrop=dropout,
                                  resid_pdrop=0.0)
    cfg._attn_implementation = "eager"
    attn = GPT2Attention(cfg, layer_idx=0).train()
    x = torch.randn(n, seq, heads * d, requires_grad=True)
    got = _saved_bytes(lambda t: attn(t)[0], x)
    # GPT2Attention = c_attn (saves its input x: excluded) -> attention core -> c_proj (saves its input)
    layer = ScaledDotProductAttention(heads, causal=True, dropout=dropout)
    a = analyze_layer("attn", layer, ((n, seq, 3 * heads * d),)).analysis
    assert a.memory.saved_inputs == ()  # eager keeps head copies, not the packed c_attn output
    core_out = n * seq * heads * d  # c_proj's saved input
    assert got.get("float32", 0) == 4 * (a.memory.saved_extra_elements + core_out)
    assert got.get("bool", 0) == a.memory.saved_extra_bytes == (n * heads * seq * seq if dropout else 0)


def test_sdpa_attention_saves_inputs_output_and_logsumexp():
    n, seq, heads, d = 2, 6, 4, 8
    q, k, v = (torch.randn(n, heads, seq, d, requires_grad=True) for _ in range(3))
    seen: set[int] = set()
    sizes: dict[str, int] = {}

    def pack(t):
        st_ = t.untyped_storage()
        if id(st_) not in seen and id(st_) not in {id(u.untyped_storage()) for u in (q, k, v)}:
            seen.add(id(st_))
            sizes[str(t.dtype)] = sizes.get(str(t.dtype), 0) + st_.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    layer = ScaledDotProductAttention(heads, causal=True, implementation="sdpa")
    a = analyze_layer("attn", layer, ((n, seq, heads * d),) * 3).analysis
    assert a.memory.saved_inputs is None  # q, k, v themselves
    assert sizes == {"torch.float32": 4 * a.memory.saved_extra_elements}  # output + log-sum-exp
    assert a.memory.saved_float32_elements == n * heads * seq  # the log-sum-exp
    assert [t.value for t in a.extra_terms if t.name == "saved_float32_elements"] == [n * heads * seq]
    assert a.memory.workspace_elements == a.memory.workspace_float32_elements == 0  # fused kernels: no N*H*L*S tensor


def test_attention_implementation_is_checked():
    with pytest.raises(netsize.NetsizeError, match="implementation"):
        ScaledDotProductAttention(2, implementation="flash")
    with pytest.raises(netsize.NetsizeError, match="dropout"):
        ScaledDotProductAttention(2, dropout=1.0)


@pytest.mark.parametrize("autocast", [None, "bfloat16"])
def test_eager_attention_workspace_is_what_transformers_eager_attention_holds_at_its_peak(autocast):
    """Under no_grad, every allocation of transformers' eager_attention_forward (GPT-2's causal
    float mask, q, k, v as views of the packed c_attn output) is tracked on the meta device: the
    most bytes alive beyond the inputs is the workspace, two N*H*L*S tensors (float32 under
    autocast: the mask add and softmax results)."""
    pytest.importorskip("transformers")
    from transformers.models.gpt2.modeling_gpt2 import eager_attention_forward

    from netsize.memory import block_bytes
    from netsize.memory._torch_observe import _Allocator, _Autocast

    n, seq, heads, d = 2, 32, 4, 8  # S > 2d: the matmuls' head copies are smaller than a score tensor
    low = torch.bfloat16 if autocast else torch.float32
    alloc = _Allocator()
    with alloc, torch.no_grad():
        qkv = torch.empty(n, seq, 3 * heads * d, device="meta", dtype=low)  # c_attn's output
        q, k, v = (t.view(n, seq, heads, d).transpose(1, 2) for t in qkv.split(heads * d, dim=2))
        mask = torch.empty(n, 1, seq, seq, device="meta")  # transformers' float32 causal mask
        before = alloc.current
        alloc.reset_peak()
        modes = [_Autocast(torch.bfloat16)] if autocast else []
        for m in modes:
            m.__enter__()
        try:
            out, _ = eager_attention_forward(torch.nn.Module().eval(), q, k, v, mask, scaling=d**-0.5)
        finally:
            for m in reversed(modes):
                m.__exit__(None, None, None)
    a = analyze_layer("attn", ScaledDotProductAttention(heads, causal=True), ((n, seq, 3 * heads * d),)).analysis
    scores = n * heads * seq * seq
    assert a.memory.workspace_elements == a.memory.workspace_float32_elements == 2 * scores
    # float32 under autocast, the activation dtype (here float32) without: 4 bytes either way
    assert alloc.peak - before == 2 * block_bytes(4 * scores) == block_bytes(4 * a.memory.workspace_float32_elements)
    assert out.shape == (n, seq, heads, d)  # transposed back, before the caller merges the heads


# --- KV cache (kv_cache=True: transformers' use_cache) ---------------------------------------


def _an(layer, shapes, batch_size):
    from netsize._layer import Context

    return layer.analyze(tuple((batch_size, *s) for s in shapes), Context())


def _kv_layers(model, n, seq, train=False):
    """The DynamicCache layers transformers fills in one forward on the meta device, and, in
    training, the storages autograd saved."""
    saved = []
    model.train(train)
    ids = torch.zeros(n, seq, dtype=torch.long, device="meta")
    hooks = torch.autograd.graph.saved_tensors_hooks(lambda t: (saved.append(t), t)[1], lambda t: t)
    with hooks, torch.set_grad_enabled(train):
        out = model(input_ids=ids)
    assert out.past_key_values is not None  # use_cache is on in eval() and train() alike
    return out.past_key_values.layers, {t.untyped_storage()._cdata for t in saved}


@pytest.mark.parametrize(("family", "heads", "kv_heads"), [("gpt2", 4, 4), ("llama", 4, 2), ("llama", 4, 1)])
def test_kv_cache_retains_contiguous_keys_and_values_of_kv_heads_as_transformers(family, heads, kv_heads):
    """transformers' DynamicCache holds each layer's keys and values as contiguous tensors of their
    own (torch.cat), H_kv heads (before repeat_kv): together exactly the layer's retained_elements."""
    transformers = pytest.importorskip("transformers")
    n, seq, d = 3, 10, 16
    if family == "gpt2":
        cfg = transformers.GPT2Config(n_embd=heads * d, n_head=heads, n_layer=2, vocab_size=100, n_positions=32)
    else:
        cfg = transformers.LlamaConfig(hidden_size=heads * d, num_attention_heads=heads, num_key_value_heads=kv_heads,
                                       num_hidden_layers=2, intermediate_size=32, vocab_size=100)
    cfg._attn_implementation = "eager"
    with torch.device("meta"):
        model = (transformers.GPT2LMHeadModel if family == "gpt2" else transformers.LlamaForCausalLM)(cfg)
    cache, _ = _kv_layers(model, n, seq)
    core = ScaledDotProductAttention(heads, kv_heads, causal=True, kv_cache=True)
    a = _an(core, [(seq, heads * d), (seq, kv_heads * d), (seq, kv_heads * d)], batch_size=n)
    assert len(cache) == 2
    for layer in cache:
        k, v = layer.keys, layer.values
        assert k.is_contiguous() and v.is_contiguous()
        assert k.untyped_storage() is not v.untyped_storage()
        assert tuple(k.shape) == (n, kv_heads, seq, d)
        elements = (k.untyped_storage().nbytes() + v.untyped_storage().nbytes()) // k.element_size()
        assert elements == a.memory.retained_elements == 2 * n * seq * kv_heads * d


@pytest.mark.parametrize(("heads", "kv_heads"), [(4, 4), (4, 2)])
def test_kv_cache_in_training_is_the_saved_keys_and_values_unless_repeated(heads, kv_heads):
    """In train() (use_cache stays on) eager attention's matmuls save the cached K and V
    themselves when H_kv = H (repeat_kv is a no-op): retained_saved_elements = retained_elements;
    with grouped-query heads they save the repeated copies and the cache is apart."""
    transformers = pytest.importorskip("transformers")
    n, seq, d = 2, 8, 16
    cfg = transformers.LlamaConfig(hidden_size=heads * d, num_attention_heads=heads, num_key_value_heads=kv_heads,
                                   num_hidden_layers=2, intermediate_size=32, vocab_size=100)
    cfg._attn_implementation = "eager"
    with torch.device("meta"):
        model = transformers.LlamaForCausalLM(cfg)
    cache, saved = _kv_layers(model, n, seq, train=True)
    a = _an(ScaledDotProductAttention(heads, kv_heads, causal=True, kv_cache=True),
                      [(seq, heads * d), (seq, kv_heads * d), (seq, kv_heads * d)], batch_size=n)
    for layer in cache:
        in_saved = {layer.keys.untyped_storage()._cdata in saved, layer.values.untyped_storage()._cdata in saved}
        assert in_saved == {kv_heads == heads}
    assert a.memory.retained_saved_elements == (a.memory.retained_elements if kv_heads == heads else 0)


def test_kv_cache_changes_no_count_and_sdpa_keeps_it_apart():
    shape = [(16, 3 * 4 * 8)]
    plain = _an(ScaledDotProductAttention(4, causal=True), shape, batch_size=2)
    cached = _an(ScaledDotProductAttention(4, causal=True, kv_cache=True), shape, batch_size=2)
    assert plain.memory.retained_elements == 0
    assert cached.memory.retained_elements == cached.memory.retained_saved_elements == 2 * 2 * 16 * 4 * 8
    for f in ("multiply_adds", "other_ops", "weights"):
        assert getattr(plain, f) == getattr(cached, f)
    for f in ("saved_extra_elements", "workspace_elements"):
        assert getattr(plain.memory, f) == getattr(cached.memory, f)
    sdpa = _an(ScaledDotProductAttention(4, causal=True, implementation="sdpa", kv_cache=True), shape,
                         batch_size=2)
    assert sdpa.memory.retained_elements == cached.memory.retained_elements and sdpa.memory.retained_saved_elements == 0
