"""LoRA memory of a core network (``estimate(network, adapters=LoraAdapters(...))``): what autograd
keeps for a frozen base and its adapters, checked against the PyTorch-module method observing a
real peft model on the meta device, and against ``saved_tensors_hooks`` on small real layers."""

from __future__ import annotations

import pytest

from netsize import analyze
from netsize.memory import estimate
from netsize.memory._network_walk import LoraAdapters
from netsize.plan._lora import LoRA, lora_count

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")

from netsize.frontends.hf_config import network_from_config  # noqa: E402

LLAMA = {"vocab_size": 1000, "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 4,
         "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 512}  # fmt: skip
BERT = {"vocab_size": 1000, "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 4,
        "num_attention_heads": 4, "max_position_embeddings": 512}  # fmt: skip


def _saved_bytes(fn, *args) -> int:
    """Bytes of the tensors autograd keeps for ``fn(*args)`` that are not ``fn``'s parameters
    (each storage once; a weight is kept as a transposed view of the parameter)."""
    params = {p.untyped_storage().data_ptr() for p in fn.parameters()}
    seen: dict[int, int] = {}

    def pack(t):
        st = t.untyped_storage()
        if st.data_ptr() not in params:
            seen[st.data_ptr()] = st.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(*args)
    return sum(seen.values())


def test_frozen_layers_keep_what_the_rule_says():
    """The rules the network method follows, seen on real layers: a frozen linear keeps nothing
    when its input needs no gradient and no input when it does (under autocast: its weight's
    uncached low-precision copy); a frozen RMSNorm keeps no normalised output."""
    from transformers.models.llama.modeling_llama import LlamaRMSNorm

    x = torch.randn(2, 8, 16)
    xg = x.clone().requires_grad_()
    lin = torch.nn.Linear(16, 32).requires_grad_(False)
    assert _saved_bytes(lin, x) == 0
    assert _saved_bytes(lin, xg) == 0  # only the weight, a parameter
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert _saved_bytes(lin, xg) == 16 * 32 * 2  # the weight's bf16 copy
        assert _saved_bytes(lin, x) == 0
    trained, frozen = LlamaRMSNorm(16), LlamaRMSNorm(16).requires_grad_(False)
    assert _saved_bytes(trained, xg) - _saved_bytes(frozen, xg) == 2 * 8 * 16 * 4  # the normalised output
    emb = torch.nn.Embedding(10, 16).requires_grad_(False)
    assert _saved_bytes(emb, torch.tensor([[1, 2]])) == 0


def _peft_model(model_type: str, arch: str, fields: dict, targets, dropout: float = 0.0):
    config = transformers.AutoConfig.for_model(model_type, **fields)
    config._attn_implementation = "sdpa"
    with torch.device("meta"):
        model = getattr(transformers, arch)(config)
    return peft.get_peft_model(model, peft.LoraConfig(r=8, target_modules=targets, lora_dropout=dropout))


def _both(model_type, arch, fields, targets, autocast, checkpointing, seq=256, batch=4, dropout=0.0):
    mod = _peft_model(model_type, arch, fields, list(targets) if isinstance(targets, tuple) else targets, dropout)
    kw = {"batch_size": batch, "dtype": "float32", "autocast": autocast, "optimizer": "adamw",
          "checkpointing": checkpointing}  # fmt: skip
    observed = estimate(mod, seq_len=seq, loss_fn=lambda out: out.logits.float().mean(), **kw)
    net = network_from_config({"model_type": model_type, "architectures": [arch], **fields,
                               "attn_implementation": "sdpa"}, seq_len=seq)  # fmt: skip
    count = lora_count(analyze(net, batch_size=batch), LoRA(r=8, targets=targets))
    walked = estimate(net, adapters=LoraAdapters(count.targeted, 8, dropout=dropout), **kw)
    full = estimate(net, **kw)
    return walked, observed, full


@pytest.mark.parametrize(
    ("targets", "autocast", "checkpointing", "peak_bound"),
    [
        (("q_proj", "v_proj"), None, False, 0.03),
        (("q_proj", "v_proj"), "bfloat16", False, 0.04),
        (("q_proj", "v_proj"), None, True, 0.03),
        (("q_proj", "v_proj"), "bfloat16", True, 0.03),
        ("all-linear", None, False, 0.03),
        ("all-linear", "bfloat16", False, 0.03),
    ],
)
def test_llama_lora_network_method_agrees_with_peft_observed(targets, autocast, checkpointing, peak_bound):
    walked, observed, full = _both("llama", "LlamaForCausalLM", LLAMA, targets, autocast, checkpointing)
    # the trainable state is the adapters' only, exactly
    assert walked.gradient_bytes == observed.gradient_bytes
    assert walked.optimizer_bytes == observed.optimizer_bytes
    # what autograd keeps: within 0.3% (apart by transformers' position tensors)
    assert abs(walked.activation_bytes - observed.activation_bytes) <= 0.003 * observed.activation_bytes
    if not checkpointing and targets != "all-linear":
        # below full training's figure; with every linear adapted under autocast it is above it
        # (each adapter casts its input again, each frozen weight's copy is kept), as observed
        assert walked.activation_bytes < full.activation_bytes
    # the step's peak (backward transients of the adapters are not modelled: up to 3.3% under autocast)
    assert abs(walked.peak_training_bytes - observed.peak_training_bytes) <= peak_bound * observed.peak_training_bytes


def test_bert_lora_network_method_agrees_with_peft_observed():
    walked, observed, _ = _both("bert", "BertForMaskedLM", BERT, ("query", "value"), "bfloat16", False)
    assert walked.gradient_bytes == observed.gradient_bytes
    assert abs(walked.activation_bytes - observed.activation_bytes) <= 0.01 * observed.activation_bytes
    assert abs(walked.peak_training_bytes - observed.peak_training_bytes) <= 0.03 * observed.peak_training_bytes


def test_without_adapters_nothing_changes():
    net = network_from_config({"model_type": "llama", "architectures": ["LlamaForCausalLM"], **LLAMA}, seq_len=64)
    summary = analyze(net, batch_size=2)
    every = tuple(r.name for r in summary.layers if r.params)
    # every layer trained in full through adapters' ``trained``: the full-training figures, plus
    # the adapters' own state
    r = estimate(net, 2, adapters=LoraAdapters(("model.layers.0.self_attn.q_proj",), 8, trained=every))
    plain = estimate(net, 2)
    assert r.activation_bytes >= plain.activation_bytes
    assert r.gradient_bytes > plain.gradient_bytes


@pytest.mark.parametrize("autocast", [None, "bfloat16"])
def test_lora_dropout_keeps_its_mask_where_the_input_needs_a_gradient(autocast):
    """lora_dropout: A keeps the dropped input, and the 1-byte mask is kept except in the first
    layer, whose input needs no gradient (dropout there builds no graph)."""
    walked, observed, _ = _both("llama", "LlamaForCausalLM", LLAMA, ("q_proj", "v_proj"), autocast, False,
                                dropout=0.1)  # fmt: skip
    plain, _, _ = _both("llama", "LlamaForCausalLM", LLAMA, ("q_proj", "v_proj"), autocast, False)
    assert abs(walked.activation_bytes - observed.activation_bytes) <= 0.003 * observed.activation_bytes
    masks = 3 * 2 * 4 * 256 * 256  # layers 1-3, q and v: N*L*K bytes
    # float32: q's and v's dropped inputs (one each) replace the normalised input they shared, in
    # each of the 4 layers; under autocast each adapter kept a bf16 copy of its own anyway
    dropped = 0 if autocast else 4 * (2 - 1) * 4 * 256 * 256 * 4
    assert walked.activation_bytes - plain.activation_bytes == masks + dropped
