"""The GPUs a plan is checked against: memory and dense peak tensor throughput, as data with sources.

Memory is the board's nominal capacity as the vendor states it ("80 GB" on an H100 is 80 GiB of
HBM; CUDA reports a little less as usable, and the CUDA context takes some hundreds of MiB that
no allocator statistic shows). Peak FLOP/s are dense (no 2:4 sparsity) tensor-core figures for
bf16 (fp16 where the GPU has no bf16, marked), with fp32 accumulation where the vendor lists both.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from netsize._errors import NetsizeError

GIB = 1 << 30


@dataclass(frozen=True)
class GPU:
    """One GPU model: ``memory_bytes`` on the board, ``peak_flops`` dense bf16/fp16 tensor FLOP/s."""

    key: str
    name: str
    memory_bytes: int
    peak_flops: int
    peak_dtype: str
    source: str


_TERA = 10**12

GPUS: tuple[GPU, ...] = (
    GPU("b200", "NVIDIA B200 192 GB", 192 * GIB, 2250 * _TERA, "bfloat16",
        "NVIDIA HGX B200 datasheet: FP16/BF16 tensor 4.5 PFLOPS with sparsity per GPU (dense is half)"),
    GPU("h200", "NVIDIA H200 141 GB", 141 * GIB, 989 * _TERA, "bfloat16",
        "NVIDIA H200 Tensor Core GPU datasheet (SXM): BF16 tensor 1,979 TFLOPS with sparsity"),
    GPU("h100", "NVIDIA H100 SXM 80 GB", 80 * GIB, 989 * _TERA, "bfloat16",
        "NVIDIA H100 Tensor Core GPU datasheet (SXM5): BF16 tensor 1,979 TFLOPS with sparsity"),
    GPU("h100-pcie", "NVIDIA H100 PCIe 80 GB", 80 * GIB, 756 * _TERA, "bfloat16",
        "NVIDIA H100 Tensor Core GPU datasheet (PCIe): BF16 tensor 1,513 TFLOPS with sparsity"),
    GPU("a100-80gb", "NVIDIA A100 80 GB", 80 * GIB, 312 * _TERA, "bfloat16",
        "NVIDIA A100 Tensor Core GPU datasheet: BF16 tensor 312 TFLOPS (624 with sparsity)"),
    GPU("a100-40gb", "NVIDIA A100 40 GB", 40 * GIB, 312 * _TERA, "bfloat16",
        "NVIDIA A100 Tensor Core GPU datasheet: BF16 tensor 312 TFLOPS (624 with sparsity)"),
    GPU("l40s", "NVIDIA L40S 48 GB", 48 * GIB, 362 * _TERA, "bfloat16",
        "NVIDIA L40S datasheet: BF16 tensor 362.05 TFLOPS (733 with sparsity)"),
    GPU("a6000", "NVIDIA RTX A6000 48 GB", 48 * GIB, 155 * _TERA, "bfloat16",
        "NVIDIA RTX A6000 datasheet: tensor 309.7 TFLOPS with sparsity (FP16/BF16, FP32 accumulate)"),
    GPU("a10", "NVIDIA A10 24 GB", 24 * GIB, 125 * _TERA, "bfloat16",
        "NVIDIA A10 datasheet: BF16 tensor 125 TFLOPS (250 with sparsity)"),
    GPU("l4", "NVIDIA L4 24 GB", 24 * GIB, 121 * _TERA, "bfloat16",
        "NVIDIA L4 datasheet: BF16 tensor 242 TFLOPS with sparsity"),
    GPU("rtx4090", "NVIDIA GeForce RTX 4090 24 GB", 24 * GIB, 165 * _TERA, "bfloat16",
        "NVIDIA Ada GPU architecture whitepaper, RTX 4090: FP16/BF16 tensor, FP32 accumulate, 165.2 TFLOPS dense"),
    GPU("rtx3090", "NVIDIA GeForce RTX 3090 24 GB", 24 * GIB, 71 * _TERA, "bfloat16",
        "NVIDIA Ampere GA102 whitepaper, RTX 3090: FP16/BF16 tensor, FP32 accumulate, 71 TFLOPS dense"),
    GPU("v100-32gb", "NVIDIA V100 SXM2 32 GB", 32 * GIB, 125 * _TERA, "float16",
        "NVIDIA V100 datasheet (SXM2): tensor 125 TFLOPS, fp16 only (no bf16)"),
    GPU("v100-16gb", "NVIDIA V100 SXM2 16 GB", 16 * GIB, 125 * _TERA, "float16",
        "NVIDIA V100 datasheet (SXM2): tensor 125 TFLOPS, fp16 only (no bf16)"),
    GPU("t4", "NVIDIA T4 16 GB", 16 * GIB, 65 * _TERA, "float16",
        "NVIDIA T4 datasheet: mixed-precision (FP16/FP32) tensor 65 TFLOPS, fp16 only (no bf16)"),
    GPU("mi300x", "AMD Instinct MI300X 192 GB", 192 * GIB, 1307 * _TERA, "bfloat16",
        "AMD Instinct MI300X datasheet: BF16 1,307.4 TFLOPS dense"),
)  # fmt: skip

_ALIASES = {
    "h100-sxm": "h100", "h100-80gb": "h100", "a100": "a100-80gb", "v100": "v100-32gb", "4090": "rtx4090",
    "3090": "rtx3090", "rtx-4090": "rtx4090", "rtx-3090": "rtx3090", "l40": "l40s",
}  # fmt: skip


def gpu(name: str) -> GPU:
    """The GPU called ``name`` (``h100``, ``A100-40GB``, ``rtx4090``...); unknown names suggest close ones.

    >>> gpu("H100").memory_bytes // GIB
    80
    """
    key = name.strip().lower().replace("_", "-").replace(" ", "-")
    key = _ALIASES.get(key, key)
    for g in GPUS:
        if g.key == key:
            return g
    keys = [g.key for g in GPUS]
    close = difflib.get_close_matches(key, keys, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise NetsizeError(f"unknown GPU {name!r}.{hint} Known: {', '.join(keys)}")
