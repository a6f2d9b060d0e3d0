"""VGG (configurations A, B, D, E, with and without batch norm) as torchvision builds them,
and VGG16 with its classifier turned into convolutions (fully convolutional)."""

from __future__ import annotations

from collections.abc import Callable

from netsize import layers
from netsize._network import Graph, Network
from netsize._shape import Shape
from netsize.transforms import fc_to_conv
from netsize.zoo._entry import ZooEntry, register

# Simonyan & Zisserman 2015, table 1 (torchvision's cfgs "A", "B", "D", "E"); "M" = 2x2 max-pool.
CONFIGS: dict[str, tuple[int | str, ...]] = {
    "vgg11": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg13": (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    "vgg19": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
}


def vgg(
    config: str,
    batch_norm: bool,
    input_shape: Shape,
    num_classes: int = 1000,
    avgpool: bool = True,
) -> Network:
    """torchvision's VGG: ``features.N``, ``avgpool`` (AdaptiveAvgPool2d(7)), ``flatten``,
    ``classifier.N``. ``avgpool=False`` drops the adaptive pool (the classifier then needs a
    7x7 map, i.e. a 224x224 input)."""
    name = config + ("_bn" if batch_norm else "")
    g = Graph(name, input_shape=input_shape)
    i = 0
    for v in CONFIGS[config]:
        if v == "M":
            g.add(f"features.{i}", layers.MaxPool2d(kernel_size=2, stride=2))
            i += 1
            continue
        assert isinstance(v, int)
        g.add(f"features.{i}", layers.Conv2d(in_channels=None, out_channels=v, kernel_size=3, padding=1))
        i += 1
        if batch_norm:
            g.add(f"features.{i}", layers.BatchNorm2d(v))
            i += 1
        g.add(f"features.{i}", layers.ReLU())
        i += 1
    if avgpool:
        g.add("avgpool", layers.AdaptiveAvgPool2d(7))
    g.add("flatten", layers.Flatten())
    for j, layer in enumerate(
        [
            layers.Linear(in_features=512 * 7 * 7, out_features=4096),
            layers.ReLU(),
            layers.Dropout(0.5),
            layers.Linear(in_features=4096, out_features=4096),
            layers.ReLU(),
            layers.Dropout(0.5),
            layers.Linear(in_features=4096, out_features=num_classes),
        ]
    ):
        g.add(f"classifier.{j}", layer)
    return g.build()


def vgg16_fcn(input_shape: Shape, num_classes: int = 1000) -> Network:
    """VGG16 tested densely (paper, section 3.2): fc6 becomes a 7x7 conv, fc7 and fc8 1x1
    convs, so any input of at least 224x224 gives a map of class scores (384 -> 6x6)."""
    net = vgg("vgg16", False, (3, 224, 224), num_classes, avgpool=False)
    out = fc_to_conv(net, input_shape=input_shape)
    out.name = "vgg16-fcn"
    return out


def _builder(config: str, batch_norm: bool) -> Callable[..., Network]:
    def build(input_shape: Shape, num_classes: int = 1000) -> Network:
        return vgg(config, batch_norm, input_shape, num_classes)

    return build


_PAPER = "Simonyan & Zisserman 2015, 'Very Deep Convolutional Networks', arXiv:1409.1556"
_LETTER = {"vgg11": "A", "vgg13": "B", "vgg16": "D", "vgg19": "E"}
for _config in CONFIGS:
    _depth = _config[3:]
    register(
        ZooEntry(
            _config,
            f"VGG-{_depth} (configuration {_LETTER[_config]}) as torchvision builds it: 3x3 convs, "
            "adaptive avg-pool 7x7, 3 FC with dropout",
            f"torchvision.models.{_config}; {_PAPER}, table 1",
            (3, 224, 224),
            _builder(_config, False),
        )
    )
    register(
        ZooEntry(
            f"{_config}_bn",
            f"VGG-{_depth} with BatchNorm after every conv, as torchvision builds it",
            f"torchvision.models.{_config}_bn; {_PAPER}",
            (3, 224, 224),
            _builder(_config, True),
        )
    )

register(
    ZooEntry(
        "vgg16-fcn",
        "VGG16 with fc6/fc7/fc8 as 7x7 and 1x1 convs (no adaptive pool): 384x384 in, 1000x6x6 class scores out",
        "as CS231n's notes convert it ('Converting FC layers to CONV layers', "
        f"https://cs231n.github.io/convolutional-networks/); {_PAPER}, section 3.2",
        (3, 384, 384),
        vgg16_fcn,
    )
)
