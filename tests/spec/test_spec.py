"""The YAML spec format: what it builds, and how it reports mistakes (file, line, field)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import netsize
from netsize import Graph, NetsizeError, Sequential, analyze, layers
from netsize._layer import Analysis, Context, Layer
from netsize._registry import register_layer
from netsize.spec import SpecError, load_spec, read_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@register_layer("spectest_sum")
@dataclass(frozen=True)
class _Sum(Layer):
    """Elementwise sum of same-shaped inputs (a test-only merge layer: branches need one)."""

    kind = "SpecTestSum"
    arity = None
    preserves_spatial = True

    def analyze(self, inputs, ctx: Context) -> Analysis:
        if len(set(inputs)) != 1:
            raise NetsizeError(f"inputs differ: {inputs}")
        return Analysis(outputs=(inputs[0],))


def _records(summary):
    return [(r.name, r.kind, r.output_shapes, r.params, r.multiply_adds, r.buffers) for r in summary.layers]


# --- what a spec builds ---------------------------------------------------------------


def test_spec_mlp_equals_builder_api():
    net = load_spec(
        """
name: mlp
input: [784]
variables: {hidden: 256, num_classes: 10}
layers:
  - fc1: {type: linear, out_features: $hidden}
  - act: relu
  - fc2: {type: dense, out_features: $hidden // 2, bias: false}
  - out: {type: fc, out_features: $num_classes}
"""
    )
    built = Sequential(
        [
            ("fc1", layers.Linear(out_features=256)),
            ("act", netsize.layer_type("relu")()),
            ("fc2", layers.Linear(out_features=128, bias=False)),
            ("out", layers.Linear(out_features=10)),
        ],
        input_shape=(784,),
        name="mlp",
    )
    assert _records(analyze(net, batch_size=4)) == _records(analyze(built, batch_size=4))
    assert analyze(net).totals.params == 784 * 256 + 256 + 256 * 128 + 128 * 10 + 10


def test_variables_override_and_arithmetic():
    text = """
input: [$width]
variables: {width: 32, double: $width * 2, half: "${double / 4}"}
layers:
  - a: {type: linear, out_features: $double}
  - b: {type: linear, out_features: $half}
  - c: {type: linear, out_features: "max($half, 20) + 1"}
"""
    net = load_spec(text)
    assert net.inputs == {"input": (32,)}
    assert [n.layer.out_features for n in net.nodes] == [64, 16, 21]
    net = load_spec(text, variables={"width": 8})
    assert net.inputs == {"input": (8,)}
    assert [n.layer.out_features for n in net.nodes] == [16, 4, 21]


def test_unknown_override_variable_is_reported_with_suggestion():
    with pytest.raises(SpecError, match=r"no variable 'widht'.*did you mean width"):
        load_spec("input: [4]\nvariables: {width: 3}\nlayers:\n  - fc: {type: linear, out_features: $width}\n",
                  variables={"widht": 5})


def test_repeated_block_with_skip_connection_matches_graph_builder():
    text = """
name: resblocks
input: [16]
variables: {width: 16}
blocks:
  res:
    inputs: [x]
    variables: {hidden: 8}
    layers:
      - fc1: {type: linear, out_features: $hidden}
      - act: relu
      - fc2: {type: linear, out_features: $width}
      - sum: {type: spectest_sum, from: [fc2, x]}
layers:
  - stem: {type: linear, out_features: $width}
  - stage: {block: res, repeat: 3, with: {hidden: 4}, first: {hidden: 32}}
  - head: {type: linear, out_features: 2, from: stage}
"""
    net = load_spec(text)
    g = Graph("resblocks", input_shape=(16,))
    g.add("stem", layers.Linear(out_features=16))
    for i, hidden in enumerate((32, 4, 4)):
        x = g.last
        g.add(f"stage.{i}.fc1", layers.Linear(out_features=hidden))
        g.add(f"stage.{i}.act", netsize.layer_type("relu")())
        g.add(f"stage.{i}.fc2", layers.Linear(out_features=16))
        g.add(f"stage.{i}.sum", _Sum(), inputs=[f"stage.{i}.fc2", x])
    g.add("head", layers.Linear(out_features=2))
    assert [(n.name, n.inputs) for n in net.nodes] == [(n.name, n.inputs) for n in g.build().nodes]
    assert _records(analyze(net)) == _records(analyze(g.build()))
    # the block sums show up at depth 1 (the top level) as one row per stage copy's parent
    rows = analyze(net).rows(depth=1)
    assert [r.name for r in rows] == ["stem", "stage", "head"]
    assert rows[1].params == sum(r.params for r in analyze(net).layers if r.name.startswith("stage."))


def test_repeat_index_variable_and_inner_names_are_reachable():
    net = load_spec(
        """
input: [8]
layers:
  - grow: {type: linear, out_features: 4 * ($i + 1), repeat: 3}
  - tap: {type: linear, out_features: 5, from: grow.0}
  - group:
      layers:
        - inner: {type: linear, out_features: 6, from: grow.1}
  - last: {type: linear, out_features: 7, from: group.inner}
"""
    )
    nodes = {n.name: n for n in net.nodes}
    assert [nodes[f"grow.{i}"].layer.out_features for i in range(3)] == [4, 8, 12]
    assert nodes["grow.1"].inputs == ("grow.0",)
    assert nodes["tap"].inputs == ("grow.0",)
    assert nodes["group.inner"].inputs == ("grow.1",)
    assert nodes["last"].inputs == ("group.inner",)


def test_named_inputs_outputs_and_auto_names():
    spec = read_spec(
        """
name: two
inputs: {a: [4], b: [4]}
convention: keras
layers:
  - relu
  - {type: linear, out_features: 3, from: b}
  - joined: {type: spectest_sum, from: [relu_1, a]}
outputs: [joined, linear_1]
"""
    )
    net = spec.network
    assert spec.convention == "keras"
    assert net.inputs == {"a": (4,), "b": (4,)}
    assert [n.name for n in net.nodes] == ["relu_1", "linear_1", "joined"]
    assert net.nodes[0].inputs == ("a",)
    assert net.outputs == ("joined", "linear_1")
    assert analyze(net).output_shapes == ((1, 4), (1, 3))


def test_python_mapping_spec_is_accepted():
    net = load_spec({"name": "m", "input": [3], "layers": [{"fc": {"type": "linear", "out_features": 2}}]})
    assert analyze(net).totals.params == 3 * 2 + 2


def test_frozen_layers_and_list_fields():
    net = load_spec(
        """
input: [3, 32, 32]
layers:
  - conv: {type: conv2d, out_channels: 8, kernel_size: [3, 5], padding: [1, 2], trainable: false}
"""
    )
    s = analyze(net)
    assert net.nodes[0].layer.kernel_size == (3, 5)
    assert s.layer("conv").output_shape == (1, 8, 32, 32)
    assert s.totals.trainable_params == 0
    assert s.totals.non_trainable_params == 3 * 8 * 3 * 5 + 8


def test_alexnet_example_matches_torch():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    net = load_spec(EXAMPLES / "alexnet.yaml")
    s = analyze(net, batch_size=2)
    model = nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Flatten(),
        nn.Linear(9216, 4096), nn.ReLU(), nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, 1000),
    )
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.zeros(2, 3, 227, 227)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        y = model(x)
    assert s.output_shapes[0] == tuple(y.shape)
    assert s.totals.params == sum(p.numel() for p in model.parameters())
    assert s.totals.multiply_adds == counter.get_total_flops() // 2


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_spec_loads_and_analyzes(path):
    spec = read_spec(path)
    s = analyze(spec.network, convention=spec.convention or "torch")
    assert s.totals.params > 0
    assert len(s.layers) == len(spec.network.nodes)


@settings(max_examples=60, deadline=None)
@given(widths=st.lists(st.integers(1, 64), min_size=1, max_size=6), n_in=st.integers(1, 64),
       batch=st.integers(1, 8))
def test_random_mlp_spec_counts_equal_builder(widths, n_in, batch):
    text = f"input: [{n_in}]\nlayers:\n" + "".join(
        f"  - fc{i}: {{type: linear, out_features: {w}}}\n" for i, w in enumerate(widths)
    )
    built = Sequential([(f"fc{i}", layers.Linear(out_features=w)) for i, w in enumerate(widths)],
                       input_shape=(n_in,))
    assert _records(analyze(load_spec(text), batch)) == _records(analyze(built, batch))


# --- mistakes: every one reported, with file, line and field ------------------------------


def test_bad_field_value_names_file_line_and_path(tmp_path):
    path = tmp_path / "alexnet.yaml"
    path.write_text(
        "name: alexnet\n"
        "input: [3, 227, 227]\n"
        "layers:\n"
        "  - conv1: {type: conv2d, out_channels: 96, kernel_size: 11, stride: 4}\n"
        "  - relu1: relu\n"
        "  - conv2: {type: conv2d, out_channels: 96, kernel_size: 3x3}\n"
    )
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value) == (
        f"{path}:6: layers[2].kernel_size: must be an int or a list of ints (got '3x3')"
    )
    (issue,) = info.value.issues
    assert (issue.line, issue.loc) == (6, "layers[2].kernel_size")


def test_all_mistakes_are_collected_at_once():
    text = """name: broken
input: [3, 32, 32]
variables: {width: 8}
layers:
  - conv1: {type: conv2dd, out_channels: 8, kernel_size: 3}
  - conv2: {type: conv2d, out_channel: 8, kernel_size: 3}
  - conv3: {type: conv2d, out_channels: $widht, kernel_size: 3}
  - sum: {type: spectest_sum, from: [conv3, conv22]}
  - conv3: relu
  - stage: {block: basik}
extra: 1
"""
    with pytest.raises(SpecError) as info:
        load_spec(text)
    issues = {(i.line, i.loc): i.message for i in info.value.issues}
    assert "did you mean conv2d" in issues[(5, "layers[0].type")]
    assert "no field 'out_channel'" in issues[(6, "layers[1].out_channel")]
    assert "did you mean out_channels" in issues[(6, "layers[1].out_channel")]
    assert "unknown variable $widht; did you mean $width" in issues[(7, "layers[2].out_channels")]
    assert "'conv22' is not an earlier layer or input; did you mean conv2" in issues[(8, "layers[3].from")]
    assert "duplicate layer name 'conv3'" in issues[(9, "layers[4]")]
    assert "unknown block 'basik'" in issues[(10, "layers[5].block")]
    assert "unknown key" in issues[(11, "extra")]
    assert issues[(6, "layers[1]")] == "Conv2d needs field 'out_channels'"  # the typo leaves it unset
    first, *rest = str(info.value).splitlines()
    assert first.startswith("<spec>:5: layers[0].type: unknown layer type")
    assert first.endswith("(and 7 more mistakes in <spec>, below)")
    assert len(rest) == 7 and all(line.startswith("  <spec>:") for line in rest)


def test_yaml_syntax_error_reports_its_line():
    with pytest.raises(SpecError, match=r"^<spec>:3: not valid YAML"):
        load_spec("input: [3]\nlayers:\n  - fc: {type: linear, out_features: 4\n")


def test_missing_sections_and_bad_input_shape():
    with pytest.raises(SpecError) as info:
        load_spec("name: x\ninput: [3, -1]\n")
    messages = [str(i) for i in info.value.issues]
    assert any("input: must be a list of positive ints" in m and ":2:" in m for m in messages)
    assert any("layers: missing" in m for m in messages)


def test_layer_construction_error_is_located():
    with pytest.raises(SpecError, match=r"^<spec>:3: layers\[0\]: .*positive"):
        load_spec("input: [3]\nlayers:\n  - fc: {type: linear, out_features: 0}\n")


def test_block_input_count_mismatch():
    text = """
input: [4]
blocks:
  pair: {inputs: [a, b], layers: [{s: {type: spectest_sum, from: [a, b]}}]}
layers:
  - p: {block: pair}
"""
    with pytest.raises(SpecError, match=r"block 'pair' takes 2 inputs \(a, b\) but is given 1"):
        load_spec(text)


def test_missing_file_is_a_netsize_error(tmp_path):
    with pytest.raises(NetsizeError, match="spec file not found"):
        load_spec(tmp_path / "nope.yaml")


def test_resnet18_example_matches_zoo_node_for_node():
    # Two independent descriptions (YAML blocks here, Python builders in netsize.zoo) of torchvision's
    # resnet18 must agree on every node's name, shape and counts.
    from netsize import zoo

    spec = analyze(load_spec(EXAMPLES / "resnet18.yaml"), batch_size=2)
    built = analyze(zoo.get("resnet18").build(), batch_size=2)
    assert _records(spec) == _records(built)


def test_resnet18_example_matches_torch_counts():
    torch = pytest.importorskip("torch")
    nn = torch.nn

    def block(c_in, c_out, stride):
        body = nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
                             nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out))
        short = (nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
                 if stride != 1 else nn.Identity())
        return body, short

    blocks = [block(64, 64, 1), block(64, 64, 1)]
    for c in (128, 256, 512):
        blocks += [block(c // 2, c, 2), block(c, c, 1)]
    stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
    head = nn.Linear(512, 1000)
    modules = nn.ModuleList([stem, head, *(m for pair in blocks for m in pair)])
    s = analyze(load_spec(EXAMPLES / "resnet18.yaml"))
    assert s.totals.params == sum(p.numel() for p in modules.parameters())
    assert s.totals.buffers == sum(b.numel() for b in modules.buffers())


def test_a_required_field_left_out_is_named_not_reported_as_zero():
    text = "input: [3, 32, 32]\nlayers:\n  - conv1: {type: conv2d, kernel_size: 3}\n  - fc: linear\n"
    with pytest.raises(SpecError) as info:
        load_spec(text)
    issues = {(i.line, i.loc): i.message for i in info.value.issues}
    assert issues == {
        (3, "layers[0]"): "Conv2d needs field 'out_channels'",
        (4, "layers[1]"): "Linear needs field 'out_features'",
    }
