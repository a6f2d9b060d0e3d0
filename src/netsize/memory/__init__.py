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

from netsize.memory._common import BLOCK, OPTIMIZERS, block_bytes, optimizer_state_factor
from netsize.memory._estimate import estimate
from netsize.memory._report import LayerMemory, MemoryReport

__all__ = ["BLOCK", "OPTIMIZERS", "LayerMemory", "MemoryReport", "block_bytes", "estimate", "optimizer_state_factor"]
