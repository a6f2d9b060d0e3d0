"""Hugging Face models built from a config on the meta device: params equal sum(numel) (tied
weights once) and the reference counts of tests/data/reference/transformers_params.json, and
multiply-adds equal FlopCounterMode FLOPs / 2 for a short sequence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from netsize.frontends.torch import summary  # noqa: E402

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference" / "transformers_params.json"

SMALL = {
    "gpt2": lambda: transformers.GPT2Config(n_layer=2, n_embd=64, n_head=4, vocab_size=500, n_positions=64),
    "bert": lambda: transformers.BertConfig(
        num_hidden_layers=2, hidden_size=64, num_attention_heads=4, intermediate_size=128, vocab_size=500
    ),
    "llama_gqa": lambda: transformers.LlamaConfig(
        num_hidden_layers=2,
        hidden_size=64,
        num_attention_heads=8,
        num_key_value_heads=2,
        intermediate_size=160,
        vocab_size=500,
        tie_word_embeddings=False,
    ),
    "llama_tied": lambda: transformers.LlamaConfig(
        num_hidden_layers=2,
        hidden_size=64,
        num_attention_heads=4,
        intermediate_size=128,
        vocab_size=500,
        tie_word_embeddings=True,
    ),
}
CLASSES = {
    "gpt2": "GPT2LMHeadModel",
    "bert": "BertModel",
    "llama_gqa": "LlamaForCausalLM",
    "llama_tied": "LlamaForCausalLM",
}


def _meta_model(cls_name: str, config):
    with torch.device("meta"):
        return getattr(transformers, cls_name)(config).eval()


def _flopcounter_macs(model, ids) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(input_ids=ids)
    return counter.get_total_flops() // 2


@pytest.mark.parametrize("name", sorted(SMALL))
def test_small_hf_model_matches_numel_and_flopcounter(name: str) -> None:
    model = _meta_model(CLASSES[name], SMALL[name]())
    ids = torch.zeros(2, 12, dtype=torch.long, device="meta")
    s = summary(model, input_data={"input_ids": ids})
    assert s.totals.params == sum(p.numel() for p in model.parameters())
    assert s.totals.multiply_adds == _flopcounter_macs(model, ids)
    assert s.input_shapes == {"input_ids": (2, 12)}
    assert s.totals.multiply_adds > 0


def test_gpt2_tied_head_counts_zero_params_but_its_matmul() -> None:
    cfg = SMALL["gpt2"]()
    model = _meta_model("GPT2LMHeadModel", cfg)
    s = summary(model, input_size=(1, 10), dtypes=[torch.long])
    head = s.layer("lm_head")
    assert head.params == 0
    assert head.multiply_adds == 10 * 64 * 500
    assert any(n.key == "note.tied" for n in head.notes)
    assert s.layer("transformer.wte").params == 500 * 64


@pytest.mark.parametrize("name", ["gpt2", "bert-base-uncased", "llama-2-7b"])
def test_reference_configs_params(name: str) -> None:
    ref = json.loads(REFERENCE.read_text())
    if name not in ref:
        pytest.skip(f"{name} not in the reference file")
    entry = ref[name]
    config = getattr(transformers, entry["config_class"]).from_dict(entry["config"])
    model = _meta_model(entry["model_class"], config)
    s = summary(model, input_size=(1, 8), dtypes=[torch.long])
    assert s.totals.params == entry["params"] == sum(p.numel() for p in model.parameters())


def test_meta_built_model_that_reads_values_is_refused_with_the_config_route_when_netsize_builds_it() -> None:
    from netsize import NetsizeError
    from netsize.frontends.hf_config import summary_from_config

    config = transformers.BartConfig(
        encoder_layers=1, decoder_layers=1, d_model=32, encoder_attention_heads=2, decoder_attention_heads=2,
        encoder_ffn_dim=64, decoder_ffn_dim=64, vocab_size=300, max_position_embeddings=64,
    )  # fmt: skip
    with torch.device("meta"):
        model = transformers.BartModel(config).eval()
    ids = torch.zeros(1, 16, dtype=torch.long)
    with pytest.raises(NetsizeError, match=r"_local_scalar_dense.*summary_from_config\(model\.config\.to_dict\(\)\)"):
        summary(model, input_data={"input_ids": ids})
    counted = summary_from_config(model.config.to_dict(), seq_len=16)
    assert counted.totals.params == sum(p.numel() for p in model.parameters())
    # a model netsize cannot build from its config gets no such hint
    with torch.device("meta"):
        plain = torch.nn.Sequential(torch.nn.Linear(4, 4))
    plain.register_forward_hook(lambda m, i, o: o.sum().item() and None)
    with pytest.raises(NetsizeError) as err:
        summary(plain, input_size=(1, 4))
    assert "summary_from_config" not in str(err.value)
