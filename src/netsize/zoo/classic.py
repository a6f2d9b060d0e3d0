"""LeNet-5 and the AlexNet variants of the paper, of the tutorials that tabulate it, and of torchvision."""

from __future__ import annotations

from netsize import layers
from netsize._network import Graph, Network
from netsize._shape import Shape
from netsize.zoo._common import chain
from netsize.zoo._entry import ZooEntry, register


def lenet5(input_shape: Shape, num_classes: int = 10) -> Network:
    """d2l's LeNet: an ``nn.Sequential`` of 12 modules named ``0``..``11``."""
    g = Graph("lenet5", input_shape=input_shape)
    chain(
        g,
        "",
        [
            layers.Conv2d(in_channels=None, out_channels=6, kernel_size=5, padding=2),
            layers.Sigmoid(),
            layers.AvgPool2d(kernel_size=2, stride=2),
            layers.Conv2d(in_channels=None, out_channels=16, kernel_size=5),
            layers.Sigmoid(),
            layers.AvgPool2d(kernel_size=2, stride=2),
            layers.Flatten(),
            layers.Linear(in_features=16 * 5 * 5, out_features=120),
            layers.Sigmoid(),
            layers.Linear(in_features=120, out_features=84),
            layers.Sigmoid(),
            layers.Linear(in_features=84, out_features=num_classes),
        ],
    )
    return g.build()


def _alexnet_paper(name: str, input_shape: Shape, num_classes: int, groups: int) -> Network:
    """AlexNet as the tutorials tabulate it (96-256-384-384-256, 227x227 input, no LRN).

    ``groups=2`` splits conv-2, conv-4 and conv-5 across the paper's two GPUs.
    """
    g = Graph(name, input_shape=input_shape)
    g.add("conv1", layers.Conv2d(in_channels=None, out_channels=96, kernel_size=11, stride=4))
    g.add("relu1", layers.ReLU())
    g.add("pool1", layers.MaxPool2d(kernel_size=3, stride=2))
    g.add("conv2", layers.Conv2d(in_channels=96, out_channels=256, kernel_size=5, padding=2, groups=groups))
    g.add("relu2", layers.ReLU())
    g.add("pool2", layers.MaxPool2d(kernel_size=3, stride=2))
    g.add("conv3", layers.Conv2d(in_channels=256, out_channels=384, kernel_size=3, padding=1))
    g.add("relu3", layers.ReLU())
    g.add("conv4", layers.Conv2d(in_channels=384, out_channels=384, kernel_size=3, padding=1, groups=groups))
    g.add("relu4", layers.ReLU())
    g.add("conv5", layers.Conv2d(in_channels=384, out_channels=256, kernel_size=3, padding=1, groups=groups))
    g.add("relu5", layers.ReLU())
    g.add("pool3", layers.MaxPool2d(kernel_size=3, stride=2))
    g.add("flatten", layers.Flatten())
    g.add("fc1", layers.Linear(in_features=256 * 6 * 6, out_features=4096))
    g.add("relu6", layers.ReLU())
    g.add("dropout1", layers.Dropout(0.5))
    g.add("fc2", layers.Linear(in_features=4096, out_features=4096))
    g.add("relu7", layers.ReLU())
    g.add("dropout2", layers.Dropout(0.5))
    g.add("fc3", layers.Linear(in_features=4096, out_features=num_classes))
    return g.build()


def alexnet(input_shape: Shape, num_classes: int = 1000) -> Network:
    return _alexnet_paper("alexnet", input_shape, num_classes, groups=1)


def alexnet_grouped(input_shape: Shape, num_classes: int = 1000) -> Network:
    return _alexnet_paper("alexnet-grouped", input_shape, num_classes, groups=2)


def alexnet_d2l(input_shape: Shape, num_classes: int = 10) -> Network:
    """d2l's AlexNet for Fashion-MNIST: an ``nn.Sequential`` of 21 modules named ``0``..``20``."""
    g = Graph("alexnet-d2l", input_shape=input_shape)
    chain(
        g,
        "",
        [
            layers.Conv2d(in_channels=None, out_channels=96, kernel_size=11, stride=4, padding=1),
            layers.ReLU(),
            layers.MaxPool2d(kernel_size=3, stride=2),
            layers.Conv2d(in_channels=96, out_channels=256, kernel_size=5, padding=2),
            layers.ReLU(),
            layers.MaxPool2d(kernel_size=3, stride=2),
            layers.Conv2d(in_channels=256, out_channels=384, kernel_size=3, padding=1),
            layers.ReLU(),
            layers.Conv2d(in_channels=384, out_channels=384, kernel_size=3, padding=1),
            layers.ReLU(),
            layers.Conv2d(in_channels=384, out_channels=256, kernel_size=3, padding=1),
            layers.ReLU(),
            layers.MaxPool2d(kernel_size=3, stride=2),
            layers.Flatten(),
            layers.Linear(in_features=256 * 5 * 5, out_features=4096),
            layers.ReLU(),
            layers.Dropout(0.5),
            layers.Linear(in_features=4096, out_features=4096),
            layers.ReLU(),
            layers.Dropout(0.5),
            layers.Linear(in_features=4096, out_features=num_classes),
        ],
    )
    return g.build()


def alexnet_torchvision(input_shape: Shape, num_classes: int = 1000) -> Network:
    """torchvision's AlexNet (64-192-384-256-256, from "One weird trick"), module names kept."""
    g = Graph("alexnet-torchvision", input_shape=input_shape)
    chain(
        g,
        "features",
        [
            layers.Conv2d(in_channels=None, out_channels=64, kernel_size=11, stride=4, padding=2),
            layers.ReLU(),
            layers.MaxPool2d(kernel_size=3, stride=2),
            layers.Conv2d(in_channels=64, out_channels=192, kernel_size=5, padding=2),
            layers.ReLU(),
            layers.MaxPool2d(kernel_size=3, stride=2),
            layers.Conv2d(in_channels=192, out_channels=384, kernel_size=3, padding=1),
            layers.ReLU(),
            layers.Conv2d(in_channels=384, out_channels=256, kernel_size=3, padding=1),
            layers.ReLU(),
            layers.Conv2d(in_channels=256, out_channels=256, kernel_size=3, padding=1),
            layers.ReLU(),
            layers.MaxPool2d(kernel_size=3, stride=2),
        ],
    )
    g.add("avgpool", layers.AdaptiveAvgPool2d(6))
    g.add("flatten", layers.Flatten())
    chain(
        g,
        "classifier",
        [
            layers.Dropout(0.5),
            layers.Linear(in_features=256 * 6 * 6, out_features=4096),
            layers.ReLU(),
            layers.Dropout(0.5),
            layers.Linear(in_features=4096, out_features=4096),
            layers.ReLU(),
            layers.Linear(in_features=4096, out_features=num_classes),
        ],
    )
    return g.build()


register(
    ZooEntry(
        "lenet5",
        "LeNet-5 as in d2l: 2 conv (6, 16 @ 5x5) + sigmoid + avg-pool, 3 fully connected (120, 84, 10)",
        "Dive into Deep Learning, section 7.6 'Convolutional Neural Networks (LeNet)', https://d2l.ai",
        (1, 28, 28),
        lenet5,
    )
)
register(
    ZooEntry(
        "alexnet",
        "AlexNet as LearnOpenCV's article tabulates it: 5 conv (96-256-384-384-256), 3 FC, 227x227 input, no groups",
        "LearnOpenCV, 'Number of Parameters and Tensor Sizes in a Convolutional Neural Network' (62,378,344 params); "
        "Krizhevsky, Sutskever, Hinton 2012",
        (3, 227, 227),
        alexnet,
    )
)
register(
    ZooEntry(
        "alexnet-grouped",
        "AlexNet with the paper's two-GPU split: conv-2, conv-4, conv-5 with groups=2",
        "Krizhevsky, Sutskever, Hinton 2012, fig. 2 (C2 256x5x5x48, C4 384x3x3x192, C5 256x3x3x192 per GPU pair)",
        (3, 227, 227),
        alexnet_grouped,
    )
)
register(
    ZooEntry(
        "alexnet-d2l",
        "d2l's AlexNet for Fashion-MNIST: 1x224x224 input, conv-1 padding 1, dropout, 10 classes",
        "Dive into Deep Learning, section 8.1 'Deep Convolutional Neural Networks (AlexNet)', https://d2l.ai",
        (1, 224, 224),
        alexnet_d2l,
    )
)
register(
    ZooEntry(
        "alexnet-torchvision",
        "torchvision.models.alexnet: 5 conv (64-192-384-256-256), adaptive avg-pool 6x6, 3 FC with dropout",
        "torchvision.models.alexnet (Krizhevsky 2014, 'One weird trick for parallelizing CNNs')",
        (3, 224, 224),
        alexnet_torchvision,
    )
)
