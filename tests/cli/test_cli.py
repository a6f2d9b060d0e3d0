"""The real `netsize` command in a subprocess: stdout, stderr and exit codes."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from netsize import analyze, zoo

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-m", "netsize", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=120)


def ok(*args: str) -> str:
    proc = run(*args)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stdout


def fails(*args: str, cwd: Path | None = None) -> str:
    proc = run(*args, cwd=cwd)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    return proc.stderr


def test_summary_alexnet_table_at_80_columns():
    s = analyze(zoo.get("alexnet").build())
    out = ok("summary", "alexnet", "--width", "80")
    assert max(len(line) for line in out.splitlines()) <= 80
    assert f"{s.totals.params:,}" in out
    assert f"{s.totals.multiply_adds:,}" in out
    assert "Convention: torch" in out
    assert "float32" in out and "int4" in out


def test_summary_json_matches_python_api_and_batch_scales():
    data = json.loads(ok("summary", "alexnet", "--format", "json"))
    s = analyze(zoo.get("alexnet").build())
    assert data == json.loads(json.dumps(s.to_dict()))
    eight = json.loads(ok("summary", "alexnet", "-f", "json", "--batch-size", "8"))
    assert eight["totals"]["multiply_adds"] == 8 * data["totals"]["multiply_adds"]
    assert eight["totals"]["params"] == data["totals"]["params"]
    assert eight["input_shape"][0] == 8


def test_input_size_replaces_the_per_sample_shape():
    data = json.loads(ok("summary", "alexnet", "-f", "json", "--input-size", "3x239x239"))
    assert data["input_shape"] == [1, 3, 239, 239]
    first = data["layers"][0]
    assert first["output_shape"][2] == (239 - 11) // 4 + 1
    assert data == json.loads(json.dumps(analyze(zoo.get("alexnet").build(input_shape=(3, 239, 239))).to_dict()))


def test_csv_and_markdown_formats():
    rows = list(csv.reader(io.StringIO(ok("summary", "alexnet", "--format", "csv"))))
    assert rows[0][:4] == ["name", "kind", "input_shapes", "output_shape"]
    s = analyze(zoo.get("alexnet").build())
    assert len(rows) == 1 + len(s.layers)
    md = ok("summary", "alexnet", "--format", "markdown", "--depth", "1")
    assert "|---|---|---|---:|---:|---:|" in md
    assert f"**{s.totals.params:,}**" in md


def test_explain_flag_and_command_show_the_conv_formula():
    out = ok("summary", "alexnet", "--explain")
    assert "floor((I - K + 2P) / S) + 1" in out
    assert "floor((227 - 11 + 2*0) / 4) + 1 = 55" in out
    one = ok("explain", "alexnet", "conv1")
    assert one.startswith("conv1 (Conv2d)")
    assert "11*11*3*96 = 34,848" in one


def test_lang_zh():
    out = ok("summary", "alexnet", "--lang", "zh", "--depth", "1")
    assert "合计" in out and "计数约定" in out
    assert "权重" in ok("explain", "alexnet", "conv1", "--lang", "zh")


def test_spec_file_with_variables(tmp_path):
    data = json.loads(ok("summary", str(EXAMPLES / "alexnet.yaml"), "-f", "json", "--var", "num_classes=10"))
    last = data["layers"][-1]
    assert last["output_shape"] == [1, 10]
    assert last["params"] == 4096 * 10 + 10


def test_unknown_zoo_name_suggests_close_matches():
    err = fails("summary", "alexnett")
    assert err.startswith("netsize: error: unknown zoo model 'alexnett'; did you mean alexnet")
    assert len(err.strip().splitlines()) == 1


def test_bad_spec_reports_file_line_and_field(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("input: [3, 32, 32]\nlayers:\n  - conv: {type: conv2d, out_channels: 8, kernel_size: 3x3}\n")
    err = fails("summary", str(spec))
    assert f"{spec}:3: layers[0].kernel_size: must be an int or a list of ints (got '3x3')" in err


def test_layer_that_does_not_fit_its_input_names_the_spec_line(tmp_path):
    spec = tmp_path / "small.yaml"
    spec.write_text("input: [3, 4, 4]\nlayers:\n  - relu\n  - conv: {type: conv2d, out_channels: 8, kernel_size: 7}\n")
    err = fails("summary", str(spec))
    assert err.startswith(f"netsize: error: {spec}:4: conv (Conv2d")


def test_missing_files_and_bad_options_exit_2(tmp_path):
    assert "spec file not found" in fails("summary", str(tmp_path / "missing.yaml"))
    assert "is not positive sizes" in fails("summary", "alexnet", "--input-size", "3xbig")
    assert "unknown dtype" in fails("summary", "alexnet", "--dtype", "float13")
    assert "no layer named 'conv9'" in fails("explain", "alexnet", "conv9")
    bad_json = tmp_path / "config.json"
    bad_json.write_text("{not json")
    proc = run("summary", str(bad_json))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert run("summary", "alexnet", "--batch-size", "0").returncode == 2  # argparse's own error
    assert run().returncode == 2


def test_version_zoo_and_layers_commands():
    assert ok("--version").startswith("netsize ")
    listing = ok("zoo")
    for name in zoo.names():
        assert name in listing
    entries = json.loads(ok("zoo", "--format", "json"))
    assert [e["name"] for e in entries] == zoo.names()
    assert "variables" in ok("zoo", "alexnet")
    assert "Conv2d" in ok("layers")
    detail = ok("layers", "conv2d")
    assert "kernel_size: an int or a list of ints" in detail


def test_console_script_is_installed():
    exe = shutil.which("netsize", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("the `netsize` console script is not installed next to the Python running the tests")
    proc = subprocess.run([exe, "summary", "alexnet", "--depth", "1"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "Total" in proc.stdout


def test_explain_a_layer_before_one_that_does_not_fit():
    # AlexNet (seed 000) at 224 instead of 227: conv-1 is 53.25 floored (seed 003), and fc1's fixed
    # 9216 inputs no longer fit; the summary must fail, the explanation of conv1 must not.
    summary = run("summary", "alexnet", "--input-size", "3,224,224")
    assert summary.returncode == 2
    assert "fc1 (Linear, input 1x6400 = 1x(256*5*5) reshaped by flatten)" in summary.stderr
    explain = run("explain", "alexnet", "conv1", "--input-size", "3,224,224")
    assert explain.returncode == 0, explain.stderr
    assert "floor((224 - 11 + 2*0) / 4) + 1 = 54  (not exact: 213/4 = 53.25, floored to 53)" in explain.stdout
