"""--checkpointing lowers the peak: each transformer layer, each block of a stack of blocks, and a
sequence of plain layers cut into checkpoint_sequential segments; the network method agrees with
the PyTorch-module method running real torch.utils.checkpoint on the same model."""

from __future__ import annotations

import json

import pytest

from netsize import NetsizeError, zoo
from netsize.memory import estimate
from netsize.memory._network_walk import checkpoint_units

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
torch_models = pytest.importorskip("torch_models")

from gpu_reference_cases import REFERENCE_DIR  # noqa: E402


def _both(name: str, batch: int, **kw):
    with torch.device("meta"):
        mod = torch_models.build(name)
    net = zoo.get(name).build()
    return estimate(net, batch, **kw), estimate(mod, batch, input_size=(3, 224, 224), **kw)


@pytest.mark.parametrize(("name", "bound"), [("vgg16", 0.06), ("resnet50", 0.02)])
def test_cnn_checkpointing_lowers_the_peak_and_both_methods_agree(name, bound):
    """Issue 12: vgg16 at batch 32 was 4,330 MiB, with --checkpointing 5,125 MiB."""
    plain_net, plain_mod = _both(name, 32)
    net, mod = _both(name, 32, checkpointing=True)
    assert net.peak_training_bytes < plain_net.peak_training_bytes
    assert mod.peak_training_bytes < plain_mod.peak_training_bytes
    assert abs(net.peak_training_bytes - mod.peak_training_bytes) <= bound * mod.peak_training_bytes
    assert abs(net.activation_bytes - mod.activation_bytes) <= 0.05 * mod.activation_bytes


def test_checkpoint_segments_are_an_option_of_both_methods():
    few_net, few_mod = _both("vgg16", 2, checkpointing=True, checkpoint_segments=2)
    many_net, many_mod = _both("vgg16", 2, checkpointing=True, checkpoint_segments=8)
    # more segments: more boundary tensors kept, smaller pieces recomputed
    assert many_net.activation_bytes > few_net.activation_bytes
    assert many_mod.activation_bytes > few_mod.activation_bytes
    assert few_net.to_dict()["checkpoint_segments"] == few_mod.checkpoint_segments == 2
    with pytest.raises(NetsizeError, match="segments"):
        estimate(zoo.get("vgg16").build(), 2, checkpointing=True, checkpoint_segments=0)


def test_units_follow_checkpoint_sequential_and_blocks():
    names = [f"features.{i}" for i in range(31)] + ["avgpool", "classifier.0"]
    units = checkpoint_units(names)  # 31 layers: 6 segments of 5, the last 6 layers run normally
    assert units[:25] == [f"features#{k}" for k in range(5) for _ in range(5)]
    assert units[25:] == [None] * 8
    assert checkpoint_units(["model.embed_tokens", "model.layers.0.mlp", "model.layers.1.mlp", "lm_head"]) == [
        None, "model.layers.0", "model.layers.1", None]  # fmt: skip


def _small(cfg_cls, model_cls, **kw):
    cfg = cfg_cls(**kw)
    cfg._attn_implementation = "eager"
    with torch.device("meta"):
        return cfg, model_cls(cfg)


@pytest.mark.parametrize(
    ("family", "autocast"),
    [("gpt2", None), ("gpt2", "bfloat16"), ("llama", "bfloat16")],
)
def test_transformer_checkpointing_per_layer_agrees_with_gradient_checkpointing(family, autocast):
    from netsize.frontends.hf_config import network_from_config

    if family == "gpt2":
        cfg, mod = _small(transformers.GPT2Config, transformers.GPT2LMHeadModel, n_layer=3, n_embd=128, n_head=4,
                          vocab_size=1000, n_positions=256)
    else:
        cfg, mod = _small(transformers.LlamaConfig, transformers.LlamaForCausalLM, num_hidden_layers=3,
                          hidden_size=256, intermediate_size=688, num_attention_heads=4, num_key_value_heads=2,
                          vocab_size=1000, max_position_embeddings=256)
    net = network_from_config(cfg.to_dict(), seq_len=128)
    loss = lambda out: out.logits.float().mean()  # noqa: E731
    kw = {"autocast": autocast, "optimizer": "adamw"}
    plain_net = estimate(net, 8, **kw)
    ck_net = estimate(net, 8, checkpointing=True, **kw)
    ck_mod = estimate(mod, 8, checkpointing=True, seq_len=128, loss_fn=loss, **kw)
    assert ck_net.activation_bytes < plain_net.activation_bytes / 3
    assert ck_net.peak_training_bytes < plain_net.peak_training_bytes
    # Apart by what the network leaves out: transformers' float32 causal mask (N*L*S), which each
    # checkpointed layer keeps as an argument, and a backward transient of ~3.5 MB at bf16 not
    # yet explained (GPT-2 at full size, batch 8 x 1024 bf16, agrees within 1.1%: 5,058 vs 5,001
    # MiB); on models this small that is up to 11% of the peak.
    assert abs(ck_net.peak_training_bytes - ck_mod.peak_training_bytes) <= 0.12 * ck_mod.peak_training_bytes


def test_llama_2_7b_checkpointing_lowers_the_peak_to_the_optimizer_step():
    """Issue 12's case: batch 1, 2048 tokens, AdamW, bf16 autocast: 129,549 MiB, and with
    checkpointing 144,732 MiB before (the whole model was one checkpointed block)."""
    from netsize.frontends.hf_config import network_from_config

    config = json.loads((REFERENCE_DIR / "transformers_params.json").read_text())["llama-2-7b"]["config"]
    net = network_from_config(config, seq_len=2048)
    plain = estimate(net, 1, optimizer="adamw", autocast="bfloat16")
    ck = estimate(net, 1, optimizer="adamw", autocast="bfloat16", checkpointing=True)
    assert ck.activation_bytes < plain.activation_bytes / 20
    assert ck.peak_training_bytes < plain.peak_training_bytes
    # what is left is the optimizer step: weights, gradients, two states and foreach's temporaries
    assert ck.peak_training_bytes == ck.peak_optimizer_step_bytes


def test_checkpointing_leaves_the_model_as_found():
    with torch.device("meta"):
        mod = torch_models.build("resnet18")
    estimate(mod, 2, input_size=(3, 64, 64), checkpointing=True)
    assert not any("forward" in vars(m) for m in mod.modules())
    _cfg, hf = _small(transformers.GPT2Config, transformers.GPT2LMHeadModel, n_layer=1, n_embd=64, n_head=2,
                      vocab_size=100, n_positions=32)
    estimate(hf, 1, seq_len=32, checkpointing=True, loss_fn=lambda out: out.logits.float().mean())
    assert not hf.is_gradient_checkpointing
