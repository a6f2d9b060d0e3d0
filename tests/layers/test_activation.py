"""Activations against torch.nn: shapes, params, zero multiply-adds, what autograd saves, and the
other-ops rule as documented in the module's table."""

from __future__ import annotations

import re
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsize import Context, NetsizeError, analyze_layer, explain_record, layer_type, layers
from netsize.layers import activation

torch = pytest.importorskip("torch")
nn = torch.nn
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402


def torch_saved(module, x):
    """Run ``module(x)`` and return (elements of the float tensors autograd saved, excluding params
    and buffers, each storage once; which of input/output storages were saved; the output)."""
    saved = []

    def pack(t):
        saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = module(x)
    skip = {t.untyped_storage().data_ptr() for t in [*module.parameters(), *module.buffers()]}
    seen, total, kinds = set(), 0, set()
    for t in saved:
        ptr = t.untyped_storage().data_ptr()
        if ptr in skip or ptr in seen:
            continue
        seen.add(ptr)
        total += t.numel()
        if ptr == x.untyped_storage().data_ptr():
            kinds.add("input")
        elif ptr == y.untyped_storage().data_ptr():
            kinds.add("output")
        else:
            kinds.add("extra")
    return total, kinds, y


shapes = st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple)
chan_shapes = st.lists(st.integers(1, 4), min_size=2, max_size=4).map(tuple)
flag = st.booleans()
slope = st.floats(0.01, 3.0)

# name -> (netsize class, torch class, hypothesis strategies for the shared kwargs)
CASES = {
    "ReLU": (layers.ReLU, nn.ReLU, {"inplace": flag}),
    "ReLU6": (layers.ReLU6, nn.ReLU6, {"inplace": flag}),
    "Hardtanh": (layers.Hardtanh, nn.Hardtanh, {"inplace": flag}),
    "LeakyReLU": (layers.LeakyReLU, nn.LeakyReLU, {"negative_slope": slope, "inplace": flag}),
    "ELU": (layers.ELU, nn.ELU, {"alpha": slope, "inplace": flag}),
    "CELU": (layers.CELU, nn.CELU, {"alpha": slope, "inplace": flag}),
    "SELU": (layers.SELU, nn.SELU, {"inplace": flag}),
    "GELU": (layers.GELU, nn.GELU, {"approximate": st.sampled_from(["none", "tanh"])}),
    "Sigmoid": (layers.Sigmoid, nn.Sigmoid, {}),
    "Tanh": (layers.Tanh, nn.Tanh, {}),
    "SiLU": (layers.SiLU, nn.SiLU, {"inplace": flag}),
    "Mish": (layers.Mish, nn.Mish, {"inplace": flag}),
    "Softplus": (layers.Softplus, nn.Softplus, {"beta": slope}),
    "Hardswish": (layers.Hardswish, nn.Hardswish, {"inplace": flag}),
    "Hardsigmoid": (layers.Hardsigmoid, nn.Hardsigmoid, {"inplace": flag}),
}


def _documented_ops() -> dict[str, int]:
    """The 'other ops per element' column of the table in activation.py's docstring."""
    table = {}
    for line in activation.__doc__.splitlines():
        m = re.match(r"^(\w+(?: tanh)?)\s{2,}.*?\s{2,}(\d+)", line)
        if m:
            table[m.group(1)] = int(m.group(2))
    return table


def check(layer, module, shape, inplace=False):
    rec = analyze_layer("act", layer, (shape,))
    x = torch.randn(shape, requires_grad=True)
    x_in = x * 1 if inplace else x  # an in-place op cannot run on a leaf that requires grad
    with FlopCounterMode(display=False) as counter:
        total, kinds, y = torch_saved(module, x_in)
    assert rec.output_shape == tuple(y.shape)
    assert rec.params == sum(p.numel() for p in module.parameters())
    assert rec.buffers == sum(b.numel() for b in module.buffers())
    assert rec.multiply_adds == 0 == counter.get_total_flops()
    assert rec.saved_elements == total
    a = rec.analysis
    assert a.memory.inplace == inplace == (y.untyped_storage().data_ptr() == x_in.untyped_storage().data_ptr())
    ours = set()
    if a.memory.saved_inputs is None or a.memory.saved_inputs:
        ours.add("input")
    if a.memory.saved_outputs:
        ours.add("input" if inplace else "output")
    if a.memory.saved_extra_elements:
        ours.add("extra")
    assert ours == kinds
    return rec


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_elementwise_activation_matches_torch(name, data):
    ours, theirs, fields = CASES[name]
    kwargs = {k: data.draw(v, label=k) for k, v in fields.items()}
    shape = data.draw(shapes, label="shape")
    rec = check(ours(**kwargs), theirs(**kwargs), shape, inplace=kwargs.get("inplace", False))
    key = "GELU tanh" if kwargs.get("approximate") == "tanh" else name
    assert rec.other_ops == _documented_ops()[key] * rec.activation_elements


@settings(max_examples=40, deadline=None)
@given(shape=chan_shapes, per_channel=flag, channels_last=flag)
def test_prelu_slopes_match_torch(shape, per_channel, channels_last):
    c = shape[-1] if channels_last else shape[1]
    n = c if per_channel else 1
    ctx = Context(layout="channels_last" if channels_last else "channels_first")
    rec = analyze_layer("p", layers.PReLU(n), (shape,), ctx)
    assert rec.weights == rec.params == sum(p.numel() for p in nn.PReLU(n).parameters())
    if not channels_last:
        check(layers.PReLU(n), nn.PReLU(n), shape)


@settings(max_examples=60, deadline=None)
@given(shape=shapes, data=st.data(), log=flag)
def test_softmax_matches_torch(shape, data, log):
    dim = data.draw(st.none() | st.integers(-len(shape), len(shape) - 1), label="dim")
    ours, theirs = (layers.LogSoftmax, nn.LogSoftmax) if log else (layers.Softmax, nn.Softmax)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about the implicit dim
        rec = check(ours(dim), theirs(dim), shape)
    axis = (0 if len(shape) in (1, 3) else 1) if dim is None else dim % len(shape)
    rows = rec.activation_elements // shape[axis]
    assert rec.other_ops == 3 * rec.activation_elements + (rows if log else 0)


@settings(max_examples=60, deadline=None)
@given(shape=shapes, data=st.data())
def test_glu_halves_dim_as_torch(shape, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    shape = tuple(s * 2 if i == dim % len(shape) else s for i, s in enumerate(shape))
    rec = check(layers.GLU(dim), nn.GLU(dim), shape)
    assert rec.other_ops == 4 * rec.activation_elements


def test_glu_odd_dim_names_size():
    with pytest.raises(NetsizeError, match="size 5 is odd"):
        analyze_layer("g", layers.GLU(-1), ((2, 5),))


def test_prelu_channel_mismatch_names_both_numbers():
    with pytest.raises(NetsizeError, match=r"has 3 slopes but the input has 8 channels"):
        analyze_layer("p", layers.PReLU(3), ((2, 8, 4, 4),))


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(NetsizeError, match="'erf'"):
        layers.GELU(approximate="erf")


def test_keras_and_torch_names_resolve():
    assert layer_type("swish") is layers.SiLU
    assert layer_type("Leaky_ReLU") is layers.LeakyReLU
    assert layer_type("hard-swish") is layers.Hardswish
    assert layer_type("log_softmax") is layers.LogSoftmax


def test_explanation_substitutes_the_rule():
    rec = analyze_layer("act", layers.GELU(), ((2, 3, 4),))
    text = explain_record(rec)
    assert "other ops = elements*5 (0.5*x*(1 + erf(x/sqrt(2)))) = 2*3*4*5 = 120" in text
    inplace = explain_record(analyze_layer("r", layers.SiLU(inplace=True), ((2, 8),)), lang="zh")
    assert "原地运算" in inplace and "16" in inplace


def test_implicit_softmax_dim_is_explained():
    rec = analyze_layer("s", layers.Softmax(), ((2, 3, 4, 5),))
    assert "implicit choice for a 4-d input is dim 1" in explain_record(rec)
