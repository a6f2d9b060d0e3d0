"""Time `netsize summary NAME` (a fresh process, as a user runs it) against torchinfo on the
same PyTorch models, and print the ratio.

    python benchmarks/bench_cli.py [--repeat 5] [NAME ...]

netsize is timed for every zoo model (or the NAMEs given). torchinfo needs `pip install
torchinfo` and torch; the PyTorch models it summarises are written out below (AlexNet, VGG-16),
since netsize does not depend on torchvision. torchinfo is timed in-process (import excluded,
building the nn.Module included),
which favours it; netsize's time includes starting Python.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


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


def torch_models():  # name -> (module factory, input size with batch)
    import torch.nn as nn

    def alexnet():
        return nn.Sequential(
            nn.Conv2d(3, 96, 11, 4), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(), nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2), nn.Flatten(),
            nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(),
            nn.Linear(4096, 1000),
        )

    def vgg16():
        layers, c = [], 3
        for v in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"):
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU()]
                c = v
        return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(7), nn.Flatten(), nn.Linear(25088, 4096), nn.ReLU(),
                             nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 1000))

    return {"alexnet": (alexnet, (1, 3, 227, 227)), "vgg16": (vgg16, (1, 3, 224, 224))}


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from netsize import zoo

    names = args.names or zoo.names()
    print(f"{'model':<24} {'netsize CLI (s)':>16} {'torchinfo (s)':>14} {'torchinfo / netsize':>20}")
    for name in names:
        ours = time_netsize(name, args.repeat)
        theirs = time_torchinfo(name, args.repeat)
        ratio = f"{theirs / ours:.1f}x" if theirs else "n/a"
        shown = f"{theirs:.3f}" if theirs else "n/a"
        print(f"{name:<24} {ours:>16.3f} {shown:>14} {ratio:>20}")
    try:
        import torchinfo  # noqa: F401
    except ImportError:
        print("\ntorchinfo is not installed (pip install torchinfo): only netsize was timed.")


if __name__ == "__main__":
    main()
