"""Convolutions against torch.nn (shape, parameters, FlopCounterMode), their explanations and errors.

Golden numbers: AlexNet conv-1 (Krizhevsky et al. 2012; seed article 000: 227x227x3 input,
96 11x11 filters, stride 4 -> 55x55x96, 34,944 parameters) and the Keras model of seed article
004 (Conv2D(16, (2, 2)) on 224x224x3 -> 223x223x16, 208 parameters).
"""

from __future__ import annotations

from math import prod

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from netsize import CHANNELS_LAST, Context, NetsizeError, Sequential, analyze, analyze_layer, layer_type
from netsize.layers import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d

torch = pytest.importorskip("torch")

from torch.nn import functional as fn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

CONV = {1: Conv1d, 2: Conv2d, 3: Conv3d}
CONV_T = {1: ConvTranspose1d, 2: ConvTranspose2d, 3: ConvTranspose3d}
TORCH_CONV = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d, 3: torch.nn.Conv3d}
TORCH_CONV_T = {1: torch.nn.ConvTranspose1d, 2: torch.nn.ConvTranspose2d, 3: torch.nn.ConvTranspose3d}


def _run_torch(module, shape, pad=None):
    """Output shape and FLOPs of ``module`` on a meta tensor (optionally fn.pad-ded first)."""
    x = torch.empty(*shape, device="meta")
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        if pad is not None:
            x = fn.pad(x, pad)
        y = module(x)
    if any(dim <= 0 for dim in y.shape):  # a CPU tensor raises here; meta tensors do not check
        raise RuntimeError(f"output size {tuple(y.shape)} is too small")
    return tuple(y.shape), counter.get_total_flops()


def _params(module):
    return sum(p.numel() for p in module.parameters())


def _f_pad(pairs):
    """fn.pad's order: last axis first, (before, after) each."""
    return [v for before_after in reversed(pairs) for v in before_after]


@st.composite
def conv_configs(draw, transposed=False):
    n = draw(st.integers(1, 3))
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    c_in = groups * draw(st.integers(1, 3))
    c_out = groups * draw(st.integers(1, 3))
    if draw(st.booleans()) and not transposed:
        groups, c_out = c_in, c_in * draw(st.integers(1, 2))  # depthwise
    k = tuple(draw(st.integers(1, 4)) for _ in range(n))
    s = tuple(draw(st.integers(1, 3)) for _ in range(n))
    d = tuple(draw(st.integers(1, 3)) for _ in range(n))
    p = tuple(draw(st.integers(0, 3)) for _ in range(n))
    size = tuple(draw(st.integers(1, 9 if n < 3 else 6)) for _ in range(n))
    batch = draw(st.integers(1, 2))
    bias = draw(st.booleans())
    return n, groups, c_in, c_out, k, s, d, p, size, batch, bias


@settings(max_examples=400, deadline=None)
@given(cfg=conv_configs(), declare_in=st.booleans())
def test_conv_matches_torch_shape_params_and_flops(cfg, declare_in):
    n, groups, c_in, c_out, k, s, d, p, size, batch, bias = cfg
    module = TORCH_CONV[n](c_in, c_out, k, stride=s, padding=p, dilation=d, groups=groups, bias=bias, device="meta")
    layer = CONV[n](c_in if declare_in else None, c_out, k, stride=s, padding=p, dilation=d, groups=groups, bias=bias)
    shape = (batch, c_in, *size)
    try:
        out, flops = _run_torch(module, shape)
    except RuntimeError:
        event("torch refuses: netsize must raise too")
        with pytest.raises(NetsizeError):
            analyze_layer("conv", layer, (shape,))
        return
    record = analyze_layer("conv", layer, (shape,))
    assert record.output_shape == out
    assert record.params == _params(module)
    assert record.weights == module.weight.numel()
    assert record.multiply_adds == flops // 2
    assert record.other_ops == (prod(out) if bias else 0)  # one bias add per output element


@settings(max_examples=300, deadline=None)
@given(cfg=conv_configs(), data=st.data())
def test_conv_asymmetric_padding_matches_f_pad_then_conv(cfg, data):
    n, groups, c_in, c_out, k, s, d, _, size, batch, bias = cfg
    pairs = tuple((data.draw(st.integers(0, 3)), data.draw(st.integers(0, 3))) for _ in range(n))
    module = TORCH_CONV[n](c_in, c_out, k, stride=s, dilation=d, groups=groups, bias=bias, device="meta")
    layer = CONV[n](c_in, c_out, k, stride=s, padding=pairs, dilation=d, groups=groups, bias=bias)
    shape = (batch, c_in, *size)
    try:
        out, flops = _run_torch(module, shape, pad=_f_pad(pairs))
    except RuntimeError:
        event("torch refuses: netsize must raise too")
        with pytest.raises(NetsizeError):
            analyze_layer("conv", layer, (shape,))
        return
    record = analyze_layer("conv", layer, (shape,))
    assert record.output_shape == out
    assert record.multiply_adds == flops // 2
    assert [w.padding for w in record.analysis.windows] == [b for b, _ in pairs]


def _tf_same_pads(size, k, s, d):
    """TensorFlow's documented 'same' rule, written out independently of netsize."""
    pads = []
    for i, ki, si, di in zip(size, k, s, d, strict=True):
        out = (i + si - 1) // si
        total = max((out - 1) * si + (ki - 1) * di + 1 - i, 0)
        pads.append((total // 2, total - total // 2))
    return pads


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@settings(max_examples=300, deadline=None)
@given(cfg=conv_configs())
def test_conv_same_padding_matches_torch(cfg):
    n, groups, c_in, c_out, k, s, d, _, size, batch, bias = cfg
    layer = CONV[n](c_in, c_out, k, stride=s, padding="same", dilation=d, groups=groups, bias=bias)
    shape = (batch, c_in, *size)
    record = analyze_layer("conv", layer, (shape,))
    if all(si == 1 for si in s):
        # PyTorch's own 'same' (stride 1 only).
        module = TORCH_CONV[n](c_in, c_out, k, padding="same", dilation=d, groups=groups, bias=bias, device="meta")
        out, flops = _run_torch(module, shape)
    else:
        module = TORCH_CONV[n](c_in, c_out, k, stride=s, dilation=d, groups=groups, bias=bias, device="meta")
        out, flops = _run_torch(module, shape, pad=_f_pad(_tf_same_pads(size, k, s, d)))
    assert record.output_shape == out
    assert record.output_shape[2:] == tuple(-(-i // si) for i, si in zip(size, s, strict=True))
    assert record.multiply_adds == flops // 2
    assert record.params == _params(module)


@settings(max_examples=400, deadline=None)
@given(cfg=conv_configs(transposed=True), data=st.data())
def test_conv_transpose_matches_torch_shape_params_and_flops(cfg, data):
    n, groups, c_in, c_out, k, s, d, p, size, batch, bias = cfg
    op = tuple(data.draw(st.integers(0, max(si, di) - 1)) for si, di in zip(s, d, strict=True))
    module = TORCH_CONV_T[n](
        c_in, c_out, k, stride=s, padding=p, output_padding=op, dilation=d, groups=groups, bias=bias, device="meta"
    )
    layer = CONV_T[n](None, c_out, k, stride=s, padding=p, output_padding=op, dilation=d, groups=groups, bias=bias)
    shape = (batch, c_in, *size)
    try:
        out, flops = _run_torch(module, shape)
    except RuntimeError:
        event("torch refuses: netsize must raise too")
        with pytest.raises(NetsizeError):
            analyze_layer("deconv", layer, (shape,))
        return
    record = analyze_layer("deconv", layer, (shape,))
    assert record.output_shape == out
    assert record.params == _params(module)
    assert record.weights == module.weight.numel()
    assert record.multiply_adds == flops // 2


@settings(max_examples=200, deadline=None)
@given(cfg=conv_configs())
def test_conv_channels_last_is_the_transposed_channels_first(cfg):
    n, groups, c_in, c_out, k, s, d, p, size, batch, bias = cfg
    layer = CONV[n](None, c_out, k, stride=s, padding=p, dilation=d, groups=groups, bias=bias)
    try:
        first = analyze_layer("c", layer, ((batch, c_in, *size),))
    except NetsizeError:
        return
    last = analyze_layer("c", layer, ((batch, *size, c_in),), Context(layout=CHANNELS_LAST))
    assert last.output_shape == (first.output_shape[0], *first.output_shape[2:], first.output_shape[1])
    assert (last.params, last.multiply_adds, last.other_ops) == (first.params, first.multiply_adds, first.other_ops)


def test_conv_saves_its_input_for_backward_like_autograd():
    x = torch.randn(2, 3, 9, 9, requires_grad=True)
    module = torch.nn.Conv2d(3, 4, 3, stride=2)
    params = {p.data_ptr() for p in module.parameters()}
    saved = []

    def pack(t):
        saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        module(x)
    activations = sum(t.numel() for t in saved if t.data_ptr() not in params)
    record = analyze_layer("c", Conv2d(3, 4, 3, stride=2), ((2, 3, 9, 9),))
    assert record.saved_elements == activations == x.numel()


# --- golden numbers and explanations ----------------------------------------------------------


def _alexnet_conv1(size):
    return analyze(Sequential([("conv1", Conv2d(3, 96, 11, stride=4))], input_shape=(3, size, size)))


def test_alexnet_conv1_at_227_explains_55_and_34944_params():
    summary = _alexnet_conv1(227)
    record = summary.layer("conv1")
    assert record.output_shape == (1, 96, 55, 55)
    assert record.params == 34_944
    text = summary.explain("conv1")
    assert "O_H = floor((I - K + 2P) / S) + 1 = floor((227 - 11 + 2*0) / 4) + 1 = 55" in text
    assert "weights = K_h*K_w*C_in*C_out = 11*11*3*96 = 34,848" in text
    assert "biases = C_out = 96" in text
    assert "params = weights + biases = 34848 + 96 = 34,944" in text
    assert "not exact" not in text


def test_alexnet_conv1_at_224_says_the_division_is_not_exact():
    summary = _alexnet_conv1(224)
    assert summary.layer("conv1").output_shape == (1, 96, 54, 54)
    text = summary.explain("conv1")
    assert "floor((224 - 11 + 2*0) / 4) + 1 = 54  (not exact: 213/4 = 53.25, floored to 53)" in text


def test_alexnet_conv1_explanation_renders_in_chinese():
    text = _alexnet_conv1(224).explain("conv1", lang="zh")
    assert "权重 = K_h*K_w*C_in*C_out = 11*11*3*96 = 34,848" in text
    assert "（不能整除：213/4 = 53.25，向下取整为 53）" in text
    assert "输出形状：1x96x54x54" in text


def test_dilated_grouped_conv_explains_general_form_and_groups():
    record = analyze_layer("c", Conv2d(8, 16, 3, padding=2, dilation=2, groups=4), ((1, 8, 10, 10),))
    text_terms = [t.render() for t in record.analysis.shape_terms]
    assert (
        text_terms[0]
        == "O_H = floor((I + 2P - D*(K - 1) - 1) / S) + 1 = floor((10 + 2*2 - 2*(3 - 1) - 1) / 1) + 1 = 10"
    )
    assert record.analysis.weights.render() == "weights = K_h*K_w*(C_in/groups)*C_out = 3*3*(8/4)*16 = 288"


def test_same_padding_explains_the_odd_pixel_at_the_end():
    record = analyze_layer("c", Conv2d(1, 1, 3, stride=2, padding="same"), ((1, 1, 8, 8),))
    assert record.output_shape == (1, 1, 4, 4)
    pad = record.analysis.extra_terms[0].render()
    assert pad == (
        "P_H = max((O - 1)*S + K - I, 0) = max((4 - 1)*2 + 3 - 8, 0) = 1  "
        "('same' padding: 0 before, 1 after (the odd pixel at the end))"
    )
    assert record.analysis.windows[0].padding == 0


def test_keras_seed_004_conv2d_channels_last():
    net = Sequential(
        [("conv2d", layer_type("Conv2D")(out_channels=16, kernel_size=(2, 2)))],
        input_shape=(224, 224, 3),
        layout=CHANNELS_LAST,
    )
    record = analyze(net).layer("conv2d")
    assert record.output_shape == (1, 223, 223, 16)
    assert record.params == 208  # 2*2*3*16 + 16, as seed 004 derives


def test_unet_up_convolutions_are_2x2_with_seed_004_params():
    # Seed 004's formula: 2^2*(512*256 + 256*128 + 128*64 + 64*32) + (256 + 128 + 64 + 32) = 696,800.
    total = 0
    for c_in in (512, 256, 128, 64):
        record = analyze_layer("up", ConvTranspose2d(c_in, c_in // 2, 2, stride=2), ((1, c_in, 28, 28),))
        assert record.output_shape == (1, c_in // 2, 56, 56)
        total += record.params
    assert total == 696_800


def test_spec_names_resolve_to_conv_types():
    assert layer_type("conv2d") is Conv2d
    assert layer_type("Conv2D") is Conv2d
    assert layer_type("Conv1D") is Conv1d
    assert layer_type("conv3d") is Conv3d
    assert layer_type("deconv2d") is ConvTranspose2d
    assert layer_type("Conv2DTranspose") is ConvTranspose2d
    assert layer_type("ConvTranspose1d") is ConvTranspose1d
    assert layer_type("conv_transpose3d") is ConvTranspose3d


def test_keras_transposed_same_and_valid_padding():
    same = analyze_layer("up", ConvTranspose2d(4, 4, 3, stride=2, padding="same"), ((1, 4, 7, 7),))
    assert same.output_shape == (1, 4, 14, 14)
    valid = analyze_layer("up", ConvTranspose2d(4, 4, 1, stride=3, padding="valid"), ((1, 4, 7, 7),))
    assert valid.output_shape == (1, 4, 21, 21)  # I*S + max(K - S, 0) = 21, where torch's padding=0 gives 19


def test_yaml_lists_become_tuples_and_layer_stays_hashable():
    layer = Conv2d(3, 8, [3, 5], stride=[1, 2], padding=[[1, 1], [0, 2]])
    assert layer.kernel_size == (3, 5)
    assert layer.padding == ((1, 1), (0, 2))
    assert hash(layer) == hash(Conv2d(3, 8, (3, 5), stride=(1, 2), padding=((1, 1), (0, 2))))


# --- errors -----------------------------------------------------------------------------------


def test_kernel_larger_than_padded_input_names_the_numbers():
    net = Sequential([("conv", Conv2d(3, 8, 7, padding=1))], input_shape=(3, 4, 4))
    with pytest.raises(NetsizeError) as err:
        analyze(net)
    msg = str(err.value)
    assert msg.startswith("conv (Conv2d, input 1x3x4x4): kernel 7 is larger than the padded input along H: 6")
    assert "(= 4 + 2*1)" in msg


def test_dilated_kernel_larger_than_input_shows_dilated_size():
    with pytest.raises(NetsizeError, match=r"dilated: 3\*\(3 - 1\) \+ 1 = 7"):
        analyze_layer("c", Conv1d(1, 1, 3, dilation=3), ((1, 1, 5),))


def test_channels_not_divisible_by_groups_names_both():
    with pytest.raises(NetsizeError, match="in_channels 6 is not divisible by groups 4"):
        Conv2d(6, 8, 3, groups=4)
    with pytest.raises(NetsizeError, match="out_channels 6 is not divisible by groups 4"):
        Conv2d(8, 6, 3, groups=4)
    with pytest.raises(NetsizeError, match="in_channels 6 is not divisible by groups 4"):
        analyze_layer("c", Conv2d(None, 8, 3, groups=4), ((1, 6, 8, 8),))


def test_declared_in_channels_disagreeing_with_input_says_fix():
    with pytest.raises(NetsizeError) as err:
        analyze(Sequential([("c", Conv2d(4, 8, 3))], input_shape=(3, 8, 8)))
    assert "expects 4 input channels but receives 3" in str(err.value)
    assert "Set in_channels to 3" in str(err.value)


def test_output_padding_not_smaller_than_stride_or_dilation_is_refused():
    with pytest.raises(
        NetsizeError, match=r"output_padding 2 must be smaller than the stride \(2\) or the dilation \(1\)"
    ):
        ConvTranspose2d(4, 4, 3, stride=2, output_padding=2)
    # torch's rule: smaller than either is enough.
    assert ConvTranspose2d(4, 4, 3, stride=1, dilation=3, output_padding=2).output_padding == 2


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"out_channels": 0, "kernel_size": 3}, "out_channels must be a positive int (got 0)"),
        ({"out_channels": 4, "kernel_size": 0}, "kernel_size must be positive (got 0)"),
        ({"out_channels": 4, "kernel_size": 3, "stride": (1, -1)}, "stride must be positive (got (1, -1))"),
        ({"out_channels": 4, "kernel_size": 3, "padding": -1}, "padding must be an int"),
        ({"out_channels": 4, "kernel_size": (3, 3, 3)}, "kernel_size must be an int or a tuple of 2 ints"),
        ({"out_channels": 4, "kernel_size": 3, "padding": "full"}, "'valid' or 'same' (got 'full')"),
    ],
)
def test_bad_sizes_are_refused_with_the_value(kwargs, fragment):
    with pytest.raises(NetsizeError) as err:
        Conv2d(**kwargs)
    assert fragment in str(err.value)


def test_wrong_rank_input_is_explained():
    with pytest.raises(NetsizeError, match="Conv2d needs a 4-d input"):
        analyze_layer("c", Conv2d(3, 4, 3), ((1, 3, 8),))
