"""Normalisation layers against torch.nn: params, buffers, shapes, saved tensors; Keras convention."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from netsize import Context, NetsizeError, analyze_layer, explain_record, layer_type, layers

torch = pytest.importorskip("torch")
nn = torch.nn
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

LAST = Context(layout="channels_last")
KERAS = Context(convention="keras", layout="channels_last")
flag = st.booleans()


def to_last(shape):
    return (shape[0], *shape[2:], shape[1])


def check(layer, module, shape, ctx=None):
    """netsize against ``module(x)``: shape, params, buffers, zero FLOPs, saved activations."""
    ours_in = to_last(shape) if ctx is LAST else shape
    rec = analyze_layer("n", layer, (ours_in,), ctx)
    x = torch.randn(shape, requires_grad=True)
    saved = []
    with (
        FlopCounterMode(display=False) as counter,
        torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t),
    ):
        y = module.train()(x)
    skip = {t.untyped_storage().data_ptr() for t in [*module.parameters(), *module.buffers()]}
    seen, total = set(), 0
    for t in saved:
        ptr = t.untyped_storage().data_ptr()
        if ptr not in skip and ptr not in seen:
            seen.add(ptr)
            total += t.numel()
    assert x.untyped_storage().data_ptr() in seen  # the input is kept, as netsize says
    assert rec.output_shape == (to_last(tuple(y.shape)) if ctx is LAST else tuple(y.shape))
    assert rec.params == sum(p.numel() for p in module.parameters())
    assert rec.buffers == sum(b.numel() for b in module.buffers())
    assert rec.multiply_adds == 0 == counter.get_total_flops()
    assert rec.saved_elements == total
    return rec


BATCHNORMS = {1: (layers.BatchNorm1d, nn.BatchNorm1d), 2: (layers.BatchNorm2d, nn.BatchNorm2d),
              3: (layers.BatchNorm3d, nn.BatchNorm3d)}  # fmt: skip
INSTANCENORMS = {1: (layers.InstanceNorm1d, nn.InstanceNorm1d), 2: (layers.InstanceNorm2d, nn.InstanceNorm2d),
                 3: (layers.InstanceNorm3d, nn.InstanceNorm3d)}  # fmt: skip


@settings(max_examples=120, deadline=None)
@given(data=st.data(), dims=st.sampled_from([1, 2, 3]), affine=flag, track=flag, infer=flag, last=flag)
def test_batchnorm_matches_torch(data, dims, affine, track, infer, last):
    rank = data.draw(st.sampled_from([2, 3])) if dims == 1 else dims + 2
    shape = tuple(data.draw(st.lists(st.integers(2, 4), min_size=rank, max_size=rank), label="shape"))
    ours, theirs = BATCHNORMS[dims]
    c = shape[1]
    layer = ours(None if infer else c, affine=affine, track_running_stats=track)
    rec = check(layer, theirs(c, affine=affine, track_running_stats=track), shape, LAST if last else None)
    assert rec.other_ops == rec.activation_elements * (4 if affine else 2)


@settings(max_examples=80, deadline=None)
@given(data=st.data(), dims=st.sampled_from([1, 2, 3]), affine=flag, track=flag, last=flag)
def test_instancenorm_matches_torch(data, dims, affine, track, last):
    shape = tuple(data.draw(st.lists(st.integers(2, 4), min_size=dims + 2, max_size=dims + 2), label="shape"))
    ours, theirs = INSTANCENORMS[dims]
    c = shape[1]
    layer = ours(c, affine=affine, track_running_stats=track)
    rec = check(layer, theirs(c, affine=affine, track_running_stats=track), shape, LAST if last else None)
    assert rec.other_ops == rec.activation_elements * (7 if affine else 5)


def test_instancenorm_defaults_follow_torch():
    rec = analyze_layer("n", layers.InstanceNorm2d(8), ((1, 8, 4, 4),))
    module = nn.InstanceNorm2d(8)
    assert rec.params == sum(p.numel() for p in module.parameters()) == 0
    assert rec.buffers == sum(b.numel() for b in module.buffers()) == 0


@settings(max_examples=120, deadline=None)
@given(data=st.data(), affine=flag, bias=flag, infer=flag)
def test_layernorm_matches_torch(data, affine, bias, infer):
    shape = tuple(data.draw(st.lists(st.integers(1, 4), min_size=2, max_size=4), label="shape"))
    k = 1 if infer else data.draw(st.integers(1, len(shape) - 1), label="normalised axes")
    ns = shape[-k:]
    layer = layers.LayerNorm(None if infer else ns, elementwise_affine=affine, bias=bias)
    rec = check(layer, nn.LayerNorm(ns, elementwise_affine=affine, bias=bias), shape)
    assert rec.other_ops == rec.activation_elements * (5 + affine + (affine and bias))


@settings(max_examples=120, deadline=None)
@given(data=st.data(), affine=flag, infer=flag, last=flag)
def test_groupnorm_matches_torch(data, affine, infer, last):
    groups = data.draw(st.integers(1, 4), label="groups")
    c = groups * data.draw(st.integers(1, 3), label="per group")
    rest = data.draw(st.lists(st.integers(1, 4), min_size=0, max_size=3), label="spatial")
    shape = (data.draw(st.integers(1, 3)), c, *rest)
    assume(shape[0] * c // groups * math.prod(rest) > 1)  # torch refuses 1 value per group in training
    layer = layers.GroupNorm(groups, None if infer else c, affine=affine)
    rec = check(layer, nn.GroupNorm(groups, c, affine=affine), shape, LAST if last and rest else None)
    assert rec.other_ops == rec.activation_elements * (7 if affine else 5)


@settings(max_examples=120, deadline=None)
@given(data=st.data(), affine=flag, infer=flag)
def test_rmsnorm_matches_torch(data, affine, infer):
    shape = tuple(data.draw(st.lists(st.integers(1, 4), min_size=2, max_size=4), label="shape"))
    k = 1 if infer else data.draw(st.integers(1, len(shape) - 1), label="normalised axes")
    ns = shape[-k:]
    layer = layers.RMSNorm(None if infer else ns, elementwise_affine=affine)
    rec = check(layer, nn.RMSNorm(ns, elementwise_affine=affine), shape)
    assert rec.other_ops == rec.activation_elements * (4 if affine else 3)


def test_batchnorm2d_64_torch_and_keras_conventions():
    module = nn.BatchNorm2d(64)
    torch_rec = analyze_layer("bn", layers.BatchNorm2d(64), ((1, 64, 56, 56),))
    assert torch_rec.params == sum(p.numel() for p in module.parameters()) == 128
    assert torch_rec.buffers == sum(b.numel() for b in module.buffers()) == 129
    keras_rec = analyze_layer("bn", layers.BatchNorm(64), ((1, 56, 56, 64),), KERAS)
    # Keras: gamma, beta trainable; moving mean and variance non-trainable; no num_batches_tracked.
    assert keras_rec.params == torch_rec.params + torch_rec.buffers - 1 == 256
    assert keras_rec.non_trainable_params == 128 and keras_rec.trainable_params == 128
    assert keras_rec.buffers == 0
    text = explain_record(keras_rec)
    assert "non-trainable params = 2*C (moving mean, moving variance) = 2*64 = 128" in text
    assert "params = weights + biases + non-trainable params = 64 + 64 + 128 = 256" in text


def test_batchnorm_explanation_substitutes():
    text = explain_record(analyze_layer("bn", layers.BatchNorm2d(), ((2, 16, 8, 8),)))
    assert "buffers = 2*C + 1 (running_mean, running_var, num_batches_tracked) = 2*16 + 1 = 33" in text
    assert "other ops = elements*4 (normalise 2 + affine 2) = 2*16*8*8*4 = 8,192" in text
    assert "按推理计算" in explain_record(analyze_layer("bn", layers.BatchNorm2d(), ((2, 16, 8, 8),)), lang="zh")


def test_num_features_mismatch_names_both_numbers():
    with pytest.raises(NetsizeError, match=r"expects 64 channels \(num_features\) but receives 32 \(axis 1 of"):
        analyze_layer("bn", layers.BatchNorm2d(64), ((1, 32, 8, 8),))
    with pytest.raises(NetsizeError, match=r"expects 64 channels .* but receives 32 \(axis 3 of 1x8x8x32\)"):
        analyze_layer("bn", layers.BatchNorm2d(64), ((1, 8, 8, 32),), LAST)


def test_batchnorm_rank_error_names_ranks():
    with pytest.raises(NetsizeError, match="expects a 2-d or 3-d input but receives 4-d"):
        analyze_layer("bn", layers.BatchNorm1d(), ((1, 3, 4, 4),))


def test_groupnorm_divisibility_errors():
    with pytest.raises(NetsizeError, match="num_channels 10 is not divisible by num_groups 4"):
        layers.GroupNorm(4, 10)
    with pytest.raises(NetsizeError, match="10 channels are not divisible by num_groups 4"):
        analyze_layer("gn", layers.GroupNorm(4), ((1, 10, 4, 4),))


def test_layernorm_shape_mismatch_names_both():
    with pytest.raises(NetsizeError, match=r"normalized_shape 5 does not match the last 1 axes of 2x3x4 \(4\)"):
        analyze_layer("ln", layers.LayerNorm(5), ((2, 3, 4),))


def test_names_resolve():
    assert layer_type("BatchNormalization") is layers.BatchNorm
    assert layer_type("batch_norm_2d") is layers.BatchNorm2d
    assert layer_type("LayerNormalization") is layers.LayerNorm
    assert layer_type("GroupNormalization") is layers.GroupNorm


def _drop(module, name):
    """``module`` without its affine ``name`` vector (torch's functional norms take None): the
    torch counterpart of Keras' ``scale=False`` (no weight) and ``center=False`` (no bias)."""
    module.register_parameter(name, None)
    return module


@settings(max_examples=120, deadline=None)
@given(data=st.data(), kind=st.sampled_from(["batch", "instance", "layer", "group"]),
       dropped=st.sampled_from(["weight", "bias"]), last=flag)
def test_one_affine_vector_dropped_matches_torch(data, kind, dropped, last):
    c = data.draw(st.sampled_from([2, 4, 6]))
    shape = (data.draw(st.integers(2, 3)), c, *data.draw(st.lists(st.integers(2, 5), min_size=1, max_size=2)))
    keep = {"weight": dropped != "weight", "bias": dropped != "bias"}
    ctx = LAST if last and kind != "layer" else None
    if kind == "batch":
        layer, module = layers.BatchNorm(**keep), nn.BatchNorm1d(c) if len(shape) == 3 else nn.BatchNorm2d(c)
    elif kind == "instance":
        layer = (layers.InstanceNorm1d if len(shape) == 3 else layers.InstanceNorm2d)(affine=True, **keep)
        module = (nn.InstanceNorm1d if len(shape) == 3 else nn.InstanceNorm2d)(c, affine=True)
    elif kind == "group":
        g = data.draw(st.sampled_from([d for d in (1, 2) if c % d == 0]))
        layer, module = layers.GroupNorm(g, **keep), nn.GroupNorm(g, c)
    else:
        layer, module = layers.LayerNorm(shape[-1], **keep), nn.LayerNorm(shape[-1])
    rec = check(layer, _drop(module, dropped), shape, ctx)
    per = {"batch": 2, "instance": 5, "layer": 5, "group": 5}[kind] + 1  # one affine op per element left
    assert rec.other_ops == math.prod(shape) * per


def test_layerscale_matches_a_torch_scale():
    x = (2, 7, 5, 12)
    gamma = nn.Parameter(torch.ones(12))
    rec = analyze_layer("ls", layers.LayerScale(), (x,))
    assert rec.params == gamma.numel() and rec.output_shape == tuple((torch.randn(x) * gamma).shape)
    assert rec.other_ops == math.prod(x) and rec.multiply_adds == 0
    with pytest.raises(NetsizeError, match="expects 10 features on the last axis but receives 12"):
        analyze_layer("ls", layers.LayerScale(dim=10), (x,))
