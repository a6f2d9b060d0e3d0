"""The torch rebuilds in torch_models.py equal torchvision, layer by layer.

Source: tests/data/reference/torchvision_layers.json (torchvision 0.29.2, meta device, one forward
pass of a (1, 3, 224, 224) input, forward hooks on leaf modules, FlopCounterMode).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from torch_models import build  # noqa: E402

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference" / "torchvision_layers.json"


def _reference() -> dict[str, dict]:
    return json.loads(REFERENCE.read_text())


def _trace(name: str) -> tuple[list[dict], int, int, int]:
    with torch.device("meta"):
        model = build(name)
    model.eval()
    records: list[dict] = []
    hooks = []
    for mod_name, module in model.named_modules():
        if list(module.children()):
            continue

        def hook(mod, args, out, mod_name=mod_name):
            records.append(
                {
                    "name": mod_name,
                    "type": type(mod).__name__,
                    "out": list(out.shape),
                    "params": sum(p.numel() for p in mod.parameters()),
                    "buffers": sum(b.numel() for b in mod.buffers()),
                }
            )

        hooks.append(module.register_forward_hook(hook))
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.empty(1, 3, 224, 224, device="meta"))
    for h in hooks:
        h.remove()
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for b in model.buffers())
    return records, params, buffers, counter.get_total_flops()


@pytest.mark.parametrize("name", ["alexnet", "vgg16", "vgg16_bn", "resnet18", "resnet50", "mobilenet_v2", "vit_b_16"])
def test_rebuild_matches_torchvision_layer_by_layer(name: str) -> None:
    ref = _reference()[name]
    layers, params, buffers, flops = _trace(name)
    assert layers == ref["layers"]
    assert params == ref["params"]
    assert buffers == ref["buffers"]
    assert flops == ref["flops_flopcounter"]
