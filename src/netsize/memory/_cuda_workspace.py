"""CUDA's own memory beside the model's tensors: estimated, not observed (no torch here).

* **cuBLAS workspace** (exact default, per process): PyTorch gives every cuBLAS handle (one per
  thread and device) a workspace per stream from the caching allocator, so
  ``max_memory_allocated`` counts it. Its size is the ``CUBLAS_WORKSPACE_CONFIG`` default of
  ``aten/src/ATen/cuda/CublasHandlePool.cpp`` (``parseChosenWorkspaceSize``): 32 MiB
  (``4096 * 8 * 1024``) on Hopper (sm90), ``:4096:2:16:8`` (8 MiB + 128 KiB) on other GPUs.
  Inference uses the main thread's handle; training adds the autograd engine's device thread,
  which runs backward: two workspaces. They are allocated at the first matmul and kept until the
  process exits, so they are in a fresh process's peak and not in a later model's (the H100
  reference measured each case after earlier ones: its ``leftover`` holds them).
* **cuDNN convolution workspace** (estimated): the forward algorithm cuDNN's heuristics pick for
  a dense 3x3, stride-1 convolution (Winograd / FFT tiling) asks for a scratch buffer; on the
  H100 reference it is twice the convolution's input at VGG-16's 64-channel 224x224 layers
  (inference peak under-predicted by exactly that without it). The estimate: ``2 *`` the input
  of such a convolution, alive while it runs; other convolutions (1x1, strided, grouped) are
  taken to use an implicit-GEMM algorithm without workspace. Backward convolutions' workspaces
  are not modelled.
"""

from __future__ import annotations

from netsize.memory._common import block_bytes

MiB = 2**20
CUBLAS_WORKSPACE_HOPPER_BYTES = 4096 * 8 * 1024  # 32 MiB, PyTorch's default on sm90
CUBLAS_WORKSPACE_DEFAULT_BYTES = 4096 * 1024 * 2 + 16 * 1024 * 8  # ":4096:2:16:8", other GPUs
CUBLAS_SOURCE = "PyTorch's CUBLAS_WORKSPACE_CONFIG default (CublasHandlePool.cpp): 32 MiB per handle on Hopper"
CUDNN_SOURCE = "cuDNN 3x3 convolution workspace, estimated as 2 x its input (H100 reference, VGG-16)"


def cublas_workspace_bytes(training: bool, hopper: bool = True) -> int:
    """Bytes of the cuBLAS workspaces a process holds: one handle for inference, two for training
    (the forward's thread and autograd's backward thread).

    >>> cublas_workspace_bytes(True) // MiB, cublas_workspace_bytes(False) // MiB
    (64, 32)
    """
    each = CUBLAS_WORKSPACE_HOPPER_BYTES if hopper else CUBLAS_WORKSPACE_DEFAULT_BYTES
    return each * (2 if training else 1)


def cudnn_conv_workspace_bytes(
    kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...], groups: int, input_bytes: int
) -> int:
    """Estimated forward workspace of one 2-D convolution (``input_bytes``: its input tensor).

    >>> cudnn_conv_workspace_bytes((3, 3), (1, 1), (1, 1), 1, 1000) == 2 * 1024
    True
    >>> cudnn_conv_workspace_bytes((1, 1), (1, 1), (1, 1), 1, 1000)
    0
    """
    if len(kernel) == 2 and kernel == (3, 3) and stride == (1, 1) and dilation == (1, 1) and groups == 1:
        return 2 * block_bytes(input_bytes)
    return 0
