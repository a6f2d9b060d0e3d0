"""``estimate``: which method measures a target (a core network's layer contracts, or a PyTorch
module observed on the meta device), with the arguments checked once for both."""

from __future__ import annotations

from typing import Any

from netsize._analyze import analyze
from netsize._dtypes import canonical_dtype
from netsize._errors import NetsizeError
from netsize._network import Network
from netsize._summary import Summary
from netsize._target import Target
from netsize.memory._common import AUTOCAST_DTYPES, optimizer_name
from netsize.memory._report import MemoryReport

__all__ = ["estimate"]


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
    is used), a resolved TARGET (:class:`netsize._target.Target`, as ``netsize memory`` reads its
    argument: its network, else its PyTorch module), or a ``torch.nn.Module``
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
    network: Network | Summary | None
    if isinstance(target, (Network, Summary)):
        module, network = None, target
    elif isinstance(target, Target):  # a resolved TARGET: its network, else its PyTorch module
        module, network = target.module, target.network
        if input_size is None:
            input_size = target.input_size
    elif _is_torch_module(target):
        module, network = target, None
    else:
        module = network = None
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
        f"cannot estimate memory of {type(target).__name__}: give a Network, a Summary, a resolved TARGET "
        "or a torch.nn.Module"
    )


def _is_torch_module(obj: Any) -> bool:
    return any(c.__module__.startswith("torch.nn") and c.__name__ == "Module" for c in type(obj).__mro__)


