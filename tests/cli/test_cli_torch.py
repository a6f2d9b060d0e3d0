"""`netsize summary pkg.module:callable --input-size 1,3,H,W`, run as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

MODEL_SOURCE = """
from torch import nn

def build_model():
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10)
    )
"""


def _netsize(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    package = tmp_path / "my_pkg"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(MODEL_SOURCE)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "netsize", *args], capture_output=True, text=True, env=env, cwd=tmp_path, check=False
    )


def _expected(batch: int) -> tuple[int, int]:
    from torch import nn
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10)
        )
        counter = FlopCounterMode(display=False)
        with counter:
            model(torch.empty(batch, 3, 32, 32))
    return sum(p.numel() for p in model.parameters()), counter.get_total_flops() // 2


def test_callable_target_takes_the_full_shape_with_batch(tmp_path: Path) -> None:
    result = _netsize(tmp_path, "summary", "my_pkg.models:build_model", "--input-size", "2,3,32,32", "-f", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    params, macs = _expected(batch=2)
    assert data["input_shape"] == [2, 3, 32, 32]
    assert data["totals"]["params"] == params
    assert data["totals"]["multiply_adds"] == macs
    assert data["layers"][0]["output_shape"] == [2, 16, 32, 32]


def test_batch_size_option_overrides_the_shape_batch(tmp_path: Path) -> None:
    result = _netsize(
        tmp_path, "summary", "my_pkg.models:build_model", "--input-size", "1,3,32,32", "-b", "8", "-f", "json"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["totals"]["multiply_adds"] == _expected(batch=8)[1]


def test_unknown_callable_is_one_line_error_exit_2(tmp_path: Path) -> None:
    result = _netsize(tmp_path, "summary", "my_pkg.models:nothere", "--input-size", "1,3,32,32")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "nothere" in result.stderr


DATA_DEPENDENT_SOURCE = """
import torch
from torch import nn

class KeepPositive(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        y = self.fc(x)
        return y[y > 0]  # output size depends on values: meta tensors cannot run this

def build():
    return KeepPositive()
"""


def test_fallback_to_a_real_pass_is_stated_in_the_output_not_as_a_warning(tmp_path: Path) -> None:
    (tmp_path / "my_pkg").mkdir()
    (tmp_path / "my_pkg" / "__init__.py").write_text("")
    (tmp_path / "my_pkg" / "dd.py").write_text(DATA_DEPENDENT_SOURCE)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    for fmt in ("table", "json", "markdown"):
        result = subprocess.run(
            [sys.executable, "-m", "netsize", "summary", "my_pkg.dd:build", "--input-size", "2,4", "-f", fmt],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "RuntimeWarning" not in result.stderr
        assert "cannot run on meta tensors" in result.stdout
        if fmt == "json":
            notes = json.loads(result.stdout)["notes"]
            assert len(notes) == 1 and "one real forward pass" in notes[0]


UNCOUNTED_SOURCE = """
import torch
from torch import nn
from netsize.frontends.torch import register_formula

@register_formula("aten::_cdist_forward")  # the user's package gives cdist its count
def cdist(args, kwargs, output):
    return output.numel() * args[0].shape[-1]

class Spectral(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        y = self.fc(x)
        return y + torch.fft.rfft(y).abs().sum() + torch.cdist(y, y).sum()

def build():
    return Spectral()
"""


def test_json_lists_uncounted_ops_and_a_formula_registered_by_the_users_package_counts(tmp_path: Path) -> None:
    (tmp_path / "my_pkg").mkdir()
    (tmp_path / "my_pkg" / "__init__.py").write_text("")
    (tmp_path / "my_pkg" / "spectral.py").write_text(UNCOUNTED_SOURCE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-m", "netsize", "summary", "my_pkg.spectral:build", "--input-size", "2,8", "-f", "json"],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["uncounted_ops"] == {"aten._fft_r2c": 1}
    assert out["totals"]["multiply_adds"] == 2 * 8 * 8 + 2 * 2 * 8  # the linear layer, then cdist by the formula
    assert any("aten._fft_r2c x1" in note for note in out["notes"])
