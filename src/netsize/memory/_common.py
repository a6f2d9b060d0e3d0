"""What both methods of the memory model share: the allocator's block size and the optimizers."""

from __future__ import annotations

from netsize._errors import NetsizeError

BLOCK = 512  # CUDA caching allocator: every block is a multiple of 512 bytes

OPTIMIZERS = ("adam", "adamw", "sgd", "sgd_momentum", "none")
_OPT_ALIASES = {"sgd-momentum": "sgd_momentum", "momentum": "sgd_momentum", "sgdm": "sgd_momentum"}
AUTOCAST_DTYPES = ("bfloat16", "float16")

def block_bytes(nbytes: int) -> int:
    """``nbytes`` rounded up to the caching allocator's 512-byte blocks.

    >>> block_bytes(1), block_bytes(512), block_bytes(513)
    (512, 512, 1024)
    """
    return -(-nbytes // BLOCK) * BLOCK if nbytes > 0 else 0


def optimizer_state_factor(optimizer: str) -> int:
    """Tensors of parameter size an optimizer keeps: Adam/AdamW 2, SGD with momentum 1, SGD 0."""
    return {"adam": 2, "adamw": 2, "sgd_momentum": 1, "sgd": 0, "none": 0}[optimizer_name(optimizer)]


def optimizer_name(name: str) -> str:
    key = name.lower().replace(" ", "_")
    key = _OPT_ALIASES.get(key, key)
    if key not in OPTIMIZERS:
        raise NetsizeError(f"unknown optimizer {name!r}; use one of {', '.join(OPTIMIZERS)}")
    return key
