"""ResNet-18/34/50/101/152 as torchvision builds them (v1.5: a bottleneck's stride sits on its 3x3 conv)."""

from __future__ import annotations

from collections.abc import Callable

from netsize import layers
from netsize._network import Graph, Network
from netsize._shape import Shape
from netsize.zoo._entry import ZooEntry, register

# (block, blocks per stage): He et al. 2016, table 1.
DEPTHS: dict[int, tuple[str, tuple[int, int, int, int]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}


def _conv(out: int, kernel: int, stride: int = 1) -> layers.Conv2d:
    return layers.Conv2d(
        in_channels=None, out_channels=out, kernel_size=kernel, stride=stride, padding=kernel // 2, bias=False
    )


def _block(g: Graph, p: str, kind: str, inplanes: int, planes: int, stride: int) -> int:
    """One residual block under prefix ``p`` (``layer2.0``); returns its output channels."""
    x = g.last
    expansion = 1 if kind == "basic" else 4
    out = planes * expansion
    if kind == "basic":
        g.add(f"{p}.conv1", _conv(planes, 3, stride))
        g.add(f"{p}.bn1", layers.BatchNorm2d(planes))
        g.add(f"{p}.relu", layers.ReLU())
        g.add(f"{p}.conv2", _conv(planes, 3))
        g.add(f"{p}.bn2", layers.BatchNorm2d(planes))
        relus = 2
    else:
        g.add(f"{p}.conv1", _conv(planes, 1))
        g.add(f"{p}.bn1", layers.BatchNorm2d(planes))
        g.add(f"{p}.relu", layers.ReLU())
        g.add(f"{p}.conv2", _conv(planes, 3, stride))
        g.add(f"{p}.bn2", layers.BatchNorm2d(planes))
        g.add(f"{p}.relu@2", layers.ReLU())
        g.add(f"{p}.conv3", _conv(out, 1))
        g.add(f"{p}.bn3", layers.BatchNorm2d(out))
        relus = 3
    residual = g.last
    identity = x
    if stride != 1 or inplanes != out:
        g.add(f"{p}.downsample.0", _conv(out, 1, stride), inputs=x)
        identity = g.add(f"{p}.downsample.1", layers.BatchNorm2d(out))
    g.add(f"{p}.add", layers.Add(), inputs=[residual, identity])
    g.add(f"{p}.relu@{relus}", layers.ReLU())
    return out


def resnet(depth: int, input_shape: Shape, num_classes: int = 1000) -> Network:
    """torchvision's ResNet: ``conv1``, ``bn1``, ``relu``, ``maxpool``, ``layer1..4.N.*``,
    ``avgpool``, ``flatten``, ``fc``."""
    kind, blocks = DEPTHS[depth]
    g = Graph(f"resnet{depth}", input_shape=input_shape)
    g.add("conv1", _conv(64, 7, 2))
    g.add("bn1", layers.BatchNorm2d(64))
    g.add("relu", layers.ReLU())
    g.add("maxpool", layers.MaxPool2d(kernel_size=3, stride=2, padding=1))
    channels = 64
    for stage, (planes, n) in enumerate(zip((64, 128, 256, 512), blocks, strict=True), 1):
        for i in range(n):
            stride = 2 if stage > 1 and i == 0 else 1
            channels = _block(g, f"layer{stage}.{i}", kind, channels, planes, stride)
    g.add("avgpool", layers.AdaptiveAvgPool2d(1))
    g.add("flatten", layers.Flatten())
    g.add("fc", layers.Linear(in_features=channels, out_features=num_classes))
    return g.build()


def _builder(depth: int) -> Callable[..., Network]:
    def build(input_shape: Shape, num_classes: int = 1000) -> Network:
        return resnet(depth, input_shape, num_classes)

    return build


for _depth, (_kind, _blocks) in DEPTHS.items():
    register(
        ZooEntry(
            f"resnet{_depth}",
            f"ResNet-{_depth} ({_kind} blocks {'-'.join(map(str, _blocks))}) as torchvision builds it (v1.5)",
            f"torchvision.models.resnet{_depth}; He, Zhang, Ren, Sun 2016, 'Deep Residual Learning', "
            "arXiv:1512.03385, table 1",
            (3, 224, 224),
            _builder(_depth),
        )
    )
