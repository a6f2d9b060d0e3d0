"""Graph ops that join or split tensors: Add, Sub, Multiply, Average, Maximum, Minimum, Concat,
Split, Chunk.

Elementwise merges take any number of inputs (>= 1; Sub exactly 2) whose shapes broadcast as
in PyTorch (aligned from the right, each axis equal or 1). Other ops per output element: Add,
Multiply, Maximum, Minimum ``inputs - 1``; Sub 1; Average ``inputs`` (``inputs - 1`` adds and
a divide). Concat, Split and Chunk only copy or view: 0. No params, no multiply-adds.

Saved for backward, as PyTorch's binary ops chained left to right: Add, Sub, Average,
Concat, Split, Chunk save nothing; Multiply, Maximum and Minimum save every input, and for
more than two inputs each partial result but the last (``saved_extra_elements``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from netsize._errors import NetsizeError
from netsize._layer import Analysis, Context, Layer, MemoryContract, required
from netsize._record import record
from netsize._registry import register_layer
from netsize._shape import CHANNELS_LAST, Shape, elements, shape_str
from netsize._term import Term, prod_str

__all__ = ["Add", "Average", "Chunk", "Concat", "Maximum", "Minimum", "Multiply", "Split", "Sub"]


def broadcast(shapes: Sequence[Shape]) -> Shape:
    """The shape PyTorch broadcasts ``shapes`` to, or a NetsizeError naming them.

    >>> broadcast([(2, 3, 1), (3, 4)])
    (2, 3, 4)
    """
    rank = max(len(s) for s in shapes)
    out = []
    for i in range(-rank, 0):
        sizes = {s[i] for s in shapes if len(s) >= -i}
        big = sizes - {1}
        if len(big) > 1:
            names = " and ".join(shape_str(s) for s in shapes)
            raise NetsizeError(
                f"shapes {names} do not broadcast: axis {rank + i} has sizes {', '.join(map(str, sorted(big)))} "
                "(each axis must match or be 1)"
            )
        out.append(big.pop() if big else 1)
    return tuple(out)


@record
class _Elementwise(Layer):
    """Shared rule: broadcast output, ``ops`` per output element, inputs saved if ``saves``."""

    kind: ClassVar[str] = "Elementwise"
    preserves_spatial: ClassVar[bool] = True
    arity: ClassVar[int | None] = None
    saves: ClassVar[bool] = False

    def _ops(self, k: int) -> tuple[int, str]:
        return k - 1, "inputs - 1"

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        out = broadcast(inputs)
        k = len(inputs)
        per, rule = self._ops(k)
        ops = Term("other_ops", elements(out) * per, f"out_elements*({rule})", prod_str(*out, per))
        extra = 0
        if self.saves:
            # a op b op c runs as (a op b) op c: each partial result but the last is kept.
            extra = sum(elements(broadcast(inputs[:i])) for i in range(2, k))
        return Analysis(
            outputs=(out,),
            other_ops=ops,
            memory=MemoryContract(saved_inputs=None if self.saves and k > 1 else (), saved_extra_elements=extra),
        )


@register_layer("add")
@record
class Add(_Elementwise):
    """Sum of the inputs (residual connections): ``inputs - 1`` other ops per output element.

    >>> from netsize import analyze_layer
    >>> analyze_layer("add", Add(), ((1, 64, 8, 8), (1, 64, 8, 8))).other_ops
    4096
    """

    kind = "Add"


@register_layer("sub", "subtract")
@record
class Sub(_Elementwise):
    """``a - b``: 1 other op per output element; saves nothing."""

    kind = "Sub"
    arity = 2


@register_layer("multiply", "mul")
@record
class Multiply(_Elementwise):
    """Product of the inputs (gates, attention masks): ``inputs - 1`` other ops per output
    element. Saves every input (each is needed for the others' gradients)."""

    kind = "Multiply"
    saves = True


@register_layer("average")
@record
class Average(_Elementwise):
    """Mean of the inputs (Keras ``Average``): ``inputs`` other ops per output element
    (``inputs - 1`` adds and a divide). Saves nothing."""

    kind = "Average"

    def _ops(self, k: int) -> tuple[int, str]:
        return k, "inputs (adds and a divide)"


@register_layer("maximum")
@record
class Maximum(_Elementwise):
    """Elementwise maximum: ``inputs - 1`` comparisons per output element. Saves its inputs."""

    kind = "Maximum"
    saves = True


@register_layer("minimum")
@record
class Minimum(_Elementwise):
    """Elementwise minimum: ``inputs - 1`` comparisons per output element. Saves its inputs."""

    kind = "Minimum"
    saves = True


def _axis(dim: int | None, rank: int, ctx: Context) -> int:
    if dim is None:
        return rank - 1 if ctx.layout == CHANNELS_LAST else min(1, rank - 1)
    if not -rank <= dim < rank:
        raise NetsizeError(f"dim {dim} is out of range for a {rank}-d input (use {-rank}..{rank - 1})")
    return dim % rank


def _dim_or_axis(dim: int | None, axis: int | None) -> int | None:
    if dim is not None and axis is not None and dim != axis:
        raise NetsizeError(f"give dim or axis, not both (dim={dim}, axis={axis})")
    return dim if dim is not None else axis


@register_layer("concat", "cat", "concatenate")
@record
class Concat(Layer):
    """Joins its inputs along ``dim`` (``axis`` is the Keras spelling; negative allowed).
    Default: the channel axis (1, or the last under channels_last). All other axes must match.
    ``O = I_1 + I_2 + ...`` along ``dim``; no ops; nothing saved.

    >>> from netsize import analyze_layer
    >>> analyze_layer("cat", Concat(), ((1, 64, 8, 8), (1, 32, 8, 8))).output_shape
    (1, 96, 8, 8)
    """

    dim: int | None = None
    axis: int | None = None

    kind: ClassVar[str] = "Concat"
    preserves_spatial: ClassVar[bool] = True
    arity: ClassVar[int | None] = None

    def __post_init__(self) -> None:
        _dim_or_axis(self.dim, self.axis)

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        rank = len(inputs[0])
        names = ", ".join(shape_str(s) for s in inputs)
        if any(len(s) != rank for s in inputs):
            raise NetsizeError(f"inputs {names} have different ranks; all must have {rank} axes")
        a = _axis(_dim_or_axis(self.dim, self.axis), rank, ctx)
        for s in inputs[1:]:
            for i in range(rank):
                if i != a and s[i] != inputs[0][i]:
                    raise NetsizeError(
                        f"inputs {names} differ on axis {i} ({inputs[0][i]} vs {s[i]}); "
                        f"only the concatenation axis {a} may differ"
                    )
        sizes = [s[a] for s in inputs]
        out = (*inputs[0][:a], sum(sizes), *inputs[0][a + 1 :])
        sym = " + ".join(f"I_{j + 1}" for j in range(len(sizes)))
        term = Term(f"O_{a}", sum(sizes), sym, " + ".join(map(str, sizes)))
        return Analysis(outputs=(out,), shape_terms=(term,), memory=MemoryContract(saved_inputs=()))


def _pieces(size: int, piece: int | None, sizes: Sequence[int], a: int, x: Shape) -> Analysis:
    """Outputs of a split of axis ``a``; ``piece`` is the common size (None: given sections)."""
    outs = tuple((*x[:a], s, *x[a + 1 :]) for s in sizes)
    if piece is None:
        terms = tuple(Term(f"O_{a}[{j}]", s, f"sections[{j}]", str(s)) for j, s in enumerate(sizes))
    else:
        terms = tuple(
            Term(f"O_{a}[{j}]", s, "min(S, I - j*S)", f"min({piece}, {size} - {j}*{piece})")
            for j, s in enumerate(sizes)
        )
    return Analysis(outputs=outs, shape_terms=terms, memory=MemoryContract(saved_inputs=()))


@register_layer("split")
@record
class Split(Layer):
    """``torch.split``: an int cuts ``dim`` into pieces of that size (the last may be smaller,
    ``ceil(I / size)`` outputs); a list gives each piece's size and must sum to ``I``.
    Default ``dim``: the channel axis. Output ``j`` is ``name:j``. No ops; nothing saved
    (the outputs are views of the input)."""

    split_size_or_sections: int | tuple[int, ...] = required()
    dim: int | None = None

    kind: ClassVar[str] = "Split"
    empty_output_allowed: ClassVar[bool] = True  # a 0-size piece is valid (ONNX Split)
    preserves_spatial: ClassVar[bool] = True

    def __post_init__(self) -> None:
        s = self.split_size_or_sections
        if isinstance(s, list):
            object.__setattr__(self, "split_size_or_sections", tuple(s))
            s = tuple(s)
        if isinstance(s, int):
            if s <= 0:
                raise NetsizeError(f"split_size_or_sections must be a positive size or a list of sizes (got {s})")
        elif not s or any(not isinstance(v, int) or v < 0 for v in s):
            raise NetsizeError(f"sections must be non-negative integers (got {s!r})")

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        a = _axis(self.dim, len(x), ctx)
        size = x[a]
        s = self.split_size_or_sections
        if isinstance(s, int):
            count = max(1, -(-size // s))
            return _pieces(size, s, [min(s, size - j * s) for j in range(count)], a, x)
        else:
            if sum(s) != size:
                raise NetsizeError(
                    f"sections {list(s)} sum to {sum(s)} but axis {a} of {shape_str(x)} has {size}; "
                    "they must add up to it"
                )
        return _pieces(size, None, list(s), a, x)


@register_layer("chunk")
@record
class Chunk(Layer):
    """``torch.chunk``: pieces of ``ceil(I / chunks)`` along ``dim`` (the last may be smaller;
    there may be fewer than ``chunks``). Default ``dim``: the channel axis. No ops; nothing saved."""

    chunks: int = 2
    dim: int | None = None

    kind: ClassVar[str] = "Chunk"
    preserves_spatial: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if self.chunks <= 0:
            raise NetsizeError(f"chunks must be positive (got {self.chunks})")

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        a = _axis(self.dim, len(x), ctx)
        size = x[a]
        piece = -(-size // self.chunks)
        count = -(-size // piece)
        chunk = Term("S", piece, "ceil(I/chunks)", f"ceil({size}/{self.chunks})")
        a_ = _pieces(size, piece, [min(piece, size - j * piece) for j in range(count)], a, x)
        return Analysis(
            outputs=a_.outputs, shape_terms=(chunk, *a_.shape_terms), memory=MemoryContract(saved_inputs=())
        )
