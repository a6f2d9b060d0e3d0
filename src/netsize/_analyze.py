"""The engine: walks a network's nodes, asks each layer for its analysis, records it."""

from __future__ import annotations

from functools import lru_cache

from netsize._errors import NetsizeError
from netsize._gc import gc_paused
from netsize._layer import CONVENTIONS, Analysis, Context, Layer, value
from netsize._network import Network
from netsize._shape import Shape, elements, shape_str
from netsize._summary import LayerRecord, ReceptiveField, Summary
from netsize._term import message

RF = tuple[ReceptiveField, ...] | None


def analyze(network: Network, batch_size: int = 1, convention: str = "torch", until: str | None = None) -> Summary:
    """Every layer's shapes and counts for ``batch_size`` samples.

    ``convention`` is ``torch`` (default) or ``keras`` (BatchNorm's moving statistics count as
    non-trainable parameters instead of buffers). ``until`` stops after the layer (or the last
    layer of the block) of that name: the layers before it are explained even when a later one
    does not fit its input.

    >>> from netsize import Sequential, analyze, layers
    >>> s = analyze(Sequential([layers.Linear(10, 5)], input_shape=(10,)), batch_size=8)
    >>> s.totals.multiply_adds
    400
    """
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
        raise NetsizeError(f"batch size must be a positive integer (got {batch_size!r})")
    if convention not in CONVENTIONS:
        raise NetsizeError(f"convention must be one of {', '.join(CONVENTIONS)} (got {convention!r})")
    with gc_paused():  # many small records, no cycles (see netsize._gc)
        return _analyze(network, batch_size, convention, until)


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
    return Summary(
        model=network.name,
        input_shapes=input_shapes,
        batch_size=batch_size,
        convention=convention,
        layout=network.layout,
        layers=tuple(records),
        output_shapes=outputs,
    )


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

    >>> from netsize import layers
    >>> analyze_layer("fc", layers.Linear(4, 3), ((2, 4),)).multiply_adds
    24
    """
    a = _run(name, layer, input_shapes, ctx or Context())
    return _record(name, layer, input_shapes, a, None, trainable, tied_to)


@lru_cache(maxsize=8192)
def _cached_analysis(layer: Layer, ins: tuple[Shape, ...], ctx: Context) -> Analysis:
    return layer.analyze(ins, ctx)


def _analysis(layer: Layer, ins: tuple[Shape, ...], ctx: Context) -> Analysis:
    """``layer.analyze(ins, ctx)``, remembered: layers and contexts are frozen values and an
    analysis is a function of them alone, so the same layer on the same shapes (a repeated
    block, the next summary of the same model in a notebook or a server) is not analysed again.
    A layer with an unhashable field is analysed every time."""
    try:
        return _cached_analysis(layer, ins, ctx)
    except TypeError:  # unhashable (or the analysis itself failed so: it fails again, uncached)
        return layer.analyze(ins, ctx)


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
        raise NetsizeError(f"{name} ({layer.kind}, input {given}): {err}") from None
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
