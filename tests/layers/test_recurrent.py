"""RNN, LSTM and GRU against torch.nn (shapes, parameters, FlopCounterMode) and Keras' formulas."""

from __future__ import annotations

import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import netsize
from netsize import Context, NetsizeError, Sequential, analyze, analyze_layer, layer_type
from netsize.layers import GRU, LSTM, RNN

torch = pytest.importorskip("torch")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

KINDS = {"RNN": (RNN, torch.nn.RNN), "LSTM": (LSTM, torch.nn.LSTM), "GRU": (GRU, torch.nn.GRU)}


@st.composite
def recurrent_configs(draw):
    kind = draw(st.sampled_from(sorted(KINDS)))
    hidden = draw(st.integers(1, 6))
    cfg = {
        "kind": kind,
        "input_size": draw(st.integers(1, 6)),
        "hidden_size": hidden,
        "num_layers": draw(st.integers(1, 3)),
        "bias": draw(st.booleans()),
        "batch_first": draw(st.booleans()),
        "bidirectional": draw(st.booleans()),
        "extra": {},
    }
    if kind == "LSTM":
        cfg["extra"] = {"proj_size": draw(st.integers(0, hidden - 1))}
    if kind == "RNN":
        cfg["extra"] = {"nonlinearity": draw(st.sampled_from(["tanh", "relu"]))}
    cfg["batched"] = draw(st.booleans())
    cfg["n"] = draw(st.integers(1, 3))
    cfg["t"] = draw(st.integers(1, 4))
    cfg["declare_input"] = draw(st.booleans())
    return cfg


def _torch_input_shape(cfg) -> tuple[int, ...]:
    if not cfg["batched"]:
        return (cfg["t"], cfg["input_size"])
    if cfg["batch_first"]:
        return (cfg["n"], cfg["t"], cfg["input_size"])
    return (cfg["t"], cfg["n"], cfg["input_size"])


def _torch_run(module, shape):
    """Output shapes and FlopCounterMode multiply-adds of one forward pass.

    oneDNN is switched off: on CPU, float32 nn.LSTM otherwise runs ``aten.mkldnn_rnn_layer``,
    which FlopCounterMode does not count; without it torch decomposes into mm/addmm.
    """
    x = torch.randn(*shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.backends.mkldnn.flags(enabled=False), FlopCounterMode(display=False) as counter, torch.no_grad():
            out, state = module(x)
    states = state if isinstance(state, tuple) else (state,)
    shapes = (tuple(out.shape), *(tuple(s.shape) for s in states))
    return shapes, counter.get_total_flops() // 2


@settings(max_examples=300, deadline=None)
@given(recurrent_configs())
def test_recurrent_matches_torch_shapes_params_and_flopcounter(cfg):
    ours_cls, torch_cls = KINDS[cfg["kind"]]
    common = {k: cfg[k] for k in ("hidden_size", "num_layers", "bias", "batch_first", "bidirectional")}
    module = torch_cls(cfg["input_size"], **common, **cfg["extra"])
    shape = _torch_input_shape(cfg)
    torch_shapes, torch_macs = _torch_run(module, shape)

    layer = ours_cls(input_size=cfg["input_size"] if cfg["declare_input"] else None, **common, **cfg["extra"])
    record = analyze_layer("rnn", layer, (shape,))

    assert record.output_shapes == torch_shapes
    assert record.params == sum(p.numel() for p in module.parameters())
    assert record.weights == sum(p.numel() for n, p in module.named_parameters() if n.startswith("weight"))
    assert record.biases == sum(p.numel() for n, p in module.named_parameters() if n.startswith("bias"))
    assert record.buffers == sum(b.numel() for b in module.buffers())
    assert record.multiply_adds == torch_macs


def test_flopcountermode_counts_nothing_for_onednn_lstm_on_cpu():
    """Why the comparison switches oneDNN off: FlopCounterMode has no formula for its LSTM kernel."""
    module = torch.nn.LSTM(5, 7, batch_first=True)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(torch.randn(2, 4, 5))
    default_path = counter.get_total_flops()
    _, decomposed = _torch_run(module, (2, 4, 5))
    ours = analyze_layer("lstm", LSTM(hidden_size=7), ((2, 4, 5),)).multiply_adds
    assert default_path == 0
    assert decomposed == ours == 2 * 4 * 4 * 7 * (5 + 7)


def test_recurrent_default_batch_first_reads_spec_shapes_as_batch_sequence_features():
    net = Sequential([("lstm", LSTM(hidden_size=8))], input_shape=(10, 4))
    s = analyze(net, batch_size=3)
    assert s.layer("lstm").output_shapes == ((3, 10, 8), (1, 3, 8), (1, 3, 8))
    assert s.output_shapes == ((3, 10, 8),)


def test_graph_reads_h_n_as_second_output():
    g = netsize.Graph("enc", input_shape=(12, 4))
    g.add("gru", GRU(hidden_size=6, num_layers=2, bidirectional=True))
    g.add("head", netsize.layers.Linear(out_features=3), inputs="gru:1")
    s = analyze(g.build(), batch_size=5)
    # h_n is (D*L, N, H) = (4, 5, 6); the head acts on its last axis.
    assert s.layer("head").input_shapes == ((4, 5, 6),)
    assert s.layer("head").output_shape == (4, 5, 3)


# Keras' parameter formulas (keras.layers.SimpleRNN / LSTM / GRU with use_bias=True):
#   SimpleRNN: kernel I*u + recurrent_kernel u*u + bias u
#   LSTM:      4 gate sets, each u*(I + u) weights and u biases -> 4*(u*(I + u) + u)
#   GRU:       3 gate sets of u*(I + u) weights; bias (2, 3u) with reset_after=True, (3u,) without.
def keras_simple_rnn_params(units: int, input_dim: int) -> int:
    return input_dim * units + units * units + units


def keras_lstm_params(units: int, input_dim: int) -> int:
    return 4 * (units * (input_dim + units) + units)


def keras_gru_params(units: int, input_dim: int, reset_after: bool) -> int:
    return 3 * units * (input_dim + units) + (2 if reset_after else 1) * 3 * units


def _keras_params(layer, input_dim: int) -> int:
    return analyze_layer("x", layer, ((1, 7, input_dim),), Context(convention="keras")).params


def test_keras_published_examples():
    # Keras model.summary(): LSTM(64) on 32 features, GRU(64) on 32 with and without reset_after.
    assert keras_lstm_params(64, 32) == 24_832
    assert keras_gru_params(64, 32, True) == 18_816
    assert keras_gru_params(64, 32, False) == 18_624
    assert _keras_params(LSTM(hidden_size=64), 32) == keras_lstm_params(64, 32)
    assert _keras_params(GRU(hidden_size=64), 32) == keras_gru_params(64, 32, True)
    assert _keras_params(GRU(hidden_size=64, reset_after=False), 32) == keras_gru_params(64, 32, False)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 300), st.integers(1, 300), st.booleans())
def test_keras_convention_matches_keras_formulas(units, input_dim, reset_after):
    assert _keras_params(RNN(hidden_size=units), input_dim) == keras_simple_rnn_params(units, input_dim)
    assert _keras_params(LSTM(hidden_size=units), input_dim) == keras_lstm_params(units, input_dim)
    gru = GRU(hidden_size=units, reset_after=reset_after)
    assert _keras_params(gru, input_dim) == keras_gru_params(units, input_dim, reset_after)
    # reset_after only matters under the Keras convention: torch always has b_ih and b_hh.
    torch_gru = analyze_layer("x", gru, ((1, 7, input_dim),)).params
    assert torch_gru == 3 * units * (input_dim + units) + 2 * 3 * units


def test_keras_convention_without_bias_has_weights_only():
    record = analyze_layer("x", LSTM(hidden_size=64, bias=False), ((1, 7, 32),), Context(convention="keras"))
    assert record.biases == 0
    assert record.params == 4 * 64 * (32 + 64)


def test_simple_rnn_is_a_spec_name_for_rnn():
    assert layer_type("SimpleRNN") is RNN
    assert layer_type("lstm") is LSTM
    assert layer_type("GRU") is GRU


def test_lstm_explanation_shows_gate_formula_with_values():
    s = analyze(Sequential([("lstm", LSTM(hidden_size=64))], input_shape=(10, 32)), batch_size=2)
    text = s.explain("lstm")
    assert "weights = 4*H*(I + H) = 4*64*(32 + 64) = 24,576" in text
    assert "biases = 2*4*H = 2*4*64 = 512" in text
    assert "multiply-adds = N*T*weights = 2*10*24576 = 491,520" in text
    assert "multiply-adds per time step = N*weights = 2*24576 = 49,152" in text
    zh = s.explain("lstm", lang="zh")
    assert "权重 = 4*H*(I + H) = 4*64*(32 + 64) = 24,576" in zh
    assert "每个时间步的乘加次数" in zh


def test_stacked_bidirectional_projected_lstm_weights_formula():
    record = analyze_layer("x", LSTM(hidden_size=8, num_layers=3, bidirectional=True, proj_size=5), ((2, 4, 6),))
    w = record.analysis.weights
    assert w.symbolic == "D*(4*H*(I + P) + (L - 1)*4*H*(D*P + P) + L*P*H)"
    assert w.substituted == "2*(4*8*(6 + 5) + (3 - 1)*4*8*(2*5 + 5) + 3*5*8)"
    module = torch.nn.LSTM(6, 8, num_layers=3, bidirectional=True, proj_size=5)
    assert w.value == sum(p.numel() for n, p in module.named_parameters() if n.startswith("weight"))


@settings(max_examples=200, deadline=None)
@given(recurrent_configs())
def test_recurrent_counts_scale_with_batch_and_time(cfg):
    ours_cls, _ = KINDS[cfg["kind"]]
    common = {k: cfg[k] for k in ("hidden_size", "num_layers", "bias", "bidirectional")}
    layer = ours_cls(**common, **cfg["extra"])
    n, t, i = cfg["n"], cfg["t"], cfg["input_size"]
    one = analyze_layer("x", layer, ((1, 1, i),))
    many = analyze_layer("x", layer, ((n, t, i),))
    assert many.multiply_adds == n * t * one.multiply_adds
    assert many.other_ops == n * t * one.other_ops
    per_step = many.analysis.extra_terms[0]
    assert per_step.name == "multiply_adds_per_step"
    assert per_step.value * t == many.multiply_adds
    # One step of one sample uses every weight once.
    assert one.multiply_adds == one.weights


@settings(max_examples=100, deadline=None)
@given(recurrent_configs())
def test_recurrent_bias_adds_are_one_per_bias_element_per_step(cfg):
    ours_cls, _ = KINDS[cfg["kind"]]
    common = {k: cfg[k] for k in ("hidden_size", "num_layers", "bidirectional")}
    n, t, i = cfg["n"], cfg["t"], cfg["input_size"]
    with_bias = analyze_layer("x", ours_cls(bias=True, **common, **cfg["extra"]), ((n, t, i),))
    without = analyze_layer("x", ours_cls(bias=False, **common, **cfg["extra"]), ((n, t, i),))
    assert with_bias.other_ops - without.other_ops == n * t * with_bias.biases
    assert with_bias.multiply_adds == without.multiply_adds


def test_lstm_saved_for_backward_rule():
    # Input (2*5*3) + output (2*5*2*4) + per step and sample: deeper layer input (1*2*4),
    # gates (2*2*4*4) and cell states (2*2*4).
    record = analyze_layer("x", LSTM(hidden_size=4, num_layers=2, bidirectional=True), ((2, 5, 3),))
    extra = 2 * 5 * (1 * 2 * 4 + 2 * 2 * 4 * 4 + 2 * 2 * 4)
    assert record.saved_elements == 2 * 5 * 3 + 2 * 5 * 8 + extra
    assert record.analysis.extra_terms[1].value == extra


def test_dropout_between_layers_saves_a_byte_mask():
    shape = ((2, 5, 3),)
    assert analyze_layer("x", GRU(hidden_size=4, num_layers=3, dropout=0.1), shape).saved_extra_bytes == 2 * 2 * 5 * 4
    assert analyze_layer("x", GRU(hidden_size=4, num_layers=3), shape).saved_extra_bytes == 0


def test_declared_input_size_that_disagrees_names_both_numbers():
    net = Sequential([("enc", LSTM(input_size=32, hidden_size=8))], input_shape=(10, 48))
    with pytest.raises(NetsizeError) as err:
        analyze(net)
    msg = str(err.value)
    assert msg.startswith("enc (LSTM, input 1x10x48): expects input_size 32 but receives 48")
    assert "Set input_size to 48" in msg


def test_recurrent_rejects_wrong_rank():
    with pytest.raises(NetsizeError, match=r"needs a 3-d input \(N, L, H_in\).*4-d 1x2x3x4"):
        analyze_layer("x", RNN(hidden_size=3), ((1, 2, 3, 4),))


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: LSTM(hidden_size=4, proj_size=4), "proj_size .4. must be smaller than hidden_size .4."),
        (lambda: RNN(hidden_size=4, nonlinearity="gelu"), "nonlinearity must be 'tanh' or 'relu'"),
        (lambda: GRU(), "hidden_size must be a positive integer"),
        (lambda: GRU(hidden_size=3, num_layers=0), "num_layers must be a positive integer"),
        (lambda: GRU(hidden_size=3, dropout=1.0), r"dropout must be in \[0, 1\)"),
    ],
)
def test_recurrent_static_checks(make, match):
    with pytest.raises(NetsizeError, match=match):
        make()
