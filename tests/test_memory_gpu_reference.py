"""Predicted memory against real H100 measurements (../shared/reference/gpu_memory_h100.json).

Each case is predicted by observing the same model on the meta device (torch rebuilds of
torchvision's vgg16/resnet50, transformers' GPT2LMHeadModel with eager attention) and compared
with ``train_step2.peak`` (steady state: Adam/momentum state exists) and the inference peak.

The measured peaks are absolute ``max_memory_allocated`` values that include ``leftover``
(``weights_bytes - params*4``, ~66 MiB the process held before this model: cuBLAS workspaces
and blocks of the previous model). That memory is not the model's, so the model's own peak is
``measured - leftover``; the training peak is also checked against the raw measurement.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

REF = Path(__file__).resolve().parents[2] / "shared" / "reference" / "gpu_memory_h100.json"
if not REF.is_file():
    REF = Path("/work/shared/reference/gpu_memory_h100.json")
CASES = json.loads(REF.read_text()) if REF.is_file() else []
BOUND = 0.10


def _id(c: dict) -> str:
    return f"{c['name']}-{'bf16' if c['amp'] else 'fp32'}-{c['optimizer']}"


def _predict(case: dict):
    from netsize.memory import estimate

    name = case["name"]
    bs = int(re.search(r"-bs(\d+)", name).group(1))
    amp = "bfloat16" if case["amp"] else None
    opt = "adam" if case["optimizer"] == "adam" else "sgd_momentum"
    if name.startswith("gpt2"):
        transformers = pytest.importorskip("transformers")
        seq = int(re.search(r"-seq(\d+)", name).group(1))
        cfg = transformers.GPT2Config()
        cfg._attn_implementation = "eager"
        with torch.device("meta"):
            model = transformers.GPT2LMHeadModel(cfg)
        return estimate(model, bs, optimizer=opt, autocast=amp, seq_len=seq, loss_fn=lambda o: o.logits.float().mean())
    import torch_models

    with torch.device("meta"):
        model = torch_models.build(name.split("-")[0])
    return estimate(model, bs, optimizer=opt, autocast=amp, input_size=(3, 224, 224))


def _predict_network(case: dict):
    """The core-network method: zoo vgg16/resnet50, GPT-2 from the reference config (eager attention)."""
    import netsize.zoo
    from netsize.frontends.hf_config import network_from_config
    from netsize.memory import estimate

    name = case["name"]
    bs = int(re.search(r"-bs(\d+)", name).group(1))
    amp = "bfloat16" if case["amp"] else None
    opt = "adam" if case["optimizer"] == "adam" else "sgd_momentum"
    if name.startswith("gpt2"):
        params = REF.parent / "transformers_params.json"
        cfg = json.loads(params.read_text())["gpt2"]["config"]
        net = network_from_config(cfg, seq_len=int(re.search(r"-seq(\d+)", name).group(1)))
    else:
        net = netsize.zoo.get(name.split("-")[0]).build()
    r = estimate(net, bs, optimizer=opt, autocast=amp)
    assert r.method == "network"
    return r


_cache: dict[tuple[str, str], object] = {}


def _report(case: dict, method: str = "torch"):
    key = (_id(case), method)
    if key not in _cache:
        _cache[key] = _predict(case) if method == "torch" else _predict_network(case)
    return _cache[key]


def test_reference_file_has_the_eleven_cases():
    assert len(CASES) == 11


@pytest.mark.parametrize("method", ["torch", "network"])
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_training_step2_peak_within_10_percent(case, method):
    r = _report(case, method)
    leftover = case["weights_bytes"] - case["params"] * 4
    measured = case["train_step2"]["peak"]
    own = measured - leftover
    assert abs(r.peak_training_bytes - own) / own <= BOUND, (r.peak_training_bytes, own)
    assert abs(r.peak_training_bytes - measured) / measured <= BOUND, (r.peak_training_bytes, measured)
    # the parameters themselves: params * 4 bytes, each tensor in 512-byte blocks
    assert 0 <= r.weights_bytes - case["params"] * 4 < 0.01 * case["params"] * 4


# Inference is not part of the 10% requirement; vgg16's misses are recorded, not hidden.
_VGG_INFER = "vgg16 inference: H100 peak has ~{} MiB more than predicted (own error {}), most likely cuDNN " \
             "workspace of the 224x224x64 convolutions, which the meta device cannot show"
_INFER_XFAIL = {
    "vgg16-bs32-fp32-adam": _VGG_INFER.format(784, "-37.1%"),
    "vgg16-bs32-fp32-sgd": _VGG_INFER.format(784, "-37.1%"),
    "vgg16-bs32-bf16-adam": _VGG_INFER.format(343, "-25.8%"),
}


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=_INFER_XFAIL[_id(c)])) if _id(c) in _INFER_XFAIL
     else c for c in CASES],
    ids=_id,
)
def test_inference_peak_within_10_percent(case):
    r = _report(case)
    own = case["inference_peak_bytes"] - (case["weights_bytes"] - case["params"] * 4)
    assert abs(r.peak_inference_bytes - own) / own <= BOUND, (r.peak_inference_bytes, own)


# The network method's inference misses, recorded: vgg16 as above; GPT-2's eager attention keeps
# several N*H*L*S score tensors alive inside the layer (scores, scaled, masked, probabilities)
# that a layer's inputs and outputs do not show.
_GPT2_INFER = "gpt2 inference (network method): own error {}; eager attention's transient score tensors " \
              "inside the layer are not modelled"
_NET_INFER_XFAIL = {
    **_INFER_XFAIL,
    "vgg16-bs32-bf16-adam": None,  # within 10% here (-9.6% own): the network keeps fp32 outputs
    "gpt2-bs8-seq1024-eager-fp32-adam": _GPT2_INFER.format("-21.8%"),
    "gpt2-bs8-seq1024-eager-bf16-adam": _GPT2_INFER.format("-21.3%"),
}


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=_NET_INFER_XFAIL[_id(c)]))
     if _NET_INFER_XFAIL.get(_id(c)) else c for c in CASES],
    ids=_id,
)
def test_network_method_inference_peak_within_10_percent(case):
    r = _report(case, "network")
    own = case["inference_peak_bytes"] - (case["weights_bytes"] - case["params"] * 4)
    assert abs(r.peak_inference_bytes - own) / own <= BOUND, (r.peak_inference_bytes, own)
