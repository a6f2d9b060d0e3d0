"""Embedding layers against torch.nn.Embedding, and their position rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import netsize
from netsize import Sequential, analyze, analyze_layer
from netsize.layers import Embedding, PositionalEmbedding, RelativePositionBias, SinusoidalPositionalEncoding

torch = pytest.importorskip("torch")


@settings(max_examples=100, deadline=None)
@given(
    vocab=st.integers(1, 50),
    dim=st.integers(1, 16),
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    padding=st.booleans(),
)
def test_embedding_matches_torch(vocab, dim, shape, padding):
    m = torch.nn.Embedding(vocab, dim, padding_idx=0 if padding else None)
    ids = torch.zeros(*shape, dtype=torch.long)
    rec = analyze_layer("emb", Embedding(vocab, dim, 0 if padding else None), (tuple(shape),))
    assert rec.output_shape == tuple(m(ids).shape)
    assert rec.params == sum(p.numel() for p in m.parameters())
    assert rec.multiply_adds == 0
    assert rec.saved_extra_bytes == 8 * ids.numel()  # the int64 indices autograd keeps


def test_learned_positions_count_the_table_and_bound_the_length():
    rec = analyze_layer("wpe", PositionalEmbedding(1024, 768), ((2, 10),))
    assert rec.output_shape == (2, 10, 768)
    assert rec.params == 1024 * 768
    with pytest.raises(netsize.NetsizeError, match="sequence length 1025 exceeds the 1024 learned positions"):
        analyze(Sequential([("wpe", PositionalEmbedding(1024, 8))], input_shape=(1025,)))


def test_sinusoidal_positions_have_no_parameters():
    rec = analyze_layer("pe", SinusoidalPositionalEncoding(16), ((2, 7, 16),))
    assert (rec.params, rec.buffers, rec.other_ops) == (0, 0, 2 * 7 * 16)
    table = analyze_layer("pe", SinusoidalPositionalEncoding(16, max_len=100), ((2, 7, 16),))
    assert table.buffers == 100 * 16
    with pytest.raises(netsize.NetsizeError, match="exceeds max_len=5"):
        analyze_layer("pe", SinusoidalPositionalEncoding(16, max_len=5), ((2, 7, 16),))


def test_relative_position_bias_matches_t5_table():
    transformers = pytest.importorskip("transformers")
    config = transformers.T5Config(d_model=16, d_kv=4, num_heads=4, relative_attention_num_buckets=32)
    attn = transformers.models.t5.modeling_t5.T5Attention(config, has_relative_attention_bias=True)
    rec = analyze_layer("bias", RelativePositionBias(32, 4), ((1, 6, 16), (1, 9, 16)))
    assert rec.params == attn.relative_attention_bias.weight.numel()
    bias = attn.compute_bias(6, 9)
    assert rec.output_shape == tuple(bias.shape)
