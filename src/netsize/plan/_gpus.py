"""The GPUs a plan is checked against: memory, memory bandwidth and dense peak throughput per dtype,
as data with sources.

Memory is the board's nominal capacity as the vendor states it ("80 GB" on an H100 is 80 GiB of
HBM; CUDA reports a little less as usable, and the CUDA context takes some hundreds of MiB that
no allocator statistic shows). Peak FLOP/s are dense (no 2:4 sparsity) tensor-core figures for
bf16 (fp16 where the GPU has no bf16, marked), with fp32 accumulation where the vendor lists both;
FP8 where the GPU has FP8 tensor cores; FP32 without tensor cores. Bandwidth is the datasheet's
memory bandwidth in decimal bytes per second. None of these is measured here: they are the
vendors' peaks, which real kernels reach a fraction of (the roofline's efficiency knob).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from netsize._errors import NetsizeError

GIB = 1 << 30


@dataclass(frozen=True)
class GPU:
    """One GPU model: ``memory_bytes`` on the board, ``peak_flops`` dense bf16/fp16 tensor FLOP/s,
    ``bandwidth_bytes_per_second`` of its memory, and ``peaks``: dense peak FLOP/s per dtype
    (``bfloat16``/``float16`` tensor, ``float8`` tensor where the GPU has it, ``float32`` without
    tensor cores), each from the datasheet named in ``source``."""

    key: str
    name: str
    memory_bytes: int
    peak_flops: int
    peak_dtype: str
    source: str
    bandwidth_bytes_per_second: int = 0
    peaks: tuple[tuple[str, int], ...] = ()

    def peak(self, dtype: str) -> int:
        """Dense peak FLOP/s for matrix products in ``dtype`` (bf16 where the GPU has no such rate)."""
        key = {"bfloat16": "bfloat16", "float16": "bfloat16", "float8": "float8", "float32": "float32"}.get(dtype)
        for d, v in self.peaks:
            if d == key:
                return v
        return self.peak_flops


_TERA = 10**12
_GB = 10**9  # bandwidth: vendors' GB/s and TB/s are decimal


def _peaks(bf16: float, fp32: float, fp8: float | None = None) -> tuple[tuple[str, int], ...]:
    out = [("bfloat16", int(bf16 * _TERA)), ("float32", int(fp32 * _TERA))]
    if fp8 is not None:
        out.append(("float8", int(fp8 * _TERA)))
    return tuple(out)


GPUS: tuple[GPU, ...] = (
    GPU("b200", "NVIDIA B200 192 GB", 192 * GIB, 2250 * _TERA, "bfloat16",
        "NVIDIA HGX B200 datasheet: FP16/BF16 tensor 4.5 PFLOPS and FP8 9 PFLOPS with sparsity per GPU (dense is "
        "half), HBM3e 8 TB/s (no FP32 figure listed: the bf16 rate stands in)",
        8000 * _GB, (("bfloat16", 2250 * _TERA), ("float8", 4500 * _TERA))),
    GPU("h200", "NVIDIA H200 141 GB", 141 * GIB, 989 * _TERA, "bfloat16",
        "NVIDIA H200 Tensor Core GPU datasheet (SXM): BF16 tensor 1,979 TFLOPS and FP8 3,958 with sparsity, "
        "FP32 67 TFLOPS, HBM3e 4.8 TB/s",
        4800 * _GB, _peaks(989.5, 67, 1979)),
    GPU("h100", "NVIDIA H100 SXM 80 GB", 80 * GIB, 989 * _TERA, "bfloat16",
        "NVIDIA H100 Tensor Core GPU datasheet (SXM5): BF16 tensor 1,979 TFLOPS and FP8 3,958 with sparsity, "
        "FP32 67 TFLOPS, HBM3 3.35 TB/s",
        3350 * _GB, _peaks(989.5, 67, 1979)),
    GPU("h100-pcie", "NVIDIA H100 PCIe 80 GB", 80 * GIB, 756 * _TERA, "bfloat16",
        "NVIDIA H100 Tensor Core GPU datasheet (PCIe): BF16 tensor 1,513 TFLOPS and FP8 3,026 with sparsity, "
        "FP32 51 TFLOPS, HBM2e 2 TB/s",
        2000 * _GB, _peaks(756.5, 51, 1513)),
    GPU("a100-80gb", "NVIDIA A100 80 GB", 80 * GIB, 312 * _TERA, "bfloat16",
        "NVIDIA A100 Tensor Core GPU datasheet: BF16 tensor 312 TFLOPS (624 with sparsity), FP32 19.5 TFLOPS, "
        "HBM2e 2,039 GB/s (SXM)",
        2039 * _GB, _peaks(312, 19.5)),
    GPU("a100-40gb", "NVIDIA A100 40 GB", 40 * GIB, 312 * _TERA, "bfloat16",
        "NVIDIA A100 Tensor Core GPU datasheet: BF16 tensor 312 TFLOPS (624 with sparsity), FP32 19.5 TFLOPS, "
        "HBM2 1,555 GB/s",
        1555 * _GB, _peaks(312, 19.5)),
    GPU("l40s", "NVIDIA L40S 48 GB", 48 * GIB, 362 * _TERA, "bfloat16",
        "NVIDIA L40S datasheet: BF16 tensor 362.05 TFLOPS (733 with sparsity), FP8 733 (1,466 with sparsity), "
        "FP32 91.6 TFLOPS, GDDR6 864 GB/s",
        864 * _GB, _peaks(362.05, 91.6, 733)),
    GPU("a6000", "NVIDIA RTX A6000 48 GB", 48 * GIB, 155 * _TERA, "bfloat16",
        "NVIDIA RTX A6000 datasheet: tensor 309.7 TFLOPS with sparsity (FP16/BF16, FP32 accumulate), FP32 38.7 "
        "TFLOPS, GDDR6 768 GB/s",
        768 * _GB, _peaks(154.85, 38.7)),
    GPU("a10", "NVIDIA A10 24 GB", 24 * GIB, 125 * _TERA, "bfloat16",
        "NVIDIA A10 datasheet: BF16 tensor 125 TFLOPS (250 with sparsity), FP32 31.2 TFLOPS, GDDR6 600 GB/s",
        600 * _GB, _peaks(125, 31.2)),
    GPU("l4", "NVIDIA L4 24 GB", 24 * GIB, 121 * _TERA, "bfloat16",
        "NVIDIA L4 datasheet: BF16 tensor 242 TFLOPS and FP8 485 with sparsity, FP32 30.3 TFLOPS, GDDR6 300 GB/s",
        300 * _GB, _peaks(121, 30.3, 242.5)),
    GPU("rtx4090", "NVIDIA GeForce RTX 4090 24 GB", 24 * GIB, 165 * _TERA, "bfloat16",
        "NVIDIA Ada GPU architecture whitepaper, RTX 4090: FP16/BF16 tensor, FP32 accumulate, 165.2 TFLOPS dense; "
        "FP32 82.6 TFLOPS; GDDR6X 1,008 GB/s",
        1008 * _GB, _peaks(165.2, 82.6)),
    GPU("rtx3090", "NVIDIA GeForce RTX 3090 24 GB", 24 * GIB, 71 * _TERA, "bfloat16",
        "NVIDIA Ampere GA102 whitepaper, RTX 3090: FP16/BF16 tensor, FP32 accumulate, 71 TFLOPS dense; FP32 35.6 "
        "TFLOPS; GDDR6X 936 GB/s",
        936 * _GB, _peaks(71, 35.6)),
    GPU("v100-32gb", "NVIDIA V100 SXM2 32 GB", 32 * GIB, 125 * _TERA, "float16",
        "NVIDIA V100 datasheet (SXM2): tensor 125 TFLOPS, fp16 only (no bf16), FP32 15.7 TFLOPS, HBM2 900 GB/s",
        900 * _GB, _peaks(125, 15.7)),
    GPU("v100-16gb", "NVIDIA V100 SXM2 16 GB", 16 * GIB, 125 * _TERA, "float16",
        "NVIDIA V100 datasheet (SXM2): tensor 125 TFLOPS, fp16 only (no bf16), FP32 15.7 TFLOPS, HBM2 900 GB/s",
        900 * _GB, _peaks(125, 15.7)),
    GPU("t4", "NVIDIA T4 16 GB", 16 * GIB, 65 * _TERA, "float16",
        "NVIDIA T4 datasheet: mixed-precision (FP16/FP32) tensor 65 TFLOPS, fp16 only (no bf16), FP32 8.1 TFLOPS, "
        "GDDR6 320 GB/s",
        320 * _GB, _peaks(65, 8.1)),
    GPU("mi300x", "AMD Instinct MI300X 192 GB", 192 * GIB, 1307 * _TERA, "bfloat16",
        "AMD Instinct MI300X datasheet: BF16 1,307.4 TFLOPS dense, FP8 2,614.9 dense, FP32 vector 163.4 TFLOPS, "
        "HBM3 5.3 TB/s",
        5300 * _GB, _peaks(1307.4, 163.4, 2614.9)),
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
