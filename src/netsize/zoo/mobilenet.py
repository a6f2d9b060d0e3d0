"""MobileNetV2 as torchvision builds it."""

from __future__ import annotations

from netsize import layers
from netsize._network import Graph, Network
from netsize._shape import Shape
from netsize.zoo._entry import ZooEntry, register

# (expansion t, channels c, repeats n, first stride s): Sandler et al. 2018, table 2.
SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def _conv_bn_relu6(g: Graph, p: str, out: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> None:
    """torchvision's Conv2dNormActivation: ``p.0`` conv, ``p.1`` BatchNorm, ``p.2`` ReLU6."""
    conv = layers.Conv2d(
        in_channels=None,
        out_channels=out,
        kernel_size=kernel,
        stride=stride,
        padding=(kernel - 1) // 2,
        groups=groups,
        bias=False,
    )
    g.add(f"{p}.0", conv)
    g.add(f"{p}.1", layers.BatchNorm2d(out))
    g.add(f"{p}.2", layers.ReLU6())


def mobilenet_v2(input_shape: Shape, num_classes: int = 1000) -> Network:
    """``features.0`` stem, ``features.1..17`` inverted residuals (``.conv.*``, ``.add`` where
    the residual applies), ``features.18`` 1x1 to 1280, ``avgpool`` (functional in torchvision),
    ``flatten``, ``classifier.0`` Dropout(0.2), ``classifier.1`` Linear."""
    g = Graph("mobilenet_v2", input_shape=input_shape)
    channels = 32
    _conv_bn_relu6(g, "features.0", channels, stride=2)
    index = 1
    for t, c, n, s in SETTINGS:
        for i in range(n):
            stride = s if i == 0 else 1
            x = g.last
            p = f"features.{index}.conv"
            hidden = channels * t
            k = 0
            if t != 1:
                _conv_bn_relu6(g, f"{p}.0", hidden, kernel=1)
                k = 1
            _conv_bn_relu6(g, f"{p}.{k}", hidden, stride=stride, groups=hidden)
            g.add(f"{p}.{k + 1}", layers.Conv2d(in_channels=hidden, out_channels=c, kernel_size=1, bias=False))
            g.add(f"{p}.{k + 2}", layers.BatchNorm2d(c))
            if stride == 1 and channels == c:
                g.add(f"features.{index}.add", layers.Add(), inputs=[x, g.last])
            channels = c
            index += 1
    _conv_bn_relu6(g, f"features.{index}", 1280, kernel=1)
    g.add("avgpool", layers.AdaptiveAvgPool2d(1))
    g.add("flatten", layers.Flatten())
    g.add("classifier.0", layers.Dropout(0.2))
    g.add("classifier.1", layers.Linear(in_features=1280, out_features=num_classes))
    return g.build()


register(
    ZooEntry(
        "mobilenet_v2",
        "MobileNetV2 (width 1.0) as torchvision builds it: inverted residuals with depthwise 3x3 convs, ReLU6",
        "torchvision.models.mobilenet_v2; Sandler et al. 2018, 'MobileNetV2: Inverted Residuals and Linear "
        "Bottlenecks', arXiv:1801.04381, table 2",
        (3, 224, 224),
        mobilenet_v2,
    )
)
