"""How each case of tests/data/reference/gpu_memory_h100.json is predicted, in one place for the
test (test_memory_gpu_reference.py) and the benchmark (benchmarks/memory_vs_gpu.py).

Two methods: ``torch`` observes the torch rebuilds (torch_models.py: vgg16, resnet50,
vit_b_16) and transformers' GPT2LMHeadModel / BertModel with eager attention on the meta
device; ``network`` walks the core network a user gets from the zoo (vgg16, resnet50) or from
the GPT-2 / BERT config (network_from_config, eager). ViT-B/16 has no core network (the zoo has no
ViT), so it is predicted by the torch method only.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

REFERENCE_DIR = Path(__file__).resolve().parent / "data" / "reference"
GPU_MEMORY = REFERENCE_DIR / "gpu_memory_h100.json"
GPU_MEMORY_TRANSFORMERS = REFERENCE_DIR / "gpu_memory_h100_transformers.json"


def load_cases(path: Path = GPU_MEMORY) -> list[dict[str, Any]]:
    return json.loads(path.read_text()) if path.is_file() else []


def load_all_cases() -> list[dict[str, Any]]:
    """The H100 file's cases and the transformer cases of issue 12."""
    return load_cases() + load_cases(GPU_MEMORY_TRANSFORMERS)


def has_network(case: dict[str, Any]) -> bool:
    return not case["name"].startswith("vit")


def case_id(case: dict[str, Any]) -> str:
    return f"{case['name']}-{'bf16' if case['amp'] else 'fp32'}-{case['optimizer']}"


def leftover(case: dict[str, Any]) -> int:
    """Memory the measuring process held before this model (see the reference README)."""
    return int(case["weights_bytes"] - case["params"] * 4)


def _setting(case: dict[str, Any]) -> tuple[str, int, str | None, str]:
    name = case["name"]
    batch = int(re.search(r"-bs(\d+)", name).group(1))  # type: ignore[union-attr]
    autocast = "bfloat16" if case["amp"] else None
    optimizer = "adam" if case["optimizer"] == "adam" else "sgd_momentum"
    return name, batch, autocast, optimizer


def _seq_len(name: str) -> int:
    return int(re.search(r"-seq(\d+)", name).group(1))  # type: ignore[union-attr]


# transformers models of the reference cases: class and the loss the GPU script took from its output
_TEXT_MODELS = {
    "bert": ("BertModel", lambda out: out.last_hidden_state.float().mean()),
    "gpt2": ("GPT2LMHeadModel", lambda out: out.logits.float().mean()),
}


def predict_torch(case: dict[str, Any]) -> Any:
    import torch

    import torch_models
    from netsize.memory import estimate

    name, batch, autocast, optimizer = _setting(case)
    for model_type, (arch, loss_fn) in _TEXT_MODELS.items():
        if name.startswith(model_type):
            from hf_support import transformers_model

            model = transformers_model(model_type, arch, {})  # default config, eager attention, on meta
            return estimate(model, batch, optimizer=optimizer, autocast=autocast, seq_len=_seq_len(name),
                            loss_fn=loss_fn)
    with torch.device("meta"):
        model = torch_models.build(name.split("-")[0])
    return estimate(model, batch, optimizer=optimizer, autocast=autocast, input_size=(3, 224, 224))


def predict_network(case: dict[str, Any]) -> Any:
    from netsize import zoo
    from netsize.frontends.hf_config import network_from_config
    from netsize.memory import estimate

    name, batch, autocast, optimizer = _setting(case)
    if name.startswith(("gpt2", "bert")):
        key = "gpt2" if name.startswith("gpt2") else "bert-base-uncased"
        config = json.loads((REFERENCE_DIR / "transformers_params.json").read_text())[key]["config"]
        network = network_from_config(config, seq_len=_seq_len(name))
    else:
        network = zoo.get(name.split("-")[0]).build()
    return estimate(network, batch, optimizer=optimizer, autocast=autocast)


PREDICTORS = {"torch": predict_torch, "network": predict_network}
