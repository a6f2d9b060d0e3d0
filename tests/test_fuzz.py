"""Fuzz suite (issue 11): mutated specs, zoo networks written as specs, Hugging Face configs and
command lines. Every case must exit 0 with a result, or exit 2 with one first line
``netsize: error: ...`` that stands on its own and names the file, field, layer or option; never
a traceback. A sample runs as real subprocesses under CPU and memory limits.

CI runs 674 cases (about a minute on 2 cores). The long mode runs 25 times as many in-process
cases (over 16,000): ``NETSIZE_FUZZ_LONG=1 python -m pytest tests/test_fuzz.py`` or
``python -m pytest tests/test_fuzz.py --long``; ``NETSIZE_FUZZ_LONG=16`` runs 16 times CI's
cases (10,400 in process). Add ``-s`` to see the counts of exits 0 and 2, and
``NETSIZE_FUZZ_REPORT=counts.json`` to write them to a file.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import fuzz_support
from fuzz_support import (
    MAX_RSS_BYTES,
    NASTY_SCALARS,
    YAML_SNIPPETS,
    Outcome,
    check,
    network_as_spec,
    paths,
    replace_at,
    run_in_process,
    run_subprocess,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
ZOO_AS_SPECS = ("lenet5", "alexnet", "vgg11_bn", "resnet18", "mobilenet_v2", "unet-half-bn", "keras-example")
CONFIG_BASES: dict[str, dict[str, Any]] = {
    "gpt2": {"model_type": "gpt2", "n_layer": 2, "n_embd": 64, "n_head": 4, "n_positions": 128, "vocab_size": 1000},
    "bert": {"model_type": "bert", "num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4,
             "intermediate_size": 128, "vocab_size": 1000, "max_position_embeddings": 128},
    "llama": {"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4,
              "num_key_value_heads": 2, "intermediate_size": 128, "vocab_size": 1000,
              "max_position_embeddings": 128},
    "t5": {"model_type": "t5", "num_layers": 2, "d_model": 64, "num_heads": 4, "d_kv": 16, "d_ff": 128,
           "vocab_size": 1000},
}


def _scale(ci: int, processes: bool = False) -> int:
    """Cases for one test: ``ci`` in CI, ``LONG_FACTOR`` times more in the long mode (subprocess
    cases, which take a second or two each, a quarter of that)."""
    if not fuzz_support.LONG:
        return ci
    return ci * max(1, fuzz_support.LONG_FACTOR // 4) if processes else ci * fuzz_support.LONG_FACTOR


# No shrinking: a mutation is already small, and shrinking a slow case would eat CI's budget.
SETTINGS = dict(deadline=None, derandomize=not fuzz_support.LONG, database=None,
                phases=(Phase.explicit, Phase.generate),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

COUNTS: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _report_counts() -> Iterator[None]:
    yield
    total = sum(v for k, v in COUNTS.items() if k.endswith((":ok", ":error")))
    print(f"\nfuzz cases: {total}; " + ", ".join(f"{k} {v}" for k, v in sorted(COUNTS.items())))
    report = os.environ.get("NETSIZE_FUZZ_REPORT")
    if report:
        Path(report).write_text(json.dumps({"total": total, **COUNTS}, indent=2))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _record(kind: str, outcome: Outcome, names: list[str]) -> None:
    result = check(outcome, names)
    COUNTS[f"{kind}:{result}"] += 1


def _spec_bases() -> list[tuple[str, Any]]:
    from netsize import zoo

    bases = [(p.stem, yaml.safe_load(p.read_text())) for p in EXAMPLES]
    bases += [(f"zoo-{n}", network_as_spec(zoo.get(n).build())) for n in ZOO_AS_SPECS]
    return bases


SPEC_BASES = _spec_bases()


@st.composite
def mutated_spec(draw: st.DrawFn) -> tuple[str, Any]:
    name, tree = draw(st.sampled_from(SPEC_BASES))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(paths(tree)))
        action = draw(st.sampled_from(["replace", "replace", "delete", "rename", "repeat"]))
        if action == "delete" and where:
            tree = replace_at(tree, where, ...)
        elif action == "rename" and where and isinstance(where[-1], str):
            new_key = draw(st.sampled_from(["type", "from", "repeat", "layers", "block", "x", "", "a.b", "first"]))
            tree = replace_at(tree, where[:-1], _renamed(tree, where, new_key))
        elif action == "repeat" and where:
            tree = replace_at(tree, (*where[:-1],), _with_repeat(tree, where[:-1], draw))
        else:
            tree = replace_at(tree, where, draw(st.sampled_from(NASTY_SCALARS)))
    return name, tree


def _renamed(tree: Any, where: tuple[Any, ...], new_key: str) -> Any:
    parent = tree
    for key in where[:-1]:
        parent = parent[key]
    return {(new_key if k == where[-1] else k): v for k, v in parent.items()}


def _with_repeat(tree: Any, path: tuple[Any, ...], draw: st.DrawFn) -> Any:
    node = tree
    for key in path:
        node = node[key]
    if isinstance(node, dict):
        return {**node, "repeat": draw(st.sampled_from([1, 2, 50, 10**4, 10**8, "$depth", 0, -3, 2.5]))}
    return node


COMMANDS = [["summary", "-f", "json"], ["summary"], ["summary", "-d", "0"], ["explain", "{layer}"],
            ["memory", "--format", "json"], ["summary", "-f", "markdown", "--explain"]]


def _argv(command: list[str], target: str) -> list[str]:
    return [command[0], target, *[("conv1" if c == "{layer}" else c) for c in command[1:]]]


@settings(max_examples=_scale(150), **SETTINGS)  # type: ignore[arg-type]
@given(case=mutated_spec(), command=st.sampled_from(COMMANDS), n=st.integers(0, 10**9))
def test_mutated_specs(workdir: Path, case: tuple[str, Any], command: list[str], n: int) -> None:
    name, tree = case
    path = workdir / f"{name}-{n}.yaml"
    try:
        text = yaml.safe_dump(tree, sort_keys=False, allow_unicode=False)
    except (yaml.YAMLError, RecursionError):
        return
    path.write_text(text)
    argv = _argv(command, str(path))
    _record("spec", run_in_process(argv), [str(path), *(a for a in argv[2:] if not a.startswith("-"))])


@settings(max_examples=_scale(100), **SETTINGS)  # type: ignore[arg-type]
@given(base=st.sampled_from(EXAMPLES), snippet=st.sampled_from(YAML_SNIPPETS), where=st.floats(0, 1),
       n=st.integers(0, 10**9))
def test_mutated_yaml_text(workdir: Path, base: Path, snippet: str, where: float, n: int) -> None:
    text = base.read_text()
    at = int(where * len(text))
    path = workdir / f"text-{base.stem}-{n}.yaml"
    path.write_text(text[:at] + snippet + text[at:], encoding="utf-8")
    _record("yaml-text", run_in_process(["summary", str(path), "-f", "json"]), [str(path)])


# --- Hugging Face configs ------------------------------------------------------------------------

FILE_LEVEL = ["deep", "bigint", "list", "string", "truncated", "nan-top", "empty"]


def _config_text(kind: str, base: dict[str, Any]) -> str:
    if kind == "deep":
        return '{"model_type": "gpt2", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    if kind == "bigint":
        return json.dumps(base)[:-1] + ', "n_layer": 1' + "0" * 5000 + "}"
    if kind == "list":
        return json.dumps([base])
    if kind == "string":
        return json.dumps("gpt2")
    if kind == "truncated":
        return json.dumps(base)[:-5]
    if kind == "nan-top":
        return "NaN"
    return ""


@settings(max_examples=_scale(40), **SETTINGS)  # type: ignore[arg-type]
@given(family=st.sampled_from(sorted(CONFIG_BASES)), kind=st.sampled_from(FILE_LEVEL), n=st.integers(0, 10**9))
def test_config_files(workdir: Path, family: str, kind: str, n: int) -> None:
    path = workdir / f"cfg-{kind}-{n}" / "config.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(_config_text(kind, CONFIG_BASES[family]))
    for argv in (["summary", str(path), "-f", "json"], ["llm", str(path)]):
        _record("config-file", run_in_process(argv), [str(path)])


def _json_safe(value: Any) -> bool:
    return not (isinstance(value, str) and len(value) > 1000)


@settings(max_examples=_scale(120), **SETTINGS)  # type: ignore[arg-type]
@given(family=st.sampled_from(sorted(CONFIG_BASES)), data=st.data(), n=st.integers(0, 10**9))
def test_mutated_config_fields(workdir: Path, family: str, data: st.DataObject, n: int) -> None:
    config = dict(CONFIG_BASES[family])
    for _ in range(data.draw(st.integers(1, 2))):
        key = data.draw(st.sampled_from([*config, "architectures", "hidden_act", "feed_forward_proj", "n_inner",
                                         "tie_word_embeddings", "rope_scaling", "layer_types"]))
        config[key] = data.draw(st.sampled_from(NASTY_SCALARS).filter(_json_safe))
    path = workdir / f"cfgf-{n}.json"
    path.write_text(json.dumps(config))
    _record("config", run_in_process(["summary", str(path), "-f", "json", "--seq-len", "8"]), [str(path)])


# --- command lines -------------------------------------------------------------------------------

OPTION_VALUES = ["3", "0", "-1", "x", "3,x,2", "3,,2", "nan", "inf", "1e400", "1.5", "9" * 5000, "", "3x224x224",
                 "1,3,32,32", "image=3,8,8", "=3", "num_classes=ten", "num_classes=1.5", "num_classes=10",
                 "num_classes=&a [*a]", "num_classes=!!python/name:os.system", "x=1", "num_classes=" + "[" * 80,
                 "\x1b[31m", "float16", "bogus"]
OPTIONS = ["-i", "-b", "--seq-len", "--var", "--convention", "--depth", "--width", "--dtype", "--lang",
           "--throughput", "--gpu-flops", "--utilisation", "--samples", "--epochs", "--optimizer", "--autocast"]
TARGETS = ["lenet5", "alexnet", "resnet18", "nosuchmodel", "a" * 10_000, "a" * 300 + ".yaml", "os:system",
           "builtins:exit", "x.json", "", "-", "examples/mlp.yaml", "examples/alexnet.yaml", "/dev/null", "."]


@st.composite
def command_line(draw: st.DrawFn) -> list[str]:
    command = draw(st.sampled_from(["summary", "explain", "memory", "schedule", "zoo", "layers", "llm"]))
    argv = [command]
    if command == "schedule":
        argv += ["--samples", draw(st.sampled_from(["1000", "0", "x", "9" * 50])), "-b", "10"]
    elif command in ("zoo", "layers"):
        argv += draw(st.lists(st.sampled_from(["alexnet", "conv2d", "nosuch", "\x1b[2J", "a" * 5000]), max_size=1))
    else:
        argv.append(draw(st.sampled_from(TARGETS)))
        if command == "explain":
            argv.append(draw(st.sampled_from(["conv1", "fc", "nosuch", "features"])))
    for _ in range(draw(st.integers(0, 3))):
        argv += [draw(st.sampled_from(OPTIONS)), draw(st.sampled_from(OPTION_VALUES))]
    return argv


def _names(argv: list[str]) -> list[str]:
    """What an error's first line may name: an option, the target, a file, an argument."""
    shown = [a[:50] for a in argv if a and not a.startswith("-")]
    return [*(a for a in argv if a.startswith("-")), *shown, "TARGET", "argument", "arguments", "command",
            "--", "netsize"]


@settings(max_examples=_scale(200), **SETTINGS)  # type: ignore[arg-type]
@given(argv=command_line())
def test_command_lines(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    _record("cli", run_in_process(argv), _names(argv))


# --- a sample as real processes under limits ---------------------------------------------------------


@st.composite
def process_case(draw: st.DrawFn) -> list[str]:
    return draw(command_line())


@settings(max_examples=_scale(12, processes=True), **SETTINGS)  # type: ignore[arg-type]
@given(argv=process_case(), spec=mutated_spec(), snippet=st.sampled_from(YAML_SNIPPETS), n=st.integers(0, 10**9))
def test_sample_as_processes(workdir: Path, argv: list[str], spec: tuple[str, Any], snippet: str, n: int) -> None:
    path = workdir / f"proc-{n}.yaml"
    path.write_text(yaml.safe_dump(spec[1], sort_keys=False) + "\nextra: " + snippet + "\n")
    for case, names in ((argv, _names(argv)), (["summary", str(path)], [str(path)])):
        outcome = run_subprocess(case, cwd=str(ROOT))
        _record("process", outcome, names)
        slowest = COUNTS["process:max_milliseconds"]
        COUNTS["process:max_milliseconds"] = max(slowest, math.ceil(outcome.seconds * 1000))
        assert outcome.max_rss_bytes <= MAX_RSS_BYTES, f"{case}: {outcome.max_rss_bytes:,} bytes resident"


def test_resident_memory_is_each_case_own_not_its_parents() -> None:
    # A bug of the suite itself: a child's ru_maxrss starts from the process it was forked from
    # (pytest with torch loaded, 800 MB), which failed `summary lenet5` in the full run.
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "x = bytearray(600 * 1024 * 1024); x[::4096] = b'1' * len(x[::4096])\n"
        "from fuzz_support import run_subprocess\n"
        "o = run_subprocess(['summary', 'lenet5']); print(o.status, o.max_rss_bytes)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent)], capture_output=True, text=True,
                         check=True).stdout.split()  # fmt: skip
    assert out[0] == "0"
    assert 0 < int(out[1]) < 300 * 1024**2


# --- issue 21: file kinds every reader meets, bounded reads, config dimensions and their products ------

_FILE_KINDS = ["fifo", "folder", "empty", "device", "link-to-device", "dangling-link", "link-loop",
               "folder-fifo-config"]
_EXTENSIONS = [".yaml", ".yml", ".json", ".onnx", ".keras", ".h5", ".pb", ".tflite", ""]
_READING_COMMANDS = [["summary"], ["summary", "-f", "json"], ["memory"], ["llm"], ["explain", "conv1"],
                     ["check", "--claims", "{path}"], ["report", "-o", "{out}"]]


def _odd_path(folder: Path, kind: str, extension: str) -> Path:
    """A path of ``kind`` (none of them a regular file with content) named ``x<extension>``."""
    path = folder / f"x{extension}"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "device":
        return Path("/dev/null")
    elif kind == "link-to-device":
        path.symlink_to("/dev/zero")
    elif kind == "dangling-link":
        path.symlink_to(folder / "nowhere")
    elif kind == "link-loop":
        path.symlink_to(path)
    else:  # a Hugging Face / Keras folder whose config.json is a FIFO
        path.mkdir()
        os.mkfifo(path / "config.json")
        (path / "model.weights.h5").write_bytes(b"")
    return path


def _reading_argv(command: list[str], path: Path, out: Path) -> list[str]:
    if command[0] == "check":
        return ["check", "alexnet", "--claims", str(path)]
    return [command[0], str(path), *[str(out) if c == "{out}" else c for c in command[1:]]]


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not os.path.exists("/dev/zero"), reason="POSIX files")
@settings(max_examples=_scale(60), **SETTINGS)  # type: ignore[arg-type]
@given(kind=st.sampled_from([k for k in _FILE_KINDS if "fifo" not in k]), extension=st.sampled_from(_EXTENSIONS),
       command=st.sampled_from(_READING_COMMANDS), n=st.integers(0, 10**9))
def test_odd_files_every_reader(workdir: Path, kind: str, extension: str, command: list[str], n: int) -> None:
    """Folders, devices, links and empty files under every extension and reading command: the
    rule, in process (none of these can block a reader that checks before it opens)."""
    folder = Path(tempfile.mkdtemp(prefix=f"odd-{n}-", dir=workdir))
    path = _odd_path(folder, kind, extension)
    argv = _reading_argv(command, path, folder / "r.html")
    _record("odd-file", run_in_process(argv), [str(path), *_names(argv)])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
@settings(max_examples=_scale(8, processes=True), **SETTINGS)  # type: ignore[arg-type]
@given(kind=st.sampled_from(["fifo", "folder-fifo-config"]), extension=st.sampled_from(_EXTENSIONS),
       command=st.sampled_from(_READING_COMMANDS), n=st.integers(0, 10**9))
def test_fifos_every_reader_as_processes(workdir: Path, kind: str, extension: str, command: list[str], n: int) -> None:
    """A FIFO blocks whoever opens it: as a process with a wall-clock limit, refused by name."""
    folder = Path(tempfile.mkdtemp(prefix=f"fifo-{n}-", dir=workdir))
    path = _odd_path(folder, kind, extension)
    argv = _reading_argv(command, path, folder / "r.html")
    outcome = run_subprocess(argv, cwd=str(ROOT), timeout_seconds=30)
    assert check(outcome, [str(path)]) == "error"
    assert "named pipe (FIFO), not a regular file" in outcome.stderr.splitlines()[0], outcome.stderr
    assert outcome.max_rss_bytes <= MAX_RSS_BYTES
    COUNTS["fifo:error"] += 1


@settings(max_examples=_scale(200), **SETTINGS)  # type: ignore[arg-type]
@given(size=st.integers(0, 3000), bound=st.integers(0, 3000), n=st.integers(0, 10**9))
def test_bounded_reads(workdir: Path, size: int, bound: int, n: int) -> None:
    """``read_bounded_bytes`` returns a file of at most ``bound`` bytes whole, and refuses a larger
    one stating the bound, never reading past ``bound + 1`` bytes."""
    from netsize import NetsizeError
    from netsize._limits import read_bounded_bytes

    path = workdir / f"bounded-{n}.bin"
    data = bytes(i % 251 for i in range(size))
    path.write_bytes(data)
    if size <= bound:
        assert read_bounded_bytes(path, bound, "spec") == data
    else:
        with pytest.raises(NetsizeError, match=f"a spec may have at most {bound:,}"):
            read_bounded_bytes(path, bound, "spec")


_DIMENSIONS = {"gpt2": ["n_embd", "n_head", "vocab_size", "n_positions", "n_inner"],
               "bert": ["hidden_size", "num_attention_heads", "intermediate_size", "vocab_size"],
               "llama": ["hidden_size", "num_attention_heads", "num_key_value_heads", "intermediate_size",
                         "vocab_size", "head_dim"],
               "t5": ["d_model", "num_heads", "d_kv", "d_ff", "vocab_size"]}


@settings(max_examples=_scale(120), **SETTINGS)  # type: ignore[arg-type]
@given(family=st.sampled_from(sorted(CONFIG_BASES)), data=st.data(), n=st.integers(0, 10**9))
def test_config_dimensions_and_products(workdir: Path, family: str, data: st.DataObject, n: int) -> None:
    """Dimensions drawn up to past 2**62: either refused (one line) or a summary whose counts of
    stored numbers are within 2**62, the README's bound, never a 1e45 printed as an answer."""
    config = dict(CONFIG_BASES[family])
    for _ in range(data.draw(st.integers(1, 3))):
        key = data.draw(st.sampled_from(_DIMENSIONS[family]))
        values = [2**k for k in (4, 10, 20, 31, 40, 50, 61, 62)] + [2**62 + 1, 3 * 2**61]
        config[key] = data.draw(st.sampled_from(values))
    path = workdir / f"dims-{n}.json"
    path.write_text(json.dumps(config))
    outcome = run_in_process(["summary", str(path), "-f", "json", "--seq-len", "4"])
    _record("config-dims", outcome, [str(path)])
    if outcome.status == 0:
        totals = json.loads(outcome.stdout)["totals"]
        assert totals["params"] <= 2**62 and totals["buffers"] <= 2**62, totals
