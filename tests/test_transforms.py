"""fc_to_conv: a fully connected head becomes convolutions with the same parameters.

Sources: CS231n "Converting FC layers to CONV layers" (quoted in seed 003) and Simonyan &
Zisserman 2015, section 3.2 (dense evaluation of VGG: fc6 -> 7x7 conv, fc7/fc8 -> 1x1 convs).
"""

from __future__ import annotations

import pytest

from netsize import CHANNELS_LAST, Graph, NetsizeError, Sequential, analyze, layers, zoo
from netsize.transforms import fc_to_conv
from netsize.zoo.vgg import vgg


def _vgg16_no_avgpool():
    return vgg("vgg16", False, (3, 224, 224), avgpool=False)


def test_vgg16_head_becomes_7x7_and_1x1_convs_with_the_same_counts():
    net = _vgg16_no_avgpool()
    before = analyze(net)
    after = analyze(fc_to_conv(net))
    assert [r.name for r in after.layers] == [r.name for r in before.layers if r.kind != "Flatten"]
    for i, kernel in ((0, (7, 7)), (3, 1), (6, 1)):
        assert after.layer(f"classifier.{i}").kind == "Conv2d"
        assert next(n for n in fc_to_conv(net).nodes if n.name == f"classifier.{i}").layer.kernel_size in (
            kernel,
            (kernel, kernel),
        )
    for field in ("params", "multiply_adds"):
        assert getattr(after.totals, field) == getattr(before.totals, field)
    for i in (0, 3, 6):
        b, a = before.layer(f"classifier.{i}"), after.layer(f"classifier.{i}")
        assert (a.weights, a.biases, a.multiply_adds) == (b.weights, b.biases, b.multiply_adds)
    assert after.output_shapes[0] == (1, 1000, 1, 1)


def test_larger_input_gives_a_map_of_scores():
    # seed 003: a 384x384 input gives 12x12x512 before the head and 6x6x1000 after it.
    s = analyze(fc_to_conv(_vgg16_no_avgpool(), input_shape=(3, 384, 384)))
    assert s.layer("features.30").output_shape == (1, 512, 12, 12)
    assert s.output_shapes[0] == (1, 1000, 6, 6)
    assert s.totals.params == 138_357_544  # seed 002 / VGG16
    assert zoo.get("vgg16-fcn").build().nodes == fc_to_conv(_vgg16_no_avgpool(), (3, 384, 384)).nodes


def test_fully_convolutional_vgg16_matches_torch():
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    from torch_models import build

    with torch.device("meta"):
        base = build("vgg16")
        fcn = torch.nn.Sequential(
            base.features,
            torch.nn.Conv2d(512, 4096, 7), torch.nn.ReLU(), torch.nn.Dropout(),
            torch.nn.Conv2d(4096, 4096, 1), torch.nn.ReLU(), torch.nn.Dropout(),
            torch.nn.Conv2d(4096, 1000, 1),
        )  # fmt: skip
        counter = FlopCounterMode(display=False)
        with counter:
            y = fcn(torch.empty(1, 3, 384, 384))
    s = analyze(zoo.get("vgg16-fcn").build())
    assert s.output_shapes[0] == tuple(y.shape)
    assert s.totals.params == sum(p.numel() for p in fcn.parameters())
    assert s.totals.flops == counter.get_total_flops()


def test_channels_last_head():
    net = Sequential(
        [
            ("conv", layers.Conv2d(in_channels=None, out_channels=8, kernel_size=3)),
            ("flatten", layers.Flatten()),
            ("fc1", layers.Linear(in_features=None, out_features=32)),
            ("relu", layers.ReLU()),
            ("fc2", layers.Linear(in_features=32, out_features=5, bias=False)),
        ],
        input_shape=(10, 12, 3),
        layout=CHANNELS_LAST,
    )
    before, after = analyze(net), analyze(fc_to_conv(net))
    assert after.layer("fc1").output_shape == (1, 1, 1, 32)
    assert after.output_shapes[0] == (1, 1, 1, 5)
    assert after.layer("fc1").params == before.layer("fc1").params == 8 * 10 * 8 * 32 + 32
    assert after.layer("fc2").params == 32 * 5
    assert after.totals.multiply_adds == before.totals.multiply_adds


def test_explicit_outputs_referring_to_the_flatten_are_rewired():
    g = Graph("two-heads", input_shape=(4, 3, 3))
    g.add("flatten", layers.Flatten())
    g.add("fc", layers.Linear(in_features=36, out_features=2))
    g.outputs("fc")
    s = analyze(fc_to_conv(g.build()))
    assert [r.name for r in s.layers] == ["fc"]
    assert s.output_shapes[0] == (1, 2, 1, 1)
    assert s.layer("fc").params == 36 * 2 + 2


def test_nothing_to_convert_is_an_error():
    net = Sequential([layers.Linear(in_features=4, out_features=3)], input_shape=(4,))
    with pytest.raises(NetsizeError, match="no Linear fed by a Flatten of a 2-d map"):
        fc_to_conv(net)


def test_a_layer_that_needs_a_vector_after_the_head_is_an_error():
    net = Sequential(
        [
            ("flatten", layers.Flatten()),
            ("fc", layers.Linear(in_features=None, out_features=6)),
            ("unflatten", layers.Unflatten(dim=1, unflattened_size=(2, 3))),
        ],
        input_shape=(2, 3, 3),
    )
    with pytest.raises(NetsizeError, match=r"unflatten \(Unflatten\) follows a layer turned into a convolution"):
        fc_to_conv(net)


def test_input_shape_needs_a_single_input():
    with pytest.raises(NetsizeError, match="one-input networks"):
        fc_to_conv(_two_inputs(), input_shape=(3, 384, 384))


def _two_inputs():
    g = Graph("two", inputs={"a": (2, 3, 3), "b": (5,)})
    g.add("flatten", layers.Flatten(), inputs="a")
    g.add("fc", layers.Linear(in_features=18, out_features=4))
    return g.build()
