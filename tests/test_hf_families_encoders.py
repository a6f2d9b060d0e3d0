"""DistilBERT, ALBERT, ELECTRA and DeBERTa-v2 built natively: parameters equal transformers'
model on the meta device, multiply-adds equal FlopCounterMode / 2 of its eager forward, for the
default configs and small variants of every head netsize builds."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import netsize
from netsize.frontends.hf_config import is_native, network_from_config

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

BERTISH = {"vocab_size": 97, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
           "intermediate_size": 96, "max_position_embeddings": 64}
DISTIL = {"vocab_size": 97, "dim": 64, "n_layers": 2, "n_heads": 4, "hidden_dim": 96, "max_position_embeddings": 64}
ALBERT = {**BERTISH, "embedding_size": 24}
ELECTRA = {**BERTISH, "embedding_size": 32}

# (model_type, architecture, fields)
CASES = [
    ("distilbert", "DistilBertModel", DISTIL),
    ("distilbert", "DistilBertForMaskedLM", DISTIL),
    ("distilbert", "DistilBertForMaskedLM", {**DISTIL, "tie_word_embeddings": False, "activation": "relu"}),
    ("distilbert", "DistilBertForMaskedLM", {**DISTIL, "sinusoidal_pos_embds": True}),
    ("distilbert", "DistilBertForSequenceClassification", {**DISTIL, "num_labels": 5}),
    ("distilbert", "DistilBertForTokenClassification", {**DISTIL, "num_labels": 3}),
    ("distilbert", "DistilBertForQuestionAnswering", DISTIL),
    ("albert", "AlbertModel", ALBERT),
    ("albert", "AlbertForMaskedLM", ALBERT),
    ("albert", "AlbertForMaskedLM", {**ALBERT, "tie_word_embeddings": False}),
    # 5 layers over 2 groups of 2 inner layers: groups 0, 0, 0, 1, 1 (int(i / 2.5))
    ("albert", "AlbertForPreTraining", {**ALBERT, "num_hidden_layers": 5, "num_hidden_groups": 2,
                                        "inner_group_num": 2}),
    ("albert", "AlbertForPreTraining", {**ALBERT, "num_hidden_layers": 3, "num_hidden_groups": 3,
                                        "hidden_dropout_prob": 0.1}),
    ("albert", "AlbertForSequenceClassification", {**ALBERT, "num_labels": 3}),
    ("albert", "AlbertForTokenClassification", {**ALBERT, "num_labels": 4}),
    ("albert", "AlbertForQuestionAnswering", ALBERT),
    ("electra", "ElectraModel", ELECTRA),
    ("electra", "ElectraModel", {**ELECTRA, "embedding_size": 64}),  # no embeddings_project
    ("electra", "ElectraForPreTraining", ELECTRA),
    ("electra", "ElectraForMaskedLM", ELECTRA),
    ("electra", "ElectraForMaskedLM", {**ELECTRA, "tie_word_embeddings": False}),
    ("electra", "ElectraForCausalLM", {**ELECTRA, "is_decoder": True}),
    ("electra", "ElectraForSequenceClassification", {**ELECTRA, "num_labels": 3}),
    ("electra", "ElectraForTokenClassification", {**ELECTRA, "classifier_dropout": 0.2}),
    ("electra", "ElectraForQuestionAnswering", ELECTRA),
]


def _ids(case):
    return f"{case[1]}-" + "-".join(f"{k}={v}" for k, v in case[2].items() if k not in BERTISH and k not in DISTIL)


def _hf(model_type: str, arch: str, fields: dict, device: str = "meta"):
    config = transformers.AutoConfig.for_model(model_type, **fields)
    config._attn_implementation = "eager"
    with torch.device(device):
        return getattr(transformers, arch)(config)


def _netsize(model_type: str, arch: str, fields: dict, seq: int, batch: int) -> netsize.Summary:
    cfg = {"model_type": model_type, "architectures": [arch], **fields}
    return netsize.analyze(network_from_config(cfg, seq_len=seq), batch_size=batch)


def _measure(model, **inputs) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(**inputs)
    return counter.get_total_flops()


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_params_and_multiply_adds_equal_transformers(case):
    model_type, arch, fields = case
    model = _hf(model_type, arch, fields)
    ids = torch.ones(2, 6, dtype=torch.long, device="meta")
    flops = _measure(model, input_ids=ids)
    summary = _netsize(model_type, arch, fields, 6, 2)
    assert summary.totals.params == sum(p.numel() for p in model.parameters())
    assert summary.totals.multiply_adds == flops // 2


FAMILIES = ["distilbert", "albert", "electra"]


@pytest.mark.parametrize("model_type", FAMILIES)
def test_default_config_params_equal_transformers_for_every_head(model_type):
    config = transformers.AutoConfig.for_model(model_type)
    cfg = {"model_type": model_type}
    assert is_native(cfg)
    from netsize.frontends.hf_config._catalog import FAMILIES as CATALOG

    for arch in CATALOG[model_type].architectures:
        net = network_from_config({**cfg, "architectures": [arch]}, seq_len=4)
        with torch.device("meta"):
            model = getattr(transformers, arch)(config)
        assert netsize.analyze(net).totals.params == sum(p.numel() for p in model.parameters()), arch


def test_albert_shared_layers_count_params_once_and_work_per_call():
    fields = {**ALBERT, "num_hidden_layers": 4}
    summary = _netsize("albert", "AlbertModel", fields, 6, 1)
    names = [r.name for r in summary.layers]
    q = "encoder.albert_layer_groups.0.albert_layers.0.attention.query"
    assert [n for n in names if n.startswith(q)] == [q, f"{q}#2", f"{q}#3", f"{q}#4"]
    rows = {r.name: r for r in summary.layers}
    assert rows[q].params == 64 * 64 + 64 and rows[f"{q}#4"].params == 0
    assert rows[f"{q}#4"].multiply_adds == rows[q].multiply_adds == 6 * 64 * 64


@pytest.mark.parametrize(("model_type", "fields", "match"), [
    ("albert", {"num_hidden_layers": 2, "num_hidden_groups": 3}, "num_hidden_groups"),
    ("albert", {"hidden_size": 100, "num_attention_heads": 3}, "hidden_size"),
    ("distilbert", {"architectures": ["DistilBertForQuestionAnswering"], "num_labels": 3}, "num_labels"),
    ("electra", {"add_cross_attention": True}, "add_cross_attention"),
    ("distilbert", {"dim": 64.0}, "dim"),
])
def test_bad_fields_are_refused_by_name(model_type, fields, match):
    with pytest.raises(netsize.NetsizeError, match=match):
        network_from_config({"model_type": model_type, **fields}, seq_len=8)


# Published sizes (model cards / papers), checked against transformers on meta too.
PUBLISHED = {
    # distilbert-base-uncased: "66M parameters" (Sanh et al. 2019, DistilBERT paper, table 3); the
    # hub checkpoint's config is the default one; DistilBertForMaskedLM with its tied head.
    "distilbert-base-uncased": ({"model_type": "distilbert", "architectures": ["DistilBertForMaskedLM"]},
                                66e6, 1e6),
    # albert-base-v2: "12M parameters" (Lan et al. 2019, ALBERT paper, table 1: base, E=128, shared),
    # the encoder with its pooler: AlbertModel has 11,683,584 (the MLM head, without the tied decoder
    # weight, would add 0.13M; AlbertForMaskedLM has no pooler: 11,221,680).
    "albert-base-v2": ({"model_type": "albert", "architectures": ["AlbertModel"], "hidden_size": 768,
                        "num_attention_heads": 12, "intermediate_size": 3072, "hidden_act": "gelu_new"},
                       12e6, 0.5e6),
    # google/electra-small-discriminator: "14M parameters" (Clark et al. 2020, ELECTRA paper, table 1).
    "electra-small-discriminator": ({"model_type": "electra", "architectures": ["ElectraForPreTraining"]},
                                    14e6, 0.5e6),
}


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_published_sizes(name):
    cfg, published, rounding = PUBLISHED[name]
    params = netsize.analyze(network_from_config(cfg, seq_len=8)).totals.params
    config = transformers.AutoConfig.for_model(**{k: v for k, v in cfg.items() if k != "architectures"})
    with torch.device("meta"):
        model = getattr(transformers, cfg["architectures"][0])(config)
    assert params == sum(p.numel() for p in model.parameters())
    assert abs(params - published) <= rounding, params


@pytest.mark.parametrize("model_type", FAMILIES)
def test_cli_summary_and_llm_run_on_a_config_file(tmp_path, model_type):
    path = tmp_path / "config.json"
    cfg = {"model_type": model_type, "num_hidden_layers": 2, "n_layers": 2}
    path.write_text(json.dumps(cfg))
    params = netsize.analyze(network_from_config(cfg, seq_len=16)).totals.params
    for command in ("summary", "llm"):
        run = subprocess.run([sys.executable, "-m", "netsize", command, str(path), "--seq-len", "16"],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        assert "Traceback" not in run.stderr
        assert f"{params:,}" in run.stdout
