"""The documented API type-checks in user code: ``mypy --strict`` on a file that calls
``netsize.summary``, ``netsize.memory.estimate`` and ``netsize.zoo.get`` passes, and a wrong use of
their results is caught (so the lazy attributes are typed, neither ``object`` nor ``Any``)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import netsize

pytest.importorskip("mypy")

SRC = Path(netsize.__file__).resolve().parent.parent

USER_CODE = """
from __future__ import annotations

import torch

import netsize
from netsize.memory import MemoryReport


def sizes() -> tuple[int, int, int, str]:
    model = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU())
    s: netsize.Summary = netsize.summary(model, input_size=(2, 8), depth=1, col_names=("output_size",))
    entry = netsize.zoo.get("alexnet")
    report: MemoryReport = netsize.memory.estimate(entry.build(), batch_size=2, optimizer="adam")
    figures = netsize.llm.llm_figures({"model_type": "gpt2"}, seq_len=128)
    return s.totals.params, report.peak_training_bytes, figures.params, entry.description
"""

WRONG_USES = """
from __future__ import annotations

import torch

import netsize

model = torch.nn.Linear(8, 4)
a: str = netsize.summary(model, input_size=(2, 8)).totals.params
b: str = netsize.zoo.get("alexnet").input_shape
c: str = netsize.memory.estimate(netsize.zoo.get("alexnet").build()).peak_training_bytes
"""

# As a user's mypy sees an installed package: netsize's own modules are followed but their
# errors are not the user's. torch is not followed, to keep this test to seconds (torch's own
# annotations add a minute of checking and nothing about netsize's types).
CONFIG = """
[mypy]
strict = True
[mypy-netsize.*]
follow_imports = silent
[mypy-torch.*]
follow_imports = skip
"""


def _mypy(tmp_path: Path, code: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "user.py").write_text(textwrap.dedent(code))
    (tmp_path / "mypy.ini").write_text(CONFIG)
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "--cache-dir", str(tmp_path / "cache"), "user.py"],
        cwd=tmp_path,
        env={"MYPYPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_user_code_calling_the_documented_api_passes_mypy_strict(tmp_path):
    result = _mypy(tmp_path, USER_CODE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found in 1 source file" in result.stdout


def test_mypy_catches_a_wrong_use_of_each_result(tmp_path):
    result = _mypy(tmp_path, WRONG_USES)
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert [line.split(":")[1] for line in errors] == ["9", "10", "11"], result.stdout
    assert all('expression has type "int"' in e or "tuple[int, ...]" in e for e in errors), result.stdout
