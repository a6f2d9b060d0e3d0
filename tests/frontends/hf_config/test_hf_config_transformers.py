"""Families netsize does not build natively go through transformers (meta device) and the PyTorch
frontend: params and multiply-adds equal transformers' own model's, with a note saying how the
numbers were obtained; the KV cache is measured from the cache the model returns."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import netsize
from netsize.frontends.hf_config import is_native, network_from_config, summary_from_config

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

H = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 64}
ENC = {**H, "intermediate_size": 48, "max_position_embeddings": 40}
S2S = {"vocab_size": 64, "d_model": 32, "encoder_layers": 1, "decoder_layers": 1, "encoder_attention_heads": 4,
       "decoder_attention_heads": 4, "encoder_ffn_dim": 48, "decoder_ffn_dim": 48, "max_position_embeddings": 40}

# (model_type, architecture or None for the family's default auto class, small fields)
OTHERS = [
    ("falcon", None, H),
    ("falcon", "FalconForCausalLM", {**H, "new_decoder_architecture": True, "num_kv_heads": 2}),
    ("gpt_neox", None, {**H, "intermediate_size": 48}),
    ("gptj", None, {"n_embd": 32, "n_layer": 2, "n_head": 4, "vocab_size": 64, "rotary_dim": 4}),
    ("gpt_bigcode", None, {"n_embd": 32, "n_layer": 2, "n_head": 4, "vocab_size": 64}),
    ("opt", None, {**H, "ffn_dim": 48, "word_embed_proj_dim": 32}),
    ("bloom", None, {"hidden_size": 32, "n_layer": 2, "n_head": 4, "vocab_size": 64}),
    ("phi", None, {**H, "intermediate_size": 48}),
    ("stablelm", None, {**H, "hidden_size": 64, "intermediate_size": 48, "num_key_value_heads": 4}),
    ("codegen", None, {"n_embd": 32, "n_layer": 2, "n_head": 4, "vocab_size": 64, "rotary_dim": 4}),
    ("mpt", None, {"d_model": 32, "n_layers": 2, "n_heads": 4, "vocab_size": 64}),
    ("xglm", None, {"d_model": 32, "num_layers": 2, "attention_heads": 4, "ffn_dim": 48, "vocab_size": 64}),
    ("biogpt", None, {**ENC}),
    ("persimmon", None, {**ENC}),
    # mamba is built natively now (test_hf_families_mamba.py beside this file); Mamba-2 goes through transformers.
    ("mamba2", None, {"hidden_size": 32, "num_hidden_layers": 2, "vocab_size": 64, "state_size": 8, "num_heads": 4,
                      "head_dim": 16, "n_groups": 1}),
    ("roberta", "RobertaForMaskedLM", ENC),
    ("xlm-roberta", "XLMRobertaModel", ENC),
    ("distilbert", "DistilBertForSequenceClassification", {"dim": 32, "n_layers": 2, "n_heads": 4,
                                                            "hidden_dim": 48, "vocab_size": 64}),
    ("albert", "AlbertForMaskedLM", {**ENC, "embedding_size": 16}),
    ("electra", "ElectraForPreTraining", {**ENC, "embedding_size": 16}),
    ("bart", "BartForConditionalGeneration", S2S),
    ("mbart", "MBartForConditionalGeneration", S2S),
    ("pegasus", "PegasusForConditionalGeneration", S2S),
    ("mt5", "MT5ForConditionalGeneration", {"vocab_size": 64, "d_model": 32, "d_kv": 8, "d_ff": 48,
                                            "num_layers": 1, "num_heads": 4}),
    ("whisper", "WhisperModel", {**S2S, "num_mel_bins": 8, "max_source_positions": 16, "max_target_positions": 40,
                                 "pad_token_id": 1, "bos_token_id": 1, "eos_token_id": 2, "decoder_start_token_id": 1}),
    # encoder-decoders netsize does not build (BART, mBART, Pegasus, mT5 and Whisper above are native)
    ("marian", "MarianMTModel", {**S2S, "decoder_vocab_size": 64, "pad_token_id": 0}),
    ("m2m_100", "M2M100ForConditionalGeneration", S2S),
    ("plbart", "PLBartForConditionalGeneration", S2S),
    ("blenderbot-small", "BlenderbotSmallForConditionalGeneration", S2S),
    ("blenderbot", "BlenderbotForConditionalGeneration", S2S),
    ("megatron-bert", "MegatronBertForMaskedLM", ENC),
    ("gpt_neo", None, {"hidden_size": 32, "num_layers": 2, "num_heads": 4, "vocab_size": 64,
                       "attention_types": [[["global", "local"], 1]], "window_size": 4}),
    ("vit", "ViTModel", {**ENC, "image_size": 32, "patch_size": 8}),
    ("ernie", "ErnieForMaskedLM", ENC),
    ("convbert", "ConvBertForMaskedLM", ENC),
    ("bert-generation", "BertGenerationEncoder", ENC),
    ("ctrl", None, {"n_embd": 32, "n_layer": 2, "n_head": 4, "dff": 48, "vocab_size": 64}),
    ("roformer", "RoFormerForMaskedLM", {**ENC, "embedding_size": 32}),
    ("squeezebert", "SqueezeBertForMaskedLM", {**ENC, "embedding_size": 32}),
    ("rembert", "RemBertForMaskedLM", {**ENC, "input_embedding_size": 16, "output_embedding_size": 24}),
    ("nemotron", None, {**ENC, "num_key_value_heads": 2, "head_dim": 8}),
]
MPT = {"d_model": 32, "n_layers": 2, "n_heads": 4, "vocab_size": 64}  # a family netsize does not build


def _ids(case):
    return f"{case[0]}-{case[1] or 'auto'}"


def _reference(model_type: str, arch: str | None, fields: dict, batch: int, seq: int) -> tuple[int, int]:
    from netsize.frontends.hf_config._transformers import build_model, model_inputs

    cfg = {"model_type": model_type, **fields}
    if arch:
        cfg["architectures"] = [arch]
    model = build_model(cfg, "config", arch)
    params = sum(p.numel() for p in model.parameters())
    counter = FlopCounterMode(display=False)
    try:
        with counter, torch.no_grad():
            model(**model_inputs(model, batch, seq))
    except RuntimeError:  # a forward that reads values (Megatron-BERT): once for real on the CPU
        model = build_model(cfg, "config", arch, device="cpu")
        inputs = {k: torch.zeros(v.shape, dtype=v.dtype) for k, v in model_inputs(model, batch, seq).items()}
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            model(**inputs)
    return params, counter.get_total_flops() // 2


@pytest.mark.parametrize("case", OTHERS, ids=_ids)
def test_other_families_through_transformers_equal_its_model(case):
    model_type, arch, fields = case
    cfg = {"model_type": model_type, **fields, **({"architectures": [arch]} if arch else {})}
    summary = summary_from_config(cfg, seq_len=6, batch_size=2)
    params, macs = _reference(model_type, arch, fields, 2, 6)
    assert (summary.totals.params, summary.totals.multiply_adds) == (params, macs)
    if not is_native(cfg):
        assert any("built by transformers" in n for n in summary.notes)


def test_at_least_twenty_families_go_through_transformers():
    fallback = {c[0] for c in OTHERS if not is_native({"model_type": c[0], **({"architectures": [c[1]]} if c[1]
                                                                              else {})})}
    assert len(fallback) >= 20


def test_network_from_config_refuses_non_native_naming_transformers():
    with pytest.raises(netsize.NetsizeError, match="installing transformers"):
        network_from_config({"model_type": "mpt"})


def test_without_transformers_the_error_names_the_family(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "mpt", **MPT}))
    code = ("import sys; sys.modules['transformers'] = None\n"
            "from netsize.cli import main; sys.exit(main(['summary', sys.argv[1], '--seq-len', '4']))")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    first = done.stderr.splitlines()[0]
    assert "'mpt'" in first and "installing transformers" in first and str(path) in first


def test_transformers_refusing_a_config_is_one_clear_error():
    with pytest.raises(netsize.NetsizeError, match="config"):
        summary_from_config({"model_type": "falcon", **H, "num_attention_heads": 5}, seq_len=4)
    with pytest.raises(netsize.NetsizeError, match="'num_hidden_layers'"):
        summary_from_config({"model_type": "falcon", **H, "num_hidden_layers": "2"}, seq_len=4)


def test_measured_kv_cache_of_a_fallback_model():
    from netsize.llm import llm_figures

    # Falcon's default multi-query attention: one key/value head of head size 8, two layers.
    f = llm_figures({"model_type": "falcon", **H}, seq_len=8)
    assert f.kv_cache_elements_per_token == 2 * 2 * 1 * 8
    assert f.kv_cache_bytes_context["float32"] == 4 * 8 * f.kv_cache_elements_per_token
    # Mamba keeps a fixed state (conv and SSM), not a per-token cache.
    cfg = {"model_type": "mamba", "hidden_size": 32, "num_hidden_layers": 2, "vocab_size": 64, "state_size": 8}
    short, long = llm_figures(cfg, seq_len=4), llm_figures(cfg, seq_len=8)
    assert short.kv_cache_bytes_context == long.kv_cache_bytes_context
    inner = 2 * 32  # expand 2
    assert long.kv_cache_bytes_context["float32"] == 4 * 2 * (inner * 4 + inner * 8)  # conv kernel 4, state 8


def test_native_sliding_window_context_cache_equals_transformers_cache():
    """A sliding window caps the cache: transformers keeps the last W - 1 positions per layer."""
    from netsize.frontends.hf_config._transformers import build_model, cache_elements, model_inputs
    from netsize.llm import llm_figures

    cfg = {"model_type": "mistral", **H, "intermediate_size": 48, "num_key_value_heads": 2, "sliding_window": 5}
    f = llm_figures(cfg, seq_len=12, batch_size=2)
    model = build_model(cfg, "config", None)
    assert f.kv_cache_bytes_context["float32"] == 4 * cache_elements(model, model_inputs(model, 2, 12))


TINY_TEXT = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
             "intermediate_size": 96, "vocab_size": 300}
LLAVA = {"model_type": "llava", "architectures": ["LlavaForConditionalGeneration"], "image_token_index": 299,
         "text_config": {"model_type": "llama", **TINY_TEXT},
         "vision_config": {"model_type": "clip_vision_model", "hidden_size": 32, "num_hidden_layers": 1,
                           "num_attention_heads": 4, "intermediate_size": 48, "image_size": 32, "patch_size": 8}}


def test_multimodal_config_is_built_whole_by_transformers():
    from netsize.frontends.hf_config._transformers import build_model

    model = build_model(LLAVA, "config", "LlavaForConditionalGeneration")
    summary = summary_from_config(LLAVA, seq_len=8)
    assert summary.totals.params == sum(p.numel() for p in model.parameters())


def test_multimodal_config_without_transformers_counts_its_native_text_model_and_says_so(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(LLAVA))
    code = ("import sys, json; sys.modules['transformers'] = None\n"
            "from netsize.frontends.hf_config import summary_from_config\n"
            "s = summary_from_config(sys.argv[1], seq_len=8)\n"
            "print(json.dumps([s.totals.params, list(s.notes)]))")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    params, notes = json.loads(done.stdout)
    text = network_from_config({"model_type": "llama", **TINY_TEXT, "architectures": ["LlamaForCausalLM"]},
                               seq_len=8)
    assert params == netsize.analyze(text).totals.params
    assert any("only the language model" in n and "vision_config" in n for n in notes)


def test_cli_summary_and_memory_of_a_fallback_config(tmp_path, capsys):
    from netsize.cli import main

    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "mpt", **MPT}))
    assert main(["summary", str(path), "--seq-len", "8", "-b", "2", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    params, _ = _reference("mpt", None, MPT, 2, 8)
    assert data["totals"]["params"] == params and data["input_shape"] == [2, 8]
    assert any("built by transformers" in n for n in data["notes"])
    assert main(["memory", str(path), "--seq-len", "8", "-b", "2", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["peak_training_bytes"] > 4 * params


def test_layerdrop_is_off_so_every_layer_is_counted():
    """M2M-100 (and wav2vec2...) default to LayerDrop, which skips layers at random in training
    mode: the count was a random draw (a flaky 168,960 or 259,584 multiply-adds here). Every layer
    runs, as at inference, and a note says which fields were set to 0."""
    fields = dict(S2S)
    cfg = {"model_type": "m2m_100", "architectures": ["M2M100ForConditionalGeneration"], **fields}
    counts = {summary_from_config(cfg, seq_len=6, batch_size=2).totals.multiply_adds for _ in range(3)}
    assert len(counts) == 1
    summary = summary_from_config(cfg, seq_len=6, batch_size=2)
    assert any("encoder_layerdrop=0.05, decoder_layerdrop=0.05 set to 0" in n for n in summary.notes)
    params, macs = _reference("m2m_100", "M2M100ForConditionalGeneration", fields, 2, 6)
    assert counts == {macs} and summary.totals.params == params
