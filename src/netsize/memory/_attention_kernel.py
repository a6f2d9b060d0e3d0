"""Which kernel ``scaled_dot_product_attention`` runs on a CUDA GPU, and what it keeps.

One rule for both methods of the memory model (no torch here): the PyTorch-module observer asks
it with the facts of the tensors it sees, the network walk with the facts a layer states
(:class:`netsize.AttentionCall`). It follows PyTorch's CUDA dispatcher for a Hopper GPU
(``aten/src/ATen/native/transformers/cuda/sdp_utils.cpp``: ``select_sdp_backend`` tries the
backends in priority order, flash, memory-efficient, math, and takes the first whose checks pass):

* **flash** (``can_use_flash_attention``): 4-D q, k, v; no ``attn_mask`` (``is_causal`` is
  fine, but not with ``L != S``); float16 or bfloat16; one head size for q, k and v, at most 256;
  grouped-query heads only with ``enable_gqa``;
* **memory-efficient** (``can_use_mem_efficient_attention``): 4-D; float16, bfloat16 or
  float32; a mask is allowed (an additive bias); q and k head sizes equal; q and v head sizes
  divisible by the GEMM alignment (8 elements in 16-bit, 4 in float32); q, k, v storage offsets
  aligned the same way;
* **math** otherwise (float64, odd head sizes, 3-D inputs...): the composite of matmul,
  softmax, dropout, matmul, which keeps the ``N*H*L*S`` probabilities.

cuDNN attention, when a build prefers it, keeps the same tensors as flash (the output and a
float32 ``N*H*L`` statistic), so it is not told apart. What each fused kernel saves for backward:
q, k, v, its output ``N*H*L*d_v`` and a float32 log-sum-exp (flash ``N*H*L``; memory-efficient
``N*H*ceil(L/32)*32``, only when a gradient is needed) and, with dropout, its random-number
generator state (two 8-byte scalars).
"""

from __future__ import annotations

FLASH = "flash"
EFFICIENT = "efficient"
MATH = "math"
BACKENDS = (FLASH, EFFICIENT, MATH)

_HALF = ("float16", "bfloat16")
FLASH_MAX_HEAD_DIM = 256
LSE_ALIGN = 32  # the memory-efficient kernel pads its log-sum-exp to a multiple of 32 queries


def sdpa_backend(
    dtype: str,
    *,
    heads: int,
    kv_heads: int,
    q_len: int,
    kv_len: int,
    head_dim: int,
    key_head_dim: int | None = None,
    value_head_dim: int | None = None,
    has_mask: bool = False,
    causal: bool = False,
    enable_gqa: bool = False,
    dims: int = 4,
    storage_offsets: tuple[int, ...] = (),
    enabled: tuple[str, ...] = BACKENDS,
) -> str:
    """The backend PyTorch's CUDA dispatcher picks (``flash``, ``efficient`` or ``math``).

    >>> sdpa_backend("bfloat16", heads=12, kv_heads=12, q_len=197, kv_len=197, head_dim=64)
    'flash'
    >>> sdpa_backend("float32", heads=12, kv_heads=12, q_len=197, kv_len=197, head_dim=64)
    'efficient'
    >>> sdpa_backend("float64", heads=12, kv_heads=12, q_len=197, kv_len=197, head_dim=64)
    'math'
    """
    dk = head_dim if key_head_dim is None else key_head_dim
    dv = head_dim if value_head_dim is None else value_head_dim
    dense = dims == 4 and q_len > 0 and kv_len > 0 and head_dim > 0 and dv > 0
    same_heads = kv_heads == heads or (enable_gqa and kv_heads > 0 and heads % kv_heads == 0)
    if (
        FLASH in enabled
        and dense
        and same_heads
        and not has_mask
        and dtype in _HALF
        and head_dim == dk == dv <= FLASH_MAX_HEAD_DIM
        and not (causal and q_len != kv_len)
    ):
        return FLASH
    align = 8 if dtype in _HALF else 4
    if (
        EFFICIENT in enabled
        and dense
        and same_heads
        and dtype in (*_HALF, "float32")
        and head_dim == dk
        and head_dim % align == 0
        and dv % align == 0
        and all(off % align == 0 for off in storage_offsets)
    ):
        return EFFICIENT
    return MATH


def log_sum_exp_elements(backend: str, batch: int, heads: int, q_len: int, grad: bool = True) -> int:
    """Elements of the float32 log-sum-exp the fused kernel keeps (0 for the math path).

    >>> log_sum_exp_elements("flash", 2, 4, 197), log_sum_exp_elements("efficient", 2, 4, 197)
    (1576, 1792)
    """
    if backend == FLASH:
        return batch * heads * q_len
    if backend == EFFICIENT and grad:
        return batch * heads * -(-q_len // LSE_ALIGN) * LSE_ALIGN
    return 0
