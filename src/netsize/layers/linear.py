"""Fully connected layer acting on the last axis of any-rank input."""

from __future__ import annotations

from netsize._errors import NetsizeError
from netsize._layer import Analysis, Context, Layer, required
from netsize._record import record
from netsize._registry import register_layer
from netsize._shape import Shape, elements, shape_str
from netsize._term import Term, prod_str

__all__ = ["Linear"]


@register_layer("linear", "dense", "fc")
@record
class Linear(Layer):
    """``y = x W^T + b`` on the last axis; ``in_features=None`` infers it from the input.

    Multiply-adds: one per weight per row (all leading axes together), as FlopCounterMode's
    ``addmm``. Bias adds (one per output element) are other ops.
    """

    in_features: int | None = None
    out_features: int = required()
    bias: bool = True

    kind = "Linear"

    def __post_init__(self) -> None:
        if self.out_features <= 0 or (self.in_features is not None and self.in_features <= 0):
            raise NetsizeError(
                f"Linear sizes must be positive (in_features={self.in_features}, out_features={self.out_features})"
            )

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        if len(x) < 1:
            raise NetsizeError("needs at least a 1-d input")
        received = x[-1]
        if self.in_features is not None and self.in_features != received:
            raise NetsizeError(
                f"expects {self.in_features:,} input features but receives {received:,} "
                f"(last axis of {shape_str(x)}). Set in_features to {received}, or leave it out to infer it."
            )
        n_in, n_out = received, self.out_features
        rows = elements(x) // n_in
        out = (*x[:-1], n_out)
        weights = Term("weights", n_in * n_out, "F_in*F_out", prod_str(n_in, n_out))
        biases = Term("biases", n_out, "F_out", str(n_out)) if self.bias else None
        macs = Term("multiply_adds", rows * n_in * n_out, "rows*F_in*F_out", prod_str(rows, n_in, n_out))
        bias_adds = None
        if self.bias:
            bias_adds = Term("other_ops", rows * n_out, "rows*F_out (bias adds)", prod_str(rows, n_out))
        return Analysis(
            outputs=(out,),
            weights=weights,
            biases=biases,
            multiply_adds=macs,
            other_ops=bias_adds,
        )
