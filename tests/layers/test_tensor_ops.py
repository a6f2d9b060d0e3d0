"""Whole-shape tensor ops (the ONNX vocabulary) against the torch ops that do the same thing:
shapes from torch on the meta device, multiply-adds of Einsum from FlopCounterMode."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsize import NetsizeError, analyze_layer
from netsize.layers.tensor_ops import (
    Constant,
    Einsum,
    Elementwise,
    Expand,
    Gather,
    Pad,
    Parameter,
    Reduce,
    Resize,
    Slice,
    Squeeze,
    Standardize,
    TensorReshape,
    Tile,
    Transpose,
    Uncounted,
    Unsqueeze,
)

torch = pytest.importorskip("torch")
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

shapes = st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple)


def meta(shape):
    return torch.empty(shape, device="meta")


@settings(max_examples=60, deadline=None)
@given(shapes, st.randoms(use_true_random=False))
def test_transpose_matches_torch_permute(shape, rnd):
    perm = list(range(len(shape)))
    rnd.shuffle(perm)
    assert analyze_layer("t", Transpose(tuple(perm)), (shape,)).output_shape == tuple(meta(shape).permute(perm).shape)


@settings(max_examples=60, deadline=None)
@given(shapes, st.data())
def test_slice_matches_python_slicing(shape, data):
    axis = data.draw(st.integers(0, len(shape) - 1))
    start = data.draw(st.integers(-7, 7))
    end = data.draw(st.integers(-7, 2**62))
    step = data.draw(st.sampled_from([1, 2, 3, -1, -2]))
    index = [slice(None)] * len(shape)
    index[axis] = slice(start, end, step)
    expected = tuple(len(range(*index[i].indices(d))) for i, d in enumerate(shape))
    if 0 in expected:
        return  # an empty result is refused by the engine (zero-sized output)
    rec = analyze_layer("s", Slice((start,), (end,), (axis,), (step,)), (shape,))
    assert rec.output_shape == expected
    if step > 0:
        assert rec.output_shape == tuple(meta(shape)[tuple(index)].shape)


@settings(max_examples=60, deadline=None)
@given(shapes, shapes, st.data())
def test_gather_matches_torch_index_select_shape(data_shape, index_shape, data):
    axis = data.draw(st.integers(-len(data_shape), len(data_shape) - 1))
    a = axis % len(data_shape)
    expected = (*data_shape[:a], *index_shape, *data_shape[a + 1 :])
    idx = torch.zeros(index_shape, dtype=torch.long)
    real = torch.zeros(data_shape).movedim(a, 0)[idx].movedim(list(range(len(index_shape))),
                                                               list(range(a, a + len(index_shape))))
    assert tuple(real.shape) == expected
    assert analyze_layer("g", Gather(axis), (data_shape, index_shape)).output_shape == expected


@settings(max_examples=60, deadline=None)
@given(shapes, st.data())
def test_expand_tile_pad_reshape_match_torch(shape, data):
    target = tuple(data.draw(st.sampled_from([d, 1])) if d == 1 else d for d in shape)
    grown = tuple(data.draw(st.integers(1, 3)) if d == 1 else d for d in target)
    assert analyze_layer("e", Expand(grown), (shape,)).output_shape == tuple(meta(shape).expand(grown).shape)
    reps = tuple(data.draw(st.integers(1, 3)) for _ in shape)
    assert analyze_layer("t", Tile(reps), (shape,)).output_shape == tuple(meta(shape).repeat(reps).shape)
    pads = tuple(data.draw(st.integers(0, 2)) for _ in range(2 * len(shape)))
    torch_pad = [p for i in reversed(range(len(shape))) for p in (pads[i], pads[i + len(shape)])]
    expected = tuple(torch.nn.functional.pad(torch.zeros(shape), torch_pad).shape)
    assert analyze_layer("p", Pad(pads), (shape,)).output_shape == expected
    flat = analyze_layer("r", TensorReshape((0, -1)), (shape,)).output_shape
    assert flat == tuple(meta(shape).reshape(shape[0], -1).shape)


@settings(max_examples=60, deadline=None)
@given(shapes, st.data(), st.booleans())
def test_reduce_squeeze_unsqueeze_match_torch(shape, data, keepdims):
    axes = tuple(sorted(set(data.draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=len(shape))))))
    rec = analyze_layer("m", Reduce("mean", axes, keepdims), (shape,))
    assert rec.output_shape == tuple(meta(shape).mean(dim=axes, keepdim=keepdims).shape)
    n = 1
    for d in shape:
        n *= d
    assert rec.other_ops == n
    ones = tuple(i for i, d in enumerate(shape) if d == 1)
    if ones:
        assert analyze_layer("s", Squeeze(ones), (shape,)).output_shape == tuple(meta(shape).squeeze(ones).shape)
    at = data.draw(st.integers(-len(shape) - 1, len(shape)))
    assert analyze_layer("u", Unsqueeze((at,)), (shape,)).output_shape == tuple(meta(shape).unsqueeze(at).shape)


EQUATIONS = ["bij,bjk->bik", "ij,jk->ik", "bhqd,bhkd->bhqk", "bhqk,bhkd->bhqd", "bi,bi->b", "ik,jk->ij"]


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(EQUATIONS), st.data())
def test_einsum_matches_torch_and_flopcounter(equation, data):
    sizes = {c: data.draw(st.integers(1, 5)) for c in sorted(set(equation) - set(",->"))}
    lhs = equation.split("->")[0]
    ins = tuple(tuple(sizes[c] for c in term) for term in lhs.split(","))
    counter = FlopCounterMode(display=False)
    with counter:
        out = torch.einsum(equation, *[torch.zeros(s) for s in ins])
    rec = analyze_layer("e", Einsum(equation), ins)
    assert rec.output_shape == tuple(out.shape)
    flops = counter.get_total_flops()
    if flops:  # torch runs some contractions (a dot product) as ops FlopCounterMode does not see
        assert rec.multiply_adds * 2 == flops


def test_elementwise_broadcasts_and_counts_per_output_element():
    rec = analyze_layer("div", Elementwise("div"), ((2, 1, 4), (3, 1)))
    assert rec.output_shape == (2, 3, 4)
    assert rec.other_ops == 24
    assert analyze_layer("where", Elementwise("where"), ((2, 4), (2, 4), ())).other_ops == 8


def test_parameter_counts_its_stored_elements_and_constant_nothing():
    p = analyze_layer("cls", Parameter((4, 1, 8), count=8), ())
    assert (p.output_shape, p.params, p.weights) == ((4, 1, 8), 8, 8)
    c = analyze_layer("scale", Constant((1, 8)), ())
    assert (c.output_shape, c.params) == ((1, 8), 0)


def test_resize_counts_interpolation_only_for_linear_modes():
    assert analyze_layer("n", Resize((1, 2, 8, 8), "nearest"), ((1, 2, 4, 4),)).other_ops == 0
    assert analyze_layer("l", Resize((1, 2, 8, 8), "linear"), ((1, 2, 4, 4),)).other_ops == 128 * 2


def test_standardize_holds_keras_normalization_weights_as_non_trainable():
    rec = analyze_layer("norm", Standardize(5), ((1, 3, 5),))
    assert (rec.params, rec.trainable_params, rec.non_trainable_params) == (11, 0, 11)


def test_uncounted_keeps_its_stated_shape_and_counts_nothing():
    rec = analyze_layer("cum", Uncounted("CumSum", ((1, 8),)), ((1, 8),))
    assert (rec.output_shape, rec.multiply_adds, rec.other_ops, rec.params) == ((1, 8), 0, 0, 0)


def test_reshape_errors_name_the_numbers():
    with pytest.raises(NetsizeError, match=r"cannot reshape 2x3x4 \(24 elements\) to \[5, -1\]"):
        analyze_layer("r", TensorReshape((5, -1)), ((2, 3, 4),))
    with pytest.raises(NetsizeError, match="axis 1 of 2x3 has size 3, not 1"):
        analyze_layer("s", Squeeze((1,)), ((2, 3),))


# Implicit outputs (no '->': the letters used once, sorted) and '...' (broadcast leading axes),
# as ONNX's node tests write them.
IMPLICIT = ["i,i", "ij,jk", "ba,ca", "...ii->...i", "...ij,...jk->...ik", "b...i,b...i->b...", "...ii"]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(IMPLICIT), st.data())
def test_einsum_implicit_and_ellipsis_match_torch(equation, data):
    sizes = {c: data.draw(st.integers(1, 4)) for c in sorted(set(equation) - set(",->."))}
    leading = tuple(data.draw(st.integers(1, 3)) for _ in range(data.draw(st.integers(0, 2))))
    lhs = equation.split("->")[0]
    # Each operand's '...' axes stand where its '...' stands ('b...i': after b), a suffix of the
    # leading axes so that they broadcast.
    def operand(term: str) -> tuple[int, ...]:
        before, _, after = term.partition("...")
        ellipsis = leading[data.draw(st.integers(0, len(leading))):] if "..." in term else ()
        return (*(sizes[c] for c in before), *ellipsis, *(sizes[c] for c in after))

    ins = tuple(operand(term) for term in lhs.split(","))
    counter = FlopCounterMode(display=False)
    with counter:
        out = torch.einsum(equation, *[torch.zeros(s) for s in ins])
    rec = analyze_layer("e", Einsum(equation), ins)
    assert rec.output_shape == tuple(out.shape)
    flops = counter.get_total_flops()
    if flops:
        assert rec.multiply_adds * 2 == flops
