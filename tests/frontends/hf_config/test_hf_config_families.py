"""Families built natively (no transformers import): parameters equal the transformers model
built from the same config on the meta device, multiply-adds equal FlopCounterMode / 2 of its
eager forward, for each family's default config and small variants (GQA, head_dim, tied and
untied, biases, MoE shapes, heads)."""

from __future__ import annotations

import pytest

import netsize
from hf_support import transformers_counts
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
    ("roberta", "RobertaModel", {**S, "num_key_value_heads": None}),
    ("roberta", "RobertaForMaskedLM", {**S, "num_key_value_heads": None}),
    ("roberta", "RobertaForMaskedLM", {**S, "num_key_value_heads": None, "tie_word_embeddings": False}),
    ("roberta", "RobertaForSequenceClassification", {**S, "num_key_value_heads": None, "num_labels": 3}),
    ("roberta", "RobertaForTokenClassification", {**S, "num_key_value_heads": None}),
    ("roberta", "RobertaForQuestionAnswering", {**S, "num_key_value_heads": None}),
    ("roberta", "RobertaForCausalLM", {**S, "num_key_value_heads": None, "is_decoder": True}),
    ("gpt_neox", "GPTNeoXForCausalLM", {**S, "num_key_value_heads": None}),
    ("gpt_neox", "GPTNeoXForCausalLM", {**S, "num_key_value_heads": None, "use_parallel_residual": False,
                                        "attention_bias": False, "tie_word_embeddings": True}),
    ("gpt_neox", "GPTNeoXForTokenClassification", {**S, "num_key_value_heads": None, "num_labels": 3}),
    ("phi", "PhiForCausalLM", {**S, "num_key_value_heads": None}),
    ("phi", "PhiForCausalLM", {**S, "qk_layernorm": True, "resid_pdrop": 0.1}),
    ("phi", "PhiForCausalLM", {**S, "num_key_value_heads": None, "tie_word_embeddings": True}),
    ("xlm-roberta", "XLMRobertaForMaskedLM", {**S, "num_key_value_heads": None, "pad_token_id": 0}),
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
    params, macs = transformers_counts(model, input_ids=torch.ones(2, 6, dtype=torch.long, device=device))
    summary = _netsize(model_type, arch, fields, 6, 2)
    assert (summary.totals.params, summary.totals.multiply_adds) == (params, macs)


NEW_FAMILIES = ["qwen3", "qwen3_moe", "qwen2_moe", "gemma", "gemma2", "gemma3_text", "phi3", "olmo", "olmo2",
                "deepseek_v3", "granite", "starcoder2", "cohere", "roberta", "xlm-roberta", "gpt_neox", "phi"]


@pytest.mark.parametrize("model_type", NEW_FAMILIES)
def test_default_config_params_equal_transformers(model_type):
    config = transformers.AutoConfig.for_model(model_type)
    net = network_from_config({"model_type": model_type}, seq_len=4)
    with torch.device("meta"):
        model = getattr(transformers, net.name)(config)
    assert netsize.analyze(net).totals.params == sum(p.numel() for p in model.parameters())


MLA = {"vocab_size": 97, "hidden_size": 64, "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 4,
       "intermediate_size": 96, "max_position_embeddings": 64, "n_routed_experts": 8, "n_group": 2, "topk_group": 1,
       "num_experts_per_tok": 2, "moe_intermediate_size": 16, "first_k_dense_replace": 1, "kv_lora_rank": 16,
       "q_lora_rank": 24, "qk_rope_head_dim": 8, "qk_nope_head_dim": 12, "v_head_dim": 10, "n_shared_experts": 2}


@pytest.mark.parametrize("extra", [{}, {"q_lora_rank": None, "attention_bias": True}], ids=["q_lora", "q_proj"])
def test_deepseek_v3_latent_attention_experts_and_latent_cache_equal_transformers(extra):
    from netsize.frontends.hf_config._transformers import cache_elements
    from netsize.llm import llm_figures

    fields = {**MLA, **extra}
    model = _hf("deepseek_v3", "DeepseekV3ForCausalLM", fields, device="cpu")
    ids = torch.ones(2, 6, dtype=torch.long)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(input_ids=ids)
    summary = _netsize("deepseek_v3", "DeepseekV3ForCausalLM", fields, 6, 2)
    assert summary.totals.params == sum(p.numel() for p in model.parameters())
    assert summary.totals.multiply_adds == counter.get_total_flops() // 2
    # The cache holds the compressed latent: (kv_lora_rank + qk_rope_head_dim) per token and layer.
    f = llm_figures({"model_type": "deepseek_v3", **fields}, seq_len=6, batch_size=2)
    assert f.kv_cache_elements_per_token == 3 * (16 + 8)
    assert f.kv_cache_bytes_context["float32"] == 4 * cache_elements(model, {"input_ids": ids})


# Published configs (their config.json files on the Hugging Face hub) and published sizes.
PUBLISHED = {
    # google/gemma-2-9b: "9B" (model card; 9.24B on the hub page)
    "gemma-2-9b": ({"architectures": ["Gemma2ForCausalLM"], "model_type": "gemma2", "hidden_size": 3584,
                    "intermediate_size": 14336, "num_hidden_layers": 42, "num_attention_heads": 16,
                    "num_key_value_heads": 8, "head_dim": 256, "vocab_size": 256000, "max_position_embeddings": 8192,
                    "sliding_window": 4096, "query_pre_attn_scalar": 256, "final_logit_softcapping": 30.0,
                    "attn_logit_softcapping": 50.0, "hidden_activation": "gelu_pytorch_tanh"}, 9.24e9, 0.01e9),
    # microsoft/Phi-3-mini-4k-instruct: "3.8B parameters" (model card)
    "phi-3-mini-4k": ({"architectures": ["Phi3ForCausalLM"], "model_type": "phi3", "hidden_size": 3072,
                       "intermediate_size": 8192, "num_hidden_layers": 32, "num_attention_heads": 32,
                       "num_key_value_heads": 32, "vocab_size": 32064, "max_position_embeddings": 4096,
                       "sliding_window": 2047, "pad_token_id": 32000, "tie_word_embeddings": False}, 3.8e9, 0.05e9),
    # Qwen/Qwen3-8B: "Number of Parameters: 8.2B; Non-Embedding: 6.95B" (model card)
    "qwen3-8b": ({"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_size": 4096,
                  "intermediate_size": 12288, "num_hidden_layers": 36, "num_attention_heads": 32,
                  "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936, "max_position_embeddings": 40960,
                  "tie_word_embeddings": False, "max_window_layers": 36}, 8.2e9, 0.05e9),
    # DeepSeek-V3 technical report (arXiv 2412.19437): "671B total parameters with 37B activated for
    # each token", the multi-token-prediction module excluded (the hub checkpoint's 685B include it).
    "deepseek-v3": ({"architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3"}, 671e9, 0.5e9),
}


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_published_sizes(name):
    from netsize.llm import llm_figures

    cfg, published, rounding = PUBLISHED[name]
    f = llm_figures(cfg, seq_len=8)
    config = transformers.AutoConfig.for_model(**cfg)
    with torch.device("meta"):
        model = getattr(transformers, cfg["architectures"][0])(config)
    assert f.params == sum(p.numel() for p in model.parameters())
    assert abs(f.params - published) <= rounding
    if name == "qwen3-8b":  # non-embedding: without the input embeddings and the untied LM head
        assert round((f.params - 2 * f.embedding_params) / 1e9, 2) == 6.95
    if name == "deepseek-v3":
        # Activated: all but 256 - 8 routed experts (3*7168*2048 each) in each of the 61 - 3 MoE layers:
        # 37.55B with the input embeddings (a lookup), 36.6B without; the report says "37B".
        inactive = (61 - 3) * (256 - 8) * 3 * 7168 * 2048
        assert f.active_params == f.params - inactive
        assert 36.5e9 < f.active_params - f.embedding_params < 37e9 < f.active_params < 38e9


def test_roberta_sequence_is_limited_by_positions_after_padding():
    cfg = {"model_type": "roberta", "max_position_embeddings": 514}
    assert network_from_config(cfg).inputs["input_ids"] == (512,)  # roberta-base: 514 - 1 - 1
    with pytest.raises(netsize.NetsizeError, match="exceeds the 512 positions"):
        network_from_config(cfg, seq_len=513)
