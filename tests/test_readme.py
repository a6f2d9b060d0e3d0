"""The README is a guide whose every example runs: each `$ netsize ...` block and each Python block
with its output is run, and what the README shows must be what netsize prints today (a block
ending in `...` shows the first lines).

After a deliberate change of the output, `python -m pytest tests/test_readme.py --overwrite` writes
today's output into the README's blocks (as many lines as each shows); read the diff.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")

COMMANDS = re.findall(r"```text\n\$ (netsize [^\n]*)\n(.*?)\n```", README, flags=re.S)
PYTHON = re.findall(r"```python\n(.*?)\n```\n\n```text\n(.*?)\n```", README, flags=re.S)


def _env() -> dict[str, str]:
    env = {**os.environ, "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"}
    env.pop("COLUMNS", None)
    return env


def _assert_shown(shown: str, printed: str, overwrite: bool) -> None:
    lines = shown.split("\n")
    real = printed.rstrip("\n").split("\n")
    cut = lines[-1] == "..."
    if cut:
        lines = lines[:-1]
        real = real[: len(lines)]
    if overwrite and lines != real:
        text = (ROOT / "README.md").read_text(encoding="utf-8")
        new = "\n".join(real + (["..."] if cut else []))
        assert text.count(shown) == 1, "the block to rewrite is not unique in the README"
        (ROOT / "README.md").write_text(text.replace(shown, new), encoding="utf-8")
        return
    assert lines == real, "the README shows other output than netsize prints: `pytest tests/test_readme.py --overwrite`"


def test_readme_is_a_guide_of_at_most_350_lines() -> None:
    assert len(README.splitlines()) <= 350


def test_quick_start_commands_are_the_documented_ones() -> None:
    assert "pip install . && netsize summary alexnet\n" in README
    assert 'pip install -e ".[test]" && python -m pytest -q\n' in README


def test_quick_start_output_is_alexnet_at_80_columns(overwrite: bool) -> None:
    shown = README.split("`netsize summary alexnet` in an 80-column terminal:\n\n```text\n", 1)[1].split("\n```")[0]
    done = subprocess.run([sys.executable, "-m", "netsize", "summary", "alexnet", "--width", "80"],
                          capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    _assert_shown(shown, done.stdout, overwrite)


@pytest.mark.parametrize(("command", "shown"), [c for c in COMMANDS if c[0] != "netsize serve"], ids=lambda v: v[:60])
def test_readme_command_prints_what_the_readme_shows(command: str, shown: str, overwrite: bool) -> None:
    if ".onnx" in command:
        pytest.importorskip("onnx")
    args = command.split()[1:]
    done = subprocess.run([sys.executable, "-m", "netsize", *args], capture_output=True, text=True, env=_env(),
                          cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    _assert_shown(shown, done.stdout, overwrite)


@pytest.mark.parametrize(("code", "shown"), PYTHON, ids=lambda v: v.split("\n")[0][:40])
def test_readme_python_block_prints_what_the_readme_shows(code: str, shown: str, overwrite: bool) -> None:
    if "import torch" in code:
        pytest.importorskip("torch")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), cwd=ROOT,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    _assert_shown(shown, done.stdout, overwrite)


def test_readme_blocks_were_found() -> None:
    assert len(COMMANDS) >= 10 and len(PYTHON) >= 2


@pytest.mark.parametrize("link", sorted(set(re.findall(r"\]\((docs/[^)#]+)", README))))
def test_readme_links_into_docs_exist(link: str) -> None:
    assert (ROOT / link).is_file()
