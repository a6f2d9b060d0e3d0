"""Issue 11's reproducers: each gives one clear line and exit 2 (or a correct answer), never a
traceback, a hang or a blow-up of memory."""

from __future__ import annotations

import gc
import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

from fuzz_support import MAX_RSS_BYTES, check, run_in_process, run_subprocess
from netsize import NetsizeError
from netsize.spec import SpecError, load_spec

HEAD = "name: t\ninput: [8]\nvariables: {a: 9}\nlayers:\n"


def _spec(tmp_path: Path, body: str, name: str = "net.yaml") -> Path:
    path = tmp_path / name
    path.write_text(HEAD + body, encoding="utf-8")
    return path


def _fails(argv: list[str], *expected: str, names: tuple[str, ...] = ()) -> str:
    outcome = run_in_process(argv)
    names = (*names, *(a for a in argv if not a.startswith("-")), "--", "TARGET")
    assert check(outcome, names) == "error", outcome.stdout
    first = outcome.stderr.splitlines()[0]
    for text in expected:
        assert text in first, first
    return first


# --- unbounded work from a few bytes ------------------------------------------------------------

@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("$a ** $a ** $a", "exponent 387420489"),
        ("${10 ** 10 ** 8}", "past 64, the largest allowed"),
        ("${0 ** -1}", "division by zero"),
        ("${2.0 ** 10000}", "exponent 10000"),
        ("${ceil(1e400)}", "not a finite number"),
        ("${int(1e400 - 1e400)}", "not a finite number"),
        ("${10 ** 5000}", "past 64"),
        ("${2 ** 64}", "larger than 2**62"),
        ("${(-8) ** 0.5}", "not a real number"),
        ("${1 / 0}", "division by zero"),
    ],
)
def test_expressions_are_bounded_and_name_the_field(tmp_path: Path, expression: str, expected: str) -> None:
    path = _spec(tmp_path, f'  - fc: {{type: linear, out_features: "{expression}"}}\n')
    _fails(["summary", str(path)], f"{path}:5: layers[0].out_features", expected)


def test_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    _fails(["summary", str(path)], str(path), "more than 100,000 values (aliases included)")


def test_alias_bomb_through_var_is_refused(tmp_path: Path) -> None:
    levels = ["&a0 [1,1,1,1,1,1,1,1,1,1]"] + [
        f"&a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)
    ]
    value = "[" + ", ".join(levels) + "]"
    _fails(["summary", "alexnet", "--var", f"num_classes={value}"], "--var num_classes", "100,000 values")


@pytest.mark.parametrize("text", ["x: &a [*a]\n", "x: &a {k: *a}\n"])
def test_self_referencing_alias(tmp_path: Path, text: str) -> None:
    path = tmp_path / "rec.yaml"
    path.write_text(text)
    _fails(["summary", str(path)], f"{path}:1", "contains itself")
    _fails(["summary", "alexnet", "--var", "num_classes=&a [*a]"], "--var num_classes", "contains itself")


def test_repeat_and_layer_count_are_bounded(tmp_path: Path) -> None:
    path = _spec(tmp_path, "  - fc: {type: linear, out_features: 4, repeat: 100000000}\n")
    _fails(["summary", str(path)], f"{path}:5: layers[0].repeat", "at most 10,000 layers")
    # blocks that double at each level: the bound stops the expansion, not the memory
    blocks = "blocks:\n" + "".join(
        f"  b{i}:\n    layers:\n      - {{block: b{i + 1}}}\n      - {{block: b{i + 1}}}\n" for i in range(30)
    ) + "  b30:\n    layers:\n      - relu\n"
    path = tmp_path / "doubling.yaml"
    path.write_text("input: [8]\n" + blocks + "layers:\n  - {block: b0}\n")
    _fails(["summary", str(path)], str(path), "more than 10,000 layers")


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"model_type": "gpt2", "n_layer": 1_000_000_000}, "n_layer = 1000000000; netsize analyses at most 1,000"),
        ({"model_type": "llama", "num_hidden_layers": 100_000}, "num_hidden_layers = 100000"),
        ({"model_type": "mixtral", "num_local_experts": 10**9}, "at most 4,096 experts"),
    ],
)
def test_config_layer_counts_are_bounded(tmp_path: Path, config: dict[str, object], expected: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    _fails(["summary", str(path)], str(path), expected)
    _fails(["llm", str(path)], str(path), expected)


def test_library_config_readers_apply_the_same_bounds(tmp_path: Path) -> None:
    """The bounds live in the config reader every entry point uses, not only in the command
    line: the library's summary and llm figures refuse the same configs, dict or file."""
    from netsize.frontends.hf_config import summary_from_config
    from netsize.llm import llm_figures

    huge = {"model_type": "gpt2", "n_layer": 1_000_000_000}
    for read in (summary_from_config, llm_figures):
        with pytest.raises(NetsizeError, match="netsize analyses at most 1,000"):
            read(huge)
    deep = tmp_path / "config.json"
    deep.write_text('{"model_type": "gpt2", "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(NetsizeError, match="nest"):
        summary_from_config(deep)


def test_graph_nodes_are_bounded() -> None:
    from netsize import Sequential
    from netsize._limits import MAX_GRAPH_NODES
    from netsize.layers.activation import ReLU

    with pytest.raises(NetsizeError, match="more than 100,000 layers"):
        Sequential([(f"r{i}", ReLU()) for i in range(MAX_GRAPH_NODES + 1)], (4,))


def test_python_data_nesting_is_bounded() -> None:
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(SpecError, match="nested more than 64 levels"):
        load_spec({"input": [4], "layers": loop})


def test_large_files_are_refused_by_size(tmp_path: Path) -> None:
    path = _spec(tmp_path, "".join(f"  - l{i}: {{type: linear, out_features: 16}}\n" for i in range(40_000)))
    _fails(["summary", str(path)], str(path), "a spec may have at most 262,144")


# --- tracebacks where a clear error belongs ------------------------------------------------------

def test_integers_past_4300_digits(tmp_path: Path) -> None:
    path = _spec(tmp_path, "  - fc: {type: linear, out_features: 1" + "0" * 5000 + "}\n")
    _fails(["summary", str(path)], f"{path}:5", "5001 digits")
    config = tmp_path / "config.json"
    config.write_text('{"model_type": "gpt2", "n_layer": 1' + "0" * 5000 + "}")
    _fails(["summary", str(config)], str(config), "5001 digits")
    _fails(["llm", str(config)], str(config), "5001 digits")


def test_huge_legal_results_print(tmp_path: Path) -> None:
    from netsize.render._format import count, human

    assert human(10**2000).endswith("e+1988 T")
    assert count(10**30) == f"{10**30:,}"
    path = _spec(tmp_path, '  - fc: {type: linear, out_features: "${10 ** 17}"}\n')
    outcome = run_in_process(["summary", str(path)])
    assert check(outcome, [str(path)]) == "ok"
    assert "800,000,000,000,000,000" in outcome.stdout  # 8 inputs x 10**17 outputs, the weights


def test_params_past_2_62_are_refused_naming_the_layer(tmp_path: Path) -> None:
    """Issue 21: 8 x 10**18 weights and 10**18 biases are past the README's 2**62; refused, not
    printed as an answer."""
    path = _spec(tmp_path, '  - fc: {type: linear, out_features: "${10 ** 18}"}\n')
    expected = "fc (Linear, input 1x8): params is 9,000,000,000,000,000,000, larger than 2**62"
    first = _fails(["summary", str(path)], expected)
    assert first.startswith(f"netsize: error: {path}:5: fc")  # the spec's line, as for every layer error


def test_counts_past_a_float_print_in_every_format(tmp_path: Path) -> None:
    """16 axes of 2**62 and a batch of 2**62: legal, and far past 1e308; every output prints."""
    big = 2**62
    path = tmp_path / "huge.yaml"
    fc = "{type: linear, out_features: 1, bias: false}"
    path.write_text(f"input: {[big] * 16}\nlayers:\n  - relu\n  - fc: {fc}\n")
    for argv in (["summary", str(path)], ["summary", str(path), "-f", "markdown"], ["memory", str(path)],
                 ["summary", str(path), "-f", "json"]):
        outcome = run_in_process([*argv, "-b", str(big)])
        assert check(outcome, [str(path)]) == "ok", outcome.stderr
    markdown = run_in_process(["summary", str(path), "-b", str(big), "-f", "markdown"]).stdout
    assert "e+302 PiB in float32" in markdown  # the activations, past a float
    assert "float32 16,384.0 PiB" in markdown  # 2**62 weights, the most netsize accepts


def test_deeply_nested_spec_and_config(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("input: [8]\nlayers: " + "[" * 1200 + "]" * 1200 + "\n")
    _fails(["summary", str(path)], str(path), "not valid YAML")
    path.write_text("input: [8]\nlayers: " + "[" * 200 + "]" * 200 + "\n")
    _fails(["summary", str(path)], str(path), "nested more than 64 levels")
    config = tmp_path / "config.json"
    config.write_text('{"model_type": "gpt2", "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    _fails(["summary", str(config)], str(config), "nest")
    config.write_text(json.dumps(["gpt2"]))
    _fails(["summary", str(config)], str(config), "must be a JSON object")


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_upsample_scale_factor_must_be_finite(tmp_path: Path, value: str) -> None:
    path = tmp_path / "up.yaml"
    path.write_text(f"input: [3, 8, 8]\nlayers:\n  - up: {{type: upsample, scale_factor: {value}}}\n")
    _fails(["summary", str(path)], f"{path}:3: layers[0].scale_factor", "finite number")


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0", "x"])
def test_schedule_throughput_must_be_finite_and_positive(value: str) -> None:
    _fails(["schedule", "--samples", "100", "-b", "10", "--throughput", value], "--throughput", "finite number above 0")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["summary", "alexnet", "--var", "num_classes=ten"], "--var num_classes: alexnet expects a positive integer"),
        (["summary", "alexnet", "--var", "num_classes=1.5"], "--var num_classes: alexnet expects a positive integer"),
        (["summary", "alexnet", "--var", "num_classes=x"], "--var num_classes"),
        (["summary", "alexnet", "-i", "3,x,2"], "--input-size: '3,x,2'"),
        (["summary", "alexnet", "-i", "3,,2"], "--input-size"),
        (["summary", "alexnet", "-b", "0"], "-b/--batch-size"),
        (["summary", "alexnet", "-b", "9" * 5000], "-b/--batch-size"),
        (["summary", "alexnet", "--width", "100000000"], "--width"),
        (["summary", "alexnet", "--depth", "-1"], "--depth"),
        (["schedule", "--samples", "x", "-b", "1"], "--samples"),
        (["schedule", "--samples", "10", "-b", "1", "--utilisation", "2"], "--utilisation"),
        (["llm", "x.json", "--seq-len", "-4"], "--seq-len"),
        (["summary", "a" * 10_000], "TARGET has 10,000 characters"),
        (["summary", "a" * 300 + ".yaml"], "File name too long"),
    ],
)
def test_malformed_options_are_one_line(argv: list[str], expected: str) -> None:
    outcome = run_in_process(argv)
    assert outcome.status == 2
    assert len(outcome.stderr.strip().splitlines()) == 1, outcome.stderr
    assert expected in outcome.stderr


def test_option_bound_is_the_library_bound() -> None:
    from netsize._limits import MAX_INT
    from netsize.cli import _values

    assert _values.MAX_INT == MAX_INT


def test_var_with_yaml_tags_is_refused() -> None:
    _fails(["summary", "alexnet", "--var", "num_classes=!!python/name:os.system"], "--var num_classes", "tag")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("  - fc: {type: linear, out_features: !!python/name:os.system 4}\n", "the YAML tag !!python/name:os.system"),
        ("  - fc: {type: linear, out_features: !custom 4}\n", "the YAML tag !custom"),
        ("  - fc: {<<: {type: linear}, out_features: 4}\n", "`<<` merge keys are not supported"),
        ("  - fc: {type: linear, out_features: 4}\x1b[31m\n", "control character U+001B"),
    ],
)
def test_yaml_tags_merge_keys_and_control_characters_name_the_file(tmp_path: Path, body: str, expected: str) -> None:
    path = _spec(tmp_path, body)
    first = _fails(["summary", str(path)], f"{path}:5", expected)
    assert "<unicode string>" not in first
    with pytest.raises(SpecError, match=expected.replace("!", "!").replace("*", r"\*")[:12]):
        load_spec(path)


def test_library_raises_netsize_error_not_yaml_errors() -> None:
    for text in ["input: [8]\nlayers: [!!python/name:os.system x]\n", "a: <<\nb: {<<: {c: 1}}\n", "x: !!set {a}\n"]:
        with pytest.raises(NetsizeError):
            load_spec(text)


def test_multi_mistake_error_first_line_stands_alone(tmp_path: Path) -> None:
    path = _spec(tmp_path, "  - a: {type: conv2dd}\n  - b: {type: linear, out_feature: 3}\n")
    outcome = run_in_process(["summary", str(path)])
    first, *rest = outcome.stderr.splitlines()
    assert first.startswith(f"netsize: error: {path}:5: layers[0].type: unknown layer type 'conv2dd'")
    assert first.endswith(f"(and 2 more mistakes in {path}, below)")
    assert len(rest) == 2 and all(line.startswith(f"  {path}:6") for line in rest)


# --- model code that exits, and memory of failing PyTorch modules ----------------------------------

MODELS = textwrap.dedent(
    """
    import sys
    import torch
    from torch import nn

    class Raises(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
        def forward(self, x):
            raise RuntimeError("boom")

    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
        def forward(self, x, y):
            return self.fc(x) + y

    class Recurses(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
        def forward(self, x):
            return self.forward(x)

    class NoParams(nn.Module):
        def forward(self, x):
            return x * 2

    class Exits(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
        def forward(self, x):
            raise SystemExit(3)

    def raises(): return Raises()
    def two(): return TwoInputs()
    def recurses(): return Recurses()
    def noparams(): return NoParams()
    def exits(): return Exits()
    """
)


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    pytest.importorskip("torch")
    (tmp_path / "h11_bad_models.py").write_text(MODELS)
    (tmp_path / "h11_exits_on_import.py").write_text("import sys\nsys.exit(0)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "h11_bad_models"
    for name in ("h11_bad_models", "h11_exits_on_import"):
        sys.modules.pop(name, None)


def test_system_exit_from_a_callable_is_an_error() -> None:
    _fails(["summary", "builtins:exit", "-i", "1,4"], "builtins:exit", "called exit(")


def test_system_exit_from_model_code(models: str) -> None:
    _fails(["summary", f"{models}:exits", "-i", "1,4"], f"{models}:exits", "called exit(3)")
    _fails(["memory", f"{models}:exits", "-i", "1,4"], f"{models}:exits", "called exit(3)")
    _fails(["summary", "h11_exits_on_import:x", "-i", "1,4"], "h11_exits_on_import:x", "called exit(0)")


@pytest.mark.parametrize(
    ("name", "model", "expected"),
    [
        ("raises", "Raises", "RuntimeError: boom"),
        ("two", "TwoInputs", "missing 1 required positional argument"),
        ("recurses", "Recurses", "recursed"),
        ("noparams", "NoParams", "has no trainable parameters"),
    ],
)
def test_memory_of_a_failing_module_is_one_line(models: str, name: str, model: str, expected: str) -> None:
    """As `summary` does, the error names the model's class and what its forward did."""
    _fails(["memory", f"{models}:{name}", "-i", "1,4"], f"{model}: ", expected, names=(model,))


def test_system_exit_as_a_process() -> None:
    pytest.importorskip("torch")
    outcome = run_subprocess(["summary", "builtins:exit", "-i", "1,4"])
    assert check(outcome, ["builtins:exit"]) == "error"


# --- no growth in a long-running process ------------------------------------------------------------

def test_loading_a_spec_many_times_does_not_grow_the_process() -> None:
    text = (Path(__file__).resolve().parent.parent / "examples" / "resnet18.yaml").read_text()

    def objects_after(loads: int) -> int:
        for _ in range(loads):
            load_spec(text)
        gc.collect()
        return len(gc.get_objects())

    objects_after(20)  # caches that fill once (layer fields, registry) are filled here
    first = objects_after(100)
    second = objects_after(300)
    assert second - first < 200, (first, second)


# --- output a terminal can trust ------------------------------------------------------------------

def test_control_characters_in_names_are_escaped_on_a_terminal_but_exact_in_json(tmp_path: Path) -> None:
    path = tmp_path / "esc.yaml"
    path.write_text('name: "net\\e[2J"\ninput: [8]\nlayers:\n  - "fc\\e[31m": {type: linear, out_features: 4}\n')
    table = run_in_process(["summary", str(path), "--width", "200"])
    assert "\x1b" not in table.stdout and "fc\\x1b[31m" in table.stdout and "net\\x1b[2J" in table.stdout
    markdown = run_in_process(["summary", str(path), "-f", "markdown"])
    assert "\x1b" not in markdown.stdout and "fc\\x1b[31m" in markdown.stdout
    explained = run_in_process(["explain", str(path), "fc\x1b[31m"])
    assert explained.status == 0 and "\x1b" not in explained.stdout
    data = json.loads(run_in_process(["summary", str(path), "-f", "json"]).stdout)
    assert data["layers"][0]["name"] == "fc\x1b[31m"
    error = run_in_process(["explain", str(path), "x\x1b[2J"])
    assert error.status == 2 and "\x1b" not in error.stderr and "x\\x1b[2J" in error.stderr


# --- issue 21: hostile files ----------------------------------------------------------------------

_FIFO_TIMEOUT_SECONDS = 30  # a reader that opens the FIFO waits for a writer forever: this fails it


def _hostile(argv: list[str], *expected: str) -> str:
    """``netsize ARGV`` as a process under the fuzz limits: one error line naming the file."""
    outcome = run_subprocess(argv, timeout_seconds=_FIFO_TIMEOUT_SECONDS)
    assert check(outcome, [a for a in argv if not a.startswith("-")]) == "error", outcome.stdout
    first = outcome.stderr.splitlines()[0]
    assert len(outcome.stderr.strip().splitlines()) == 1, outcome.stderr
    for text in expected:
        assert text in first, first
    assert outcome.max_rss_bytes < MAX_RSS_BYTES
    return first


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
@pytest.mark.parametrize("name", ["f.yaml", "f.yml", "config.json", "model.onnx", "m.keras", "m.h5", "noext"])
@pytest.mark.parametrize("command", ["summary", "memory", "report"])
def test_a_fifo_is_refused_before_it_is_opened(tmp_path: Path, name: str, command: str) -> None:
    fifo = tmp_path / name
    os.mkfifo(fifo)
    argv = [command, str(fifo)] + (["-o", str(tmp_path / "r.html")] if command == "report" else [])
    _hostile(argv, f"{fifo} is a named pipe (FIFO), not a regular file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
@pytest.mark.parametrize("weights", ["model.weights.h5", None])
def test_a_folder_whose_config_is_a_fifo_is_refused(tmp_path: Path, weights: str | None) -> None:
    """A Keras folder (config.json + model.weights.h5) or a Hugging Face folder (config.json)."""
    os.mkfifo(tmp_path / "config.json")
    if weights:
        (tmp_path / weights).write_bytes(b"")
    _hostile(["summary", str(tmp_path)], f"{tmp_path / 'config.json'} is a named pipe (FIFO)")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_device_is_refused(device: str) -> None:
    _hostile(["summary", device], f"{device} is a character device, not a regular file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_claims_file_that_is_a_fifo_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "claims.yaml"
    os.mkfifo(fifo)
    _hostile(["check", "alexnet", "--claims", str(fifo)], f"{fifo} is a named pipe (FIFO)")


_LIBRARY_READERS = {
    "spec": "from netsize.spec import load_spec as read",
    "config": "from netsize.frontends.hf_config import load_config as read",
    "keras": "from netsize.frontends.keras import load_config as read",
    "onnx": "from netsize.frontends.onnx import load_model as read",
}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
@pytest.mark.parametrize("reader", sorted(_LIBRARY_READERS))
def test_library_readers_refuse_a_fifo(tmp_path: Path, reader: str) -> None:
    """Each reader in a process of its own: a regression blocks there, and the timeout fails it."""
    import subprocess

    if reader == "onnx":
        pytest.importorskip("onnx")
    fifo = tmp_path / "model.yaml"  # the spec reader takes a string without .yaml for the spec's text
    os.mkfifo(fifo)
    code = (f"{_LIBRARY_READERS[reader]}\nfrom netsize import NetsizeError\n"
            f"try:\n    read({str(fifo)!r})\nexcept NetsizeError as err:\n    print(err)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=_FIFO_TIMEOUT_SECONDS, check=False)
    assert done.returncode == 0, done.stderr
    assert f"{fifo} is a named pipe (FIFO), not a regular file" in done.stdout


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        # the config: each field within 2**62, their products far past it
        ({"hidden_size": 2**62, "num_attention_heads": 2**31, "num_key_value_heads": 2**31},
         ["the fields hidden_size = 4611686018427387904, num_attention_heads = 2147483648",
          "params is 147,573,952,589,676,412,928,000, larger than 2**62"]),
        ({"hidden_size": 2**62 + 1}, ["field hidden_size = 4611686018427387905 is larger than 2**62"]),
        ({"vocab_size": 2**51}, ["the field vocab_size = 2251799813685248 makes a model too large",
                                 "model.embed_tokens (Embedding",
                                 "params is 9,223,372,036,854,775,808, larger than 2**62"]),
        ({"intermediate_size": 2**61}, ["the field intermediate_size = 2305843009213693952 makes a model too large"]),
        ({"rope_scaling": {"factor": 8.0, "original_max_position_embeddings": 2**63}},
         ["field rope_scaling.original_max_position_embeddings = 9223372036854775808 is larger than 2**62"]),
        ({"layer_types": ["full_attention", 2**63]}, ["field layer_types[1] = 9223372036854775808"]),
    ],
)
def test_config_dimensions_and_products_are_bounded(tmp_path: Path, fields: dict[str, object],
                                                    expected: list[str]) -> None:
    config = {"model_type": "llama", "hidden_size": 4096, "num_attention_heads": 32, "num_hidden_layers": 2,
              "intermediate_size": 11008, "vocab_size": 32000, **fields}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    for command in ("summary", "memory", "llm"):
        first = _hostile([command, str(path)], str(path), *expected)
        assert first.count("2**62") == 1, first


def test_library_config_products_are_bounded() -> None:
    from netsize.frontends.hf_config import network_from_config, summary_from_config

    config = {"model_type": "llama", "hidden_size": 2**62, "num_attention_heads": 2**31,
              "num_key_value_heads": 2**31, "num_hidden_layers": 1, "intermediate_size": 11008, "vocab_size": 32000}
    for read in (summary_from_config, network_from_config):
        with pytest.raises(NetsizeError, match=r"hidden_size = 4611686018427387904.*larger than 2\*\*62"):
            read(config)


def test_a_huge_json_is_refused_by_size_before_it_is_sniffed(tmp_path: Path) -> None:
    """The command line looks into a .json for a Keras config before the config reader; that look
    is bounded too (a sparse 1 GiB file: reading it whole would take gigabytes)."""
    path = tmp_path / "x.json"
    with path.open("wb") as f:
        f.truncate(2**30)
    _hostile(["summary", str(path)], f"{path}: 1,073,741,824 bytes; a config may have at most 4,194,304")
