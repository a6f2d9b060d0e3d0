"""MatMul against torch.matmul (shape, broadcasting) and FlopCounterMode (multiply-adds)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsize import NetsizeError, analyze_layer
from netsize.layers import MatMul

torch = pytest.importorskip("torch")
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

dims = st.integers(1, 5)


@st.composite
def operands(draw):
    m, k, n = draw(dims), draw(dims), draw(dims)
    batch = draw(st.lists(dims, max_size=3))
    a_batch = [draw(st.sampled_from([d, 1])) for d in batch]
    b_batch = [draw(st.sampled_from([d, 1])) for d in batch][draw(st.integers(0, len(batch))) :]
    a = (*a_batch, m, k) if draw(st.booleans()) or not a_batch else (k,)
    b = (*b_batch, k, n) if draw(st.booleans()) else (k,)
    return tuple(a), tuple(b)


@settings(max_examples=300, deadline=None)
@given(operands())
def test_matmul_matches_torch_and_flopcounter(shapes) -> None:
    a, b = shapes
    x, y = torch.empty(a, device="meta"), torch.empty(b, device="meta")
    counter = FlopCounterMode(display=False)
    with counter:
        out = torch.matmul(x, y)
    rec = analyze_layer("mm", MatMul(), (a, b))
    assert rec.output_shape == tuple(out.shape)
    if len(a) >= 2 and len(b) >= 2:
        assert rec.multiply_adds * 2 == counter.get_total_flops()
    else:
        # torch runs vector products as aten.dot / aten.mv, which FlopCounterMode does not count:
        # count the same product with the vector made a 1-row / 1-column matrix instead.
        x2 = x.unsqueeze(0) if len(a) == 1 else x
        y2 = y.unsqueeze(-1) if len(b) == 1 else y
        counter2 = FlopCounterMode(display=False)
        with counter2:
            torch.matmul(x2, y2)
        assert rec.multiply_adds * 2 == counter2.get_total_flops()


def test_matmul_explains_its_formula() -> None:
    rec = analyze_layer("scores", MatMul(), ((2, 12, 197, 64), (2, 12, 64, 197)))
    assert rec.multiply_adds == 24 * 197 * 64 * 197
    assert rec.analysis.multiply_adds.render() == "multiply-adds = B*M*K*N = 24*197*64*197 = 59,610,624"


def test_matmul_inner_size_mismatch_is_a_clear_error() -> None:
    with pytest.raises(NetsizeError, match=r"scores \(MatMul, input 2x3x4, 2x5x6\): inner sizes differ"):
        analyze_layer("scores", MatMul(), ((2, 3, 4), (2, 5, 6)))
    with pytest.raises(NetsizeError, match="do not broadcast"):
        analyze_layer("scores", MatMul(), ((2, 3, 4), (3, 4, 6)))
