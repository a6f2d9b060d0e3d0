"""What the Hugging Face family tests share: transformers' model of a config (eager attention,
as netsize counts it) and netsize's summary of the same config."""

from __future__ import annotations

from typing import Any

import netsize
from netsize.frontends.hf_config import network_from_config


def transformers_model(model_type: str, arch: str, fields: dict[str, Any], device: str = "meta") -> Any:
    """``transformers.<arch>`` built from ``fields`` on ``device``, with eager attention (in the
    text and vision sub-configs too) and the eager experts loop."""
    import torch
    import transformers

    config = transformers.AutoConfig.for_model(model_type, **fields)
    for c in (config, getattr(config, "text_config", None), getattr(config, "vision_config", None)):
        if c is not None:
            c._attn_implementation = "eager"
            if hasattr(c, "_experts_implementation"):
                c._experts_implementation = "eager"
    with torch.device(device):
        return getattr(transformers, arch)(config)


def netsize_summary(model_type: str, arch: str, fields: dict[str, Any], seq: int, batch: int) -> netsize.Summary:
    """netsize's analysis of the same config, built natively."""
    cfg = {"model_type": model_type, "architectures": [arch], **fields}
    return netsize.analyze(network_from_config(cfg, seq_len=seq), batch_size=batch)


def transformers_counts(model: Any, **inputs: Any) -> tuple[int, int]:
    """``model``'s parameter count (tied tensors once) and FlopCounterMode's FLOPs / 2 of one
    forward on ``inputs``: what netsize's params and multiply-adds must equal."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(**inputs)
    return sum(p.numel() for p in model.parameters()), counter.get_total_flops() // 2
