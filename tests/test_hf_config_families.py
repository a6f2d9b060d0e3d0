"""Families built natively (no transformers import): parameters equal the transformers model
built from the same config on the meta device, multiply-adds equal FlopCounterMode / 2 of its
eager forward, for each family's default config and small variants (GQA, head_dim, tied and
untied, biases, MoE shapes, heads)."""

from __future__ import annotations

import pytest

import netsize
from netsize.frontends.hf_config import network_from_config

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

S = {"vocab_size": 97, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
     "intermediate_size": 96, "max_position_embeddings": 64}
MOE = {"num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 32}

# (model_type, architecture, fields)
CASES = [
    ("qwen3", "Qwen3ForCausalLM", {**S, "head_dim": 16}),
    ("qwen3", "Qwen3ForCausalLM", {**S, "head_dim": 8, "attention_bias": True, "tie_word_embeddings": True}),
    ("qwen3", "Qwen3ForSequenceClassification", {**S, "head_dim": 16, "num_labels": 3, "pad_token_id": 0}),
    ("qwen3_moe", "Qwen3MoeForCausalLM", {**S, **MOE, "head_dim": 16}),
    ("qwen3_moe", "Qwen3MoeForCausalLM", {**S, **MOE, "head_dim": 16, "num_hidden_layers": 3,
                                          "decoder_sparse_step": 2, "mlp_only_layers": [0]}),
    ("qwen2_moe", "Qwen2MoeForCausalLM", {**S, **MOE, "shared_expert_intermediate_size": 48}),
    ("qwen2_moe", "Qwen2MoeModel", {**S, **MOE, "shared_expert_intermediate_size": 40, "qkv_bias": False,
                                    "mlp_only_layers": [1]}),
    ("gemma", "GemmaForCausalLM", {**S, "head_dim": 32}),
    ("gemma", "GemmaForCausalLM", {**S, "num_key_value_heads": 1, "head_dim": 16, "tie_word_embeddings": False,
                                   "attention_bias": True}),
    ("gemma2", "Gemma2ForCausalLM", {**S, "head_dim": 16, "sliding_window": 4, "query_pre_attn_scalar": 16}),
    ("gemma2", "Gemma2ForTokenClassification", {**S, "head_dim": 16, "num_labels": 5}),
    ("gemma3_text", "Gemma3ForCausalLM", {**S, "head_dim": 16, "sliding_window": 4, "num_hidden_layers": 3,
                                          "sliding_window_pattern": 2}),
    ("phi3", "Phi3ForCausalLM", {**S, "pad_token_id": 0}),
    ("phi3", "Phi3ForCausalLM", {**S, "pad_token_id": 0, "num_key_value_heads": 4, "resid_pdrop": 0.1,
                                 "sliding_window": 5, "tie_word_embeddings": True}),
    ("olmo", "OlmoForCausalLM", {**S, "pad_token_id": 0}),
    ("olmo", "OlmoModel", {**S, "pad_token_id": 0, "attention_bias": True, "clip_qkv": 8.0}),
    ("olmo2", "Olmo2ForCausalLM", {**S, "pad_token_id": 0}),
    ("granite", "GraniteForCausalLM", {**S, "mlp_bias": True, "attention_bias": True, "embedding_multiplier": 12.0,
                                       "residual_multiplier": 0.22, "logits_scaling": 8.0}),
    ("starcoder2", "Starcoder2ForCausalLM", S),
    ("starcoder2", "Starcoder2ForCausalLM", {**S, "use_bias": False, "tie_word_embeddings": False,
                                             "sliding_window": 4, "hidden_act": "gelu"}),
    ("cohere", "CohereForCausalLM", S),
    ("cohere", "CohereForCausalLM", {**S, "use_qk_norm": True, "tie_word_embeddings": False}),
    ("llama", "LlamaForSequenceClassification", {**S, "num_labels": 4, "pad_token_id": 0}),
    ("llama", "LlamaForTokenClassification", {**S, "num_labels": 4}),
    ("llama", "LlamaForQuestionAnswering", S),
    ("mistral", "MistralForSequenceClassification", {**S, "pad_token_id": 0}),
    ("gpt2", "GPT2ForSequenceClassification", {"n_embd": 32, "n_layer": 2, "n_head": 4, "vocab_size": 50,
                                               "pad_token_id": 0}),
    ("gpt2", "GPT2ForTokenClassification", {"n_embd": 32, "n_layer": 2, "n_head": 4, "vocab_size": 50,
                                            "num_labels": 7}),
    ("gpt2", "GPT2ForQuestionAnswering", {"n_embd": 32, "n_layer": 2, "n_head": 4, "vocab_size": 50}),
    ("bert", "BertForTokenClassification", {**S, "num_key_value_heads": None}),
    ("bert", "BertForQuestionAnswering", {**S, "num_key_value_heads": None}),
    ("bert", "BertForPreTraining", {**S, "num_key_value_heads": None}),
    ("bert", "BertForNextSentencePrediction", {**S, "num_key_value_heads": None}),
    ("bert", "BertLMHeadModel", {**S, "num_key_value_heads": None, "is_decoder": True}),
]


def _fields(fields: dict) -> dict:
    return {k: v for k, v in fields.items() if v is not None}


def _ids(case):
    return f"{case[1]}-" + "-".join(f"{k}={v}" for k, v in case[2].items() if k not in S and k not in MOE)


def _hf(model_type: str, arch: str, fields: dict, device: str = "meta"):
    config = transformers.AutoConfig.for_model(model_type, **_fields(fields))
    config._attn_implementation = "eager"
    config._experts_implementation = "eager"
    with torch.device(device):
        return getattr(transformers, arch)(config)


def _netsize(model_type: str, arch: str, fields: dict, seq: int, batch: int) -> netsize.Summary:
    cfg = {"model_type": model_type, "architectures": [arch], **_fields(fields)}
    return netsize.analyze(network_from_config(cfg, seq_len=seq), batch_size=batch)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_params_and_multiply_adds_equal_transformers(case):
    model_type, arch, fields = case
    moe = "moe" in model_type
    # Expert loops need real routing decisions, and GPT-2's sequence classifier finds the last
    # non-padding token by value: those run for real on the CPU (small).
    device = "cpu" if moe or arch == "GPT2ForSequenceClassification" else "meta"
    model = _hf(model_type, arch, fields, device)
    ids = torch.ones(2, 6, dtype=torch.long, device=device)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(input_ids=ids)
    summary = _netsize(model_type, arch, fields, 6, 2)
    assert summary.totals.params == sum(p.numel() for p in model.parameters())
    assert summary.totals.multiply_adds == counter.get_total_flops() // 2


NEW_FAMILIES = ["qwen3", "qwen3_moe", "qwen2_moe", "gemma", "gemma2", "gemma3_text", "phi3", "olmo", "olmo2",
                "granite", "starcoder2", "cohere"]


@pytest.mark.parametrize("model_type", NEW_FAMILIES)
def test_default_config_params_equal_transformers(model_type):
    config = transformers.AutoConfig.for_model(model_type)
    net = network_from_config({"model_type": model_type}, seq_len=4)
    with torch.device("meta"):
        model = getattr(transformers, net.name)(config)
    assert netsize.analyze(net).totals.params == sum(p.numel() for p in model.parameters())
