"""A small Keras model of the kind parameter-counting tutorials use: channels-last, Dense acting on the last axis."""

from __future__ import annotations

from netsize import layers
from netsize._network import Graph, Network
from netsize._shape import CHANNELS_LAST, Shape
from netsize.zoo._entry import ZooEntry, register


def keras_example(input_shape: Shape, units: int = 133) -> Network:
    """``Conv2D(16, (2, 2))``, ``MaxPooling2D((2, 2))``, ``Dense(133)``, named as Keras names them.

    No ``Flatten``: Keras' ``Dense`` acts on the last axis, so the output is 111x111x133 and the
    Dense layer has only ``16*133 + 133`` params.
    """
    g = Graph("keras-example", input_shape=input_shape, layout=CHANNELS_LAST)
    g.add("conv2d", layers.Conv2d(in_channels=None, out_channels=16, kernel_size=2))
    g.add("max_pooling2d", layers.MaxPool2d(kernel_size=2))
    g.add("dense", layers.Linear(in_features=None, out_features=units))
    return g.build()


register(
    ZooEntry(
        "keras-example",
        "Keras Sequential: Conv2D(16, 2x2) -> MaxPooling2D(2) -> Dense(133) on 224x224x3 (channels-last)",
        "Keras model.summary() of this model: 208 + 0 + 2,261 = 2,469 params",
        (224, 224, 3),
        keras_example,
        layout=CHANNELS_LAST,
        convention="keras",
    )
)
