"""netsize.frontends.torch.summary: totals against torch itself, per-module records, model untouched.

References: ``sum(p.numel() for p in model.parameters())`` and FlopCounterMode FLOPs / 2 on the
meta device (where FlopCounterMode sees attention and RNN matmuls), and
tests/data/reference/torchvision_layers.json (torchvision 0.29.2, see its README).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings
from functools import partial
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402, N812
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from model_state import assert_unchanged, capture  # noqa: E402
from netsize import NetsizeError, Summary  # noqa: E402
from netsize.frontends.torch import load_callable, summary  # noqa: E402
from torch_models import build  # noqa: E402

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference" / "torchvision_layers.json"


def flopcounter_macs(model: nn.Module, *args, **kwargs) -> int:
    """FlopCounterMode FLOPs / 2 of one forward pass of ``model`` on meta tensors."""
    meta_args = [torch.empty(a.shape, dtype=a.dtype, device="meta") if isinstance(a, torch.Tensor) else a for a in args]
    meta_kwargs = {
        k: torch.empty(v.shape, dtype=v.dtype, device="meta") if isinstance(v, torch.Tensor) else v
        for k, v in kwargs.items()
    }
    memo: dict[int, torch.Tensor] = {}
    state = {}
    for n, t in [*model.named_parameters(remove_duplicate=False), *model.named_buffers(remove_duplicate=False)]:
        state[n] = memo.setdefault(id(t), torch.empty(t.shape, dtype=t.dtype, device="meta"))
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        torch.func.functional_call(model, state, tuple(meta_args), meta_kwargs, tie_weights=True)
    flops = counter.get_total_flops()
    assert flops % 2 == 0
    return flops // 2


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --- models that trip other tools -------------------------------------------------------------


class TiedLM(nn.Module):
    def __init__(self, vocab: int = 50, dim: int = 16) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.block = nn.Linear(dim, dim)
        self.head = nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.block(self.embed(ids))))


class SharedTwice(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.out = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.fc(torch.tanh(self.fc(x))))


class MatmulForward(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(12, 7))
        self.proj = nn.Linear(12, 12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = torch.matmul(x, self.w)  # (B, T, 12) @ (12, 7), broadcast
        g = self.proj(x) @ x.transpose(-1, -2)  # (B, T, T)
        e = torch.einsum("btd,bsd->bts", x, x)
        return a.sum() + g.sum() + e.sum()


class Interp(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.up = nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(self.conv(x), scale_factor=2, mode="bilinear", align_corners=False)
        return self.up(x)


class AttnBlock(nn.Module):
    def __init__(self, dim: int = 32, heads: int = 4) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.ff = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.attn(x, x, x, need_weights=False)
        return self.ff(y + x)


class SDPAModel(nn.Module):
    def __init__(self, dim: int = 32, heads: int = 4) -> None:
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)
        self.heads = heads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)


class LSTMTagger(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(10, 20, num_layers=2, batch_first=True)
        self.gru = nn.GRU(20, 6, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(12, 5)

    def forward(self, x: torch.Tensor):
        out, (h, c) = self.lstm(x)
        out, _ = self.gru(out)
        return self.fc(out), (h, c)


class DictModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.img = nn.Conv2d(3, 4, 3)
        self.txt = nn.Embedding(100, 8)
        self.fuse = nn.Linear(4 + 8, 2)

    def forward(self, batch: dict, scale: float = 1.0) -> dict:
        a = self.img(batch["image"]).mean(dim=(2, 3))
        b = self.txt(batch["tokens"]).mean(dim=1)
        return {"logits": self.fuse(torch.cat([a, b], dim=1)) * scale, "image_features": a}


class Frozen(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
        self.head = nn.Linear(8, 4)
        for p in self.backbone.parameters():
            p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x).mean(dim=(2, 3)))


class BareParams(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(16))
        self.table = nn.Parameter(torch.randn(16, 16))
        self.lin = nn.Linear(16, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x * self.scale) @ self.table


class DataDependent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc(x)
        if y.sum().item() > 1e9:  # reads a value: meta tensors cannot answer
            return y * 2
        return y


CASES = {
    "tied": (TiedLM, lambda: (torch.zeros(2, 9, dtype=torch.long),), {}),
    "shared_twice": (SharedTwice, lambda: (torch.randn(4, 8),), {}),
    "matmul": (MatmulForward, lambda: (torch.randn(2, 5, 12),), {}),
    "interpolate": (Interp, lambda: (torch.randn(2, 3, 10, 12),), {}),
    "mha": (AttnBlock, lambda: (torch.randn(3, 11, 32),), {}),
    "sdpa": (SDPAModel, lambda: (torch.randn(2, 9, 32),), {}),
    "lstm": (LSTMTagger, lambda: (torch.randn(3, 7, 10),), {}),
    "frozen": (Frozen, lambda: (torch.randn(2, 3, 9, 9),), {}),
    "bare_params": (BareParams, lambda: (torch.randn(5, 16),), {}),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_totals_equal_numel_and_flopcounter(case: str, mode: str) -> None:
    factory, make_args, kwargs = CASES[case]
    torch.manual_seed(0)
    model = factory()
    model.train(mode == "train")
    args = make_args()
    with torch.no_grad():
        s = summary(model, input_data=args, **kwargs)
    assert s.totals.params == n_params(model)
    assert s.totals.buffers == sum(b.numel() for b in model.buffers())
    assert s.totals.multiply_adds == flopcounter_macs(model, *args, **kwargs)
    assert s.totals.multiply_adds > 0
    real_out = model(*args)
    assert s.output_shapes == tuple(tuple(t.shape) for t in _leaves(real_out))


def _leaves(obj):
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, dict):
        return [t for v in obj.values() for t in _leaves(v)]
    if isinstance(obj, (tuple, list)):
        return [t for v in obj for t in _leaves(v)]
    return []


def test_mha_eval_no_grad_counts_attention_that_the_fast_path_hides() -> None:
    model = AttnBlock().eval()
    x = torch.randn(3, 11, 32)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)  # the fused fast path: FlopCounterMode sees only the ff layer
    hidden = counter.get_total_flops() // 2
    with torch.no_grad():
        s = summary(model, input_data=x)
    assert s.totals.multiply_adds == flopcounter_macs(model, x)
    assert s.totals.multiply_adds > hidden
    e, n, length, h = 32, 3, 11, 4
    assert s.layer("attn").multiply_adds == n * (4 * length * e * e + 2 * h * length * length * (e // h))
    assert torch.backends.mha.get_fastpath_enabled()


def test_tied_embedding_counted_once_and_noted() -> None:
    model = TiedLM()
    s = summary(model, input_size=(2, 9), dtypes=[torch.long])
    assert s.layer("embed").params == 50 * 16
    assert s.layer("head").params == 0
    assert s.layer("head").multiply_adds == 2 * 9 * 16 * 50
    assert any(n.key == "note.tied" for n in s.layer("head").notes)
    assert s.totals.params == n_params(model) == 50 * 16 + 16 * 16 + 16


def test_shared_module_called_twice_is_two_rows_one_set_of_params() -> None:
    s = summary(SharedTwice(), input_size=(4, 8))
    assert [r.name for r in s.layers] == ["fc", "fc#2", "out"]
    assert s.layer("fc").params == 72 and s.layer("fc#2").params == 0
    assert s.layer("fc").multiply_adds == s.layer("fc#2").multiply_adds == 4 * 8 * 8


def test_lstm_tuple_output_and_core_explanation() -> None:
    s = summary(LSTMTagger(), input_size=(3, 7, 10))
    lstm = s.layer("lstm")
    assert lstm.output_shapes == ((3, 7, 20), (2, 3, 20), (2, 3, 20))
    assert lstm.multiply_adds == 3 * 7 * 4 * 20 * ((10 + 20) + (20 + 20))
    assert s.output_shapes == ((3, 7, 5), (2, 3, 20), (2, 3, 20))


def test_dict_input_and_dict_output_with_keyword_argument() -> None:
    model = DictModel()
    batch = {"image": torch.randn(2, 3, 8, 8), "tokens": torch.zeros(2, 5, dtype=torch.long)}
    s = summary(model, input_data=(batch,), scale=2.0)
    assert s.input_shapes == {"batch": (2, 3, 8, 8), "batch.1": (2, 5)}
    assert s.output_shapes == ((2, 2), (2, 4))
    assert s.totals.params == n_params(model)
    assert s.totals.multiply_adds == 2 * 36 * 3 * 9 * 4 + 2 * 12 * 2
    s2 = summary(model, input_data={"batch": batch})
    assert s2.totals == s.totals


def test_frozen_weights_are_non_trainable() -> None:
    model = Frozen()
    s = summary(model, input_size=(2, 3, 9, 9))
    frozen = sum(p.numel() for p in model.backbone.parameters())
    assert s.totals.non_trainable_params == frozen
    assert s.totals.trainable_params == 8 * 4 + 4
    assert s.layer("backbone.1").buffers == 2 * 8 + 1


def test_bare_parameters_belong_to_the_module_that_holds_them() -> None:
    s = summary(BareParams(), input_size=(5, 16))
    root = s.layer("(root)")
    assert root.params == 16 + 16 * 16
    assert root.multiply_adds == 5 * 16 * 16  # the @ in forward, outside any submodule
    assert s.layer("lin").multiply_adds == 5 * 16 * 16


REBUILDS = ["alexnet", "vgg16", "vgg16_bn", "resnet18", "resnet50", "mobilenet_v2", "vit_b_16"]


@pytest.mark.parametrize("name", REBUILDS)
def test_torchvision_rebuilds_match_reference(name: str) -> None:
    ref = json.loads(REFERENCE.read_text())[name]
    with torch.device("meta"):
        model = build(name)
    model.eval()
    s = summary(model, input_size=tuple(ref["input"]))
    assert s.totals.params == ref["params"] == n_params(model)
    assert s.totals.buffers == ref["buffers"]
    assert s.totals.flops == ref["flops_flopcounter"]
    assert s.output_shapes == (tuple(ref["output"]),)
    # Every leaf call in the reference (forward order, repeated names = repeated calls) is a row.
    calls: dict[str, int] = {}
    for layer in ref["layers"]:
        calls[layer["name"]] = calls.get(layer["name"], 0) + 1
        k = calls[layer["name"]]
        rec = s.layer(layer["name"] if k == 1 else f"{layer['name']}#{k}")
        assert rec.kind == layer["type"]
        assert list(rec.output_shape) == layer["out"]
        assert rec.params == (layer["params"] if k == 1 else 0)
        assert rec.buffers == (layer["buffers"] if k == 1 else 0)


def test_known_layers_get_core_explanations() -> None:
    with torch.device("meta"):
        model = build("resnet18")
    s = summary(model, input_size=(1, 3, 224, 224))
    text = s.explain("conv1")
    assert "conv1 (Conv2d)" in text and "112" in text
    assert s.layer("conv1").analysis.shape_terms  # the core layer's output-size formula
    assert s.layer("conv1").receptive_field is None or s.layer("conv1").receptive_field
    d = s.to_dict()
    assert d["totals"]["params"] == 11689512
    assert json.loads(json.dumps(d)) == d


def test_depth_sums_blocks_and_names_their_class() -> None:
    with torch.device("meta"):
        model = build("resnet18")
    full = summary(model, input_size=(2, 3, 64, 64), verbose=0)
    layer1 = next(r for r in full.rows(1) if r.name == "layer1")  # torchinfo's depth: 1 = top level
    assert layer1.kind == "Sequential"
    assert layer1.params == sum(p.numel() for p in model.layer1.parameters())
    assert layer1.output_shape == (2, 64, 16, 16)


def test_model_left_exactly_as_found() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Dropout(0.5), nn.Flatten(), nn.LazyLinear(2))
    model(torch.randn(1, 3, 6, 6))  # materialise the lazy layer
    model.train()
    model[2].eval()
    modes = [m.training for m in model.modules()]
    params = [(n, p, p.detach().clone(), p.requires_grad) for n, p in model.named_parameters()]
    buffers = [(n, b, b.detach().clone()) for n, b in model.named_buffers()]
    fast = torch.backends.mha.get_fastpath_enabled()
    rng = torch.random.get_rng_state()
    summary(model, input_size=(2, 3, 6, 6))
    assert [m.training for m in model.modules()] == modes
    assert [(n, p) for n, p, _, _ in params] == [(n, p) for n, p in model.named_parameters()]
    for _, p, old, grad in params:
        assert p.device.type == "cpu" and torch.equal(p, old) and p.requires_grad == grad and p.grad is None
    assert [(n, b) for n, b, _ in buffers] == [(n, b) for n, b in model.named_buffers()]
    for _, b, old in buffers:
        assert torch.equal(b, old)  # running stats and num_batches_tracked untouched
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks
    from torch.nn.modules import module as mm

    assert not mm._global_forward_hooks and not mm._global_forward_pre_hooks
    assert torch.backends.mha.get_fastpath_enabled() == fast
    assert torch.equal(torch.random.get_rng_state(), rng)


def test_meta_built_model() -> None:
    with torch.device("meta"):
        model = build("mobilenet_v2")
    s = summary(model, input_size=(4, 3, 96, 96))
    assert s.totals.params == n_params(model)
    assert s.totals.multiply_adds == flopcounter_macs(model, torch.empty(4, 3, 96, 96, device="meta"))
    assert s.batch_size == 4 and s.input_shapes == {"x": (4, 3, 96, 96)}
    assert next(model.parameters()).is_meta


def test_real_model_allocates_no_activations() -> None:
    # A 64x3x1024x1024 input through a conv to 16 channels needs ~5 GB of activations on CPU.
    code = textwrap.dedent(
        """
        import resource, torch
        from torch import nn
        from netsize.frontends.torch import summary
        model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1))
        summary(model, input_size=(1, 3, 8, 8))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        s = summary(model, input_size=(64, 3, 1024, 1024))
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(s.totals.activation_elements, (after - before) // 1024)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    elements, grown_mib = (int(v) for v in out.stdout.split())
    assert elements == 3 * 64 * 16 * 1024 * 1024
    assert grown_mib < 200


def test_data_dependent_model_falls_back_and_says_so() -> None:
    model = DataDependent()
    with pytest.warns(RuntimeWarning, match="cannot run on meta tensors"):
        s = summary(model, input_size=(3, 4))
    assert s.totals.multiply_adds == 3 * 4 * 4
    assert s.totals.params == 20
    with pytest.raises(NetsizeError, match="cannot run on meta tensors"):
        summary(model, input_size=(3, 4), fallback=False)
    with torch.device("meta"):
        meta_model = DataDependent()
    with pytest.raises(NetsizeError, match=r"cannot run on meta tensors.*Build the model on a real device"):
        summary(meta_model, input_size=(3, 4))


def test_summary_is_a_core_summary_and_renders_json() -> None:
    s = summary(nn.Sequential(nn.Linear(4, 3)), input_size=(2, 4))
    assert isinstance(s, Summary)
    d = s.to_dict()
    assert d["layers"][0]["name"] == "0" and d["layers"][0]["multiply_adds"] == 24
    assert d["model"] == "Sequential" and d["batch_size"] == 2


def test_wrong_input_is_a_clear_error() -> None:
    with pytest.raises(NetsizeError, match=r"failed on meta tensors in 0 \(Linear\)"):
        summary(nn.Sequential(nn.Linear(4, 3)), input_size=(2, 5))
    with pytest.raises(NetsizeError, match="not both"):
        summary(nn.Linear(4, 3), input_size=(1, 4), input_data=torch.zeros(1, 4))


def test_batch_dim_inserts_a_batch_axis() -> None:
    s = summary(nn.Linear(4, 3), input_size=(4,), batch_dim=0)
    assert s.input_shapes == {"input": (1, 4)} and s.totals.multiply_adds == 12


# --- load_callable ------------------------------------------------------------------------------


@pytest.fixture
def user_pkg(tmp_path, monkeypatch):
    pkg = tmp_path / "tests_pkg_netsize"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "models.py").write_text(
        textwrap.dedent(
            """
            from torch import nn
            def build_model():
                return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 30 * 30, 10))
            def not_a_model():
                return 3
            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(4, 2)
                def forward(self, x):
                    return self.fc(x)
            instance = Net()
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_load_callable_function_class_and_instance(user_pkg) -> None:
    model = load_callable("tests_pkg_netsize.models:build_model")
    s = summary(model, input_size=(1, 3, 32, 32))
    assert s.layer("0").output_shape == (1, 8, 30, 30)
    assert s.totals.params == 3 * 3 * 3 * 8 + 8 + 8 * 30 * 30 * 10 + 10
    assert isinstance(load_callable("tests_pkg_netsize.models:Net"), nn.Module)
    assert load_callable("tests_pkg_netsize.models:instance").fc.out_features == 2


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("tests_pkg_netsize.models", "expected package.module:callable"),
        ("tests_pkg_netsize.nothere:build", "cannot import"),
        ("tests_pkg_netsize.models:build_modle", "did you mean build_model"),
        ("tests_pkg_netsize.models:not_a_model", "returned a int"),
    ],
)
def test_load_callable_errors_say_what_to_fix(user_pkg, target: str, message: str) -> None:
    with pytest.raises(NetsizeError, match=message):
        load_callable(target)


def test_lazy_model_is_analysed_on_a_copy_and_left_uninitialised() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.LazyLinear(5))
    with pytest.warns(RuntimeWarning, match="lazy"):
        s = summary(model, input_size=(2, 3, 6, 6))
    assert s.layer("2").params == 4 * 4 * 4 * 5 + 5
    assert s.layer("2").multiply_adds == 2 * 64 * 5
    assert isinstance(model[2].weight, nn.parameter.UninitializedParameter)


def test_no_warnings_on_a_plain_model() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary(AttnBlock().eval(), input_size=(1, 5, 32))


def test_traced_module_counts_other_ops_by_the_pointwise_and_reduction_rule():
    # A module netsize has no layer for (LLaMA's RMSNorm written out): its work is traced.
    class RMS(nn.Module):
        def __init__(self, d: int) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.ones(d))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            v = x.pow(2).mean(-1, keepdim=True)
            return self.w * (x * torch.rsqrt(v + 1e-6))

    n, rows = 2 * 8 * 16, 2 * 8
    s = summary(nn.Sequential(RMS(16)), input_size=(2, 8, 16))
    record = s.layer("0")
    # pow: n outputs; mean: n inputs (a reduction); + eps and rsqrt: rows each; two multiplies: n each
    assert record.other_ops == n + n + rows + rows + n + n
    assert record.multiply_adds == 0
    assert "pointwise output elements + reduction input elements" in s.explain("0")


# --- harmlessness: the model is left exactly as found, success or failure ------------------------


class _SharedBlock(nn.Module):
    def __init__(self, shared: nn.Module) -> None:
        super().__init__()
        self.cpe = shared
        self.fc = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.cpe(x))


class SharedUnderTwoNames(nn.Module):
    """A submodule registered under two names (timm's CoaT shares its conv position encodings)."""

    def __init__(self) -> None:
        super().__init__()
        self.cpe1 = nn.Linear(8, 8)
        self.blocks = nn.Sequential(_SharedBlock(self.cpe1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


class SparseGraph(nn.Module):
    """A graph network holding its sparse adjacency in a plain attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.adjacency = torch.eye(5).to_sparse()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.sparse.mm(self.adjacency.to(x.device), x))


class CachedInAttributes(nn.Module):
    """Tensors in plain attributes and containers, moved to the input's device on each call
    (torchvision's AnchorGenerator, timm's attention_bias_cache keyed by device)."""

    def __init__(self, data_dependent: bool) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.cache = [torch.ones(4)]
        self.by_device: dict[str, torch.Tensor] = {}
        self.grid = (torch.arange(4.0), {"offset": torch.full((4,), 0.5)})
        self.calls = torch.zeros((), dtype=torch.long)
        self.data_dependent = data_dependent

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.cache = [c.to(x.device) for c in self.cache]
        key = str(x.device)
        if key not in self.by_device:
            self.by_device[key] = self.grid[0].to(x.device) * 2
        self.calls += 1  # a counter changed in place
        y = self.lin(x) + self.cache[0] + self.by_device[key] + self.grid[1]["offset"].to(x.device)
        return y[y > 0] if self.data_dependent else y


class WritesThroughClosures(nn.Module):
    """Hooks that hold the real buffers in closures and write them in place, positionally and
    through ``out=``: the meta pass swaps the module's tensors for stand-ins, but not these."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.register_buffer("count", torch.zeros(()))
        self.register_buffer("last", torch.full((4,), 3.0))
        count, last, weight = self.count, self.last, self.lin.weight

        def write(module: nn.Module, args: tuple) -> None:  # a pre-hook that returns None keeps the input
            torch.mul(last, 2, out=last)
            weight.data.mul_(0.5)  # through .data: no version bump

        self.lin.register_forward_pre_hook(write)
        self.lin.register_forward_hook(lambda m, i, o: count.add_(1) and None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x)


def test_real_tensors_written_through_closures_during_the_meta_pass_get_their_values_back() -> None:
    torch.manual_seed(0)
    model = WritesThroughClosures()
    weight = model.lin.weight.detach().clone()
    before = capture(model)
    s = summary(model, input_size=(2, 4))
    assert_unchanged(before, model)
    assert s.totals.multiply_adds == 2 * 4 * 4
    assert float(model.count) == 0 and model.last.tolist() == [3.0] * 4
    assert torch.equal(model.lin.weight, weight)


def test_submodule_registered_under_two_names_keeps_its_weights() -> None:
    model = SharedUnderTwoNames().eval()
    before = capture(model)
    s = summary(model, input_size=(1, 8))
    assert_unchanged(before, model)
    assert model.cpe1.weight.device.type == "cpu" and model.cpe1.weight.requires_grad
    assert s.totals.params == n_params(model) == 2 * (8 * 8 + 8)
    assert s.totals.multiply_adds == 2 * 8 * 8
    x = torch.randn(1, 8)
    assert torch.equal(model(x), model.blocks[0].fc(model.cpe1(x)))


@pytest.mark.parametrize("data_dependent", [False, True])
def test_tensors_cached_in_attributes_are_left_as_found_and_the_fallback_succeeds(data_dependent: bool) -> None:
    torch.manual_seed(0)
    model = CachedInAttributes(data_dependent)
    before = capture(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        s = summary(model, input_size=(2, 4))
    assert_unchanged(before, model)
    assert s.totals.multiply_adds == 2 * 4 * 4 and s.totals.params == 20
    assert bool(s.notes) == data_dependent  # only the data-dependent one needed the real pass
    assert model.by_device == {} and model.cache[0].device.type == "cpu" and int(model.calls) == 0
    model(torch.randn(2, 4))  # the user's own next call works
    assert int(model.calls) == 1


def _harmless_models() -> dict[str, tuple]:
    """(factory, per-call input tensors, meta build?) of every model this file builds."""
    models = {f"case_{k}": (f, a, False) for k, (f, a, _) in CASES.items()}
    models["dict_model"] = (
        DictModel,
        lambda: ({"image": torch.randn(2, 3, 8, 8), "tokens": torch.zeros(2, 5, dtype=torch.long)},),
        False,
    )
    models["data_dependent"] = (DataDependent, lambda: (torch.randn(3, 4),), False)
    # train mode: the real pass of the fallback updates the running statistics
    models["batchnorm_data_dependent"] = (lambda: nn.Sequential(nn.BatchNorm1d(4), DataDependent()),
                                          lambda: (torch.randn(3, 4),), False)  # fmt: skip
    models["sparse_attribute"] = (SparseGraph, lambda: (torch.randn(5, 4),), False)
    models["shared_under_two_names"] = (SharedUnderTwoNames, lambda: (torch.randn(1, 8),), False)
    models["writes_through_closures"] = (WritesThroughClosures, lambda: (torch.randn(2, 4),), False)
    models["cached_attributes"] = (lambda: CachedInAttributes(False), lambda: (torch.randn(2, 4),), False)
    models["cached_attributes_dd"] = (lambda: CachedInAttributes(True), lambda: (torch.randn(2, 4),), False)
    models["lazy"] = (lambda: nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.LazyLinear(5)),
                      lambda: (torch.randn(2, 3, 6, 6),), False)  # fmt: skip
    for name in ("resnet18", "mobilenet_v2"):
        models[f"torchvision_{name}_real"] = (partial(build, name), lambda: (torch.randn(1, 3, 64, 64),), False)
    for name in REBUILDS:  # the ones this file analyses (all of NAMES would add ~40 s)
        models[f"torchvision_{name}_meta"] = (partial(build, name), lambda: (torch.randn(1, 3, 224, 224),), True)
    return models


HARMLESS = _harmless_models()


def _wrong(args: tuple) -> tuple:
    """Inputs the model refuses: float token ids, or 3 more channels (images) or features."""
    first = args[0]
    if isinstance(first, dict):
        return ({**first, "image": torch.zeros(2, 5, 8, 8)},)
    if not first.is_floating_point():
        return (first.float(), *args[1:])
    axis = 1 if first.dim() == 4 else -1
    shape = list(first.shape)
    shape[axis] += 3
    return (torch.zeros(shape, dtype=first.dtype), *args[1:])


def _harmless_case(name: str) -> tuple[nn.Module, object, bool]:
    """The model of HARMLESS[name] (seeded; built on the meta device where the case says so),
    its arguments (made on the default device), and whether it is meta-built."""
    factory, make_args, meta = HARMLESS[name]
    torch.manual_seed(0)
    if meta:
        with torch.device("meta"):
            model = factory()
    else:
        model = factory()
    return model, make_args(), meta


@pytest.mark.parametrize("name", sorted(HARMLESS))
def test_every_model_is_left_exactly_as_found_by_summary(name: str) -> None:
    model, args, meta = _harmless_case(name)
    model.train()
    before = capture(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            summary(model, input_data=args)
        except NetsizeError:
            assert meta  # only a meta-built model may be refused
        assert_unchanged(before, model)
        with pytest.raises(NetsizeError):
            summary(model, input_data=_wrong(args))
    assert_unchanged(before, model)


@pytest.mark.parametrize(
    "name", ["case_lstm", "case_tied", "case_frozen", "cached_attributes", "shared_under_two_names",
             "torchvision_resnet18_meta"],
)  # fmt: skip
def test_every_model_is_left_exactly_as_found_by_memory_estimate(name: str) -> None:
    from netsize import memory

    model, args, meta = _harmless_case(name)
    model.eval()
    before = capture(model)
    memory.estimate(model, batch_size=1, dtype="bfloat16", make_batch=lambda: _to_meta_args(args, torch.bfloat16))
    assert_unchanged(before, model)
    if meta:  # observed in place: checkpointing wraps each block's forward, the optimizer sets .grad
        memory.estimate(model, batch_size=1, checkpointing=True, make_batch=lambda: _to_meta_args(args))
        assert_unchanged(before, model)
    with pytest.raises(Exception):  # noqa: B017 - any failure: the point is what it leaves behind
        memory.estimate(model, batch_size=1, make_batch=lambda: _to_meta_args(_wrong(args)))
    assert_unchanged(before, model)


def _to_meta_args(args: tuple, dtype: torch.dtype | None = None) -> tuple:
    def meta(v):
        if isinstance(v, torch.Tensor):
            cast = dtype if dtype is not None and v.is_floating_point() else v.dtype
            return torch.empty(v.shape, dtype=cast, device="meta")
        if isinstance(v, dict):
            return {k: meta(x) for k, x in v.items()}
        return v

    return tuple(meta(a) for a in args)


class ClipsItsWeights(nn.Module):
    """Clips a parameter in place in forward (weight clipping of WGAN critics), and reads a value,
    so netsize's fallback runs it for real: the parameter's values must come back."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.fc.weight.data.clamp_(-0.01, 0.01)
        y = self.fc(x)
        return y * 2 if y.sum().item() > 0 else y


def test_parameters_written_in_place_by_the_real_pass_get_their_values_back() -> None:
    torch.manual_seed(0)
    model = ClipsItsWeights()
    before = capture(model)
    weight = model.fc.weight.detach().clone()
    with pytest.warns(RuntimeWarning, match="one real forward pass"):
        summary(model, input_size=(2, 4))
    assert_unchanged(before, model)
    assert torch.equal(model.fc.weight, weight) and model.fc.weight.abs().max() > 0.01
