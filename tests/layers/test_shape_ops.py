"""Flatten, Unflatten, Reshape, Permute, Identity and the dropouts against torch."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsize import Context, NetsizeError, analyze_layer, explain_record, layer_type, layers

torch = pytest.importorskip("torch")
nn = torch.nn
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

shapes = st.lists(st.integers(1, 5), min_size=1, max_size=5).map(tuple)
LAST = Context(layout="channels_last")


def saved_storages(fn, x):
    """(total elements of the float tensors autograd saved, total bytes of the others, output)."""
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        y = fn(x)
    seen, elems, other = set(), 0, 0
    for t in saved:
        ptr = t.untyped_storage().data_ptr()
        if ptr in seen:
            continue
        seen.add(ptr)
        if t.is_floating_point():
            elems += t.numel()
        else:
            other += t.numel() * t.element_size()
    return elems, other, y


def assert_view_matches(layer, fn, shape):
    rec = analyze_layer("v", layer, (shape,))
    x = torch.randn(shape, requires_grad=True)
    with FlopCounterMode(display=False) as counter:
        elems, other, y = saved_storages(fn, x)
    assert rec.output_shape == tuple(y.shape)
    assert rec.saved_elements == elems == 0 and rec.saved_extra_bytes == other == 0
    assert rec.params == rec.buffers == rec.multiply_adds == rec.other_ops == counter.get_total_flops() == 0
    assert rec.analysis.memory.inplace and y.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()
    return rec


@settings(max_examples=150, deadline=None)
@given(shape=shapes, data=st.data())
def test_flatten_matches_torch(shape, data):
    rank = len(shape)
    start = data.draw(st.integers(-rank, rank - 1), label="start")
    end = data.draw(st.integers(start % rank - rank, -1) | st.integers(start % rank, rank - 1), label="end")
    rec = assert_view_matches(layers.Flatten(start, end), nn.Flatten(start, end), shape)
    assert rec.analysis.shape_terms[0].value == math.prod(shape[start % rank : end % rank + 1])


def test_flatten_channels_last_counts_the_same():
    ours = analyze_layer("f", layers.Flatten(), ((2, 6, 6, 256),), LAST)
    assert ours.output_shape == tuple(nn.Flatten()(torch.zeros(2, 256, 6, 6)).shape) == (2, 9216)
    assert "O_F = I_1*I_2*I_3 = 6*6*256 = 9,216" in explain_record(ours)


def test_flatten_rejects_reversed_dims():
    with pytest.raises(NetsizeError, match="comes after end_dim"):
        analyze_layer("f", layers.Flatten(2, 1), ((2, 3, 4),))


@settings(max_examples=150, deadline=None)
@given(shape=st.lists(st.integers(1, 5), min_size=2, max_size=4).map(tuple), data=st.data())
def test_reshape_matches_torch_view(shape, data):
    per_sample = math.prod(shape[1:])
    # A target shape: a factorisation of the per-sample count, one entry maybe -1.
    factors, rest = [], per_sample
    for _ in range(data.draw(st.integers(0, 3), label="cuts")):
        divs = [d for d in range(1, rest + 1) if rest % d == 0]
        f = data.draw(st.sampled_from(divs))
        factors.append(f)
        rest //= f
    factors.append(rest)
    if data.draw(st.booleans(), label="infer"):
        factors[data.draw(st.integers(0, len(factors) - 1))] = -1
    assert_view_matches(layers.Reshape(tuple(factors)), lambda x: x.view(shape[0], *factors), shape)


def test_reshape_mismatch_names_both_counts():
    with pytest.raises(NetsizeError, match=r"holds 24 elements per sample but the input has 27"):
        analyze_layer("r", layers.Reshape((4, 6)), ((2, 3, 3, 3),))
    with pytest.raises(NetsizeError, match=r"27 elements .* not divisible by 4"):
        analyze_layer("r", layers.Reshape((4, -1)), ((2, 3, 3, 3),))


def test_reshape_explains_the_inferred_size():
    text = explain_record(analyze_layer("r", layers.Reshape((-1, 8)), ((2, 4, 4, 4),)))
    assert "inferred size (-1) = elements/known = 64/8 = 8" in text


@settings(max_examples=100, deadline=None)
@given(shape=shapes, data=st.data())
def test_unflatten_matches_torch(shape, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    size = shape[dim]
    divs = [d for d in range(1, size + 1) if size % d == 0]
    a = data.draw(st.sampled_from(divs), label="a")
    sizes = (a, -1) if data.draw(st.booleans()) else (a, size // a)
    assert_view_matches(layers.Unflatten(dim, sizes), nn.Unflatten(dim, sizes), shape)


@settings(max_examples=100, deadline=None)
@given(shape=shapes, data=st.data())
def test_permute_matches_torch_in_both_spellings(shape, data):
    order = data.draw(st.permutations(range(len(shape))), label="order")
    assert_view_matches(layers.Permute(tuple(order)), lambda x: x.permute(*order), shape)
    if len(shape) < 2:
        return
    keras = data.draw(st.permutations(range(1, len(shape))), label="keras")
    rec = analyze_layer("p", layers.Permute(tuple(keras)), (shape,))
    assert rec.output_shape == tuple(torch.zeros(shape).permute(0, *keras).shape)


def test_permute_rejects_a_non_permutation():
    with pytest.raises(NetsizeError, match="not a permutation"):
        analyze_layer("p", layers.Permute((0, 1, 1)), ((2, 3, 4),))
    with pytest.raises(NetsizeError, match="has 2 entries but the input 2x3x4x5 has 4 axes"):
        analyze_layer("p", layers.Permute((1, 2)), ((2, 3, 4, 5),))


def test_identity_matches_torch():
    assert_view_matches(layers.Identity(), nn.Identity(), (2, 3, 4))


DROPOUTS = {
    "Dropout": (layers.Dropout, nn.Dropout, 1),
    "Dropout1d": (layers.Dropout1d, nn.Dropout1d, 3),
    "Dropout2d": (layers.Dropout2d, nn.Dropout2d, 4),
    "Dropout3d": (layers.Dropout3d, nn.Dropout3d, 5),
    "AlphaDropout": (layers.AlphaDropout, nn.AlphaDropout, 1),
    "FeatureAlphaDropout": (layers.FeatureAlphaDropout, nn.FeatureAlphaDropout, 4),
}


@pytest.mark.parametrize("name", sorted(DROPOUTS))
@settings(max_examples=30, deadline=None)
@given(data=st.data(), p=st.floats(0.05, 0.95), inplace=st.booleans())
def test_dropout_saves_what_torch_saves(name, data, p, inplace):
    ours, theirs, rank = DROPOUTS[name]
    shape = data.draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank if rank > 1 else 4).map(tuple))
    rec = analyze_layer("d", ours(p, inplace), (shape,))
    module = theirs(p, inplace).train()
    x = torch.randn(shape, requires_grad=True) * 1
    elems, other, y = saved_storages(module, x)
    assert rec.output_shape == tuple(y.shape)
    assert rec.params == rec.buffers == rec.other_ops == rec.multiply_adds == 0
    assert rec.analysis.memory.inplace == (y.untyped_storage().data_ptr() == x.untyped_storage().data_ptr())
    if name == "Dropout":
        # CUDA's fused native_dropout keeps a bool mask (1 byte per element), which netsize
        # models; the CPU path here keeps a float noise tensor with the same element count.
        assert rec.saved_extra_bytes == elems + other and rec.saved_elements == 0
    else:
        assert rec.saved_elements == elems and rec.saved_extra_bytes == other == 0


def test_dropout_without_probability_saves_nothing():
    rec = analyze_layer("d", layers.Dropout(0.0), ((4, 10),))
    elems, other, _ = saved_storages(nn.Dropout(0.0), torch.randn(4, 10, requires_grad=True))
    assert rec.saved_extra_bytes == rec.saved_elements == elems + other == 0


def test_dropout2d_channels_last_counts_sample_channels():
    rec = analyze_layer("d", layers.Dropout2d(0.5), ((2, 7, 7, 16),), LAST)
    assert rec.analysis.memory.saved_extra_elements == 2 * 16
    assert "saved noise elements = N*C = 2*16 = 32" in explain_record(rec)


def test_dropout_rejects_probability_above_one():
    with pytest.raises(NetsizeError, match=r"between 0 and 1 \(got 1.5\)"):
        layers.Dropout(1.5)


def test_names_resolve():
    assert layer_type("SpatialDropout2D") is layers.Dropout2d
    assert layer_type("view") is layers.Reshape
