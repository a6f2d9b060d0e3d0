"""Upsample / interpolate and Keras UpSampling against torch."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsize import Context, NetsizeError, analyze_layer, explain_record, layer_type, layers
from netsize.layers.upsample import TAPS

torch = pytest.importorskip("torch")
F = torch.nn.functional
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

MODES = {"nearest": (3, 4, 5), "nearest-exact": (3, 4, 5), "linear": (3,), "bilinear": (4,), "bicubic": (4,),
         "trilinear": (5,)}  # fmt: skip
LAST = Context(layout="channels_last")


def to_last(shape):
    return (shape[0], *shape[2:], shape[1])


@settings(max_examples=300, deadline=None)
@given(data=st.data(), mode=st.sampled_from(sorted(MODES)), by_size=st.booleans(), channels_last=st.booleans())
def test_upsample_matches_torch_interpolate(data, mode, by_size, channels_last):
    rank = data.draw(st.sampled_from(MODES[mode]), label="rank")
    shape = tuple(data.draw(st.lists(st.integers(1, 6), min_size=rank, max_size=rank), label="shape"))
    spatial = rank - 2
    if by_size:
        size = data.draw(st.integers(1, 9) | st.tuples(*[st.integers(1, 9)] * spatial), label="size")
        kwargs = {"size": size}
    else:
        one = st.integers(1, 4) | st.floats(0.3, 3.5).map(lambda f: round(f, 2))
        kwargs = {"scale_factor": data.draw(one | st.tuples(*[one] * spatial), label="scale")}
    align = None if mode.startswith("nearest") else data.draw(st.sampled_from([None, True, False]))
    layer = layers.Upsample(mode=mode, align_corners=align, **kwargs)
    x = torch.randn(shape, requires_grad=True)
    saved = []
    ctx = LAST if channels_last else Context()
    ours_in = to_last(shape) if channels_last else shape
    try:
        with (
            FlopCounterMode(display=False) as counter,
            torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t),
        ):
            y = F.interpolate(x, mode=mode, align_corners=align, **kwargs)
    except RuntimeError as err:  # torch refuses an empty output (interpolating modes)
        assert "greater than 0" in str(err)
        y = None
    if y is None or y.numel() == 0:  # netsize refuses an empty output in every mode
        with pytest.raises(NetsizeError, match="= 0; the output would be empty"):
            analyze_layer("up", layer, (ours_in,), ctx)
        return
    rec = analyze_layer("up", layer, (ours_in,), ctx)
    assert rec.output_shape == (to_last(tuple(y.shape)) if channels_last else tuple(y.shape))
    assert rec.params == rec.buffers == rec.multiply_adds == counter.get_total_flops() == 0
    assert rec.saved_elements == sum(t.numel() for t in saved) == 0
    assert rec.other_ops == TAPS[mode] * y.numel()


def test_upsample_module_classes_match_torch():
    x = torch.randn(1, 3, 5, 7)
    for ours, theirs in [
        (layers.Upsample(scale_factor=2), torch.nn.Upsample(scale_factor=2)),
        (layers.UpsamplingNearest2d(size=(9, 4)), torch.nn.UpsamplingNearest2d(size=(9, 4))),
        (layers.UpsamplingBilinear2d(scale_factor=1.5), torch.nn.UpsamplingBilinear2d(scale_factor=1.5)),
    ]:
        assert analyze_layer("u", ours, ((1, 3, 5, 7),)).output_shape == tuple(theirs(x).shape)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), interpolation=st.sampled_from(["nearest", "bilinear"]))
def test_keras_upsampling_multiplies_each_axis(data, interpolation):
    rank = 4 if interpolation == "bilinear" else data.draw(st.sampled_from([3, 4, 5]))
    shape = tuple(data.draw(st.lists(st.integers(1, 5), min_size=rank, max_size=rank)))
    factor = data.draw(st.integers(1, 3) | st.tuples(*[st.integers(1, 3)] * (rank - 2)))
    rec = analyze_layer("u", layers.UpSampling(factor, interpolation), (to_last(shape),), LAST)
    y = F.interpolate(torch.zeros(shape), scale_factor=factor, mode=interpolation)
    assert rec.output_shape == to_last(tuple(y.shape))


def test_float_scale_floors_like_torch_and_says_so():
    rec = analyze_layer("up", layers.Upsample(scale_factor=2.3), ((1, 1, 100),))
    assert rec.output_shape[-1] == F.interpolate(torch.zeros(1, 1, 100), scale_factor=2.3).shape[-1] == 229
    text = explain_record(rec)
    assert "O_L = floor(I*scale) = floor(100*2.3) = 229" in text and "floored to 229" in text


def test_bilinear_other_ops_explained():
    text = explain_record(analyze_layer("up", layers.Upsample(scale_factor=2, mode="bilinear"), ((1, 8, 4, 4),)))
    assert "other ops = out_elements*4 (bilinear: 4 taps) = 1*8*8*8*4 = 2,048" in text


def test_mode_rank_mismatch_names_ranks():
    with pytest.raises(NetsizeError, match="mode 'bilinear' needs a 4-d input but receives 3-d 1x3x8"):
        analyze_layer("up", layers.Upsample(scale_factor=2, mode="bilinear"), ((1, 3, 8),))


def test_size_and_scale_are_exclusive():
    with pytest.raises(NetsizeError, match="exactly one of size or scale_factor"):
        layers.Upsample(size=4, scale_factor=2)
    with pytest.raises(NetsizeError, match="align_corners"):
        layers.Upsample(scale_factor=2, align_corners=True)


def test_scale_tuple_length_must_match_axes():
    with pytest.raises(NetsizeError, match=r"scale_factor \(2, 2, 2\) has 3 entries but the input has 2"):
        analyze_layer("up", layers.Upsample(scale_factor=(2, 2, 2)), ((1, 3, 4, 4),))


def test_names_resolve():
    assert layer_type("interpolate") is layers.Upsample
    assert layer_type("UpSampling2D") is layers.UpSampling
