"""Will it fit? Memory per GPU for serving, LoRA/QLoRA and full fine-tuning, on one GPU or many.

A plan takes an analysed model and a setup and gives each scenario's bytes per GPU, broken down
into named terms with their formulas (``--explain``), and whether it fits on each GPU of the
table in :mod:`netsize.plan._gpus`. Everything is arithmetic on the model's layers: nothing is
allocated. The rules are in ``docs/plan.md``. This module is the package's face: the types and
code live in :mod:`netsize.plan._plan` (scenarios), ``_lora``, ``_states`` and ``_gpus``; weight
storage under quantisation is :mod:`netsize.quantization`'s.

>>> import netsize
>>> from netsize.plan import plan
>>> net = netsize.zoo.get("resnet18").build()
>>> p = plan(net, scenarios=("full",), gpu="t4")
>>> p.scenario("full").trainable_params
11689512
"""

from __future__ import annotations

from netsize.plan._gpus import GPU, GPUS
from netsize.plan._gpus import gpu as gpu_named
from netsize.plan._lora import LoRA
from netsize.plan._plan import SCENARIOS, GPUFit, Plan, Scenario, Setup, plan
from netsize.plan._states import OPTIMIZERS
from netsize.quantization import METHODS as QUANT_METHODS
from netsize.quantization import Quantization

__all__ = [
    "GPU", "GPUS", "OPTIMIZERS", "QUANT_METHODS", "SCENARIOS", "GPUFit", "LoRA", "Plan", "Quantization",
    "Scenario", "Setup", "gpu_named", "plan",
]  # fmt: skip
