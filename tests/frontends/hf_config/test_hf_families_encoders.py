"""DistilBERT, ALBERT, ELECTRA and DeBERTa-v2 built natively: parameters equal transformers'
model on the meta device, multiply-adds equal FlopCounterMode / 2 of its eager forward, for the
default configs and small variants of every head netsize builds."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import netsize
from hf_support import netsize_summary as _netsize
from hf_support import transformers_counts
from hf_support import transformers_model as _hf
from netsize.frontends.hf_config import is_native, network_from_config

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

BERTISH = {"vocab_size": 97, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
           "intermediate_size": 96, "max_position_embeddings": 64}
DISTIL = {"vocab_size": 97, "dim": 64, "n_layers": 2, "n_heads": 4, "hidden_dim": 96, "max_position_embeddings": 64}
ALBERT = {**BERTISH, "embedding_size": 24}
ELECTRA = {**BERTISH, "embedding_size": 32}
REL = {**BERTISH, "relative_attention": True, "pos_att_type": "p2c|c2p"}

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
    ("deberta-v2", "DebertaV2Model", BERTISH),  # the default config's switches: no relative attention
    ("deberta-v2", "DebertaV2Model", REL),  # att_span = max_position_embeddings: 128 table rows
    ("deberta-v2", "DebertaV2Model", {**REL, "pos_att_type": ["c2p"], "max_relative_positions": 8}),
    ("deberta-v2", "DebertaV2Model", {**REL, "pos_att_type": "p2c", "max_relative_positions": 8}),
    # DeBERTa-v3's switches: shared keys, log buckets, normalised table, no absolute positions
    ("deberta-v2", "DebertaV2Model", {**REL, "share_att_key": True, "position_buckets": 16,
                                      "norm_rel_ebd": "layer_norm", "position_biased_input": False}),
    # DeBERTa-v2's: a grouped convolution beside the first layer; token types; factorised embedding
    ("deberta-v2", "DebertaV2Model", {**REL, "conv_kernel_size": 3, "conv_groups": 2, "type_vocab_size": 2,
                                      "embedding_size": 32}),
    ("deberta-v2", "DebertaV2ForMaskedLM", REL),
    ("deberta-v2", "DebertaV2ForMaskedLM", {**BERTISH, "legacy": False}),
    ("deberta-v2", "DebertaV2ForMaskedLM", {**BERTISH, "embedding_size": 32, "tie_word_embeddings": False}),
    ("deberta-v2", "DebertaV2ForSequenceClassification", {**REL, "num_labels": 3, "cls_dropout": 0.2,
                                                          "pooler_hidden_act": "tanh"}),
    ("deberta-v2", "DebertaV2ForTokenClassification", BERTISH),
    ("deberta-v2", "DebertaV2ForQuestionAnswering", REL),
]


def _ids(case):
    return f"{case[1]}-" + "-".join(f"{k}={v}" for k, v in case[2].items() if k not in BERTISH and k not in DISTIL)


def _device(model_type: str) -> str:
    # DeBERTa-v2's forward reads tensor values (its mask and relative positions): tiny, on the CPU.
    return "cpu" if model_type == "deberta-v2" else "meta"


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_params_and_multiply_adds_equal_transformers(case):
    model_type, arch, fields = case
    device = _device(model_type)
    model = _hf(model_type, arch, fields, device)
    params, macs = transformers_counts(model, input_ids=torch.ones(2, 6, dtype=torch.long, device=device))
    summary = _netsize(model_type, arch, fields, 6, 2)
    assert (summary.totals.params, summary.totals.multiply_adds) == (params, macs)


FAMILIES = ["distilbert", "albert", "electra", "deberta-v2"]


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
    ("deberta-v2", {"pos_att_type": "c2p|x2y"}, "pos_att_type"),
    ("deberta-v2", {"conv_kernel_size": 4}, "conv_kernel_size"),
    ("deberta-v2", {"attention_head_size": 32}, "attention_head_size"),
    ("deberta-v2", {"pooler_hidden_size": 64}, "pooler_hidden_size"),
    ("deberta-v2", {"norm_rel_ebd": "batch_norm"}, "norm_rel_ebd"),
    ("deberta-v2", {"architectures": ["DebertaV2ForMaskedLM"], "legacy": False, "embedding_size": 128}, "legacy"),
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
    # microsoft/deberta-v3-base (its config.json): "86M backbone parameters with a vocabulary containing
    # 128K tokens which introduces 98M parameters in the Embedding layer" (model card), 184M in all.
    # netsize and transformers: 183,831,552 = 98,380,800 (128100 x 768) + 85,450,752 backbone.
    "deberta-v3-base": ({"model_type": "deberta-v2", "architectures": ["DebertaV2Model"], "hidden_size": 768,
                         "intermediate_size": 3072, "relative_attention": True, "position_buckets": 256,
                         "norm_rel_ebd": "layer_norm", "share_att_key": True, "pos_att_type": "p2c|c2p",
                         "layer_norm_eps": 1e-7, "max_relative_positions": -1, "position_biased_input": False,
                         "num_attention_heads": 12, "num_hidden_layers": 12, "type_vocab_size": 0,
                         "vocab_size": 128100}, 184e6, 0.5e6),
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
    if name == "deberta-v3-base":
        assert abs(params - 128100 * 768 - 86e6) <= 1e6  # "86M backbone": 85.45M, rounded up in the card


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


# DeBERTa's disentangled attention, checked against FlopCounterMode on random small configs.
# FlopCounterMode counts DeBERTa's torch.bmm products exactly as netsize counts them (QK^T, c2p
# against all 2*att_span table rows, p2c likewise, AV) and the Linear projections of the table
# (run once per forward on (1, 2*att_span, D), not per sample); it counts nothing for the gathers
# that pick each score's relative position, the key scaling, the masked_fill and softmax: those
# are netsize's other_ops, outside this comparison.
@settings(max_examples=12, deadline=None, derandomize=True)
@given(
    heads=st.sampled_from([1, 2, 4]),
    seq=st.integers(1, 9),
    batch=st.integers(1, 2),
    att=st.sampled_from([[], ["c2p"], ["p2c"], ["c2p", "p2c"]]),
    share=st.booleans(),
    span=st.sampled_from([(-1, -1), (4, -1), (-1, 6), (8, 32)]),  # (max_relative_positions, position_buckets)
    kernel=st.sampled_from([0, 1, 3]),
)
def test_deberta_disentangled_attention_equals_flop_counter(heads, seq, batch, att, share, span, kernel):
    fields = {**BERTISH, "num_hidden_layers": 1, "num_attention_heads": heads, "max_position_embeddings": 16,
              "relative_attention": True, "pos_att_type": att, "share_att_key": share,
              "max_relative_positions": span[0], "position_buckets": span[1], "conv_kernel_size": kernel}
    model = _hf("deberta-v2", "DebertaV2Model", fields, "cpu")
    params, macs = transformers_counts(model, input_ids=torch.ones(batch, seq, dtype=torch.long))
    summary = _netsize("deberta-v2", "DebertaV2Model", fields, seq, batch)
    assert (summary.totals.params, summary.totals.multiply_adds) == (params, macs)


def test_disentangled_attention_terms():
    from netsize import analyze_layer
    from netsize.layers.disentangled_attention import DisentangledSelfAttention

    q, table = (2, 5, 12), (1, 8, 12)  # N=2, L=S=5, H=3, d=4, P=8
    both = analyze_layer("a", DisentangledSelfAttention(3, c2p=True, p2c=True), (q, q, q, table, table))
    plain = analyze_layer("a", DisentangledSelfAttention(3), (q, q, q))
    assert plain.multiply_adds == 2 * 3 * 5 * 5 * (4 + 4)
    assert both.multiply_adds - plain.multiply_adds == 2 * (2 * 3 * 5 * 8 * 4)  # c2p and p2c
    assert both.output_shape == (2, 5, 12) and both.params == 0
    with pytest.raises(netsize.NetsizeError, match="takes 5 inputs"):
        analyze_layer("a", DisentangledSelfAttention(3, c2p=True, p2c=True), (q, q, q))


def test_electra_causal_lm_kv_cache_equals_transformers():
    from netsize.frontends.hf_config._transformers import cache_elements
    from netsize.llm import llm_figures

    fields = {**ELECTRA, "is_decoder": True}
    model = _hf("electra", "ElectraForCausalLM", fields, "cpu")
    ids = torch.ones(2, 6, dtype=torch.long)
    f = llm_figures({"model_type": "electra", "architectures": ["ElectraForCausalLM"], **fields}, seq_len=6,
                    batch_size=2)
    assert f.kv_cache_elements_per_token == 2 * 2 * 64  # 2 layers, keys and values of hidden_size
    assert f.kv_cache_bytes_context["float32"] == 4 * cache_elements(model, {"input_ids": ids})
    # an encoder keeps no cache
    assert llm_figures({"model_type": "deberta-v2", **REL}, seq_len=6).kv_cache_elements_per_token == 0


@pytest.mark.parametrize("att", [["c2p", "p2c"], ["c2p"], ["p2c"], []])
def test_disentangled_attention_saves_what_autograd_keeps(att):
    """The core's saved-for-backward contract against the tensors autograd really keeps inside
    transformers' DisentangledSelfAttention (its Linear projections' own saves excluded, as
    netsize counts them on the Linear rows)."""
    from transformers.models.deberta_v2.modeling_deberta_v2 import DisentangledSelfAttention as HFAttention

    from netsize import analyze_layer
    from netsize.layers.disentangled_attention import DisentangledSelfAttention

    n, length, heads, d, span = 2, 5, 3, 4, 8
    config = transformers.DebertaV2Config(hidden_size=heads * d, num_attention_heads=heads,
                                          relative_attention=True, pos_att_type=att, max_relative_positions=span,
                                          attention_probs_dropout_prob=0.0, hidden_dropout_prob=0.0)
    module = HFAttention(config).train()
    x = torch.randn(n, length, heads * d, requires_grad=True)
    table = torch.randn(2 * span, heads * d, requires_grad=True)
    skip = {p.untyped_storage().data_ptr() for p in module.parameters()}
    skip |= {x.untyped_storage().data_ptr(), table.untyped_storage().data_ptr()}
    inside_linear: list[bool] = []

    def enter(*_):
        inside_linear.append(True)

    def leave(*_):
        inside_linear.pop()  # returns None: the module's output stays

    for sub in module.modules():
        if isinstance(sub, torch.nn.Linear):
            sub.register_forward_pre_hook(enter)
            sub.register_forward_hook(leave)
    saved: dict[int, tuple[int, torch.dtype]] = {}

    def pack(t):
        ptr = t.untyped_storage().data_ptr()
        if not inside_linear and ptr not in skip:
            saved[ptr] = (t.untyped_storage().nbytes(), t.dtype)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        module(x, torch.ones(n, 1, length, length), rel_embeddings=table)
    floats = sum(size // 4 for size, dtype in saved.values() if dtype == torch.float32)
    other_bytes = sum(size for size, dtype in saved.values() if dtype != torch.float32)
    q = (n, length, heads * d)
    core = DisentangledSelfAttention(heads, c2p="c2p" in att, p2c="p2c" in att)
    memory = analyze_layer("a", core, (q, q, q, *[(1, 2 * span, heads * d)] * len(att))).analysis.memory
    assert (memory.saved_extra_elements, memory.saved_extra_bytes) == (floats, other_bytes)
