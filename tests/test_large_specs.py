"""Large specs (issue 11): repeated identical layers are analysed once, and the answer is the
same as analysing every layer on its own; the worst specs the bounds accept complete.

The engine keeps one analysis per (layer, input shapes) and the spec reader makes equal layers
once. The reference here is an engine without either: every node's layer analysed on its own
(``analyze_layer``), input shapes taken from the records before it. Records, explanations,
totals and the memory walk must agree exactly. Timings live in benchmarks/bench_large_spec.py;
no test asserts on time.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsize import Network, analyze, zoo
from netsize._analyze import analyze_layer
from netsize._layer import Context
from netsize._summary import LayerRecord, Summary, explain_record, explain_records
from netsize.memory import estimate
from netsize.memory._network_walk import from_network
from netsize.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]


def _bench() -> object:
    spec = importlib.util.spec_from_file_location("bench_large_spec", ROOT / "benchmarks" / "bench_large_spec.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = _bench()


def reference_summary(network: Network, batch_size: int = 1, convention: str = "torch") -> Summary:
    """Every node analysed on its own: no analysis shared between nodes."""
    ctx = Context(convention=convention, layout=network.layout)
    shapes = {name: ((batch_size, *shape),) for name, shape in network.inputs.items()}
    records: list[LayerRecord] = []
    for node in network.nodes:
        ins = []
        for ref in node.inputs:
            base, _, port = ref.partition(":")
            ins.append(shapes[base][int(port) if port else 0])
        record = analyze_layer(node.name, node.layer, tuple(ins), ctx, node.trainable, node.tied_to)
        shapes[node.name] = record.output_shapes
        records.append(record)
    return Summary(
        model=network.name,
        input_shapes={k: v[0] for k, v in shapes.items() if k in network.inputs},
        batch_size=batch_size,
        convention=convention,
        layout=network.layout,
        layers=tuple(records),
    )


def assert_same_as_reference(network: Network, batch_size: int = 1) -> Summary:
    summary = analyze(network, batch_size=batch_size)
    reference = reference_summary(network, batch_size)
    assert len(summary.layers) == len(reference.layers) == len(network.nodes)
    for got, want in zip(summary.layers, reference.layers, strict=True):
        # the receptive field is the engine's own (the reference does not trace it)
        assert got.name == want.name
        assert got.analysis == want.analysis, got.name
        for field in ("kind", "input_shapes", "output_shapes", "weights", "biases", "params", "trainable_params",
                      "non_trainable_params", "buffers", "multiply_adds", "other_ops", "activation_elements",
                      "saved_elements", "saved_extra_bytes", "notes"):
            assert getattr(got, field) == getattr(want, field), (got.name, field)
    assert summary.totals == reference.totals
    # explanations: written once per shared formula, the same text as one by one
    assert explain_records(summary.layers) == [
        explain_record(replace(want, receptive_field=got.receptive_field))
        for got, want in zip(summary.layers, reference.layers, strict=True)
    ]
    # the memory walk on the shared analyses equals the walk on the reference records
    for checkpointing in (False, True):
        got_memory = estimate(network, batch_size=batch_size, checkpointing=checkpointing).to_dict()
        want_memory = from_network(reference, network, "float32", "adam", None, checkpointing).to_dict()
        assert got_memory == want_memory
    return summary


REPEATED_SPECS = {
    "linear_repeat": """
input: [32]
layers:
  - fc: {type: linear, out_features: 32, repeat: 50}
""",
    "block_repeat": "input: [6, 64]\n" + BENCH.BLOCK + "layers:\n  - h: {block: layer, repeat: 7}\n",
    "varying_with_i": """
input: [8]
layers:
  - fc: {type: linear, out_features: "${8 + i % 3}", repeat: 12, first: {bias: false}}
  - act: {type: relu, repeat: 4}
""",
    "strided_convs": """
input: [3, 64, 64]
layers:
  - conv: {type: conv2d, out_channels: 8, kernel_size: 3, stride: 2, padding: 1, repeat: 5}
  - bn: {type: batchnorm2d, repeat: 3, trainable: false}
""",
    "nested_groups": """
input: [16]
layers:
  - repeat: 3
    layers:
      - repeat: 4
        layers:
          - {type: linear, out_features: 16}
          - gelu
      - {type: layernorm}
  - head: {type: linear, out_features: 16}
  - tied: {type: linear, out_features: 16, tied_to: head}
""",
}


@pytest.mark.parametrize("name", sorted(REPEATED_SPECS))
def test_repeated_layers_analysed_once_equal_every_layer_analysed(name: str) -> None:
    network = load_spec(REPEATED_SPECS[name])
    for batch_size in (1, 3):
        assert_same_as_reference(network, batch_size)


@pytest.mark.parametrize("name", ["resnet50", "alexnet-grouped", "vgg11_bn", "mobilenet_v2", "unet", "keras-example"])
def test_zoo_networks_equal_every_layer_analysed(name: str) -> None:
    assert_same_as_reference(zoo.get(name).build())


def test_repeated_block_counts_are_the_block_times_n() -> None:
    """The closed form: a block that keeps its input shape, repeated N times, counts N times one
    block's params, multiply-adds, activations and saved elements."""
    one = analyze(load_spec(REPEATED_SPECS["block_repeat"].replace("repeat: 7", "repeat: 1"))).totals
    seven = analyze(load_spec(REPEATED_SPECS["block_repeat"])).totals
    for field in ("params", "multiply_adds", "other_ops", "activation_elements", "buffers"):
        assert getattr(seven, field) == 7 * getattr(one, field), field
    assert seven.params > 0 and seven.multiply_adds > 0


def test_equal_layers_in_a_spec_are_one_object_and_i_dependent_ones_are_not() -> None:
    network = load_spec(REPEATED_SPECS["varying_with_i"])
    fcs = [n.layer for n in network.nodes if n.name.startswith("fc.")]
    assert fcs[1] is fcs[4] and fcs[1] is not fcs[2]  # out_features 9, 9 and 10
    assert [layer.out_features for layer in fcs[:4]] == [8, 9, 10, 8]  # type: ignore[attr-defined]
    assert fcs[0] != fcs[3]  # the first has no bias


def test_field_values_of_different_types_are_different_keys() -> None:
    """Equal layers are made once, keyed by their field values with their types: 1, 1.0 and
    True are equal in Python but may make layers that explain themselves differently."""
    from netsize.spec._loader import _typed

    keys = {_typed(1), _typed(1.0), _typed(True), _typed((1, 1)), _typed((1.0, 1)), _typed((True, 1))}
    assert len(keys) == 6
    assert _typed((3, 3)) == _typed((3, 3))


WORST = ["distinct", "many", "repeat_layer", "repeat_block", "nested", "branching", "concat_far"]


@pytest.mark.parametrize("name", WORST)
def test_worst_accepted_specs_complete_and_equal_the_reference(name: str, tmp_path: Path) -> None:
    """The specs of benchmarks/bench_large_spec.py, at the bounds: the command line answers
    (exit 0, JSON) and its totals equal the reference engine's."""
    text = BENCH.SPECS[name]()
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    proc = subprocess.run([sys.executable, "-m", "netsize", "summary", str(path), "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    network = load_spec(path)
    reference = reference_summary(network)
    assert data["totals"] == reference.totals.to_dict()
    assert len(data["layers"]) == len(reference.layers) == len(network.nodes)
    assert [row["params"] for row in data["layers"]] == [r.params for r in reference.layers]
    assert [row["multiply_adds"] for row in data["layers"]] == [r.multiply_adds for r in reference.layers]


def test_worst_repeated_spec_memory_equals_the_reference() -> None:
    network = load_spec(BENCH.SPECS["repeat_block"]())
    reference = reference_summary(network)
    assert estimate(network).to_dict() == from_network(reference, network, "float32", "adam", None, False).to_dict()


def test_repeat_at_the_bound_counts_in_closed_form() -> None:
    totals = analyze(load_spec(BENCH.SPECS["repeat_layer"]())).totals
    n = BENCH.MAX_LAYERS
    assert totals.params == n * (64 * 64 + 64)
    assert totals.multiply_adds == n * 64 * 64
    assert totals.activation_elements == n * 64


def test_many_mistakes_stop_at_the_bound(tmp_path: Path) -> None:
    from netsize._limits import MAX_SPEC_ISSUES

    lines = ["input: [16]", "layers:", "  - l0: {type: linear, out_features: 16}"]
    lines += [f"  - l{k}: {{type: relu, from: m{k - 1}}}" for k in range(1, 3000)]
    path = tmp_path / "bad.yaml"
    path.write_text("\n".join(lines) + "\n")
    proc = subprocess.run([sys.executable, "-m", "netsize", "summary", str(path)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    err = proc.stderr.splitlines()
    assert err[0].startswith(f"netsize: error: {path}:4: layers[1].from: 'm0' is not an earlier layer")
    assert err[0].endswith(f"(and {MAX_SPEC_ISSUES - 1} more mistakes in {path}, below)")
    assert err[-1] == f"  {path}: stopped after {MAX_SPEC_ISSUES} mistakes; fix these and run it again"
    assert len(err) == MAX_SPEC_ISSUES + 1
    assert "Traceback" not in proc.stderr


def test_dotted_names_reach_into_finished_groups() -> None:
    network = load_spec("""
input: [8]
layers:
  - g:
      repeat: 2
      layers:
        - inner:
            layers:
              - fc: {type: linear, out_features: 8}
              - act: relu
  - skip: {type: add, from: [g.0.inner.fc, g.1.inner.act, g.1]}
""")
    skip = network.nodes[-1]
    assert skip.inputs == ("g.0.inner.fc", "g.1.inner.act", "g.1.inner.act")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.tuples(children, children)
    | st.dictionaries(st.text(max_size=5) | st.integers() | st.booleans() | st.none(), children, max_size=4),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_indented_json_writer_equals_json_dumps(value: object) -> None:
    from netsize.render._json import dumps_indented

    assert dumps_indented(value) == json.dumps(value, indent=2, ensure_ascii=False)


def test_summary_json_equals_json_dumps_of_its_dict() -> None:
    from netsize.render import render

    summary = analyze(zoo.get("resnet18").build(), batch_size=2)
    assert render(summary, "json", explain=True, lang="zh") == json.dumps(
        {**summary.to_dict(), "layers": [
            {**row, "explain": explain_record(summary.layer(row["name"]), "zh")} for row in summary.to_dict()["layers"]
        ]}, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize(("name", "options"), [("resnet18", {}), ("alexnet", {"explain": True}),
                                               ("unet", {"lang": "zh", "explain": True}), ("vgg11", {"depth": 1})])
def test_piped_table_equals_what_rich_draws(name: str, options: dict[str, object]) -> None:
    """A piped table is written without rich's line drawing; the characters are the same."""
    import io

    from rich.console import Console

    from netsize.render._console import UNLIMITED, emit, plain_text
    from netsize.render._table import table

    summary = analyze(zoo.get(name).build())
    renderable = table(summary, width=UNLIMITED, **options)  # type: ignore[arg-type]
    console = Console(width=UNLIMITED, file=io.StringIO(), color_system=None, force_terminal=False, record=True,
                      soft_wrap=False, emoji=False, markup=False)
    console.print(renderable)
    out = io.StringIO()
    emit(table(summary, width=UNLIMITED, **options), width=UNLIMITED, file=out)  # type: ignore[arg-type]
    assert out.getvalue() == plain_text(console.export_text())


@pytest.mark.parametrize("terminal", [False, True])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_memory_layer_table_aligned_equals_what_rich_draws(terminal: bool, lang: str) -> None:
    """`netsize memory --layers` draws its per-layer table as one aligned text when the cells fit:
    the same characters (and colours in a terminal) as rich's table."""
    import io

    from rich.console import Console

    from netsize.render._report import _detail_table, memory_detail

    for network in (zoo.get("resnet18").build(), load_spec(REPEATED_SPECS["block_repeat"])):
        detail = memory_detail(estimate(network), lang)
        outs = []
        for width in (None, 300):  # None: rich's own table
            console = Console(width=300, file=io.StringIO(), color_system="truecolor" if terminal else None,
                              force_terminal=terminal, record=not terminal, soft_wrap=False)
            console.print(_detail_table(detail, width))
            outs.append(console.file.getvalue() if terminal else console.export_text())  # type: ignore[attr-defined]
        assert outs[0] == outs[1]
