"""Chinese that reads as written Chinese (`--lang zh`): full-width punctuation next to Chinese text,
no English word left untranslated, one glossary (docs/glossary.md), `--lang zh` on every command,
and golden files of the Chinese output of explain, summary, memory, llm and schedule.

Golden files live in tests/data/golden/zh; after a deliberate change of the output, rewrite them
with `NETSIZE_UPDATE_GOLDEN=1 python -m pytest tests/test_zh.py` and read the diff.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from netsize import analyze, explain_record, zoo
from netsize._glossary import FORMULA_WORDS, TERMS, formula
from zh_text import english_words, punctuation_problems, zh_problems

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "data" / "golden" / "zh"
REFERENCE = Path(__file__).resolve().parent / "data" / "reference" / "transformers_params.json"


def _catalogue() -> dict[str, dict[str, str]]:
    """Every registered message, after importing every module that registers some (found by
    their source, so that a new module's messages are checked without editing this test)."""
    import importlib

    import netsize.layers

    netsize.layers.load_all()
    package = Path(netsize.layers.__file__).parent.parent
    for path in sorted(package.rglob("*.py")):
        if "register_messages(" not in path.read_text(encoding="utf-8"):
            continue
        module = ".".join(("netsize", *path.relative_to(package).with_suffix("").parts)).removesuffix(".__init__")
        try:
            importlib.import_module(module)
        except ImportError:  # an optional frontend whose framework is not installed
            continue
    from netsize._i18n import _CATALOGUE

    return _CATALOGUE


def test_checker_catches_what_the_issue_quotes():
    # The texts netsize printed before (issue 10): the checks must see what is wrong with them.
    assert punctuation_problems("833,040(833 k)= 2 x 乘加次数")
    assert punctuation_problems("11(步长 4,起点 5.5)")
    assert english_words("其他运算 = N*C_out*O_H*O_W (bias adds) = 290,400") == ["bias", "adds"]
    assert english_words("浮点运算次数 = 2*multiply_adds") == [] and "multiply_adds" not in formula(
        "2*multiply_adds", "zh")
    assert zh_problems("感受野 = 11（跳距 4，起点 5.5）") == []
    assert zh_problems("O_H = floor((227 - 11 + 2*0) / 4) + 1 = 55") == []


def test_every_chinese_message_has_full_width_punctuation_and_no_english_word():
    problems = {key: zh_problems(texts["zh"]) for key, texts in _catalogue().items()}
    assert {k: p for k, p in problems.items() if p} == {}


# Synonyms the glossary rules out (docs/glossary.md, Rules).
FORBIDDEN = {
    r"乘累加": "乘加次数",
    r"乘加(?!次数)": "乘加次数",
    r"浮点运算(?!次数)": "浮点运算次数",
    r"步长": "跳距 (receptive field) — no message is about a stride",
}


def test_every_chinese_message_uses_the_glossary_words():
    texts = [t["zh"] for t in _catalogue().values()] + list(FORMULA_WORDS.values())
    found = {pattern: [t for t in texts if re.search(pattern, t)] for pattern in FORBIDDEN}
    assert {p: ts for p, ts in found.items() if ts} == {}


def test_glossary_page_lists_every_term():
    # docs/glossary.md's tables are netsize._glossary's: rewritten with NETSIZE_UPDATE_GOLDEN=1.
    page_path = ROOT / "docs" / "glossary.md"
    page = page_path.read_text(encoding="utf-8")
    start = page.index("| English | 中文 | notes |")
    terms = "\n".join(["| English | 中文 | notes |", "|---|---|---|",
                       *(f"| {en} | {zh} | {note} |" for en, zh, note in TERMS)])
    words_start = page.index("| in formulas | 中文 |")
    words = "\n".join(["| in formulas | 中文 |", "|---|---|",
                       *(f"| `{en}` | {zh} |" for en, zh in FORMULA_WORDS.items() if en != zh)])
    expected = page[:start] + terms + page[page.index("\n\n", start):words_start] + words + "\n"
    if os.environ.get("NETSIZE_UPDATE_GOLDEN"):
        page_path.write_text(expected, encoding="utf-8")
        page = expected
    assert page == expected


def _names(summary) -> set[str]:
    # Layer names are the user's: they stay as written in any language.
    return {part for r in summary.layers for part in re.split(r"[._]", r.name)}


def test_chinese_explanations_of_every_zoo_model_and_config_read_as_chinese():
    from netsize.frontends.hf_config import network_from_config
    from netsize.llm import llm_figures

    summaries = [analyze(zoo.get(name).build()) for name in zoo.names()]
    summaries += [analyze(network_from_config({"model_type": t}, seq_len=64))
                  for t in ("gpt2", "llama", "bert", "t5", "mixtral")]
    problems: dict[str, list[str]] = {}
    for s in summaries:
        names = _names(s)
        for r in s.layers:
            text = explain_record(r, "zh")
            found = punctuation_problems(text) + [w for w in english_words(text) if w not in names]
            if found:
                problems[f"{s.model}/{r.name}"] = found
    text = llm_figures({"model_type": "gpt2"}, seq_len=64).explain("zh")
    if zh_problems(text):
        problems["llm gpt2"] = zh_problems(text)
    assert problems == {}


# Constructor arguments and inputs tried on every layer type until one analyses (a broad net: the
# test asserts how many types it reached, so that it cannot quietly shrink).
_KWARGS = [
    {}, {"out_channels": 4, "kernel_size": 3}, {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1},
    {"out_features": 4}, {"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "ceil_mode": True}, {"output_size": 2},
    {"hidden_size": 6}, {"embed_dim": 8, "num_heads": 2}, {"embed_dim": 8, "num_heads": 2, "num_kv_heads": 1},
    {"num_embeddings": 10, "embedding_dim": 4}, {"normalized_shape": 8}, {"num_groups": 2}, {"scale_factor": 2},
    {"size": 4}, {"shape": (8, -1)}, {"p": 0.5}, {"dim": 1}, {"chunks": 2}, {"split_size_or_sections": 2},
    {"num_buckets": 8, "num_heads": 2}, {"causal": True}, {"dims": (0, 2, 1)}, {"dim": 1, "sizes": (2, 2)},
    {"features": 8}, {"d_ff": 16}, {"d_ff": 16, "num_experts": 4}, {"dims": (0, 2, 1, 3)},
    {"embedding_dim": 8}, {"dim": 1, "unflattened_size": (2, 2)},
    {"shape": (4,)}, {"equation": "bij,bjk->bik"}, {"pads": (1, 1)}, {"pads": (0, 0, 1, 1)}, {"sizes": (2, 4, 16)},
    {"sizes": (2, 4, 16, 16)}, {"repeats": (1, 2)}, {"repeats": (1, 1, 2)}, {"shape": (2, 4, 8)}, {"axis": 1},
    {"starts": (0,), "ends": (2,)}, {"starts": (0,), "ends": (2,), "axes": (1,)}, {"op": "mean"},
    {"op": "add", "ops": 1}, {"op": "x", "shapes": ((2, 8),)},
    {"pads": (0, 0, 1, 1, 0, 0, 1, 1)}, {"repeats": (1, 1, 2, 2)}, {"op": "CumSum", "shapes": ((2, 8),)},
    {"state_size": 4, "conv_kernel": 4},
]
_INPUTS = [((2, 4, 8, 8),), ((2, 8),), ((2, 4, 8),), ((2, 4, 8, 8, 8),), ((2, 4, 8, 8), (2, 4, 8, 8)),
           ((2, 4, 8), (2, 4, 8), (2, 4, 8)), ((2, 2, 4, 8), (2, 2, 4, 8), (2, 2, 4, 8)), ((2, 3, 4), (2, 4, 5)),
           (),  # stored tensors (Parameter, Constant) take no input
           ((2, 4, 8), (2, 4, 8), (2, 4, 4), (2, 4, 4), (2, 4, 8))]  # a selective scan's u, delta, B, C, z


def test_chinese_explanation_of_every_layer_type_reads_as_chinese():
    import dataclasses
    import itertools

    import netsize.layers
    from netsize import Layer, analyze_layer

    netsize.layers.load_all()
    classes = [getattr(netsize.layers, n) for n in netsize.layers.__all__]
    classes = [c for c in classes if isinstance(c, type) and issubclass(c, Layer)]
    # Field names of layers (alpha, kdim, chunks...) are the option names users write: they stay.
    fields = {f.name for c in classes if dataclasses.is_dataclass(c) for f in dataclasses.fields(c)}
    explained: dict[str, str] = {}
    for cls in classes:
        for kwargs, inputs in itertools.product(_KWARGS, _INPUTS):
            try:
                record = analyze_layer("x", cls(**kwargs), inputs)
            except Exception:  # not this combination: try the next
                continue
            explained[cls.__name__] = explain_record(record, "zh")
            break
    assert len(explained) == len(classes), sorted({c.__name__ for c in classes} - set(explained))
    problems = {
        name: punctuation_problems(text) + [w for w in english_words(text) if w not in fields]
        for name, text in explained.items()
    }
    assert {k: v for k, v in problems.items() if v} == {}


def _cli(*args: str) -> str:
    env = {**os.environ, "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run([sys.executable, "-m", "netsize", *args], capture_output=True, text=True, env=env,
                          timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def gpt2_config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("gpt2") / "config.json"
    path.write_text(json.dumps(json.loads(REFERENCE.read_text())["gpt2"]["config"]))
    return path


GOLDEN_RUNS = {
    "explain_alexnet_conv1": ("explain", "alexnet", "conv1", "--lang", "zh"),
    "explain_resnet18_layer1_0": ("explain", "resnet18", "layer1.0", "--lang", "zh"),
    "summary_alexnet": ("summary", "alexnet", "--lang", "zh"),
    "summary_resnet18_depth1": ("summary", "resnet18", "--depth", "1", "--lang", "zh"),
    "memory_resnet18": ("memory", "resnet18", "-b", "32", "--lang", "zh"),
    "llm_gpt2": ("llm", "{gpt2}", "--seq-len", "1024", "--lang", "zh", "--explain"),
    "schedule_alexnet": ("schedule", "--samples", "50000", "-b", "256", "--epochs", "10", "--model", "alexnet",
                         "--throughput", "900", "--lang", "zh"),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_RUNS))
def test_chinese_output_matches_golden_file(name, gpt2_config):
    args = [a.replace("{gpt2}", str(gpt2_config)) for a in GOLDEN_RUNS[name]]
    out = _cli(*args)
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("NETSIZE_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(out, encoding="utf-8")
    assert out == path.read_text(encoding="utf-8")
    # ... and the golden text itself reads as Chinese (model and layer names aside).
    names = {"alexnet", "resnet18", "network", "adam", "float32", "bfloat16", "int8", "int4", "gpt2"}
    if name.startswith(("explain", "summary")):
        names |= _names(analyze(zoo.get(args[1]).build()))
    assert punctuation_problems(out) == []
    assert [w for w in english_words(out) if w not in names] == []


@pytest.mark.parametrize(
    "command", ["summary", "explain", "memory", "llm", "schedule", "zoo", "layers", "compare", "plan", "check"])
def test_every_command_takes_lang_zh_and_format(command):
    from netsize.cli import build_parser

    parser = build_parser(command)
    sub = next(a for a in parser._actions if a.dest == "command")
    options = {o for a in sub.choices[command]._actions for o in a.option_strings}
    assert {"--lang", "--format"} <= options
