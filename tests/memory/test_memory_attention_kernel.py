"""Attention as CUDA runs it: the SDPA kernel PyTorch's CUDA dispatcher picks, what it keeps for
backward, autocast inside nn.MultiheadAttention, and the network method's same choice."""

from __future__ import annotations

import pytest

from netsize import Sequential, layers
from netsize.memory import block_bytes, estimate
from netsize.memory._attention_kernel import EFFICIENT, FLASH, MATH, log_sum_exp_elements, sdpa_backend

torch = pytest.importorskip("torch")


@pytest.mark.parametrize(
    ("dtype", "kw", "backend"),
    [
        ("bfloat16", {}, FLASH),
        ("float16", {"causal": True}, FLASH),
        ("float32", {}, EFFICIENT),  # flash needs 16-bit
        ("bfloat16", {"has_mask": True}, EFFICIENT),  # flash takes no arbitrary mask
        ("bfloat16", {"head_dim": 512}, EFFICIENT),  # flash: head size <= 256
        ("bfloat16", {"causal": True, "q_len": 1}, EFFICIENT),  # flash: causal needs L == S
        ("float32", {"head_dim": 30}, MATH),  # memory-efficient: float32 head size % 4
        ("bfloat16", {"head_dim": 60}, FLASH),  # flash pads the head size itself
        ("float16", {"head_dim": 60, "has_mask": True}, MATH),  # memory-efficient: 16-bit head size % 8
        ("float64", {}, MATH),
        ("bfloat16", {"kv_heads": 2}, MATH),  # grouped heads without enable_gqa
        ("bfloat16", {"kv_heads": 2, "enable_gqa": True}, FLASH),
        ("bfloat16", {"dims": 3}, MATH),
        ("bfloat16", {"enabled": (EFFICIENT, MATH)}, EFFICIENT),  # torch.backends.cuda.enable_flash_sdp(False)
    ],
)
def test_sdpa_backend_follows_the_cuda_dispatcher(dtype, kw, backend):
    facts = {"heads": 8, "kv_heads": 8, "q_len": 128, "kv_len": 128, "head_dim": 64, **kw}
    assert sdpa_backend(dtype, **facts) == backend


def _observe(mod, batch, size, **kw):
    from netsize.memory import _torch_observe as obs

    return obs.observe(mod, obs.batch_maker(mod, batch, size, None), **kw)


class _Core(torch.nn.Module):
    """q, k, v from one projection, then F.scaled_dot_product_attention (as transformers' sdpa)."""

    def __init__(self, e: int = 64, h: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        self.qkv = torch.nn.Linear(e, 3 * e)
        self.h, self.dropout = h, dropout

    def forward(self, x):
        n, length, e = x.shape
        q, k, v = self.qkv(x).view(n, length, 3, self.h, e // self.h).permute(2, 0, 3, 1, 4)
        out = torch.nn.functional.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout, is_causal=True)
        return out.transpose(1, 2).reshape(n, length, e)


@pytest.mark.parametrize(("autocast", "kernel", "lse_dtype"), [(None, EFFICIENT, "float32"),
                                                                ("bfloat16", FLASH, "float32")])
def test_fused_kernel_keeps_output_and_log_sum_exp_not_probabilities(autocast, kernel, lse_dtype):
    n, length, e, h = 2, 96, 64, 4
    with torch.device("meta"):
        mod = _Core(e, h)
    o = _observe(mod, n, (length, e), autocast=autocast)
    shapes = {(s.shape, s.dtype) for s in o.saved}
    assert not any(len(shape) == 4 and shape[-1] == shape[-2] == length for shape, _ in shapes)  # no N*H*L*S
    lse = [s for s in o.saved if s.dtype == lse_dtype and len(s.shape) == 3]
    assert [s.bytes for s in lse] == [block_bytes(4 * log_sum_exp_elements(kernel, n, h, length))]
    low = autocast or "float32"
    assert ((n, h, length, e // h), low) in shapes  # the kernel's output


def test_sdpa_kernel_saves_what_the_aten_kernel_itself_saves():
    """The observer runs the dispatched aten op; its autograd formula decides what is saved."""
    from netsize.memory._torch_observe import _CudaSdpa

    q = torch.zeros(2, 4, 64, 32, device="meta", dtype=torch.bfloat16, requires_grad=True)

    def saved_by(fn):
        seen = []
        with torch.autograd.graph.saved_tensors_hooks(lambda t: seen.append((tuple(t.shape), t.dtype)) or t,
                                                      lambda t: t):
            fn()
        return sorted(map(str, seen))

    mode = _CudaSdpa()
    with mode:
        observed = saved_by(lambda: torch.nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True))
    direct = saved_by(lambda: torch.ops.aten._scaled_dot_product_flash_attention(q, q, q, 0.0, True, False))
    assert mode.backends == [FLASH] and observed == direct


def test_multihead_attention_runs_under_autocast_and_the_fused_kernel():
    class Block(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = torch.nn.MultiheadAttention(64, 4, batch_first=True)

        def forward(self, x):
            return self.attn(x, x, x, need_weights=False)[0]

    with torch.device("meta"):
        mod = Block()
    o = _observe(mod, 2, (40, 64), autocast="bfloat16")
    dtypes = {s.dtype for s in o.saved}
    # the in-projection's saved input and the projections are bf16: autocast reached inside MHA
    assert "bfloat16" in dtypes and not any(s.dtype == "float32" and s.shape == (80, 64) for s in o.saved)
    assert not any(len(s.shape) == 3 and s.shape[-1] == s.shape[-2] == 40 for s in o.saved)  # no probabilities


@pytest.mark.parametrize("autocast", [None, "bfloat16"])
def test_network_mha_without_weights_keeps_what_the_observed_module_keeps(autocast):
    n, length, e = 4, 64, 128

    class Block(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = torch.nn.MultiheadAttention(e, 4, batch_first=True)

        def forward(self, x):
            return self.attn(x, x, x, need_weights=False)[0]

    with torch.device("meta"):
        mod = Block()
    observed = estimate(mod, n, input_size=(length, e), autocast=autocast)
    net = Sequential([("attn", layers.MultiheadAttention(e, 4, need_weights=False))], input_shape=(length, e))
    walked = estimate(net, n, autocast=autocast)
    assert abs(walked.activation_bytes - observed.activation_bytes) <= 0.03 * observed.activation_bytes


def test_network_method_takes_the_math_path_where_cuda_would():
    """float64 has no fused kernel: the math path keeps the N*H*L*S probabilities."""
    shape = (96, 3 * 64)
    net = Sequential([("core", layers.ScaledDotProductAttention(4, causal=True, implementation="sdpa"))],
                     input_shape=shape)
    fused = estimate(net, 2, dtype="float32")
    math = estimate(net, 2, dtype="float64")
    scores = 2 * 4 * 96 * 96
    assert math.activation_bytes - 2 * fused.activation_bytes >= block_bytes(8 * scores)


@pytest.mark.parametrize("autocast", [None, "bfloat16"])
def test_transformers_on_sdpa_network_and_module_methods_agree(autocast):
    """transformers' default attention is ``sdpa``: both methods count the fused kernel's tensors."""
    transformers = pytest.importorskip("transformers")
    from netsize.frontends.hf_config import network_from_config

    cfg = transformers.GPT2Config(n_layer=2, n_embd=128, n_head=4, vocab_size=1000, n_positions=256)
    cfg._attn_implementation = "sdpa"
    with torch.device("meta"):
        mod = transformers.GPT2LMHeadModel(cfg)
    net = network_from_config({**cfg.to_dict(), "_attn_implementation": "sdpa"}, seq_len=256)
    walked = estimate(net, 4, autocast=autocast)
    observed = estimate(mod, 4, autocast=autocast, seq_len=256, loss_fn=lambda out: out.logits.float().mean())
    # apart by transformers' float32 causal mask N*1*L*S (1 MiB here), which the memory-efficient
    # kernel keeps as its bias and the network does not model
    assert abs(walked.activation_bytes - observed.activation_bytes) <= 0.04 * observed.activation_bytes
    scores = 4 * 4 * 256 * 256  # an N*H*L*S tensor: neither method keeps one
    assert observed.activation_bytes < walked.activation_bytes + 2 * scores
