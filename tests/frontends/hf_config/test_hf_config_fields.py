"""Config fields are read with their types checked: a wrong type, a value out of range or a
field that changes the model and is not modelled is one clear error naming the field and the
file, never a traceback or a silent wrong number."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import netsize
from hf_support import transformers_model as _hf
from netsize.frontends.hf_config import network_from_config

SMALL = {"vocab_size": 97, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
         "intermediate_size": 96, "max_position_embeddings": 64}


def _error(cfg: dict, tmp_path) -> str:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg, allow_nan=True))
    with pytest.raises(netsize.NetsizeError) as err:
        netsize.analyze(network_from_config(path, seq_len=8))
    message = str(err.value)
    assert str(path) in message
    assert "\n" not in message
    return message


# (config, field named in the message): the reproducers of issue 11 and more.
BAD = [
    ({"model_type": ["gpt2"]}, "model_type"),
    ({"model_type": "gpt2", "architectures": {"a": 1}}, "architectures"),
    ({"model_type": "gpt2", "architectures": [3]}, "architectures"),
    ({"model_type": "gpt2", "n_layer": "2"}, "n_layer"),
    ({"model_type": "gpt2", "n_layer": 2.0}, "n_layer"),
    ({"model_type": "gpt2", "n_layer": float("inf")}, "n_layer"),
    ({"model_type": "gpt2", "n_layer": True}, "n_layer"),
    ({"model_type": "gpt2", "n_embd": 64.0}, "n_embd"),
    ({"model_type": "gpt2", "n_embd": float("nan")}, "n_embd"),
    ({"model_type": "gpt2", "n_positions": "x"}, "n_positions"),
    ({"model_type": "gpt2", "n_embd": 100, "n_head": 12}, "n_embd"),
    ({"model_type": "gpt2", "layer_norm_epsilon": "1e-5"}, "layer_norm_epsilon"),
    ({"model_type": "gpt2", "attn_pdrop": 1.5}, "attn_pdrop"),
    ({"model_type": "gpt2", "activation_function": "swishy"}, "activation_function"),
    ({"model_type": "gpt2", "add_cross_attention": "yes"}, "add_cross_attention"),
    ({"model_type": "llama", **SMALL, "num_attention_heads": 0}, "num_attention_heads"),
    ({"model_type": "llama", **SMALL, "num_key_value_heads": 3}, "num_attention_heads"),
    ({"model_type": "llama", **SMALL, "hidden_act": ["gelu"]}, "hidden_act"),
    ({"model_type": "llama", **SMALL, "rms_norm_eps": -1}, "rms_norm_eps"),
    ({"model_type": "llama", **SMALL, "attention_dropout": float("nan")}, "attention_dropout"),
    ({"model_type": "llama", **SMALL, "tie_word_embeddings": "false"}, "tie_word_embeddings"),
    ({"model_type": "llama", **SMALL, "pad_token_id": 500}, "pad_token_id"),
    ({"model_type": "mixtral", **SMALL, "num_key_value_heads": 2, "num_local_experts": 2, "num_experts_per_tok": 3},
     "num_experts_per_tok"),
    ({"model_type": "qwen2", **SMALL, "num_key_value_heads": 2, "layer_types": ["full_attention"]}, "layer_types"),
    ({"model_type": "qwen2", **SMALL, "num_key_value_heads": 2, "layer_types": ["full_attention", "global"]},
     "layer_types"),
    ({"model_type": "t5", "feed_forward_proj": 5}, "feed_forward_proj"),
    ({"model_type": "t5", "feed_forward_proj": "gated-gelu-x"}, "feed_forward_proj"),
    ({"model_type": "t5", "num_layers": 1, "d_kv": 0}, "d_kv"),
    ({"model_type": "bert", **SMALL, "add_cross_attention": True}, "add_cross_attention"),
    ({"model_type": "bert", **SMALL, "architectures": ["BertForSequenceClassification"], "num_labels": 3,
      "id2label": {"0": "a", "1": "b"}}, "num_labels"),
]


@pytest.mark.parametrize(("cfg", "name"), BAD, ids=[f"{b[1]}-{i}" for i, b in enumerate(BAD)])
def test_bad_field_is_one_error_naming_field_and_file(cfg, name, tmp_path):
    assert f"'{name}'" in _error(cfg, tmp_path)


def test_huge_number_in_json_is_refused(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"model_type": "gpt2", "n_positions": 1e400}')
    with pytest.raises(netsize.NetsizeError, match="'n_positions'"):
        network_from_config(path)


def test_cli_exits_2_with_one_line_for_a_bad_field(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "llama", **SMALL, "num_attention_heads": 0}))
    done = subprocess.run([sys.executable, "-m", "netsize", "summary", str(path)], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    first = done.stderr.splitlines()[0]
    assert first.startswith("netsize: error:") and "num_attention_heads" in first and str(path) in first


def test_layer_types_select_sliding_layers():
    from netsize.layers import ScaledDotProductAttention

    cfg = {"model_type": "qwen2", **SMALL, "num_key_value_heads": 2, "use_sliding_window": True, "sliding_window": 4,
           "layer_types": ["sliding_attention", "full_attention"]}
    cores = [n.layer for n in network_from_config(cfg, seq_len=8).nodes
             if isinstance(n.layer, ScaledDotProductAttention)]
    assert [c.sliding_window for c in cores] == [4, None]


def _cache(root, repo: str, revisions: dict[str, dict], main: str | None) -> None:
    folder = root / ("models--" + repo.replace("/", "--"))
    for rev, cfg in revisions.items():
        (folder / "snapshots" / rev).mkdir(parents=True)
        (folder / "snapshots" / rev / "config.json").write_text(json.dumps(cfg))
    if main is not None:
        (folder / "refs").mkdir()
        (folder / "refs" / "main").write_text(main)


def test_model_id_and_snapshot_found_in_the_local_cache(tmp_path, monkeypatch):
    from netsize.frontends.hf_config import find_config

    small = {"model_type": "llama", **SMALL}
    _cache(tmp_path / "home" / "hub", "acme/tiny", {"aaa": small, "bbb": {**small, "num_hidden_layers": 3}}, "aaa")
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    assert find_config("acme/tiny") == tmp_path / "home" / "hub" / "models--acme--tiny" / "snapshots" / "aaa" / \
        "config.json"  # refs/main names the snapshot
    snapshot = tmp_path / "home" / "hub" / "models--acme--tiny" / "snapshots" / "bbb"
    assert network_from_config(snapshot, seq_len=4).name == "LlamaForCausalLM"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub2"))  # HF_HUB_CACHE wins over HF_HOME
    _cache(tmp_path / "hub2", "acme/tiny", {"ccc": {**small, "num_hidden_layers": 1}}, None)
    done = subprocess.run([sys.executable, "-m", "netsize", "summary", "acme/tiny", "--seq-len", "4",
                           "--format", "json"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    expected = netsize.analyze(network_from_config({**small, "num_hidden_layers": 1}, seq_len=4)).totals.params
    assert json.loads(done.stdout)["totals"]["params"] == expected


def test_model_id_not_in_cache_is_one_clear_error_without_network(tmp_path):
    env = {**__import__("os").environ, "HF_HUB_CACHE": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "netsize", "llm", "acme/absent"], capture_output=True, text=True,
                          check=False, env=env)
    assert done.returncode == 2
    assert "'acme/absent' not found" in done.stderr and "never downloads" in done.stderr


torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402


def _macs(model, **inputs) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(**inputs)
    return counter.get_total_flops() // 2


CROSS = [
    # issue 14's reproducers: GPT-2 with 2 layers (58,288,896 params), BERT as a decoder (43,331,328)
    ("gpt2", "GPT2LMHeadModel", {"n_layer": 2, "add_cross_attention": True}, 58_288_896),
    ("bert", "BertModel", {"num_hidden_layers": 2, "is_decoder": True, "add_cross_attention": True}, 43_331_328),
    ("bert", "BertLMHeadModel", {**SMALL, "is_decoder": True, "add_cross_attention": True}, None),
    ("gpt2", "GPT2Model", {"vocab_size": 50, "n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 16,
                           "add_cross_attention": True}, None),
]


@pytest.mark.parametrize("case", CROSS, ids=[f"{c[1]}-{i}" for i, c in enumerate(CROSS)])
def test_cross_attention_is_modelled_params_and_multiply_adds(case):
    model_type, arch, fields, published = case
    model = _hf(model_type, arch, fields)
    expected = sum(p.numel() for p in model.parameters())
    if published is not None:
        assert expected == published
    net = network_from_config({"model_type": model_type, "architectures": [arch], **fields}, seq_len=6)
    summary = netsize.analyze(net, batch_size=2)
    assert summary.totals.params == expected
    d = model.config.hidden_size
    ids = torch.zeros(2, 6, dtype=torch.long, device="meta")
    enc = torch.zeros(2, 6, d, device="meta")
    assert summary.totals.multiply_adds == _macs(model, input_ids=ids, encoder_hidden_states=enc)


DROPOUT_CASES = [
    ("bert", "BertForSequenceClassification", SMALL),
    ("bert", "BertForTokenClassification", SMALL),
    ("gpt2", "GPT2LMHeadModel", {"n_layer": 2, "n_embd": 32, "n_head": 4}),
    ("t5", "T5ForConditionalGeneration", {"num_layers": 2, "d_model": 32, "d_ff": 48, "d_kv": 8,
                                          "feed_forward_proj": "gated-gelu"}),
    ("llama", "LlamaForCausalLM", {**SMALL, "attention_dropout": 0.1}),
    ("mistral", "MistralForTokenClassification", {**SMALL, "num_key_value_heads": 2, "attention_dropout": 0.2}),
]


ATTENTION_PROBS = ("attention.self.dropout", "attn.attn_dropout")  # attention-probability dropouts


@pytest.mark.parametrize("case", DROPOUT_CASES, ids=[c[1] for c in DROPOUT_CASES])
def test_dropouts_where_transformers_applies_them(case):
    """Every nn.Dropout module of the transformers model with p > 0 has a dropout node of the same
    probability (T5's stack reuses one module for the embeddings and the final output: two nodes);
    attention-probability dropout sits in the attention cores."""
    model_type, arch, fields = case
    model = _hf(model_type, arch, fields)
    hf = sorted(m.p for n, m in model.named_modules()
                if isinstance(m, torch.nn.Dropout) and m.p > 0 and not n.endswith(ATTENTION_PROBS))
    if model_type == "t5":
        hf += [m.p for n, m in model.named_modules() if n.endswith(("encoder.dropout", "decoder.dropout"))]
        hf.sort()
    net = network_from_config({"model_type": model_type, "architectures": [arch], **fields}, seq_len=8)
    ours = sorted(n.layer.p for n in net.nodes if n.layer.kind == "Dropout")
    assert ours == pytest.approx(hf)
    attn_p = {"bert": "attention_probs_dropout_prob", "gpt2": "attn_pdrop", "t5": "dropout_rate"}.get(
        model_type, "attention_dropout")
    cores = [n.layer.dropout for n in net.nodes if n.layer.kind == "ScaledDotProductAttention"]
    assert cores and all(p == getattr(model.config, attn_p) for p in cores)
