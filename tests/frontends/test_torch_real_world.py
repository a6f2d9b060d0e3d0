"""What real models contain (issue 9): padding strings, mixture-of-experts grouped products,
meta passes that fail for any reason, attention under sdpa. Small models written here
(torchvision and timm pull a CUDA torch); totals against sum(numel) and FlopCounterMode / 2."""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from model_state import assert_unchanged, capture  # noqa: E402
from netsize import NetsizeError  # noqa: E402
from netsize.frontends.torch import summary  # noqa: E402


def flopcounter_macs(model: nn.Module, *args, real: bool = False, **kwargs) -> int:
    """FlopCounterMode FLOPs / 2 of one forward pass (on meta tensors unless ``real``)."""
    counter = FlopCounterMode(display=False)
    if real:
        with counter, torch.no_grad():
            model(*args, **kwargs)
        return counter.get_total_flops() // 2
    memo: dict[int, torch.Tensor] = {}
    state = {}
    for n, t in [*model.named_parameters(remove_duplicate=False), *model.named_buffers(remove_duplicate=False)]:
        state[n] = memo.setdefault(id(t), torch.empty(t.shape, dtype=t.dtype, device="meta"))

    def meta(v):
        return torch.empty(v.shape, dtype=v.dtype, device="meta") if isinstance(v, torch.Tensor) else v

    with counter, torch.no_grad():
        torch.func.functional_call(
            model, state, tuple(meta(a) for a in args), {k: meta(v) for k, v in kwargs.items()}, tie_weights=True
        )
    return counter.get_total_flops() // 2


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --- padding strings ----------------------------------------------------------------------------


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_padding_strings_reach_the_core_conv_broadcast(padding: str, dims: int) -> None:
    conv = getattr(nn, f"Conv{dims}d")
    model = nn.Sequential(conv(3, 8, 3, padding=padding), conv(8, 4, 2, padding=padding, dilation=2))
    x = torch.randn(2, 3, *([9] * dims))
    s = summary(model, input_data=x)
    assert s.output_shapes == (tuple(model(x).shape),)
    assert s.totals.multiply_adds == flopcounter_macs(model, x)
    assert s.totals.params == n_params(model)


# --- mixture of experts through torch._grouped_mm -------------------------------------------------


class GroupedExperts(nn.Module):
    """Top-k routing, tokens sorted by expert, one grouped product per projection (as
    transformers' default experts kernel does)."""

    def __init__(self, dim: int = 16, hidden: int = 32, experts: int = 4, top_k: int = 2) -> None:
        super().__init__()
        self.router = nn.Linear(dim, experts, bias=False)
        self.up = nn.Parameter(torch.randn(experts, dim, hidden) * 0.1)
        self.down = nn.Parameter(torch.randn(experts, hidden, dim) * 0.1)
        self.experts, self.top_k = experts, top_k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = x.reshape(-1, x.shape[-1])
        weights, chosen = self.router(tokens).softmax(-1).topk(self.top_k, dim=-1)
        order = chosen.reshape(-1).argsort()
        rows = tokens[order // self.top_k]
        counts = torch.histc(chosen.reshape(-1).float(), bins=self.experts, min=0, max=self.experts - 1)
        offs = torch.cumsum(counts, 0, dtype=torch.int32)
        h = torch._grouped_mm(rows, self.up, offs=offs).relu()
        y = torch._grouped_mm(h, self.down, offs=offs) * weights.reshape(-1)[order, None]
        out = torch.zeros_like(tokens).index_add_(0, order // self.top_k, y)
        return out.reshape(x.shape)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
@pytest.mark.parametrize("meta", [False, True])
def test_grouped_mm_experts_are_counted_and_the_gap_to_flopcounter_is_noted(dtype, meta: bool) -> None:
    torch.manual_seed(0)
    if meta:
        with torch.device("meta"):
            model = GroupedExperts().to(dtype)
    else:
        model = GroupedExperts().to(dtype)
    n, dim, hidden, k = 2 * 5, 16, 32, 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback needed: the meta pass runs in any dtype
        s = summary(model, input_size=(2, 5, dim), dtypes=dtype)
    router = n * dim * 4
    experts = n * k * (dim * hidden + hidden * dim)
    assert s.totals.multiply_adds == router + experts
    assert s.totals.params == n_params(model)
    assert any(f"lower by exactly {experts:,}" in note and "_grouped_mm" in note for note in s.notes)
    if dtype == torch.bfloat16:  # torch's own meta kernel takes only bfloat16
        x = torch.empty(2, 5, dim, dtype=dtype, device="meta")
        assert flopcounter_macs(model, x) == router  # FlopCounterMode misses the experts


def test_transformers_mixtral_experts_counted_in_float32_and_bfloat16() -> None:
    transformers = pytest.importorskip("transformers")
    cfg = transformers.MixtralConfig(
        num_hidden_layers=1, hidden_size=64, intermediate_size=96, num_attention_heads=4, num_key_value_heads=2,
        num_local_experts=4, num_experts_per_tok=2, vocab_size=100,
    )  # fmt: skip
    ids = torch.zeros(2, 8, dtype=torch.long)
    experts = 2 * 8 * 2 * (64 * 2 * 96 + 96 * 64)
    with torch.device("meta"):
        bf16 = transformers.MixtralForCausalLM(cfg).to(torch.bfloat16).eval()
        f32 = transformers.MixtralForCausalLM(cfg).eval()
    expected = flopcounter_macs(bf16, input_ids=ids) + experts
    for model in (bf16, f32):
        s = summary(model, input_data={"input_ids": ids})
        assert s.totals.multiply_adds == expected
        assert s.totals.params == n_params(model)


# --- a meta pass that fails for any reason ----------------------------------------------------------


class UniqueConsecutive(nn.Module):
    """An op without a meta kernel (T5ForSequenceClassification's eos check)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc(x)
        return y + torch.unique_consecutive(torch.zeros(3, device=x.device)).sum()


class EyeWithoutDevice(nn.Module):
    """A tensor made inside forward without the input's device."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.eye(4) + x)


@pytest.mark.parametrize(
    ("factory", "op"), [(UniqueConsecutive, "unique_consecutive"), (EyeWithoutDevice, "aten.add.Tensor")]
)
def test_any_meta_failure_falls_back_to_one_real_pass_or_names_module_and_op(factory, op: str) -> None:
    model = factory()
    before = capture(model)
    with pytest.warns(RuntimeWarning, match="one real forward pass"):
        s = summary(model, input_size=(4, 4))
    assert_unchanged(before, model)
    assert s.totals.multiply_adds == 4 * 4 * 4 and s.totals.params == 20
    assert any(op in note for note in s.notes)
    with torch.device("meta"):
        meta_model = factory()
    where = rf"cannot run on meta tensors in \(root\) \({factory.__name__}\), in .*{op}"
    with pytest.raises(NetsizeError, match=where):
        summary(meta_model, input_size=(4, 4))


def test_wrong_input_fails_on_both_passes_with_one_clear_error() -> None:
    model = nn.Sequential(nn.Linear(4, 3))
    with pytest.raises(NetsizeError, match=r"in 0 \(Linear\).*real forward pass failed too.*Check the input"):
        summary(model, input_size=(2, 5))


# --- attention under sdpa: eager and sdpa agree; FlopCounterMode misses the CPU fused kernel ------


def test_bart_sdpa_counts_equal_eager_and_flopcounter_misses_cpu_flash_attention() -> None:
    transformers = pytest.importorskip("transformers")
    cfg = transformers.BartConfig(
        encoder_layers=1, decoder_layers=1, d_model=64, encoder_attention_heads=4, decoder_attention_heads=4,
        encoder_ffn_dim=128, decoder_ffn_dim=128, vocab_size=200, max_position_embeddings=64,
    )  # fmt: skip
    ids = torch.randint(3, 200, (2, 16))
    counts = {}
    for impl in ("eager", "sdpa"):
        cfg._attn_implementation = impl
        torch.manual_seed(0)
        model = transformers.BartModel(cfg).eval()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the decoder reads a value: real pass
            s = summary(model, input_data={"input_ids": ids})
        counts[impl] = (s, flopcounter_macs(model, real=True, input_ids=ids))
    (eager, eager_fc), (sdpa, sdpa_fc) = counts["eager"], counts["sdpa"]
    attention = 3 * 2 * (2 * 4 * 16 * 16 * 16)  # three attentions (enc self, dec self, cross), two products
    assert eager.totals.multiply_adds == eager_fc == sdpa.totals.multiply_adds
    assert sdpa_fc == sdpa.totals.multiply_adds - attention
    assert any(f"lower by exactly {attention:,}" in n and "for_cpu" in n for n in sdpa.notes)


# --- what was not counted, and user formulas ---------------------------------------------------------


class Uncountable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc(x)
        spectrum = torch.fft.rfft(y).abs().sum()
        distances = torch.cdist(y, y).sum()
        solved = torch.linalg.solve(torch.eye(8, device=x.device) + 0 * y[:8, :8], y[:8]).sum()
        up = torch.nn.functional.interpolate(y[None], scale_factor=2, mode="linear").sum()
        gram = (y @ y.T).sum()  # counted: the module's own row exists either way
        return y + spectrum + distances + solved + up + gram


def test_ops_no_rule_counts_are_listed_in_notes_json_and_footer() -> None:
    from netsize.render import footer_lines

    s = summary(Uncountable(), input_size=(8, 8))
    ops = dict(s.uncounted_ops)
    expected = {"aten._fft_r2c": 1, "aten._cdist_forward": 1, "aten._linalg_solve_ex": 1, "aten.upsample_linear1d": 1}
    assert ops == expected
    assert s.to_dict()["uncounted_ops"] == ops
    assert any("reached no counting rule" in line and "aten._fft_r2c x1" in line for line in footer_lines(s, "en"))
    # A module netsize has a layer for counts its own ops: nothing uncounted.
    plain = summary(nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4), nn.Softmax(-1)), input_size=(2, 4))
    assert plain.uncounted_ops == () and plain.to_dict()["uncounted_ops"] == {}


def test_op_formulas_per_call_and_registered_replace_the_zero() -> None:
    from netsize.frontends.torch import register_formula, unregister_formula

    fft = lambda args, kwargs, out: 8 * 8 * 3  # noqa: E731
    s = summary(
        Uncountable(),
        input_size=(8, 8),
        formulas={
            "aten::_fft_r2c": fft,
            torch.ops.aten._cdist_forward: lambda a, k, o: {"multiply_adds": 512, "other_ops": 64},
        },
    )
    assert s.totals.multiply_adds == 2 * 8 * 8 * 8 + 8 * 8 * 3 + 512
    assert "aten._fft_r2c" not in dict(s.uncounted_ops) and "aten._cdist_forward" not in dict(s.uncounted_ops)
    register_formula(torch.ops.aten.upsample_linear1d, lambda a, k, o: {"other_ops": o.numel()})
    try:
        s2 = summary(Uncountable(), input_size=(8, 8))
    finally:
        unregister_formula(torch.ops.aten.upsample_linear1d)
    assert "aten.upsample_linear1d" not in dict(s2.uncounted_ops)
    assert s2.totals.other_ops == summary(Uncountable(), input_size=(8, 8)).totals.other_ops + 8 * 16
    with pytest.raises(NetsizeError, match="returned 'many'"):
        summary(Uncountable(), input_size=(8, 8), formulas={"aten::_fft_r2c": lambda a, k, o: "many"})


def test_module_formula_counts_the_module_as_one_row_with_its_params() -> None:
    class Fused(nn.Module):  # stands for a module running a kernel netsize cannot see
        def __init__(self) -> None:
            super().__init__()
            self.inner = nn.Linear(8, 8)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner(x).relu()

    model = nn.Sequential(Fused(), nn.Linear(8, 2))
    s = summary(model, input_size=(4, 8), formulas={Fused: lambda m, inputs, out: inputs[0].shape[0] * 100})
    assert [r.name for r in s.layers] == ["0", "1"]
    assert s.layer("0").multiply_adds == 400 and s.layer("0").params == 72
    assert s.totals.params == n_params(model)
    assert s.totals.multiply_adds == 400 + 4 * 8 * 2


# --- fused fast paths --------------------------------------------------------------------------


class _ViTLike(nn.Module):
    """torchvision's ViT encoder block pattern: nn.MultiheadAttention called with
    need_weights=False, batch first, plus a stock nn.TransformerEncoderLayer."""

    def __init__(self) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(32, 4, batch_first=True)
        self.layer = nn.TransformerEncoderLayer(32, 4, 64, batch_first=True)
        self.head = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.attention(x, x, x, need_weights=False)
        return self.head(self.layer(x + y))


def test_mha_fast_path_counted_and_the_flopcounter_gap_noted() -> None:
    torch.manual_seed(0)
    model = _ViTLike().eval()
    x = torch.randn(2, 7, 32)
    s = summary(model, input_data=x)
    unfused = flopcounter_macs(model, x)  # on meta tensors, which the fast paths do not take
    fused = flopcounter_macs(model, x, real=True)  # eval, no_grad, CPU: PyTorch takes the fast paths
    assert s.totals.multiply_adds == unfused > fused
    gap = unfused - fused
    note = next(n for n in s.notes if "fast path" in n)
    assert f"{gap:,}" in note and "2 nn.MultiheadAttention or nn.TransformerEncoderLayer modules" in note
    assert s.totals.multiply_adds - gap == s.layer("head").multiply_adds  # all but the head was fused
    assert not any("fast path" in n for n in summary(model, input_data=x, mode="train").notes)


class _SdpaBlock(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.qkv = nn.Linear(32, 96)
        self.out = nn.Linear(32, 32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, 4, 8).permute(2, 0, 3, 1, 4)
        y = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out(y.transpose(1, 2).reshape(b, n, 32))


def test_sdpa_products_noted_where_a_real_cpu_pass_hides_them_from_flopcounter() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(_SdpaBlock(), _SdpaBlock()).eval()
    x = torch.randn(2, 9, 32)
    s = summary(model, input_data=x)
    assert s.totals.multiply_adds == flopcounter_macs(model, x)  # on meta FlopCounterMode counts them
    gap = s.totals.multiply_adds - flopcounter_macs(model, x, real=True)
    assert gap == 2 * 2 * (2 * 4 * 9 * 9 * 8)  # two blocks, q@k^T and scores@v each
    assert any(f"lower by {gap:,}" in n and "_for_cpu" in n for n in s.notes)
    with torch.device("meta"):
        meta_model = nn.Sequential(_SdpaBlock(), _SdpaBlock())
    assert not any("_for_cpu" in n for n in summary(meta_model, input_data=x).notes)  # nothing real to measure
