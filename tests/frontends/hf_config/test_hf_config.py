"""The config frontend against transformers: parameters of the model built from the same config
on the meta device, and FlopCounterMode multiply-adds of its forward pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import netsize
from netsize.frontends.hf_config import SUPPORTED, network_from_config

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

REFERENCE = Path(__file__).resolve().parents[2] / "data" / "reference" / "transformers_params.json"

SMALL_DECODER = {"vocab_size": 97, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                 "intermediate_size": 96, "max_position_embeddings": 64}

# (model_type, architecture, non-default fields): several per family, including GQA/MQA head
# counts, explicit head_dim, untied and tied embeddings, biases, MoE, other vocab/FFN sizes.
CONFIGS = [
    ("gpt2", "GPT2LMHeadModel", {"vocab_size": 97, "n_embd": 48, "n_layer": 2, "n_head": 4, "n_positions": 32}),
    ("gpt2", "GPT2LMHeadModel", {"vocab_size": 50, "n_embd": 32, "n_layer": 3, "n_head": 2, "n_positions": 16,
                                 "n_inner": 40, "tie_word_embeddings": False, "activation_function": "relu"}),
    ("gpt2", "GPT2Model", {"vocab_size": 61, "n_embd": 32, "n_layer": 1, "n_head": 8, "n_positions": 20}),
    ("bert", "BertModel", {**SMALL_DECODER, "type_vocab_size": 3}),
    ("bert", "BertForMaskedLM", SMALL_DECODER),
    ("bert", "BertForMaskedLM", {**SMALL_DECODER, "tie_word_embeddings": False}),
    ("bert", "BertForSequenceClassification", {**SMALL_DECODER, "num_labels": 5}),
    ("llama", "LlamaForCausalLM", {**SMALL_DECODER, "num_key_value_heads": 2}),
    ("llama", "LlamaForCausalLM", {**SMALL_DECODER, "num_key_value_heads": 1, "tie_word_embeddings": True}),
    ("llama", "LlamaForCausalLM", {**SMALL_DECODER, "head_dim": 24, "attention_bias": True, "mlp_bias": True}),
    ("llama", "LlamaModel", {**SMALL_DECODER, "num_key_value_heads": 2}),
    ("mistral", "MistralForCausalLM", {**SMALL_DECODER, "num_key_value_heads": 2, "sliding_window": 4}),
    ("mistral", "MistralForCausalLM", {**SMALL_DECODER, "num_key_value_heads": 4, "head_dim": 8}),
    ("qwen2", "Qwen2ForCausalLM", {**SMALL_DECODER, "num_key_value_heads": 2, "tie_word_embeddings": True}),
    ("qwen2", "Qwen2ForCausalLM", {**SMALL_DECODER, "num_key_value_heads": 1}),
    ("mixtral", "MixtralForCausalLM", {**SMALL_DECODER, "num_key_value_heads": 2, "num_local_experts": 4,
                                       "num_experts_per_tok": 2}),
    ("mixtral", "MixtralForCausalLM", {**SMALL_DECODER, "num_key_value_heads": 4, "num_local_experts": 3,
                                       "num_experts_per_tok": 1,
                                       "tie_word_embeddings": True}),
    ("t5", "T5ForConditionalGeneration", {"vocab_size": 97, "d_model": 32, "d_kv": 8, "d_ff": 48, "num_layers": 2,
                                          "num_heads": 4}),
    ("t5", "T5ForConditionalGeneration", {"vocab_size": 97, "d_model": 32, "d_kv": 12, "d_ff": 40, "num_layers": 2,
                                          "num_decoder_layers": 3, "num_heads": 2, "feed_forward_proj": "gated-gelu",
                                          "tie_word_embeddings": False}),
    ("t5", "T5Model", {"vocab_size": 50, "d_model": 32, "d_kv": 8, "d_ff": 48, "num_layers": 1, "num_heads": 4}),
    ("t5", "T5EncoderModel", {"vocab_size": 50, "d_model": 32, "d_kv": 8, "d_ff": 48, "num_layers": 2, "num_heads": 4}),
]


def _ids(cfg):
    return "-".join([cfg[1]] + [f"{k}={v}" for k, v in cfg[2].items() if k not in SMALL_DECODER])


def _hf_model(model_type: str, arch: str, fields: dict, device: str = "meta", attn: str = "eager"):
    config = transformers.AutoConfig.for_model(model_type, **fields)
    config._attn_implementation = attn
    if model_type == "mixtral":
        config._experts_implementation = "eager"
    with torch.device(device):
        return getattr(transformers, arch)(config)


def _hf_macs(model, model_type: str, batch: int, seq: int, device: str) -> int:
    ids = torch.zeros(batch, seq, dtype=torch.long, device=device)
    counter = FlopCounterMode(display=False)
    kwargs = {"input_ids": ids}
    if model_type == "t5" and not isinstance(model, transformers.T5EncoderModel):
        kwargs["decoder_input_ids"] = ids
    with counter, torch.no_grad():
        model(**kwargs)
    return counter.get_total_flops() // 2


def _netsize(model_type: str, arch: str, fields: dict, seq: int = 8, batch: int = 1) -> netsize.Summary:
    net = network_from_config({"model_type": model_type, "architectures": [arch], **fields}, seq_len=seq)
    return netsize.analyze(net, batch_size=batch)


@pytest.mark.parametrize("case", CONFIGS, ids=_ids)
def test_params_equal_transformers_model_built_from_same_config(case):
    model_type, arch, fields = case
    model = _hf_model(model_type, arch, fields)
    expected = sum(p.numel() for p in model.parameters())
    assert _netsize(model_type, arch, fields).totals.params == expected


@pytest.mark.parametrize("case", CONFIGS, ids=_ids)
@pytest.mark.parametrize(("batch", "seq"), [(1, 8), (2, 5)])
def test_multiply_adds_equal_flop_counter_of_eager_forward(case, batch, seq):
    model_type, arch, fields = case
    # Mixtral's per-expert loop needs real routing decisions: a small real model on the CPU.
    device = "cpu" if model_type == "mixtral" else "meta"
    model = _hf_model(model_type, arch, fields, device=device)
    expected = _hf_macs(model, model_type, batch, seq, device)
    assert _netsize(model_type, arch, fields, seq=seq, batch=batch).totals.multiply_adds == expected


@pytest.mark.parametrize("case", [c for c in CONFIGS if c[0] != "mixtral"][::3], ids=_ids)
def test_multiply_adds_equal_flop_counter_with_default_sdpa_on_meta(case):
    # transformers picks SDPA by default; on the meta device it decomposes into counted matmuls.
    model_type, arch, fields = case
    model = _hf_model(model_type, arch, fields, attn="sdpa")
    expected = _hf_macs(model, model_type, 1, 8, "meta")
    assert _netsize(model_type, arch, fields).totals.multiply_adds == expected


@pytest.mark.parametrize("name", ["gpt2", "bert-base-uncased", "llama-2-7b", "t5-small"])
def test_reference_parameter_counts(name):
    ref = json.loads(REFERENCE.read_text())[name]
    net = network_from_config(ref["config"], seq_len=16)
    assert net.name == ref["model_class"]
    assert netsize.analyze(net).totals.params == ref["params"]


@pytest.mark.parametrize("model_type", SUPPORTED)
def test_missing_fields_take_transformers_defaults(model_type):
    config = transformers.AutoConfig.for_model(model_type)
    arch = network_from_config({"model_type": model_type}, seq_len=4).name
    with torch.device("meta"):
        model = getattr(transformers, arch)(config)
    assert netsize.analyze(network_from_config({"model_type": model_type}, seq_len=4)).totals.params == sum(
        p.numel() for p in model.parameters()
    )


def test_reads_config_from_file_and_folder(tmp_path):
    ref = json.loads(REFERENCE.read_text())["gpt2"]["config"]
    (tmp_path / "config.json").write_text(json.dumps(ref))
    by_file = netsize.analyze(network_from_config(tmp_path / "config.json", seq_len=4)).totals.params
    by_dir = netsize.analyze(network_from_config(str(tmp_path), seq_len=4)).totals.params
    assert by_file == by_dir == 124_439_808


def test_unknown_model_type_lists_supported_ones():
    with pytest.raises(netsize.NetsizeError) as err:
        network_from_config({"model_type": "no_such_family"})
    message = str(err.value)
    assert "'no_such_family'" in message
    for name in SUPPORTED:
        assert name in message


def test_unknown_architecture_lists_supported_ones():
    with pytest.raises(netsize.NetsizeError, match="LlamaForCausalLM, LlamaModel"):
        network_from_config({"model_type": "llama", "architectures": ["LlamaForMultipleChoice"]})


def test_default_sequence_length_is_capped_position_limit():
    assert network_from_config({"model_type": "bert"}).inputs["input_ids"] == (512,)
    assert network_from_config({"model_type": "mistral"}).inputs["input_ids"] == (1024,)
    assert network_from_config({"model_type": "t5"}).inputs["decoder_input_ids"] == (512,)


def test_sequence_longer_than_learned_positions_is_an_error():
    with pytest.raises(netsize.NetsizeError, match="exceeds the 1024 learned positions"):
        netsize.analyze(network_from_config({"model_type": "gpt2"}, seq_len=2048))


def test_layer_names_follow_transformers_modules():
    case = CONFIGS[7]
    model = _hf_model(*case)
    hf_names = {name for name, _ in model.named_modules()}
    summary = _netsize(*case)
    with_params = [r.name for r in summary.layers if r.params]
    assert with_params and all(name in hf_names for name in with_params)
    per_layer = {r.name: r.params for r in summary.rows(depth=3)}
    hf_layer0 = sum(p.numel() for p in model.model.layers[0].parameters())
    assert per_layer["model.layers.0"] == hf_layer0


def test_cli_summary_reads_config_with_seq_len_and_batch(tmp_path):
    import subprocess
    import sys

    ref = json.loads(REFERENCE.read_text())["gpt2"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(ref["config"]))
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from netsize.cli import main; sys.exit(main(sys.argv[1:]))",
         "summary", str(path), "--seq-len", "32", "--batch-size", "2", "--format", "json"],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    expected = netsize.analyze(network_from_config(ref["config"], seq_len=32), batch_size=2).totals
    assert data["input_shape"] == [2, 32]
    assert data["totals"]["params"] == ref["params"] == expected.params
    assert data["totals"]["multiply_adds"] == expected.multiply_adds


MIXTRAL = ("mixtral", "MixtralForCausalLM", {**SMALL_DECODER, "num_key_value_heads": 2, "num_local_experts": 4,
                                             "num_experts_per_tok": 2})


def test_mixtral_batched_experts_on_meta_equal_top_k_multiply_adds():
    # batched_mm gathers each token's k experts: exactly k expert passes per token.
    model_type, _arch, fields = MIXTRAL
    config = transformers.AutoConfig.for_model(model_type, **fields)
    config._attn_implementation = "eager"
    config._experts_implementation = "batched_mm"
    with torch.device("meta"):
        model = transformers.MixtralForCausalLM(config)
    assert _netsize(*MIXTRAL, seq=6, batch=2).totals.multiply_adds == _hf_macs(model, model_type, 2, 6, "meta")


def test_mixtral_default_grouped_experts_are_invisible_to_flop_counter():
    # transformers' default grouped_mm kernel has no FlopCounterMode formula: the counter sees
    # everything but the experts. netsize counts the experts (top-k per token) regardless.
    model_type, _arch, fields = MIXTRAL
    config = transformers.AutoConfig.for_model(model_type, **fields)
    config._attn_implementation = "eager"
    config._experts_implementation = "grouped_mm"
    with torch.device("meta"):
        model = transformers.MixtralForCausalLM(config).to(torch.bfloat16)
    summary = _netsize(*MIXTRAL, seq=8)
    tokens = 8
    router = tokens * fields["hidden_size"] * fields["num_local_experts"]
    experts = sum(r.multiply_adds - router for r in summary.layers if r.kind == "MixtureOfExperts")
    assert experts > 0
    assert _hf_macs(model, model_type, 1, 8, "meta") == summary.totals.multiply_adds - experts


# Published model configs as their config.json files state them (older key names included).
PUBLISHED = {
    "llama-3-8b": {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
                   "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
                   "num_key_value_heads": 8, "vocab_size": 128256, "max_position_embeddings": 8192,
                   "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "tie_word_embeddings": False,
                   "bos_token_id": 128000, "eos_token_id": 128001},
    "llama-3.2-1b": {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 2048,
                     "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 32,
                     "num_key_value_heads": 8, "head_dim": 64, "vocab_size": 128256,
                     "max_position_embeddings": 131072, "rms_norm_eps": 1e-5, "tie_word_embeddings": True,
                     "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                                      "original_max_position_embeddings": 8192, "rope_type": "llama3"},
                     "rope_theta": 500000.0, "bos_token_id": 128000, "eos_token_id": 128001},
    "mistral-7b-v0.1": {"architectures": ["MistralForCausalLM"], "model_type": "mistral", "hidden_size": 4096,
                        "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
                        "num_key_value_heads": 8, "vocab_size": 32000, "max_position_embeddings": 32768,
                        "sliding_window": 4096, "rms_norm_eps": 1e-5, "tie_word_embeddings": False},
    "mixtral-8x7b": {"architectures": ["MixtralForCausalLM"], "model_type": "mixtral", "hidden_size": 4096,
                     "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
                     "num_key_value_heads": 8, "num_local_experts": 8, "num_experts_per_tok": 2,
                     "vocab_size": 32000, "max_position_embeddings": 32768, "rms_norm_eps": 1e-5},
    "qwen2-0.5b": {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 896,
                   "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14,
                   "num_key_value_heads": 2, "vocab_size": 151936, "max_position_embeddings": 131072,
                   "rms_norm_eps": 1e-6, "tie_word_embeddings": True, "use_sliding_window": False,
                   "sliding_window": 131072, "max_window_layers": 24},
}


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_published_configs_equal_transformers_on_meta(name):
    cfg = dict(PUBLISHED[name])
    model_type, arch = cfg["model_type"], cfg["architectures"][0]
    config = transformers.AutoConfig.for_model(**cfg)
    with torch.device("meta"):
        model = getattr(transformers, arch)(config)
    assert netsize.analyze(network_from_config(cfg, seq_len=8)).totals.params == sum(
        p.numel() for p in model.parameters()
    ), model_type


@pytest.mark.parametrize("name", ["gpt2", "bert-base-uncased", "llama-2-7b", "t5-small"])
def test_reference_models_multiply_adds_equal_flop_counter(name):
    ref = json.loads(REFERENCE.read_text())[name]
    cfg = ref["config"]
    config = transformers.AutoConfig.for_model(**{k: v for k, v in cfg.items() if k != "transformers_version"})
    config._attn_implementation = "eager"
    with torch.device("meta"):
        model = getattr(transformers, ref["model_class"])(config)
    expected = _hf_macs(model, cfg["model_type"], 1, 8, "meta")
    assert netsize.analyze(network_from_config(cfg, seq_len=8)).totals.multiply_adds == expected


def test_kv_cache_follows_use_cache_on_causal_self_attention_only():
    """transformers' use_cache (default True) gives causal decoders a KV cache; BERT (encoder) none."""
    from netsize.layers import ScaledDotProductAttention

    def cores(cfg):
        net = network_from_config(cfg, seq_len=8)
        return [n.layer for n in net.nodes if isinstance(n.layer, ScaledDotProductAttention)]

    for model_type in ("gpt2", "llama", "mistral", "qwen2"):
        assert all(c.kv_cache for c in cores({"model_type": model_type, "num_hidden_layers": 2, "n_layer": 2}))
        assert not any(c.kv_cache for c in cores({"model_type": model_type, "use_cache": False,
                                                  "num_hidden_layers": 2, "n_layer": 2}))
    assert not any(c.kv_cache for c in cores({"model_type": "bert", "num_hidden_layers": 2}))
    for model_type in ("gpt2", "llama", "bert"):
        config = transformers.AutoConfig.for_model(model_type)
        assert config.use_cache is True  # the default the frontend assumes
