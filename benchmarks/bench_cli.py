"""Time `netsize summary NAME` (a fresh process, as a user runs it) against torchinfo on the
same PyTorch models, and print the ratio.

    python benchmarks/bench_cli.py [--repeat 5] [NAME ...]
    python benchmarks/bench_cli.py --startup [--repeat 20]

`--startup` times whole processes against the floors docs/benchmarks.md states: `netsize summary
resnet50` against `python -c "import yaml; from rich.console import Console; from rich.table
import Table"` (the libraries it cannot do without; target: within 1.5x) and `netsize --help`
against `python -c pass` (target: within 3x). Each command runs --repeat times, interleaved so
that load from other processes hits all of them alike; min and median are printed, and the
ratios of both.

    python benchmarks/bench_cli.py --torch-process [--repeat 7]

``--torch-process``: `netsize summary bench_models:resnet50 --input-size 1,3,224,224` as a
whole process (Python start-up, importing torch, building the model with its real weights,
the summary and its table) against `python -c "import torch, bench_models; bench_models.resnet50()"`,
the least any tool that takes a model from a callable can cost; medians of wall time and of the
child processes' CPU time (the machine may be shared).

netsize is timed for every zoo model (or the NAMEs given). torchinfo needs `pip install
torchinfo` and torch; the PyTorch models it summarises are tests/torch_models.py's rebuilds of
torchvision (netsize does not depend on torchvision) and the seed's AlexNet written out below.
torchinfo is timed in-process (import excluded, building the nn.Module included), which favours
it; netsize's time includes starting Python.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def time_netsize(name: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "netsize", "summary", name, "--format", "json"],
                              capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"netsize summary {name} failed: {proc.stderr}")
    return statistics.median(times)


def time_netsize_in_process(name: str, repeat: int) -> float:
    from netsize import analyze, zoo

    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        analyze(zoo.get(name).build())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def torch_models():  # zoo name -> (module factory, input size with batch)
    """The same architectures in PyTorch: tests/torch_models.py's rebuilds of torchvision for the
    torchvision-derived zoo entries, and the seed's AlexNet (227x227, no groups) written out."""
    import torch.nn as nn

    sys.path.insert(0, str(ROOT / "tests"))
    import torch_models as rebuilds

    def alexnet_seed():
        return nn.Sequential(
            nn.Conv2d(3, 96, 11, 4), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(), nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2), nn.Flatten(),
            nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(),
            nn.Linear(4096, 1000),
        )

    models = {"alexnet": (alexnet_seed, (1, 3, 227, 227))}
    zoo_to_rebuild = {"alexnet-torchvision": "alexnet"}
    zoo_to_rebuild.update({n: n for n in rebuilds.NAMES if n.startswith(("vgg", "resnet", "mobilenet"))})
    for zoo_name, rebuild in zoo_to_rebuild.items():
        models[zoo_name] = (lambda r=rebuild: rebuilds.build(r), (1, 3, 224, 224))
    return models


def time_torchinfo(name: str, repeat: int) -> float | None:
    try:
        import torchinfo
    except ImportError:
        return None
    models = torch_models()
    if name not in models:
        return None
    factory, size = models[name]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        torchinfo.summary(factory(), input_size=size, verbose=0)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


STARTUP_COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "python -c 'import yaml, rich Console, Table'": [
        sys.executable, "-c", "import yaml; from rich.console import Console; from rich.table import Table"],
    "netsize --help": [sys.executable, "-c", "import sys; from netsize.cli import main; sys.exit(main())", "--help"],
    "netsize summary resnet50": [sys.executable, "-c", "import sys; from netsize.cli import main; sys.exit(main())",
                                 "summary", "resnet50"],
}


def _in_terminal(cmd: list[str]) -> list[str]:
    """``cmd`` with a pseudo-terminal as its stdout (util-linux ``script``), where netsize draws
    with rich as a user at a terminal sees it; piped, it writes plain text without rich."""
    import shlex

    return ["script", "-qec", f"COLUMNS=120 {shlex.join(cmd)}", "/dev/null"]


if shutil.which("script"):
    STARTUP_COMMANDS["floor in a terminal"] = _in_terminal(STARTUP_COMMANDS[
        "python -c 'import yaml, rich Console, Table'"])
    STARTUP_COMMANDS["netsize summary resnet50 in a terminal"] = _in_terminal(STARTUP_COMMANDS[
        "netsize summary resnet50"])


def time_startup(repeat: int) -> dict[str, list[float]]:
    """Seconds of each whole process, ``repeat`` rounds interleaved (stdout to a pipe, as in `| less`).

    Bytecode is compiled first and may be written, as in a user's installation: with
    PYTHONDONTWRITEBYTECODE set, every run would compile netsize from source (about 30 ms)."""
    import compileall
    import os

    import netsize

    compileall.compile_dir(str(Path(netsize.__file__).parent), quiet=1)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    times: dict[str, list[float]] = {name: [] for name in STARTUP_COMMANDS}
    for _ in range(repeat):
        for name, cmd in STARTUP_COMMANDS.items():
            start = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, env=env)
            times[name].append(time.perf_counter() - start)
            if proc.returncode != 0:
                raise SystemExit(f"{name} failed: {proc.stderr.decode()}")
    return times


def print_startup(repeat: int) -> None:
    times = time_startup(repeat)
    print(f"{'command':<48} {'min s':>8} {'median s':>9}")
    for name, xs in times.items():
        print(f"{name:<48} {min(xs):>8.3f} {statistics.median(xs):>9.3f}")
    floor = times["python -c 'import yaml, rich Console, Table'"]
    bare = times["python -c pass"]
    pairs = [("netsize summary resnet50", floor, 1.5), ("netsize --help", bare, 3.0)]
    if "floor in a terminal" in times:
        pairs.append(("netsize summary resnet50 in a terminal", times["floor in a terminal"], 1.5))
    for name, base, target in pairs:
        xs = times[name]
        print(f"{name}: {min(xs) / min(base):.2f}x by min, {statistics.median(xs) / statistics.median(base):.2f}x "
              f"by median (target {target}x)")
    print(f"\n{repeat} interleaved rounds; the console-script wrapper is replaced by `python -c` so that both "
          "sides start the same interpreter. Piped (the first rows) netsize writes plain text without importing "
          "rich; in a terminal (util-linux `script` gives it one, and the floor too) it draws with rich.")
MODULE = """
import sys
sys.path.insert(0, {tests!r})
from torch_models import build


def resnet50():
    return build("resnet50").eval()
"""


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one child process."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr[-500:]}")
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def torch_process(repeat: int) -> None:
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "bench_models.py").write_text(MODULE.format(tests=str(ROOT / "tests")))
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (folder, env.get("PYTHONPATH", "")) if p)
        commands = {
            "netsize summary (table)": [
                sys.executable, "-m", "netsize", "summary", "bench_models:resnet50", "--input-size", "1,3,224,224"
            ],
            "netsize summary --format json": [
                sys.executable, "-m", "netsize", "summary", "bench_models:resnet50", "--input-size", "1,3,224,224",
                "--format", "json",
            ],
            "import torch; build()": [
                sys.executable, "-c", "import torch, bench_models; bench_models.resnet50()"
            ],
        }  # fmt: skip
        for cmd in commands.values():  # warm the bytecode caches
            timed(cmd, env)
        results: dict[str, list[tuple[float, float]]] = {k: [] for k in commands}
        for _ in range(repeat):
            for name, cmd in commands.items():
                results[name].append(timed(cmd, env))
    base_wall = statistics.median(w for w, _ in results["import torch; build()"])
    base_cpu = statistics.median(c for _, c in results["import torch; build()"])
    print(f"ResNet-50 as a whole process, median of {repeat} (load average {os.getloadavg()[0]:.1f})")
    for name, runs in results.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"{name:<32} wall {wall:6.2f} s ({wall / base_wall:.2f}x)   CPU {cpu:6.2f} s ({cpu / base_cpu:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--startup", action="store_true", help="time whole processes against their floors")
    parser.add_argument("--torch-process", action="store_true", help="ResNet-50 from a callable, whole process")
    args = parser.parse_args()
    if args.startup:
        print_startup(max(args.repeat, 10))
        return
    if args.torch_process:
        torch_process(args.repeat)
        return
    from netsize import zoo

    names = args.names or zoo.names()
    print(f"{'model':<22} {'netsize CLI':>12} {'netsize API':>12} {'torchinfo':>10} {'vs CLI':>8} {'vs API':>8}")
    for name in names:
        cli = time_netsize(name, args.repeat)
        api = time_netsize_in_process(name, args.repeat)
        theirs = time_torchinfo(name, args.repeat)
        shown = f"{theirs:.3f}" if theirs else "n/a"
        vs_cli = f"{theirs / cli:.1f}x" if theirs else "n/a"
        vs_api = f"{theirs / api:.0f}x" if theirs else "n/a"
        print(f"{name:<22} {cli:>12.3f} {api:>12.4f} {shown:>10} {vs_cli:>8} {vs_api:>8}")
    print("\nseconds, median; CLI = a fresh `netsize summary` process (Python start-up included);"
          " API = netsize.analyze in this process; torchinfo in this process, building the model included.")
    try:
        import torchinfo  # noqa: F401
    except ImportError:
        print("\ntorchinfo is not installed (pip install torchinfo): only netsize was timed.")


if __name__ == "__main__":
    main()
