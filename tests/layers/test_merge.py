"""Merge and split ops against torch: broadcasting, concatenation, splits, saved tensors; and in a graph."""

from __future__ import annotations

import functools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsize import Context, Graph, NetsizeError, analyze, analyze_layer, explain_record, layer_type, layers

torch = pytest.importorskip("torch")
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

LAST = Context(layout="channels_last")


def saved_elements(fn, xs):
    """Elements of the distinct tensors autograd saves for ``fn(*xs)``, and the result."""
    saved = []
    with (
        FlopCounterMode(display=False) as counter,
        torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t),
    ):
        y = fn(*xs)
    assert counter.get_total_flops() == 0
    seen, total = set(), 0
    for t in saved:
        if t.untyped_storage().data_ptr() not in seen:
            seen.add(t.untyped_storage().data_ptr())
            total += t.numel()
    return total, y


@st.composite
def broadcastable(draw):
    """2-4 shapes that broadcast: a full shape, each input a suffix with some axes set to 1."""
    full = draw(st.lists(st.integers(1, 4), min_size=1, max_size=4))
    shapes = []
    for _ in range(draw(st.integers(1, 4))):
        k = draw(st.integers(1, len(full)))
        shapes.append(tuple(1 if draw(st.booleans()) else d for d in full[-k:]))
    return shapes


OPS = {
    "Add": (layers.Add, torch.add, 1),
    "Multiply": (layers.Multiply, torch.mul, 1),
    "Maximum": (layers.Maximum, torch.maximum, 1),
    "Minimum": (layers.Minimum, torch.minimum, 1),
}


@pytest.mark.parametrize("name", sorted(OPS))
@settings(max_examples=60, deadline=None)
@given(shapes=broadcastable())
def test_elementwise_merge_matches_torch(name, shapes):
    ours, theirs, _ = OPS[name]
    xs = [torch.randn(s, requires_grad=True) for s in shapes]
    total, y = saved_elements(lambda *a: functools.reduce(theirs, a), xs)
    rec = analyze_layer("m", ours(), tuple(shapes))
    assert rec.output_shape == tuple(y.shape)
    assert rec.params == rec.multiply_adds == 0
    assert rec.other_ops == (len(shapes) - 1) * y.numel()
    assert rec.saved_elements == total


@settings(max_examples=60, deadline=None)
@given(shapes=broadcastable().filter(lambda s: len(s) >= 2))
def test_sub_and_average_match_torch(shapes):
    a, b = (torch.randn(s, requires_grad=True) for s in shapes[:2])
    total, y = saved_elements(torch.sub, (a, b))
    rec = analyze_layer("s", layers.Sub(), tuple(shapes[:2]))
    assert rec.output_shape == tuple(y.shape) and rec.saved_elements == total == 0
    assert rec.other_ops == y.numel()
    xs = [torch.randn(s, requires_grad=True) for s in shapes]
    total, y = saved_elements(lambda *t: functools.reduce(torch.add, t) / len(t), xs)
    rec = analyze_layer("avg", layers.Average(), tuple(shapes))
    assert rec.output_shape == tuple(y.shape) and rec.saved_elements == total == 0
    assert rec.other_ops == len(shapes) * y.numel()


def test_add_mismatch_names_the_shapes():
    with pytest.raises(NetsizeError, match=r"shapes 1x64x8x8 and 1x32x8x8 do not broadcast: axis 1 has sizes 32, 64"):
        analyze_layer("add", layers.Add(), ((1, 64, 8, 8), (1, 32, 8, 8)))


@settings(max_examples=150, deadline=None)
@given(data=st.data(), last=st.booleans(), keras_axis=st.booleans())
def test_concat_matches_torch_cat(data, last, keras_axis):
    base = data.draw(st.lists(st.integers(1, 4), min_size=2, max_size=4), label="base")
    rank = len(base)
    dim = data.draw(st.none() | st.integers(-rank, rank - 1), label="dim")
    axis = (rank - 1 if last else 1) if dim is None else dim % rank
    shapes = []
    for _ in range(data.draw(st.integers(1, 4))):
        s = list(base)
        s[axis] = data.draw(st.integers(1, 4))
        shapes.append(tuple(s))
    xs = [torch.randn(s, requires_grad=True) for s in shapes]
    total, y = saved_elements(lambda *t: torch.cat(t, dim=axis), xs)
    layer = layers.Concat(axis=dim) if keras_axis else layers.Concat(dim)
    rec = analyze_layer("cat", layer, tuple(shapes), LAST if last else Context())
    assert rec.output_shape == tuple(y.shape)
    assert rec.saved_elements == total == 0 and rec.other_ops == 0


def test_concat_mismatch_names_shapes_and_axis():
    with pytest.raises(NetsizeError, match=r"inputs 1x64x8x8, 1x32x4x4 differ on axis 2 \(8 vs 4\)"):
        analyze_layer("cat", layers.Concat(), ((1, 64, 8, 8), (1, 32, 4, 4)))


def test_concat_explains_the_sum():
    rec = analyze_layer("cat", layers.Concat(), ((1, 64, 8, 8), (1, 32, 8, 8), (1, 16, 8, 8)))
    assert "O_1 = I_1 + I_2 + I_3 = 64 + 32 + 16 = 112" in explain_record(rec)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), sections=st.booleans())
def test_split_and_chunk_match_torch(data, sections):
    shape = tuple(data.draw(st.lists(st.integers(1, 6), min_size=2, max_size=4), label="shape"))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    size = shape[dim]
    if sections:
        cuts = sorted(data.draw(st.lists(st.integers(1, size - 1), unique=True, max_size=3))) if size > 1 else []
        arg = [b - a for a, b in zip([0, *cuts], [*cuts, size], strict=True)]
    else:
        arg = data.draw(st.integers(1, 7), label="split size")
    x = torch.randn(shape, requires_grad=True)
    total, ys = saved_elements(lambda t: torch.split(t, arg, dim=dim), (x,))
    rec = analyze_layer("split", layers.Split(arg, dim), (shape,))
    assert rec.output_shapes == tuple(tuple(y.shape) for y in ys)
    assert rec.saved_elements == total == 0
    chunks = data.draw(st.integers(1, 7), label="chunks")
    rec = analyze_layer("chunk", layers.Chunk(chunks, dim), (shape,))
    assert rec.output_shapes == tuple(tuple(y.shape) for y in torch.chunk(x, chunks, dim=dim))


def test_split_sections_must_sum():
    with pytest.raises(NetsizeError, match=r"sections \[16, 16\] sum to 32 but axis 1 of 1x48x4x4 has 48"):
        analyze_layer("split", layers.Split([16, 16]), ((1, 48, 4, 4),))


def test_residual_block_in_a_graph():
    g = Graph("block", input_shape=(8, 6, 6))
    g.add("bn", layers.BatchNorm2d())
    g.add("relu", layers.ReLU())
    g.add("split", layers.Split(4))
    g.add("cat", layers.Concat(), inputs=["split:1", "split:0"])
    g.add("add", layers.Add(), inputs=["input", "cat"])
    s = analyze(g.build(), batch_size=2)
    assert s.layer("add").output_shape == (2, 8, 6, 6)
    assert s.layer("add").other_ops == 2 * 8 * 6 * 6
    assert s.totals.params == 16 and s.totals.buffers == 17


def test_names_resolve():
    assert layer_type("Concatenate") is layers.Concat
    assert layer_type("cat") is layers.Concat
    assert layer_type("Subtract") is layers.Sub
