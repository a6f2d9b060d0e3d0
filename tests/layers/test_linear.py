"""Linear against torch.nn.Linear on inputs of any rank, and its error for a wrong in_features."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsize import NetsizeError, Sequential, analyze, analyze_layer, layer_type, layers
from netsize.layers import Linear

torch = pytest.importorskip("torch")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(
    leading=st.lists(st.integers(1, 5), min_size=0, max_size=3),
    in_features=st.integers(1, 12),
    out_features=st.integers(1, 12),
    bias=st.booleans(),
    declare_in=st.booleans(),
)
def test_linear_matches_torch_on_any_rank(leading, in_features, out_features, bias, declare_in):
    shape = (*leading, in_features)  # 1-d to 4-d
    module = torch.nn.Linear(in_features, out_features, bias=bias)
    x = torch.randn(*shape)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        y = module(x)

    layer = Linear(in_features if declare_in else None, out_features, bias=bias)
    record = analyze_layer("fc", layer, (shape,))

    assert record.output_shape == tuple(y.shape)
    assert record.params == sum(p.numel() for p in module.parameters())
    assert record.weights == module.weight.numel()
    assert record.biases == (module.bias.numel() if bias else 0)
    assert record.multiply_adds == counter.get_total_flops() // 2
    assert record.flops == counter.get_total_flops()
    # Bias adds are other ops, one per output element; none without a bias.
    assert record.other_ops == (y.numel() if bias else 0)


def test_linear_declared_in_features_that_disagree_is_explained():
    net = Sequential([("fc1", Linear(6400, 4096))], input_shape=(9216,))
    with pytest.raises(NetsizeError) as err:
        analyze(net)
    assert str(err.value) == (
        "fc1 (Linear, input 1x9216): expects 6,400 input features but receives 9,216 "
        "(last axis of 1x9216). Set in_features to 9216, or leave it out to infer it."
    )


def test_linear_infers_in_features_from_last_axis():
    record = analyze_layer("fc", Linear(out_features=10), ((4, 7, 3),))
    assert record.output_shape == (4, 7, 10)
    assert record.weights == 3 * 10
    assert record.multiply_adds == 4 * 7 * 3 * 10


@pytest.mark.parametrize("kwargs", [{"out_features": 0}, {"in_features": -1, "out_features": 3}, {}])
def test_linear_rejects_non_positive_sizes(kwargs):
    with pytest.raises(NetsizeError, match="Linear sizes must be positive"):
        Linear(**kwargs)


def test_linear_spec_names():
    assert layer_type("dense") is Linear
    assert layer_type("FC") is Linear
    assert layers.Linear is Linear
