"""Predicted memory against real H100 measurements (tests/data/reference/gpu_memory_h100.json).

Each case is predicted by observing the same model on the meta device (torch rebuilds of
torchvision's vgg16/resnet50, transformers' GPT2LMHeadModel with eager attention) and compared
with ``train_step2.peak`` (steady state: Adam/momentum state exists) and the inference peak.

The measured peaks are absolute ``max_memory_allocated`` values that include ``leftover``
(``weights_bytes - params*4``, ~66 MiB the process held before this model: cuBLAS workspaces
and blocks of the previous model). That memory is not the model's, so the model's own peak is
``measured - leftover``; the training peak is also checked against the raw measurement.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from gpu_reference_cases import (  # noqa: E402
    GPU_MEMORY_TRANSFORMERS,
    PREDICTORS,
    case_id,
    has_network,
    leftover,
    load_cases,
)

CASES = load_cases()
TRANSFORMER_CASES = load_cases(GPU_MEMORY_TRANSFORMERS)
BOUND = 0.10
_id = case_id


_cache: dict[tuple[str, str], object] = {}


def _report(case: dict, method: str = "torch"):
    key = (_id(case), method)
    if key not in _cache:
        report = PREDICTORS[method](case)
        assert report.method == method
        _cache[key] = report
    return _cache[key]


def test_reference_file_has_the_eleven_cases():
    assert len(CASES) == 11


@pytest.mark.parametrize("method", ["torch", "network"])
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_training_step2_peak_within_10_percent(case, method):
    r = _report(case, method)
    measured = case["train_step2"]["peak"]
    own = measured - leftover(case)
    assert abs(r.peak_training_bytes - own) / own <= BOUND, (r.peak_training_bytes, own)
    assert abs(r.peak_training_bytes - measured) / measured <= BOUND, (r.peak_training_bytes, measured)
    # the parameters themselves: params * 4 bytes, each tensor in 512-byte blocks
    assert 0 <= r.weights_bytes - case["params"] * 4 < 0.01 * case["params"] * 4


# Inference: within 15% (issue 12's target), with the cuDNN workspace of the 3x3 convolutions
# estimated (memory/_cuda_workspace.py): vgg16 was -37.1% (fp32) / -25.8% (bf16) without it.
INFER_BOUND = 0.15


@pytest.mark.parametrize("method", ["torch", "network"])
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_inference_peak_within_15_percent(case, method):
    r = _report(case, method)
    own = case["inference_peak_bytes"] - leftover(case)
    assert abs(r.peak_inference_bytes - own) / own <= INFER_BOUND, (r.peak_inference_bytes, own)


# Transformer cases of issue 12 (ViT-B/16 with nn.MultiheadAttention, BERT-base from its config).
# Before: ViT module method +17.0% (the math path's N*H*L*S probabilities on the meta device),
# BERT network method -26.5% (the config builder had no dropout).
_TRANSFORMER_TRAIN_XFAIL: dict[tuple[str, str], str] = {}


def test_transformer_reference_file_has_vit_and_bert():
    assert [c["name"] for c in TRANSFORMER_CASES] == ["vit_b_16-bs32", "bert-base-bs16-seq512-eager"]
    assert [c["params"] for c in TRANSFORMER_CASES] == [86_567_656, 109_482_240]


def _transformer_params():
    out = []
    for c in TRANSFORMER_CASES:
        for method in ("torch", "network"):
            if method == "network" and not has_network(c):
                continue
            reason = _TRANSFORMER_TRAIN_XFAIL.get((case_id(c), method))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            out.append(pytest.param(c, method, marks=marks, id=f"{case_id(c)}-{method}"))
    return out


@pytest.mark.parametrize(("case", "method"), _transformer_params())
def test_transformer_training_peak_within_10_percent(case, method):
    r = _report(case, method)
    own = case["train_step2"]["peak"] - leftover(case)
    assert abs(r.peak_training_bytes - own) / own <= BOUND, (r.peak_training_bytes, own)
    assert r.params == case["params"]


@pytest.mark.parametrize(
    ("case", "method"),
    [pytest.param(c, m, id=f"{case_id(c)}-{m}") for c in TRANSFORMER_CASES for m in ("torch", "network")
     if m == "torch" or has_network(c)],
)
def test_transformer_inference_peak_within_15_percent(case, method):
    r = _report(case, method)
    own = case["inference_peak_bytes"] - leftover(case)
    assert abs(r.peak_inference_bytes - own) / own <= 0.15, (r.peak_inference_bytes, own)
