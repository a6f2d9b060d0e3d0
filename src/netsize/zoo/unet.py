"""U-Net: the original (unpadded convs, cropped skips) and the half-width variant parameter-counting tutorials use."""

from __future__ import annotations

from netsize import layers
from netsize._network import Graph, Network
from netsize._shape import Shape
from netsize.zoo._entry import ZooEntry, register


def unet(
    input_shape: Shape,
    num_classes: int = 2,
    base_channels: int = 64,
    padded: bool = False,
    batch_norm: bool = False,
    name: str = "unet",
) -> Network:
    """Five stages of two 3x3 convs (+ BatchNorm) + ReLU, channels ``base * 2**k``.

    Nodes: ``enc1..enc5.{conv1,bn1,relu1,conv2,bn2,relu2}`` (``enc5`` is the bottom),
    ``pool1..4`` (2x2 max-pool), ``up4..1`` (2x2 up-convolution, stride 2, halving the
    channels), ``crop4..1`` (unpadded only: the encoder map cropped to the up-convolved one),
    ``cat4..1`` (skip first, then the up-convolved map), ``dec4..1.*``, ``out`` (1x1 conv to
    the classes). A tutorial's stage k is ``enc{k}`` + ``dec{k}`` (+ ``out`` for k=1).
    """
    g = Graph(name, input_shape=input_shape)
    pad = 1 if padded else 0

    def double_conv(p: str, out: int) -> str:
        for i in (1, 2):
            g.add(f"{p}.conv{i}", layers.Conv2d(in_channels=None, out_channels=out, kernel_size=3, padding=pad))
            if batch_norm:
                g.add(f"{p}.bn{i}", layers.BatchNorm2d(out))
            g.add(f"{p}.relu{i}", layers.ReLU())
        return g.last

    skips: dict[int, str] = {}
    for k in range(1, 5):
        skips[k] = double_conv(f"enc{k}", base_channels * 2 ** (k - 1))
        g.add(f"pool{k}", layers.MaxPool2d(kernel_size=2, stride=2))
    double_conv("enc5", base_channels * 16)
    for k in range(4, 0, -1):
        up = g.add(
            f"up{k}",
            layers.ConvTranspose2d(
                in_channels=None, out_channels=base_channels * 2 ** (k - 1), kernel_size=2, stride=2
            ),
        )
        skip = skips[k]
        if not padded:
            skip = g.add(f"crop{k}", layers.CenterCrop(), inputs=[skip, up])
        g.add(f"cat{k}", layers.Concat(dim=1), inputs=[skip, up])
        double_conv(f"dec{k}", base_channels * 2 ** (k - 1))
    g.add("out", layers.Conv2d(in_channels=None, out_channels=num_classes, kernel_size=1))
    return g.build()


def unet_original(input_shape: Shape, num_classes: int = 2) -> Network:
    return unet(input_shape, num_classes, 64, padded=False, batch_norm=False, name="unet")


def unet_half(input_shape: Shape, num_classes: int = 2) -> Network:
    return unet(input_shape, num_classes, 32, padded=True, batch_norm=False, name="unet-half")


def unet_half_bn(input_shape: Shape, num_classes: int = 2) -> Network:
    return unet(input_shape, num_classes, 32, padded=True, batch_norm=True, name="unet-half-bn")


_PAPER = "Ronneberger, Fischer, Brox 2015, 'U-Net: Convolutional Networks for Biomedical Image Segmentation', "
register(
    ZooEntry(
        "unet",
        "The original U-Net: 64-1024 channels, unpadded 3x3 convs, 2x2 up-convs, center-cropped skips, 2 classes",
        _PAPER + "arXiv:1505.04597, fig. 1 (572x572 in, 388x388x2 out)",
        (1, 572, 572),
        unet_original,
    )
)
register(
    ZooEntry(
        "unet-half",
        "U-Net at half width (32-512 channels), padded 3x3 convs, 2x2 up-convs, 2 classes",
        "the half-width U-Net parameter-counting tutorials tabulate (7,759,554 params); " + _PAPER.rstrip(", "),
        (1, 256, 256),
        unet_half,
    )
)
register(
    ZooEntry(
        "unet-half-bn",
        "unet-half with BatchNorm after every 3x3 conv",
        "the same tutorials' U-Net with BatchNorm (7,765,442 params); " + _PAPER.rstrip(", "),
        (1, 256, 256),
        unet_half_bn,
    )
)
