"""Model states on each GPU: weights, gradients, master weights and optimizer state, sharded as the
parallelism says.

Per trainable parameter, the bytes of each state and where it lives:

- weights: ``bytes(weight dtype)``, or the quantised storage of :mod:`netsize.quantization`;
- gradients: the dtype of the trainable weights;
- master weights: 4 bytes (float32) when the framework keeps them beside low-precision weights
  (DeepSpeed, Megatron); plain autocast keeps float32 weights and no master copy;
- optimizer state: Adam/AdamW 8 bytes (two float32 moments); 8-bit Adam (bitsandbytes) 2 bytes plus
  one float32 absmax per 256 values per moment, tensors under 4,096 elements stay 32-bit; Adafactor
  (transformers' default, no first moment) ``4*(rows + cols)`` per matrix, ``4*n`` per vector; SGD
  0, SGD with momentum 4;
- ZeRO/FSDP: stage 1 shards the optimizer state and master weights over the data-parallel GPUs,
  stage 2 also the gradients, stage 3 (FSDP full shard) also the weights. DeepSpeed's ZeRO keeps a
  float32 gradient partition for the optimizer (4 bytes per parameter, sharded). Stage 2 without
  offload is then ``2P + 18P/N``, as DeepSpeed's ``estimate_zero2_model_states_mem_needs`` counts it
  since v0.14.3 (PR #5099): the half-precision weights 2 whole, and half-precision gradients 2,
  float32 gradients 4, master 4 and moments 8 sharded. Stage 3 is ``4L + 18P/N``
  (``estimate_zero3_model_states_mem_needs``): the half-precision weight shard 2 plus master,
  moments and float32 gradients 16, and one gathered layer's weights and gradients, ``4 * largest
  layer`` in half precision. Stage 1 (no DeepSpeed estimator) keeps the half-precision gradients
  whole: ``4P + 16P/N``.
"""

from __future__ import annotations

from collections.abc import Iterable

from netsize._errors import NetsizeError
from netsize.quantization import ceil_div

OPTIMIZERS = ("adamw", "adam", "adam8bit", "adafactor", "sgd", "sgd_momentum")
_OPT_ALIASES = {
    "adam_8bit": "adam8bit", "adamw8bit": "adam8bit", "adamw_8bit": "adam8bit", "paged_adamw_8bit": "adam8bit",
    "sgd-momentum": "sgd_momentum", "momentum": "sgd_momentum",
}  # fmt: skip


def optimizer_name(name: str) -> str:
    key = name.strip().lower().replace("-", "_")
    key = _OPT_ALIASES.get(key, _OPT_ALIASES.get(name.lower(), key))
    if key not in OPTIMIZERS:
        raise NetsizeError(f"unknown optimizer {name!r}; use one of {', '.join(OPTIMIZERS)}")
    return key


def optimizer_state_bytes(optimizer: str, tensors: Iterable[tuple[int, ...]]) -> int:
    """Bytes of optimizer state for trainable tensors of the given shapes (float32 states)."""
    opt = optimizer_name(optimizer)
    total = 0
    for shape in tensors:
        n = 1
        for d in shape:
            n *= d
        if opt in ("adam", "adamw"):
            total += 8 * n
        elif opt == "adam8bit":
            total += 2 * n + 2 * 4 * ceil_div(n, 256) if n >= 4096 else 8 * n
        elif opt == "adafactor":
            if len(shape) >= 2:
                rows = n // shape[-1]
                cols = (n // (shape[-1] * shape[-2])) * shape[-1]
                total += 4 * (rows + cols)
            else:
                total += 4 * n
        elif opt == "sgd_momentum":
            total += 4 * n
    return total
