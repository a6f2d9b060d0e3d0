"""netsize.plan against the libraries whose storage and counts it predicts: bitsandbytes' quantised
layers, peft's trainable parameters, torch and transformers' optimizer states, and DeepSpeed's
ZeRO estimators (their published example output)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import netsize
from netsize import NetsizeError
from netsize.frontends.hf_config import network_from_config
from netsize.plan import LoRA, Quantization, Setup, gpu_named, plan
from netsize.plan._lora import lora_count
from netsize.plan._states import optimizer_state_bytes
from netsize.quantization import linear_weight_bytes

REFERENCE = Path(__file__).resolve().parent / "data" / "reference" / "transformers_params.json"
LLAMA_3_8B = Path(__file__).resolve().parents[1] / "examples" / "configs" / "llama-3-8b.json"

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


@pytest.mark.parametrize("gpus", [1, 4, 8, 64])
def test_zero2_and_zero3_model_states_follow_deepspeed_formulas(gpus: int) -> None:
    # deepspeed/runtime/zero/stage_1_and_2.py estimate_zero2_model_states_mem_needs (no offload):
    # 4*P + int(16*P/N); stage3.py estimate_zero3_model_states_mem_needs: 4*L + int(18*P/N).
    net = _t5_small()
    p = 60_506_624
    largest = 32_128 * 512
    z2 = plan(net, scenarios=("full",), setup=Setup(seq_len=8, zero=2, gpus=gpus)).scenario("full")
    z3 = plan(net, scenarios=("full",), setup=Setup(seq_len=8, zero=3, gpus=gpus)).scenario("full")
    tolerance = 4  # netsize rounds each of the four sharded parts up to a whole byte; DeepSpeed floors once
    assert 0 <= (z2.total_bytes - z2.part("activations")) - (4 * p + int(16 * p / gpus)) <= tolerance
    assert 0 <= (z3.total_bytes - z3.part("activations")) - (4 * largest + int(18 * p / gpus)) <= tolerance


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
