"""Autocast's weight cast cache in the network method: it fills layer by layer in the forward
and each copy is freed with its layer's backward, as the module method observes. AlexNet shows
it (issue 12: the network method was ~0.7 MiB per sample above the H100 at bf16): 58 of its 61
million parameters are in the classifier, whose bf16 copies do not exist yet at the
convolutions' inference peak, and are gone when backward reaches the convolutions."""

from __future__ import annotations

import pytest

from netsize import zoo
from netsize.memory import estimate

torch = pytest.importorskip("torch")
torch_models = pytest.importorskip("torch_models")


def test_alexnet_bf16_network_method_equals_the_module_method(batch=128):
    with torch.device("meta"):
        mod = torch_models.build("alexnet")
    net = estimate(zoo.get("alexnet-torchvision").build(), batch, autocast="bfloat16")
    obs = estimate(mod, batch, autocast="bfloat16", input_size=(3, 224, 224))
    # the network rounds a layer's weight and bias casts as one block: a few 512-byte blocks apart
    assert abs(net.autocast_weight_copies_bytes - obs.autocast_weight_copies_bytes) <= 16 * 512
    assert abs(net.peak_inference_bytes - obs.peak_inference_bytes) <= 0.01 * obs.peak_inference_bytes
    assert abs(net.peak_training_bytes - obs.peak_training_bytes) <= 0.01 * obs.peak_training_bytes
    # the whole cache at once would sit on top of the inference peak
    assert net.peak_inference_bytes < obs.weights_bytes + obs.input_bytes + net.autocast_weight_copies_bytes + \
        net.activation_bytes
