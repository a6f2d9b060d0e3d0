"""Mixture-of-experts families netsize does not build natively, analysed through transformers:
active parameters per token (router + k of E experts, as the native families count them) against
a hand computation from the config, for fused expert stacks (OLMoE, GraniteMoE), parallel
experts in both the MLP and the attention (JetMoE), and a ModuleDict of experts with a top-1
router (Switch Transformers); a note where the top-k is not known."""

from __future__ import annotations

import pytest

from netsize.frontends.hf_config import is_native, summary_from_config
from netsize.llm import llm_figures

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

D, F, E, K, LAYERS = 32, 48, 4, 2, 2
SMALL = {"vocab_size": 50, "hidden_size": D, "num_hidden_layers": LAYERS, "num_attention_heads": 4,
         "num_key_value_heads": 2, "intermediate_size": F, "eos_token_id": 0, "pad_token_id": 0, "bos_token_id": 0}


def _transformers_params(cfg: dict) -> int:
    config = transformers.AutoConfig.for_model(**cfg)
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(config)
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("model_type,experts", [("olmoe", {"num_experts": E}),
                                               ("granitemoe", {"num_local_experts": E})])
def test_fused_experts_active_params_equal_hand_computation(model_type, experts):
    cfg = {"model_type": model_type, **SMALL, **experts, "num_experts_per_tok": K}
    assert not is_native(cfg)
    f = llm_figures(cfg, seq_len=6)
    assert f.params == _transformers_params(cfg)
    # Each expert is a gated FFN (gate_up_proj 2*F*D, down_proj D*F); a token skips E - k of them.
    assert f.params - f.active_params == LAYERS * (E - K) * 3 * D * F
    assert f.training_flops_6n == 6 * f.active_params


def test_jetmoe_attention_and_mlp_experts_active_params_equal_hand_computation():
    kv_channels, kv_heads = 8, 2
    cfg = {"model_type": "jetmoe", **SMALL, "num_local_experts": E, "num_experts_per_tok": K,
           "kv_channels": kv_channels, "num_key_value_heads": kv_heads}
    f = llm_figures(cfg, seq_len=6)
    assert f.params == _transformers_params(cfg)
    # MLP experts: input_linear (E, 2F, D), output_linear (E, D, F); attention experts (mixture of
    # attention heads): input_linear (E, kv_channels*kv_heads, D), output_linear (E, D, kv_channels*kv_heads).
    per_expert = 3 * D * F + 2 * D * kv_channels * kv_heads
    assert f.params - f.active_params == LAYERS * (E - K) * per_expert


def test_switch_transformers_top1_router_and_listed_experts():
    cfg = {"model_type": "switch_transformers", "d_model": D, "num_experts": E, "d_ff": F, "num_layers": 2,
           "num_heads": 4, "d_kv": 8, "vocab_size": 50}
    f = llm_figures(cfg, seq_len=6)
    config = transformers.AutoConfig.for_model(**cfg)
    with torch.device("meta"):
        model = transformers.SwitchTransformersForConditionalGeneration(config)
    sparse = [m for m in model.modules() if type(m).__name__ == "SwitchTransformersSparseMLP"]
    # One expert per token (SwitchTransformersTop1Router); each expert is wi (F*D) and wo (D*F).
    assert sparse and f.params - f.active_params == len(sparse) * (E - 1) * 2 * D * F


def test_unknown_top_k_is_said_in_notes_and_active_is_total():
    from netsize.frontends.hf_config._transformers import _with_active_params, build_model

    cfg = {"model_type": "olmoe", **SMALL, "num_experts": E, "num_experts_per_tok": K}
    summary = summary_from_config(cfg, seq_len=4)
    assert not any("not known" in n for n in summary.notes)
    model = build_model(cfg, "config", None)
    object.__setattr__(model.config, "num_experts_per_tok", None)  # experts, and no field saying how many a token uses
    unknown = _with_active_params(summary, model, torch)
    assert any("active params per token are not known" in n for n in unknown.notes)
    assert unknown.layers is summary.layers  # no record gains active-params terms


def test_dense_model_has_no_expert_params():
    from netsize.frontends.hf_config._transformers import _expert_params

    config = transformers.AutoConfig.for_model("llama", **SMALL)
    with torch.device("meta"):
        model = transformers.LlamaForCausalLM(config)
    assert _expert_params(model, torch) == []


@pytest.mark.parametrize("model_type,experts", [("olmoe", {"num_experts": E}),
                                               ("granitemoe", {"num_local_experts": E})])
def test_experts_on_meta_run_as_grouped_mm_with_the_eager_loops_counts(model_type, experts):
    """The eager experts loop picks tokens by value (nonzero), which meta tensors cannot: the
    experts run as transformers' grouped_mm kernel there, and the multiply-adds equal
    FlopCounterMode's on the eager loop run for real on the CPU."""
    from torch.utils.flop_counter import FlopCounterMode

    from netsize.frontends.hf_config._transformers import build_model, model_inputs

    cfg = {"model_type": model_type, **SMALL, **experts, "num_experts_per_tok": K}
    summary = summary_from_config(cfg, seq_len=6, batch_size=2)
    assert any("grouped_mm experts kernel" in n for n in summary.notes)
    model = build_model(cfg, "config", None, device="cpu")
    inputs = {k: torch.zeros(v.shape, dtype=v.dtype) for k, v in model_inputs(model, 2, 6).items()}
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(**inputs)
    assert summary.totals.params == sum(p.numel() for p in model.parameters())
    assert summary.totals.multiply_adds == counter.get_total_flops() // 2


def test_full_size_moe_through_transformers_runs_on_meta():
    """OLMoE's default config (13.4 B params): too big for the real-CPU fallback, so before the
    grouped_mm retry it was refused."""
    summary = summary_from_config({"model_type": "olmoe"}, seq_len=8)
    assert summary.totals.params == _transformers_params({"model_type": "olmoe"})
    assert summary.totals.params > 10**10
