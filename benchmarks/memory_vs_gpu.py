"""Predicted vs measured GPU memory for every case of gpu_memory_h100.json and
gpu_memory_h100_transformers.json (ViT-B/16, BERT-base; issue 12).

    python benchmarks/memory_vs_gpu.py [path/to/cases.json]

Two methods, each case printed for both: "torch" observes the torch rebuilds
(tests/torch_models.py) and GPT2LMHeadModel (transformers, eager attention) on the meta device;
"network" walks the core networks a user gets from the zoo (vgg16, resnet50) or from the GPT-2
config (tests/data/reference/transformers_params.json, network_from_config, eager attention).
No GPU is used.
"own" subtracts the measurement's `leftover` (weights_bytes - params*4: memory of the process
that is not this model's, see the reference README); "abs" compares with the raw number.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from gpu_reference_cases import PREDICTORS, has_network, leftover, load_all_cases, load_cases  # noqa: E402

MiB = 2**20


def main(path: str | Path | None = None) -> int:
    cases = load_all_cases() if path is None else load_cases(Path(path))
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
        for method, fn in PREDICTORS.items():
            if method == "network" and not has_network(case):
                continue
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
