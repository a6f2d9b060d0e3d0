"""Small rebuilds of the model families netsize meets in torchvision, timm and transformers
(which the suite cannot import: torchvision and timm pull a CUDA torch), each written the way
those libraries write it: detection (anchors cached on the module, RoI pooling, NMS-like
data-dependent sizes), video (3-d convolutions), optical flow (correlation volume, iterative
refinement, a cached grid), window attention with relative position bias, layer scale and
stochastic depth in train mode, mixture-of-experts routing, an encoder-decoder with a cache.

For each: params equal sum(numel), multiply-adds equal FlopCounterMode FLOPs / 2 on the same
pass (meta, or real where the model reads values and netsize falls back), and the model is left
exactly as found (tests/model_state.py).
"""

from __future__ import annotations

import copy
import warnings

import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402, N812
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from model_state import assert_unchanged, capture  # noqa: E402
from netsize import NetsizeError  # noqa: E402
from netsize.frontends.torch import summary  # noqa: E402


def _meta(v):
    if isinstance(v, torch.Tensor):
        return torch.empty(v.shape, dtype=v.dtype, device="meta")
    if isinstance(v, dict):
        return {k: _meta(x) for k, x in v.items()}
    if isinstance(v, (tuple, list)):
        return type(v)(_meta(x) for x in v)
    return v


def flopcounter_macs(model: nn.Module, args: tuple, kwargs: dict, real: bool) -> int:
    """On a copy: the reference run must not be what changes the model."""
    model = copy.deepcopy(model)
    counter = FlopCounterMode(display=False)
    if real:
        rng = torch.random.get_rng_state()
        with counter, torch.no_grad():
            model(*args, **kwargs)
        torch.random.set_rng_state(rng)
        return counter.get_total_flops() // 2
    memo: dict[int, torch.Tensor] = {}
    state = {}
    for n, t in [*model.named_parameters(remove_duplicate=False), *model.named_buffers(remove_duplicate=False)]:
        state[n] = memo.setdefault(id(t), torch.empty(t.shape, dtype=t.dtype, device="meta"))
    with counter, torch.no_grad():
        torch.func.functional_call(model, state, _meta(args), _meta(kwargs), tie_weights=True)
    return counter.get_total_flops() // 2


def check(model: nn.Module, args: tuple, kwargs: dict | None = None, *, data_dependent: bool = False):
    """Analyse ``model`` and prove params, multiply-adds and harmlessness; return the summary."""
    kwargs = kwargs or {}
    before = capture(model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = summary(model, input_data=args, **kwargs)
    assert_unchanged(before, model)
    fell_back = any("one real forward pass" in str(w.message) for w in caught)
    assert fell_back == data_dependent, [str(w.message) for w in caught]
    assert s.totals.params == sum(p.numel() for p in model.parameters())
    assert s.totals.buffers == sum(b.numel() for b in model.buffers())
    # FlopCounterMode counts on the same pass: its FLOPs are 2 per multiply-add.
    expected = flopcounter_macs(model, args, kwargs, real=data_dependent)
    assert s.totals.multiply_adds == expected > 0
    return s


# --- detection -------------------------------------------------------------------------------------


class AnchorGenerator(nn.Module):
    """torchvision's: anchors kept in a plain list and moved to the input's device on each call."""

    def __init__(self, sizes: tuple[int, ...] = (8, 16)) -> None:
        super().__init__()
        self.cell_anchors = [torch.tensor([[-s / 2, -s / 2, s / 2, s / 2]]) for s in sizes]
        self._cache: dict[str, torch.Tensor] = {}

    def forward(self, feature: torch.Tensor, stride: int) -> torch.Tensor:
        self.cell_anchors = [a.to(dtype=feature.dtype, device=feature.device) for a in self.cell_anchors]
        h, w = feature.shape[-2:]
        key = f"{h}x{w}:{feature.device}"
        if key not in self._cache:
            ys = torch.arange(h, device=feature.device, dtype=feature.dtype) * stride
            xs = torch.arange(w, device=feature.device, dtype=feature.dtype) * stride
            gy, gx = torch.meshgrid(ys, xs, indexing="ij")
            shifts = torch.stack([gx, gy, gx, gy], dim=-1).reshape(-1, 1, 4)
            self._cache[key] = (shifts + torch.cat(self.cell_anchors)[None]).reshape(-1, 4)
        return self._cache[key]


class TinyDetector(nn.Module):
    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1)
        )
        self.anchors = AnchorGenerator()
        self.objectness = nn.Conv2d(16, 2, 1)
        self.box_head = nn.Sequential(nn.Flatten(), nn.Linear(16 * 2 * 2, 32), nn.ReLU())
        self.cls = nn.Linear(32, classes)
        self.max_boxes = 4

    def forward(self, images: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        feats = self.backbone(images)
        anchors = self.anchors(feats, stride=2)
        scores = self.objectness(feats).flatten(1)  # (N, A) with A = H*W*2
        out = []
        for i in range(images.shape[0]):
            keep = scores[i] > scores[i].median()  # NMS-like: a data-dependent number of boxes
            boxes = anchors[keep][: self.max_boxes].clamp(0, images.shape[-1] - 1)
            crops = []
            for box in boxes.round().long().tolist():  # RoI pooling of each box
                x0, y0, x1, y1 = (c // 2 for c in box)
                region = feats[i : i + 1, :, y0 : max(y1, y0 + 1), x0 : max(x1, x0 + 1)]
                crops.append(F.adaptive_max_pool2d(region, 2))
            pooled = torch.cat(crops) if crops else feats.new_zeros(0, 16, 2, 2)
            out.append({"boxes": boxes, "logits": self.cls(self.box_head(pooled))})
        return out


def test_detection_with_cached_anchors_roi_pooling_and_nms_falls_back_and_is_left_as_found() -> None:
    torch.manual_seed(0)
    model = TinyDetector().eval()
    images = torch.randn(2, 3, 16, 16)
    s = check(model, (images,), data_dependent=True)
    assert model.anchors._cache == {} and model.anchors.cell_anchors[0].device.type == "cpu"
    model(images)  # the user's own next call works
    with torch.device("meta"):
        meta_model = TinyDetector().eval()
    with pytest.raises(NetsizeError, match=r"cannot run on meta tensors in .*\(TinyDetector\)"):
        summary(meta_model, input_data=images)
    assert s.layer("cls").multiply_adds > 0


# --- video --------------------------------------------------------------------------------------------


class R2Plus1D(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv3d(3, 8, (1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
                                  nn.BatchNorm3d(8), nn.ReLU(inplace=True))  # fmt: skip
        self.spatial = nn.Conv3d(8, 12, (1, 3, 3), padding=(0, 1, 1))
        self.temporal = nn.Conv3d(12, 8, (3, 1, 1), padding=(1, 0, 0))
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(8, 5)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        x = self.stem(clip)
        x = x + self.temporal(F.relu(self.spatial(x)))
        return self.fc(self.pool(x).flatten(1))


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_video_3d_convolutions(mode: str) -> None:
    model = R2Plus1D().train(mode == "train")
    s = check(model, (torch.randn(2, 3, 4, 16, 16),))
    assert s.layer("temporal").multiply_adds == 2 * 8 * 4 * 8 * 8 * 12 * 3


# --- optical flow ---------------------------------------------------------------------------------------


class TinyFlow(nn.Module):
    """RAFT's shape: a correlation volume of all pixel pairs, a grid cached on the module, and a
    recurrent update that refines the flow a fixed number of times."""

    def __init__(self, dim: int = 8, iters: int = 3) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(3, dim, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(dim, dim, 1))
        self.update = nn.Conv2d(2 + 9 + dim, dim, 3, padding=1)
        self.flow_head = nn.Conv2d(dim, 2, 3, padding=1)
        self.iters = iters
        self.grid: torch.Tensor | None = None

    def forward(self, image1: torch.Tensor, image2: torch.Tensor) -> torch.Tensor:
        f1, f2 = self.encoder(image1), self.encoder(image2)
        n, c, h, w = f1.shape
        corr = torch.matmul(f1.flatten(2).transpose(1, 2), f2.flatten(2)) / c**0.5  # (N, HW, HW)
        corr = corr.view(n, h, w, h, w)
        if self.grid is None or self.grid.shape[-2:] != (h, w) or self.grid.device != f1.device:
            ys, xs = torch.meshgrid(torch.arange(h, device=f1.device), torch.arange(w, device=f1.device), indexing="ij")
            self.grid = torch.stack([xs, ys]).float()
        flow = torch.zeros(n, 2, h, w, device=f1.device)
        hidden = torch.tanh(f1)
        for _ in range(self.iters):
            local = corr.flatten(3).permute(0, 3, 1, 2)[:, :9]  # a few planes of the volume (RAFT: a pyramid)
            hidden = torch.tanh(self.update(torch.cat([flow + self.grid, local, hidden], 1)))
            flow = flow + self.flow_head(hidden)
        return flow


def test_optical_flow_correlation_and_iterative_refinement() -> None:
    model = TinyFlow()
    s = check(model, (torch.randn(1, 3, 16, 16), torch.randn(1, 3, 16, 16)))
    per_step = 8 * 8 * 8 * (2 + 9 + 8) * 3 * 3  # outputs x input channels x kernel
    assert [s.layer(n).multiply_adds for n in ("update", "update#2", "update#3")] == [per_step] * 3
    assert s.layer("(root)").multiply_adds == 64 * 64 * 8  # the correlation volume
    assert model.grid is None


# --- window attention with relative position bias ----------------------------------------------------


class WindowAttention(nn.Module):
    """Swin's: a learned bias table indexed by a buffer, shifted windows with a mask; the bias is
    cached per device in a dict (timm's attention_bias_cache) when not training."""

    def __init__(self, dim: int = 16, heads: int = 2, window: int = 4, shift: int = 2) -> None:
        super().__init__()
        self.heads, self.window, self.shift = heads, window, shift
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.relative_position_bias_table = nn.Parameter(torch.randn((2 * window - 1) ** 2, heads) * 0.02)
        coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + window - 1
        self.register_buffer("relative_position_index", rel[..., 0] * (2 * window - 1) + rel[..., 1], persistent=False)
        self.attention_bias_cache: dict[str, torch.Tensor] = {}

    def bias(self, device: torch.device) -> torch.Tensor:
        def make() -> torch.Tensor:
            table = self.relative_position_bias_table[self.relative_position_index.reshape(-1)]
            return table.reshape(self.window**2, self.window**2, -1).permute(2, 0, 1)

        if self.training:
            return make()
        key = str(device)
        if key not in self.attention_bias_cache:
            self.attention_bias_cache[key] = make()
        return self.attention_bias_cache[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        ws = self.window
        x = torch.roll(x, shifts=(-self.shift, -self.shift), dims=(1, 2))
        win = x.view(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, ws * ws, c)
        q, k, v = self.qkv(win).reshape(win.shape[0], ws * ws, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        attn = (q * (c // self.heads) ** -0.5) @ k.transpose(-2, -1) + self.bias(x.device)
        out = (attn.softmax(-1) @ v).transpose(1, 2).reshape(win.shape[0], ws * ws, c)
        out = self.proj(out).view(b, h // ws, w // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, c)
        return torch.roll(out, shifts=(self.shift, self.shift), dims=(1, 2))


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_window_attention_with_relative_position_bias(mode: str) -> None:
    model = nn.Sequential(nn.LayerNorm(16), WindowAttention()).train(mode == "train")
    s = check(model, (torch.randn(2, 8, 8, 16),))
    windows, tokens, d = 2 * 4, 16, 8
    attention = 2 * windows * 2 * tokens * tokens * d  # two products per head per window
    assert s.layer("1").multiply_adds == attention  # the window attention's own products
    assert s.layer("1.qkv").multiply_adds == 2 * 64 * 16 * 48
    assert model[1].attention_bias_cache == {}


# --- layer scale and stochastic depth in train mode -------------------------------------------------


class DropPath(nn.Module):
    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(1 - self.p)
        return x * keep / (1 - self.p)


class ScaledBlock(nn.Module):
    """ConvNeXt/CaiT: a learned per-channel layer scale gamma and stochastic depth."""

    def __init__(self, dim: int = 16) -> None:
        super().__init__()
        self.dw = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
        self.gamma = nn.Parameter(torch.full((dim,), 1e-6))
        self.drop_path = DropPath(0.3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.dw(x).permute(0, 2, 3, 1))
        y = (self.gamma * self.mlp(y)).permute(0, 3, 1, 2)
        return x + self.drop_path(y)


def test_layer_scale_and_stochastic_depth_in_train_mode_leave_the_generators_alone() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(ScaledBlock(), ScaledBlock()).train()
    s = check(model, (torch.randn(2, 16, 8, 8),))  # check() compares the RNG states too
    assert s.layer("0.dw").multiply_adds == 2 * 16 * 64 * 49


# --- mixture-of-experts routing (the eager loop over experts) ----------------------------------------


class LoopMoE(nn.Module):
    """Mixtral's eager experts: route top-2, then for each expert gather its tokens with
    torch.where (a data-dependent count) and run its MLP on them."""

    def __init__(self, dim: int = 16, hidden: int = 24, experts: int = 4) -> None:
        super().__init__()
        self.gate = nn.Linear(dim, experts, bias=False)
        self.experts = nn.ModuleList(
            nn.Sequential(nn.Linear(dim, hidden, bias=False), nn.SiLU(), nn.Linear(hidden, dim, bias=False))
            for _ in range(experts)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = x.reshape(-1, x.shape[-1])
        weights, chosen = self.gate(tokens).softmax(-1).topk(2, dim=-1)
        out = torch.zeros_like(tokens)
        for e, expert in enumerate(self.experts):
            rows, slot = torch.where(chosen == e)
            out.index_add_(0, rows, expert(tokens[rows]) * weights[rows, slot, None])
        return out.reshape(x.shape)


def test_moe_routing_counts_the_tokens_each_expert_really_got() -> None:
    torch.manual_seed(0)
    model = LoopMoE()
    s = check(model, (torch.randn(2, 5, 16),), data_dependent=True)
    routed = 2 * 5 * 2  # every token goes to two experts, whichever they are
    assert s.totals.multiply_adds == 10 * 16 * 4 + routed * (16 * 24 + 24 * 16)


# --- encoder-decoder with a cache ----------------------------------------------------------------------


class CachedSeq2Seq(nn.Module):
    """An encoder and a one-step decoder whose self-attention keys and values are cached: the
    cache goes in and comes out as a dict of tensors (past_key_values)."""

    def __init__(self, dim: int = 16, vocab: int = 50) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.encoder = nn.TransformerEncoderLayer(dim, 2, 32, dropout=0.0, batch_first=True)
        self.q, self.k, self.v = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.cross = nn.MultiheadAttention(dim, 2, batch_first=True)
        self.head = nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.embed.weight  # tied, as T5 and BART do

    def forward(self, src: torch.Tensor, tgt: torch.Tensor, cache: dict[str, torch.Tensor]) -> tuple:
        memory = self.encoder(self.embed(src))
        y = self.embed(tgt)
        k = torch.cat([cache["k"], self.k(y)], dim=1)
        v = torch.cat([cache["v"], self.v(y)], dim=1)
        attn = (self.q(y) @ k.transpose(1, 2) / 4).softmax(-1) @ v
        y = y + attn
        y = y + self.cross(y, memory, memory, need_weights=False)[0]
        return self.head(y), {"k": k, "v": v}


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_encoder_decoder_with_a_cache(mode: str) -> None:
    model = CachedSeq2Seq().train(mode == "train")
    src = torch.zeros(2, 7, dtype=torch.long)
    tgt = torch.zeros(2, 1, dtype=torch.long)
    cache = {"k": torch.randn(2, 5, 16), "v": torch.randn(2, 5, 16)}
    s = check(model, (src, tgt, cache))
    assert s.output_shapes == ((2, 1, 50), (2, 6, 16), (2, 6, 16))
    assert s.layer("(root)").multiply_adds == 2 * 1 * 6 * 16 * 2  # q@k^T and scores@v over 5 cached + 1 new


def test_transformers_t5_decoder_step_with_past_key_values() -> None:
    transformers = pytest.importorskip("transformers")
    cfg = transformers.T5Config(
        vocab_size=64, d_model=32, d_kv=8, d_ff=64, num_layers=1, num_decoder_layers=1, num_heads=4,
        decoder_start_token_id=0,
    )  # fmt: skip
    torch.manual_seed(0)
    model = transformers.T5ForConditionalGeneration(cfg).eval()
    ids = torch.randint(1, 64, (2, 6))
    with torch.no_grad():
        cache = model(input_ids=ids, decoder_input_ids=torch.zeros(2, 3, dtype=torch.long)).past_key_values
    step = {"input_ids": ids, "decoder_input_ids": torch.zeros(2, 1, dtype=torch.long),
            "past_key_values": cache, "use_cache": True}  # fmt: skip
    before = capture(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # the cache object's tensors go to meta too: no real pass
        s = summary(model, input_data=step)
    assert_unchanged(before, model)
    assert cache.get_seq_length() == 3  # the user's cache did not grow
    assert s.totals.params == sum(p.numel() for p in model.parameters())
    eager = transformers.T5ForConditionalGeneration._from_config(cfg, attn_implementation="eager").eval()
    eager.load_state_dict(model.state_dict())
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        eager(**{**step, "past_key_values": copy.deepcopy(cache)})
    assert s.totals.multiply_adds == counter.get_total_flops() // 2
