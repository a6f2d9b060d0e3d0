"""A network: named nodes, each a layer applied to earlier nodes' outputs.

A chain is a graph whose nodes each take the previous one. Block structure lives in dotted
names (``layer1.0.conv1``): a block's counts are the sums of the nodes under its name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import field, replace

from netsize._errors import NetsizeError
from netsize._layer import Layer
from netsize._limits import MAX_GRAPH_NODES
from netsize._record import record
from netsize._shape import CHANNELS_FIRST, LAYOUTS, Shape


@record
class Node:
    """One layer application.

    ``inputs`` name earlier nodes or network inputs; ``name:1`` is a node's second output.
    ``trainable=False`` marks frozen params. ``tied_to`` names a node whose parameters this one
    reuses (a tied embedding, a module called twice): all of its params are counted there, not
    again. To tie only a weight and keep a bias of its own, model the bias as a separate node.
    """

    name: str
    layer: Layer
    inputs: tuple[str, ...]
    trainable: bool = True
    tied_to: str | None = None


@record(frozen=False)
class Network:
    """Input shapes (per sample, without the batch axis), nodes in execution order, outputs."""

    name: str
    inputs: dict[str, Shape]
    nodes: list[Node] = field(default_factory=list)
    layout: str = CHANNELS_FIRST
    outputs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise NetsizeError(f"layout must be one of {', '.join(LAYOUTS)} (got {self.layout!r})")
        for name, shape in self.inputs.items():
            if any(not isinstance(d, int) or isinstance(d, bool) or d <= 0 for d in shape):
                raise NetsizeError(f"input {name!r}: sizes must be positive integers (got {list(shape)})")

    @property
    def output_refs(self) -> tuple[str, ...]:
        if self.outputs:
            return self.outputs
        return (self.nodes[-1].name,) if self.nodes else tuple(self.inputs)


def _shape_argument(network: str, input_name: str, shape: object) -> Shape:
    """A per-sample input shape given as a sequence of sizes, or one size for a 1-d input."""
    if isinstance(shape, int) and not isinstance(shape, bool):
        return (shape,)
    if isinstance(shape, str) or not isinstance(shape, Iterable):
        raise NetsizeError(f"network {network!r}: input {input_name!r} has shape {shape!r}; give the sizes "
                           "per sample as a tuple of ints, such as (3, 224, 224)")
    return tuple(shape)


class Graph:
    """Builder for networks with branches (skip connections, concatenations).

    >>> from netsize import Graph, layers
    >>> g = Graph("block", input_shape=(64, 56, 56))
    >>> a = g.add("conv", layers.Conv2d(64, 64, 3, padding=1))
    >>> g.add("add", layers.Add(), inputs=["input", a]) and None
    >>> net = g.build()
    >>> [n.name for n in net.nodes]
    ['conv', 'add']
    """

    def __init__(
        self,
        name: str = "network",
        input_shape: Sequence[int] | None = None,
        inputs: dict[str, Sequence[int]] | None = None,
        layout: str = CHANNELS_FIRST,
    ) -> None:
        named: dict[str, Shape] = {k: _shape_argument(name, k, v) for k, v in (inputs or {}).items()}
        if input_shape is not None:
            named["input"] = _shape_argument(name, "input", input_shape)
        if not named:
            raise NetsizeError(f"network {name!r} needs an input shape")
        self._net = Network(name, named, [], layout)
        self._names = set(named)
        self._last = next(reversed(named))

    @property
    def last(self) -> str:
        """The most recently added node (or the input)."""
        return self._last

    def add(
        self,
        name: str,
        layer: Layer,
        inputs: Iterable[str] | str | None = None,
        trainable: bool = True,
        tied_to: str | None = None,
    ) -> str:
        """Append ``layer`` as node ``name`` fed by ``inputs`` (default: the last node)."""
        if len(self._names) >= MAX_GRAPH_NODES:
            raise NetsizeError(f"{self._net.name!r} has more than {MAX_GRAPH_NODES:,} layers, the most netsize builds")
        if name in self._names:
            raise NetsizeError(f"duplicate layer name {name!r} in {self._net.name!r}")
        if not isinstance(layer, Layer):
            raise NetsizeError(
                f"layer {name!r} in {self._net.name!r} is {layer!r}, not a netsize layer: pass an object such as "
                "netsize.layers.Linear(4, 3) (netsize.layer_type('linear') gives the class of a spec name), "
                "or inline a Network with add_network"
            )
        refs = (self._last,) if inputs is None else ((inputs,) if isinstance(inputs, str) else tuple(inputs))
        for ref in refs:
            port = ref.partition(":")[2]
            if port and not port.isdigit():
                raise NetsizeError(
                    f"layer {name!r} takes input {ref!r}: the part after ':' must be an output number such as 1"
                )
            if ref.split(":")[0] not in self._names:
                raise NetsizeError(
                    f"layer {name!r} takes input {ref!r}, which is not an earlier layer or input"
                )
        if tied_to is not None and tied_to not in self._names:
            raise NetsizeError(f"layer {name!r} is tied to {tied_to!r}, which is not an earlier layer")
        self._net.nodes.append(Node(name, layer, refs, trainable, tied_to))
        self._names.add(name)
        self._last = name
        return name

    def add_network(self, prefix: str, net: Network, inputs: Iterable[str] | str | None = None) -> str:
        """Inline ``net`` under ``prefix.``; its inputs are fed by ``inputs`` in order."""
        refs = [self._last] if inputs is None else ([inputs] if isinstance(inputs, str) else list(inputs))
        if len(refs) != len(net.inputs):
            raise NetsizeError(f"block {prefix!r} takes {len(net.inputs)} inputs but is given {len(refs)}")
        mapping = dict(zip(net.inputs, refs, strict=True))

        def rename(ref: str) -> str:
            base, _, port = ref.partition(":")
            new = mapping.get(base, f"{prefix}.{base}")
            return f"{new}:{port}" if port else new

        for node in net.nodes:
            self.add(
                f"{prefix}.{node.name}",
                node.layer,
                [rename(r) for r in node.inputs],
                node.trainable,
                rename(node.tied_to) if node.tied_to else None,
            )
        outs = net.output_refs
        if len(outs) == 1:
            self._last = rename(outs[0])
        return self._last

    def outputs(self, *refs: str) -> None:
        """Declare the network's outputs (default: the last node)."""
        self._net.outputs = tuple(refs)

    def build(self) -> Network:
        return replace(self._net, nodes=list(self._net.nodes))


def Sequential(  # noqa: N802  (reads like torch.nn.Sequential)
    layers: Iterable[Layer | tuple[str, Layer | Network]],
    input_shape: Sequence[int],
    name: str = "network",
    layout: str = CHANNELS_FIRST,
) -> Network:
    """A chain of layers. Items are layers (auto-named ``<kind>_<n>``) or ``(name, layer)``
    pairs; a pair whose second item is a :class:`Network` is inlined under that name.

    >>> from netsize import Sequential, analyze, layers
    >>> net = Sequential([layers.Linear(4, 3), layers.ReLU()], input_shape=(4,))
    >>> analyze(net).totals.params
    15
    """
    g = Graph(name, input_shape=input_shape, layout=layout)
    if isinstance(layers, str | Layer | Network) or not isinstance(layers, Iterable):
        raise NetsizeError(f"Sequential takes a list of layers or (name, layer) pairs (got {layers!r}); "
                           "for a zoo model use netsize.zoo.get(NAME).build()")
    counts: dict[str, int] = {}
    for item in layers:
        if isinstance(item, tuple):
            if len(item) != 2 or not isinstance(item[0], str):
                raise NetsizeError(f"Sequential: an item {item!r} is not a (name, layer) pair")
            item_name, obj = item
        elif not isinstance(item, Layer):
            raise NetsizeError(f"Sequential: item {item!r} is not a netsize layer or a (name, layer) pair")
        else:
            obj = item
            kind = obj.kind.lower()
            counts[kind] = counts.get(kind, 0) + 1
            item_name = f"{kind}_{counts[kind]}"
        if isinstance(obj, Network):
            g.add_network(item_name, obj)
        else:
            g.add(item_name, obj)
    return g.build()
