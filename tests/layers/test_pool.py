"""Pooling against torch.nn (shapes, no FLOPs, what autograd saves), Keras names and padding, errors.

Golden numbers: AlexNet's conv-1 -> pool-1 receptive field (11, then 11 + (3 - 1)*4 = 19 with
jump 4*2 = 8) and the Keras model of seed article 004 (MaxPooling2D(2) on 223x223x16 -> 111x111x16).
"""

from __future__ import annotations

from math import prod

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from netsize import CHANNELS_LAST, Context, NetsizeError, Sequential, analyze, analyze_layer, layer_type
from netsize.layers import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveAvgPool3d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AdaptiveMaxPool3d,
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    Conv2d,
    GlobalAvgPool2d,
    GlobalMaxPool1d,
    GlobalMaxPool2d,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
)

torch = pytest.importorskip("torch")

from torch.nn import functional as fn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

MAX = {1: MaxPool1d, 2: MaxPool2d, 3: MaxPool3d}
AVG = {1: AvgPool1d, 2: AvgPool2d, 3: AvgPool3d}
AMAX = {1: AdaptiveMaxPool1d, 2: AdaptiveMaxPool2d, 3: AdaptiveMaxPool3d}
AAVG = {1: AdaptiveAvgPool1d, 2: AdaptiveAvgPool2d, 3: AdaptiveAvgPool3d}
TORCH_MAX = {1: torch.nn.MaxPool1d, 2: torch.nn.MaxPool2d, 3: torch.nn.MaxPool3d}
TORCH_AVG = {1: torch.nn.AvgPool1d, 2: torch.nn.AvgPool2d, 3: torch.nn.AvgPool3d}
TORCH_AMAX = {1: torch.nn.AdaptiveMaxPool1d, 2: torch.nn.AdaptiveMaxPool2d, 3: torch.nn.AdaptiveMaxPool3d}
TORCH_AAVG = {1: torch.nn.AdaptiveAvgPool1d, 2: torch.nn.AdaptiveAvgPool2d, 3: torch.nn.AdaptiveAvgPool3d}


def _run_torch(module, shape, pad=None):
    """Output shape and FLOPs on a small real CPU tensor (CPU checks sizes; meta does not)."""
    x = torch.randn(*shape)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        if pad is not None:
            x = fn.pad(x, pad, value=float("-inf"))
        y = module(x)
    return tuple(y.shape), counter.get_total_flops()


@st.composite
def pool_configs(draw):
    n = draw(st.integers(1, 3))
    k = tuple(draw(st.integers(1, 4)) for _ in range(n))
    s = tuple(draw(st.integers(1, 3)) for _ in range(n))
    d = tuple(draw(st.integers(1, 2)) for _ in range(n))
    p = tuple(draw(st.integers(0, ki // 2)) for ki in k)  # torch requires padding <= kernel // 2
    size = tuple(draw(st.integers(1, 9 if n < 3 else 6)) for _ in range(n))
    ceil_mode = draw(st.booleans())
    return n, k, s, d, p, size, ceil_mode, draw(st.integers(1, 2)), draw(st.integers(1, 3))


def _compare(module, layer, shape, kernel, is_max):
    try:
        out, flops = _run_torch(module, shape)
    except RuntimeError:
        event("torch refuses: netsize must raise too")
        with pytest.raises(NetsizeError):
            analyze_layer("pool", layer, (shape,))
        return None
    record = analyze_layer("pool", layer, (shape,))
    assert record.output_shape == out
    assert record.params == 0
    assert record.multiply_adds == flops // 2 == 0  # pooling is never a multiply-add
    per_output = prod(kernel) - 1 if is_max else prod(kernel)  # comparisons / (adds + divide)
    assert record.other_ops == prod(out) * per_output
    event("ceil_mode" if layer.ceil_mode else "floor mode")
    return record


@settings(max_examples=400, deadline=None)
@given(cfg=pool_configs(), stride_none=st.booleans())
def test_maxpool_matches_torch(cfg, stride_none):
    n, k, s, d, p, size, ceil_mode, batch, channels = cfg
    stride = None if stride_none else s
    module = TORCH_MAX[n](k, stride=stride, padding=p, dilation=d, ceil_mode=ceil_mode)
    layer = MAX[n](k, stride=stride, padding=p, dilation=d, ceil_mode=ceil_mode)
    record = _compare(module, layer, (batch, channels, *size), k, is_max=True)
    if record is not None:
        assert record.saved_extra_bytes == 8 * prod(record.output_shape)  # int64 indices


@settings(max_examples=400, deadline=None)
@given(cfg=pool_configs())
def test_avgpool_matches_torch(cfg):
    n, k, s, _, p, size, ceil_mode, batch, channels = cfg
    module = TORCH_AVG[n](k, stride=s, padding=p, ceil_mode=ceil_mode)
    layer = AVG[n](k, stride=s, padding=p, ceil_mode=ceil_mode)
    record = _compare(module, layer, (batch, channels, *size), k, is_max=False)
    if record is not None:
        assert record.saved_extra_bytes == 0


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "padding", "expected"),
    [
        (5, 2, 2, 0, 3),  # ceil(3/2) + 1 = 3: the last window starts at 4 < 5, kept
        (6, 3, 2, 1, 4),  # ceil(5/2) + 1 = 4: last window starts at 6 < 6 + 1, kept
        (5, 3, 2, 1, 3),  # ceil(4/2) + 1 = 3: exact, nothing to round
        (4, 2, 3, 1, 2),  # ceil(3/3) + 1 = 2: last window starts at 3 < 4 + 1, kept
        (6, 2, 4, 1, 2),  # ceil(6/4) + 1 = 3, but the last window would start at 8 >= 6 + 1: dropped
    ],
)
def test_ceil_mode_edge_cases_match_torch(size, kernel, stride, padding, expected):
    module = torch.nn.MaxPool1d(kernel, stride, padding, ceil_mode=True)
    out, _ = _run_torch(module, (1, 1, size))
    record = analyze_layer("p", MaxPool1d(kernel, stride, padding, ceil_mode=True), ((1, 1, size),))
    assert record.output_shape == out == (1, 1, expected)


def test_ceil_mode_explains_the_dropped_last_window():
    record = analyze_layer("p", MaxPool1d(2, 4, 1, ceil_mode=True), ((1, 1, 6),))
    assert record.output_shape == (1, 1, 2)
    assert record.analysis.shape_terms[0].render() == (
        "O_L = ceil((I - K + 2P) / S) + 1 = ceil((6 - 2 + 2*1) / 4) + 1 = 2  "
        "(not exact: 6/4 = 1.5, rounded up to 2; ceil_mode: the last window would start at 8 >= "
        "I + P_b = 7, in the right padding: dropped, so O = 2)"
    )


def _tf_same_pads(size, k, s):
    """TensorFlow's documented 'same' rule for pooling, written out independently of netsize."""
    pads = []
    for i, ki, si in zip(size, k, s, strict=True):
        out = (i + si - 1) // si
        total = max((out - 1) * si + ki - i, 0)
        pads.append((total // 2, total - total // 2))
    return [v for pair in reversed(pads) for v in pair]


@settings(max_examples=300, deadline=None)
@given(cfg=pool_configs(), is_max=st.booleans())
def test_keras_same_padding_pools_match_torch_after_f_pad(cfg, is_max):
    n, k, s, _, _, size, _, batch, channels = cfg
    layer = (MAX if is_max else AVG)[n](k, stride=s, padding="same")
    module = (TORCH_MAX if is_max else TORCH_AVG)[n](k, stride=s)
    shape = (batch, channels, *size)
    out, _ = _run_torch(module, shape, pad=_tf_same_pads(size, k, s))
    record = analyze_layer("pool", layer, (shape,))
    assert record.output_shape == out
    assert record.output_shape[2:] == tuple(-(-i // si) for i, si in zip(size, s, strict=True))


def _torch_bins(size, out):
    """Bin sizes of torch's adaptive average pooling, read off by pooling one-hot inputs."""
    eye = torch.eye(size, dtype=torch.float64).reshape(size, 1, size)
    pooled = fn.adaptive_avg_pool1d(eye, out).reshape(size, out)
    return [int((pooled[:, i] != 0).sum()) for i in range(out)]


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(1, 3),
    data=st.data(),
    is_max=st.booleans(),
    batch=st.integers(1, 2),
    channels=st.integers(1, 3),
)
def test_adaptive_pool_matches_torch_and_counts_actual_bins(n, data, is_max, batch, channels):
    size = tuple(data.draw(st.integers(1, 10 if n < 3 else 6)) for _ in range(n))
    entry = st.integers(1, 8) if n == 1 else st.one_of(st.none(), st.integers(1, 8))  # torch 1-d: ints only
    want = tuple(data.draw(entry) for _ in range(n))
    output_size = want[0] if n == 1 and want[0] is not None and data.draw(st.booleans()) else want
    module = (TORCH_AMAX if is_max else TORCH_AAVG)[n](output_size)
    layer = (AMAX if is_max else AAVG)[n](output_size)
    shape = (batch, channels, *size)
    out, flops = _run_torch(module, shape)
    record = analyze_layer("pool", layer, (shape,))
    assert record.output_shape == out
    assert record.multiply_adds == flops // 2 == 0
    covered = prod(sum(_torch_bins(i, o)) for i, o in zip(size, out[2:], strict=True))
    per_sample = covered - prod(out[2:]) if is_max else covered
    assert record.other_ops == batch * channels * per_sample
    assert record.saved_extra_bytes == (8 * prod(out) if is_max else 0)


def test_avgpool3d_needs_input_at_least_kernel_before_padding_like_torch():
    with pytest.raises(RuntimeError, match="smaller than kernel size"):
        fn.avg_pool3d(torch.randn(1, 1, 2, 4, 4), (3, 1, 1), 1, (1, 0, 0))
    with pytest.raises(NetsizeError, match="input size 2 along D is smaller than the kernel size 3"):
        analyze_layer("p", AvgPool3d((3, 1, 1), 1, (1, 0, 0)), ((1, 1, 2, 4, 4),))
    # AvgPool2d only needs the padded input to fit, as torch.
    assert analyze_layer("p", AvgPool2d((3, 1), 1, (1, 0)), ((1, 1, 2, 4),)).output_shape == (1, 1, 2, 4)
    assert tuple(fn.avg_pool2d(torch.randn(1, 1, 2, 4), (3, 1), 1, (1, 0)).shape) == (1, 1, 2, 4)


def _saved_by_autograd(fn, x):
    """(elements of float tensors, bytes of int64 tensors) autograd saves for ``fn(x)``."""
    saved = []

    def pack(t):
        saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(x)
    floats = sum(t.numel() for t in saved if t.is_floating_point())
    int_bytes = sum(t.numel() * t.element_size() for t in saved if not t.is_floating_point())
    return floats, int_bytes


@pytest.mark.parametrize(
    ("torch_fn", "layer"),
    [
        (torch.nn.MaxPool2d(3, 2), MaxPool2d(3, 2)),
        (torch.nn.AvgPool2d(3, 2), AvgPool2d(3, 2)),
        (torch.nn.AdaptiveMaxPool2d((3, 2)), AdaptiveMaxPool2d((3, 2))),
        (torch.nn.AdaptiveAvgPool2d((3, 2)), AdaptiveAvgPool2d((3, 2))),
        (lambda x: x.mean((2, 3)), GlobalAvgPool2d()),
        (lambda x: x.amax((2, 3)), GlobalMaxPool2d()),
    ],
    ids=["max", "avg", "adaptive-max", "adaptive-avg", "global-avg", "global-max"],
)
def test_pools_save_for_backward_what_autograd_saves(torch_fn, layer):
    shape = (2, 3, 9, 8)
    floats, int_bytes = _saved_by_autograd(torch_fn, torch.randn(*shape, requires_grad=True))
    record = analyze_layer("p", layer, (shape,))
    assert record.saved_elements == floats
    assert record.saved_extra_bytes == int_bytes


def test_global_pools_are_keras_global_pooling():
    x = torch.randn(2, 5, 7, 6)
    avg = analyze_layer("g", layer_type("GlobalAveragePooling2D")(), ((2, 5, 7, 6),))
    assert avg.output_shape == tuple(torch.flatten(fn.adaptive_avg_pool2d(x, 1), 1).shape) == (2, 5)
    assert avg.other_ops == 2 * 5 * 7 * 6  # 41 adds and 1 divide per output
    kept = analyze_layer("g", GlobalMaxPool2d(keepdims=True), ((2, 5, 7, 6),))
    assert kept.output_shape == tuple(x.amax((2, 3), keepdim=True).shape)
    assert kept.other_ops == 2 * 5 * (7 * 6 - 1)
    last = analyze_layer("g", GlobalMaxPool1d(), ((2, 10, 4),), Context(layout=CHANNELS_LAST))
    assert last.output_shape == (2, 4)


def test_keras_seed_004_maxpooling2d_channels_last():
    net = Sequential(
        [
            ("conv2d", layer_type("Conv2D")(out_channels=16, kernel_size=(2, 2))),
            ("max_pooling2d", layer_type("MaxPooling2D")(kernel_size=(2, 2))),
        ],
        input_shape=(224, 224, 3),
        layout=CHANNELS_LAST,
    )
    summary = analyze(net)
    assert summary.layer("max_pooling2d").output_shape == (1, 111, 111, 16)
    assert summary.layer("max_pooling2d").params == 0
    assert summary.totals.params == 208


def test_alexnet_conv1_pool1_receptive_field():
    net = Sequential(
        [("conv1", Conv2d(3, 96, 11, stride=4)), ("pool1", MaxPool2d(3, stride=2))],
        input_shape=(3, 227, 227),
    )
    summary = analyze(net)
    conv1 = summary.layer("conv1").receptive_field
    pool1 = summary.layer("pool1").receptive_field
    assert (conv1[0].size, conv1[0].jump) == (11, 4)
    assert (pool1[0].size, pool1[0].jump) == (19, 8)
    assert summary.layer("pool1").output_shape == (1, 96, 27, 27)
    assert "receptive field = 19 (jump 8" in summary.explain("pool1")


def test_adaptive_pool_ends_the_receptive_field():
    net = Sequential(
        [("conv", Conv2d(3, 4, 3)), ("pool", AdaptiveAvgPool2d(2))],
        input_shape=(3, 9, 9),
    )
    assert analyze(net).layer("pool").receptive_field is None


def test_spec_names_resolve_to_pool_types():
    assert layer_type("MaxPooling2D") is MaxPool2d
    assert layer_type("maxpool2d") is MaxPool2d
    assert layer_type("AveragePooling1D") is AvgPool1d
    assert layer_type("avg_pool3d") is AvgPool3d
    assert layer_type("GlobalAveragePooling2D") is GlobalAvgPool2d
    assert layer_type("GlobalMaxPooling1D") is GlobalMaxPool1d
    assert layer_type("adaptive_avg_pool2d") is AdaptiveAvgPool2d


def test_return_indices_gives_a_second_output():
    record = analyze_layer("p", MaxPool2d(2, return_indices=True), ((1, 2, 8, 8),))
    assert record.output_shapes == ((1, 2, 4, 4), (1, 2, 4, 4))


def test_maxpool_other_ops_explained_as_comparisons():
    record = analyze_layer("p", MaxPool2d(3, 2), ((1, 96, 55, 55),))
    assert record.analysis.other_ops.render() == (
        "other ops = N*C*O_H*O_W*(K_h*K_w - 1) (comparisons: window elements - 1 per output) "
        "= 1*96*27*27*(3*3 - 1) = 559,872"
    )


# --- errors -----------------------------------------------------------------------------------


def test_padding_more_than_half_the_kernel_is_refused_like_torch():
    with pytest.raises(RuntimeError, match="at most half"):
        torch.nn.MaxPool1d(3, padding=2)(torch.randn(1, 1, 8))
    with pytest.raises(NetsizeError) as err:
        MaxPool1d(3, padding=2)
    assert "padding 2 is more than half the kernel size 3" in str(err.value)
    assert "padding <= kernel_size // 2 = 1" in str(err.value)


def test_pool_window_larger_than_input_names_the_numbers():
    with pytest.raises(NetsizeError) as err:
        analyze(Sequential([("pool", MaxPool2d(3, stride=2))], input_shape=(4, 2, 2)))
    assert str(err.value).startswith(
        "pool (MaxPool2d, input 1x4x2x2): kernel 3 is larger than the padded input along H: 2 (= 2 + 2*0)"
    )


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: MaxPool2d(0), "kernel_size must be positive (got 0)"),
        (lambda: AvgPool2d(2, stride=(1, 0)), "stride must be positive (got (1, 0))"),
        (lambda: AdaptiveAvgPool2d((0, 3)), "output_size must be a positive int or 2 entries"),
        (lambda: AdaptiveMaxPool2d((1, 2, 3)), "got (1, 2, 3)"),
    ],
)
def test_bad_pool_sizes_are_refused_with_the_value(make, fragment):
    with pytest.raises(NetsizeError) as err:
        make()
    assert fragment in str(err.value)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(7, 12), st.booleans())
def test_dilated_average_pool_has_the_dilated_max_pools_shape(k, d, s, size, ceil):
    """ONNX AveragePool's dilations (PyTorch's avg_pool has none) space the window as max_pool's."""
    import torch

    rec = analyze_layer("p", AvgPool2d(k, stride=s, dilation=d, ceil_mode=ceil), ((1, 2, size, size),))
    out = torch.nn.functional.max_pool2d(torch.zeros(1, 2, size, size), k, s, dilation=d, ceil_mode=ceil)
    assert rec.output_shape == tuple(out.shape)
    assert rec.other_ops == 2 * out.shape[2] * out.shape[3] * k * k


def test_padding_above_half_the_kernel_is_refused_unless_onnx_allows_it():
    with pytest.raises(NetsizeError, match=r"padding 2 is more than half the kernel size 3"):
        AvgPool2d(3, stride=1, padding=((2, 2), (2, 2)))
    rec = analyze_layer("p", AvgPool2d(3, stride=1, padding=((2, 2), (2, 2)), padding_limit=False), ((1, 1, 5, 5),))
    assert rec.output_shape == (1, 1, 7, 7)  # ONNX: floor((5 + 2 + 2 - 3) / 1) + 1
