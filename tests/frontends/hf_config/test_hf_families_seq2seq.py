"""Encoder-decoder families built natively (BART, mBART, Pegasus, mT5, Whisper): parameters equal
transformers' model on the meta device, multiply-adds equal FlopCounterMode / 2 of its eager
forward, for the default configs and small variants of every head netsize builds."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import netsize
from hf_support import transformers_counts
from hf_support import transformers_model as _hf
from netsize.frontends.hf_config import is_native, network_from_config

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

# small BART-like sizes (mBART and Pegasus read the same fields)
B = {"vocab_size": 97, "d_model": 32, "encoder_layers": 2, "decoder_layers": 1, "encoder_attention_heads": 4,
     "decoder_attention_heads": 2, "encoder_ffn_dim": 48, "decoder_ffn_dim": 40, "max_position_embeddings": 16}
W = {"vocab_size": 97, "d_model": 32, "encoder_layers": 2, "decoder_layers": 1, "encoder_attention_heads": 4,
     "decoder_attention_heads": 2, "encoder_ffn_dim": 48, "decoder_ffn_dim": 40, "num_mel_bins": 12,
     "max_source_positions": 10, "max_target_positions": 12, "pad_token_id": 0, "eos_token_id": 2,
     "bos_token_id": 1, "decoder_start_token_id": 1}
T = {"vocab_size": 97, "d_model": 32, "d_kv": 8, "d_ff": 48, "num_layers": 2, "num_heads": 4}

CASES = [
    ("bart", "BartForConditionalGeneration", B),
    ("bart", "BartForConditionalGeneration", {**B, "scale_embedding": True, "tie_word_embeddings": False,
                                              "activation_function": "relu", "dropout": 0.0}),
    ("bart", "BartModel", B),
    ("bart", "BartForSequenceClassification", {**B, "num_labels": 4}),
    ("bart", "BartForSequenceClassification", B),  # BartConfig's own default: 3 labels
    ("bart", "BartForSequenceClassification", {**B, "id2label": {"0": "no", "1": "yes"}}),
    ("bart", "BartForQuestionAnswering", B),
    ("bart", "BartForCausalLM", B),
    ("bart", "BartForCausalLM", {**B, "tie_word_embeddings": False}),
    ("mbart", "MBartForConditionalGeneration", B),
    ("mbart", "MBartForConditionalGeneration", {**B, "tie_word_embeddings": False, "scale_embedding": True}),
    ("mbart", "MBartModel", B),
    ("mbart", "MBartForSequenceClassification", B),
    ("mbart", "MBartForQuestionAnswering", B),
    ("mbart", "MBartForCausalLM", B),
    ("pegasus", "PegasusForConditionalGeneration", B),
    ("pegasus", "PegasusForConditionalGeneration", {**B, "tie_word_embeddings": False, "d_model": 24}),
    ("pegasus", "PegasusModel", B),
    ("pegasus", "PegasusForCausalLM", B),
    ("mt5", "MT5ForConditionalGeneration", T),
    ("mt5", "MT5ForConditionalGeneration", {**T, "num_decoder_layers": 1}),
    ("mt5", "MT5Model", {**T, "feed_forward_proj": "relu"}),
    ("mt5", "MT5EncoderModel", T),
    ("mt5", "MT5ForSequenceClassification", {**T, "num_labels": 3, "classifier_dropout": 0.1}),
    ("mt5", "MT5ForTokenClassification", {**T, "num_labels": 5, "classifier_dropout": 0.1}),
    ("mt5", "MT5ForQuestionAnswering", T),
    ("whisper", "WhisperForConditionalGeneration", W),
    ("whisper", "WhisperForConditionalGeneration", {**W, "tie_word_embeddings": False, "activation_function": "relu"}),
    ("whisper", "WhisperModel", W),
    ("whisper", "WhisperForCausalLM", W),
    ("whisper", "WhisperForAudioClassification", {**W, "num_labels": 5, "classifier_proj_size": 16}),
]

SEQ, BATCH = 6, 2


def _ids(case):
    base = {"bart": B, "mbart": B, "pegasus": B, "mt5": T, "whisper": W}[case[0]]
    return f"{case[1]}-" + "-".join(f"{k}={v}" for k, v in case[2].items() if base.get(k) != v)


def _inputs(model_type: str, arch: str, fields: dict, device: str) -> dict:
    ids = torch.full((BATCH, SEQ), 5, dtype=torch.long, device=device)
    # the sequence classifiers pool the last eos token
    ids[:, -1] = fields.get("eos_token_id", 1 if model_type == "mt5" else 2)
    if model_type == "whisper":
        frames = 2 * fields["max_source_positions"]
        features = torch.zeros(BATCH, fields["num_mel_bins"], frames, device=device)
        if arch.endswith("ForCausalLM"):
            return {"input_ids": ids}
        if arch.endswith("ForAudioClassification"):
            return {"input_features": features}
        return {"input_features": features, "decoder_input_ids": ids}
    if arch.endswith("ForCausalLM"):
        return {"input_ids": ids}
    if arch.endswith(("EncoderModel", "TokenClassification")):
        return {"input_ids": ids}
    return {"input_ids": ids, "decoder_input_ids": ids}


def _netsize(model_type: str, arch: str, fields: dict) -> netsize.Summary:
    cfg = {"model_type": model_type, "architectures": [arch], **fields}
    return netsize.analyze(network_from_config(cfg, seq_len=SEQ), batch_size=BATCH)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_params_and_multiply_adds_equal_transformers(case):
    model_type, arch, fields = case
    # the eos pooling checks token values: it runs for real on the CPU (small)
    device = "cpu" if arch.endswith("ForSequenceClassification") else "meta"
    model = _hf(model_type, arch, fields, device)
    params, macs = transformers_counts(model, **_inputs(model_type, arch, fields, device))
    summary = _netsize(model_type, arch, fields)
    assert (summary.totals.params, summary.totals.multiply_adds) == (params, macs)
    buffers = {n: b.numel() for n, b in model.named_buffers() if n == "final_logits_bias"}
    assert summary.totals.buffers == sum(buffers.values())


def _every_head():
    from netsize.frontends.hf_config._seq2seq import FAMILIES

    return [(f.model_type, arch) for f in FAMILIES for arch in f.architectures]


@pytest.mark.parametrize("model_type, arch", _every_head())
def test_default_config_params_equal_transformers(model_type, arch):
    config = transformers.AutoConfig.for_model(model_type)
    cfg = {"model_type": model_type, "architectures": [arch]}
    assert is_native(cfg)
    net = network_from_config(cfg, seq_len=4)
    with torch.device("meta"):
        model = getattr(transformers, arch)(config)
    summary = netsize.analyze(net)
    assert summary.totals.params == sum(p.numel() for p in model.parameters())
    assert summary.totals.trainable_params == sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_mt5_untied_head_as_loaded_from_a_checkpoint():
    # Published mT5 configs say tie_word_embeddings false and their checkpoints hold lm_head and shared
    # apart; transformers' MT5Config forces the flag to true, so a model built from the config ties them,
    # while from_pretrained (both tensors present, different values) leaves them untied. netsize counts
    # the model as loaded: transformers' model with lm_head given a tensor of its own, as loading does.
    fields = {**T, "tie_word_embeddings": False}
    model = _hf("mt5", "MT5ForConditionalGeneration", fields)
    assert model.lm_head.weight is model.shared.weight  # tied by the config alone
    model.lm_head.weight = torch.nn.Parameter(torch.empty_like(model.lm_head.weight))
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(**_inputs("mt5", "MT5ForConditionalGeneration", fields, "meta"))
    summary = _netsize("mt5", "MT5ForConditionalGeneration", fields)
    assert summary.totals.params == sum(p.numel() for p in model.parameters())
    assert summary.totals.multiply_adds == counter.get_total_flops() // 2
    tied = _netsize("mt5", "MT5ForConditionalGeneration", T)
    assert summary.totals.params - tied.totals.params == T["vocab_size"] * T["d_model"]


@pytest.mark.parametrize("case", [c for c in CASES if c[1].endswith(("ForConditionalGeneration", "ForCausalLM"))],
                         ids=_ids)
def test_kv_cache_per_token_is_the_decoder_self_attention_cache(case):
    """``netsize llm``'s KV cache per token: the decoder's causal self-attention, as transformers'
    cache holds it after one forward; the cross-attention cache (encoder length, fixed) is apart."""
    from netsize.llm import llm_figures

    model_type, arch, fields = case
    model = _hf(model_type, arch, fields)
    inputs = _inputs(model_type, arch, fields, "meta")
    with torch.no_grad():
        out = model(**inputs, use_cache=True)
    cache = out.past_key_values
    self_cache = getattr(cache, "self_attention_cache", cache)
    # (BART's decoder-only cache is sized by num_hidden_layers, an alias of encoder_layers: the extra
    # layers stay empty)
    held = sum(layer.keys.numel() + layer.values.numel() for layer in self_cache.layers if layer.keys is not None)
    f = llm_figures({"model_type": model_type, "architectures": [arch], **fields}, seq_len=SEQ, batch_size=BATCH)
    assert f.kv_cache_elements_per_token * BATCH * SEQ == held
    if model_type == "mt5":
        layers = fields.get("num_decoder_layers", fields["num_layers"])
        assert f.kv_cache_elements_per_token == 2 * layers * fields["num_heads"] * fields["d_kv"]
    else:
        assert f.kv_cache_elements_per_token == 2 * fields["decoder_layers"] * fields["d_model"]
    assert f.seq_len == SEQ  # Whisper: the decoder's tokens, not the log-mel features' axes


def test_whisper_reads_thirty_seconds_of_features_and_seq_len_decoder_tokens():
    net = network_from_config({"model_type": "whisper", "architectures": ["WhisperForConditionalGeneration"]})
    assert dict(net.inputs) == {"input_features": (80, 3000), "decoder_input_ids": (448,)}
    with pytest.raises(netsize.NetsizeError, match="decoder sequence length 449 exceeds max_target_positions"):
        network_from_config({"model_type": "whisper"}, seq_len=449)
    with pytest.raises(netsize.NetsizeError, match="use_weighted_layer_sum"):
        network_from_config({"model_type": "whisper", "architectures": ["WhisperForAudioClassification"],
                             "use_weighted_layer_sum": True})


def test_bart_positions_are_limited_to_max_position_embeddings():
    # the table has max_position_embeddings + 2 rows, read from row 2: 1024 usable positions of 1026
    net = network_from_config({"model_type": "bart"})
    assert net.inputs["input_ids"] == (1024,)
    with pytest.raises(netsize.NetsizeError, match="sequence length 1025 exceeds max_position_embeddings"):
        network_from_config({"model_type": "bart"}, seq_len=1025)


@pytest.mark.parametrize("bad, match", [
    ({"d_model": 30}, "'d_model' must be divisible by decoder_attention_heads"),
    ({"activation_function": "gelu_bogus"}, "'activation_function' must be one of"),
    ({"dropout": 1.5}, "'dropout' must be a finite number"),
    ({"encoder_layers": 2.0}, "'encoder_layers' must be an integer"),
])
def test_bad_fields_are_named(bad, match):
    with pytest.raises(netsize.NetsizeError, match=match):
        network_from_config({"model_type": "mbart", **bad}, seq_len=8)


# Published configs (config.json on the Hugging Face hub) and published sizes.
PUBLISHED = {
    # facebook/bart-large: "406M params" (hub page). The default BartConfig is bart-large.
    "bart-large": ({"model_type": "bart", "architectures": ["BartForConditionalGeneration"]}, 406e6, 0.5e6),
    # google/pegasus-large: "568M" (PEGASUS paper, arXiv 1912.08777, Table A.1): transformers also counts
    # the two frozen sinusoidal position tables (2 x 1024 x 1024), so the trainable params are compared.
    "pegasus-large": ({"model_type": "pegasus", "architectures": ["PegasusForConditionalGeneration"],
                       "vocab_size": 96103, "encoder_layers": 16, "decoder_layers": 16, "scale_embedding": True},
                      568e6, 1e6),
    # google/mt5-small: "300M" (mT5 paper, arXiv 2010.11934, Table 2), lm_head untied (see above).
    "mt5-small": ({"model_type": "mt5", "architectures": ["MT5ForConditionalGeneration"], "d_ff": 1024,
                   "d_kv": 64, "d_model": 512, "num_heads": 6, "num_layers": 8, "vocab_size": 250112,
                   "tie_word_embeddings": False}, 300e6, 0.5e6),
    # openai/whisper-large-v3: "1.54B params" (hub page; the paper's Table 1 rounds large to 1550M).
    "whisper-large-v3": ({"model_type": "whisper", "architectures": ["WhisperForConditionalGeneration"],
                          "d_model": 1280, "encoder_layers": 32, "decoder_layers": 32, "encoder_attention_heads": 20,
                          "decoder_attention_heads": 20, "encoder_ffn_dim": 5120, "decoder_ffn_dim": 5120,
                          "num_mel_bins": 128, "vocab_size": 51866}, 1.54e9, 0.005e9),
}


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_published_sizes(name):
    cfg, published, rounding = PUBLISHED[name]
    summary = netsize.analyze(network_from_config(cfg, seq_len=8))
    config = transformers.AutoConfig.for_model(**cfg)
    with torch.device("meta"):
        model = getattr(transformers, cfg["architectures"][0])(config)
    if name == "mt5-small":  # from_pretrained keeps the checkpoint's own lm_head (see above)
        model.lm_head.weight = torch.nn.Parameter(torch.empty_like(model.lm_head.weight))
    assert summary.totals.params == sum(p.numel() for p in model.parameters())
    counted = summary.totals.trainable_params if name == "pegasus-large" else summary.totals.params
    assert abs(counted - published) <= rounding


def test_held_but_unused_parameters_and_the_logits_bias_buffer():
    from netsize import analyze_layer
    from netsize.layers.tensor_ops import Parameter
    from netsize.layers.transformer import BiasAdd

    unused = analyze_layer("encoder_attn", Parameter((16640,), used=False), ())
    assert (unused.params, unused.output_shape, unused.activation_elements) == (16640, (), 1)
    bias = analyze_layer("final_logits_bias", BiasAdd(97, buffer=True), ((2, 6, 97),))
    assert (bias.params, bias.buffers, bias.other_ops, bias.output_shape) == (0, 97, 2 * 6 * 97, (2, 6, 97))
    # BartForCausalLM's decoder layers hold an encoder_attn they never run: counted, no activations
    # but the scalar placeholder
    net = network_from_config({"model_type": "bart", "architectures": ["BartForCausalLM"], **B}, seq_len=SEQ)
    rows = {r.name: r for r in netsize.analyze(net).layers}
    assert rows["model.decoder.layers.0.encoder_attn"].params == 4 * 32 * 32 + 4 * 32
    assert rows["model.decoder.layers.0.encoder_attn"].activation_elements == 1


@st.composite
def _encoder_decoder_configs(draw):
    model_type = draw(st.sampled_from(["bart", "mbart", "pegasus", "whisper"]))
    stem = {"bart": "Bart", "mbart": "MBart", "pegasus": "Pegasus", "whisper": "Whisper"}[model_type]
    head = draw(st.sampled_from(["ForConditionalGeneration", "Model", "ForCausalLM"]))
    enc_heads, dec_heads = draw(st.sampled_from([1, 2, 4])), draw(st.sampled_from([1, 2, 4]))
    fields = {
        "vocab_size": draw(st.integers(8, 64)), "d_model": 4 * draw(st.integers(1, 6)),
        "encoder_layers": draw(st.integers(0, 2)), "decoder_layers": draw(st.integers(0, 2)),
        "encoder_attention_heads": enc_heads, "decoder_attention_heads": dec_heads,
        "encoder_ffn_dim": draw(st.integers(1, 24)), "decoder_ffn_dim": draw(st.integers(1, 24)),
        "tie_word_embeddings": draw(st.booleans()), "scale_embedding": draw(st.booleans()),
        "activation_function": draw(st.sampled_from(["gelu", "relu", "silu", "gelu_new"])),
        "dropout": draw(st.sampled_from([0.0, 0.1])), "attention_dropout": draw(st.sampled_from([0.0, 0.2])),
        "activation_dropout": draw(st.sampled_from([0.0, 0.3])), "pad_token_id": 0, "eos_token_id": 2,
    }
    if model_type == "whisper":
        fields.update(num_mel_bins=draw(st.integers(1, 8)), max_source_positions=draw(st.integers(1, 8)),
                      max_target_positions=draw(st.integers(SEQ, 10)), bos_token_id=1, decoder_start_token_id=1)
    else:
        fields["max_position_embeddings"] = draw(st.integers(SEQ, 12))
    return model_type, stem + head, fields


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(_encoder_decoder_configs())
def test_random_encoder_decoders_equal_transformers(case):
    model_type, arch, fields = case
    model = _hf(model_type, arch, fields)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(**_inputs(model_type, arch, fields, "meta"))
    summary = _netsize(model_type, arch, fields)
    assert summary.totals.params == sum(p.numel() for p in model.parameters())
    assert summary.totals.trainable_params == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert summary.totals.multiply_adds == counter.get_total_flops() // 2


def test_cli_llm_and_summary_on_a_whisper_config(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"model_type": "whisper", "architectures": ["WhisperForConditionalGeneration"]}))
    env = {**os.environ, "COLUMNS": "200"}
    llm = subprocess.run([sys.executable, "-m", "netsize", "llm", str(cfg), "--format", "json"], capture_output=True,
                         text=True, env=env, timeout=120)
    assert llm.returncode == 0, llm.stderr
    figures = json.loads(llm.stdout)
    assert (figures["params"], figures["seq_len"]) == (37760640, 448)  # whisper-tiny; 448 decoder tokens
    assert figures["kv_cache_elements_per_token"] == 4 * 2 * 384
    summary = subprocess.run([sys.executable, "-m", "netsize", "summary", str(cfg), "--seq-len", "449"],
                             capture_output=True, text=True, env=env, timeout=120)
    assert summary.returncode == 2
    assert "decoder sequence length 449 exceeds max_target_positions (448)" in summary.stderr
    assert "Traceback" not in summary.stderr
