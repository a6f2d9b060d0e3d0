"""Products of two tensors: the core op behind ``torch.matmul``, ``@``, ``mm``, ``bmm``, ``einsum``.

Frontends map the matrix products they see (the PyTorch tracer: ``aten.mm``, ``addmm``, ``bmm``,
``baddbmm``, the two products inside scaled-dot-product attention) to :class:`MatMul`; only this
layer counts them.
"""

from __future__ import annotations

from netsize._errors import NetsizeError
from netsize._i18n import register_messages
from netsize._layer import Analysis, Context, Layer
from netsize._record import record
from netsize._registry import register_layer
from netsize._shape import Shape, elements, shape_str
from netsize._term import Message, Term, message, prod_str

__all__ = ["MatMul"]

register_messages(
    {
        "note.matmul_broadcast": {
            "en": "batch axes {a} and {b} broadcast to {out}",
            "zh": "批量轴 {a} 与 {b} 广播为 {out}",
        },
    }
)


def _broadcast(a: Shape, b: Shape) -> Shape:
    rank = max(len(a), len(b))
    pa, pb = (1,) * (rank - len(a)) + a, (1,) * (rank - len(b)) + b
    out = []
    for x, y in zip(pa, pb, strict=True):
        if x != y and 1 not in (x, y):
            raise NetsizeError(
                f"batch axes {shape_str(a) or '()'} and {shape_str(b) or '()'} do not broadcast ({x} vs {y})"
            )
        out.append(max(x, y) if 1 in (x, y) else x)
    return tuple(out)


@register_layer("matmul", "mm", "bmm", "batched_matmul")
@record
class MatMul(Layer):
    """``torch.matmul(a, b)`` of two inputs, with its broadcasting rules.

    ``a (..., M, K) @ b (..., K, N) -> (broadcast(...), M, N)``; a 1-d ``a`` is a row (its ``M``
    axis is dropped from the output), a 1-d ``b`` a column (its ``N`` axis is dropped).
    Multiply-adds: ``B*M*K*N`` with ``B`` the product of the broadcast batch axes, exactly
    FlopCounterMode's ``mm``/``bmm`` FLOPs / 2 for the products torch runs. No parameters,
    no other ops (an added bias, as in ``addmm``, is not part of this op).
    """

    kind = "MatMul"
    arity = 2

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        a, b = inputs
        if not a or not b:
            raise NetsizeError(
                f"both operands need at least one axis (got {shape_str(a) or '()'} and {shape_str(b) or '()'})"
            )
        row, col = len(a) == 1, len(b) == 1
        a2 = (1, *a) if row else a
        b2 = (*b, 1) if col else b
        m, k = a2[-2], a2[-1]
        k2, n = b2[-2], b2[-1]
        if k != k2:
            raise NetsizeError(
                f"inner sizes differ: {shape_str(a)} @ {shape_str(b)} contracts {k} with {k2}; "
                "the last axis of the first operand must equal the second-to-last axis of the second"
            )
        batch = _broadcast(a2[:-2], b2[:-2])
        notes: tuple[Message, ...] = ()
        if a2[:-2] != b2[:-2] and a2[:-2] and b2[:-2]:
            notes = (
                message("note.matmul_broadcast", a=shape_str(a2[:-2]), b=shape_str(b2[:-2]), out=shape_str(batch)),
            )
        out = (*batch, *(() if row else (m,)), *(() if col else (n,)))
        nb = elements(batch)
        macs = Term(
            "multiply_adds",
            nb * m * k * n,
            "B*M*K*N" if batch else "M*K*N",
            prod_str(nb, m, k, n) if batch else prod_str(m, k, n),
            notes,
        )
        shape_terms = (
            Term("M", m, "rows of a", str(m)),
            Term("K", k, "contracted axis", str(k)),
            Term("N", n, "columns of b", str(n)),
        )
        return Analysis(outputs=(out,), shape_terms=shape_terms, multiply_adds=macs)
