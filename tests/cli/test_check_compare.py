"""netsize check (claims, with golden results for the classic tables shipped in examples/claims),
netsize compare, the spec writer, and plots."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import netsize
from netsize import NetsizeError
from netsize.check import check, parse_claim
from netsize.compare import compare
from netsize.spec import load_spec
from netsize.spec._dump import dump_spec

CLAIMS = Path(__file__).resolve().parents[2] / "examples" / "claims"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netsize", *args], capture_output=True, text=True, check=False)


def _alexnet() -> netsize.Summary:
    return netsize.analyze(netsize.zoo.get("alexnet").build())


def test_rounded_claims_hold_to_their_own_precision() -> None:
    s = _alexnet()  # 62,378,344 params, 1,135,256,096 multiply-adds
    results = check(s, ["params=62.4M", "params=62.3M", "params=60M", "multiply-adds=1.1G", "params=62,378,344",
                        "params=62,378,345"])  # fmt: skip
    assert [r.holds for r in results] == [True, False, True, True, True, False]


def test_tolerance_is_relative_or_absolute() -> None:
    s = _alexnet()
    assert check(s, ["params=60,000,000"], tolerance="4%")[0].holds
    assert not check(s, ["params=60,000,000"], tolerance="3%")[0].holds
    assert check(s, ["params=62,378,000"], tolerance="344")[0].holds


def test_false_shape_claim_shows_derivation_and_where_the_size_came_from() -> None:
    (r,) = check(_alexnet(), ["conv5.output=27x27x256"])
    assert not r.holds
    text = "\n".join(r.explanation)
    assert "floor((13 - 3 + 2*1) / 1) + 1 = 13" in text
    assert "27x27x256 is the output of conv2, relu2" in text


def test_shape_claims_accept_channels_last_and_batch() -> None:
    s = _alexnet()
    assert all(r.holds for r in check(s, ["conv1.output=55x55x96", "conv1.output=96x55x55", "conv1.output=1x96x55x55",
                                          "fc1.output=4096x1", "conv1.input=227x227x3"]))  # fmt: skip


def test_byte_claims_use_decimal_and_binary_units() -> None:
    s = netsize.analyze(netsize.zoo.get("alexnet").build())
    assert check(s, ["model-size=249.5MB", "model-size=237.95MiB"])[0].holds  # 249,513,376 bytes
    assert check(s, ["model-size=237.95MiB"])[0].holds


@pytest.mark.parametrize(
    "bad",
    ["params", "paramz=3", "params=lots", "conv1.output=3x", "output=3x3", "params=3Q"],
)
def test_malformed_claims_are_errors_naming_the_claim(bad: str) -> None:
    with pytest.raises(NetsizeError, match="claim"):
        parse_claim(bad)


def test_unknown_layer_in_a_claim_is_an_error() -> None:
    with pytest.raises(NetsizeError, match="conv9"):
        check(_alexnet(), ["conv9.params=1"])


# Golden results of the shipped claims files: which claims fail, and the exit status.
GOLDEN = {
    "alexnet-learnopencv.yaml": ["conv5.output=27x27x256"],
    "vgg16-cs231n.yaml": ["activations=24M", "activation-bytes=93MB"],
    "unet-half.yaml": ["up4.weights=1,179,648"],
    "alexnet-d2l.yaml": [],
    "keras-example.yaml": [],
}


@pytest.mark.parametrize(("name", "failing"), sorted(GOLDEN.items()))
def test_shipped_claims_files(name: str, failing: list[str]) -> None:
    proc = _cli("check", "--claims", str(CLAIMS / name), "--format", "json")
    assert proc.returncode == (1 if failing else 0), proc.stderr
    data = json.loads(proc.stdout)
    assert [c["claim"] for c in data["claims"] if not c["holds"]] == failing
    assert len(data["claims"]) >= 5


def test_cs231n_activations_breakdown_shows_the_tables_own_sum() -> None:
    proc = _cli("check", "--claims", str(CLAIMS / "vgg16-cs231n.yaml"))
    assert proc.returncode == 1
    assert "ReLU 13,555,712, Conv2d 13,547,520, MaxPool2d 1,530,368" in proc.stdout


def test_check_cli_errors_exit_2() -> None:
    proc = _cli("check", "alexnet", "--expect", "paramz=60M")
    assert proc.returncode == 2
    assert proc.stderr.startswith("netsize: error: claim 'paramz=60M': unknown quantity")
    assert _cli("check", "alexnet").returncode == 2


def test_compare_totals_and_differing_blocks() -> None:
    a = netsize.analyze(netsize.zoo.get("resnet50").build())
    b = netsize.analyze(netsize.zoo.get("resnet50").build(), batch_size=1)
    big = netsize.analyze(load_spec(dump_spec(netsize.zoo.get("resnet50").build()).replace("[3, 224, 224]",
                                                                                              "[3, 448, 448]")))
    c = compare([("a", a), ("b", b)])
    assert c.totals["params"] == [25_557_032, 25_557_032]
    assert not any(r.differs for r in c.shared)
    d = compare([("224", a), ("448", big)])
    fc = a.layer("fc").multiply_adds  # after global pooling: the same at both sizes
    assert d.totals["multiply_adds"][1] == 4 * (d.totals["multiply_adds"][0] - fc) + fc
    assert not d.only_in  # the written-back spec keeps the zoo's block names (layer1.0.conv1)


def test_compare_cli_at_two_input_sizes() -> None:
    proc = _cli("compare", "resnet50", "resnet50@3x448x448", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    macs = [m["multiply_adds"] for m in data["models"]]
    fc = 2048 * 1000  # after global pooling: the same at both sizes
    assert macs[0] == 4_089_184_256
    assert macs[1] == 4 * (macs[0] - fc) + fc
    rows = {r["name"]: r for r in data["shared"]}
    assert rows["layer4"]["output_shapes"] == [[2048, 7, 7], [2048, 14, 14]]
    peaks = [m["memory"]["peak_training_bytes"] for m in data["models"]]
    assert peaks[1] > peaks[0]
    grouped = _cli("compare", "alexnet", "alexnet-grouped", "--no-memory", "--format", "json")
    differ = [r["name"] for r in json.loads(grouped.stdout)["shared"] if len(set(r["params"])) > 1]
    assert differ == ["conv2", "conv4", "conv5"]


@pytest.mark.parametrize("name", netsize.zoo.names())
def test_every_zoo_model_written_as_a_spec_loads_back_the_same(name: str) -> None:
    entry = netsize.zoo.get(name)
    a = netsize.analyze(entry.build(), convention=entry.convention)
    b = netsize.analyze(load_spec(dump_spec(entry.build(), entry.convention)), convention=entry.convention)
    assert a.totals == b.totals
    assert [r.output_shape for r in a.layers] == [r.output_shape for r in b.layers]


def test_plot_cli_writes_png_and_svg(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "p.png"
    proc = _cli("plot", "resnet18", "--what", "params", "--depth", "1", "-o", str(png))
    assert proc.returncode == 0, proc.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = tmp_path / "m.svg"
    proc = _cli("plot", "vgg11", "--what", "memory", "-b", "2", "-o", str(svg))
    assert proc.returncode == 0, proc.stderr
    assert "peak" in svg.read_text()
    assert _cli("plot", "resnet18", "-o", str(tmp_path / "x.gif")).returncode == 2


def test_summary_plot_labels_do_not_collide() -> None:
    pytest.importorskip("matplotlib")
    s = netsize.analyze(netsize.zoo.get("resnet18").build())
    ax = s.plot("multiply-adds")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == len(set(labels)) == sum(1 for r in s.layers if r.multiply_adds)


def test_report_html_is_self_contained(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    proc = _cli("report", "alexnet", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    html = out.read_text()
    assert "<script src" not in html and "http://" not in html.split("<script>", 1)[0]
    assert "62378344" in html.replace(",", "")
    assert "floor((227 - 11 + 2*0) / 4) + 1 = 55" in html  # conv1's explanation, in the data
    assert '"zh"' in html  # both languages' explanations are inlined


def test_serve_api_limits_and_errors() -> None:
    pytest.importorskip("starlette")
    pytest.importorskip("httpx")
    from starlette.testclient import TestClient

    from netsize.serve import MAX_BODY_BYTES, create_app

    app = create_app()
    client = TestClient(app, base_url="http://127.0.0.1:8000", headers={"x-netsize-token": app.state.token})
    assert client.get("/").status_code == 200
    ok = client.post("/api/analyze", json={"zoo": "lenet5"})
    assert ok.status_code == 200 and ok.json()["totals"]["params"] == 61_706
    spec = dump_spec(netsize.zoo.get("alexnet").build()).replace("kernel_size: 11", "kernel_size: 300")
    err = client.post("/api/analyze", json={"spec": spec})
    assert err.status_code == 422
    assert err.json()["line"] == 4 and "kernel 300 is larger" in err.json()["error"]
    big = client.post("/api/analyze", content=b"x" * (MAX_BODY_BYTES + 1), headers={"content-type": "application/json"})
    assert big.status_code == 413 and "larger than" in big.json()["error"]
    assert client.post("/api/analyze", json={"nothing": 1}).status_code == 400
    assert client.get("/api/zoo/nonet/spec").status_code == 404
    html = client.post("/api/report", json={"zoo": "lenet5"})
    assert html.status_code == 200 and html.text.startswith("<!doctype html>")
    app.state.pool.close()


def test_plot_and_serve_take_lang() -> None:
    """`--lang zh` on every command (issue 10): the plot's title and labels, the calculator's page."""
    pytest.importorskip("matplotlib")
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from netsize import analyze, zoo
    from netsize.memory import estimate
    from netsize.render._plot import plot_memory, plot_summary
    from netsize.serve import create_app

    s = analyze(zoo.get("lenet5").build(), batch_size=2)
    ax = plot_summary(s, "multiply-adds", lang="zh")
    assert ax.get_title() == f"lenet5：乘加次数，合计 {s.totals.multiply_adds:,}"
    assert ax.get_xlabel() == "每层的乘加次数"
    assert plot_summary(s, "params", lang="en").get_title() == "lenet5: parameters, total 61,706"
    ax = plot_memory(s, estimate(zoo.get("lenet5").build(), batch_size=2), lang="zh")
    assert ax.get_ylabel() == "占用的内存（MiB）" and "训练一步" in ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["前向", "反向", "优化器更新"]
    client = TestClient(create_app(lang="zh"), base_url="http://127.0.0.1:8000")
    assert 'lang: "zh"}' in client.get("/").text and 'lang: "en"}' in client.get("/?lang=en").text
