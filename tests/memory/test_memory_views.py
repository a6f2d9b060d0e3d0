"""One peak for one training step in every view (issue 21): the report's card and curve, the
calculator's data, ``netsize plot --what memory`` and ``netsize memory`` show the same number,
the memory model's ``peak_training_bytes``, because the curve is the memory model's own walk."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import netsize
from fuzz_support import run_in_process
from netsize.memory import estimate
from netsize.report import report_data
from netsize.timeline import is_walk, peak, training_timeline

MODELS = ["lenet5", "alexnet", "resnet18", "mobilenet_v2", "unet-half"]


def _memory_json(argv: list[str]) -> dict[str, object]:
    outcome = run_in_process(["memory", *argv, "--format", "json"])
    assert outcome.status == 0, outcome.stderr
    data: dict[str, object] = json.loads(outcome.stdout)
    return data


def _report_file_data(path: Path) -> dict[str, object]:
    html = path.read_text(encoding="utf-8")
    found = re.search(r"window\.NETSIZE = \{data: (.*), mode: ", html)
    assert found is not None
    data: dict[str, object] = json.loads(found.group(1))
    return data


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("batch", [1, 4])
def test_every_view_shows_the_memory_models_peak(tmp_path: Path, model: str, batch: int) -> None:
    cli_peak = _memory_json([model, "-b", str(batch)])["peak_training_bytes"]
    # the report file the CLI writes: the card's number and the curve's highest point
    out = tmp_path / "r.html"
    assert run_in_process(["report", model, "-b", str(batch), "-o", str(out)]).status == 0
    memory = _report_file_data(out)["memory"]
    assert isinstance(memory, dict)
    assert memory["peak_training_bytes"] == cli_peak
    assert max(p[2] for p in memory["timeline"]) == cli_peak
    assert memory["timeline_peak"]["bytes"] == cli_peak and memory["timeline_is_walk"] is True
    # the same data the calculator draws (report_data), from the library
    net = netsize.zoo.get(model).build()
    summary = netsize.analyze(net, batch_size=batch)
    report = estimate(net, batch_size=batch)
    assert report.peak_training_bytes == cli_peak
    assert peak(training_timeline(summary, report)).bytes == cli_peak
    assert report_data(summary, report)["memory"]["timeline_peak"]["bytes"] == cli_peak


@pytest.mark.parametrize("model", ["resnet18", "unet-half"])
def test_the_plot_marks_the_memory_models_peak(tmp_path: Path, model: str) -> None:
    pytest.importorskip("matplotlib")
    from netsize.render._plot import plot_memory

    cli_peak = _memory_json([model])["peak_training_bytes"]
    assert isinstance(cli_peak, int)
    net = netsize.zoo.get(model).build()
    ax = plot_memory(netsize.analyze(net), estimate(net))
    assert max(ax.lines[0].get_ydata()) == cli_peak / 2**20
    assert any(t.get_text().startswith(f"peak {cli_peak / 2**20:,.1f} MiB") for t in ax.texts)
    svg = tmp_path / "m.svg"
    assert run_in_process(["plot", model, "--what", "memory", "-o", str(svg)]).status == 0
    assert f"peak {cli_peak / 2**20:,.1f} MiB" in svg.read_text(encoding="utf-8")


def test_the_walk_is_the_peaks_moments() -> None:
    """The walk's phases, in order, and its highest moment is the larger of the forward's, the
    backward's and the optimizer step's peaks the memory model reports."""
    net = netsize.zoo.get("resnet18").build()
    report = estimate(net)
    phases = [phase for phase, _, _ in report.steps]
    n = len(netsize.analyze(net).layers)
    assert phases == ["start"] + ["forward"] * n + ["loss", "loss backward"] + ["backward"] * n + ["optimizer"]
    assert report.steps[-1][2] == report.peak_optimizer_step_bytes
    backward = [b for phase, _, b in report.steps if phase in ("loss backward", "backward")]
    assert max(backward) == report.peak_backward_bytes
    assert max(b for _, _, b in report.steps) == report.peak_training_bytes


def test_a_curve_that_is_not_the_walk_says_so() -> None:
    """The PyTorch method has no walk: its curve is labelled, and its peak named beside it."""
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    import torch

    from netsize.render._plot import plot_memory

    model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    report = estimate(model, input_size=(8, 64))
    assert not is_walk(report)
    summary = netsize.summary(model, input_size=(8, 64), verbose=0)
    data = report_data(summary, report)["memory"]
    assert data["timeline_is_walk"] is False and data["peak_training_bytes"] == report.peak_training_bytes
    ax = plot_memory(summary, report)
    note = f"the step's peak, {report.peak_training_bytes / 2**20:,.1f} MiB, includes transients"
    assert any(note in t.get_text() for t in ax.texts)


_LLAMA = {"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4,
          "num_key_value_heads": 2, "intermediate_size": 128, "vocab_size": 1000, "max_position_embeddings": 128}


@pytest.mark.parametrize("options", [{"autocast": "bfloat16"}, {"checkpointing": True}, {"optimizer": "sgd"},
                                     {"optimizer": "none"}, {"dtype": "float16", "batch_size": 3}])
@pytest.mark.parametrize("model", ["resnet18", "unet-half", "vgg11_bn", "llama"])
def test_the_walks_top_is_the_peak_for_every_setup(model: str, options: dict[str, object]) -> None:
    from netsize.frontends.hf_config import network_from_config

    net = network_from_config(_LLAMA, seq_len=16) if model == "llama" else netsize.zoo.get(model).build()
    report = estimate(net, **options)  # type: ignore[arg-type]
    assert report.steps and max(b for _, _, b in report.steps) == report.peak_training_bytes
