"""Every function in netsize's ``__all__`` takes what a user naturally passes, or refuses it with
one NetsizeError that names what to pass (issue 21, section 5)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import netsize
from netsize import NetsizeError, layers

ROOT = Path(__file__).resolve().parents[1]
ALEXNET_SPEC = ROOT / "examples" / "alexnet.yaml"


def _suggested_call(message: str) -> str:
    """The first ``netsize.analyze(...)`` call a message suggests, as written in it."""
    match = re.search(r"netsize\.analyze\(netsize\.[a-z_.]+\('[^']*'\)\)", message)
    assert match, message
    return match.group(0)


def test_analyze_takes_a_zoo_entry_as_its_network() -> None:
    entry = netsize.zoo.get("alexnet")
    by_entry = netsize.analyze(entry)
    by_network = netsize.analyze(entry.build())
    assert by_entry.totals == by_network.totals
    assert by_entry.totals.params == 62_378_344


def test_analyze_takes_a_zoo_entry_with_its_own_convention() -> None:
    entry = netsize.zoo.get("keras-example")
    assert entry.convention == "keras"
    own = netsize.analyze(entry)
    assert own.convention == "keras"
    assert own.totals == netsize.analyze(entry.build(), convention="keras").totals
    assert netsize.analyze(entry, convention="torch").convention == "torch"


def test_analyze_takes_a_loaded_spec() -> None:
    spec = netsize.spec.read_spec(ALEXNET_SPEC)
    assert netsize.analyze(spec).totals == netsize.analyze(netsize.spec.load_spec(ALEXNET_SPEC)).totals


def test_analyze_of_a_zoo_name_names_the_call_that_works() -> None:
    with pytest.raises(NetsizeError, match=r"netsize\.zoo\.get\('alexnet'\)") as err:
        netsize.analyze("alexnet")  # type: ignore[arg-type]
    call = _suggested_call(str(err.value))
    assert eval(call, {"netsize": netsize}).totals.params == 62_378_344


@pytest.mark.parametrize("path", [str(ALEXNET_SPEC), ALEXNET_SPEC], ids=["str", "Path"])
def test_analyze_of_a_spec_path_names_load_spec(path: str | Path) -> None:
    with pytest.raises(NetsizeError, match=r"netsize\.spec\.load_spec\(") as err:
        netsize.analyze(path)  # type: ignore[arg-type]
    call = _suggested_call(str(err.value))
    assert eval(call, {"netsize": netsize}).totals.params == 62_378_344


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ("model.onnx", "netsize.frontends.onnx.summary('model.onnx')"),
        ("model.keras", "netsize.frontends.keras.summary('model.keras')"),
        ("config.json", "netsize.frontends.hf_config.summary_from_config('config.json')"),
        ({"model_type": "gpt2"}, "summary_from_config(config)"),
        ({"name": "mlp", "input": [4], "layers": []}, "netsize.spec.load_spec(data)"),
        (layers.Linear(4, 3), "netsize.analyze_layer("),
        (None, "netsize.zoo.get(NAME)"),
        (42, "netsize.Sequential"),
    ],
)
def test_analyze_of_other_things_names_the_call_for_them(given: object, named: str) -> None:
    with pytest.raises(NetsizeError) as err:
        netsize.analyze(given)  # type: ignore[arg-type]
    assert named in str(err.value)
    assert str(err.value).startswith("analyze takes a netsize.Network")


def test_analyze_of_a_summary_says_it_is_one_already() -> None:
    s = netsize.analyze(netsize.zoo.get("lenet5"))
    with pytest.raises(NetsizeError, match="already a Summary"):
        netsize.analyze(s)  # type: ignore[arg-type]


def test_analyze_of_a_torch_module_names_netsize_summary() -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(NetsizeError, match=r"netsize\.summary\(model, input_size="):
        netsize.analyze(torch.nn.Linear(4, 3))  # type: ignore[arg-type]


def test_analyze_of_a_builder_that_returns_no_network_is_refused() -> None:
    class Builder:
        def build(self) -> str:
            return "alexnet"

    with pytest.raises(NetsizeError, match=r"Builder\.build\(\) returned str, not a netsize\.Network"):
        netsize.analyze(Builder())  # type: ignore[arg-type]


def test_analyze_checks_until() -> None:
    net = netsize.zoo.get("alexnet").build()
    with pytest.raises(NetsizeError, match="until is a layer name such as 'conv1' \\(got 3\\)"):
        netsize.analyze(net, until=3)  # type: ignore[arg-type]
    assert netsize.analyze(net, until="conv1").layers[-1].name == "conv1"


def test_analyze_layer_takes_one_shape_or_lists() -> None:
    fc = layers.Linear(4, 3)
    expected = netsize.analyze_layer("fc", fc, ((2, 4),))
    assert expected.multiply_adds == 24
    for given in [(2, 4), [2, 4], [[2, 4]], ([2, 4],)]:
        record = netsize.analyze_layer("fc", fc, given)  # type: ignore[arg-type]
        assert record.input_shapes == ((2, 4),)
        assert record.multiply_adds == expected.multiply_adds


@pytest.mark.parametrize("shapes", ["2x4", ((2, -1),), ((2.0, 4),), 8, ((True, 4),), [[2, "4"]]])
def test_analyze_layer_refuses_what_is_not_shapes(shapes: object) -> None:
    with pytest.raises(NetsizeError, match=r"input_shapes is one full shape per input, batch first"):
        netsize.analyze_layer("fc", layers.Linear(4, 3), shapes)  # type: ignore[arg-type]


def test_analyze_layer_refuses_a_layer_name_and_a_convention_name() -> None:
    with pytest.raises(NetsizeError, match=r"netsize\.layer_type\('linear'\) gives its class"):
        netsize.analyze_layer("fc", "linear", ((2, 4),))  # type: ignore[arg-type]
    with pytest.raises(NetsizeError, match=r"netsize\.Context\(convention='keras'\)"):
        netsize.analyze_layer("fc", layers.Linear(4, 3), ((2, 4),), ctx="keras")  # type: ignore[arg-type]
    with pytest.raises(NetsizeError, match="name is the layer's name"):
        netsize.analyze_layer(layers.Linear(4, 3), layers.Linear(4, 3), ((2, 4),))  # type: ignore[arg-type]


def test_dtypes_take_names_and_refuse_other_values() -> None:
    assert netsize.canonical_dtype("bf16") == "bfloat16"
    assert netsize.dtype_bytes(3, "int4") == 2
    with pytest.raises(NetsizeError, match="a dtype is a name such as 'bfloat16'"):
        netsize.canonical_dtype(None)  # type: ignore[arg-type]
    for count in ["10", 10.5, True]:
        with pytest.raises(NetsizeError, match="count is a number of elements, an int"):
            netsize.dtype_bytes(count, "float32")  # type: ignore[arg-type]


def test_dtypes_take_a_torch_dtype_and_exact_integers() -> None:
    torch = pytest.importorskip("torch")
    assert netsize.canonical_dtype(torch.bfloat16) == "bfloat16"  # type: ignore[arg-type]
    assert netsize.dtype_bytes(torch.tensor(5), "float32") == 20  # type: ignore[arg-type]


def test_explain_record_refuses_a_layer_name() -> None:
    s = netsize.analyze(netsize.zoo.get("alexnet"))
    assert netsize.explain_record(s.layer("conv1")).splitlines()[0] == "conv1 (Conv2d)"
    with pytest.raises(NetsizeError, match=r"summary\.explain\('conv1'\)"):
        netsize.explain_record("conv1")  # type: ignore[arg-type]


def test_layer_type_takes_a_class_and_refuses_none() -> None:
    assert netsize.layer_type(layers.Linear) is layers.Linear  # type: ignore[arg-type]
    assert netsize.layer_type("LINEAR") is layers.Linear
    with pytest.raises(NetsizeError, match="layer_type takes a spec name such as 'conv2d'"):
        netsize.layer_type(None)  # type: ignore[arg-type]


def test_register_layer_without_parentheses_is_refused() -> None:
    with pytest.raises(NetsizeError, match=r"@register_layer\('my_layer'\)"):
        netsize.register_layer(layers.Linear)  # type: ignore[arg-type]
    with pytest.raises(NetsizeError, match=r"decorates a subclass of netsize\.Layer"):
        netsize.register_layer("not_a_layer_probe")(dict)  # type: ignore[type-var]
    assert "notalayerprobe" not in netsize.layer_names()


def test_register_messages_and_translate_refuse_other_values() -> None:
    with pytest.raises(NetsizeError, match="register_messages takes a dict"):
        netsize.register_messages("params")  # type: ignore[arg-type]
    with pytest.raises(NetsizeError, match=r"give its texts as \{'en'"):
        netsize.register_messages({"api.probe": "text"})  # type: ignore[dict-item]
    with pytest.raises(NetsizeError, match="translate takes a message key"):
        netsize.translate(None)  # type: ignore[arg-type]
    assert netsize.translate("params", "zh") == "参数"


def test_builders_take_one_size_and_refuse_what_is_not_a_layer() -> None:
    net = netsize.Sequential([layers.Linear(3, 4)], input_shape=3)  # type: ignore[arg-type]
    assert netsize.analyze(net).totals.params == 16
    with pytest.raises(NetsizeError, match=r"netsize\.zoo\.get\(NAME\)\.build\(\)"):
        netsize.Sequential("alexnet", input_shape=(3,))  # type: ignore[arg-type]
    with pytest.raises(NetsizeError, match="not a netsize layer: pass an object such as"):
        netsize.Sequential([("fc", "linear")], input_shape=(3,))  # type: ignore[list-item]
    with pytest.raises(NetsizeError, match="is not a netsize layer or a"):
        netsize.Sequential(["linear"], input_shape=(3,))  # type: ignore[list-item]
    with pytest.raises(NetsizeError, match=r"give the sizes per sample as a tuple of ints"):
        netsize.Graph("g", input_shape="3x224x224")  # type: ignore[arg-type]
