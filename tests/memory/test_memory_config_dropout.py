"""Dropout in every config family, on the memory side: the network the config frontend builds
keeps what the transformers model keeps in training (the dropout masks and what the dropped
tensors' users save), checked against a torch run of that model through the module method.

Mixtral is not here: its expert routing (``nonzero`` of the router's choice) depends on values,
which the meta device does not have, so the module method cannot run it."""

from __future__ import annotations

import pytest

from netsize.memory import estimate

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

_DECODER = {"hidden_size": 128, "intermediate_size": 256, "num_attention_heads": 4, "num_key_value_heads": 2,
            "num_hidden_layers": 2, "vocab_size": 512, "max_position_embeddings": 256, "attention_dropout": 0.1}
CASES = {
    "bert": ("BertConfig", "BertModel", {"hidden_size": 128, "intermediate_size": 256, "num_attention_heads": 4,
                                         "num_hidden_layers": 2, "vocab_size": 512}),
    "llama": ("LlamaConfig", "LlamaForCausalLM", _DECODER),
    "mistral": ("MistralConfig", "MistralForCausalLM", _DECODER),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", _DECODER),
    "t5": ("T5Config", "T5EncoderModel", {"d_model": 128, "d_ff": 256, "num_heads": 4, "num_layers": 2,
                                          "vocab_size": 512, "d_kv": 32}),
}


def _loss(out):
    return (out.logits if hasattr(out, "logits") else out.last_hidden_state).float().mean()


@pytest.mark.parametrize("family", list(CASES))
def test_config_network_keeps_what_the_transformers_model_keeps_with_dropout(family):
    from netsize.frontends.hf_config import network_from_config

    config_cls, model_cls, kw = CASES[family]
    cfg = getattr(transformers, config_cls)(**kw)
    cfg._attn_implementation = "eager"
    with torch.device("meta"):
        model = getattr(transformers, model_cls)(cfg)
    assert any(isinstance(m, torch.nn.Dropout) and m.p > 0 for m in model.modules()) or cfg.to_dict().get(
        "attention_dropout", 0) > 0
    net = network_from_config({**cfg.to_dict(), "architectures": [model_cls]}, seq_len=128)
    walked = estimate(net, 4)
    observed = estimate(model, 4, seq_len=128, loss_fn=_loss)
    assert abs(walked.activation_bytes - observed.activation_bytes) <= 0.03 * observed.activation_bytes
    assert abs(walked.peak_training_bytes - observed.peak_training_bytes) <= 0.03 * observed.peak_training_bytes
    # without the dropouts the network keeps clearly less: the masks and dropped copies count
    no_drop = {**cfg.to_dict(), "architectures": [model_cls]}
    for key in ("hidden_dropout_prob", "attention_probs_dropout_prob", "attention_dropout", "dropout_rate"):
        if key in no_drop:
            no_drop[key] = 0.0
    assert estimate(network_from_config(no_drop, seq_len=128), 4).activation_bytes < 0.9 * walked.activation_bytes
