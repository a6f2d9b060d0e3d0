"""Time netsize on the worst specs it accepts (issue 11: every accepted input answers within
1 s and 200 MB, whole process), each as a fresh process, as a user runs it.

    python benchmarks/bench_large_spec.py [--repeat 3] [--keep DIR] [--only NAME ...] [--modes table json ...]

The specs are generated at the bounds of ``netsize._limits`` (``MAX_SPEC_BYTES`` of YAML,
``MAX_LAYERS`` layers, ``repeat:`` at ``MAX_LAYERS``, nesting at ``MAX_DEPTH``, ``MAX_YAML_VALUES``
values), each as large as the bounds let it be:

- ``distinct``: the largest file of distinct layers (convolutions of changing widths, norms,
  activations) under ``MAX_SPEC_BYTES``;
- ``many``: ``MAX_LAYERS`` layers of the shortest kind (``- relu``), no repeat;
- ``repeat_layer``: one linear layer with ``repeat: MAX_LAYERS``;
- ``repeat_block``: a transformer-like block (norm, q/k/v, matmuls, softmax, MLP, residual adds)
  repeated until ``MAX_LAYERS`` layers;
- ``nested``: groups nested as deep as ``MAX_DEPTH`` allows, each level repeated twice, up to
  ``MAX_LAYERS`` layers;
- ``branching``: every layer adds the outputs of earlier ones (up to ``MAX_YAML_VALUES`` references);
- ``concat_far``: every layer takes the very first layer (the longest look-back);
- refused specs (exit 2 expected): ``bad_refs`` (a wrong reference on every line, each one a
  search for a close name), ``late_error`` (a shape mistake at the last of ``MAX_LAYERS`` layers),
  ``too_many`` (one layer past ``MAX_LAYERS``).

Modes: ``table`` (``netsize summary``), ``json`` (``--format json``), ``explain``
(``--explain``, output to a pipe), ``memory`` (``netsize memory``). Prints, per spec and mode,
the median wall seconds, the median CPU seconds (user + system of the child: steadier than wall
time when other processes share the machine), the largest peak RSS in MB (the child's
ru_maxrss, from ``os.wait4``) and the exit code; a line is flagged ``OVER`` past 1 s or 200 MB.
``--src DIR`` runs the netsize found in DIR (say, an older checkout's ``src``) instead of this
one, for a before/after comparison on the same machine. Run by hand; tests never assert on timings.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from netsize._limits import MAX_DEPTH, MAX_LAYERS, MAX_SPEC_BYTES, MAX_YAML_VALUES  # noqa: E402

LIMIT_SECONDS = 1.0
LIMIT_MB = 200


def spec_distinct() -> str:
    """Distinct layers (convolutions of changing widths, each followed by a norm and an
    activation), as many as fit under MAX_SPEC_BYTES and MAX_LAYERS."""
    head = "name: distinct\ninput: [8, 16, 16]\nlayers:\n"
    lines = []
    size = len(head)
    i = 0
    while True:
        if i % 3 == 0:
            line = f"  - {{type: conv2d, out_channels: {8 + (i // 3) % 997}, kernel_size: 3, padding: 1}}\n"
        elif i % 3 == 1:
            line = "  - batchnorm2d\n"
        else:
            line = "  - relu\n"
        if size + len(line) > MAX_SPEC_BYTES - 16 or i >= MAX_LAYERS:
            break
        lines.append(line)
        size += len(line)
        i += 1
    return head + "".join(lines)


def spec_many() -> str:
    return "name: many\ninput: [64]\nlayers:\n" + "  - relu\n" * MAX_LAYERS


def spec_repeat_layer() -> str:
    return ("name: repeat_layer\ninput: [64]\nlayers:\n"
            f"  - fc: {{type: linear, out_features: 64, repeat: {MAX_LAYERS}}}\n")


BLOCK = """\
blocks:
  layer:
    layers:
      - ln1: layernorm
      - q: {type: linear, out_features: 64, from: ln1}
      - k: {type: linear, out_features: 64, from: ln1}
      - v: {type: linear, out_features: 64, from: ln1}
      - att: {type: mha, embed_dim: 64, num_heads: 4, from: [q, k, v]}
      - proj: {type: linear, out_features: 64}
      - res1: {type: add, from: [x, proj]}
      - ln2: layernorm
      - fc1: {type: linear, out_features: 256}
      - act: gelu
      - fc2: {type: linear, out_features: 64}
      - res2: {type: add, from: [res1, fc2]}
"""


def spec_repeat_block() -> str:
    per_block = 12
    return (f"name: repeat_block\ninput: [32, 64]\n{BLOCK}layers:\n"
            f"  - h: {{block: layer, repeat: {MAX_LAYERS // per_block}}}\n")


def spec_nested() -> str:
    # Each group level is a mapping inside a list (two YAML levels); the top adds three.
    levels = min((MAX_DEPTH - 4) // 3, 13)  # 2**13 = 8192 layers; deeper would pass MAX_LAYERS
    text = "name: nested\ninput: [32]\nlayers:\n"
    indent = "  "
    for _ in range(levels):
        text += f"{indent}- repeat: 2\n{indent}  layers:\n"
        indent += "    "
    text += f"{indent}- {{type: linear, out_features: 32}}\n"
    return text


def spec_branching() -> str:
    # Layer k adds the outputs of up to 10 earlier layers; references bounded by MAX_YAML_VALUES.
    lines = ["name: branching\ninput: [16, 8, 8]\nlayers:\n",
             "  - l0: {type: conv2d, out_channels: 16, kernel_size: 1}\n"]
    size = sum(map(len, lines))
    values = 10
    k = 1
    while k < MAX_LAYERS:
        refs = [f"l{k - j}" for j in range(1, min(k, 10) + 1)]
        line = f"  - l{k}: {{type: add, from: [{', '.join(refs)}]}}\n"
        values += 4 + len(refs)
        if values > MAX_YAML_VALUES * 0.95 or size + len(line) > MAX_SPEC_BYTES - 16:
            break
        lines.append(line)
        size += len(line)
        k += 1
    return "".join(lines)


def _numbered(head: str, line: Callable[[int], str]) -> str:
    """``head`` then ``line(k)`` for k = 1, 2, ... while under MAX_LAYERS and MAX_SPEC_BYTES."""
    lines = [head]
    size = len(head)
    for k in range(1, MAX_LAYERS):
        text = line(k)
        if size + len(text) > MAX_SPEC_BYTES - 16:
            break
        lines.append(text)
        size += len(text)
    return "".join(lines)


def spec_concat_far() -> str:
    return _numbered("name: concat_far\ninput: [16]\nlayers:\n  - l0: {type: linear, out_features: 16}\n",
                     lambda k: f"  - l{k}: {{type: add, from: [l0, l{k - 1}]}}\n")


def spec_bad_refs() -> str:
    """Refused: every layer takes a layer that does not exist (each mistake searches for a close name)."""
    return _numbered("name: bad_refs\ninput: [16]\nlayers:\n  - l0: {type: linear, out_features: 16}\n",
                     lambda k: f"  - l{k}: {{type: relu, from: m{k - 1}}}\n")


def spec_late_error() -> str:
    """Refused at the last layer: MAX_LAYERS - 1 layers analysed, then a shape that does not fit."""
    return ("name: late_error\ninput: [16]\nlayers:\n" + "  - relu\n" * (MAX_LAYERS - 1)
            + "  - {type: linear, in_features: 7, out_features: 3}\n")


def spec_too_many() -> str:
    """Refused: one layer past MAX_LAYERS."""
    return "name: too_many\ninput: [16]\nlayers:\n" + "  - relu\n" * (MAX_LAYERS + 1)


#: Specs netsize refuses (exit 2), after as much work as the bounds allow.
REFUSED = {"bad_refs", "late_error", "too_many"}

SPECS: dict[str, Callable[[], str]] = {
    "distinct": spec_distinct,
    "many": spec_many,
    "repeat_layer": spec_repeat_layer,
    "repeat_block": spec_repeat_block,
    "nested": spec_nested,
    "branching": spec_branching,
    "concat_far": spec_concat_far,
    "bad_refs": spec_bad_refs,
    "late_error": spec_late_error,
    "too_many": spec_too_many,
}

MODES: dict[str, list[str]] = {
    "table": ["summary"],
    "json": ["summary", "--format", "json"],
    "explain": ["summary", "--explain"],
    "memory": ["memory"],
}


def run_once(argv: list[str], src: Path, expected: int = 0) -> tuple[float, float, float, int]:
    """Wall seconds, CPU seconds, peak RSS in MB and exit code of one fresh process."""
    env = {**os.environ, "PYTHONPATH": str(src.resolve())}
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != expected:
        print(f"    exit {proc.returncode}: {err.strip().splitlines()[:1]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the generated specs to this folder")
    parser.add_argument("--only", nargs="*", choices=list(SPECS), help="specs to run (default all)")
    parser.add_argument("--modes", nargs="*", choices=list(MODES), default=list(MODES))
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the netsize package's parent folder")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="netsize-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"{'spec':<14}{'bytes':>8}  {'mode':<8}{'wall s':>8}{'cpu s':>8}{'max MB':>8}")
    for name in args.only or SPECS:
        text = SPECS[name]()
        path = folder / f"{name}.yaml"
        path.write_text(text)
        for mode in args.modes:
            argv = [sys.executable, "-m", "netsize", *MODES[mode][:1], str(path), *MODES[mode][1:]]
            expected = 2 if name in REFUSED else 0
            runs = [run_once(argv, args.src, expected) for _ in range(args.repeat)]
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            rss = max(r[2] for r in runs)
            flag = "  OVER" if wall > LIMIT_SECONDS or rss > LIMIT_MB else ""
            codes = {r[3] for r in runs}
            code = "" if codes == {expected} else f"  exit {sorted(codes)}"
            if expected:
                code += "  (refused, as it should be)" if codes == {expected} else ""
            print(f"{name:<14}{len(text.encode()):>8}  {mode:<8}{wall:>8.2f}{cpu:>8.2f}{rss:>8.0f}{flag}{code}",
                  flush=True)


if __name__ == "__main__":
    main()
