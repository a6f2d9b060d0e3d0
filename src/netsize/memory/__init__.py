"""Training and inference memory of a network: weights, gradients, optimizer state,
activations kept for the backward pass, and the peak of one step.

>>> from netsize import Sequential, layers
>>> from netsize.memory import estimate
>>> net = Sequential([("fc1", layers.Linear(1000, 1000)), ("fc2", layers.Linear(1000, 10))], input_shape=(1000,))
>>> r = estimate(net, batch_size=32, optimizer="adam")
>>> r.weights_bytes >= 4 * (1000 * 1000 + 1000 + 1000 * 10 + 10)    # 512-byte blocks per tensor
True
>>> r.optimizer_bytes == 2 * r.gradient_bytes    # Adam: exp_avg and exp_avg_sq
True

Two ways of knowing what is alive:

* a core ``Network`` / ``Summary`` (zoo, spec, Hugging Face config): from each layer's memory
  contract (``Analysis.memory``, a :class:`netsize.MemoryContract`: what it saves for backward,
  its working memory, what outlives it), tensors identified by the node output they are, and a
  liveness walk of the forward and backward passes (:mod:`netsize.memory._network_walk`);
* a PyTorch ``nn.Module``: observed by replaying inference and two training steps on the meta
  device (:mod:`netsize.memory._torch_observe`).

This module is the public API only: :func:`estimate`, :class:`MemoryReport`, :class:`LayerMemory`.

The terms and how they were checked against an H100 are in ``docs/memory.md``.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

from netsize._analyze import analyze
from netsize._display import ShowsItself
from netsize._dtypes import canonical_dtype
from netsize._errors import NetsizeError
from netsize._network import Network
from netsize._record import record
from netsize._summary import Summary
from netsize.memory._common import (
    AUTOCAST_DTYPES,
    BLOCK,
    OPTIMIZERS,
    block_bytes,
    optimizer_name,
    optimizer_state_factor,
)

__all__ = ["BLOCK", "OPTIMIZERS", "LayerMemory", "MemoryReport", "block_bytes", "estimate", "optimizer_state_factor"]

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


def estimate(
    target: Any,
    batch_size: int = 1,
    dtype: str = "float32",
    optimizer: str = "adam",
    autocast: str | None = None,
    checkpointing: bool = False,
    *,
    input_size: Any = None,
    seq_len: int | None = None,
    make_batch: Any = None,
    loss_fn: Any = None,
    checkpoint_segments: int | None = None,
    adapters: Any = None,
) -> MemoryReport:
    """Memory of one training step (steady state: the optimizer state exists) and of inference.

    ``target``: a core :class:`~netsize.Network`, a :class:`~netsize.Summary` (its batch size
    is used), an object with ``.network`` or ``.module`` (a CLI target), or a ``torch.nn.Module``
    with ``input_size`` (per sample, without the batch axis) or ``make_batch`` (a callable that
    returns the batch on the meta device); a Hugging Face model needs only ``seq_len``.
    ``dtype``: the parameters' dtype. ``autocast``: ``bfloat16``/``float16`` mixed precision.
    ``optimizer``: ``adam``, ``adamw``, ``sgd``, ``sgd_momentum`` or ``none``.
    ``checkpointing``: activation checkpointing where users put it: each transformer layer (what
    ``gradient_checkpointing_enable()`` does), each block of a stack of blocks (a ResNet stage's
    bottlenecks), and a sequence of plain layers (VGG's ``features``) through
    ``torch.utils.checkpoint.checkpoint_sequential`` with ``checkpoint_segments`` segments
    (default ``round(sqrt(length))``).
    ``adapters``: a core network fine-tuned with LoRA (a ``LoraAdapters``: the adapted layers,
    the rank, the layers trained in full; everything else frozen): what autograd keeps for frozen
    layers and adapters (a PyTorch module states its own through ``requires_grad``).
    """
    if checkpoint_segments is not None and (not isinstance(checkpoint_segments, int) or checkpoint_segments < 1):
        raise NetsizeError(f"checkpoint segments must be a positive integer (got {checkpoint_segments!r})")
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise NetsizeError(f"batch size must be a positive integer (got {batch_size!r})")
    dtype = canonical_dtype(dtype)
    opt = optimizer_name(optimizer)
    if autocast is not None:
        autocast = canonical_dtype(autocast)
        if autocast not in AUTOCAST_DTYPES:
            raise NetsizeError(f"autocast dtype must be bfloat16 or float16 (got {autocast!r})")
        if dtype != "float32":
            raise NetsizeError(f"autocast keeps float32 parameters; use --dtype float32 with it (got {dtype})")
    if isinstance(target, (Network, Summary)):
        module, network = None, target
    elif _is_torch_module(target):
        # a model's own attributes named `network` or `module` (timm's VOLO holds a ModuleList as
        # `network`, DataParallel wraps its model as `module`) are not a CLI target's
        module, network = target, None
    else:
        module, network = getattr(target, "module", None), getattr(target, "network", None)
    if input_size is None:
        input_size = getattr(target, "input_size", None)
    if network is not None and not (module is not None and network is None):
        summary = network if isinstance(network, Summary) else analyze(network, batch_size=batch_size)
        net = network if isinstance(network, Network) else None
        from netsize.memory._network_walk import from_network

        return from_network(summary, net, dtype, opt, autocast, checkpointing, checkpoint_segments, adapters)
    if module is not None:
        from netsize.memory._torch_observe import from_module

        report: MemoryReport = from_module(
            module, batch_size, dtype, opt, autocast, checkpointing, checkpoint_segments, input_size, seq_len,
            make_batch, loss_fn,
        )
        return report
    raise NetsizeError(
        f"cannot estimate memory of {type(target).__name__}: give a Network, a Summary or a torch.nn.Module"
    )


def _is_torch_module(obj: Any) -> bool:
    return any(c.__module__.startswith("torch.nn") and c.__name__ == "Module" for c in type(obj).__mro__)


