"""The engine: walks a network's nodes, asks each layer for its analysis, records it."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import PurePath
from typing import Protocol

from netsize._errors import NetsizeError
from netsize._gc import gc_paused
from netsize._layer import CONVENTIONS, Analysis, Context, Layer, value
from netsize._limits import CountTooLarge, check_count
from netsize._network import Network
from netsize._shape import Shape, elements, shape_str
from netsize._summary import LayerRecord, ReceptiveField, Summary
from netsize._term import message

RF = tuple[ReceptiveField, ...] | None


def analyze(
    network: Network | Buildable | HasNetwork,
    batch_size: int = 1,
    convention: str | None = None,
    until: str | None = None,
) -> Summary:
    """Every layer's shapes and counts for ``batch_size`` samples.

    ``network`` is a :class:`~netsize.Network` (the builder API, ``netsize.spec.load_spec``), a
    zoo entry (``netsize.zoo.get("alexnet")``, built with its defaults) or a loaded spec
    (``netsize.spec.read_spec(path)``). A name or a path is refused with the call that reads it:
    the zoo and the spec reader sit above this engine.

    ``convention`` is ``torch`` or ``keras`` (BatchNorm's moving statistics count as
    non-trainable parameters instead of buffers); by default a zoo entry's or spec's own, else
    ``torch``. ``until`` stops after the layer (or the last layer of the block) of that name: the
    layers before it are explained even when a later one does not fit its input.

    >>> from netsize import Sequential, analyze, layers
    >>> s = analyze(Sequential([layers.Linear(10, 5)], input_shape=(10,)), batch_size=8)
    >>> s.totals.multiply_adds
    400
    """
    network, own_convention = _network_argument(network)
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
        raise NetsizeError(f"batch size must be a positive integer (got {batch_size!r})")
    if convention is None:
        convention = own_convention or "torch"
    if convention not in CONVENTIONS:
        raise NetsizeError(f"convention must be one of {', '.join(CONVENTIONS)} (got {convention!r})")
    if until is not None and not isinstance(until, str):
        raise NetsizeError(f"until is a layer name such as 'conv1' (got {until!r})")
    with gc_paused():  # many small records, no cycles (see netsize._gc)
        return _analyze(network, batch_size, convention, until)


class Buildable(Protocol):
    """What :func:`analyze` takes besides a Network: an object whose ``build()`` makes one (a
    :class:`netsize.zoo.ZooEntry`). Typed structurally, since the zoo sits above the engine."""

    def build(self) -> Network: ...


class HasNetwork(Protocol):
    """A loaded source holding its network and convention (:class:`netsize.spec.Spec`)."""

    @property
    def network(self) -> Network: ...

    @property
    def convention(self) -> str | None: ...


def _network_argument(obj: object) -> tuple[Network, str | None]:
    """The Network that ``obj`` is or holds, and the convention it carries; anything else is
    refused with the call that turns it into one."""
    if isinstance(obj, Network):
        return obj, None
    held = getattr(obj, "network", None)
    if isinstance(held, Network):  # a loaded spec (read_spec) or a resolved command-line target
        return held, _convention_of(obj)
    build = getattr(obj, "build", None)
    if callable(build) and not isinstance(obj, type):
        built = build()
        if isinstance(built, Network):
            return built, _convention_of(obj)
        raise NetsizeError(
            f"analyze: {type(obj).__name__}.build() returned {type(built).__name__}, not a netsize.Network"
        )
    raise NetsizeError(f"analyze takes a netsize.Network, not {_what(obj)}; {_what_to_pass(obj)}")


def _convention_of(obj: object) -> str | None:
    convention = getattr(obj, "convention", None)
    return convention if isinstance(convention, str) else None


def _what(obj: object) -> str:
    if isinstance(obj, str | PurePath):
        return f"the {type(obj).__name__} {str(obj)!r}"
    return f"a {type(obj).__module__}.{type(obj).__qualname__}" if obj is not None else "None"


_BY_SUFFIX = {
    ".yaml": "a spec file: netsize.analyze(netsize.spec.load_spec({path!r}))",
    ".yml": "a spec file: netsize.analyze(netsize.spec.load_spec({path!r}))",
    ".json": (
        "a Hugging Face config: netsize.frontends.hf_config.summary_from_config({path!r}); "
        "a Keras model.to_json(): netsize.frontends.keras.summary({path!r})"
    ),
    ".onnx": "an ONNX file: netsize.frontends.onnx.summary({path!r})",
    ".keras": "a Keras model: netsize.frontends.keras.summary({path!r})",
}


def _what_to_pass(obj: object) -> str:
    """The call that analyses what the user passed, named from its type or file suffix."""
    if isinstance(obj, str | PurePath):
        path = str(obj)
        suffix = PurePath(path).suffix.lower()
        if suffix in _BY_SUFFIX:
            return "for " + _BY_SUFFIX[suffix].format(path=path)
        if isinstance(obj, PurePath) or "/" in path or "\\" in path:
            return (f"for a spec file: netsize.analyze(netsize.spec.load_spec({path!r})); "
                    "`netsize summary PATH` on the command line reads every format")
        return (f"for the zoo model {path!r}: netsize.analyze(netsize.zoo.get({path!r})) (netsize.zoo.names() "
                "lists them); for spec text or a spec file: netsize.analyze(netsize.spec.load_spec(TEXT_OR_PATH))")
    if isinstance(obj, Layer):
        return (f"for one layer: netsize.analyze_layer('name', layer, (input_shape,)), or a network of it: "
                f"netsize.Sequential([layer], input_shape=...) ({obj.kind} takes per-sample shapes there)")
    if isinstance(obj, Summary):
        return "this is already a Summary (netsize.analyze's result)"
    if isinstance(obj, Mapping):
        if "model_type" in obj:
            return "for a Hugging Face config dict: netsize.frontends.hf_config.summary_from_config(config)"
        return "for a spec as Python data: netsize.analyze(netsize.spec.load_spec(data))"
    if any(c.__module__.startswith("torch.") and c.__name__ == "Module" for c in type(obj).__mro__):
        return "for a torch.nn.Module: netsize.summary(model, input_size=(1, 3, 224, 224)) (torchinfo's signature)"
    return ("build one with netsize.Sequential / netsize.Graph, or pass netsize.zoo.get(NAME) "
            "or netsize.spec.load_spec(PATH)")


def _analyze(network: Network, batch_size: int, convention: str, until: str | None) -> Summary:
    from fractions import Fraction  # receptive fields only (the PyTorch frontend never imports it)

    ctx = Context(convention=convention, layout=network.layout)
    shapes: dict[str, tuple[Shape, ...]] = {}
    fields: dict[str, RF] = {}
    input_shapes: dict[str, Shape] = {}
    for name, shape in network.inputs.items():
        full = (batch_size, *shape)
        input_shapes[name] = full
        shapes[name] = (full,)
        spatial = _spatial_rank(full, network.layout)
        fields[name] = tuple(ReceptiveField(1, 1, Fraction(1, 2)) for _ in range(spatial)) or None
    records: list[LayerRecord] = []
    by_name: dict[str, LayerRecord] = {}
    nodes = network.nodes
    if until is not None:
        inside = [i for i, n in enumerate(nodes) if n.name == until or n.name.startswith(until + ".")]
        if not inside:
            raise NetsizeError(f"no layer named {until!r} in {network.name!r}")
        nodes = nodes[: inside[-1] + 1]
    # Repeated identical layers are analysed once (_run remembers analyses: see _analysis). Each
    # node still gets its own record (its name, its receptive field, trainable and tied flags), so
    # every per-layer row and total stays exact.
    for node in nodes:
        ins = tuple(_resolve(ref, shapes, node.name) for ref in node.inputs)
        layer = node.layer
        analysis = _run(node.name, layer, ins, ctx, node.inputs, by_name)
        shapes[node.name] = analysis.outputs
        rf = _receptive_field(layer, analysis, [fields.get(r.split(":")[0]) for r in node.inputs])
        fields[node.name] = rf
        record = _record(node.name, layer, ins, analysis, rf, node.trainable, node.tied_to)
        records.append(record)
        by_name[node.name] = record
    refs = network.output_refs if until is None else (nodes[-1].name,)
    outputs = tuple(_resolve(ref, shapes, "(network outputs)") for ref in refs)
    summary = Summary(
        model=network.name,
        input_shapes=input_shapes,
        batch_size=batch_size,
        convention=convention,
        layout=network.layout,
        layers=tuple(records),
        output_shapes=outputs,
    )
    totals = summary.totals  # each layer is within the bound; their sum too
    check_count(totals.params, f"{network.name}: the total params")
    check_count(totals.buffers, f"{network.name}: the total buffers")
    return summary


def analyze_layer(
    name: str,
    layer: Layer,
    input_shapes: tuple[Shape, ...],
    ctx: Context | None = None,
    trainable: bool = True,
    tied_to: str | None = None,
) -> LayerRecord:
    """The record of one layer applied to full input shapes (batch axis included).

    For frontends that know every layer's inputs already (the PyTorch tracer): the same
    checks, counts and explanations as :func:`analyze`, without a network around it.

    ``input_shapes`` is one full shape per input, ``((2, 4),)``; a single shape ``(2, 4)`` is
    taken as the one input's.

    >>> from netsize import layers
    >>> analyze_layer("fc", layers.Linear(4, 3), ((2, 4),)).multiply_adds
    24
    >>> analyze_layer("fc", layers.Linear(4, 3), (2, 4)).output_shape
    (2, 3)
    """
    if not isinstance(layer, Layer):
        hint = (f"netsize.layer_type({layer!r}) gives its class, e.g. netsize.layer_type({layer!r})(...)"
                if isinstance(layer, str) else "e.g. netsize.layers.Linear(4, 3)")
        raise NetsizeError(f"analyze_layer: layer must be a netsize layer object, not {_what(layer)}; {hint}")
    if not isinstance(name, str):
        raise NetsizeError(f"analyze_layer: name is the layer's name, a str such as 'fc1' (got {name!r})")
    if ctx is not None and not isinstance(ctx, Context):
        raise NetsizeError(f"analyze_layer: ctx is a netsize.Context, e.g. netsize.Context(convention='keras') "
                           f"(got {ctx!r})")
    input_shapes = _shapes_argument(name, input_shapes)
    a = _run(name, layer, input_shapes, ctx or Context())
    return _record(name, layer, input_shapes, a, None, trainable, tied_to)


def _shapes_argument(name: str, given: object) -> tuple[Shape, ...]:
    """``given`` as a tuple of shapes of non-negative ints (a scalar's shape is ``()``): one shape
    alone is the one input's."""
    # Frontends call this once per op: the usual tuple of int tuples is checked in one pass.
    if type(given) is tuple and all(type(s) is tuple and all(type(d) is int and d >= 0 for d in s) for s in given):
        return given

    def is_dim(d: object) -> bool:
        return isinstance(d, int) and not isinstance(d, bool) and d >= 0

    if isinstance(given, list | tuple) and given and all(is_dim(d) for d in given):
        given = (given,)
    if isinstance(given, list | tuple) and all(
        isinstance(s, list | tuple) and all(is_dim(d) for d in s) for s in given
    ):
        return tuple(tuple(int(d) for d in s) for s in given)
    raise NetsizeError(
        f"analyze_layer: {name}: input_shapes is one full shape per input, batch first, such as ((2, 4),) "
        f"or (2, 4) for one input, each size an int (got {given!r})"
    )


@lru_cache(maxsize=8192)
def _cached_analysis(layer: Layer, ins: tuple[Shape, ...], ctx: Context) -> Analysis:
    return _checked(layer.analyze(ins, ctx))


def _checked(a: Analysis) -> Analysis:
    """``a`` if its stored numbers (parameters, buffers) are within MAX_INT, the README's bound on
    integers: no real model comes near 2**62 of them, and 1e45 params printed looks like an
    answer. Work (multiply-adds, elements) grows with the batch and the sequence the user asks
    for, and stays unbounded. Checked once per analysis (a repeated layer is remembered)."""
    check_count(value(a.weights) + value(a.biases) + value(a.non_trainable_params), "params")
    check_count(value(a.buffers), "buffers")
    return a


def _analysis(layer: Layer, ins: tuple[Shape, ...], ctx: Context) -> Analysis:
    """``layer.analyze(ins, ctx)``, remembered: layers and contexts are frozen values and an
    analysis is a function of them alone, so the same layer on the same shapes (a repeated
    block, the next summary of the same model in a notebook or a server) is not analysed again.
    A layer with an unhashable field is analysed every time."""
    try:
        return _cached_analysis(layer, ins, ctx)
    except TypeError:  # unhashable (or the analysis itself failed so: it fails again, uncached)
        return _checked(layer.analyze(ins, ctx))


def _run(
    name: str,
    layer: Layer,
    ins: tuple[Shape, ...],
    ctx: Context,
    refs: tuple[str, ...] = (),
    records: dict[str, LayerRecord] | None = None,
) -> Analysis:
    _check_arity(name, layer, len(ins))
    try:
        analysis = _analysis(layer, ins, ctx)
    except NetsizeError as err:
        origins = [_reshaped_from(ref, records or {}) for ref in refs]
        given = ", ".join(shape_str(s) + (origins[i] if i < len(origins) else "") for i, s in enumerate(ins))
        kind = CountTooLarge if isinstance(err, CountTooLarge) else NetsizeError  # the bound's own type survives
        raise kind(f"{name} ({layer.kind}, input {given}): {err}") from None
    for out in analysis.outputs:
        # An empty tensor is valid where the layer says it can make one (a Slice past the end, a
        # 0-size Split) or its input is already empty; elsewhere a 0 means the settings do not fit.
        empty_ok = getattr(layer, "empty_output_allowed", False) or any(0 in s for s in ins)
        if any(d < 0 for d in out) or (0 in out and not empty_ok):
            raise NetsizeError(
                f"{name} ({layer.kind}): output size {shape_str(out)} has a zero or negative "
                f"dimension for input {', '.join(shape_str(s) for s in ins)}; the input is too small "
                "for this layer's settings (for a window: reduce kernel/stride or add padding)"
            )
    return analysis


def _reshaped_from(ref: str, records: dict[str, LayerRecord]) -> str:
    """`` = 1x256x6x6 reshaped by flatten`` when ``ref`` is a view (Flatten, Reshape) of another
    shape, so that an error downstream shows where a size like 9216 came from."""
    record = records.get(ref.split(":")[0])
    if record is None or record.analysis is None or not record.analysis.memory.inplace or len(record.input_shapes) != 1:
        return ""
    before = record.input_shapes[0]
    if before == record.output_shape or elements(before) != elements(record.output_shape):
        return ""
    factors = "*".join(str(d) for d in before[1:])
    return f" = {before[0]}x({factors}) reshaped by {record.name}"


def _resolve(ref: str, shapes: dict[str, tuple[Shape, ...]], at: str) -> Shape:
    base, _, port = ref.partition(":")
    if base not in shapes:
        raise NetsizeError(f"layer {at!r} takes input {ref!r}, which is not an earlier layer or input")
    if port and not port.isdigit():
        raise NetsizeError(f"layer {at!r} takes input {ref!r}: the part after ':' must be an output number such as 1")
    outs = shapes[base]
    index = int(port) if port else 0
    if index >= len(outs):
        raise NetsizeError(f"layer {at!r} takes output {index} of {base!r}, which has {len(outs)} outputs")
    return outs[index]


def _check_arity(name: str, layer: Layer, given: int) -> None:
    if layer.arity is not None and given != layer.arity:
        raise NetsizeError(f"{name} ({layer.kind}): takes {layer.arity} input(s) but is given {given}")
    if layer.arity is None and given < 1:
        raise NetsizeError(f"{name} ({layer.kind}): needs at least one input")


def _record(
    name: str,
    layer: Layer,
    ins: tuple[Shape, ...],
    a: Analysis,
    rf: RF,
    trainable: bool,
    tied_to: str | None,
) -> LayerRecord:
    weights, biases, extra = value(a.weights), value(a.biases), value(a.non_trainable_params)
    notes = []
    if tied_to is not None:
        weights = biases = extra = 0
        notes.append(message("note.tied", other=tied_to))
    params = weights + biases + extra
    trainable_params = weights + biases if trainable else 0
    if not trainable and params:
        notes.append(message("note.frozen"))
    mem = a.memory
    kept_inputs = range(len(ins)) if mem.saved_inputs is None else mem.saved_inputs
    saved = (
        sum(elements(ins[i]) for i in kept_inputs)
        + sum(elements(a.outputs[i]) for i in mem.saved_outputs)
        + mem.saved_extra_elements
    )
    return LayerRecord(
        name=name,
        kind=layer.kind,
        input_shapes=ins,
        output_shapes=a.outputs,
        weights=weights,
        biases=biases,
        params=params,
        trainable_params=trainable_params,
        non_trainable_params=params - trainable_params,
        buffers=value(a.buffers),
        multiply_adds=value(a.multiply_adds),
        other_ops=value(a.other_ops),
        activation_elements=sum(elements(s) for s in a.outputs),
        saved_elements=saved,
        saved_extra_bytes=mem.saved_extra_bytes,
        receptive_field=rf,
        analysis=a,
        notes=tuple(notes),
    )



def _spatial_rank(shape: Shape, layout: str) -> int:
    # Only images, volumes and signals have a receptive field: (N, C, *spatial) with 1-3 axes.
    rank = len(shape) - 2
    return rank if 1 <= rank <= 3 else 0


def _receptive_field(layer: Layer, a: Analysis, inputs: list[RF]) -> RF:
    from fractions import Fraction

    known = [f for f in inputs if f]
    if not known:
        return None
    if a.windows is not None:
        base = known[0]
        if len(a.windows) != len(base):
            return None
        out = []
        for rf, w in zip(base, a.windows, strict=True):
            span = w.dilation * (w.kernel - 1)
            out.append(
                ReceptiveField(
                    size=rf.size + span * rf.jump,
                    jump=rf.jump * w.stride,
                    start=rf.start + (Fraction(span, 2) - w.padding) * rf.jump,
                )
            )
        return tuple(out)
    if layer.preserves_spatial:
        if len(known) == 1:
            return known[0]
        ranks = {len(f) for f in known}
        if len(ranks) != 1:
            return None
        return tuple(
            max((f[i] for f in known), key=lambda r: r.size) for i in range(len(known[0]))
        )
    return None
