"""The core engine: Graph/Sequential building, analyze, Summary, Term, i18n, errors, dtypes.

Layers defined here (``Sum``, ``Stats``, ``Shrink``) are test doubles that exercise the engine
without depending on other layer modules; they are not registered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import netsize
from netsize import (
    Analysis,
    Context,
    Graph,
    Layer,
    MemoryContract,
    NetsizeError,
    Network,
    Sequential,
    Term,
    analyze,
    dtype_bytes,
    layer_type,
    register_messages,
    translate,
)
from netsize._shape import Shape, elements
from netsize._summary import COUNT_FIELDS
from netsize._term import floor_div_exact, message, prod_str
from netsize.layers import LSTM, Linear


@dataclass(frozen=True)
class Sum(Layer):
    """Elementwise sum of equal shapes; one add per element per extra input."""

    kind = "Sum"
    arity = None
    preserves_spatial = True

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        first = inputs[0]
        if any(s != first for s in inputs):
            raise NetsizeError("inputs differ in shape")
        adds = (len(inputs) - 1) * elements(first)
        return Analysis(outputs=(first,), other_ops=Term("other_ops", adds), memory=MemoryContract(saved_inputs=()))


@dataclass(frozen=True)
class Stats(Layer):
    """Per-feature scale (weights) and running statistics: buffers (torch) or non-trainable (keras)."""

    kind = "Stats"

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        c = x[-1]
        keras = ctx.convention == "keras"
        return Analysis(
            outputs=(x,),
            weights=Term("weights", c),
            non_trainable_params=Term("non_trainable_params", 2 * c) if keras else None,
            buffers=None if keras else Term("buffers", 2 * c),
        )


@dataclass(frozen=True)
class Shrink(Layer):
    """Drops ``k`` features from the last axis (to provoke a non-positive output size)."""

    k: int = 1
    kind = "Shrink"

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        return Analysis(outputs=((*x[:-1], x[-1] - self.k),))


# --- Graph, Sequential, add_network -------------------------------------------------------


def _skip_graph() -> Network:
    g = Graph("skip", input_shape=(10, 8))
    g.add("lstm", LSTM(hidden_size=8))
    g.add("res", Sum(), inputs=["input", "lstm"])  # skip connection around the LSTM
    g.add("head", Linear(out_features=3), inputs="lstm:1")  # h_n, the LSTM's second output
    g.outputs("res", "head", "lstm:2")
    return g.build()


def test_graph_skip_connection_and_second_output_ref():
    s = analyze(_skip_graph(), batch_size=4)
    lstm, res, head = s.layer("lstm"), s.layer("res"), s.layer("head")
    assert lstm.output_shapes == ((4, 10, 8), (1, 4, 8), (1, 4, 8))
    assert res.input_shapes == ((4, 10, 8), (4, 10, 8))
    assert res.other_ops == 4 * 10 * 8
    assert head.input_shapes == ((1, 4, 8),)
    assert head.output_shape == (1, 4, 3)
    assert s.output_shapes == ((4, 10, 8), (1, 4, 3), (1, 4, 8))
    assert s.totals.params == lstm.params + head.params == (4 * 8 * (8 + 8) + 2 * 4 * 8) + (8 * 3 + 3)


def test_graph_ref_to_missing_output_index_is_an_error():
    g = Graph("g", input_shape=(5, 4))
    g.add("lstm", LSTM(hidden_size=3))
    g.add("fc", Linear(out_features=2), inputs="lstm:3")
    with pytest.raises(NetsizeError, match="layer 'fc' takes output 3 of 'lstm', which has 3 outputs"):
        analyze(g.build())


def test_graph_add_checks_names_refs_and_ties():
    g = Graph("g", input_shape=(4,))
    g.add("fc", Linear(out_features=4))
    with pytest.raises(NetsizeError, match="duplicate layer name 'fc' in 'g'"):
        g.add("fc", Linear(out_features=4))
    with pytest.raises(NetsizeError, match="takes input 'nope', which is not an earlier layer or input"):
        g.add("fc2", Linear(out_features=4), inputs="nope")
    with pytest.raises(NetsizeError, match="tied to 'nope', which is not an earlier layer"):
        g.add("fc3", Linear(out_features=4), tied_to="nope")
    with pytest.raises(NetsizeError, match="needs an input shape"):
        Graph("empty")


def test_sequential_nests_networks_under_their_name():
    inner = Sequential([("fc1", Linear(8, 16)), ("fc2", Linear(16, 8))], input_shape=(8,), name="mlp")
    outer = Sequential([("block", inner), ("head", Linear(8, 2)), Linear(out_features=5)], input_shape=(8,))
    s = analyze(outer, batch_size=3)
    assert [r.name for r in s.layers] == ["block.fc1", "block.fc2", "head", "linear_1"]
    assert s.layer("block.fc2").input_shapes == ((3, 16),)
    assert s.layer("head").input_shapes == ((3, 8),)
    assert s.output_shapes == ((3, 5),)
    (block,) = [r for r in s.rows(1) if r.name == "block"]  # torchinfo's depth: 1 = the top level
    assert block.kind == "Block"
    assert block.params == (8 * 16 + 16) + (16 * 8 + 8)


def test_add_network_prefixes_names_refs_ports_and_ties():
    sub = Graph("pair", inputs={"a": (6, 4), "b": (6, 4)})
    sub.add("fa", Linear(4, 4, bias=False), inputs="a")
    sub.add("fb", Linear(4, 4, bias=False), inputs="b", tied_to="fa")
    sub.add("sum", Sum(), inputs=["fa", "fb"])
    sub.add("rnn", LSTM(hidden_size=4))
    sub.outputs("rnn:1")
    g = Graph("outer", input_shape=(6, 4))
    g.add("pre", Linear(4, 4))
    last = g.add_network("blk", sub.build(), inputs=["input", "pre"])
    assert last == "blk.rnn:1"
    g.add("after", Linear(out_features=2))  # default input: the block's output, h_n
    net = g.build()
    nodes = {n.name: n for n in net.nodes}
    assert list(nodes) == ["pre", "blk.fa", "blk.fb", "blk.sum", "blk.rnn", "after"]
    assert nodes["blk.fa"].inputs == ("input",)
    assert nodes["blk.fb"].inputs == ("pre",)
    assert nodes["blk.fb"].tied_to == "blk.fa"
    assert nodes["blk.sum"].inputs == ("blk.fa", "blk.fb")
    assert nodes["after"].inputs == ("blk.rnn:1",)
    s = analyze(net, batch_size=2)
    assert s.layer("after").input_shapes == ((1, 2, 4),)
    assert s.layer("blk.fb").params == 0
    with pytest.raises(NetsizeError, match="block 'x' takes 2 inputs but is given 1"):
        g.add_network("x", sub.build(), inputs="pre")


# --- Summary: rows, totals, JSON ----------------------------------------------------------


@st.composite
def nested_networks(draw):
    """A chain of top-level Linear layers and blocks (up to two levels deep) of Linears."""
    width = draw(st.integers(1, 6))
    items: list = []
    for i in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            items.append((f"l{i}", Linear(out_features=width, bias=draw(st.booleans()))))
            continue
        inner: list = []
        for j in range(draw(st.integers(1, 3))):
            if draw(st.booleans()):
                leaf = Sequential(
                    [(f"c{k}", Linear(out_features=width)) for k in range(draw(st.integers(1, 3)))],
                    input_shape=(width,),
                )
                inner.append((str(j), leaf))
            else:
                inner.append((f"fc{j}", Linear(out_features=width, bias=draw(st.booleans()))))
        inner.append(("stats", Stats()))
        items.append((f"layer{i}", Sequential(inner, input_shape=(width,))))
    return Sequential(items, input_shape=(draw(st.integers(1, 6)),))


SUMMED = (
    "weights",
    "biases",
    "params",
    "trainable_params",
    "non_trainable_params",
    "buffers",
    "multiply_adds",
    "flops",
    "other_ops",
    "activation_elements",
    "saved_elements",
    "saved_extra_bytes",
)


@settings(max_examples=150, deadline=None)
@given(nested_networks(), st.integers(1, 5), st.sampled_from(["torch", "keras"]))
def test_rows_blocks_sum_their_children_and_totals_are_column_sums(net, batch, convention):
    s = analyze(net, batch_size=batch, convention=convention)
    (whole,) = s.rows(0)  # depth 0: the model as one row
    assert (whole.name, whole.params) == (s.model, s.totals.params)
    for depth in (None, 1, 2, 3):
        rows = s.rows(depth)
        for row in rows:
            children = [r for r in s.layers if r.name == row.name or r.name.startswith(row.name + ".")]
            assert children, row.name
            for f in SUMMED:
                assert getattr(row, f) == sum(getattr(c, f) for c in children), (depth, row.name, f)
        # Every leaf belongs to exactly one row.
        assert sum(
            len([r for r in s.layers if r.name == row.name or r.name.startswith(row.name + ".")]) for row in rows
        ) == len(s.layers)
        totals = s.totals.to_dict()
        for f in COUNT_FIELDS:
            assert totals[f] == sum(getattr(r, f) for r in rows), (depth, f)


def _assert_counts_are_ints(obj, path="") -> int:
    """Walk the JSON; every count (any int-like leaf) must be a real int, not a bool or float."""
    checked = 0
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ("start",):  # receptive-field centre, a fraction by design
                continue
            checked += _assert_counts_are_ints(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            checked += _assert_counts_are_ints(v, f"{path}[{i}]")
    elif not isinstance(obj, str):
        assert type(obj) is int, (path, obj)
        checked += 1
    return checked


@settings(max_examples=100, deadline=None)
@given(nested_networks(), st.integers(1, 5), st.sampled_from([None, 0, 1, 2]))
def test_to_dict_round_trips_through_json_with_int_counts(net, batch, depth):
    s = analyze(net, batch_size=batch)
    d = s.to_dict(depth)
    back = json.loads(json.dumps(d))
    assert back == d
    assert back["schema_version"] == netsize.SCHEMA_VERSION
    assert back["batch_size"] == batch
    assert back["totals"] == s.totals.to_dict()
    assert len(back["layers"]) == len(s.rows(depth))
    assert _assert_counts_are_ints({k: back[k] for k in ("layers", "totals", "model_size_bytes")}) > 0
    for row in back["layers"]:
        assert row["flops"] == 2 * row["multiply_adds"]


def test_model_size_rounds_int4_up_to_whole_bytes():
    s = analyze(Sequential([Linear(2, 2, bias=True), Linear(2, 1, bias=True)], input_shape=(2,)))
    assert s.totals.params == 6 + 3  # odd: int4 needs a half byte more
    size = s.model_size()
    assert size["float32"] == 9 * 4
    assert size["bfloat16"] == 9 * 2
    assert size["int8"] == 9
    assert size["int4"] == 5


# --- analyze ------------------------------------------------------------------------------


def _mixed_network() -> Network:
    g = Graph("mixed", input_shape=(7, 5))
    g.add("fc", Linear(out_features=6))
    g.add("rnn", LSTM(hidden_size=6, num_layers=2, bidirectional=True, proj_size=3))
    g.add("down", Linear(out_features=6), inputs="rnn")
    g.add("res", Sum(), inputs=["fc", "down"])
    g.add("stats", Stats())
    return g.build()


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 64), st.sampled_from(["torch", "keras"]))
def test_counts_are_linear_in_batch_size(batch, convention):
    one = analyze(_mixed_network(), batch_size=1, convention=convention).totals
    many = analyze(_mixed_network(), batch_size=batch, convention=convention).totals
    assert many.multiply_adds == batch * one.multiply_adds
    assert many.flops == batch * one.flops
    assert many.other_ops == batch * one.other_ops
    assert many.activation_elements == batch * one.activation_elements
    assert (many.params, many.buffers, many.non_trainable_params) == (one.params, one.buffers, one.non_trainable_params)


def test_keras_convention_turns_buffers_into_non_trainable_params():
    net = Sequential([("fc", Linear(4, 3)), ("st", Stats())], input_shape=(4,))
    torch_ = analyze(net).layer("st")
    keras = analyze(net, convention="keras").layer("st")
    assert (torch_.params, torch_.buffers, torch_.non_trainable_params) == (3, 6, 0)
    assert (keras.params, keras.buffers, keras.non_trainable_params, keras.trainable_params) == (9, 0, 6, 3)


def test_explain_linear_in_english_and_chinese():
    s = analyze(Sequential([("fc", Linear(4, 2))], input_shape=(5, 4)), batch_size=2)
    en = s.explain("fc").splitlines()
    assert en[0] == "fc (Linear)"
    assert "  input shape: 2x5x4" in en
    assert "  output shape: 2x5x2" in en
    assert "  weights = F_in*F_out = 4*2 = 8" in en
    assert "  biases = F_out = 2" in en
    assert "  params = weights + biases = 8 + 2 = 10" in en
    assert "  multiply-adds = rows*F_in*F_out = 10*4*2 = 80" in en
    assert "  FLOPs = 2*multiply_adds = 2*80 = 160" in en
    zh = s.explain("fc", lang="zh").splitlines()
    assert zh[0] == "fc（Linear）"
    assert "  输入形状：2x5x4" in zh
    assert "  权重 = F_in*F_out = 4*2 = 8" in zh
    assert "  参数 = 权重 + 偏置 = 8 + 2 = 10" in zh
    assert "  乘加次数 = 行数*F_in*F_out = 10*4*2 = 80" in zh
    assert "  浮点运算次数 = 2*乘加次数 = 2*80 = 160" in zh


def test_summary_layer_lookup_suggests_close_names():
    s = analyze(Sequential([("encoder", Linear(4, 2))], input_shape=(4,)))
    with pytest.raises(NetsizeError, match="no layer named 'encoderr' in 'network'; did you mean encoder"):
        s.layer("encoderr")


def test_tied_layer_counts_no_params_and_says_where_they_are():
    g = Graph("tied", input_shape=(8,))
    g.add("enc", Linear(8, 16, bias=False))
    g.add("dec", Linear(16, 8, bias=False), tied_to="enc")
    s = analyze(g.build())
    dec = s.layer("dec")
    assert (dec.weights, dec.biases, dec.params, dec.trainable_params) == (0, 0, 0, 0)
    assert dec.multiply_adds == 16 * 8  # the work is still done
    assert s.totals.params == 8 * 16
    assert [n.render() for n in dec.notes] == ["tied to enc: its params are counted there, not again here"]
    text = s.explain("dec")
    assert "  weights = F_in*F_out = 16*8 = 128" in text  # its own formula is still explained
    assert text.endswith("tied to enc: its params are counted there, not again here")
    assert s.explain("dec", lang="zh").endswith("与 enc 共享参数：只在那里计数一次")


def test_frozen_layer_moves_params_to_non_trainable():
    g = Graph("frozen", input_shape=(4,))
    g.add("fc", Linear(4, 3), trainable=False)
    g.add("head", Linear(3, 2))
    s = analyze(g.build())
    fc = s.layer("fc")
    assert (fc.params, fc.trainable_params, fc.non_trainable_params) == (15, 0, 15)
    assert [n.render() for n in fc.notes] == ["frozen: its params are not trainable"]
    assert (s.totals.params, s.totals.trainable_params, s.totals.non_trainable_params) == (23, 8, 15)


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [0, -3, 2.5, "4", None])
def test_bad_batch_size_is_rejected(batch):
    net = Sequential([Linear(4, 2)], input_shape=(4,))
    with pytest.raises(NetsizeError, match=r"batch size must be a positive integer \(got "):
        analyze(net, batch_size=batch)


def test_bool_batch_size_is_rejected():
    with pytest.raises(NetsizeError, match="batch size must be a positive integer"):
        analyze(Sequential([Linear(4, 2)], input_shape=(4,)), batch_size=True)


def test_unknown_convention_is_rejected():
    with pytest.raises(NetsizeError) as err:
        analyze(Sequential([Linear(4, 2)], input_shape=(4,)), convention="tensorflow")
    assert str(err.value) == "convention must be one of torch, keras (got 'tensorflow')"


def test_unknown_layer_name_suggests_close_matches():
    with pytest.raises(NetsizeError) as err:
        layer_type("linaer")
    assert str(err.value) == "unknown layer type 'linaer'; did you mean linear?"
    with pytest.raises(NetsizeError, match="unknown layer type 'qqqzzz'; `netsize layers` lists them"):
        layer_type("qqqzzz")
    assert layer_type("Li-n_ear") is Linear  # case, '_' and '-' are ignored


def test_layer_error_is_prefixed_with_node_name_kind_and_input():
    net = Sequential([("fc1", Linear(6400, 4096))], input_shape=(256 * 6 * 6,))
    with pytest.raises(NetsizeError) as err:
        analyze(net)
    assert str(err.value).startswith("fc1 (Linear, input 1x9216): expects 6,400 input features but receives 9,216")


def test_wrong_number_of_inputs_is_an_error():
    g = Graph("g", inputs={"a": (4,), "b": (4,)})
    g.add("fc", Linear(4, 2), inputs=["a", "b"])
    with pytest.raises(NetsizeError, match=r"fc \(Linear\): takes 1 input\(s\) but is given 2"):
        analyze(g.build())


def test_non_positive_output_size_is_an_error():
    net = Sequential([("shrink", Shrink(k=4))], input_shape=(4,))
    with pytest.raises(NetsizeError, match=r"shrink \(Shrink\): output size 1x0 has a zero or negative dimension"):
        analyze(net)


def test_network_rejects_bad_input_shapes_and_layouts():
    with pytest.raises(NetsizeError, match=r"input 'x': sizes must be positive integers \(got \[3, 0\]\)"):
        Network("n", {"x": (3, 0)})
    with pytest.raises(NetsizeError, match="layout must be one of channels_first, channels_last"):
        Network("n", {"x": (3,)}, layout="nhwc")


def _lstm_graph_with_output(ref: str, head_ref: str | None = None) -> Network:
    g = Graph("g", input_shape=(5, 4))
    g.add("lstm", LSTM(hidden_size=3))
    if head_ref is not None:
        g.add("fc", Linear(out_features=2), inputs=head_ref)
    g.outputs(ref)
    return g.build()


def test_declared_output_with_missing_port_is_a_netsize_error():
    with pytest.raises(NetsizeError, match="lstm"):
        analyze(_lstm_graph_with_output("lstm:5"))


def test_declared_output_with_unknown_name_is_a_netsize_error():
    with pytest.raises(NetsizeError, match="nothere"):
        analyze(_lstm_graph_with_output("nothere"))


def test_non_numeric_port_is_a_netsize_error():
    with pytest.raises(NetsizeError, match="lstm:h"):
        analyze(_lstm_graph_with_output("fc", head_ref="lstm:h"))


# --- Term, i18n, dtypes -------------------------------------------------------------------


def test_term_renders_formula_values_and_notes():
    assert Term("weights", 34848, "K_h*K_w*C_in*C_out", prod_str(11, 11, 3, 96)).render() == (
        "weights = K_h*K_w*C_in*C_out = 11*11*3*96 = 34,848"
    )
    assert Term("weights", 34848, "K_h*K_w*C_in*C_out", prod_str(11, 11, 3, 96)).render("zh") == (
        "权重 = K_h*K_w*C_in*C_out = 11*11*3*96 = 34,848"
    )
    value, notes = floor_div_exact(213, 4)
    assert value == 53
    assert Term("O_H", value + 1, "floor((I - K) / S) + 1", "floor((224 - 11) / 4) + 1", notes).render() == (
        "O_H = floor((I - K) / S) + 1 = floor((224 - 11) / 4) + 1 = 54  (not exact: 213/4 = 53.25, floored to 53)"
    )
    assert floor_div_exact(213, 4, ceil=True)[0] == 54
    assert floor_div_exact(212, 4) == (53, ())
    with pytest.raises(TypeError):
        Term("weights", 1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Term("weights", True)


def test_i18n_requires_both_languages_and_refuses_conflicting_texts():
    with pytest.raises(NetsizeError, match="lacks languages"):
        register_messages({"test.core.only_en": {"en": "x"}})
    register_messages({"test.core.greet": {"en": "hello {who}", "zh": "你好 {who}"}})
    register_messages({"test.core.greet": {"en": "hello {who}", "zh": "你好 {who}"}})  # same texts: fine
    with pytest.raises(NetsizeError, match="registered twice"):
        register_messages({"test.core.greet": {"en": "hi {who}", "zh": "你好 {who}"}})
    assert translate("test.core.greet", "zh", who="netsize") == "你好 netsize"
    assert translate("test.core.greet", "fr", who="netsize") == "hello netsize"  # falls back to English
    assert translate("no.such.key") == "no.such.key"
    assert message("note.frozen").render("zh") == "已冻结：参数不可训练"


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**12))
def test_dtype_bytes_rounds_packed_int4_up(count):
    assert dtype_bytes(count, "int4") == (count + 1) // 2
    assert dtype_bytes(count, "float32") == 4 * count
    assert dtype_bytes(count, "bf16") == dtype_bytes(count, "torch.bfloat16") == 2 * count
    assert dtype_bytes(count, "int8") == count


def test_dtype_bytes_unknown_dtype_lists_known_ones():
    with pytest.raises(NetsizeError, match="unknown dtype 'float7'; use one of float64, float32"):
        dtype_bytes(10, "float7")


def test_error_after_a_flatten_names_the_shape_it_came_from():
    # The example: fc1 declared for 6400 inputs after AlexNet's 256x6x6 map.
    from netsize.layers import Conv2d, Flatten

    net = Sequential(
        [("conv5", Conv2d(3, 256, 3, padding=1)), ("flatten", Flatten()), ("fc1", Linear(6400, 4096))],
        input_shape=(3, 6, 6),
    )
    with pytest.raises(NetsizeError) as err:
        analyze(net)
    assert str(err.value).startswith(
        "fc1 (Linear, input 1x9216 = 1x(256*6*6) reshaped by flatten): expects 6,400 input features but receives 9,216"
    )


def test_analyze_until_stops_after_the_named_layer_or_block():
    net = Sequential(
        [
            ("a", Linear(4, 3)),
            ("blk", Sequential([("x", Linear(3, 3)), ("y", Linear(3, 2))], input_shape=(3,))),
            ("bad", Linear(99, 1)),
        ],
        input_shape=(4,),
    )
    with pytest.raises(NetsizeError, match="bad"):
        analyze(net)
    assert [r.name for r in analyze(net, until="a").layers] == ["a"]
    s = analyze(net, until="blk")
    assert [r.name for r in s.layers] == ["a", "blk.x", "blk.y"]
    assert s.output_shapes == ((1, 2),)
    with pytest.raises(NetsizeError, match="no layer named 'nope'"):
        analyze(net, until="nope")


def test_layer_analyses_are_remembered_and_equal_fresh_ones():
    """The same layer on the same shapes is analysed once per process (the steady state of a
    notebook or server); the remembered analysis is the one a fresh call computes, and a layer
    with an unhashable field is still analysed."""
    from netsize import layers
    from netsize._analyze import _analysis, _cached_analysis
    from netsize._layer import Context

    conv = layers.Conv2d(3, 8, kernel_size=3, stride=2)
    first = _analysis(conv, ((2, 3, 17, 17),), Context())
    again = _analysis(layers.Conv2d(3, 8, kernel_size=3, stride=2), ((2, 3, 17, 17),), Context())
    assert again is first and again == conv.analyze(((2, 3, 17, 17),), Context())
    assert _cached_analysis.cache_info().hits >= 1

    class Odd(layers.ReLU):  # an unhashable field: analysed every time, not refused
        pass

    odd = Odd()
    object.__setattr__(odd, "inplace", [False])
    assert _analysis(odd, ((2, 4),), Context()).outputs == ((2, 4),)
