"""netsize.plan against the libraries whose storage and counts it predicts: bitsandbytes' quantised
layers, peft's trainable parameters, torch and transformers' optimizer states, and DeepSpeed's
ZeRO estimators (their own functions, vendored, and their published example output)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import deepspeed_estimators
import netsize
from netsize import NetsizeError
from netsize.frontends.hf_config import network_from_config
from netsize.plan import LoRA, Quantization, Scenario, Setup, gpu_named, plan
from netsize.plan._lora import lora_count
from netsize.plan._states import optimizer_state_bytes
from netsize.quantization import linear_weight_bytes

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference" / "transformers_params.json"
LLAMA_3_8B = Path(__file__).resolve().parents[2] / "examples" / "configs" / "llama-3-8b.json"

TINY = {
    "llama": {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 97, "hidden_size": 64,
              "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
              "max_position_embeddings": 64},
    "mistral": {"model_type": "mistral", "architectures": ["MistralForCausalLM"], "vocab_size": 97, "hidden_size": 64,
                "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 1,
                "max_position_embeddings": 64, "sliding_window": 32},
    "qwen2": {"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"], "vocab_size": 97, "hidden_size": 64,
              "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
              "max_position_embeddings": 64, "tie_word_embeddings": True},
    "gpt2": {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": 97, "n_embd": 64, "n_layer": 2,
             "n_head": 4, "n_positions": 64},
    "bert": {"model_type": "bert", "architectures": ["BertModel"], "vocab_size": 97, "hidden_size": 64,
             "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 64},
}  # fmt: skip

LORA_CASES = [
    ("llama", LoRA(r=8, targets=("q_proj", "v_proj"))),
    ("llama", LoRA(r=4, targets=("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"))),
    ("llama", LoRA(r=16, targets="all-linear")),
    ("llama", LoRA(r=8, targets=("q_proj", "v_proj"), modules_to_save=("lm_head",))),
    ("llama", LoRA(r=8, targets=r".*\.mlp\..*_proj")),
    ("mistral", LoRA(r=8, targets=("q_proj", "k_proj", "v_proj", "o_proj"))),
    ("qwen2", LoRA(r=8, targets=("q_proj", "v_proj"), bias="lora_only")),
    ("qwen2", LoRA(r=2, targets="all-linear", bias="all")),
    ("gpt2", LoRA(r=8, targets=("c_attn",))),
    ("gpt2", LoRA(r=4, targets=("c_attn", "c_proj", "c_fc"), bias="all")),
    ("bert", LoRA(r=8, targets=("query", "value"))),
    ("bert", LoRA(r=8, targets=("query", "key", "value", "dense"), bias="lora_only")),
]


@pytest.mark.parametrize(("family", "lora"), LORA_CASES, ids=lambda v: v if isinstance(v, str) else str(v.targets))
def test_lora_trainable_params_equal_peft(family: str, lora: LoRA) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    peft = pytest.importorskip("peft")
    cfg = TINY[family]
    config = transformers.AutoConfig.for_model(**cfg)
    torch.manual_seed(0)
    model = getattr(transformers, cfg["architectures"][0])(config)
    peft_config = peft.LoraConfig(
        r=lora.r, lora_alpha=lora.alpha, target_modules=lora.targets if isinstance(lora.targets, str) else
        list(lora.targets), bias=lora.bias, modules_to_save=list(lora.modules_to_save) or None,
    )  # fmt: skip
    peft_model = peft.get_peft_model(model, peft_config)
    trainable, _ = peft_model.get_nb_trainable_parameters()
    summary = netsize.analyze(network_from_config(cfg, seq_len=8))
    assert lora_count(summary, lora).trainable_params == trainable


def test_lora_targets_that_match_nothing_name_the_layers() -> None:
    summary = netsize.analyze(network_from_config(TINY["llama"], seq_len=8))
    with pytest.raises(NetsizeError, match=r"match no linear.*q_proj"):
        lora_count(summary, LoRA(targets=("query",)))


def _bnb_tensor_bytes(layer) -> int:  # type: ignore[no-untyped-def]
    """Bytes of every tensor a bitsandbytes layer keeps in memory (weights and quantisation state)."""
    torch = pytest.importorskip("torch")
    seen: list[object] = []  # the tensors themselves: ids of freed temporaries are reused

    def add(t: object) -> None:
        if isinstance(t, torch.Tensor) and not any(t is s for s in seen):
            seen.append(t)

    add(layer.weight.data)
    if layer.bias is not None:
        add(layer.bias.data)
    state = getattr(layer.weight, "quant_state", None)
    if state is not None:
        add(state.absmax)
        add(state.code)
        if state.nested:
            add(state.offset)
            add(state.state2.absmax)
            add(state.state2.code)
    scb = getattr(layer.weight, "SCB", None)
    add(scb)
    return sum(t.numel() * t.element_size() for t in seen)  # type: ignore[attr-defined]


@pytest.mark.parametrize("method", ["nf4", "fp4"])
@pytest.mark.parametrize("double_quant", [False, True])
@pytest.mark.parametrize(("k", "n", "bias"), [(200, 96, True), (64, 64, False), (4096, 33, True), (130, 7, False)])
def test_4bit_storage_equals_bitsandbytes(method: str, double_quant: bool, k: int, n: int, bias: bool) -> None:
    torch = pytest.importorskip("torch")
    bnb = pytest.importorskip("bitsandbytes")
    layer = bnb.nn.Linear4bit(k, n, bias=bias, compute_dtype=torch.bfloat16, compress_statistics=double_quant,
                              quant_type=method)  # fmt: skip
    layer.load_state_dict(torch.nn.Linear(k, n, bias=bias).to(torch.bfloat16).state_dict())
    layer = layer.to("cpu")  # quantises
    # bitsandbytes made the bias float32 at construction (load_state_dict copies into it): the
    # unquantised parts are in that dtype here.
    q = Quantization(method, double_quant=double_quant, compute_dtype="float32")
    assert linear_weight_bytes(k, n, bias, q).value == _bnb_tensor_bytes(layer)


@pytest.mark.parametrize(("k", "n", "bias"), [(200, 96, True), (64, 512, False)])
def test_int8_storage_equals_bitsandbytes(k: int, n: int, bias: bool) -> None:
    torch = pytest.importorskip("torch")
    bnb = pytest.importorskip("bitsandbytes")
    layer = bnb.nn.Linear8bitLt(k, n, bias=bias, has_fp16_weights=False)
    layer.load_state_dict(torch.nn.Linear(k, n, bias=bias).to(torch.bfloat16).state_dict())
    layer = layer.to("cpu")
    assert layer.weight.dtype == torch.int8
    assert linear_weight_bytes(k, n, bias, Quantization("int8", compute_dtype="float32")).value == _bnb_tensor_bytes(
        layer
    )


def test_gptq_and_awq_storage_follow_their_layouts() -> None:
    # GPTQ QuantLinear (4 bits, group 128) of a 4096 -> 11008 projection: qweight int32 (512, 11008),
    # qzeros int32 (32, 1376), scales float16 (32, 11008), g_idx int32 (4096).
    gptq = linear_weight_bytes(4096, 11008, False, Quantization("gptq", bits=4, group_size=128))
    assert gptq.value == 512 * 11008 * 4 + 32 * 1376 * 4 + 32 * 11008 * 2 + 4096 * 4
    # AWQ GEMM: qweight int32 (4096, 1376), same qzeros and scales, no g_idx.
    awq = linear_weight_bytes(4096, 11008, False, Quantization("awq", bits=4, group_size=128))
    assert awq.value == 4096 * 1376 * 4 + 32 * 1376 * 4 + 32 * 11008 * 2
    one_group = linear_weight_bytes(4096, 64, False, Quantization("gptq", bits=8, group_size=-1))
    assert one_group.value == 1024 * 64 * 4 + 1 * 16 * 4 + 1 * 64 * 2 + 4096 * 4


@pytest.mark.parametrize("name", ["adamw", "sgd_momentum", "adafactor"])
def test_optimizer_state_bytes_equal_a_real_step(name: str) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Embedding(50, 24), torch.nn.Linear(24, 40), torch.nn.LayerNorm(40),
                                torch.nn.Linear(40, 7, bias=False))  # fmt: skip
    if name == "adamw":
        opt = torch.optim.AdamW(model.parameters())
    elif name == "sgd_momentum":
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    else:
        opt = transformers.optimization.Adafactor(model.parameters(), lr=1e-3, relative_step=False)
    model(torch.randint(0, 50, (3, 5))).sum().backward()
    opt.step()
    real = sum(
        v.numel() * v.element_size()
        for state in opt.state.values()
        for v in state.values()
        if isinstance(v, torch.Tensor) and v.dim() > 0
    )
    shapes = [tuple(p.shape) for p in model.parameters()]
    assert optimizer_state_bytes(name, shapes) == real


def _t5_small() -> netsize.Network:
    config = json.loads(REFERENCE.read_text())["t5-small"]["config"]
    return network_from_config(config, seq_len=8)


GIB = 2**30


@pytest.mark.parametrize(
    ("offload", "gpu_gib", "cpu_gib"),
    [("none", 1.08, None), ("optimizer", 0.17, 1.35), ("params", 0.06, 1.52)],
)
def test_zero3_model_states_equal_deepspeed_published_t5_small(
    offload: str, gpu_gib: float, cpu_gib: float | None
) -> None:
    # DeepSpeed's estimate_zero3_model_states_mem_needs_all_live(t5-small, 1 node, 1 GPU), as printed
    # in the DeepSpeed/transformers documentation example: "60M total params, 16M largest layer params",
    # per GPU 1.08GB / 0.17GB / 0.06GB and per CPU 1.35GB / 1.52GB (zero_init=1).
    setup = Setup(seq_len=8, zero=3, offload_optimizer=offload != "none", offload_params=offload == "params")
    sc = plan(_t5_small(), scenarios=("full",), setup=setup).scenario("full")
    model_states = sc.total_bytes - sc.part("activations")
    assert round(model_states / GIB, 2) == gpu_gib
    if cpu_gib is not None:
        assert round(sc.cpu_bytes / GIB, 2) == cpu_gib


def _model_states(sc: Scenario) -> int:
    return sc.total_bytes - sc.part("activations")


@pytest.mark.parametrize("model", ["t5-small", "llama-3-8b"])
@pytest.mark.parametrize("gpus", [1, 4, 8, 64])
def test_zero2_and_zero3_model_states_equal_deepspeed_estimators(model: str, gpus: int) -> None:
    # The oracle is DeepSpeed 0.19.8's own estimate_zero2/3_model_states_mem_needs (vendored in
    # tests/deepspeed_estimators.py): ZeRO-2 2P + 18P/N since v0.14.3, ZeRO-3 4L + 18P/N.
    net = _t5_small() if model == "t5-small" else network_from_config(json.loads(LLAMA_3_8B.read_text()), seq_len=8)
    summary = netsize.analyze(net)
    p = summary.totals.params
    largest = max(r.params for r in summary.layers)
    nodes, per_node = (gpus // 8, 8) if gpus >= 8 else (1, gpus)
    tolerance = 5  # netsize rounds each of the sharded parts up to a whole byte; DeepSpeed floors once
    for offload in (False, True):
        o = {"offload_optimizer": offload}
        z2 = plan(net, scenarios=("full",), setup=Setup(seq_len=8, zero=2, gpus=gpus, **o)).scenario("full")
        _, ds2 = deepspeed_estimators.estimate_zero2_model_states_mem_needs(p, per_node, nodes, cpu_offload=offload)
        assert 0 <= _model_states(z2) - ds2 <= tolerance, (offload, _model_states(z2), ds2)
        z3 = plan(net, scenarios=("full",), setup=Setup(seq_len=8, zero=3, gpus=gpus, **o)).scenario("full")
        _, ds3, _ = deepspeed_estimators.estimate_zero3_model_states_mem_needs(
            p, largest, per_node, nodes, cpu_offload=offload, cpu_offload_params=False
        )
        assert 0 <= _model_states(z3) - ds3 <= tolerance, (offload, _model_states(z3), ds3)
    z3p = Setup(seq_len=8, zero=3, gpus=gpus, offload_optimizer=True, offload_params=True)
    _, ds3p, _ = deepspeed_estimators.estimate_zero3_model_states_mem_needs(p, largest, per_node, nodes)
    assert _model_states(plan(net, scenarios=("full",), setup=z3p).scenario("full")) == ds3p


def test_zero2_shards_the_half_precision_gradients() -> None:
    # LLaMA-3-8B on 8 GPUs: DeepSpeed 0.19.8 counts 31.78 GiB of model states (2P + 18P/8); the
    # estimator before v0.14.3 counted 4P + 16P/8 = 44.87 GiB.
    sc = plan(str(LLAMA_3_8B), scenarios=("full",), setup=Setup(seq_len=8, zero=2, gpus=8)).scenario("full")
    p = 8_030_261_248
    assert sc.part("gradients") == 2 * p // 8
    assert round(_model_states(sc) / GIB, 2) == 31.78


def test_full_finetune_is_sixteen_bytes_per_param_without_zero() -> None:
    net = netsize.zoo.get("resnet18").build()
    sc = plan(net, scenarios=("full",), setup=Setup(precision="amp")).scenario("full")
    p = 11_689_512
    assert sc.part("weights") == 4 * p
    assert sc.part("gradients") == 4 * p
    assert sc.part("optimizer_state") == 8 * p


def test_serving_max_batch_is_the_largest_that_fits() -> None:
    setup = Setup(context=8192, serve_batch=1)
    p = plan(str(LLAMA_3_8B), scenarios=("serve",), setup=setup, gpu="l4")
    fit = p.scenario("serve").fits[0]
    assert fit.max_batch is not None and fit.max_batch >= 0
    budget = int(gpu_named("l4").memory_bytes * 0.9)
    for batch, fits in ((fit.max_batch, True), (fit.max_batch + 1, False)):
        if batch == 0:
            continue
        sc = plan(str(LLAMA_3_8B), scenarios=("serve",), setup=Setup(context=8192, serve_batch=batch)).scenario("serve")
        assert (sc.total_bytes <= budget) is fits


def test_serving_kv_cache_is_paged_in_blocks() -> None:
    a = plan(str(LLAMA_3_8B), scenarios=("serve",), setup=Setup(context=1000, block_size=16)).scenario("serve")
    b = plan(str(LLAMA_3_8B), scenarios=("serve",), setup=Setup(context=1008, block_size=16)).scenario("serve")
    # LLaMA-3-8B: 32 layers x 8 KV heads x 128 x (K and V) = 65,536 elements = 128 KiB per token in bf16;
    # 1,000 tokens occupy 63 blocks of 16 = 1,008 tokens.
    assert a.part("kv_cache") == b.part("kv_cache") == 1008 * 131072


def test_quantised_serving_keeps_embeddings_and_lm_head() -> None:
    sc = plan(str(LLAMA_3_8B), scenarios=("serve",), setup=Setup(quant=Quantization("nf4", double_quant=True)))
    weights = sc.scenario("serve").part("weights")
    embed_and_head = 2 * 128256 * 4096 * 2  # bf16
    assert embed_and_head < weights < embed_and_head + 8_030_261_248 // 2


def test_unknown_gpu_suggests_close_names() -> None:
    with pytest.raises(NetsizeError, match="h100"):
        gpu_named("h10")


def test_setup_rejects_impossible_parallelism() -> None:
    with pytest.raises(NetsizeError, match="multiple of 4"):
        Setup(gpus=6, tensor_parallel=4)
    with pytest.raises(NetsizeError, match="ZeRO stage 3"):
        Setup(zero=2, offload_params=True)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netsize", *args], capture_output=True, text=True, check=False)


def test_cli_plan_json_and_errors() -> None:
    proc = _cli("plan", str(LLAMA_3_8B), "--gpus", "8", "--zero", "3", "--scenario", "full", "--gpu", "h100",
                "--format", "json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    full = data["scenarios"][0]
    assert full["trainable_params"] == 8_030_261_248
    assert full["fits"][0]["gpu"] == "h100"
    bad = _cli("plan", str(LLAMA_3_8B), "--lora", "r=x")
    assert bad.returncode == 2
    assert bad.stderr.startswith("netsize: error: --lora: r must be an integer")


def test_schedule_takes_a_named_gpu() -> None:
    proc = _cli("schedule", "--samples", "50000", "-b", "256", "--epochs", "10", "--model", "vgg16", "--gpu", "h100",
                "--gpus", "8", "--utilisation", "0.4", "--format", "json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    # vgg16: 15,470,264,320 multiply-adds per sample; 3 x 2 x that x 500,000 samples seen, at
    # 8 x 989 TFLOP/s x 0.4.
    assert data["time_seconds"] == pytest.approx(3 * 2 * 15_470_264_320 * 500_000 / (8 * 989e12 * 0.4))


def test_config_plans_run_sdpa_unless_told_otherwise() -> None:
    # transformers builds models with sdpa by default: no seq x seq attention scores are kept,
    # so activations are far below eager attention's at a long sequence.
    sdpa = plan(str(LLAMA_3_8B), scenarios=("full",), setup=Setup(seq_len=4096)).scenario("full")
    eager = plan(str(LLAMA_3_8B), scenarios=("full",), setup=Setup(seq_len=4096, attention="eager")).scenario("full")
    scores = 32 * 32 * 4096 * 4096  # layers x heads x L x S: one score matrix per layer
    assert eager.part("activations") - sdpa.part("activations") > 2 * scores  # at least bf16 scores, kept
    assert sdpa.part("weights") == eager.part("weights")


# --- peft's default targets, per architecture -------------------------------------------------


def test_default_lora_targets_are_peft_table() -> None:
    peft_constants = pytest.importorskip("peft.utils.constants")
    from netsize.plan._peft_targets import LORA_TARGETS, PEFT_VERSION

    table = {k: v if isinstance(v, str) else list(v) for k, v in LORA_TARGETS.items()}
    assert table == peft_constants.TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING
    assert pytest.importorskip("peft").__version__ == PEFT_VERSION


@pytest.mark.parametrize("family", ["llama", "mistral", "qwen2", "gpt2", "bert"])
def test_default_lora_plan_trains_what_peft_trains_without_targets(family: str) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    peft = pytest.importorskip("peft")
    cfg = TINY[family]
    torch.manual_seed(0)
    model = getattr(transformers, cfg["architectures"][0])(transformers.AutoConfig.for_model(**cfg))
    peft_model = peft.get_peft_model(model, peft.LoraConfig(r=16, lora_alpha=32))  # no target_modules
    trainable, _ = peft_model.get_nb_trainable_parameters()
    sc = plan(cfg, scenarios=("lora",), setup=Setup(seq_len=8)).scenario("lora")
    assert sc.error is None
    assert sc.trainable_params == trainable


# DeepSeek-V3's config.json, every field as released (multi-head latent attention, 256 routed
# experts of which 8 per token, first 3 layers dense, FP8 quantization_config), sizes shrunk.
DEEPSEEK_V3_SMALL = {
    "architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3", "hidden_size": 256,
    "intermediate_size": 512, "moe_intermediate_size": 64, "num_hidden_layers": 4, "num_attention_heads": 8,
    "num_key_value_heads": 8, "n_shared_experts": 1, "n_routed_experts": 16, "num_experts_per_tok": 4,
    "first_k_dense_replace": 1, "moe_layer_freq": 1, "kv_lora_rank": 64, "q_lora_rank": 96, "qk_nope_head_dim": 32,
    "qk_rope_head_dim": 16, "v_head_dim": 32, "vocab_size": 1024, "max_position_embeddings": 4096,
    "rms_norm_eps": 1e-06, "tie_word_embeddings": False, "topk_method": "noaux_tc", "n_group": 4, "topk_group": 2,
    "routed_scaling_factor": 2.5, "scoring_func": "sigmoid", "norm_topk_prob": True, "hidden_act": "silu",
    "rope_theta": 10000, "attention_bias": False, "attention_dropout": 0.0, "num_nextn_predict_layers": 1,
    "bos_token_id": 0, "eos_token_id": 1, "initializer_range": 0.02, "use_cache": True, "torch_dtype": "bfloat16",
    "rope_scaling": {"beta_fast": 32, "beta_slow": 1, "factor": 40, "mscale": 1.0, "mscale_all_dim": 1.0,
                     "original_max_position_embeddings": 4096, "type": "yarn"},
    "quantization_config": {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8",
                            "weight_block_size": [128, 128]},
}  # fmt: skip


def test_deepseek_v3_plans_serve_and_full_and_says_why_not_lora(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(DEEPSEEK_V3_SMALL))
    p = plan(str(path))  # the default scenarios: serve, lora, full
    assert p.scenario("serve").error is None and p.scenario("serve").total_bytes > 0
    assert p.scenario("full").error is None and p.scenario("full").trainable_params == p.params
    lora = p.scenario("lora")
    assert lora.error is not None and "deepseek_v3" in lora.error and "q_a_proj" in lora.error
    assert p.to_dict()["scenarios"][1]["error"] == lora.error
    proc = _cli("plan", str(path), "--gpu", "h100")
    assert proc.returncode == 0, proc.stderr
    assert "lora: not planned" in proc.stdout and "full fine-tuning" in proc.stdout
    named = plan(str(path), scenarios=("lora",), setup=Setup(lora=LoRA(targets=("q_b_proj", "kv_b_proj"))))
    assert named.scenario("lora").trainable_params > 0
    # only the scenario that cannot be planned was asked for: its error is the command's
    only = _cli("plan", str(path), "--scenario", "lora")
    assert only.returncode == 2 and "no default LoRA targets for model_type 'deepseek_v3'" in only.stderr


def test_peft_itself_has_no_default_targets_for_deepseek_v3() -> None:
    # what the plan's LoRA error says, checked against peft on the real model (meta device)
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    peft = pytest.importorskip("peft")
    cfg = {k: v for k, v in DEEPSEEK_V3_SMALL.items() if k != "quantization_config"}
    with torch.device("meta"):
        model = transformers.DeepseekV3ForCausalLM(transformers.AutoConfig.for_model(**cfg))
    with pytest.raises(ValueError, match="target_modules"):
        peft.get_peft_model(model, peft.LoraConfig(r=16))


# --- tensor and pipeline parallel layouts ------------------------------------------------------

# Falcon-7B's config.json as released: 71 query heads, multi-query attention (1 KV head), 32 layers.
FALCON_7B = {
    "alibi": False, "apply_residual_connection_post_layernorm": False, "architectures": ["FalconForCausalLM"],
    "attention_dropout": 0.0, "bias": False, "bos_token_id": 11, "eos_token_id": 11, "hidden_dropout": 0.0,
    "hidden_size": 4544, "initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "model_type": "falcon",
    "multi_query": True, "new_decoder_architecture": False, "num_attention_heads": 71, "num_hidden_layers": 32,
    "parallel_attn": True, "torch_dtype": "bfloat16", "vocab_size": 65024,
}  # fmt: skip


def test_tensor_parallel_must_divide_the_query_heads() -> None:
    with pytest.raises(NetsizeError, match=r"tensor-parallel 8 does not divide the 71 query heads.*\(1, 71\)"):
        plan(FALCON_7B, scenarios=("serve",), setup=Setup(gpus=8, tensor_parallel=8))
    proc = _cli("plan", "-", "--tp", "8", "--gpus", "8")  # an unreadable target still fails cleanly
    assert proc.returncode == 2
    llama = json.loads(LLAMA_3_8B.read_text())  # 32 query heads, 8 KV heads
    with pytest.raises(NetsizeError, match="tensor-parallel 3"):
        plan(llama, scenarios=("serve",), setup=Setup(gpus=3, tensor_parallel=3))
    with pytest.raises(NetsizeError, match="not a multiple of the 8 KV heads"):
        plan({**llama, "num_attention_heads": 48}, scenarios=("serve",), setup=Setup(gpus=12, tensor_parallel=12))


def test_kv_heads_fewer_than_tp_are_replicated() -> None:
    one = plan(FALCON_7B, scenarios=("serve",), setup=Setup(context=1024)).scenario("serve")
    tp71 = plan(FALCON_7B, scenarios=("serve",), setup=Setup(context=1024, gpus=71, tensor_parallel=71))
    sc = tp71.scenario("serve")
    # one KV head, replicated on all 71 GPUs: every GPU caches the whole (one-head) KV cache
    assert sc.part("kv_cache") == one.part("kv_cache")
    assert any("replicated on 71 GPUs" in n for n in sc.notes)
    llama = json.loads(LLAMA_3_8B.read_text())
    base = plan(llama, scenarios=("serve",), setup=Setup(context=1024)).scenario("serve").part("kv_cache")
    tp16 = plan(llama, scenarios=("serve",), setup=Setup(context=1024, gpus=16, tensor_parallel=16))
    assert tp16.scenario("serve").part("kv_cache") == base // 8  # 8 KV heads: one per GPU, 2 GPUs each


def test_pipeline_stages_balance_or_refuse_and_hold_the_embeddings_where_megatron_does() -> None:
    # Falcon-7B: 32 blocks of h*(h + 2*64) + h^2 + 8h^2 + 2h params, embedding V*h (tied to the head),
    # final LayerNorm 2h. As Megatron-LM places them, the first stage holds its blocks and the
    # embedding, the last its blocks, the final norm and the head's copy of the table.
    h, v = 4544, 65024
    block = h * (h + 128) + h * h + 8 * h * h + 2 * h
    total = 32 * block + v * h + 2 * h
    whole = plan(FALCON_7B, scenarios=("full",), setup=Setup(seq_len=8)).scenario("full").part("optimizer_state")
    assert whole == 8 * total
    pp4 = plan(FALCON_7B, scenarios=("full",), setup=Setup(seq_len=8, gpus=4, pipeline_stages=4)).scenario("full")
    most = 8 * block + max(v * h, 2 * h + v * h)
    assert pp4.part("optimizer_state") == -(-whole * most // total)
    pp5 = plan(FALCON_7B, scenarios=("full",), setup=Setup(seq_len=8, gpus=5, pipeline_stages=5)).scenario("full")
    assert pp5.part("optimizer_state") == -(-whole * (7 * block + 2 * h + v * h) // total)  # stages of 6 or 7
    assert any("stages balanced at 6 or 7 blocks" in n for n in pp5.notes)
    with pytest.raises(NetsizeError, match="pipeline stages 40 exceed the model's 32 transformer blocks"):
        plan(FALCON_7B, scenarios=("full",), setup=Setup(seq_len=8, gpus=40, pipeline_stages=40))


def test_most_loaded_stage_equals_megatrons_theoretical_memory() -> None:
    # Megatron-LM megatron/training/theoretical_memory_usage.py, compute_weight_and_optimizer_memory:
    # most loaded shard = (transformer block / pp + embedding) / tp parameters, the block counted
    # as l * (12h^2 + 4h) + 2h (it leaves out linear biases and the position table), and
    # 6 + 12/dp bytes per parameter with the distributed optimizer (bf16 weights, float32 main
    # gradients, float32 master and moments sharded). GPT-3 175B at TP 4, PP 8, DP 4:
    layers, h, s, v, tp, pp, dp = 96, 12288, 2048, 51200, 4, 8, 4
    gpt3 = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": h, "n_layer": layers, "n_head": 96,
            "n_positions": s, "vocab_size": v}  # fmt: skip
    megatron_shard = ((layers * (12 * h * h + 4 * h) + 2 * h) / pp + v * h) / tp
    sc = plan(gpt3, scenarios=("full",), setup=Setup(seq_len=8, gpus=tp * pp * dp, tensor_parallel=tp,
                                                       pipeline_stages=pp, zero=1)).scenario("full")  # fmt: skip
    shard = sc.part("weights") / 2  # bf16 weights on the GPU: its parameters
    assert shard == pytest.approx(megatron_shard, rel=2e-3)  # biases and position table: 0.14%
    # netsize's bytes per parameter are DeepSpeed's ZeRO-1 accounting, 4 + 16/dp (bf16 gradients plus a
    # float32 partition), where Megatron's distributed optimizer keeps float32 main gradients, 6 + 12/dp
    states = sum(sc.part(n) for n in ("weights", "gradients", "master_weights", "optimizer_state",
                                      "fp32_grad_partition"))  # fmt: skip
    assert states / shard == pytest.approx(4 + 16 / dp, rel=1e-6)


# --- defaults and syntax -----------------------------------------------------------------------


def test_cli_accepts_comma_separated_lora_targets() -> None:
    proc = _cli("plan", str(LLAMA_3_8B), "--lora", "r=16,targets=q_proj,v_proj", "--scenario", "lora", "-s", "8",
                "--format", "json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["setup"]["lora"]["targets"] == ["q_proj", "v_proj"]
    # 32 layers x r*(4096 + 4096) for q_proj + r*(4096 + 1024) for v_proj
    assert data["scenarios"][0]["trainable_params"] == 32 * 16 * (8192 + 5120)


def test_plan_and_llm_default_to_the_same_tokens() -> None:
    from netsize.llm import llm_figures

    p = plan(str(LLAMA_3_8B), scenarios=("serve",))
    assert p.setup.seq_len == llm_figures(str(LLAMA_3_8B)).seq_len == 1024  # min(max_position_embeddings, 1024)
    assert "context 1,024" in p.scenario("serve").description


@pytest.mark.parametrize(("s", "h", "a"), [(1024, 1024, 16), (2048, 2048, 16)])
def test_pure_bf16_activations_are_korthikantis_and_autocast_adds_float32_norms_and_softmax(
    s: int, h: int, a: int
) -> None:
    # Korthikanti et al. (2022), eq. 2: sbh(34 + 5as/h) bytes per layer, every saved tensor 16-bit
    # (1-byte dropout masks). Under bf16 autocast the two LayerNorms' inputs (the float32 residual
    # stream) and the softmax output stay float32: sbh(4 + 2as/h) more. Per layer = the slope
    # between 4 and 8 layers of the step's peak minus the model states (netsize.memory).
    from netsize.memory import estimate

    def act(layers: int, mode: str) -> int:
        gpt = {"model_type": "gpt2", "n_embd": h, "n_layer": layers, "n_head": a, "n_positions": 4096,
               "attn_implementation": "eager", "vocab_size": 1000}  # fmt: skip
        net = network_from_config(gpt, seq_len=s)
        dtype, autocast = ("bfloat16", None) if mode == "bf16" else ("float32", "bfloat16")
        r = estimate(net, dtype=dtype, optimizer="sgd", autocast=autocast)
        if layers == 4:  # the plan's activation setting is this estimate's
            planned = plan(net, scenarios=("full",), setup=Setup(precision="amp", activations=mode)).scenario("full")
            assert planned.part("activations") == max(r.activation_bytes + r.input_bytes, r.peak_training_bytes -
                                                      r.weights_bytes - r.gradient_bytes - r.optimizer_bytes -
                                                      r.autocast_weight_copies_bytes)
        return r.peak_training_bytes - r.weights_bytes - r.gradient_bytes - r.optimizer_bytes - (
            r.autocast_weight_copies_bytes)

    x = a * s / h
    pure = (act(8, "bf16") - act(4, "bf16")) / 4
    autocast = (act(8, "autocast") - act(4, "autocast")) / 4
    assert pure == pytest.approx(s * h * (34 + 5 * x), rel=1e-3)
    assert autocast / pure == pytest.approx((38 + 7 * x) / (34 + 5 * x), rel=1e-3)  # 1.316 at as/h = 16
    master = plan({"model_type": "gpt2", "n_layer": 1}, scenarios=("full",), setup=Setup(seq_len=64, zero=1))
    assert master.to_dict()["setup"]["activations"] == "bf16"  # DeepSpeed/Megatron run the model in bf16
    shown = _cli("plan", str(LLAMA_3_8B), "--scenario", "full", "-s", "8", "--gpu", "h100", "--explain")
    assert "(38 + 7as/h) / (34 + 5as/h)" in shown.stdout and "--activations bf16" in shown.stdout


# --- roofline time estimates -------------------------------------------------------------------

LLAMA_2_7B = json.loads(REFERENCE.read_text())["llama-2-7b"]["config"]


@pytest.mark.parametrize("gpu", ["h100", "a100-80gb", "l4", "rtx4090", "mi300x"])
@pytest.mark.parametrize("config", ["llama-2-7b", "llama-3-8b", "falcon-7b"])
def test_decode_at_batch_one_cannot_beat_reading_the_weights(gpu: str, config: str) -> None:
    cfg = {"llama-2-7b": LLAMA_2_7B, "llama-3-8b": json.loads(LLAMA_3_8B.read_text()), "falcon-7b": FALCON_7B}[config]
    p = plan(cfg, scenarios=("serve",), gpu=gpu, setup=Setup(seq_len=512))
    assert p.roofline is not None
    summary = netsize.analyze(network_from_config(cfg, seq_len=8))
    # every weight but the lookup tables (a decode step gathers one row of those) is read once
    # (a head tied to the embedding reads the whole table)
    tied = sum(r.input_shapes[0][-1] * r.output_shape[-1] for r in summary.layers
               if r.kind == "Linear" and not r.params)  # fmt: skip
    read = 2 * (sum(r.params for r in summary.layers if r.kind not in ("Embedding", "PositionalEmbedding")) + tied)
    bandwidth = gpu_named(gpu).bandwidth_bytes_per_second
    assert p.roofline.decode.seconds >= read / bandwidth
    assert p.roofline.decode.bytes >= read
    assert p.roofline.decode.compute_bound_share == 0  # batch 1: every layer memory-bound
    half = plan(cfg, scenarios=("serve",), gpu=gpu, setup=Setup(seq_len=512, efficiency=0.5)).roofline
    assert half is not None and half.decode.seconds == pytest.approx(2 * p.roofline.decode.seconds)


def test_prefill_is_compute_bound_and_no_faster_than_its_flops() -> None:
    p = plan(LLAMA_2_7B, scenarios=("serve",), gpu="h100", setup=Setup(seq_len=2048))
    r = p.roofline
    assert r is not None
    assert r.prefill.seconds >= r.prefill.flops / gpu_named("h100").peak("bfloat16")
    # a 4096 x 4096 projection on 2,048 tokens: 2*2048*4096*4096 FLOPs over 2*(4096*4096 + 2*2048*4096) bytes,
    # 683 FLOP/byte, above the H100's 989.5e12 / 3.35e12 = 295: compute-bound
    q = next(lt for lt in r.prefill.layers if lt.name == "model.layers.*.self_attn.q_proj")
    assert (q.count, q.flops, q.bytes, q.bound) == (32, 2 * 2048 * 4096 * 4096, 2 * (4096 * 4096 + 2 * 2048 * 4096),
                                                     "compute")  # fmt: skip
    # the LM head computes the last token's logits only
    head = next(lt for lt in r.prefill.layers if lt.name == "lm_head")
    assert head.flops == 2 * 4096 * 32000
    tp2 = plan(LLAMA_2_7B, scenarios=("serve",), gpu="h100", setup=Setup(seq_len=2048, gpus=2, tensor_parallel=2))
    assert tp2.roofline is not None and tp2.roofline.prefill.flops == pytest.approx(r.prefill.flops / 2, rel=1e-6)


def test_decode_reads_the_kv_cache_of_every_sequence() -> None:
    one = plan(LLAMA_2_7B, scenarios=("serve",), gpu="h100", setup=Setup(seq_len=2048)).roofline
    many = plan(LLAMA_2_7B, scenarios=("serve",), gpu="h100", setup=Setup(seq_len=2048, serve_batch=16)).roofline
    assert one is not None and many is not None
    kv_per_sequence = 2048 * 32 * 2 * 4096 * 2  # context x layers x (K, V) x 32 heads x 128 x bf16
    # 15 more sequences: 15 more KV caches read, and the per-token activations
    assert many.decode.bytes - one.decode.bytes >= 15 * kv_per_sequence
    assert many.decode_tokens_per_second > 5 * one.decode_tokens_per_second  # weights read once for the batch


def test_gpt3_175b_tp4_pp8_model_flops_are_megatrons_and_bound_the_measured_mfu() -> None:
    # GPT-3 175B (96 layers, h 12288, 96 heads, vocab padded to 51200), seq 2048, micro-batch 1,
    # global batch 256 on 128 H100s at TP 4, PP 8 (DP 4: 64 micro-batches per step), as in
    # NVIDIA's NeMo/Megatron-Core performance tables; Megatron-Core reports 47% MFU in bf16.
    layers, h, s, v = 96, 12288, 2048, 51200
    gpt3 = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": h, "n_layer": layers, "n_head": 96,
            "n_positions": s, "vocab_size": v}  # fmt: skip
    setup = Setup(seq_len=s, micro_batch=1, grad_accum=64, gpus=128, tensor_parallel=4, pipeline_stages=8, zero=1)
    r = plan(gpt3, scenarios=("full",), gpu="h100", setup=setup).roofline
    assert r is not None and r.training is not None and r.training_mfu is not None
    # Megatron-LM's model FLOPs per token (Narayanan et al. 2021): 72*l*h^2*(1 + s/(6h) + V/(12*l*h))
    assert r.training_model_flops_per_step == (72 * layers * h * h + 12 * layers * h * s + 6 * v * h) * 256 * s
    bubble_ceiling = 64 / (64 + 8 - 1)
    assert 0.47 < r.training_mfu < bubble_ceiling


def test_cli_plan_time_estimates() -> None:
    proc = _cli("plan", str(LLAMA_3_8B), "--gpu", "h100", "--scenario", "serve,full", "-s", "512", "--explain")
    assert proc.returncode == 0, proc.stderr
    assert "time on h100 (roofline at 1 of datasheet peaks" in proc.stdout and "decode tokens/s" in proc.stdout
    assert "model.layers.*.mlp.down_proj x32" in proc.stdout and "memory-bound" in proc.stdout
    js = _cli("plan", str(LLAMA_3_8B), "--gpu", "l4", "--scenario", "serve", "-s", "512", "--format", "json",
              "--efficiency", "0.6")  # fmt: skip
    data = json.loads(js.stdout)["roofline"]
    assert data["measured"] is False and data["efficiency"] == 0.6 and data["decode_tokens_per_second"] > 0
    bad = _cli("plan", str(LLAMA_3_8B), "--gpu", "l4", "--efficiency", "0")
    assert bad.returncode == 2 and "efficiency must be in (0, 1]" in bad.stderr


def test_roofline_of_a_network_without_kv_cache_is_one_forward_pass() -> None:
    net = netsize.zoo.get("resnet18").build()
    summary = netsize.analyze(net)
    p = plan(net, scenarios=("serve", "lora", "full"), gpu="t4", setup=Setup(serve_batch=4))
    r = p.roofline
    assert r is not None and not r.generative
    assert r.prefill.flops == 4 * (2 * summary.totals.multiply_adds + sum(x.other_ops for x in summary.layers))
    data = p.to_dict()["roofline"]
    assert "forward" in data and "decode_step" not in data
    assert p.scenario("lora").error is not None and "this model has none" in p.scenario("lora").error


@pytest.mark.parametrize("scenario", ["lora", "qlora"])
def test_lora_and_qlora_activations_are_a_frozen_bases_not_full_trainings(scenario: str) -> None:
    """The LoRA and QLoRA rows count what autograd keeps for a frozen bf16 base with adapters (the
    network method with LoraAdapters, checked against peft models in tests/test_memory_lora.py),
    not the full-training upper bound."""
    from netsize.memory import estimate
    from netsize.memory._network_walk import LoraAdapters

    cfg = {**TINY["llama"], "num_hidden_layers": 4}
    setup = Setup(seq_len=64, lora=LoRA(r=8, targets=("q_proj", "v_proj")))
    planned = plan(cfg, scenarios=(scenario, "full"), setup=setup)
    lora_act, full_act = planned.scenario(scenario).part("activations"), planned.scenario("full").part("activations")
    assert lora_act < full_act
    net = network_from_config({**cfg, "attn_implementation": "sdpa"}, seq_len=64)  # the plan's default kernel
    targeted = lora_count(netsize.analyze(net), setup.lora).targeted
    r = estimate(net, dtype="float32", optimizer="sgd", autocast="bfloat16",
                 adapters=LoraAdapters(targeted, 8, base_in_autocast_dtype=True))  # fmt: skip
    states = r.weights_bytes + r.gradient_bytes + r.optimizer_bytes + r.autocast_weight_copies_bytes
    assert lora_act == max(r.activation_bytes + r.input_bytes, r.peak_training_bytes - states)
    assert not any("upper bound" in n for n in planned.scenario(scenario).notes)



def test_lora_dropout_adds_its_masks_to_the_activations() -> None:
    cfg = {**TINY["llama"], "num_hidden_layers": 4}
    act = [plan(cfg, scenarios=("lora",), setup=Setup(seq_len=64, lora=LoRA(r=8, targets=("q_proj", "v_proj"),
                                                                            dropout=d))).scenario("lora")
           .part("activations") for d in (0.0, 0.1)]  # fmt: skip
    assert act[1] > act[0]
    with pytest.raises(NetsizeError, match="dropout"):
        LoRA(dropout=1.5)
    from netsize.cli.cmd_plan import parse_lora

    assert parse_lora("r=8,dropout=0.05,targets=q_proj,v_proj") == LoRA(r=8, dropout=0.05, targets=("q_proj", "v_proj"))
