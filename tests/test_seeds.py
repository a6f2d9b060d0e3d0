"""Golden tests: the numbers of five parameter-counting tutorials (the project's seed articles: 000
LearnOpenCV's AlexNet table in Chinese translation, 001 a d2l-based CNN article, 002 the
Stack Overflow answer quoting CS231n's VGG16 table, 003 a Chinese AlexNet / CIFAR-10 article, 004 a
Chinese U-Net / Keras article), reproduced by netsize, and their known mistakes shown by netsize
rather than copied. The articles are not shipped: these tests keep their numbers. Each test names
its source."""

from __future__ import annotations

import pytest

from netsize import NetsizeError, Network, analyze, zoo
from netsize.transforms import fc_to_conv


def _summary(name: str, **variables):
    entry = zoo.get(name)
    return analyze(entry.build(**variables), convention=entry.convention)


def _hwc(shape: tuple[int, ...]) -> str:
    """The seeds write tensor sizes as H x W x C (and vectors as F x 1)."""
    if len(shape) == 2:
        return f"{shape[1]}x1"
    _, c, h, w = shape
    return f"{h}x{w}x{c}"


# --- seed 000: AlexNet's tensor sizes and parameters ------------------------------------------

# seed 000's summary table: layer, tensor size, weights, biases, parameters.
SEED_000_TABLE = [
    ("conv1", "55x55x96", 34_848, 96, 34_944),
    ("pool1", "27x27x96", 0, 0, 0),
    ("conv2", "27x27x256", 614_400, 256, 614_656),
    ("pool2", "13x13x256", 0, 0, 0),
    ("conv3", "13x13x384", 884_736, 384, 885_120),
    ("conv4", "13x13x384", 1_327_104, 384, 1_327_488),
    ("conv5", "13x13x256", 884_736, 256, 884_992),
    ("pool3", "6x6x256", 0, 0, 0),
    ("fc1", "4096x1", 37_748_736, 4_096, 37_752_832),
    ("fc2", "4096x1", 16_777_216, 4_096, 16_781_312),
    ("fc3", "1000x1", 4_096_000, 1_000, 4_097_000),
]


@pytest.mark.parametrize(("layer", "size", "weights", "biases", "params"), SEED_000_TABLE)
def test_seed_000_alexnet_table_row(layer, size, weights, biases, params):
    r = _summary("alexnet").layer(layer)
    assert (_hwc(r.output_shape), r.weights, r.biases, r.params) == (size, weights, biases, params)


def test_seed_000_alexnet_totals_and_conv_sum():
    s = _summary("alexnet")
    assert _hwc(s.input_shape) == "227x227x3"
    assert s.totals.params == 62_378_344  # seed 000: "结果竟然是62,378,344"
    # seed 000: conv 2-5 have 614656, 885120, 1327488, 884992 params; all conv layers 3,747,200.
    assert [s.layer(f"conv{i}").params for i in range(2, 6)] == [614_656, 885_120, 1_327_488, 884_992]
    assert sum(r.params for r in s.layers if r.kind == "Conv2d") == 3_747_200
    # fc1 has more parameters than all conv layers together (seed 000).
    assert s.layer("fc1").params > 3_747_200


def test_seed_000_conv5_is_13x13x256_not_27x27x256():
    # seed 000's text says conv-5 "将更改大小为27x27x256"; its own table (and the arithmetic) say 13x13x256.
    s = _summary("alexnet")
    assert _hwc(s.layer("conv5").output_shape) == "13x13x256"
    assert _hwc(s.layer("conv5").output_shape) != "27x27x256"
    assert s.layer("conv5").input_shapes[0][2:] == (13, 13)
    # Its formula O = (I - K + 2P)/S + 1, fraction bar restored, for conv-1: (227 - 11 + 2*0)/4 + 1 = 55.
    text = s.explain("conv1")
    assert "floor((227 - 11 + 2*0) / 4) + 1 = 55" in text


# --- seed 001: d2l's AlexNet, its printed shapes ----------------------------------------------

# seed 001's printout (`for layer in net: X = layer(X); print(...)`), which lost its first line
# (Conv2d [1, 96, 54, 54]); the ReLU after it shows that shape.
SEED_001_PRINTED = [
    ("ReLU", (1, 96, 54, 54)),
    ("MaxPool2d", (1, 96, 26, 26)),
    ("Conv2d", (1, 256, 26, 26)),
    ("ReLU", (1, 256, 26, 26)),
    ("MaxPool2d", (1, 256, 12, 12)),
    ("Conv2d", (1, 384, 12, 12)),
    ("ReLU", (1, 384, 12, 12)),
    ("Conv2d", (1, 384, 12, 12)),
    ("ReLU", (1, 384, 12, 12)),
    ("Conv2d", (1, 256, 12, 12)),
    ("ReLU", (1, 256, 12, 12)),
    ("MaxPool2d", (1, 256, 5, 5)),
    ("Flatten", (1, 6400)),
    ("Linear", (1, 4096)),
    ("ReLU", (1, 4096)),
    ("Dropout", (1, 4096)),
    ("Linear", (1, 4096)),
    ("ReLU", (1, 4096)),
    ("Dropout", (1, 4096)),
    ("Linear", (1, 10)),
]


def test_seed_001_d2l_alexnet_printed_shapes():
    s = _summary("alexnet-d2l")
    assert s.layers[0].kind == "Conv2d"
    assert s.layers[0].output_shape == (1, 96, 54, 54)
    assert [(r.kind, r.output_shape) for r in s.layers[1:]] == SEED_001_PRINTED


def test_seed_001_conv1_and_fc1_input():
    s = _summary("alexnet-d2l")
    # seed 001: "(224-11 + 2 + 1)/4 = 54" -- really floor((224 - 11 + 2*1) / 4) + 1 = floor(53.75) + 1 = 54.
    text = s.explain("0")
    assert "floor((224 - 11 + 2*1) / 4) + 1 = 54" in text
    assert "215/4 = 53.75, floored to 53" in text
    # seed 001: "256 * 5 * 5 = 6400" inputs to the first Linear.
    assert s.layer("14").input_shapes[0] == (1, 6400)
    assert s.totals.params == 46_764_746


# --- seed 002: VGG16's parameters (Stack Overflow answer + CS231n) ----------------------------

VGG16_STAGES = [38_720, 221_440, 1_475_328, 5_899_776, 7_079_424]  # seed 002, "UPDATE: the breakdown"


def _vgg16_stage_params(s) -> list[int]:
    stages, current = [], 0
    for r in s.layers:
        if r.name.startswith("features."):
            current += r.params
            if r.kind == "MaxPool2d":
                stages.append(current)
                current = 0
    return stages


def test_seed_002_vgg16_breakdown_per_stage():
    s = _summary("vgg16")
    assert _vgg16_stage_params(s) == VGG16_STAGES
    fc = [s.layer(f"classifier.{i}").params for i in (0, 3, 6)]
    assert fc == [102_764_544, 16_781_312, 4_097_000]  # seed 002: fc1, fc2, fc3
    assert s.totals.params == 138_357_544  # seed 002: "TOTAL : 138,357,544"
    # fc1 (x): (512x7x7)x4,096 (weights) + 4,096 (biases)
    assert s.layer("classifier.0").weights == 512 * 7 * 7 * 4096


def test_seed_002_vgg16_without_biases():
    # Answer 3 says a conv layer "should not have bias"; VGG16 has them. Without any biases
    # (conv or FC) the count would be 138,344,128, which is not the 138M the paper reports.
    s = _summary("vgg16")
    weights = sum(r.weights for r in s.layers)
    biases = sum(r.biases for r in s.layers)
    assert weights == 138_344_128
    assert weights + biases == 138_357_544
    # seed 002's stage 3: "128x3x3x256 (weights) + 256 (biases) = 295,168" then 590,080 twice.
    assert [s.layer(f"features.{i}").params for i in (10, 12, 14)] == [295_168, 590_080, 590_080]


# CS231n's table in seed 002: every CONV/POOL/FC output's elements ("memory") and weights.
CS231N_WEIGHTS = [
    1_728, 36_864, 73_728, 147_456, 294_912, 589_824, 589_824,
    1_179_648, 2_359_296, 2_359_296, 2_359_296, 2_359_296, 2_359_296,
    102_760_448, 16_777_216, 4_096_000,
]  # fmt: skip


def test_seed_002_cs231n_weights_per_layer():
    s = _summary("vgg16")
    assert [r.weights for r in s.layers if r.kind in ("Conv2d", "Linear")] == CS231N_WEIGHTS


def test_seed_002_cs231n_activations_sum_to_15_2m_not_24m():
    s = _summary("vgg16")
    listed = [r for r in s.layers if r.kind in ("Conv2d", "MaxPool2d", "Linear")]
    assert len(listed) == 13 + 5 + 3  # the table's CONV3, POOL2 and FC rows
    values = 3 * 224 * 224 + sum(r.activation_elements for r in listed)  # + INPUT
    assert values == 15_237_608
    mib = values * 4 / 2**20
    assert 58 < mib < 58.2  # about 58 MiB per image in fp32...
    assert values < 24_000_000 * 0.7  # ...while its "TOTAL memory: 24M * 4 bytes ~= 93MB" is far off


# --- seed 003: grouped AlexNet (weights only), AlexNet at 224, FC to conv ----------------------

SEED_003_WEIGHTS = {
    "conv1": 34_848,  # C1: 96x11x11x3
    "conv2": 307_200,  # C2: 256x5x5x48 (groups=2: 96/2 = 48 input channels per filter)
    "conv3": 884_736,  # C3: 384x3x3x256
    "conv4": 663_552,  # C4: 384x3x3x192
    "conv5": 442_368,  # C5: 256x3x3x192
    "fc1": 37_748_736,  # R1: 4096x6x6x256
    "fc2": 16_777_216,  # R2: 4096x4096
    "fc3": 4_096_000,  # R3: 4096x1000
}


def test_seed_003_grouped_alexnet_weights():
    s = _summary("alexnet-grouped")
    assert {k: s.layer(k).weights for k in SEED_003_WEIGHTS} == SEED_003_WEIGHTS
    weights = sum(r.weights for r in s.layers)
    assert weights == sum(SEED_003_WEIGHTS.values()) == 60_954_656  # seed 003: "共6000万个参数" (weights only)
    assert s.totals.params == weights + 10_568 == 60_965_224  # with the biases it omits
    # seed 003: "6000万 x 32位 = 19.2亿位 ≈ 228.88MB" is 60,000,000 rounded; the real weights:
    assert s.weights_bytes("float32") == 243_860_896  # 232.6 MiB


def test_seed_003_alexnet_at_224_does_not_divide():
    # The paper's 224x224 input: (224 - 11)/4 + 1 = 54.25, so the conv-1 output is floored to 54
    # (PyTorch's floor rule) -- the reason seed 000 says 227 is the real input size.
    net = zoo.get("alexnet").build(input_shape=(3, 224, 224))
    convs = Network(net.name, net.inputs, net.nodes[:13])  # conv1 .. pool3
    s = analyze(convs)
    assert s.layer("conv1").output_shape == (1, 96, 54, 54)
    assert "not exact: 213/4 = 53.25, floored to 53" in s.explain("conv1")
    # 54 -> 26 -> 12 -> 5: the last map is 5x5x256 = 6,400 values, and FC-1 expects 9,216 (6x6x256).
    assert s.layer("pool3").output_shape == (1, 256, 5, 5)
    with pytest.raises(NetsizeError, match=r"fc1 \(Linear.*expects 9,216 input features but receives 6,400"):
        analyze(net)


def test_seed_003_fc_to_conv_gives_6x6x1000_at_384():
    # seed 003 (CS231n): at 384x384 the last pool gives 12x12x512, the 7x7 conv (12 - 7)/1 + 1 = 6.
    s = _summary("vgg16-fcn")
    assert s.layer("features.30").output_shape == (1, 512, 12, 12)
    assert s.layer("classifier.0").kind == "Conv2d"
    assert s.layer("classifier.0").output_shape == (1, 4096, 6, 6)
    assert s.output_shapes[0] == (1, 1000, 6, 6)
    assert s.totals.params == 138_357_544  # same weights as VGG16


def test_seed_003_fc_to_conv_at_224_gives_1x1x1000():
    # seed 003: F=7 conv -> [1x1x4096], F=1 -> [1x1x4096], F=1 -> [1x1x1000].
    s = _summary("vgg16-fcn", input_shape=(3, 224, 224))
    assert [s.layer(f"classifier.{i}").output_shape for i in (0, 3, 6)] == [
        (1, 4096, 1, 1),
        (1, 4096, 1, 1),
        (1, 1000, 1, 1),
    ]


def test_seed_003_alexnet_fc_to_conv():
    # seed 003's R1 "4096x6x6x256" is the FC-1 read as a 6x6 convolution.
    net = fc_to_conv(zoo.get("alexnet").build())
    s = analyze(net)
    assert s.layer("fc1").kind == "Conv2d"
    assert s.layer("fc1").weights == 4096 * 6 * 6 * 256
    assert s.output_shapes[0] == (1, 1000, 1, 1)


# --- seed 004: the Keras example and U-Net ----------------------------------------------------


def test_seed_004_keras_summary():
    # seed 004's model.summary(): conv2d 208, max_pooling2d 0, dense 2,261; total 2,469.
    s = _summary("keras-example")
    rows = [(r.name, r.output_shape, r.params) for r in s.layers]
    assert rows == [
        ("conv2d", (1, 223, 223, 16), 208),
        ("max_pooling2d", (1, 111, 111, 16), 0),
        ("dense", (1, 111, 111, 133), 2_261),
    ]
    assert s.layer("conv2d").weights == 2 * 2 * 3 * 16 == 192  # "16 x 12 = 192"
    assert s.totals.params == 2_469
    assert s.totals.trainable_params == 2_469


U_NET_STAGES = [37_346, 166_144, 664_064, 2_655_232, 3_539_968]  # seed 004, stages 1-5


def _stage_params(s, kinds=("Conv2d",)) -> list[int]:
    rows = {r.name: r for r in s.rows(depth=1)}
    out = []
    for k in range(1, 6):
        blocks = [f"enc{k}", f"dec{k}"] if k < 5 else ["enc5"]
        total = 0
        for b in blocks:
            total += sum(r.params for r in s.layers if r.name.startswith(b + ".") and r.kind in kinds)
        if k == 1:
            total += rows["out"].params
        out.append(total)
    return out


def test_seed_004_unet_stage_sums():
    s = _summary("unet-half")
    assert _stage_params(s) == U_NET_STAGES
    ups = [s.layer(f"up{k}") for k in (4, 3, 2, 1)]
    assert sum(r.params for r in ups) == 696_800
    # The formula uses 2^2 (2x2 up-convolutions) although the text says "3×3 的 up-conv".
    assert [r.weights for r in ups] == [2 * 2 * 512 * 256, 2 * 2 * 256 * 128, 2 * 2 * 128 * 64, 2 * 2 * 64 * 32]
    assert s.totals.params == sum(U_NET_STAGES) + 696_800 == 7_759_554


def test_seed_004_unet_batchnorm():
    s = _summary("unet-half-bn")
    assert _stage_params(s) == U_NET_STAGES
    bn = sum(r.params for r in s.layers if r.kind == "BatchNorm2d")
    assert bn == 5_888  # seed 004: 2 x (32x4 + 64x4 + 128x4 + 256x4 + 512x2)
    assert s.totals.params == 7_765_442
    # Under the Keras convention the moving mean/variance would add 5,888 non-trainable params.
    k = analyze(zoo.get("unet-half-bn").build(), convention="keras")
    assert k.totals.trainable_params == 7_765_442
    assert k.totals.non_trainable_params == 5_888


def test_unet_original_shapes():
    # Ronneberger et al. 2015, fig. 1: 572x572 -> 570 -> 568, ..., bottom 28x28x1024 ... 388x388x2.
    s = _summary("unet")
    assert s.layer("enc1.relu2").output_shape == (1, 64, 568, 568)
    assert s.layer("enc5.relu2").output_shape == (1, 1024, 28, 28)
    assert s.layer("crop4").output_shape == (1, 512, 56, 56)  # 64x64 cropped to the up-conv's 56x56
    assert s.layer("crop1").output_shape == (1, 64, 392, 392)  # 568 -> 392
    assert s.output_shapes[0] == (1, 2, 388, 388)
