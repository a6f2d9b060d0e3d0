"""Plain data produced by the analysis: per-layer records, totals, and the Summary.

Renderers (table, JSON, CSV, Markdown) read this data; they compute nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import field
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any

from netsize._calls import Formatting, ModuleCall, TorchinfoTotals, torchinfo_totals
from netsize._display import ShowsItself, SummaryView, show
from netsize._dtypes import REPORTED_DTYPES, dtype_bytes
from netsize._errors import NetsizeError
from netsize._i18n import translate
from netsize._layer import Analysis
from netsize._record import record
from netsize._shape import Shape, shape_str
from netsize._term import Message, Term

if TYPE_CHECKING:
    from fractions import Fraction  # receptive-field starts; imported where they are computed

SCHEMA_VERSION = 1

COUNT_FIELDS = (
    "params",
    "trainable_params",
    "non_trainable_params",
    "buffers",
    "multiply_adds",
    "flops",
    "other_ops",
    "activation_elements",
)


@record
class ReceptiveField:
    """Along one spatial axis: ``size`` input pixels seen, ``jump`` input pixels between
    neighbouring outputs, ``start`` centre of the first output in input coordinates."""

    size: int
    jump: int
    start: Fraction


@record
class LayerRecord:
    """One layer's numbers. All counts are ints."""

    name: str
    kind: str
    input_shapes: tuple[Shape, ...]
    output_shapes: tuple[Shape, ...]
    weights: int
    biases: int
    params: int
    trainable_params: int
    non_trainable_params: int
    buffers: int
    multiply_adds: int
    other_ops: int
    activation_elements: int
    saved_elements: int
    saved_extra_bytes: int = 0
    receptive_field: tuple[ReceptiveField, ...] | None = None
    analysis: Analysis | None = field(default=None, repr=False, compare=False)
    notes: tuple[Message, ...] = ()

    @property
    def output_shape(self) -> Shape:
        return self.output_shapes[0] if self.output_shapes else ()

    @property
    def flops(self) -> int:
        return 2 * self.multiply_adds

    @property
    def depth(self) -> int:
        return self.name.count(".")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "input_shapes": [list(s) for s in self.input_shapes],
            "output_shape": list(self.output_shape),
            "output_shapes": [list(s) for s in self.output_shapes],
            "weights": self.weights,
            "biases": self.biases,
            "params": self.params,
            "trainable_params": self.trainable_params,
            "non_trainable_params": self.non_trainable_params,
            "buffers": self.buffers,
            "multiply_adds": self.multiply_adds,
            "flops": self.flops,
            "other_ops": self.other_ops,
            "activation_elements": self.activation_elements,
            "saved_elements": self.saved_elements,
            "saved_extra_bytes": self.saved_extra_bytes,
        }
        if self.receptive_field is not None:
            d["receptive_field"] = [
                {"size": rf.size, "jump": rf.jump, "start": float(rf.start)} for rf in self.receptive_field
            ]
        return d


@record
class Totals:
    params: int
    trainable_params: int
    non_trainable_params: int
    buffers: int
    multiply_adds: int
    flops: int
    other_ops: int
    activation_elements: int

    def to_dict(self) -> dict[str, int]:
        return {f: getattr(self, f) for f in COUNT_FIELDS}


@record(repr=False)
class Summary(ShowsItself):
    """The analysis of one network at one input size.

    >>> from netsize import Sequential, analyze, layers
    >>> s = analyze(Sequential([("fc", layers.Linear(4, 3))], input_shape=(4,)))
    >>> s.totals.params, s.layer("fc").output_shape
    (15, (1, 3))
    """

    model: str
    input_shapes: dict[str, Shape]
    batch_size: int
    convention: str
    layout: str
    layers: tuple[LayerRecord, ...]
    output_shapes: tuple[Shape, ...] = ()
    notes: tuple[str, ...] = ()  # what the reader must know about how it was obtained (e.g. a fallback)
    uncounted_ops: tuple[tuple[str, int], ...] = ()  # (op name, calls) that no counting rule reached
    # The class of each block (dotted name prefix; "" is the model), e.g. {"layer1": "Sequential"}
    # for a PyTorch model; a block without one is shown as "Block".
    block_kinds: Mapping[str, str] = field(default_factory=dict, compare=False)
    # How str() and notebooks show it (torchinfo's depth, col_names, row_settings); None: the flat table.
    view: SummaryView | None = field(default=None, compare=False)
    # What each block's own forward took and returned (its first call), where the frontend knows:
    # a block's row shows these, not its first layer's inputs and its last layer's outputs.
    block_inputs: Mapping[str, tuple[Shape, ...]] = field(default_factory=dict, compare=False)
    block_outputs: Mapping[str, tuple[Shape, ...]] = field(default_factory=dict, compare=False)
    # torchinfo's rows of a traced PyTorch pass (its summary_list), in call order; () otherwise.
    calls: tuple[ModuleCall, ...] = field(default=(), compare=False)
    # torchinfo's input_size (the shapes as given) and total_input (bytes of the input tensors'
    # storages, as sys.getsizeof counts them); None / 0 where the frontend has none.
    torchinfo_input_size: Any = field(default=None, compare=False)
    total_input: int = field(default=0, compare=False)
    # torchinfo's formatting options (mutable: params_units and macs_units change how it prints).
    formatting: Formatting | None = field(default=None, compare=False)

    # --- torchinfo's result attributes (ModelStatistics), same names and meanings ---------------
    @cached_property
    def _torchinfo(self) -> TorchinfoTotals:
        if self.calls:
            return torchinfo_totals(self.calls)
        t = self.totals
        return TorchinfoTotals(t.params, t.trainable_params, t.multiply_adds, self.weights_bytes("float32"), 0)

    @property
    def summary_list(self) -> list[ModuleCall]:
        """torchinfo's rows: one per module call, in call order (see :class:`ModuleCall`)."""
        if self.calls:
            return list(self.calls)
        return [
            ModuleCall(class_name=r.kind, var_name=r.name.rsplit(".", 1)[-1], depth=r.depth + 1, name=r.name,
                       output_size=list(r.output_shape), num_params=r.params, trainable_params=r.trainable_params,
                       multiply_adds=r.multiply_adds, executed=True)
            for r in self.layers
        ]  # fmt: skip

    @property
    def total_params(self) -> int:
        """Parameters of the model as torchinfo sums its rows: leaf rows their parameters, other
        rows what their listed children leave out, a module called again nothing; a pruned
        ``weight_orig`` counts its mask's ones. As in torchinfo, a tensor shared by two distinct
        modules (tied embeddings, T5's ``shared``) counts once per module here; netsize's exact
        count of distinct tensors is ``totals.params`` (the ``netsize: Params`` line)."""
        return self._torchinfo.total_params

    @property
    def trainable_params(self) -> int:
        """Parameters with ``requires_grad``, as torchinfo sums them."""
        return self._torchinfo.trainable_params

    @property
    def total_mult_adds(self) -> int:
        """netsize's multiply-adds of the whole pass (``totals.multiply_adds``): torchinfo's name,
        netsize's meaning. torchinfo's own count differs on purpose: it is ``batch x params`` per
        linear layer (biases included) and ``params x output pixels`` per convolution, and misses
        matmuls, attention and any work outside nn.Linear/conv/RNN modules; netsize counts every
        multiply-accumulate as FlopCounterMode does (its FLOPs / 2), biases excluded."""
        return self.totals.multiply_adds

    @property
    def total_param_bytes(self) -> int:
        """Bytes of the parameters in their own dtypes (torchinfo's leaf-row sum)."""
        return self._torchinfo.total_param_bytes

    @property
    def total_output_bytes(self) -> int:
        """torchinfo's forward/backward pass bytes: twice the output bytes of every leaf module
        with parameters (netsize's activation and training memory: ``netsize.memory``)."""
        return self._torchinfo.total_output_bytes

    @property
    def input_size(self) -> Any:
        """torchinfo's ``input_size``: the input shapes as the call gave them (``torch.Size``
        objects for ``input_data``)."""
        if self.torchinfo_input_size is not None:
            return self.torchinfo_input_size
        return [list(s) for s in self.input_shapes.values()]

    @staticmethod
    def float_to_megabytes(num: int) -> float:
        """torchinfo's helper: ``num`` float32 values in megabytes."""
        return num * 4 / 1e6

    @staticmethod
    def to_megabytes(num: int) -> float:
        """torchinfo's helper: bytes in megabytes."""
        return num / 1e6

    @property
    def input_shape(self) -> Shape:
        return next(iter(self.input_shapes.values()), ())

    @cached_property  # a frozen summary's totals never change; summed once, not per row drawn
    def totals(self) -> Totals:
        sums = {f: sum(getattr(r, f) for r in self.layers) for f in COUNT_FIELDS if f != "flops"}
        return Totals(flops=2 * sums["multiply_adds"], **sums)

    def layer(self, name: str) -> LayerRecord:
        for layer_record in self.layers:
            if layer_record.name == name:
                return layer_record
        import difflib

        close = difflib.get_close_matches(name, [r.name for r in self.layers], n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise NetsizeError(f"no layer named {name!r} in {self.model!r}{hint}")

    def weights_bytes(self, dtype: str = "float32") -> int:
        """Bytes of all parameters stored in ``dtype``."""
        return dtype_bytes(self.totals.params, dtype)

    def model_size(self) -> dict[str, int]:
        """Bytes of the parameters per common dtype."""
        return {d: self.weights_bytes(d) for d in REPORTED_DTYPES}

    def rows(self, depth: int | None = None) -> tuple[LayerRecord, ...]:
        """Records down to ``depth``, counted as torchinfo counts it: 1 = the model's top-level
        children, 2 = their children...; deeper layers are summed into their block (kind: the
        block's class where known). 0 = one row for the whole model; ``None`` = every layer.

        >>> from netsize import zoo, analyze
        >>> s = analyze(zoo.get("resnet18").build())
        >>> [(r.name, r.kind, r.params) for r in s.rows(1)][4]
        ('layer1', 'Block', 147968)
        """
        if depth is None:
            return self.layers
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
            raise NetsizeError(f"depth must be an integer, 0 or more (got {depth!r}); 1 shows the top-level blocks")
        if depth == 0:
            return (block_record(self.model, self.block_kinds.get("", self.model), self.layers),)
        out: list[LayerRecord] = []
        groups: dict[str, list[LayerRecord]] = {}
        for r in self.layers:
            groups.setdefault(".".join(r.name.split(".")[:depth]), []).append(r)
        for key, members in groups.items():
            if len(members) == 1 and members[0].name == key:
                out.append(members[0])
            else:
                out.append(block_record(key, self.block_kinds.get(key, "Block"), members,
                                        self.block_inputs.get(key), self.block_outputs.get(key)))
        return tuple(out)

    def to_dict(self, depth: int | None = None) -> dict[str, Any]:
        """The versioned JSON interface (``schema_version`` 1), documented in docs/json.md."""
        return {
            "schema_version": SCHEMA_VERSION,
            "model": self.model,
            "input_shape": list(self.input_shape),
            "input_shapes": {k: list(v) for k, v in self.input_shapes.items()},
            "batch_size": self.batch_size,
            "convention": self.convention,
            "layout": self.layout,
            "layers": [r.to_dict() for r in self.rows(depth)],
            "totals": self.totals.to_dict(),
            "model_size_bytes": self.model_size(),
            "notes": list(self.notes),
            "uncounted_ops": dict(self.uncounted_ops),
        }

    def to_pandas(self, depth: int | None = None) -> Any:
        """The per-layer table as a ``pandas.DataFrame`` (pandas must be installed)."""
        return show(self, "dataframe", depth=depth)

    def plot(self, what: str = "params", depth: int | None = None, log: bool = False, top: int | None = None,
             ax: Any = None) -> Any:  # fmt: skip
        """A matplotlib bar chart per layer of ``what`` (params, multiply-adds, flops, activations);
        needs ``pip install 'netsize[plot]'``. Returns the Axes."""
        return show(self, "plot", what=what, depth=depth, log=log, top=top, ax=ax)

    def explain(self, name: str, lang: str = "en") -> str:
        """The derivation of every number of layer ``name``, values substituted.

        >>> from netsize import Sequential, analyze, layers
        >>> s = analyze(Sequential([("fc", layers.Linear(4, 3))], input_shape=(4,)))
        >>> print(s.explain("fc").splitlines()[0])
        fc (Linear)
        """
        return explain_record(self.layer(name), lang)


_SUMMED = (
    "weights", "biases", "params", "trainable_params", "non_trainable_params", "buffers", "multiply_adds",
    "other_ops", "activation_elements", "saved_elements", "saved_extra_bytes",
)  # fmt: skip


def block_record(
    name: str,
    kind: str,
    members: Sequence[LayerRecord],
    inputs: tuple[Shape, ...] | None = None,
    outputs: tuple[Shape, ...] | None = None,
) -> LayerRecord:
    """One row for a block: the sums of its layers' counts; the block's own ``inputs`` and
    ``outputs`` where known, else its first layer's inputs and its last layer's outputs."""
    if inputs is None:
        inputs = members[0].input_shapes if members else ()
    if outputs is None:
        outputs = members[-1].output_shapes if members else ()
    return LayerRecord(
        name=name,
        kind=kind,
        input_shapes=inputs,
        output_shapes=outputs,
        **{f: sum(getattr(m, f) for m in members) for f in _SUMMED},
    )


def explain_records(records: Sequence[LayerRecord], lang: str = "en") -> list[str]:
    """:func:`explain_record` of each record; a formula that records share (repeated identical
    layers share their analysis) is written once."""
    rendered: dict[object, tuple[object, str]] = {}
    return [explain_record(r, lang, _rendered=rendered) for r in records]


@lru_cache(maxsize=8)
def _words(lang: str) -> dict[str, str]:
    """The fixed words of an explanation in ``lang``, translated once."""
    from netsize._glossary import colon, formula

    return {
        "input": f"  {translate('explain.input', lang)}{colon(lang)}",
        "output": f"  {translate('output_shape', lang)}{colon(lang)}",
        "params": translate("params", lang),
        "activations": f"  {translate('activation_elements', lang)} = ",
        "receptive_field": f"  {translate('receptive_field', lang)} = ",
        "2*multiply_adds": formula("2*multiply_adds", lang),
        **{k: translate(k, lang) for k in ("weights", "biases", "non_trainable_params")},
    }


def explain_record(record: LayerRecord, lang: str = "en", *,
                   _rendered: dict[object, tuple[object, str]] | None = None) -> str:  # fmt: skip
    """The derivation of one layer's shapes and counts, as ``netsize explain`` prints it."""
    if not isinstance(record, LayerRecord):
        raise NetsizeError(f"explain_record takes a LayerRecord, such as summary.layer('conv1'), not {record!r}; "
                           "summary.explain('conv1') explains a layer by name")
    words = _words(lang)

    def show(t: Term) -> str:
        if _rendered is None:
            return t.render(lang)
        hit = _rendered.get(id(t))
        if hit is None or hit[0] is not t:
            hit = _rendered[id(t)] = (t, t.render(lang))  # the term is kept, so its id is not reused
        return hit[1]

    def flops_line(t: Term) -> str:  # the FLOPs of a layer follow from its multiply-adds term
        def text() -> str:
            return Term("flops", 2 * t.value, words["2*multiply_adds"], f"2*{t.value}").render(lang)

        if _rendered is None:
            return text()
        hit = _rendered.get(("flops", id(t)))
        if hit is None or hit[0] is not t:
            hit = _rendered[("flops", id(t))] = (t, text())
        return hit[1]

    a = record.analysis
    lines = [translate("explain.header", lang, name=record.name, kind=record.kind)]
    ins = ", ".join(shape_str(s) for s in record.input_shapes)
    lines.append(f"{words['input']}{ins}")
    terms: list[Term] = []
    if a is not None:
        terms.extend(a.shape_terms)
    outs = ", ".join(shape_str(s) for s in record.output_shapes)
    lines.extend(f"  {show(t)}" for t in terms)
    lines.append(f"{words['output']}{outs}")
    if a is not None:
        for t in (a.weights, a.biases, a.non_trainable_params):
            if t is not None:
                lines.append(f"  {show(t)}")
        # The counted values: a tied layer's weights count 0 here (they are counted where they live).
        counted = {
            "weights": record.weights,
            "biases": record.biases,
            "non_trainable_params": record.params - record.weights - record.biases,
        }
        parts = [t for t in (a.weights, a.biases, a.non_trainable_params) if t is not None]
        if len(parts) > 1 or (parts and counted[parts[0].name] != parts[0].value):
            sym = " + ".join(words[t.name] for t in parts)
            sub = " + ".join(str(counted[t.name]) for t in parts)
            lines.append(f"  {words['params']} = {sym} = {sub} = {record.params:,}")
        elif not parts:
            lines.append(f"  {words['params']} = 0")
        if a.buffers is not None:
            lines.append(f"  {show(a.buffers)}")
        if a.multiply_adds is not None:
            lines.append(f"  {show(a.multiply_adds)}")
            lines.append(f"  {flops_line(a.multiply_adds)}")
        if a.other_ops is not None:
            lines.append(f"  {show(a.other_ops)}")
        lines.extend(f"  {show(t)}" for t in a.extra_terms)
    lines.append(f"{words['activations']}{record.activation_elements:,}")
    if record.receptive_field:
        rf = ("，" if lang == "zh" else ", ").join(
            translate("rf.axis", lang, size=r.size, jump=r.jump, start=_fr(r.start)) for r in record.receptive_field
        )
        lines.append(f"{words['receptive_field']}{rf}")
    lines.extend(f"  {n.render(lang)}" for n in record.notes)
    return "\n".join(lines)


def _fr(x: Fraction) -> str:
    return str(int(x)) if x.denominator == 1 else f"{float(x):g}"
