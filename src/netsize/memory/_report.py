"""What a memory estimate is: :class:`MemoryReport`, and :class:`LayerMemory`, one layer's share."""

from __future__ import annotations

from dataclasses import field
from typing import Any

from netsize._display import ShowsItself
from netsize._record import record

__all__ = ["LayerMemory", "MemoryReport"]


@record
class LayerMemory:
    """One layer's share: bytes of the tensors it keeps for backward (each tensor counted once,
    at the first layer that keeps it) and bytes of its outputs."""

    name: str
    kind: str
    saved_bytes: int
    output_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "saved_bytes": self.saved_bytes,
            "output_bytes": self.output_bytes,
        }


@record(repr=False)  # str/repr/HTML/pandas: netsize._display
class MemoryReport(ShowsItself):
    """Bytes of one training step and of inference (CUDA caching allocator blocks)."""

    model: str
    batch_size: int
    dtype: str
    optimizer: str
    autocast: str | None
    checkpointing: bool
    method: str  # "network" (layer contracts) or "torch" (observed on the meta device)
    params: int
    trainable_params: int
    weights_bytes: int
    gradient_bytes: int
    optimizer_bytes: int
    activation_bytes: int
    input_bytes: int
    autocast_weight_copies_bytes: int
    peak_training_bytes: int
    peak_inference_bytes: int
    peak_backward_bytes: int = 0
    peak_optimizer_step_bytes: int = 0
    layers: tuple[LayerMemory, ...] = field(default=())
    # The training step as the network method walks it: (phase, layer, bytes held) at each moment
    # its peak is taken over, so max(bytes) == peak_training_bytes; () for the PyTorch method.
    steps: tuple[tuple[str, str, int], ...] = field(default=())
    checkpoint_segments: int | None = None  # checkpoint_sequential's segments (None: its default)
    # CUDA's own memory, estimated (memory/_cuda_workspace.py): the largest cuDNN convolution
    # workspace (inside the peaks, while that convolution runs) and the per-process cuBLAS
    # workspaces (not in the peaks: a process holds them from its first matmul to its exit)
    cudnn_workspace_bytes: int = 0
    cublas_workspace_bytes: int = 0

    @property
    def cuda_workspace_bytes(self) -> int:
        """CUDA workspaces, estimated: cuBLAS's per-process workspaces and the largest cuDNN
        convolution workspace."""
        return self.cublas_workspace_bytes + self.cudnn_workspace_bytes

    def to_dict(self) -> dict[str, Any]:
        keys = (
            "model", "batch_size", "dtype", "optimizer", "autocast", "checkpointing", "method", "params",
            "trainable_params", "weights_bytes", "gradient_bytes", "optimizer_bytes", "activation_bytes",
            "input_bytes", "autocast_weight_copies_bytes", "peak_training_bytes", "peak_inference_bytes",
            "peak_backward_bytes", "peak_optimizer_step_bytes", "checkpoint_segments", "cudnn_workspace_bytes",
            "cublas_workspace_bytes",
        )  # fmt: skip
        d: dict[str, Any] = {k: getattr(self, k) for k in keys}
        d["layers"] = [m.to_dict() for m in self.layers]
        return d
