"""netsize against torchinfo, fvcore, ptflops and thop on the same PyTorch models.

    python benchmarks/bench_torch.py            # table of all tools and models, then LLaMA-2-7B
    python benchmarks/bench_torch.py --quick    # one repeat

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
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ("netsize", "torchinfo", "fvcore", "ptflops", "thop")
MODELS = ("resnet50", "vit_b_16", "gpt2")

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
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout {timeout}s"}
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode or not lines:
        err = (out.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": err[:80]}
    return json.loads(lines[-1])


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
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--tools", nargs="*", default=list(TOOLS))
    args = parser.parse_args()
    repeat = 1 if args.quick else args.repeat
    tests = str(ROOT / "tests")
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
