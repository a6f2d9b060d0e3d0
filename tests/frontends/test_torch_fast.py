"""The fast first call: outputs made by netsize.frontends.torch._fast equal torch's own.

Every output that ``_fast.run`` makes instead of torch's Python meta kernel is compared here
with what torch returns for the same op on the same meta tensors (shape, strides, dtype): op by
op over layouts (contiguous, channels-last, transposed, sliced, expanded, size-1 dimensions),
dtype promotion and in-place ops, and over every op of whole models. A fresh process then
shows that a first summary imports neither torch._dynamo nor sympy.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch import nn  # noqa: E402

from netsize.frontends.torch import _fast, summary  # noqa: E402
from torch_models import build  # noqa: E402

aten = torch.ops.aten
TESTS = Path(__file__).resolve().parents[1]


def layout(t: Any) -> Any:
    if isinstance(t, torch.Tensor):
        return (tuple(t.shape), tuple(t.stride()), t.dtype, t.device.type)
    if isinstance(t, (tuple, list)):
        return tuple(layout(x) for x in t)
    return t


def rule_output(func: Any, args: Any, kwargs: Any) -> Any:
    """What the rule makes, or None where it leaves the op to torch."""
    try:
        return _fast.RULES[func](args, kwargs)
    except _fast._Unsettled:
        return None


def made_by_rule(func: Any, *args: Any, **kwargs: Any) -> Any:
    """The rule's output (asserting there is one) and torch's, for the same inputs."""
    ours = rule_output(func, args, kwargs)
    assert ours is not None, f"{func} declined inputs it should handle: {layout(args)}"
    return ours, func(*args, **kwargs)


@contextmanager
def checked_rules() -> Iterator[list[str]]:
    """Run every rule-made output past torch as well; yields the ops the rules made."""
    made: list[str] = []
    original = _fast.run

    def run(func: Any, args: Any, kwargs: Any) -> Any:
        rule = _fast.RULES.get(func)
        first = args[0] if args else None
        if isinstance(first, (list, tuple)) and first:
            first = first[0]
        usable = rule is not None and isinstance(first, torch.Tensor) and first.is_meta
        ours = rule_output(func, args, kwargs) if usable else None
        theirs = func(*args, **kwargs)
        if ours is None:
            return theirs
        assert layout(ours) == layout(theirs), f"{func} on {layout(args)}"
        made.append(str(func))
        return ours

    _fast.run = run
    try:
        yield made
    finally:
        _fast.run = original


def meta(*shape: int, dtype: Any = torch.float32) -> Any:
    return torch.empty(shape, dtype=dtype, device="meta")


# --- op by op ---------------------------------------------------------------------------------

LAYOUTS: dict[str, Callable[[], Any]] = {
    "contiguous": lambda: meta(2, 8, 5, 6),
    "channels_last": lambda: meta(2, 8, 5, 6).to(memory_format=torch.channels_last),
    "transposed": lambda: meta(2, 6, 5, 8).transpose(1, 3),
    "sliced": lambda: meta(2, 16, 5, 6)[:, ::2],
    "expanded": lambda: meta(1, 8, 1, 6).expand(2, 8, 5, 6),
    "size_one": lambda: meta(1, 8, 1, 1).to(memory_format=torch.channels_last),
    "permuted": lambda: meta(6, 5, 2, 8).permute(2, 3, 1, 0),
}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_pointwise_and_norm_outputs_keep_torchs_strides_for_every_layout(name: str) -> None:
    x = LAYOUTS[name]()
    c = x.shape[1]
    bias = meta(1, c, 1, 1)
    cases = [
        (aten.add.Tensor, (x, bias)),
        (aten.add.Tensor, (x, 2.0)),
        (aten.mul.Tensor, (bias, x)),
        (aten.mul.Tensor, (x, meta(6))),
        (aten.sub.Tensor, (x, x.contiguous())),
        (aten.div.Tensor, (x, torch.tensor(2.0))),
        (aten.relu.default, (x,)),
        (aten.gelu.default, (x,)),
        (aten.sigmoid.default, (x,)),
        (aten.hardtanh.default, (x, 0.0, 6.0)),
        (aten.pow.Tensor_Scalar, (x, 2)),
        (aten.gt.Scalar, (x, 0)),
        (aten.eq.Tensor, (x, bias)),
        (aten.where.self, (meta(1, 1, 5, 6, dtype=torch.bool), x, meta())),
        (aten.native_batch_norm.default, (x, meta(c), meta(c), meta(c), meta(c), False, 0.1, 1e-5)),
        (aten._native_batch_norm_legit_no_training.default, (x, meta(c), None, meta(c), meta(c), 0.1, 1e-5)),
        (aten.native_layer_norm.default, (x, [x.shape[-1]], meta(x.shape[-1]), meta(x.shape[-1]), 1e-5)),
        (aten._softmax.default, (x, -1, False)),
        (aten.mean.dim, (x, [-1, -2], True)),
        (aten.sum.dim_IntList, (x, [1])),
        (aten._adaptive_avg_pool2d.default, (x, [1, 1])),
        (aten.max_pool2d_with_indices.default, (x, [3, 3], [2, 2], [1, 1])),
        (aten.convolution.default, (x, meta(4, c, 3, 3), meta(4), [1, 1], [1, 1], [1, 1], False, [0, 0], 1)),
        (aten.convolution.default, (x, meta(c, 2, 2, 2), None, [2, 2], [0, 0], [1, 1], True, [1, 1], 1)),
        (aten.cat.default, ([x, x], 1)),
        (aten.native_dropout.default, (x, 0.1, True)),
        (aten.tril.default, (x,)),
    ]
    if x.shape[0] * x.shape[2] * x.shape[3] > 1:  # torch refuses training statistics of one value
        cases += [
            (aten.native_batch_norm.default, (x, meta(c), meta(c), meta(c), meta(c), True, 0.1, 1e-5)),
            (aten._native_batch_norm_legit.default, (x, meta(c), meta(c), meta(c), meta(c), True, 0.1, 1e-5)),
        ]
    made = 0
    for func, args in cases:
        ours = rule_output(func, args, {})
        if ours is None:  # only the where-based ops leave unsettled layouts to torch
            assert func in (aten.relu.default, aten.hardtanh.default) and name in ("sliced", "expanded"), func
            continue
        made += 1
        assert layout(ours) == layout(func(*args)), f"{func} on {name}"
    assert made >= len(cases) - 2


def test_dtype_promotion_matches_torch() -> None:
    half, single = meta(4, 8, dtype=torch.float16), meta(4, 8)
    index = meta(4, 8, dtype=torch.int64)
    cases = [
        (aten.add.Tensor, (half, single)),
        (aten.add.Tensor, (half, 2.5)),
        (aten.mul.Tensor, (half, torch.tensor(2.0))),  # a 0-d float32 tensor does not promote half
        (aten.mul.Tensor, (single, meta(dtype=torch.float64))),  # nor does a 0-d float64 one
        (aten.add.Tensor, (index, 3)),
        (aten.lt.Scalar, (index, 5)),
        (
            aten.addmm.default,
            (meta(8, dtype=torch.bfloat16), meta(4, 8, dtype=torch.bfloat16), meta(8, 8, dtype=torch.bfloat16)),
        ),
        (aten.native_layer_norm.default, (meta(2, 3, 8, dtype=torch.bfloat16), [8], None, None, 1e-5)),
        (
            aten.native_batch_norm.default,
            (meta(2, 4, 3, 3, dtype=torch.float16), None, None, meta(4), meta(4), False, 0.1, 1e-5),
        ),
        (aten.embedding.default, (meta(10, 8, dtype=torch.float16), meta(2, 3, dtype=torch.int64))),
        (aten.cat.default, ([meta(0), meta(1, 2, 3, 4)], -2)),
    ]
    for func, args in cases:
        ours, theirs = made_by_rule(func, *args)
        assert layout(ours) == layout(theirs), f"{func} on {layout(args)}"


def test_matmuls_and_attention_pieces_match_torch() -> None:
    a, b = meta(4, 8), meta(8, 3)
    cases = [
        (aten.mm.default, (a, b)),
        (aten.mm.default, (b.t(), a.t())),
        (aten.addmm.default, (meta(3), a, b)),
        (aten.bmm.default, (meta(2, 4, 8), meta(2, 8, 3).transpose(1, 2).contiguous().transpose(1, 2))),
        (aten.baddbmm.default, (meta(1, 4, 3), meta(2, 4, 8), meta(2, 8, 3))),
        (aten._softmax.default, (meta(2, 3, 4).transpose(0, 2), 1, False)),
        (aten.gather.default, (meta(1, 512, dtype=torch.int64), 1, meta(1, 128, dtype=torch.int64))),
        (aten.amax.default, (meta(2, 3, 4), [-1], True)),
    ]
    for func, args in cases:
        ours, theirs = made_by_rule(func, *args)
        assert layout(ours) == layout(theirs), f"{func} on {layout(args)}"


def _upsample_inputs(spatial: int) -> list[Any]:
    """Meta inputs of every layout the upsample rules meet: contiguous, channels-last, one
    channel, one pixel, batch of one, transposed (left to torch)."""
    out = []
    for n, c, side in ((2, 3, 5), (1, 4, 7), (2, 1, 6), (3, 5, 1), (1, 1, 1)):
        x = meta(n, c, *([side] * spatial))
        out.append(x)
        if spatial in (2, 3):
            out.append(x.contiguous(memory_format=torch.channels_last if spatial == 2 else torch.channels_last_3d))
        out.append(x.transpose(-1, -2))
    return out


@pytest.mark.parametrize("spatial", [1, 2, 3])
def test_upsample_outputs_match_torch_or_are_left_to_it(spatial: int) -> None:
    names = {
        1: ("upsample_nearest1d", "upsample_linear1d", "_upsample_nearest_exact1d"),
        2: ("upsample_nearest2d", "upsample_bilinear2d", "upsample_bicubic2d", "_upsample_nearest_exact2d",
            "_upsample_bilinear2d_aa", "_upsample_bicubic2d_aa"),
        3: ("upsample_nearest3d", "upsample_trilinear3d", "_upsample_nearest_exact3d"),
    }[spatial]  # fmt: skip
    made = 0
    for name in names:
        func = getattr(aten, name).default
        takes_corners = "align_corners" in str(func._schema)
        for x in _upsample_inputs(spatial):
            for size in ([3] * spatial, [11] * spatial, list(range(2, 2 + spatial))):
                args = (x, size, False) if takes_corners else (x, size)
                ours = rule_output(func, args, {})
                theirs = func(*args)
                if ours is not None:
                    made += 1
                    assert layout(ours) == layout(theirs), f"{func} on {layout(args)}"
    assert made > 0
    # F.interpolate through the tracer: the rule's outputs equal torch's in a whole model
    model = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"))
    x = torch.zeros(1, 2, *([4] * spatial))
    assert summary(model, input_data=x).output_shapes == (tuple(model(x).shape),)


def test_vector_norm_outputs_match_torch() -> None:
    func = aten.linalg_vector_norm.default
    made = 0
    for x in (meta(2, 3, 5), meta(4, 7), meta(2, 3, 5).transpose(0, 2), meta(1, 8, 4, 4)):
        for order in (2, 1, 2.5, float("inf")):
            for dims in ([-1], [1], [0, -1]):
                for keepdim in (False, True):
                    args = (x, order, dims, keepdim)
                    ours = rule_output(func, args, {})
                    if ours is not None:
                        made += 1
                        assert layout(ours) == layout(func(*args)), f"{layout(args)}"
    assert made >= 3 * 4 * 3 * 2


def test_pooling_stack_roll_group_norm_and_clamp_outputs_match_torch() -> None:
    cl = meta(2, 6, 9, 9).contiguous(memory_format=torch.channels_last)
    cases = [
        (aten.avg_pool2d.default, (meta(2, 6, 9, 9), [3, 3], [2, 2], [1, 1])),
        (aten.avg_pool2d.default, (meta(2, 6, 9, 9), [2, 2])),
        (aten.avg_pool2d.default, (cl, [3, 3], [2, 2], [1, 1], True, False, None)),
        (aten.avg_pool2d.default, (meta(1, 3, 7, 5), [3, 2], [1, 2], [0, 1], True, True)),
        (aten.stack.default, ([meta(3, 4), meta(3, 4), meta(3, 4)], 0)),
        (aten.stack.default, ([meta(3, 4), meta(3, 4)], -1)),
        (aten.stack.default, ([meta(2, 3, 4, dtype=torch.int64)] * 4, 1)),
        (aten.roll.default, (meta(2, 7, 7, 8), [3, 3], [1, 2])),
        (aten.roll.default, (meta(5, 6), [-2], [0])),
        (aten.native_group_norm.default, (meta(2, 8, 5, 5), meta(8), meta(8), 2, 8, 25, 4, 1e-5)),
        (aten.native_group_norm.default, (meta(3, 6, 10), None, None, 3, 6, 10, 1, 1e-5)),
        (aten.native_group_norm.default, (meta(2, 4, 3, 3, 3), meta(4), meta(4), 2, 4, 27, 4, 1e-5)),
        (aten.clamp.Tensor, (meta(2, 3, 4), meta(3, 1), meta(4))),
        (aten.clamp.Tensor, (meta(2, 3, 4), meta(2, 3, 4), None)),
    ]
    for func, args in cases:
        ours, theirs = made_by_rule(func, *args)
        assert layout(ours) == layout(theirs), f"{func} on {layout(args)}"
    # layouts the rules leave to torch
    for func, args in [
        (aten.stack.default, ([meta(3, 4).t(), meta(4, 3)], 0)),
        (aten.roll.default, (meta(4, 6).t(), [1], [0])),
        (aten.native_group_norm.default, (cl, None, None, 2, 6, 81, 3, 1e-5)),
    ]:
        assert rule_output(func, args, {}) is None, f"{func} on {layout(args)}"


def test_where_based_ops_leave_odd_size_one_strides_to_torch() -> None:
    """torch's relu/hardtanh/clamp meta keeps a size-1 dimension's odd stride, add drops it."""
    odd = torch.empty_strided((4, 1, 3), (3, 5, 1), device="meta")
    assert aten.relu.default(odd).stride() != aten.add.Tensor(odd, 1.0).stride()
    assert rule_output(aten.relu.default, (odd,), {}) is None
    ours, theirs = made_by_rule(aten.add.Tensor, odd, 1.0)
    assert layout(ours) == layout(theirs)


def test_integer_positions_from_arange_are_made_on_meta() -> None:
    for args in [(128,), (2, 130), (0, 10, 3)]:
        ours = _fast.FACTORIES[
            aten.arange.default if len(args) == 1 else (aten.arange.start if len(args) == 2 else aten.arange.start_step)
        ](args, {"device": torch.device("meta")})
        assert layout(ours) == layout(torch.arange(*args, device="meta"))


def test_inplace_ops_return_the_tensor_they_change() -> None:
    x = meta(2, 8, 5, 6).to(memory_format=torch.channels_last)
    for func, args in [
        (aten.add_.Tensor, (x, meta(8, 1, 1))),
        (aten.relu_.default, (x,)),
        (aten.hardtanh_.default, (x, 0.0, 6.0)),
        (aten.mul_.Scalar, (x, 0.5)),
        (aten.add_.Tensor, (meta(dtype=torch.int64), 1)),
    ]:
        ours, theirs = made_by_rule(func, *args)
        assert ours is args[0] and theirs is args[0]


def test_rules_decline_what_torch_refuses_so_torch_raises_its_own_error() -> None:
    x = meta(2, 8, 5, 6)
    refused = [
        (aten.add.Tensor, (x, meta(7))),  # does not broadcast
        (aten.add_.Tensor, (meta(8), x)),  # an in-place result cannot grow
        (aten.add_.Tensor, (meta(4, dtype=torch.int64), 1.5)),  # float into an integer tensor
        (aten.convolution.default, (x, meta(4, 3, 3, 3), None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1)),
        (aten.mm.default, (meta(4, 8), meta(7, 3))),
        (aten.cat.default, ([meta(2, 3), meta(2, 4)], 0)),
    ]
    for func, args in refused:
        assert _fast.RULES[func](args, {}) is None, func
        with pytest.raises(RuntimeError):
            func(*args)


@settings(max_examples=150, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 4), min_size=1, max_size=4),
    order=st.randoms(use_true_random=False),
    step=st.integers(1, 2),
    drop=st.lists(st.booleans(), min_size=4, max_size=4),
)
def test_elementwise_strides_match_torch_for_random_layouts(
    sizes: list[int], order: Any, step: int, drop: list[bool]
) -> None:
    """Any permuted, sliced or broadcast pair of operands: the output strides equal torch's."""
    perm = list(range(len(sizes)))
    order.shuffle(perm)
    base = meta(*[sizes[p] * (step if i == 0 else 1) for i, p in enumerate(perm)])
    x = base[::step] if step > 1 else base
    x = x.permute(*[perm.index(i) for i in range(len(sizes))])
    other = meta(*[1 if drop[i] else n for i, n in enumerate(sizes)])
    for func, args in [
        (aten.add.Tensor, (x, other)),
        (aten.mul.Tensor, (other, x)),
        (aten.relu.default, (x,)),
        (aten.sigmoid.default, (x,)),
        (aten.add.Tensor, (x, 1.0)),
        (aten.where.self, (meta(*sizes, dtype=torch.bool), x, other)),
    ]:
        ours = rule_output(func, args, {})
        if ours is not None:  # else torch makes it, by definition its own
            assert layout(ours) == layout(func(*args)), f"{func} on {layout(args)}"
    if step == 1 and min(sizes) > 1:
        assert rule_output(aten.add.Tensor, (x, other), {}) is not None  # dense layouts are the rules' own


# --- whole models -----------------------------------------------------------------------------


class Layouts(nn.Module):
    """Channels-last convolutions, views, in-place ops, mixed dtypes and a residual in one forward."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 4)
        self.norm = nn.LayerNorm(4)

    def forward(self, x: Any) -> Any:
        y = self.conv(x.to(memory_format=torch.channels_last))
        y = torch.relu_(self.bn(y))
        y = y + y.mean(dim=1, keepdim=True)
        y = y.permute(0, 2, 3, 1)[:, ::2] * 0.5
        z = self.pool(y.permute(0, 3, 1, 2)).flatten(1)
        z = self.norm(self.fc(z)).half() + torch.ones(4, dtype=torch.float32, device=x.device)
        return torch.where(z > 0, z, 0.0).softmax(-1)


@pytest.mark.parametrize(
    ("name", "train"), [("resnet18", False), ("resnet18", True), ("mobilenet_v2", False), ("vit_b_16", False)]
)
def test_every_output_the_rules_make_in_a_model_equals_torchs(name: str, train: bool) -> None:
    with torch.device("meta"):
        model = build(name).train(train)
    with checked_rules() as made:
        s = summary(model, input_size=(2, 3, 64, 64) if name != "vit_b_16" else (1, 3, 224, 224))
    assert len(made) > 20
    assert s.totals.params == sum(p.numel() for p in model.parameters())


def test_layouts_model_summary_is_exact_with_rules_checked() -> None:
    model = Layouts().eval()
    with checked_rules() as made:
        s = summary(model, input_size=(2, 3, 16, 16))
    assert {"aten.convolution.default", "aten.relu_.default", "aten.where.self"} <= set(made)
    assert s.output_shapes == ((2, 4),)
    assert s.totals.multiply_adds == 2 * 16 * 16 * 8 * 27 + 2 * 8 * 4


def test_transformers_models_outputs_equal_torchs() -> None:
    transformers = pytest.importorskip("transformers")
    cfg = transformers.GPT2Config(n_layer=2, n_embd=64, n_head=4, vocab_size=100, n_positions=64)
    with torch.device("meta"):
        model = transformers.GPT2LMHeadModel(cfg).eval()
    with checked_rules() as made:
        summary(model, input_size=(2, 16), dtypes=[torch.long])
    assert "aten.addmm.default" in made


# --- what a fresh process imports -------------------------------------------------------------

FRESH = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    import torch
    from torch_models import build
    from netsize.frontends.torch import summary
    model = build({name!r}).train({train})
    summary(model, input_size={size!r})
    heavy = ("torch._dynamo", "sympy", "torch._inductor", "torch.fx.experimental.symbolic_shapes")
    print(sorted(m for m in sys.modules if m.startswith(heavy)))
    """
)


@pytest.mark.parametrize(
    ("name", "train", "size"),
    [("resnet18", False, (1, 3, 64, 64)), ("resnet18", True, (2, 3, 64, 64)), ("vit_b_16", False, (1, 3, 224, 224))],
)
def test_first_summary_in_a_fresh_process_imports_no_dynamo_nor_sympy(name: str, train: bool, size: Any) -> None:
    code = FRESH.format(tests=str(TESTS), name=name, train=train, size=size)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("enabled", [True, False])
def test_summary_leaves_the_garbage_collector_as_it_found_it(enabled: bool) -> None:
    import gc

    from netsize.frontends.torch import summary

    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        summary(torch.nn.Linear(3, 2), input_size=(1, 3))
        assert gc.isenabled() is enabled
        with pytest.raises(Exception):  # noqa: B017  (a failing call restores it too)
            summary(torch.nn.Linear(3, 2), input_size=(1, 4), fallback=False)
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
