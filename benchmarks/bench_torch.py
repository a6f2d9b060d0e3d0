"""netsize against torchinfo, fvcore, ptflops and thop on the same PyTorch models.

    python benchmarks/bench_torch.py --first    # first call in fresh processes: netsize vs torchinfo
    python benchmarks/bench_torch.py --steady   # steady state over 16 models, batch 1 (--batch-size 32)
    python benchmarks/bench_torch.py            # table of all tools and models, then LLaMA-2-7B
    python benchmarks/bench_torch.py --quick    # one repeat

``--first``: the way a command-line user meets the tools. For each repeat, a fresh Python process
builds the model (real weights on CPU, as a user holds it), then times importing the tool and its
first summary call; the median over ``--repeat`` processes (default 5) of each tool, and their
ratio, are printed, with the machine's load average (the CPU may be shared).
``--steady``: one process per model; after one warm-up call each, netsize and torchinfo alternate
``--repeat`` times and the medians and their ratio are printed, then the median and the worst
ratio over the models. Models: tests/torch_models.py's rebuilds of torchvision (AlexNet, VGG,
ResNet, MobileNetV2, ViT-B/16) and transformers' GPT-2, BERT, DistilBERT, OPT-125M, MobileBERT and
a small LLaMA, built from their configs (128 tokens).

Each (tool, model) runs in a fresh subprocess so that peak RSS is the tool's own: the model is
built on CPU with real weights (as a user holds it), RSS is read, the tool runs, and the peak RSS
growth and wall time of the tool call are reported (best of ``--repeat`` calls for time).
"MACs match" compares the tool's multiply-adds with FlopCounterMode FLOPs / 2 measured on the
meta device (the path where FlopCounterMode sees attention). The models are a ResNet-50 and a
ViT-B/16 rebuilt in tests/torch_models.py (torchvision's architectures) and GPT-2 (124M) from its
transformers config, at batch 1 by default (224x224 images, 128 tokens; ``--batch-size N``). Last, LLaMA-2-7B built from
its config on the meta device is analysed by netsize: time and peak RSS of the whole process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ("netsize", "torchinfo", "fvcore", "ptflops", "thop")
MODELS = ("resnet50", "vit_b_16", "gpt2")
STEADY_MODELS = (
    "alexnet", "vgg11", "vgg16_bn", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
    "mobilenet_v2", "vit_b_16", "gpt2", "bert", "distilbert", "opt", "mobilebert", "llama_small",
)  # fmt: skip
TEXT_MODELS = {"gpt2", "bert", "distilbert", "opt", "mobilebert", "llama_small"}

# Builds a model by name inside a child process (``build(name)``), shared by every mode.
BUILD = r"""
import sys
sys.path.insert(0, {tests!r})
import torch
if {threads!r}:
    torch.set_num_threads({threads!r})

def build(name, device=None):
    if name in {text!r}:
        import transformers as tf
        cfg, cls = {{
            "gpt2": (lambda: tf.GPT2Config(), "GPT2LMHeadModel"),
            "bert": (lambda: tf.BertConfig(), "BertModel"),
            "distilbert": (lambda: tf.DistilBertConfig(), "DistilBertModel"),
            "opt": (lambda: tf.OPTConfig(), "OPTForCausalLM"),
            "mobilebert": (lambda: tf.MobileBertConfig(), "MobileBertModel"),
            "llama_small": (lambda: tf.LlamaConfig(hidden_size=512, intermediate_size=1376, num_hidden_layers=8,
                                                   num_attention_heads=8, num_key_value_heads=8,
                                                   vocab_size=32000), "LlamaForCausalLM"),
        }}[name]
        with torch.device(device or "cpu"):
            return getattr(tf, cls)(cfg()).eval()
    from torch_models import build as tv
    with torch.device(device or "cpu"):
        return tv(name).eval()

def shape_of(name, batch):
    return ((batch, 128), torch.long) if name in {text!r} else ((batch, 3, 224, 224), torch.float32)
"""

FIRST = r"""
import json, os, time, warnings
warnings.filterwarnings("ignore")
tool, name = {tool!r}, {name!r}
model = build(name)
shape, dtype = shape_of(name, 1)
c0 = time.process_time()
t0 = time.perf_counter()
if tool == "netsize":
    from netsize.frontends.torch import summary
    t1 = time.perf_counter()
    macs = summary(model, input_size=shape, dtypes=[dtype]).totals.multiply_adds
else:
    import torchinfo
    t1 = time.perf_counter()
    macs = torchinfo.summary(model, input_size=shape, dtypes=[dtype], verbose=0, device="cpu").total_mult_adds
t2 = time.perf_counter()
c2 = time.process_time()
heavy = [m for m in ("torch._dynamo", "sympy") if m in sys.modules]
print(json.dumps({{"total": t2 - t0, "cpu": c2 - c0, "call": t2 - t1, "macs": macs, "heavy": heavy}}))
"""

STEADY = r"""
import json, statistics, time, warnings
warnings.filterwarnings("ignore")
import torchinfo
from netsize.frontends.torch import summary
name, batch, repeat = {name!r}, {batch}, {repeat}
model = build(name)
shape, dtype = shape_of(name, batch)
tools = {{
    "netsize": lambda: summary(model, input_size=shape, dtypes=[dtype]),
    "torchinfo": lambda: torchinfo.summary(model, input_size=shape, dtypes=[dtype], verbose=0, device="cpu"),
}}
times = {{k: [] for k in tools}}
cpu = {{k: [] for k in tools}}
with torch.no_grad():
    for f in tools.values():
        f()
    for _ in range(repeat):
        for k, f in tools.items():
            c, t = time.process_time(), time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
            cpu[k].append(time.process_time() - c)
print(json.dumps({{**{{k: statistics.median(v) for k, v in times.items()}},
                  **{{k + "_cpu": statistics.median(v) for k, v in cpu.items()}}}}))
"""

CHILD = r"""
import gc, json, resource, sys, time, warnings
warnings.filterwarnings("ignore")
sys.path.insert(0, {tests!r})
import torch
tool, name, repeat, batch = {tool!r}, {name!r}, {repeat}, {batch}

def build(device=None):
    if name == "gpt2":
        from transformers import GPT2Config, GPT2LMHeadModel
        cfg = GPT2Config()
        if device == "meta":
            with torch.device("meta"):
                return GPT2LMHeadModel(cfg).eval()
        return GPT2LMHeadModel(cfg).eval()
    from torch_models import build as tv
    if device == "meta":
        with torch.device("meta"):
            return tv(name).eval()
    return tv(name).eval()

shape, dtype = ((batch, 128), torch.long) if name == "gpt2" else ((batch, 3, 224, 224), torch.float32)

def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) * 1024
    return 0

if tool == "flopcounter":
    from torch.utils.flop_counter import FlopCounterMode
    m = build("meta")
    c = FlopCounterMode(display=False)
    with c, torch.no_grad():
        m(torch.zeros(shape, dtype=dtype, device="meta"))
    print(json.dumps({{"macs": c.get_total_flops() // 2}}))
    sys.exit(0)

torch.manual_seed(0)
model = build()

def run():
    if tool == "netsize":
        from netsize.frontends.torch import summary
        return summary(model, input_size=shape, dtypes=[dtype]).totals.multiply_adds
    if tool == "torchinfo":
        import torchinfo
        return torchinfo.summary(model, input_size=shape, dtypes=[dtype], verbose=0, device="cpu").total_mult_adds
    if tool == "fvcore":
        from fvcore.nn import FlopCountAnalysis
        a = FlopCountAnalysis(model, (torch.zeros(shape, dtype=dtype),))
        a.unsupported_ops_warnings(False); a.uncalled_modules_warnings(False)
        return int(a.total())
    if tool == "ptflops":
        from ptflops import get_model_complexity_info
        macs, _ = get_model_complexity_info(
            model, tuple(shape[1:]), as_strings=False, print_per_layer_stat=False, verbose=False,
            input_constructor=lambda s: (
                {{"input_ids": torch.zeros(shape, dtype=dtype)}} if name == "gpt2" else torch.zeros(shape)
            ),
        )
        return int(macs)
    if tool == "thop":
        from thop import profile
        macs, _ = profile(model, inputs=(torch.zeros(shape, dtype=dtype),), verbose=False)
        return int(macs)

gc.collect()
base = rss()
times, macs = [], None
with torch.no_grad():
    for _ in range(repeat):
        t = time.perf_counter()
        macs = run()
        times.append(time.perf_counter() - t)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({{"time": min(times), "peak": max(0, peak - base), "macs": macs}}))
"""

LLAMA = r"""
import resource, time, json, torch
t0 = time.perf_counter()
from transformers import LlamaConfig, LlamaForCausalLM
from netsize.frontends.torch import summary
cfg = LlamaConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                  num_key_value_heads=32, vocab_size=32000, max_position_embeddings=4096)
t1 = time.perf_counter()
with torch.device("meta"):
    model = LlamaForCausalLM(cfg)
t2 = time.perf_counter()
s = summary(model, input_size=(1, 2048), dtypes=[torch.long])
t3 = time.perf_counter()
print(json.dumps({"build": t2 - t1, "summary": t3 - t2, "total": t3 - t0, "params": s.totals.params,
                  "macs": s.totals.multiply_adds, "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def child(code: str, timeout: int = 600) -> dict:
    # Users run with compiled bytecode cached: let the children write and use it.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    try:
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timeout {timeout}s"}
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode or not lines:
        err = (out.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": err[:80]}
    return json.loads(lines[-1])


def load() -> str:
    return "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs"


def first_calls(tests: str, models: list[str], args: argparse.Namespace) -> None:
    """Import + first summary call, fresh process per call, netsize and torchinfo interleaved."""
    prelude = BUILD.format(tests=tests, text=sorted(TEXT_MODELS), threads=args.threads)
    repeat = args.repeat
    print(f"first call in a fresh process, batch 1, median of {repeat} processes, threads {args.threads or 'torch'}")
    print(
        f"{'model':<14} {'netsize':>9} {'torchinfo':>10} {'ratio':>7} {'CPU ratio':>10}  call only, heavy"
    )
    for name in models:
        runs: dict[str, list[dict]] = {"netsize": [], "torchinfo": []}
        for _ in range(repeat):
            for tool in runs:
                r = child(prelude + FIRST.format(tool=tool, name=name))
                if "error" in r:
                    raise SystemExit(f"{tool} on {name}: {r['error']}")
                runs[tool].append(r)
        ours = statistics.median(r["total"] for r in runs["netsize"])
        theirs = statistics.median(r["total"] for r in runs["torchinfo"])
        call = statistics.median(r["call"] for r in runs["netsize"])
        cpu = statistics.median(r["cpu"] for r in runs["netsize"]) / statistics.median(
            r["cpu"] for r in runs["torchinfo"]
        )
        heavy = sorted({h for r in runs["netsize"] for h in r["heavy"]}) or "none"
        print(f"{name:<14} {ours * 1000:>7.0f}ms {theirs * 1000:>8.0f}ms {ours / theirs:>6.2f}x {cpu:>9.2f}x  "
              f"{call * 1000:.0f} ms, {heavy}")  # fmt: skip
    print(f"({load()}; ratio = netsize / torchinfo, target <= 0.5x; times include importing the tool)")


def steady(tests: str, models: list[str], args: argparse.Namespace) -> None:
    prelude = BUILD.format(tests=tests, text=sorted(TEXT_MODELS), threads=args.threads)
    repeat = max(args.repeat, 3)
    print(f"steady state, batch {args.batch_size}, median of {repeat} calls after a warm-up, "
          f"threads {args.threads or 'torch'} ({load()})")  # fmt: skip
    print(f"{'model':<14} {'netsize':>9} {'torchinfo':>10} {'speed-up':>9} {'CPU speed-up':>13}")
    ratios = []
    for name in models:
        r = child(prelude + STEADY.format(name=name, batch=args.batch_size, repeat=repeat))
        if "error" in r:
            print(f"{name:<14} error: {r['error']}")
            continue
        ratios.append(r["torchinfo"] / r["netsize"])
        cpu_ratio = r["torchinfo_cpu"] / max(r["netsize_cpu"], 1e-9)
        print(f"{name:<14} {r['netsize'] * 1000:>7.0f}ms {r['torchinfo'] * 1000:>8.0f}ms {ratios[-1]:>8.1f}x "
              f"{cpu_ratio:>12.1f}x")  # fmt: skip
    if ratios:
        print(f"median speed-up {statistics.median(ratios):.1f}x, worst {min(ratios):.1f}x over {len(ratios)} models "
              f"({load()})")  # fmt: skip


def mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--batch-size",
        type=int,
        default=1,
        help="batch of the input (the real forward of the other tools grows with it; netsize's does not)",
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--first", action="store_true", help="first call in fresh processes (netsize, torchinfo)")
    parser.add_argument("--steady", action="store_true", help="steady state over 16 models (netsize, torchinfo)")
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads in the children (0: torch's)")
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--tools", nargs="*", default=list(TOOLS))
    args = parser.parse_args()
    tests = str(ROOT / "tests")
    if args.first:
        first_calls(tests, args.models if args.models != list(MODELS) else ["resnet50", "vit_b_16"], args)
        return
    if args.steady:
        steady(tests, args.models if args.models != list(MODELS) else list(STEADY_MODELS), args)
        return
    repeat = 1 if args.quick else args.repeat
    rows = []
    for name in args.models:
        ref = child(CHILD.format(tests=tests, tool="flopcounter", name=name, repeat=1, batch=args.batch_size)).get(
            "macs"
        )
        results = {
            t: child(CHILD.format(tests=tests, tool=t, name=name, repeat=repeat, batch=args.batch_size))
            for t in args.tools
        }
        base = results.get("netsize", {}).get("time")
        for tool, r in results.items():
            if "error" in r:
                rows.append((name, tool, "error", "", "", r["error"]))
                continue
            ratio = f"{r['time'] / base:.1f}x" if base else ""
            match = "yes" if r["macs"] == ref else f"no ({r['macs'] / ref:.3f} of {ref:,})"
            rows.append((name, tool, f"{r['time'] * 1000:,.0f} ms", ratio, mib(r["peak"]), match))
    header = ("model", "tool", "wall time", "vs netsize", "peak RSS growth", "MACs = FlopCounterMode/2")
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    fmt = " | ".join(f"{{:{w}}}" for w in widths)
    print(fmt.format(*header))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(fmt.format(*row))
    r = child(LLAMA)
    if "error" in r:
        print("LLaMA-2-7B on meta: error", r["error"])
    else:
        print(
            f"\nLLaMA-2-7B (meta device, 1x2048 tokens): netsize summary {r['summary']:.2f} s "
            f"(model build {r['build']:.2f} s, whole script incl. imports {r['total']:.2f} s), "
            f"peak RSS of the process {mib(r['peak'])}, params {r['params']:,}, MACs {r['macs']:,}"
        )


if __name__ == "__main__":
    main()
