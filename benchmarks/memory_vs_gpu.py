"""Predicted vs measured GPU memory for every case of gpu_memory_h100.json.

    python benchmarks/memory_vs_gpu.py [path/to/gpu_memory_h100.json]

Two methods, each case printed for both: "torch" observes the torch rebuilds
(tests/torch_models.py) and GPT2LMHeadModel (transformers, eager attention) on the meta device;
"network" walks the core networks a user gets from the zoo (vgg16, resnet50) or from the GPT-2
config (../shared/reference/transformers_params.json, network_from_config, eager attention).
No GPU is used.
"own" subtracts the measurement's `leftover` (weights_bytes - params*4: memory of the process
that is not this model's, see the reference README); "abs" compares with the raw number.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
DEFAULT = ROOT.parent / "shared" / "reference" / "gpu_memory_h100.json"

MiB = 2**20


def predict(case: dict):
    import torch

    from netsize.memory import estimate

    name = case["name"]
    bs = int(re.search(r"-bs(\d+)", name).group(1))
    amp = "bfloat16" if case["amp"] else None
    opt = "adam" if case["optimizer"] == "adam" else "sgd_momentum"
    if name.startswith("gpt2"):
        import transformers

        seq = int(re.search(r"-seq(\d+)", name).group(1))
        cfg = transformers.GPT2Config()
        cfg._attn_implementation = "eager"
        with torch.device("meta"):
            model = transformers.GPT2LMHeadModel(cfg)
        return estimate(
            model, bs, optimizer=opt, autocast=amp, seq_len=seq, loss_fn=lambda out: out.logits.float().mean()
        )
    import torch_models

    with torch.device("meta"):
        model = torch_models.build(name.split("-")[0])
    return estimate(model, bs, optimizer=opt, autocast=amp, input_size=(3, 224, 224))


def predict_network(case: dict):
    import netsize.zoo
    from netsize.frontends.hf_config import network_from_config
    from netsize.memory import estimate

    name = case["name"]
    bs = int(re.search(r"-bs(\d+)", name).group(1))
    amp = "bfloat16" if case["amp"] else None
    opt = "adam" if case["optimizer"] == "adam" else "sgd_momentum"
    if name.startswith("gpt2"):
        cfg = json.loads((DEFAULT.parent / "transformers_params.json").read_text())["gpt2"]["config"]
        net = network_from_config(cfg, seq_len=int(re.search(r"-seq(\d+)", name).group(1)))
    else:
        net = netsize.zoo.get(name.split("-")[0]).build()
    return estimate(net, bs, optimizer=opt, autocast=amp)


def leftover(case: dict) -> int:
    return case["weights_bytes"] - case["params"] * 4


def main(path: str | Path = DEFAULT) -> int:
    cases = json.loads(Path(path).read_text())
    head = (
        f"{'case':24} {'amp':5} {'opt':4} {'method':7} | {'train step2 pred':>15} {'measured':>10} {'own':>10} "
        f"{'err own':>8} {'err abs':>8} | {'infer pred':>10} {'measured':>10} {'own':>10} {'err own':>8} "
        f"{'err abs':>8}"
    )
    print("MiB; own = measured - leftover (leftover = weights_bytes - params*4)")
    print(head)
    print("-" * len(head))
    worst = {"torch": 0.0, "network": 0.0}
    for case in cases:
        for method, fn in (("torch", predict), ("network", predict_network)):
            t = time.time()
            r = fn(case)
            lo = leftover(case)
            mt, mi = case["train_step2"]["peak"], case["inference_peak_bytes"]
            et, eta = (r.peak_training_bytes - (mt - lo)) / (mt - lo), (r.peak_training_bytes - mt) / mt
            ei, eia = (r.peak_inference_bytes - (mi - lo)) / (mi - lo), (r.peak_inference_bytes - mi) / mi
            worst[method] = max(worst[method], abs(et), abs(eta))
            print(
                f"{case['name']:24} {'bf16' if case['amp'] else 'fp32':5} {case['optimizer']:4} {method:7} | "
                f"{r.peak_training_bytes / MiB:15,.0f} {mt / MiB:10,.0f} {(mt - lo) / MiB:10,.0f} {et:+8.1%} "
                f"{eta:+8.1%} | {r.peak_inference_bytes / MiB:10,.0f} {mi / MiB:10,.0f} {(mi - lo) / MiB:10,.0f} "
                f"{ei:+8.1%} {eia:+8.1%}  ({time.time() - t:.1f}s)",
                flush=True,
            )
    for method, w in worst.items():
        print(f"largest training-peak error, {method} method: {w:.1%} (bound 10%)")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
