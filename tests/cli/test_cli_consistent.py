"""One consistent command line (issue 10, section 5): every command takes --format and --lang,
JSON keys follow one naming scheme (docs/json.md), byte counts in tables use the unit that fits,
piped output keeps every column and has no trailing spaces, shell completion, and start-up work
done only when needed (layer modules, subcommand parsers)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from netsize.render._format import size

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference" / "transformers_params.json"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    # COLUMNS=80 as a terminal would say: a pipe must still get every column.
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-m", "netsize", *args], capture_output=True, text=True, env=env,
                          timeout=300, cwd=ROOT)


def ok(*args: str) -> str:
    done = run(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("gpt2") / "config.json"
    path.write_text(json.dumps(json.loads(REFERENCE.read_text())["gpt2"]["config"]))
    return str(path)


COMMANDS = {
    "summary": ("summary", "alexnet"),
    "explain": ("explain", "alexnet", "conv1"),
    "memory": ("memory", "alexnet", "-b", "8"),
    "llm": ("llm", "{gpt2}", "--seq-len", "128"),
    "schedule": ("schedule", "--samples", "1000", "-b", "64", "--model", "lenet5"),
    "zoo": ("zoo",),
    "layers": ("layers",),
    "plan": ("plan", "{gpt2}", "--seq-len", "128", "--gpu", "t4", "--lora", "r=4,targets=c_attn"),
    "compare": ("compare", "alexnet", "alexnet-grouped"),
    "check": ("check", "alexnet", "--expect", "params=62,378,344", "--expect", "conv1.output=55x55x96"),
}
FORMATS = {"explain": ("table", "json", "markdown")}


def _args(name: str, gpt2: str) -> list[str]:
    return [a.replace("{gpt2}", gpt2) for a in COMMANDS[name]]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_writes_every_format(name, gpt2):
    for fmt in FORMATS.get(name, ("table", "json", "csv", "markdown")):
        out = ok(*_args(name, gpt2), "--format", fmt)
        if fmt == "json":
            json.loads(out)
        elif fmt == "csv":
            rows = list(csv.reader(io.StringIO(out)))
            assert len(rows) >= 2 and all(len(r) == len(rows[0]) for r in rows)
        elif fmt == "markdown":
            assert re.search(r"^\|.*\|$", out, re.MULTILINE) or out.startswith("```")
        # Piped output: no trailing spaces anywhere.
        assert [line for line in out.splitlines() if line != line.rstrip()] == []


def _keys(value: object, path: str = "") -> list[tuple[str, str, object]]:
    out: list[tuple[str, str, object]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            out.append((path, k, v))
            out += _keys(v, f"{path}.{k}")
    elif isinstance(value, list):
        for item in value:
            out += _keys(item, path + "[]")
    return out


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_json_keys_follow_one_naming_scheme(name, gpt2):
    data = json.loads(ok(*_args(name, gpt2), "--format", "json"))
    if isinstance(data, dict):
        assert data["schema_version"] == 1
    for path, key, value in _keys(data):
        assert re.fullmatch(r"[a-z][a-z0-9_]*", key), f"{path}.{key}"
        assert "macs" not in key, f"{path}.{key}: multiply_adds, as in every other JSON"
        if key.endswith("_bytes"):  # exact bytes: an int, or {dtype: int}
            assert isinstance(value, int) or all(isinstance(v, int) for v in value.values()), f"{path}.{key}"
        if key in ("seconds",):
            pytest.fail(f"{path}.{key}: a quantity's name carries its unit (time_seconds)")


def test_llm_and_summary_name_the_same_things_alike(gpt2):
    llm = json.loads(ok("llm", gpt2, "--seq-len", "128", "-f", "json"))
    summary = json.loads(ok("summary", gpt2, "--seq-len", "128", "-f", "json"))
    assert llm["model_size_bytes"] == summary["model_size_bytes"]
    assert llm["multiply_adds_per_sequence"] == summary["totals"]["multiply_adds"]


def test_bytes_use_the_unit_that_fits():
    assert size(110_916_934_451) == "103.3 GiB"
    assert size(5_829_664) == "5.6 MiB"
    assert size(1023) == "1,023 B"
    out = ok("memory", "vgg16", "-b", "256")
    assert "GiB" in out
    # No count of a smaller unit that should have been the next one (105,772.6 MiB).
    assert not re.search(r"\b\d{1,3}(,\d{3})+(\.\d)? (KiB|MiB|GiB)", out)


def test_piped_table_keeps_every_column_of_resnet18():
    out = ok("summary", "resnet18")
    header = next(line for line in out.splitlines() if "Layer" in line)
    assert header.split() == ["Layer", "Kind", "Output", "shape", "Params", "Mult-adds", "Activations"]
    assert "layer1.0.downsample.0" not in out or "Conv2d" in out
    assert [line for line in out.splitlines() if line != line.rstrip()] == []
    # --width still narrows it, and says what it left out.
    narrow = ok("summary", "resnet18", "--width", "60")
    assert "Kind" not in next(line for line in narrow.splitlines() if "Layer" in line)
    assert "Columns left out to fit 60 columns: Kind" in " ".join(narrow.split())


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completion_completes_commands_options_values_and_zoo_names(tmp_path):
    path = tmp_path / "netsize.bash"
    path.write_text(ok("completion", "bash"))

    def complete(*words: str) -> list[str]:
        quoted = " ".join(f"'{w}'" for w in words)
        script = (f"source {path}; COMP_WORDS=(netsize {quoted}); COMP_CWORD={len(words)}; _netsize; "
                  'printf "%s\\n" "${COMPREPLY[@]}"')
        done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path)
        return done.stdout.split()

    assert complete("sch") == ["schedule"]
    assert complete("summary", "--form") == ["--format"]
    assert complete("summary", "--format", "") == ["table", "json", "csv", "markdown"]
    assert complete("explain", "--format", "") == ["table", "json", "markdown"]
    assert complete("llm", "x", "--lang", "") == ["en", "zh"]
    assert complete("memory", "--optimizer", "ad") == ["adam", "adamw"]
    assert complete("summary", "resnet1") == ["resnet101", "resnet152", "resnet18"] or set(
        complete("summary", "resnet1")) == {"resnet101", "resnet152", "resnet18"}


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_completion_scripts_for_zsh_and_fish_name_every_command(shell):
    out = ok("completion", shell)
    for command in COMMANDS:
        assert command in out
    assert "--format" in out or "-l format" in out
    checker = shutil.which(shell)
    if checker:  # a syntax check where the shell is installed
        flag = ["-n"] if shell == "zsh" else ["--no-execute"]
        subprocess.run([checker, *flag], input=out, text=True, check=True)


def _modules_after(code: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint(' '.join(sorted(sys.modules)))"],
                          capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def test_help_builds_parsers_without_the_engine():
    modules = _modules_after("import contextlib, io\nfrom netsize.cli import main\n"
                             "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
                             "    main(['--help'])")
    assert not {m for m in modules if m.startswith(("netsize._", "netsize.layers", "netsize.render"))} - {
        "netsize._errors"}
    assert "netsize.cli._target" not in modules


def test_summary_imports_only_the_layer_modules_it_uses():
    modules = _modules_after("import contextlib, io\nfrom netsize.cli import main\n"
                             "with contextlib.redirect_stdout(io.StringIO()):\n    main(['summary', 'alexnet'])")
    layer_modules = {m for m in modules if m.startswith("netsize.layers.")}
    assert "netsize.layers.conv" in layer_modules
    assert not layer_modules & {"netsize.layers.attention", "netsize.layers.recurrent", "netsize.layers.transformer"}


def test_layer_index_equals_what_importing_every_module_registers():
    code = (
        "import netsize.layers as L, netsize._registry as R, json\n"
        "idx = {k: m for k, m in L._SPEC_MODULE.items()}\n"
        "classes = dict(L._CLASS_MODULE)\n"
        "L.load_all()\n"
        "reg = {k: c.__module__.rsplit('.', 1)[1] for k, c in R._LAYERS.items()\n"
        "       if c.__module__.startswith('netsize.layers.')}\n"
        "exported = {n: getattr(L, n).__module__.rsplit('.', 1)[1] for n in L.__all__}\n"
        "print(json.dumps([idx == reg, classes == exported, sorted(set(reg) ^ set(idx))]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    same_specs, same_classes, differing = json.loads(done.stdout)
    assert differing == [] and same_specs and same_classes


def test_registry_finds_a_layer_by_name_in_a_fresh_process():
    done = subprocess.run([sys.executable, "-c", "from netsize import layer_type\n"
                           "print(layer_type('gqa').__name__, layer_type('lstm').__name__)"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["GroupedQueryAttention", "LSTM"]


def test_layers_command_lists_every_registered_type():
    # The registry of a fresh process: tests register layers of their own in this one.
    done = subprocess.run([sys.executable, "-c", "import json; from netsize import layer_names\n"
                           "print(json.dumps(sorted(layer_names())))"], capture_output=True, text=True, check=True)
    listed = json.loads(ok("layers", "--format", "json"))
    assert sorted(k for entry in listed for k in entry["spec_names"]) == json.loads(done.stdout)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_output_fits_its_width_and_says_what_it_left_out(monkeypatch):
    from netsize import analyze, zoo
    from netsize.render import print_table

    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    monkeypatch.setenv("COLUMNS", "60")
    monkeypatch.setenv("NO_COLOR", "1")
    print_table(analyze(zoo.get("resnet18").build()))
    out = re.sub(r"\x1b\[[0-9;]*m", "", terminal.getvalue())  # bold and dim stay in a terminal
    assert max(len(line.rstrip()) for line in out.splitlines()) <= 60
    assert "Columns left out to fit 60 columns: Kind" in " ".join(out.split())
