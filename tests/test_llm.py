"""LLM figures: KV cache from the config's head counts, per-token work against FlopCounterMode,
training FLOPs next to 6N, weights per dtype, and the `netsize llm` command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import netsize
from netsize.frontends.hf_config import network_from_config
from netsize.llm import llm_figures

REFERENCE = Path(__file__).resolve().parent / "data" / "reference" / "transformers_params.json"
SMALL = {"vocab_size": 97, "hidden_size": 64, "num_hidden_layers": 3, "num_attention_heads": 8,
         "intermediate_size": 96, "max_position_embeddings": 64}


def _llama7b() -> dict:
    return json.loads(REFERENCE.read_text())["llama-2-7b"]["config"]


def test_llama2_7b_kv_cache_is_two_times_layers_heads_head_dim():
    cfg = _llama7b()
    f = llm_figures(cfg, seq_len=4096)
    per_token = 2 * cfg["num_hidden_layers"] * cfg["num_key_value_heads"] * cfg["head_dim"]
    assert f.kv_cache_elements_per_token == per_token
    assert f.kv_cache_bytes_per_token == {"float32": 4 * per_token, "bfloat16": 2 * per_token,
                                          "int8": per_token, "int4": per_token // 2}
    assert f.kv_cache_bytes_context["bfloat16"] == 2 * per_token * 4096
    assert f.params == json.loads(REFERENCE.read_text())["llama-2-7b"]["params"]
    assert f.weights_bytes == {"float32": 4 * f.params, "bfloat16": 2 * f.params, "int8": f.params,
                               "int4": -(-f.params // 2)}


def test_grouped_query_kv_cache_uses_kv_heads_and_batch():
    cfg = {"model_type": "mistral", **SMALL, "num_key_value_heads": 2}
    f = llm_figures(cfg, seq_len=10, batch_size=3)
    head_dim = SMALL["hidden_size"] // SMALL["num_attention_heads"]
    assert f.kv_cache_elements_per_token == 2 * SMALL["num_hidden_layers"] * 2 * head_dim
    assert f.kv_cache_bytes_context["float32"] == 4 * f.kv_cache_elements_per_token * 10 * 3


def test_encoder_only_model_has_no_kv_cache():
    f = llm_figures({"model_type": "bert", **SMALL}, seq_len=16)
    assert f.kv_cache_elements_per_token == 0
    assert f.kv_cache_bytes_context["float32"] == 0


def test_training_flops_are_three_times_forward_and_shown_next_to_6n():
    f = llm_figures({"model_type": "gpt2"}, seq_len=1024)
    assert f.training_flops_per_token == 3 * f.forward_flops_per_token == 6 * f.macs_per_token
    assert f.training_flops_6n == 6 * f.params
    assert "6*N" in f.explain() and "3*forward_flops_per_token" in f.explain()


def test_macs_per_token_equal_flop_counter_of_transformers_model():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from torch.utils.flop_counter import FlopCounterMode

    config = transformers.AutoConfig.for_model("llama", **SMALL, num_key_value_heads=4)
    config._attn_implementation = "eager"
    with torch.device("meta"):
        model = transformers.LlamaForCausalLM(config)
        ids = torch.zeros(2, 12, dtype=torch.long)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(input_ids=ids)
    f = llm_figures({"model_type": "llama", **SMALL, "num_key_value_heads": 4}, seq_len=12, batch_size=2)
    assert f.macs_per_token * 2 * 12 == counter.get_total_flops() // 2
    assert f.macs_per_sequence * 2 == counter.get_total_flops() // 2


def test_mixture_of_experts_6n_uses_active_params():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    fields = {**SMALL, "num_key_value_heads": 2, "num_local_experts": 4, "num_experts_per_tok": 2}
    config = transformers.AutoConfig.for_model("mixtral", **fields)
    with torch.device("meta"):
        model = transformers.MixtralForCausalLM(config)
    total = sum(p.numel() for p in model.parameters())
    per_expert = sum(p.numel() for p in model.model.layers[0].mlp.experts.parameters()) // 4
    f = llm_figures({"model_type": "mixtral", **fields}, seq_len=8)
    assert f.params == total
    assert f.active_params == total - SMALL["num_hidden_layers"] * (4 - 2) * per_expert
    assert f.training_flops_6n == 6 * f.active_params


def test_figures_from_a_summary_equal_figures_from_the_config():
    cfg = {"model_type": "qwen2", **SMALL, "num_key_value_heads": 2}
    summary = netsize.analyze(network_from_config(cfg, seq_len=9), batch_size=2)
    assert llm_figures(summary).to_dict() == llm_figures(cfg, seq_len=9, batch_size=2).to_dict()


@pytest.fixture()
def llama_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(_llama7b()))
    return path


def test_cli_llm_json_equals_library(llama_file):
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from netsize.cli import main; sys.exit(main(sys.argv[1:]))",
         "llm", str(llama_file), "--seq-len", "4096", "--format", "json"],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"schema_version": 1, **llm_figures(llama_file, seq_len=4096).to_dict()}


def test_cli_llm_text_shows_kv_cache_and_6n(llama_file):
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from netsize.cli import main; sys.exit(main(sys.argv[1:]))",
         "llm", str(llama_file), "--seq-len", "4096"],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if "KV cache, whole context, bfloat16" in line)
    assert row.split()[-3:] == ["2.0", "GiB", "2,147,483,648"]
    assert "6N rule" in done.stdout


def test_cli_unknown_model_type_exits_2_listing_supported(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "no_such_family"}))
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from netsize.cli import main; sys.exit(main(sys.argv[1:]))",
         "llm", str(path)],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 2
    from netsize.frontends.hf_config import SUPPORTED

    assert "no_such_family" in done.stderr and all(name in done.stderr for name in SUPPORTED)


def test_kv_cache_figure_equals_what_the_memory_model_retains():
    """One formula (netsize.layers.attention.kv_cache_elements): the KV cache of llm_figures for
    the context is the sum of the attention cores' retained elements."""
    cfg = {"model_type": "llama", **SMALL, "num_key_value_heads": 2}
    f = llm_figures(cfg, seq_len=16, batch_size=3)
    summary = netsize.analyze(network_from_config(cfg, seq_len=16), batch_size=3)
    retained = sum(r.analysis.memory.retained_elements for r in summary.layers if r.analysis is not None)
    assert retained == f.kv_cache_elements_per_token * 3 * 16 > 0


QUANT_BASE = {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
              "intermediate_size": 96, "vocab_size": 100}


def _linear_shapes():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    config = transformers.AutoConfig.for_model(**QUANT_BASE)
    with torch.device("meta"):
        model = transformers.LlamaForCausalLM(config)
    shapes = [(m.in_features, m.out_features) for n, m in model.named_modules()
              if isinstance(m, torch.nn.Linear) and n != "lm_head"]
    total = sum(p.numel() for p in model.parameters())
    return shapes, total - sum(i * o for i, o in shapes)


@pytest.mark.parametrize("double", [False, True])
def test_bitsandbytes_4bit_weights_equal_bitsandbytes_storage(double):
    torch = pytest.importorskip("torch")
    bnb = pytest.importorskip("bitsandbytes")
    shapes, other = _linear_shapes()
    expected = 2 * other
    for i, o in shapes:
        layer = bnb.nn.Linear4bit(i, o, bias=False, compress_statistics=double, quant_type="nf4").to("cpu")
        state = layer.weight.quant_state
        tensors = [layer.weight, *(v for v in state.as_dict(packed=False).values() if torch.is_tensor(v))]
        expected += sum(t.numel() * t.element_size() for t in tensors) + (4 if double else 0)  # + nested offset
    q = {"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4",
         "bnb_4bit_use_double_quant": double}
    f = llm_figures({**QUANT_BASE, "quantization_config": q}, seq_len=8)
    label = "bitsandbytes 4-bit (nf4, double quant)" if double else "bitsandbytes 4-bit (nf4)"
    assert f.weights_bytes[label] == expected


def test_bitsandbytes_8bit_weights_equal_int8_and_row_scales():
    bnb = pytest.importorskip("bitsandbytes")
    shapes, other = _linear_shapes()
    expected = 2 * other
    for i, o in shapes:
        w = bnb.nn.Linear8bitLt(i, o, bias=False, has_fp16_weights=False).to("cpu").weight
        expected += w.numel() * w.element_size() + w.SCB.numel() * w.SCB.element_size()
    f = llm_figures({**QUANT_BASE, "quantization_config": {"load_in_8bit": True}}, seq_len=8)
    assert f.weights_bytes["bitsandbytes 8-bit"] == expected


@pytest.mark.parametrize("method", ["gptq", "awq"])
def test_gptq_and_awq_weights_follow_their_packed_layout(method):
    # GPTQ's QuantLinear: qweight (I*b/32, O) int32, qzeros (G, O*b/32) int32, scales (G, O) fp16,
    # g_idx (I,) int32; AWQ's WQLinear: the same without g_idx (its qweight is (I, O*b/32)).
    shapes, other = _linear_shapes()
    bits, group = 4, 32
    expected = 2 * other
    for i, o in shapes:
        groups = i // group
        expected += 4 * (i * bits // 32) * o + 4 * groups * (o * bits // 32) + 2 * groups * o
        expected += 4 * i if method == "gptq" else 0
    q = {"quant_method": method, "bits": bits, "group_size": group}
    f = llm_figures({**QUANT_BASE, "quantization_config": q}, seq_len=8)
    assert f.weights_bytes[f"{method} int4 (group 32)"] == expected
    assert ("2*G*N + 4*K" in f.explain()) == (method == "gptq") and "2*G*N" in f.explain()  # + g_idx


def test_unknown_quantization_method_is_one_clear_error():
    with pytest.raises(netsize.NetsizeError, match="quant_method 'hqq'"):
        llm_figures({**QUANT_BASE, "quantization_config": {"quant_method": "hqq"}}, seq_len=8)


def test_6n_rule_is_shown_with_both_ns():
    # GPT-2 small: Kaplan et al.'s N excludes the token (50257 x 768) and position (1024 x 768) tables
    f = llm_figures({"model_type": "gpt2"}, seq_len=1024)
    assert f.training_flops_6n == 6 * 124_439_808
    assert f.training_flops_6n_non_embedding == 6 * (124_439_808 - 50257 * 768 - 1024 * 768)
    assert f.to_dict()["training_flops_6n_non_embedding"] == f.training_flops_6n_non_embedding
    assert "Kaplan's N" in f.explain()
