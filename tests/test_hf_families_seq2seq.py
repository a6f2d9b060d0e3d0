"""Encoder-decoder families built natively (BART, mBART, Pegasus, mT5, Whisper): parameters equal
transformers' model on the meta device, multiply-adds equal FlopCounterMode / 2 of its eager
forward, for the default configs and small variants of every head netsize builds."""

from __future__ import annotations

import pytest

import netsize
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
    ("bart", "BartForSequenceClassification", {**B, "num_labels": 3}),
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
    ("mt5", "MT5ForConditionalGeneration", {**T, "num_decoder_layers": 1, "tie_word_embeddings": False}),
    ("mt5", "MT5Model", {**T, "feed_forward_proj": "relu"}),
    ("mt5", "MT5EncoderModel", T),
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


def _hf(model_type: str, arch: str, fields: dict, device: str = "meta"):
    config = transformers.AutoConfig.for_model(model_type, **fields)
    config._attn_implementation = "eager"
    with torch.device(device):
        return getattr(transformers, arch)(config)


def _inputs(model_type: str, arch: str, fields: dict, device: str) -> dict:
    ids = torch.full((BATCH, SEQ), 5, dtype=torch.long, device=device)
    ids[:, -1] = fields.get("eos_token_id", 2)  # the sequence classifier pools the last eos token
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
    if arch.endswith("EncoderModel"):
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
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(**_inputs(model_type, arch, fields, device))
    summary = _netsize(model_type, arch, fields)
    assert summary.totals.params == sum(p.numel() for p in model.parameters())
    assert summary.totals.multiply_adds == counter.get_total_flops() // 2
    buffers = {n: b.numel() for n, b in model.named_buffers() if n == "final_logits_bias"}
    assert summary.totals.buffers == sum(buffers.values())


@pytest.mark.parametrize("model_type", ["bart", "mbart", "pegasus", "mt5", "whisper"])
def test_default_config_params_equal_transformers(model_type):
    config = transformers.AutoConfig.for_model(model_type)
    net = network_from_config({"model_type": model_type}, seq_len=4)
    assert is_native({"model_type": model_type})
    with torch.device("meta"):
        model = getattr(transformers, net.name)(config)
    assert netsize.analyze(net).totals.params == sum(p.numel() for p in model.parameters())
