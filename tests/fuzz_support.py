"""What the fuzz tests share: running the command line (in this process, or as a subprocess under
time and memory limits), checking the one rule every case must keep, writing the zoo's networks
as specs, and the nasty values that mutations put into specs, configs and options.

The rule (issue 11): exit 0 with a result on stdout, or exit 2 with a first stderr line
``netsize: error: ...`` that stands on its own and names the file, field, layer or option;
never a traceback, never another exit status.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import re
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: The long mode (``NETSIZE_FUZZ_LONG=1`` or ``pytest --long``) runs 25 times CI's cases, over
#: 16,000; ``NETSIZE_FUZZ_LONG=N`` (N > 1) runs N times CI's cases.
LONG = os.environ.get("NETSIZE_FUZZ_LONG", "") not in ("", "0")
LONG_FACTOR = int(os.environ["NETSIZE_FUZZ_LONG"]) if os.environ.get("NETSIZE_FUZZ_LONG", "").isdigit() and int(
    os.environ["NETSIZE_FUZZ_LONG"]) > 1 else 25

#: Limits of a subprocess case: the issue's bound is 1 s and 200 MB for the analysis of a file
#: under 1 MB; the CPU limit leaves room for the interpreter's start and a shared CI machine.
SUBPROCESS_CPU_SECONDS = 20
SUBPROCESS_MEMORY_BYTES = 2 * 1024**3  # address space (virtual): catches a runaway allocation
MAX_RSS_BYTES = 400 * 1024**2  # resident memory one case may reach, interpreter and imports included


@dataclass
class Outcome:
    argv: list[str]
    status: int
    stdout: str
    stderr: str
    seconds: float = 0.0
    max_rss_bytes: int = 0


def run_in_process(argv: Sequence[str]) -> Outcome:
    """``netsize ARGV`` in this process; an exception escaping ``main`` is a failure of the rule."""
    from netsize.cli import main

    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(list(argv))
        except SystemExit as exc:  # argparse: --help, or a malformed option
            status = exc.code if isinstance(exc.code, int) else 1
        except BaseException as exc:
            raise AssertionError(f"netsize {' '.join(argv)!r} raised {type(exc).__name__}: {exc}") from exc
    return Outcome(list(argv), status, out.getvalue(), err.getvalue(), time.perf_counter() - start)


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (SUBPROCESS_CPU_SECONDS, SUBPROCESS_CPU_SECONDS + 1))
    resource.setrlimit(resource.RLIMIT_AS, (SUBPROCESS_MEMORY_BYTES, SUBPROCESS_MEMORY_BYTES))


# The case reports its own peak (VmHWM of its process after exec). The kernel's ru_maxrss of a
# child starts from the memory of the process it was forked from, here pytest with torch loaded,
# so neither RUSAGE_CHILDREN nor os.wait4 tells what a case itself used.
_WRAPPER = """
import atexit, os, sys
def _peak():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                with open(os.environ["NETSIZE_FUZZ_RSS_FILE"], "w") as out:
                    out.write(line.split()[1])
atexit.register(_peak)
from netsize.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run_subprocess(argv: Sequence[str], cwd: str | None = None, timeout_seconds: float | None = None) -> Outcome:
    """``netsize ARGV`` as a process under CPU and memory limits, with its own peak RSS; it fails
    after ``timeout_seconds`` of wall time (default three times the CPU limit), as a process
    blocked on a read uses no CPU."""
    limit = timeout_seconds or SUBPROCESS_CPU_SECONDS * 3
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        rss_file = os.path.join(tmp, "rss")
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRAPPER, *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=_limit,
            cwd=cwd,
            env={**os.environ, "COLUMNS": "120", "PYTHONWARNINGS": "ignore", "NETSIZE_FUZZ_RSS_FILE": rss_file},
        )
        try:
            stdout, stderr = proc.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
            raise AssertionError(f"netsize {' '.join(argv)!r} did not finish in {limit} s") from None
        seconds = time.perf_counter() - start
        try:
            with open(rss_file) as f:
                rss = int(f.read()) * 1024  # KiB
        except (OSError, ValueError):
            rss = 0  # killed before its exit handlers ran: the limits above stopped it
    return Outcome(list(argv), proc.returncode, stdout.decode("utf-8", "replace"),
                   stderr.decode("utf-8", "replace"), seconds, rss)


def check(outcome: Outcome, names: Sequence[str]) -> str:
    """Assert the rule; ``names`` are the strings one of which an error's first line must contain
    (the file, the option, the target). Returns ``"ok"`` or ``"error"``."""
    where = f"netsize {' '.join(repr(a) if ' ' in a else a for a in outcome.argv)}"
    assert "Traceback (most recent call last)" not in outcome.stderr, f"{where}: traceback\n{outcome.stderr}"
    if outcome.status == 0:
        assert outcome.stdout.strip(), f"{where}: exit 0 with nothing on stdout"
        return "ok"
    assert outcome.status == 2, f"{where}: exit {outcome.status}\n{outcome.stderr[-2000:]}"
    first = outcome.stderr.split("\n", 1)[0]
    assert first.startswith("netsize: error: "), f"{where}: first stderr line {first!r}"
    message = first.removeprefix("netsize: error: ")
    assert len(message) > 10, f"{where}: an error line that says too little: {first!r}"
    assert not message.rstrip().endswith(":"), f"{where}: a first line that does not stand on its own: {first!r}"
    names_layer = _LAYER_ERROR.match(message) is not None  # "conv1 (Conv2d, input 1x3x8x8): ..."
    assert names_layer or any(n and n in first for n in names), (
        f"{where}: the error names none of {list(names)} and no layer: {first!r}"
    )
    return "error"


_LAYER_ERROR = re.compile(r"[\w.:-]+ \(\w+, input [\dx]+")


# --- values a mutation puts in ------------------------------------------------------------------

NASTY_SCALARS: list[Any] = [
    0, -1, 1, 2, 3, 7, 10**6, 2**62, 2**62 + 1, 10**30, -(10**18), 1.5, 0.0, -0.5, 1e308,
    float("nan"), float("inf"), float("-inf"), True, False, None, "", "x", "ten", "3x3", "relu",
    "$a ** $a ** $a", "${10 ** 10 ** 8}", "${0 ** -1}", "${2.0 ** 10000}", "${ceil(1e400)}",
    "${int(1e400 - 1e400)}", "${10 ** 5000}", "${10 ** 18}", "$undefined", "${1/0}", "${(-8) ** 0.5}",
    "$hidden * 2", "${max(1, 2)}", "${round(2.5)}", "$i", "${" + "(" * 200 + "1" + ")" * 200 + "}",
    "\x1b[31mred\x1b[0m", "a.b", "a:b", "é", "9" * 5000, [], [0], [3, 3], [[1]], {}, {"type": "relu"},
    [1] * 40,
]

#: Text snippets a raw-text mutation inserts into a YAML file.
YAML_SNIPPETS: list[str] = [
    "&a [*a]", "*undefined", "!!python/name:os.system", "!!python/object/apply:os.system ['true']",
    "!custom 3", "!!binary aGVsbG8=", "!!set {a, b}", "<<: {type: relu}", "\x1b[2J", "\x00", "\x07",
    "\t", "{", "}", "[", "]", ":", "- ", "? ", "|", ">", "%YAML 1.1\n---\n", "---\n", "...\n", "#", "'", '"',
    "1" + "0" * 5000, "[" * 200 + "]" * 200, "{a: " * 100 + "1" + "}" * 100, "\ufeff", "\u202e",
    "&x [1,2,3,4,5,6,7,8,9,10]\nb: &y [*x,*x,*x,*x,*x,*x,*x,*x,*x,*x]\nc: &z [*y,*y,*y,*y,*y,*y,*y,*y,*y,*y]\n"
    "d: [*z,*z,*z,*z,*z,*z,*z,*z,*z,*z]\n",
]


def paths(tree: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path (keys and indexes) to a value inside nested dicts and lists."""
    out = [prefix]
    if isinstance(tree, dict):
        for k, v in tree.items():
            out += paths(v, (*prefix, k))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            out += paths(v, (*prefix, i))
    return out


def replace_at(tree: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A copy of ``tree`` with the value at ``path`` replaced (``...`` deletes it)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(tree, dict):
        out = dict(tree)
        if not rest and value is ...:
            del out[head]
        else:
            out[head] = replace_at(tree[head], rest, value)
        return out
    out_list = list(tree)
    if not rest and value is ...:
        del out_list[head]
    else:
        out_list[head] = replace_at(tree[head], rest, value)
    return out_list


# --- the zoo's networks written as specs ----------------------------------------------------------


def network_as_spec(network: Any) -> dict[str, Any]:
    """A spec (Python data) that describes ``network`` node by node: its layers with every field
    that differs from the default, its inputs, outputs, frozen and tied layers."""
    from netsize.layers import layer_names

    spec_name: dict[type, str] = {}
    for name, cls in sorted(layer_names().items(), key=lambda kv: len(kv[0])):
        spec_name.setdefault(cls, name)

    def local(ref: str) -> str:
        base, sep, port = ref.partition(":")
        return base.replace(".", "__") + (f":{port}" if sep else "")

    layers = []
    for node in network.nodes:
        body: dict[str, Any] = {"type": spec_name[type(node.layer)]}
        for f in dataclasses.fields(node.layer):
            if not f.init or f.name.startswith("_"):
                continue
            value = getattr(node.layer, f.name)
            if f.default is not dataclasses.MISSING and value == f.default:
                continue
            body[f.name] = _plain(value)
        body["from"] = [local(r) for r in node.inputs]
        if not node.trainable:
            body["trainable"] = False
        if node.tied_to:
            body["tied_to"] = local(node.tied_to)
        layers.append({local(node.name): body})
    spec: dict[str, Any] = {
        "name": network.name,
        "inputs": {k: list(v) for k, v in network.inputs.items()},
        "layout": network.layout,
        "layers": layers,
    }
    if network.outputs:
        spec["outputs"] = [local(o) for o in network.outputs]
    return spec


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value
