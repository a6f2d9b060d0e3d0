"""Tensor ops on whole shapes (batch axis included), as graph formats write them (ONNX).

A graph file spells out every data movement a framework does inside its layers: transposes,
reshapes with explicit sizes, slices, gathers, broadcasts, reductions, and the tensors stored in
the model itself. These layers give each one its shape rule and its counts, so that a frontend
reading such a graph only translates.

Axes are numbered over the whole shape, batch axis included (ONNX's convention), negative
axes from the end. Counts:

- ``Parameter``: a learned tensor the graph uses directly (ViT's class token and position
  embedding, an RMSNorm weight applied by a ``Mul``): ``weights`` = its elements. No inputs.
- ``Constant``: a stored tensor that is not learned (a scale, a mask, a shape): nothing.
- ``Transpose``, ``TensorReshape``, ``Squeeze``, ``Unsqueeze``, ``Slice``, ``Gather``,
  ``Expand``, ``Tile``, ``Pad``: data movement, 0 ops.
- ``Reduce``: one op per input element (``sum``/``mean``/``max``... fold every element once).
- ``Elementwise``: ``ops`` per output element for one input, ``inputs - 1`` per output element
  for several (a chain of binary ops), with broadcasting as numpy and ONNX.
- ``Resize``: nearest 0 ops; linear and cubic one op per output element per resized axis.
- ``Einsum``: multiply-adds = the product of the sizes of every index in the equation (each
  combination of indices is one multiply-add), as torch's ``einsum`` runs it as ``bmm``.
"""

from __future__ import annotations

from math import prod
from typing import ClassVar

from netsize._errors import NetsizeError
from netsize._layer import Analysis, Context, Layer, MemoryContract
from netsize._record import record
from netsize._registry import register_layer
from netsize._shape import Shape, elements, shape_str
from netsize._term import Term, prod_str
from netsize.layers.merge import broadcast

__all__ = [
    "Constant",
    "Einsum",
    "Elementwise",
    "Expand",
    "Gather",
    "Pad",
    "Parameter",
    "Reduce",
    "Resize",
    "Slice",
    "Squeeze",
    "Standardize",
    "TensorReshape",
    "Tile",
    "Transpose",
    "Uncounted",
    "Unsqueeze",
]


def _axis(axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < max(rank, 1):
        raise NetsizeError(f"{what} {axis} is outside the {rank} axes of the input (use -{rank}..{rank - 1})")
    return axis % rank if rank else 0


def _view(out: Shape) -> Analysis:
    return Analysis(outputs=(out,), memory=MemoryContract(saved_inputs=()))


@register_layer("parameter")
@record
class Parameter(Layer):
    """A learned tensor of ``shape`` used as a value (``count``: its stored elements, when the
    graph uses it broadcast to a larger ``shape``; default all of ``shape``). ``used=False``: a
    tensor the model holds but its forward never reads (BART's decoder-only ``encoder_attn``):
    counted, and only a scalar placeholder flows from it (output shape ``()``, one element).

    >>> from netsize import analyze_layer
    >>> analyze_layer("cls", Parameter((1, 1, 768)), ()).params
    768
    """

    shape: tuple[int, ...] = ()
    count: int | None = None
    used: bool = True

    kind: ClassVar[str] = "Parameter"
    arity: ClassVar[int | None] = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(self.shape))
        if any(d < 0 for d in self.shape) or (self.count is not None and self.count <= 0):
            raise NetsizeError(f"a parameter needs sizes >= 0 (got shape {self.shape}, count {self.count})")

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        n = elements(self.shape) if self.count is None else self.count
        sub = prod_str(*self.shape) if self.count is None else str(n)
        return Analysis(
            outputs=(self.shape if self.used else (),), weights=Term("weights", n, "elements", sub or "1"),
            memory=MemoryContract(saved_inputs=()),
        )


@register_layer("constant")
@record
class Constant(Layer):
    """A stored tensor that is not learned (a scale, a table of positions): no counts.

    >>> from netsize import analyze_layer
    >>> analyze_layer("scale", Constant(()), ()).output_shape
    ()
    """

    shape: tuple[int, ...] = ()

    kind: ClassVar[str] = "Constant"
    empty_output_allowed: ClassVar[bool] = True  # ONNX tensors may be empty
    arity: ClassVar[int | None] = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(self.shape))

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        return Analysis(outputs=(self.shape,), memory=MemoryContract(saved_inputs=()))


@register_layer("transpose")
@record
class Transpose(Layer):
    """Reorders all axes by ``perm`` (default: reversed). ``O_i = I_perm[i]``.

    >>> from netsize import analyze_layer
    >>> analyze_layer("t", Transpose((0, 2, 1)), ((1, 3, 5),)).output_shape
    (1, 5, 3)
    """

    perm: tuple[int, ...] | None = None

    kind: ClassVar[str] = "Transpose"

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        perm = tuple(reversed(range(len(x)))) if self.perm is None else tuple(self.perm)
        if sorted(perm) != list(range(len(x))):
            raise NetsizeError(f"perm {list(perm)} is not a permutation of the {len(x)} axes of {shape_str(x)}")
        return _view(tuple(x[i] for i in perm))


@register_layer("tensor_reshape")
@record
class TensorReshape(Layer):
    """Reshape of the whole tensor (batch axis included) to ``shape``: ``0`` copies the input's
    size on that axis (unless ``allowzero``), one ``-1`` is inferred. Element counts must agree.

    >>> from netsize import analyze_layer
    >>> analyze_layer("r", TensorReshape((0, -1)), ((2, 3, 4),)).output_shape
    (2, 12)
    """

    shape: tuple[int, ...] = ()
    allowzero: bool = False

    kind: ClassVar[str] = "Reshape"

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        sizes = [x[i] if d == 0 and not self.allowzero and i < len(x) else d for i, d in enumerate(self.shape)]
        total = elements(x)
        if sizes.count(-1) > 1 or any(d < -1 for d in sizes):
            raise NetsizeError(f"target shape {list(self.shape)} may hold one -1 and no other negative size")
        if -1 in sizes:
            known = prod(d for d in sizes if d != -1)
            if known == 0 or total % known:
                raise NetsizeError(
                    f"cannot reshape {shape_str(x)} ({total} elements) to {list(self.shape)}: "
                    f"{total} is not a multiple of {known}"
                )
            sizes[sizes.index(-1)] = total // known
        if prod(sizes) != total:
            raise NetsizeError(
                f"cannot reshape {shape_str(x)} ({total} elements) to {list(sizes)} ({prod(sizes)} elements)"
            )
        return _view(tuple(sizes))


@register_layer("squeeze")
@record
class Squeeze(Layer):
    """Removes the size-1 ``axes`` (default: every size-1 axis).

    >>> from netsize import analyze_layer
    >>> analyze_layer("s", Squeeze((1,)), ((2, 1, 4),)).output_shape
    (2, 4)
    """

    axes: tuple[int, ...] | None = None

    kind: ClassVar[str] = "Squeeze"

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        if self.axes is None:
            return _view(tuple(d for d in x if d != 1))
        drop = {_axis(a, len(x)) for a in self.axes}
        for a in drop:
            if x[a] != 1:
                raise NetsizeError(f"axis {a} of {shape_str(x)} has size {x[a]}, not 1; it cannot be squeezed")
        return _view(tuple(d for i, d in enumerate(x) if i not in drop))


@register_layer("unsqueeze")
@record
class Unsqueeze(Layer):
    """Inserts size-1 axes at ``axes`` (numbered in the output).

    >>> from netsize import analyze_layer
    >>> analyze_layer("u", Unsqueeze((0, -1)), ((3,),)).output_shape
    (1, 3, 1)
    """

    axes: tuple[int, ...] = (0,)

    kind: ClassVar[str] = "Unsqueeze"

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        rank = len(x) + len(self.axes)
        new = {_axis(a, rank) for a in self.axes}
        rest = iter(x)
        return _view(tuple(1 if i in new else next(rest) for i in range(rank)))


@register_layer("slice")
@record
class Slice(Layer):
    """``x[starts:ends:steps]`` on ``axes`` (ONNX ``Slice``; indices clamped as numpy does).
    ``O = len(range(start, end, step))`` after clamping.

    >>> from netsize import analyze_layer
    >>> analyze_layer("s", Slice((0,), (1,), (1,)), ((1, 197, 768),)).output_shape
    (1, 1, 768)
    """

    starts: tuple[int, ...] = ()
    ends: tuple[int, ...] = ()
    axes: tuple[int, ...] | None = None
    steps: tuple[int, ...] | None = None

    kind: ClassVar[str] = "Slice"
    empty_output_allowed: ClassVar[bool] = True  # a slice past the end is empty

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        axes = tuple(range(len(self.starts))) if self.axes is None else self.axes
        steps = (1,) * len(self.starts) if self.steps is None else self.steps
        out = list(x)
        for start, end, axis, step in zip(self.starts, self.ends, axes, steps, strict=True):
            a = _axis(axis, len(x))
            if step == 0:
                raise NetsizeError(f"slice step on axis {a} is 0")
            out[a] = len(range(*slice(start, end, step).indices(x[a])))
        return _view(tuple(out))


@register_layer("gather")
@record
class Gather(Layer):
    """Picks entries of ``data`` (input 0) along ``axis`` by an index tensor (input 1):
    ``O = data[:axis] + indices + data[axis+1:]``.

    >>> from netsize import analyze_layer
    >>> analyze_layer("g", Gather(1), ((1, 8, 64), ())).output_shape
    (1, 64)
    """

    axis: int = 0

    kind: ClassVar[str] = "Gather"
    arity: ClassVar[int | None] = 2

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        data, indices = inputs
        a = _axis(self.axis, len(data))
        return _view((*data[:a], *indices, *data[a + 1 :]))


@register_layer("expand")
@record
class Expand(Layer):
    """Broadcasts the input to ``shape`` (numpy rules, as ONNX ``Expand``): the result has the
    larger size on each axis.

    >>> from netsize import analyze_layer
    >>> analyze_layer("e", Expand((4, 1, 768)), ((1, 1, 768),)).output_shape
    (4, 1, 768)
    """

    shape: tuple[int, ...] = ()

    kind: ClassVar[str] = "Expand"

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        return _view(broadcast([x, tuple(self.shape)]))


@register_layer("tile")
@record
class Tile(Layer):
    """Repeats the input ``repeats[i]`` times along axis ``i``: ``O_i = I_i * repeats_i``."""

    repeats: tuple[int, ...] = ()

    kind: ClassVar[str] = "Tile"

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        if len(self.repeats) != len(x):
            raise NetsizeError(f"repeats {list(self.repeats)} must give one count per axis of {shape_str(x)}")
        out = tuple(d * r for d, r in zip(x, self.repeats, strict=True))
        return Analysis(outputs=(out,), memory=MemoryContract(saved_inputs=()))


@register_layer("pad")
@record
class Pad(Layer):
    """Pads with ``pads`` as ONNX writes them: every axis' before-count, then every axis'
    after-count (on ``axes``, default all). ``O_i = I_i + before_i + after_i``. 0 ops."""

    pads: tuple[int, ...] = ()
    axes: tuple[int, ...] | None = None

    kind: ClassVar[str] = "Pad"

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        axes = tuple(range(len(x))) if self.axes is None else tuple(_axis(a, len(x)) for a in self.axes)
        if len(self.pads) != 2 * len(axes):
            raise NetsizeError(f"pads {list(self.pads)} must hold a before and an after count per padded axis")
        out = list(x)
        for j, a in enumerate(axes):
            out[a] += self.pads[j] + self.pads[j + len(axes)]
        return Analysis(outputs=(tuple(out),), memory=MemoryContract(saved_inputs=()))


@register_layer("reduce")
@record
class Reduce(Layer):
    """A reduction (``op``: sum, mean, max, min, prod, l2...) over ``axes`` (default all),
    keeping them as size 1 if ``keepdims``. Other ops: one per input element.

    >>> from netsize import analyze_layer
    >>> analyze_layer("m", Reduce("mean", (-1,)), ((1, 8, 64),)).output_shape
    (1, 8, 1)
    """

    op: str = "sum"
    axes: tuple[int, ...] | None = None
    keepdims: bool = True

    kind: ClassVar[str] = "Reduce"

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        axes = set(range(len(x))) if self.axes is None else {_axis(a, len(x)) for a in self.axes}
        if self.keepdims:
            out = tuple(1 if i in axes else d for i, d in enumerate(x))
        else:
            out = tuple(d for i, d in enumerate(x) if i not in axes)
        ops = Term("other_ops", elements(x), "in_elements", prod_str(*x) or "1")
        return Analysis(outputs=(out,), other_ops=ops)


@register_layer("elementwise")
@record
class Elementwise(Layer):
    """An elementwise op ``op`` (div, pow, sqrt, exp, where, equal...) on inputs that broadcast.
    Other ops per output element: ``ops`` for one input, ``inputs - 1`` for several (``where``,
    with three inputs, counts 1).

    >>> from netsize import analyze_layer
    >>> analyze_layer("d", Elementwise("div"), ((1, 4, 8, 8), ())).other_ops
    256
    """

    op: str = "op"
    ops: int = 1

    kind: ClassVar[str] = "Elementwise"
    preserves_spatial: ClassVar[bool] = True
    arity: ClassVar[int | None] = None

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        out = broadcast(inputs)
        per = self.ops if len(inputs) == 1 or self.op == "where" else len(inputs) - 1
        ops = Term("other_ops", elements(out) * per, f"out_elements*{per}", prod_str(*out, per))
        return Analysis(outputs=(out,), other_ops=ops if per else None)


@register_layer("resize")
@record
class Resize(Layer):
    """Resizes to ``sizes`` (whole shape); ``mode`` nearest: 0 ops, linear or cubic: one op per
    output element per resized axis.

    >>> from netsize import analyze_layer
    >>> analyze_layer("up", Resize((1, 8, 32, 32), "nearest"), ((1, 8, 16, 16),)).output_shape
    (1, 8, 32, 32)
    """

    sizes: tuple[int, ...] = ()
    mode: str = "nearest"

    kind: ClassVar[str] = "Resize"

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        out = tuple(self.sizes)
        if len(out) != len(x) or any(d <= 0 for d in out):
            raise NetsizeError(f"sizes {list(out)} must give a positive size for each axis of {shape_str(x)}")
        resized = sum(1 for a, b in zip(x, out, strict=True) if a != b)
        per = 0 if self.mode == "nearest" else resized
        ops = Term("other_ops", elements(out) * per, f"out_elements*{per}", prod_str(*out, per))
        return Analysis(outputs=(out,), other_ops=ops if per else None, memory=MemoryContract(saved_inputs=()))


@register_layer("einsum")
@record
class Einsum(Layer):
    """``einsum(equation, *inputs)``, as numpy, torch and ONNX read it: an implicit output (no
    ``->``: the letters used once, in alphabetical order) and ``...`` for broadcast leading axes.
    Multiply-adds: the product of the sizes of every index letter, for two inputs (each
    combination multiplies once and adds once).

    >>> from netsize import analyze_layer
    >>> analyze_layer("e", Einsum("bij,bjk->bik"), ((2, 3, 4), (2, 4, 5))).multiply_adds
    120
    >>> analyze_layer("dot", Einsum("i,i"), ((5,), (5,))).output_shape
    ()
    >>> analyze_layer("diag", Einsum("...ii->...i"), ((2, 3, 3),)).output_shape
    (2, 3)
    """

    equation: str = "->"

    kind: ClassVar[str] = "Einsum"
    arity: ClassVar[int | None] = None

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        eq = self.equation.replace(" ", "")
        lhs, arrow, rhs = eq.partition("->")
        terms = lhs.split(",")
        if len(terms) != len(inputs) or any(t.replace("...", "").count(".") for t in (*terms, rhs)):
            raise NetsizeError(f"equation {self.equation!r} needs one term per input ({len(inputs)})")
        # '...' becomes placeholder letters (private-use characters), aligned to the right.
        ellipsis = max((len(s) - len(t) + 3 for t, s in zip(terms, inputs, strict=True) if "..." in t), default=0)
        if ellipsis < 0:
            raise NetsizeError(f"equation {self.equation!r} has more letters than its inputs have axes")
        hidden = "".join(chr(0xE000 + k) for k in range(ellipsis))
        terms = [t.replace("...", hidden[ellipsis - (len(s) - len(t) + 3):]) if "..." in t else t
                 for t, s in zip(terms, inputs, strict=True)]
        if arrow:
            rhs = rhs.replace("...", hidden)
        else:
            letters = "".join(terms)
            rhs = hidden + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in hidden))
        sizes: dict[str, int] = {}
        for term, shape in zip(terms, inputs, strict=True):
            if len(term) != len(shape):
                raise NetsizeError(
                    f"term {term!r} has {len(term)} letters but its input {shape_str(shape)} has {len(shape)} axes"
                )
            for letter, d in zip(term, shape, strict=True):
                if sizes.setdefault(letter, d) != d and d != 1:
                    if sizes[letter] == 1:
                        sizes[letter] = d
                    else:
                        raise NetsizeError(f"index {letter!r} has sizes {sizes[letter]} and {d}")
        missing = [c for c in rhs if c not in sizes]
        if missing:
            raise NetsizeError(f"equation {self.equation!r}: output index {missing[0]!r} is in no input term")
        out = tuple(sizes[c] for c in rhs)
        macs = None
        if len(inputs) >= 2:
            named = [c if c not in hidden else f"E{hidden.index(c)}" for c in sizes]
            value = prod(sizes.values())
            macs = Term("multiply_adds", value, "*".join(named), prod_str(*sizes.values()))
        return Analysis(outputs=(out,), multiply_adds=macs)


@register_layer("uncounted")
@record
class Uncounted(Layer):
    """An op netsize has no rule for, kept in the graph with the output ``shapes`` its source
    states (ONNX shape inference). Nothing counted; the frontend lists it in the summary's notes.

    >>> from netsize import analyze_layer
    >>> analyze_layer("c", Uncounted("CumSum", ((1, 8),)), ((1, 8),)).other_ops
    0
    """

    op: str = "op"
    shapes: tuple[tuple[int, ...], ...] = ()

    kind: ClassVar[str] = "Uncounted"
    empty_output_allowed: ClassVar[bool] = True  # ONNX tensors may be empty
    arity: ClassVar[int | None] = None

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        if not self.shapes:
            raise NetsizeError(f"no rule for {self.op} and no stated output shape")
        return Analysis(outputs=tuple(tuple(s) for s in self.shapes))


@register_layer("standardize", "keras_normalization")
@record
class Standardize(Layer):
    """Keras ``Normalization``: ``(x - mean) / sqrt(variance)`` per feature of the last axis,
    with ``mean``, ``variance`` and the sample ``count`` stored as non-trainable weights
    (``2*F + 1``, set by ``adapt``).
    Other ops: 2 per element.

    >>> from netsize import analyze_layer
    >>> analyze_layer("norm", Standardize(3), ((1, 3),)).non_trainable_params
    7
    """

    features: int | None = None

    kind: ClassVar[str] = "Normalization"
    preserves_spatial: ClassVar[bool] = True

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        f = x[-1] if x else 1
        if self.features is not None and self.features != f:
            raise NetsizeError(f"expects {self.features} features on the last axis but receives {f}")
        return Analysis(
            outputs=(x,),
            non_trainable_params=Term(
                "non_trainable_params", 2 * f + 1, "2*F + 1", f"2*{f} + 1"
            ),
            other_ops=Term("other_ops", 2 * elements(x), "2*elements", f"2*{prod_str(*x)}"),
            memory=MemoryContract(saved_inputs=()),
        )
