"""PyTorch frontend: the sizes of a ``torch.nn.Module`` from one forward pass on meta tensors.

>>> import torch
>>> from netsize.frontends.torch import summary
>>> s = summary(torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU()), input_size=(2, 8), verbose=0)
>>> s.totals.params, s.totals.multiply_adds, s.layer("0").output_shape
(36, 64, (2, 4))
"""

from __future__ import annotations

from netsize.frontends.torch._api import summary
from netsize.frontends.torch._custom import register_formula, unregister_formula
from netsize.frontends.torch._load import load_callable
from netsize.frontends.torch._safety import ModelSnapshot
from netsize.frontends.torch._trace import _tensors as tensors

__all__ = ["ModelSnapshot", "load_callable", "register_formula", "summary", "tensors", "unregister_formula"]
