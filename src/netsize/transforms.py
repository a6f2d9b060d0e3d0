"""Rewrites of a network that keep its parameters: the same weights, another shape of computation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from netsize import layers
from netsize._analyze import analyze
from netsize._errors import NetsizeError
from netsize._network import Network, Node
from netsize._shape import CHANNELS_LAST, shape_str
from netsize._summary import Summary

__all__ = ["fc_to_conv"]


def fc_to_conv(network: Network, input_shape: Sequence[int] | None = None) -> Network:
    """The network with its fully connected head turned into convolutions (fully convolutional).

    A ``Linear`` fed by a ``Flatten`` of a ``C x H x W`` map becomes a ``Conv2d`` with an
    ``H x W`` kernel on that map (the ``Flatten`` is dropped); every ``Linear`` after it becomes
    a 1x1 ``Conv2d``. Layers between them that keep the spatial grid (ReLU, Dropout) stay.
    Weights and biases are unchanged, node names too. The sizes are read from ``network`` at
    its own input shape; ``input_shape`` (per sample) then feeds the result a larger input,
    which yields a map of outputs (VGG16 at 384x384: 1000x6x6).

    CS231n, "Converting FC layers to CONV layers"; Simonyan & Zisserman 2015, section 3.2.
    """
    summary = analyze(network)
    ins = {r.name: r.input_shapes for r in summary.layers}
    consumers: dict[str, list[Node]] = {}
    for node in network.nodes:
        for ref in node.inputs:
            consumers.setdefault(ref.split(":")[0], []).append(node)

    dropped: dict[str, str] = {}  # Flatten node -> the ref it flattened
    maps: set[str] = set()  # nodes whose output is now a map instead of a vector
    nodes: list[Node] = []
    for node in network.nodes:
        layer = node.layer
        refs = tuple(dropped.get(r, r) for r in node.inputs)
        bases = [r.split(":")[0] for r in node.inputs]
        if (
            isinstance(layer, layers.Flatten)
            and len(ins[node.name][0]) == 4
            and layer.start_dim == 1
            and layer.end_dim in (-1, 3)
            and consumers.get(node.name)
            and all(isinstance(c.layer, layers.Linear) for c in consumers[node.name])
        ):
            dropped[node.name] = node.inputs[0]
            continue
        if isinstance(layer, layers.Linear) and bases[0] in dropped:
            c, h, w = _map_shape(summary, dropped[bases[0]], network)
            conv = layers.Conv2d(in_channels=c, out_channels=layer.out_features, kernel_size=(h, w), bias=layer.bias)
            nodes.append(replace(node, layer=conv, inputs=refs))
            maps.add(node.name)
            continue
        if isinstance(layer, layers.Linear) and bases[0] in maps:
            conv = layers.Conv2d(
                in_channels=ins[node.name][0][-1], out_channels=layer.out_features, kernel_size=1, bias=layer.bias
            )
            nodes.append(replace(node, layer=conv, inputs=refs))
            maps.add(node.name)
            continue
        if any(b in maps for b in bases):
            if not layer.preserves_spatial:
                raise NetsizeError(
                    f"fc_to_conv: {node.name} ({layer.kind}) follows a layer turned into a convolution but does "
                    "not keep the spatial grid, so the network cannot be made fully convolutional here"
                )
            maps.add(node.name)
        nodes.append(replace(node, inputs=refs))
    if not dropped:
        raise NetsizeError(
            f"fc_to_conv: {network.name!r} has no Linear fed by a Flatten of a 2-d map (N, C, H, W); nothing to convert"
        )
    outputs = tuple(dropped.get(r, r) for r in network.outputs)
    inputs = dict(network.inputs)
    if input_shape is not None:
        if len(inputs) != 1:
            raise NetsizeError(f"fc_to_conv: input_shape is for one-input networks; {network.name!r} has {len(inputs)}")
        inputs = {next(iter(inputs)): tuple(int(d) for d in input_shape)}
    return Network(network.name, inputs, nodes, network.layout, outputs)


def _map_shape(summary: Summary, ref: str, network: Network) -> tuple[int, int, int]:
    """(C, H, W) of the map that ``ref`` produces, per sample."""
    base, _, port = ref.partition(":")
    inputs = {k: (1, *v) for k, v in network.inputs.items()}
    shape = inputs[base] if base in inputs else summary.layer(base).output_shapes[int(port or 0)]
    if len(shape) != 4:
        raise NetsizeError(f"fc_to_conv: {base} gives {shape_str(shape)}, not a 2-d map (N, C, H, W)")
    if network.layout == CHANNELS_LAST:
        return shape[3], shape[1], shape[2]
    return shape[1], shape[2], shape[3]
