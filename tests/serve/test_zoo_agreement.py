"""Issue 21, section 4: the calculator's zoo models are the zoo's own networks. For every zoo
model and several input sizes the page's API answers what ``netsize summary NAME --input-size S
--format json`` prints (totals and rows), or both refuse with the same error; and a zoo model
written as a spec (the editor's text) loads back into the same network: names, tree, fields."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import netsize
from netsize import zoo
from netsize.cli import main
from netsize.spec import read_spec
from netsize.spec._dump import dump_spec


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """One app for the module: its two workers serve every model."""
    from starlette.testclient import TestClient

    from netsize.serve import create_app

    app = create_app()
    with TestClient(app, base_url="http://127.0.0.1:8000") as test_client:
        test_client.headers["x-netsize-token"] = app.state.token
        yield test_client


ROW_KEYS = ("name", "kind", "output_shape", "params", "trainable_params", "buffers", "multiply_adds", "flops",
            "other_ops", "activation_elements")


def _sizes(name: str) -> list[str | None]:
    """The model's own input (None), and sizes others than its own: 224 refuses alexnet, 64 and
    28 refuse most classifiers with fixed layer sizes."""
    own = zoo.get(name).input_shape
    other = [(3, 224, 224), (3, 227, 227), (3, 64, 64), (1, 28, 28)]
    if zoo.get(name).layout == "channels_last":
        other = [(*s[1:], s[0]) for s in other]
    return [None, *(",".join(map(str, s)) for s in other if s != own)][:4]


def _cli(capsys: Any, name: str, size: str | None) -> tuple[int, Any]:
    capsys.readouterr()
    status = main(["summary", name, "--format", "json", *(["--input-size", size] if size else [])])
    out, err = capsys.readouterr()
    if status:
        assert err.startswith("netsize: error: ")
        return status, err.removeprefix("netsize: error: ").strip()
    return status, json.loads(out)


@pytest.mark.parametrize("name", zoo.names())
def test_the_page_api_and_the_cli_agree_on_every_zoo_model(client: Any, capsys: Any, name: str) -> None:
    refused = 0
    for size in _sizes(name):
        status, cli = _cli(capsys, name, size)
        r = client.post("/api/analyze", json={"zoo": name, "input_size": size})
        if status:
            assert r.status_code == 422, (name, size, r.text[:200])
            assert r.json()["error"] == cli
            refused += 1
            continue
        assert r.status_code == 200, (name, size, r.text[:300])
        api = r.json()
        assert api["model"] == cli["model"] and api["input_shapes"] == cli["input_shapes"]
        assert api["totals"] == cli["totals"]
        assert [[row[k] for k in ROW_KEYS] for row in api["layers"]] == [[row[k] for k in ROW_KEYS]
                                                                        for row in cli["layers"]]
    assert refused < len(_sizes(name))  # at least its own input is analysed


def test_alexnet_at_224_is_refused_by_the_page_as_by_the_cli(client: Any, capsys: Any) -> None:
    """The issue's example: a dump that dropped fc1's in_features made the page count 50,844,008."""
    status, cli = _cli(capsys, "alexnet", "3,224,224")
    assert status == 2 and "expects 9,216 input features but receives 6,400" in cli
    r = client.post("/api/analyze", json={"zoo": "alexnet", "input_size": "3,224,224"})
    assert r.status_code == 422 and r.json()["error"] == cli
    spec = client.get("/api/zoo/alexnet/spec").text  # the editor's text refuses it too
    r = client.post("/api/analyze", json={"spec": spec, "input_size": "3,224,224"})
    assert r.status_code == 422 and "expects 9,216 input features but receives 6,400" in r.json()["error"]


@pytest.mark.parametrize("name", zoo.names())
def test_a_dumped_zoo_model_loads_back_as_the_zoo_entry(name: str) -> None:
    entry = zoo.get(name)
    network = entry.build()
    spec = read_spec(dump_spec(network, entry.convention))
    back = spec.network
    assert (spec.convention or "torch") == entry.convention
    assert back.name == network.name and back.inputs == network.inputs and back.layout == network.layout
    assert [(n.name, n.inputs, n.layer, n.trainable, n.tied_to) for n in back.nodes] == [
        (n.name, n.inputs, n.layer, n.trainable, n.tied_to) for n in network.nodes]
    assert back.output_refs == network.output_refs
    a = netsize.analyze(network, convention=entry.convention)
    b = netsize.analyze(back, convention=entry.convention)
    assert a.to_dict() == b.to_dict()
    assert [r.name for r in a.rows(1)] == [r.name for r in b.rows(1)]  # the block tree, not flat rows


def test_the_dump_keeps_the_block_tree_and_fixed_sizes() -> None:
    text = dump_spec(zoo.get("resnet18").build())
    assert "layer1_0_conv1" not in text and '- "0":' in text
    assert "from: [bn2, maxpool]" in text  # the first residual add reaches out of its block
    alexnet = dump_spec(zoo.get("alexnet").build())
    assert "in_features: 9216" in alexnet
