"""Elementwise activations (ReLU, GELU, SiLU...) and softmax.

Shape: output = input (GLU halves its ``dim``). No multiply-adds. ``other_ops`` counts the
elementary operations per output element, one for each arithmetic operation, comparison or
transcendental function (exp, log, tanh, erf), as the formula of each class states:

============  ==============================================  =======================
layer         formula per element                             other ops per element
============  ==============================================  =======================
ReLU          max(0, x)                                       1
ReLU6         min(max(x, 0), 6)                               2
Hardtanh      min(max(x, min_val), max_val)                   2
LeakyReLU     x if x > 0 else a*x                             2
PReLU         x if x > 0 else a_c*x                           2
ELU           x if x > 0 else alpha*(exp(x) - 1)              4
CELU          x if x > 0 else alpha*(exp(x/alpha) - 1)        5
SELU          scale*ELU(x)                                    5
GELU          0.5*x*(1 + erf(x/sqrt(2)))                      5
GELU tanh     0.5*x*(1 + tanh(c*(x + 0.044715*x^3)))          9
Sigmoid       1/(1 + exp(-x))                                 3
Tanh          tanh(x)                                         1
SiLU          x*sigmoid(x)                                    4
QuickGELU     x*sigmoid(1.702*x)                              5
Mish          x*tanh(log(1 + exp(x)))                         5
Softplus      log(1 + exp(b*x))/b, linear above threshold     5
Hardswish     x*min(max(x + 3, 0), 6)/6                       5
Hardsigmoid   min(max(x + 3, 0), 6)/6                         4
GLU           a*sigmoid(b)                                    4 (per output element)
Softmax       exp, add to the row sum, divide                 3
LogSoftmax    exp, add to the row sum, subtract; log per row  3, plus 1 per row
============  ==============================================  =======================

Saved for backward, as PyTorch 2.13 autograd does (checked with ``saved_tensors_hooks``):
ReLU, Sigmoid, Tanh, Softmax, LogSoftmax keep their output; the others keep their input.
In place (``inplace=True``): ReLU, LeakyReLU, ELU, CELU, SELU keep the output (which is the
input's storage); ReLU6, Hardtanh, SiLU, Mish, Hardswish and Hardsigmoid keep a copy of the
original input (``saved_extra_elements`` = input elements), because their backward needs it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from netsize._errors import NetsizeError
from netsize._i18n import register_messages
from netsize._layer import Analysis, Context, Layer, MemoryContract
from netsize._record import record
from netsize._registry import register_layer
from netsize._shape import CHANNELS_LAST, Shape, elements, shape_str
from netsize._term import Term, message, prod_str

__all__ = [
    "CELU",
    "ELU",
    "GELU",
    "GLU",
    "SELU",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "LeakyReLU",
    "LogSoftmax",
    "Mish",
    "PReLU",
    "QuickGELU",
    "ReLU",
    "ReLU6",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
]

register_messages(
    {
        "note.activation.inplace_copy": {
            "en": "in place: the original input is copied for backward ({count:,} elements)",
            "zh": "原地运算：为反向传播复制一份原始输入（{count:,} 个元素）",
        },
        "note.activation.inplace": {
            "en": "in place: the output reuses the input's storage",
            "zh": "原地运算：输出复用输入的存储",
        },
        "note.softmax.implicit_dim": {
            "en": "dim not given: PyTorch's implicit choice for a {rank}-d input is dim {dim}",
            "zh": "未指定 dim:PyTorch 对 {rank} 维输入隐式选择 dim {dim}",
        },
    }
)

# What backward keeps: "input", "output", or for in-place calls "output" / "copy".
_INPUT, _OUTPUT, _COPY = "input", "output", "copy"


def _ops_term(n: int, per: int, rule: str, x: Shape) -> Term:
    return Term("other_ops", n * per, f"elements*{per} ({rule})", prod_str(*x, per))


def _check_rank(x: Shape) -> None:
    if len(x) < 1:
        raise NetsizeError("needs at least a 1-d input")


@record
class _Elementwise(Layer):
    """Shared rule of the elementwise activations: same shape, ``ops`` other ops per element."""

    kind: ClassVar[str] = "Elementwise"
    preserves_spatial: ClassVar[bool] = True
    ops: ClassVar[int] = 1
    rule: ClassVar[str] = ""
    saves: ClassVar[str] = _INPUT  # out-of-place
    saves_inplace: ClassVar[str] = _OUTPUT  # in place: output (same storage) or a copy of the input

    def _inplace(self) -> bool:
        return bool(getattr(self, "inplace", False))

    def _ops(self) -> tuple[int, str]:
        return self.ops, self.rule

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        _check_rank(x)
        n = elements(x)
        per, rule = self._ops()
        inplace = self._inplace()
        saves = self.saves_inplace if inplace else self.saves
        if inplace:
            note = (
                message("note.activation.inplace_copy", count=n)
                if saves == _COPY
                else message("note.activation.inplace")
            )
            ops = Term("other_ops", n * per, f"elements*{per} ({rule})", prod_str(*x, per), (note,))
        else:
            ops = _ops_term(n, per, rule, x)
        return Analysis(
            outputs=(x,),
            other_ops=ops,
            memory=MemoryContract(
                saved_inputs=(0,) if saves == _INPUT else (),
                saved_outputs=(0,) if saves == _OUTPUT else (),
                saved_extra_elements=n if saves == _COPY else 0,
                inplace=inplace,
            ),
        )


@register_layer("relu")
@record
class ReLU(_Elementwise):
    """``max(0, x)``: 1 other op per element. Saves its output (in place too)."""

    inplace: bool = False

    kind = "ReLU"
    ops = 1
    rule = "max(0, x)"
    saves = _OUTPUT
    saves_inplace = _OUTPUT


@register_layer("hardtanh")
@record
class Hardtanh(_Elementwise):
    """``min(max(x, min_val), max_val)``: 2 other ops per element. Saves its input; in place a copy."""

    min_val: float = -1.0
    max_val: float = 1.0
    inplace: bool = False

    kind = "Hardtanh"
    ops = 2
    rule = "min(max(x, min_val), max_val)"
    saves_inplace = _COPY

    def __post_init__(self) -> None:
        if self.max_val <= self.min_val:
            raise NetsizeError(f"max_val ({self.max_val}) must be greater than min_val ({self.min_val})")


@register_layer("relu6")
@record
class ReLU6(_Elementwise):
    """``min(max(x, 0), 6)`` (Hardtanh(0, 6)): 2 other ops per element. Saves its input; in place a copy."""

    inplace: bool = False

    kind = "ReLU6"
    ops = 2
    rule = "min(max(x, 0), 6)"
    saves_inplace = _COPY


@register_layer("leakyrelu")
@record
class LeakyReLU(_Elementwise):
    """``x if x > 0 else a*x``: 2 other ops per element (compare, multiply). Saves its input;
    in place its output."""

    negative_slope: float = 0.01
    inplace: bool = False

    kind = "LeakyReLU"
    ops = 2
    rule = "x > 0 ? x : a*x"


@register_layer("prelu")
@record
class PReLU(_Elementwise):
    """``x if x > 0 else a_c*x`` with ``num_parameters`` learned slopes (1, or one per channel:
    axis 1, or the last axis under channels_last). 2 other ops per element. Saves its input."""

    num_parameters: int = 1
    init: float = 0.25

    kind = "PReLU"
    ops = 2
    rule = "x > 0 ? x : a_c*x"

    def __post_init__(self) -> None:
        if self.num_parameters <= 0:
            raise NetsizeError(f"num_parameters must be positive (got {self.num_parameters})")

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        _check_rank(x)
        if self.num_parameters != 1:
            if len(x) < 2:
                raise NetsizeError(
                    f"has {self.num_parameters} slopes but a 1-d input {shape_str(x)} has no channel axis; "
                    "use num_parameters=1"
                )
            axis = len(x) - 1 if ctx.layout == CHANNELS_LAST else 1
            if x[axis] != self.num_parameters:
                raise NetsizeError(
                    f"has {self.num_parameters} slopes but the input has {x[axis]} channels "
                    f"(axis {axis} of {shape_str(x)}). Set num_parameters to {x[axis]} or 1."
                )
        base = super().analyze(inputs, ctx)
        weights = Term("weights", self.num_parameters, "num_parameters", str(self.num_parameters))
        return Analysis(
            outputs=base.outputs,
            weights=weights,
            other_ops=base.other_ops,
            memory=MemoryContract(saved_inputs=base.memory.saved_inputs),
        )


@register_layer("elu")
@record
class ELU(_Elementwise):
    """``x if x > 0 else alpha*(exp(x) - 1)``: 4 other ops per element. Saves its input; in place
    its output."""

    alpha: float = 1.0
    inplace: bool = False

    kind = "ELU"
    ops = 4
    rule = "x > 0 ? x : alpha*(exp(x) - 1)"


@register_layer("celu")
@record
class CELU(_Elementwise):
    """``x if x > 0 else alpha*(exp(x/alpha) - 1)``: 5 other ops per element. Saves its input;
    in place its output."""

    alpha: float = 1.0
    inplace: bool = False

    kind = "CELU"
    ops = 5
    rule = "x > 0 ? x : alpha*(exp(x/alpha) - 1)"

    def __post_init__(self) -> None:
        if self.alpha == 0:
            raise NetsizeError("alpha must not be 0 (CELU divides by it)")


@register_layer("selu")
@record
class SELU(_Elementwise):
    """``scale*ELU(x)``: 5 other ops per element. Saves its input; in place its output."""

    inplace: bool = False

    kind = "SELU"
    ops = 5
    rule = "scale*(x > 0 ? x : alpha*(exp(x) - 1))"


@register_layer("gelu")
@record
class GELU(_Elementwise):
    """``0.5*x*(1 + erf(x/sqrt(2)))``: 5 other ops per element; ``approximate="tanh"``:
    ``0.5*x*(1 + tanh(sqrt(2/pi)*(x + 0.044715*x^3)))``: 9. Saves its input."""

    approximate: str = "none"

    kind = "GELU"
    ops = 5
    rule = "0.5*x*(1 + erf(x/sqrt(2)))"

    def __post_init__(self) -> None:
        if self.approximate not in ("none", "tanh"):
            raise NetsizeError(f"approximate must be 'none' or 'tanh' (got {self.approximate!r})")

    def _ops(self) -> tuple[int, str]:
        if self.approximate == "tanh":
            return 9, "0.5*x*(1 + tanh(c*(x + 0.044715*x^3)))"
        return self.ops, self.rule


@register_layer("sigmoid", "logistic")
@record
class Sigmoid(_Elementwise):
    """``1/(1 + exp(-x))``: 3 other ops per element. Saves its output."""

    kind = "Sigmoid"
    ops = 3
    rule = "1/(1 + exp(-x))"
    saves = _OUTPUT


@register_layer("tanh")
@record
class Tanh(_Elementwise):
    """``tanh(x)``: 1 other op per element. Saves its output."""

    kind = "Tanh"
    ops = 1
    rule = "tanh(x)"
    saves = _OUTPUT


@register_layer("silu", "swish")
@record
class SiLU(_Elementwise):
    """``x*sigmoid(x)``: 4 other ops per element. Saves its input; in place a copy of it."""

    inplace: bool = False

    kind = "SiLU"
    ops = 4
    rule = "x/(1 + exp(-x))"
    saves_inplace = _COPY


@register_layer("quick_gelu", "quickgelu")
@record
class QuickGELU(_Elementwise):
    """transformers' ``QuickGELUActivation`` (CLIP's ``quick_gelu``), ``x*sigmoid(1.702*x)`` as
    three PyTorch ops: 5 other ops per element. Backward keeps the input and the sigmoid's
    output (both operands of the last multiply)."""

    kind = "QuickGELU"
    ops = 5
    rule = "x*sigmoid(1.702*x)"

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        result = super().analyze(inputs, ctx)
        return replace(result, memory=replace(result.memory, saved_extra_elements=elements(inputs[0])))


@register_layer("mish")
@record
class Mish(_Elementwise):
    """``x*tanh(log(1 + exp(x)))``: 5 other ops per element. Saves its input; in place a copy."""

    inplace: bool = False

    kind = "Mish"
    ops = 5
    rule = "x*tanh(log(1 + exp(x)))"
    saves_inplace = _COPY


@register_layer("softplus")
@record
class Softplus(_Elementwise):
    """``log(1 + exp(beta*x))/beta`` (``x`` above ``threshold``): 5 other ops per element
    (multiply, exp, add, log, divide; the threshold test is not counted). Saves its input."""

    beta: float = 1.0
    threshold: float = 20.0

    kind = "Softplus"
    ops = 5
    rule = "log(1 + exp(beta*x))/beta"


@register_layer("hardswish", "hswish")
@record
class Hardswish(_Elementwise):
    """``x*min(max(x + 3, 0), 6)/6``: 5 other ops per element. Saves its input; in place a copy."""

    inplace: bool = False

    kind = "Hardswish"
    ops = 5
    rule = "x*min(max(x + 3, 0), 6)/6"
    saves_inplace = _COPY


@register_layer("hardsigmoid", "hsigmoid")
@record
class Hardsigmoid(_Elementwise):
    """``min(max(x + 3, 0), 6)/6``: 4 other ops per element. Saves its input; in place a copy."""

    inplace: bool = False

    kind = "Hardsigmoid"
    ops = 4
    rule = "min(max(x + 3, 0), 6)/6"
    saves_inplace = _COPY


def _axis(dim: int, rank: int) -> int:
    if not -rank <= dim < rank:
        raise NetsizeError(f"dim {dim} is out of range for a {rank}-d input (use {-rank}..{rank - 1})")
    return dim % rank


@register_layer("glu")
@record
class GLU(Layer):
    """Gated linear unit ``a*sigmoid(b)`` with ``a, b`` the two halves of ``dim``.

    Output: ``dim`` halved (it must be even). 4 other ops per output element (sigmoid 3,
    multiply 1). Saves its input.
    """

    dim: int = -1

    kind: ClassVar[str] = "GLU"
    preserves_spatial: ClassVar[bool] = False

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        _check_rank(x)
        axis = _axis(self.dim, len(x))
        size = x[axis]
        if size % 2:
            raise NetsizeError(f"halves dim {self.dim} but its size {size} is odd")
        out = (*x[:axis], size // 2, *x[axis + 1 :])
        n = elements(out)
        return Analysis(
            outputs=(out,),
            shape_terms=(Term("O_dim", size // 2, "I/2", f"{size}/2"),),
            other_ops=Term("other_ops", 4 * n, "out_elements*4 (a*sigmoid(b))", prod_str(*out, 4)),
            memory=MemoryContract(saved_inputs=(0,)),
        )


def _softmax_axis(dim: int | None, x: Shape, ctx: Context) -> tuple[int, tuple[Term, ...]]:
    if dim is not None:
        return _axis(dim, len(x)), ()
    if ctx.layout == CHANNELS_LAST:
        return len(x) - 1, ()
    # torch.nn.functional._get_softmax_dim: 0 for 0-, 1- and 3-d inputs, else 1.
    axis = 0 if len(x) in (0, 1, 3) else 1
    note = message("note.softmax.implicit_dim", rank=len(x), dim=axis)
    return axis, (Term("dim", axis, "", "", (note,)),)


@register_layer("softmax")
@record
class Softmax(Layer):
    """``exp(x_i) / sum_j exp(x_j)`` along ``dim``: 3 other ops per element (exp, add into the
    row sum, divide). Saves its output.

    ``dim=None`` follows PyTorch's implicit rule (0 for 1- and 3-d inputs, else 1), or the last
    axis under channels_last (Keras' ``axis=-1``).
    """

    dim: int | None = None

    kind: ClassVar[str] = "Softmax"
    preserves_spatial: ClassVar[bool] = True

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        _check_rank(x)
        _, extra = _softmax_axis(self.dim, x, ctx)
        n = elements(x)
        return Analysis(
            outputs=(x,),
            other_ops=_ops_term(n, 3, "exp, sum, divide", x),
            memory=MemoryContract(saved_inputs=(), saved_outputs=(0,)),
            extra_terms=extra,
        )


@register_layer("logsoftmax")
@record
class LogSoftmax(Layer):
    """``x_i - log(sum_j exp(x_j))`` along ``dim``: 3 other ops per element (exp, add into the
    row sum, subtract) plus 1 per row (the log); rows = elements / size of ``dim``. Saves its
    output. ``dim=None`` as :class:`Softmax`."""

    dim: int | None = None

    kind: ClassVar[str] = "LogSoftmax"
    preserves_spatial: ClassVar[bool] = True

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        _check_rank(x)
        axis, extra = _softmax_axis(self.dim, x, ctx)
        n = elements(x)
        rows = n // x[axis]
        ops = Term(
            "other_ops",
            3 * n + rows,
            "elements*3 + rows (exp, sum, subtract; log per row)",
            f"{prod_str(*x)}*3 + {rows}",
        )
        memory = MemoryContract(saved_inputs=(), saved_outputs=(0,))
        return Analysis(outputs=(x,), other_ops=ops, memory=memory, extra_terms=extra)
