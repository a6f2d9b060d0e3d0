"""Plain data produced by the analysis: per-layer records, totals, and the Summary.

Renderers (table, JSON, CSV, Markdown) read this data; they compute nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import field
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any

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

    @property
    def input_shape(self) -> Shape:
        return next(iter(self.input_shapes.values()))

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
                out.append(block_record(key, self.block_kinds.get(key, "Block"), members))
        return tuple(out)

    def to_dict(self, depth: int | None = None) -> dict[str, Any]:
        """The versioned JSON interface (``schema_version`` 1), see README."""
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


def block_record(name: str, kind: str, members: Sequence[LayerRecord]) -> LayerRecord:
    """One row for a block: the sums of its layers' counts, its first layer's inputs and its
    last layer's outputs (execution order)."""
    return LayerRecord(
        name=name,
        kind=kind,
        input_shapes=members[0].input_shapes if members else (),
        output_shapes=members[-1].output_shapes if members else (),
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
