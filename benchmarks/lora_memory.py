"""LoRA memory, network method against the module method: a peft model observed on the meta device
and netsize's network of the same config with ``LoraAdapters``, per model, targets, precision and
checkpointing. Prints both training peaks and saved activations.

    PYTHONPATH=src python benchmarks/lora_memory.py llama,mistral,qwen2,gpt2,bert
"""

from __future__ import annotations

import sys

import peft
import torch
import transformers

from netsize import analyze
from netsize.frontends.hf_config import network_from_config
from netsize.memory import estimate
from netsize.memory._network_walk import LoraAdapters
from netsize.plan._lora import LoRA, lora_count

SMALL = {"vocab_size": 1000, "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 4,
         "num_attention_heads": 4, "max_position_embeddings": 512}  # fmt: skip
FAMILIES = {
    "llama": ("LlamaForCausalLM", {**SMALL, "num_key_value_heads": 2}, ("q_proj", "v_proj")),
    "mistral": ("MistralForCausalLM", {**SMALL, "num_key_value_heads": 2, "sliding_window": None},
                ("q_proj", "v_proj")),
    "qwen2": ("Qwen2ForCausalLM", {**SMALL, "num_key_value_heads": 2}, ("q_proj", "v_proj")),
    "gpt2": ("GPT2LMHeadModel", {"vocab_size": 1000, "n_embd": 256, "n_layer": 4, "n_head": 4, "n_positions": 512},
             ("c_attn",)),
    "bert": ("BertForMaskedLM", SMALL, ("query", "value")),
}  # fmt: skip


def compare(family: str, targets: tuple[str, ...] | str, checkpointing: bool, autocast: str | None,
            seq: int = 256, batch: int = 4, r: int = 8) -> str:  # fmt: skip
    arch, fields, _ = FAMILIES[family]
    config = transformers.AutoConfig.for_model(family, **fields)
    config._attn_implementation = "sdpa"
    with torch.device("meta"):
        model = getattr(transformers, arch)(config)
    model = peft.get_peft_model(model, peft.LoraConfig(r=r, target_modules=list(targets) if isinstance(
        targets, tuple) else targets))  # fmt: skip
    kw = {"batch_size": batch, "dtype": "float32", "autocast": autocast, "optimizer": "adamw",
          "checkpointing": checkpointing}  # fmt: skip
    observed = estimate(model, seq_len=seq, loss_fn=lambda out: out.logits.float().mean(), **kw)
    net = network_from_config({"model_type": family, "architectures": [arch], **fields, "attn_implementation": "sdpa"},
                              seq_len=seq)  # fmt: skip
    targeted = lora_count(analyze(net, batch_size=batch), LoRA(r=r, targets=targets)).targeted
    walked = estimate(net, adapters=LoraAdapters(targeted, r), **kw)
    peak_ratio = walked.peak_training_bytes / observed.peak_training_bytes
    act_ratio = walked.activation_bytes / observed.activation_bytes
    return (f"{family:8s} {'all-linear' if targets == 'all-linear' else ','.join(targets):14s} "
            f"checkpointing={int(checkpointing)} {autocast or 'float32':9s} peak network "
            f"{walked.peak_training_bytes / 1e6:8.3f} MB observed {observed.peak_training_bytes / 1e6:8.3f} MB "
            f"ratio {peak_ratio:.3f} | saved {walked.activation_bytes / 1e6:7.3f} / "
            f"{observed.activation_bytes / 1e6:7.3f} MB ratio {act_ratio:.3f}")  # fmt: skip


if __name__ == "__main__":
    for family in (sys.argv[1] if len(sys.argv) > 1 else ",".join(FAMILIES)).split(","):
        for targets in (FAMILIES[family][2], "all-linear"):
            for checkpointing in (False, True):
                for autocast in (None, "bfloat16"):
                    print(compare(family, targets, checkpointing, autocast), flush=True)
