"""Results show themselves: str() is the table, repr() one line, HTML and Markdown for notebooks,
__rich__ for rich, to_pandas() on every report; and a real Jupyter kernel shows the HTML table."""

from __future__ import annotations

import io

import pytest

import netsize
from netsize import zoo
from netsize.compare import compare
from netsize.llm import llm_figures
from netsize.memory import estimate
from netsize.plan import Setup, plan
from netsize.schedule import schedule


def _alexnet() -> netsize.Summary:
    return netsize.analyze(zoo.get("alexnet").build())


def _reports() -> dict[str, object]:
    return {
        "summary": _alexnet(),
        "memory": estimate(zoo.get("vgg16").build(), batch_size=32, optimizer="adam"),
        "llm": llm_figures({"model_type": "gpt2"}, seq_len=1024),
        "schedule": schedule(50000, 256, epochs=10),
        "plan": plan({"model_type": "gpt2"}, scenarios=("serve", "full"), setup=Setup(seq_len=512)),
        "comparison": compare(
            [(n, netsize.analyze(zoo.get(n).build())) for n in ("resnet18", "resnet34")], depth=1
        ),
    }


REPORTS = _reports()


def test_str_of_a_summary_is_its_table():
    text = str(REPORTS["summary"])
    lines = text.splitlines()
    assert lines[0] == "alexnet · input 1x3x227x227 · batch 1"
    conv1 = next(line for line in lines if line.lstrip().startswith("conv1"))
    assert conv1.split() == ["conv1", "Conv2d", "1x96x55x55", "34,944", "105,415,200", "290,400"]
    total = next(line for line in lines if line.lstrip().startswith("Total"))
    assert total.split() == ["Total", "62,378,344", "1,135,256,096", "1,457,416"]
    assert "LayerRecord(" not in text


@pytest.mark.parametrize("key", REPORTS)
def test_repr_is_one_short_line(key):
    text = repr(REPORTS[key])
    assert "\n" not in text and len(text) < 200, text
    assert text.startswith(f"<{type(REPORTS[key]).__name__} ")
    assert "=" not in text  # not a dataclass field dump


def test_repr_names_the_headline_numbers():
    assert repr(REPORTS["summary"]) == (
        "<Summary alexnet: 21 layers, 62,378,344 params, 1,135,256,096 multiply-adds, input 1x3x227x227>"
    )
    assert repr(REPORTS["schedule"]) == (
        "<Schedule 50,000 samples, batch 256, 10 epochs: 196 iterations per epoch, 1,960 updates>"
    )


def test_str_of_reports_lists_their_figures():
    # the same table as the command line (render/_report.py): label, value, exact value
    memory = REPORTS["memory"]
    peak = next(line for line in str(memory).splitlines() if line.strip().startswith("peak, training step"))
    assert peak.split()[3:] == ["4.2", "GiB", f"{memory.peak_training_bytes:,}"]
    gpt2 = next(line for line in str(REPORTS["llm"]).splitlines() if "KV cache per token, bfloat16" in line)
    assert gpt2.split()[-3:] == ["36.0", "KiB", "36,864"]
    sched = next(line for line in str(REPORTS["schedule"]).splitlines() if "iterations per epoch" in line)
    assert sched.split()[3:] == ["196", "(last", "batch", "80)", "196"]


def test_summary_html_is_a_table_with_every_layer_and_the_totals():
    page = REPORTS["summary"]._repr_html_()
    assert page.count("<tr>") == 1 + 21 + 1  # header, layers, totals
    assert "<td style='text-align:left'>conv1</td>" in page
    assert "<td style='text-align:right'>34,944</td>" in page
    assert "<th style='text-align:right'>62,378,344</th>" in page


@pytest.mark.parametrize("key", ["memory", "llm", "schedule"])
def test_report_html_and_markdown_hold_every_figure(key):
    report = REPORTS[key]
    frame = report.to_pandas()
    page = report._repr_html_()
    md = report._repr_markdown_()
    assert "<table>" in page
    for label, shown in zip(frame["label"], frame["shown"], strict=True):
        assert f"| {label} | {shown} |" in md
        assert label in page


def test_plan_and_comparison_show_their_own_tables_and_exact_values():
    p = REPORTS["plan"]
    assert str(p).startswith("GPT2LMHeadModel · 124,439,808 params\n\nserve:")
    assert "### serve" in p._repr_markdown_() and "<table>" in p._repr_html_()
    frame = p.to_pandas().set_index("figure")["value"]
    assert frame["full.total_bytes_per_gpu"] == p.scenario("full").total_bytes
    c = REPORTS["comparison"]
    assert repr(c) == "<Comparison resnet18 vs resnet34: params 11,689,512 vs 21,797,672>"
    assert str(c).splitlines()[1].split() == ["params", "11,689,512", "21,797,672", "1.86x"]
    values = c.to_pandas().set_index("figure")["value"]
    assert (values["params.resnet18"], values["params.resnet34"]) == (11_689_512, 21_797_672)


def test_summary_markdown_is_the_markdown_table():
    md = REPORTS["summary"]._repr_markdown_()
    assert "| `conv1` | Conv2d | 1x96x55x55 | 34,944 | 105,415,200 | 290,400 |" in md


def test_rich_prints_the_table_at_the_consoles_width():
    from rich.console import Console

    for width, kind_shown in ((120, True), (60, False)):
        buf = io.StringIO()
        Console(file=buf, width=width, color_system=None).print(REPORTS["summary"])
        out = buf.getvalue()
        assert "62,378,344" in out and "conv1" in out
        assert ("Conv2d" in out) == kind_shown  # a narrow console drops the Kind column, as the CLI does
    buf = io.StringIO()
    Console(file=buf, width=100, color_system=None).print(REPORTS["memory"])
    assert f"{REPORTS['memory'].peak_inference_bytes:,}" in buf.getvalue()


def test_to_pandas_on_every_report_holds_the_exact_values():
    pytest.importorskip("pandas")
    summary = REPORTS["summary"].to_pandas()
    assert list(summary["name"][:2]) == ["conv1", "relu1"] and summary["params"].sum() == 62_378_344
    memory = REPORTS["memory"]
    frame = memory.to_pandas().set_index("figure")["value"]  # figures by their JSON names
    assert frame["peak_training_bytes"] == memory.peak_training_bytes
    assert frame["optimizer_bytes"] == memory.optimizer_bytes
    llm = REPORTS["llm"].to_pandas().set_index("figure")["value"]
    assert llm["params"] == 124_439_808 and llm["kv_cache_bytes_per_token.bfloat16"] == 36_864
    sched = REPORTS["schedule"].to_pandas().set_index("figure")["value"]
    assert sched["total_updates"] == 1960 and sched["iterations_per_epoch"] == 196


def test_a_jupyter_kernel_shows_a_summary_as_an_html_table():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    cell = "import netsize\nnetsize.analyze(netsize.zoo.get('alexnet').build())"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    outputs = nb.cells[0].outputs
    assert [o["output_type"] for o in outputs] == ["execute_result"]
    data = outputs[0]["data"]
    assert "<table>" in data["text/html"]
    assert "<td style='text-align:left'>conv1</td>" in data["text/html"]
    assert "<th style='text-align:right'>62,378,344</th>" in data["text/html"]
    assert data["text/plain"].startswith("alexnet · input 1x3x227x227")  # IPython's plain text: the table
