"""Golden files of rendered output, as torchinfo keeps tests/test_output/*.out: the table at a fixed
width and piped, JSON, CSV, markdown, ``--explain`` of a layer and of a block, the block table and
the torchinfo tree at depth 2, and Chinese, for a set of zoo models.

After a deliberate change of the output, rewrite every file with one command and read the diff:

    python -m pytest tests/render/test_golden.py --overwrite

(`python -m pytest tests/render tests/test_readme.py --overwrite` rewrites the README's examples too.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"

# case name -> the command line's arguments (after `netsize`)
CLI_CASES: dict[str, tuple[str, ...]] = {
    "summary_alexnet_width100": ("summary", "alexnet", "--width", "100"),
    "summary_alexnet_width80": ("summary", "alexnet", "--width", "80"),
    "summary_lenet5_piped": ("summary", "lenet5"),
    "summary_resnet18_piped": ("summary", "resnet18"),
    "summary_resnet18_depth2": ("summary", "resnet18", "--depth", "2", "--width", "120"),
    "summary_mobilenet_v2_depth1": ("summary", "mobilenet_v2", "--depth", "1", "--width", "100"),
    "summary_keras-example": ("summary", "keras-example", "--width", "100"),
    "summary_unet-half-bn_depth1": ("summary", "unet-half-bn", "--depth", "1", "--width", "100"),
    "summary_alexnet_json": ("summary", "alexnet", "--format", "json"),
    "summary_resnet18_depth1_json": ("summary", "resnet18", "--depth", "1", "--format", "json"),
    "summary_lenet5_csv": ("summary", "lenet5", "--format", "csv"),
    "summary_resnet18_csv": ("summary", "resnet18", "--format", "csv"),
    "summary_alexnet_markdown": ("summary", "alexnet", "--format", "markdown"),
    "summary_resnet18_depth1_markdown": ("summary", "resnet18", "--depth", "1", "--format", "markdown"),
    "summary_lenet5_explain": ("summary", "lenet5", "--explain", "--width", "100"),
    "explain_alexnet_conv1": ("explain", "alexnet", "conv1"),
    "explain_alexnet_conv1_json": ("explain", "alexnet", "conv1", "--format", "json"),
    "explain_alexnet_conv1_markdown": ("explain", "alexnet", "conv1", "--format", "markdown"),
    "explain_resnet18_layer1.0": ("explain", "resnet18", "layer1.0"),
    "explain_alexnet_conv1_224": ("explain", "alexnet", "conv1", "--input-size", "3,224,224"),
    "summary_alexnet_zh": ("summary", "alexnet", "--lang", "zh", "--width", "100"),
    "summary_resnet18_depth1_zh": ("summary", "resnet18", "--depth", "1", "--lang", "zh", "--width", "100"),
    "explain_alexnet_conv1_zh": ("explain", "alexnet", "conv1", "--lang", "zh"),
    "summary_alexnet_markdown_zh": ("summary", "alexnet", "--format", "markdown", "--lang", "zh"),
}

# case name -> (torch_models model, depth): netsize.summary's torchinfo tree of a PyTorch module
TREE_CASES: dict[str, tuple[str, int]] = {
    "tree_resnet18_depth2": ("resnet18", 2),
    "tree_alexnet_depth2": ("alexnet", 2),
}


def _cli(*args: str) -> str:
    env = {**os.environ, "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"}
    env.pop("COLUMNS", None)
    done = subprocess.run([sys.executable, "-m", "netsize", *args], capture_output=True, text=True, env=env,
                          timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _tree(model: str, depth: int) -> str:
    torch = pytest.importorskip("torch")
    import netsize
    from torch_models import build

    with torch.device("meta"):
        module = build(model)
    return str(netsize.summary(module, input_size=(1, 3, 224, 224), depth=depth)) + "\n"


def _compare(name: str, out: str, overwrite: bool) -> None:
    path = GOLDEN / f"{name}.out"
    if overwrite:
        path.write_text(out, encoding="utf-8")
    assert path.exists(), f"{path} is missing: make it with `python -m pytest {__file__} --overwrite`"
    assert out == path.read_text(encoding="utf-8"), (
        f"{name}: the output differs from {path}; if the change is meant, rewrite the golden files with "
        "`python -m pytest tests/render/test_golden.py --overwrite` and read the diff"
    )


@pytest.mark.parametrize("name", sorted(CLI_CASES))
def test_command_line_output_matches_golden_file(name: str, overwrite: bool) -> None:
    _compare(name, _cli(*CLI_CASES[name]), overwrite)


@pytest.mark.parametrize("name", sorted(TREE_CASES))
def test_torchinfo_tree_matches_golden_file(name: str, overwrite: bool) -> None:
    _compare(name, _tree(*TREE_CASES[name]), overwrite)


def test_every_golden_file_belongs_to_a_case() -> None:
    files = {p.stem for p in GOLDEN.glob("*.out")}
    assert files - set(CLI_CASES) - set(TREE_CASES) == set()
