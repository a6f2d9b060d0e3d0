"""Normalisation: BatchNorm, InstanceNorm, LayerNorm, GroupNorm, RMSNorm.

Shape: output = input. No multiply-adds. Params and buffers as ``torch.nn``; under the Keras
convention BatchNorm's (and InstanceNorm's) running mean and variance are 2*C non-trainable
params and there are no buffers (Keras has no ``num_batches_tracked``).

Other ops per element (per-channel or per-group scalar work such as ``1/sqrt(var + eps)`` is not
counted):

- BatchNorm (inference, stored statistics): subtract mean, multiply by inverse std = 2;
  affine adds 2 (multiply by weight, add bias). Computing batch statistics in training is not
  counted.
- InstanceNorm, LayerNorm, GroupNorm (statistics at every call): mean 1 (add), variance 2
  (square, add), normalise 2 (subtract, multiply) = 5; plus 1 for a weight and 1 for a bias.
- RMSNorm: square 1, add 1, multiply by 1/rms 1 = 3; plus 1 for the weight.

Saved for backward, as PyTorch 2.13 does for float32 (checked with ``saved_tensors_hooks``):
the input, plus (``saved_extra_elements``) BatchNorm: mean and inverse std per channel (2*C);
InstanceNorm: 2*N*C, plus N*C for the repeated weight if affine, plus 2*N*C for the repeated
running statistics if tracked; LayerNorm: mean and inverse std per normalised row (2*rows);
GroupNorm: 2*N*G; RMSNorm (PyTorch's composite): the inverse rms per row, plus the normalised
input (one per element) when it has a weight.
"""

from __future__ import annotations

from typing import ClassVar

from netsize._errors import NetsizeError
from netsize._i18n import register_messages
from netsize._layer import KERAS, Analysis, Context, Layer, MemoryContract, required
from netsize._record import record
from netsize._registry import register_layer
from netsize._shape import CHANNELS_LAST, Shape, elements, shape_str
from netsize._term import Term, message, prod_str

__all__ = [
    "BatchNorm",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "GroupNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "LayerNorm",
    "LayerScale",
    "RMSNorm",
]

register_messages(
    {
        "note.norm.keras_stats": {
            "en": "Keras convention: the moving mean and variance count as non-trainable params, 2 per channel",
            "zh": "Keras 约定：滑动均值和滑动方差计为不可训练参数，每个通道 2 个",
        },
        "note.norm.inference": {
            "en": "counted at inference, with the stored mean and variance",
            "zh": "按推理计算，使用已保存的均值和方差",
        },
    }
)


def _rank_text(ranks: tuple[int, ...]) -> str:
    return " or ".join(f"{r}-d" for r in ranks)


def _channels(x: Shape, ctx: Context) -> tuple[int, int]:
    axis = len(x) - 1 if ctx.layout == CHANNELS_LAST else 1
    return axis, x[axis]


def _check_channels(declared: int | None, x: Shape, ctx: Context, field: str) -> int:
    axis, c = _channels(x, ctx)
    if declared is not None and declared != c:
        raise NetsizeError(
            f"expects {declared:,} channels ({field}) but receives {c:,} (axis {axis} of {shape_str(x)}). "
            f"Set {field} to {c}, or leave it out to infer it."
        )
    return c


def _affine(c: int, weight: bool, bias: bool, sym: str) -> tuple[Term | None, Term | None]:
    w = Term("weights", c, sym, str(c)) if weight else None
    b = Term("biases", c, sym, str(c)) if bias else None
    return w, b


def _affine_rule(weight: bool, bias: bool) -> str:
    if weight and bias:
        return " + affine 2"
    return (" + weight 1" if weight else "") + (" + bias 1" if bias else "")


@record
class _NormBase(Layer):
    """BatchNorm and InstanceNorm: per-channel affine and running statistics."""

    num_features: int | None = None
    eps: float = 1e-5
    momentum: float | None = 0.1
    affine: bool = True
    track_running_stats: bool = True
    weight: bool = True
    bias: bool = True

    kind: ClassVar[str] = "BatchNorm"
    preserves_spatial: ClassVar[bool] = True
    ranks: ClassVar[tuple[int, ...]] = ()  # accepted input ranks; () = any rank >= 2

    def __post_init__(self) -> None:
        if self.num_features is not None and self.num_features <= 0:
            raise NetsizeError(f"num_features must be positive (got {self.num_features})")

    def _start(self, x: Shape, ctx: Context) -> int:
        if self.ranks and len(x) not in self.ranks:
            raise NetsizeError(f"expects a {_rank_text(self.ranks)} input but receives {len(x)}-d {shape_str(x)}")
        if len(x) < 2:
            raise NetsizeError(f"needs a channel axis (N, C, ...) but receives {shape_str(x)}")
        return _check_channels(self.num_features, x, ctx, "num_features")

    @property
    def _has_weight(self) -> bool:
        return self.affine and self.weight

    @property
    def _has_bias(self) -> bool:
        return self.affine and self.bias

    def _analysis(self, x: Shape, c: int, ctx: Context, ops: Term, saved_extra: int) -> Analysis:
        weights, biases = _affine(c, self._has_weight, self._has_bias, "C")
        non_trainable = buffers = None
        if self.track_running_stats and ctx.convention == KERAS:
            note = message("note.norm.keras_stats")
            non_trainable = Term("non_trainable_params", 2 * c, "2*C (moving mean, moving variance)", f"2*{c}", (note,))
        elif self.track_running_stats:
            buffers = Term(
                "buffers", 2 * c + 1, "2*C + 1 (running_mean, running_var, num_batches_tracked)", f"2*{c} + 1"
            )
        return Analysis(
            outputs=(x,),
            weights=weights,
            biases=biases,
            non_trainable_params=non_trainable,
            buffers=buffers,
            other_ops=ops,
            memory=MemoryContract(saved_inputs=(0,), saved_extra_elements=saved_extra),
        )


@register_layer("batchnorm", "batchnormalization")
@record
class BatchNorm(_NormBase):
    """Batch normalisation over the channel axis of any input of rank >= 2 (Keras
    ``BatchNormalization``; the channel axis is 1, or the last under channels_last).

    Params ``2*C`` (weight, bias; if ``affine``); buffers ``2*C + 1`` (if
    ``track_running_stats``), or under the Keras convention ``2*C`` non-trainable params.
    ``weight=False`` or ``bias=False`` drops one of the two affine vectors (Keras
    ``scale=False`` drops gamma, ``center=False`` beta; ``torch.nn`` has only ``affine``).
    Other ops: ``elements*(2 + 1 per affine vector)`` (normalise; weight, bias), at inference.
    Saves the input and ``2*C`` statistics.

    >>> from netsize import analyze_layer
    >>> from netsize._layer import Context
    >>> r = analyze_layer("bn", BatchNorm(weight=False), ((1, 4, 4, 32),), Context("keras", "channels_last"))
    >>> r.trainable_params, r.non_trainable_params
    (32, 64)
    """

    kind = "BatchNorm"

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        c = self._start(x, ctx)
        per = 2 + int(self._has_weight) + int(self._has_bias)
        rule = "normalise 2" + _affine_rule(self._has_weight, self._has_bias)
        ops = Term(
            "other_ops",
            elements(x) * per,
            f"elements*{per} ({rule})",
            prod_str(*x, per),
            (message("note.norm.inference"),),
        )
        return self._analysis(x, c, ctx, ops, 2 * c)


@register_layer("batchnorm1d")
@record
class BatchNorm1d(BatchNorm):
    """``torch.nn.BatchNorm1d`` on (N, C) or (N, C, L); rules as :class:`BatchNorm`."""

    kind = "BatchNorm1d"
    ranks = (2, 3)


@register_layer("batchnorm2d")
@record
class BatchNorm2d(BatchNorm):
    """``torch.nn.BatchNorm2d`` on (N, C, H, W); rules as :class:`BatchNorm`.

    >>> from netsize import analyze_layer
    >>> r = analyze_layer("bn", BatchNorm2d(64), ((1, 64, 56, 56),))
    >>> r.params, r.buffers
    (128, 129)
    """

    kind = "BatchNorm2d"
    ranks = (4,)


@register_layer("batchnorm3d")
@record
class BatchNorm3d(BatchNorm):
    """``torch.nn.BatchNorm3d`` on (N, C, D, H, W); rules as :class:`BatchNorm`."""

    kind = "BatchNorm3d"
    ranks = (5,)


@record
class _InstanceNorm(_NormBase):
    """Per-sample, per-channel normalisation over the spatial axes.

    Defaults as torch: ``affine=False``, ``track_running_stats=False``. Params ``2*C`` if affine;
    buffers ``2*C + 1`` if tracking (Keras convention: ``2*C`` non-trainable). Other ops:
    ``elements*(5 + 2 if affine)``. Saves the input and ``N*C*(2 + affine + 2*tracked)``
    (PyTorch runs it as a batch norm over N*C channels, repeating weight and statistics).
    """

    affine: bool = False
    track_running_stats: bool = False

    kind: ClassVar[str] = "InstanceNorm"

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        c = self._start(x, ctx)
        per = 5 + int(self._has_weight) + int(self._has_bias)
        rule = "statistics 3 + normalise 2" + _affine_rule(self._has_weight, self._has_bias)
        ops = Term("other_ops", elements(x) * per, f"elements*{per} ({rule})", prod_str(*x, per))
        nc = x[0] * c
        extra = nc * (2 + int(self._has_weight) + 2 * int(self.track_running_stats))
        return self._analysis(x, c, ctx, ops, extra)


@register_layer("instancenorm1d")
@record
class InstanceNorm1d(_InstanceNorm):
    """``torch.nn.InstanceNorm1d`` on (N, C, L)."""

    kind = "InstanceNorm1d"
    ranks = (3,)


@register_layer("instancenorm2d")
@record
class InstanceNorm2d(_InstanceNorm):
    """``torch.nn.InstanceNorm2d`` on (N, C, H, W)."""

    kind = "InstanceNorm2d"
    ranks = (4,)


@register_layer("instancenorm3d")
@record
class InstanceNorm3d(_InstanceNorm):
    """``torch.nn.InstanceNorm3d`` on (N, C, D, H, W)."""

    kind = "InstanceNorm3d"
    ranks = (5,)


def _normalized(ns: int | tuple[int, ...] | None, x: Shape) -> tuple[int, ...]:
    if ns is None:
        return (x[-1],)
    shape = (ns,) if isinstance(ns, int) else tuple(ns)
    if len(x) < len(shape) or tuple(x[len(x) - len(shape) :]) != shape:
        tail = shape_str(x[max(0, len(x) - len(shape)) :])
        raise NetsizeError(
            f"normalized_shape {shape_str(shape)} does not match the last {len(shape)} axes of {shape_str(x)} "
            f"({tail}). Set normalized_shape to {tail}, or leave it out to use the last axis."
        )
    return shape


def _check_ns(ns: int | tuple[int, ...] | None) -> None:
    if ns is None:
        return
    shape = (ns,) if isinstance(ns, int) else tuple(ns)
    if not shape or any(not isinstance(d, int) or d <= 0 for d in shape):
        raise NetsizeError(f"normalized_shape must be positive integers (got {ns!r})")


@register_layer("layernorm", "layernormalization")
@record
class LayerNorm(Layer):
    """Normalises over the last ``len(normalized_shape)`` axes (``None``: the last axis,
    inferred, as Keras' ``LayerNormalization(axis=-1)``).

    Params: ``prod(normalized_shape)`` weights if ``elementwise_affine`` (and ``weight``), as
    many biases if ``elementwise_affine`` and ``bias``. ``weight=False`` keeps the bias alone
    (Keras ``LayerNormalization(scale=False)``; ``torch.nn.LayerNorm`` has no such flag). Other
    ops: ``elements*(5 + weight + bias)``. Saves the input and a mean and an inverse std per
    row (rows = elements / prod(normalized_shape)).
    """

    normalized_shape: int | tuple[int, ...] | None = None
    eps: float = 1e-5
    elementwise_affine: bool = True
    bias: bool = True
    weight: bool = True

    kind: ClassVar[str] = "LayerNorm"
    preserves_spatial: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if isinstance(self.normalized_shape, list):
            object.__setattr__(self, "normalized_shape", tuple(self.normalized_shape))
        _check_ns(self.normalized_shape)

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        shape = _normalized(self.normalized_shape, x)
        size = elements(shape)
        rows = elements(x) // size
        has_w = self.elementwise_affine and self.weight
        has_b = self.elementwise_affine and self.bias
        sym, sub = "prod(normalized_shape)", prod_str(*shape)
        weights = Term("weights", size, sym, sub) if has_w else None
        biases = Term("biases", size, sym, sub) if has_b else None
        per = 5 + int(has_w) + int(has_b)
        ops = Term("other_ops", elements(x) * per, f"elements*{per} ({_stat_rule(has_w, has_b)})", prod_str(*x, per))
        return Analysis(
            outputs=(x,),
            weights=weights,
            biases=biases,
            other_ops=ops,
            memory=MemoryContract(saved_inputs=(0,), saved_extra_elements=2 * rows),
            extra_terms=(Term("rows", rows, "elements/prod(normalized_shape)", f"{elements(x)}/{size}"),),
        )


def _stat_rule(weight: bool, bias: bool) -> str:
    parts = ["statistics 3", "normalise 2"]
    if weight:
        parts.append("weight 1")
    if bias:
        parts.append("bias 1")
    return " + ".join(parts)


@register_layer("groupnorm", "groupnormalization")
@record
class GroupNorm(Layer):
    """Normalises each of ``num_groups`` channel groups per sample (channel axis 1, or last
    under channels_last). ``num_channels=None`` is inferred; it must divide by ``num_groups``.

    Params ``2*C`` if ``affine``; ``weight=False`` or ``bias=False`` drops one of the two
    (Keras ``scale=False``, ``center=False``). Other ops ``elements*(5 + 1 per affine vector)``.
    Saves the input and a mean and inverse std per (sample, group): ``2*N*G``.
    """

    num_groups: int = required()
    num_channels: int | None = None
    eps: float = 1e-5
    affine: bool = True
    weight: bool = True
    bias: bool = True

    kind: ClassVar[str] = "GroupNorm"
    preserves_spatial: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if self.num_groups <= 0:
            raise NetsizeError(f"num_groups must be a positive integer (got {self.num_groups})")
        if self.num_channels is not None and self.num_channels % self.num_groups:
            raise NetsizeError(f"num_channels {self.num_channels} is not divisible by num_groups {self.num_groups}")

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        if len(x) < 2:
            raise NetsizeError(f"needs a channel axis (N, C, ...) but receives {shape_str(x)}")
        c = _check_channels(self.num_channels, x, ctx, "num_channels")
        if c % self.num_groups:
            raise NetsizeError(f"{c} channels are not divisible by num_groups {self.num_groups}")
        has_w, has_b = self.affine and self.weight, self.affine and self.bias
        weights, biases = _affine(c, has_w, has_b, "C")
        per = 5 + int(has_w) + int(has_b)
        ops = Term(
            "other_ops",
            elements(x) * per,
            f"elements*{per} ({_stat_rule(has_w, has_b)})",
            prod_str(*x, per),
        )
        return Analysis(
            outputs=(x,),
            weights=weights,
            biases=biases,
            other_ops=ops,
            memory=MemoryContract(saved_inputs=(0,), saved_extra_elements=2 * x[0] * self.num_groups),
        )


@register_layer("rmsnorm", "rmsnormalization")
@record
class RMSNorm(Layer):
    """``x / sqrt(mean(x^2) + eps) * weight`` over the last ``len(normalized_shape)`` axes
    (``None``: the last axis). ``torch.nn.RMSNorm`` has a weight and no bias.

    Params ``prod(normalized_shape)`` if ``elementwise_affine``. Other ops
    ``elements*(3 + 1 if weight)``. Saves the input, the inverse rms per row, and with a weight
    the normalised input (PyTorch's composite implementation).
    """

    normalized_shape: int | tuple[int, ...] | None = None
    eps: float | None = None
    elementwise_affine: bool = True

    kind: ClassVar[str] = "RMSNorm"
    preserves_spatial: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if isinstance(self.normalized_shape, list):
            object.__setattr__(self, "normalized_shape", tuple(self.normalized_shape))
        _check_ns(self.normalized_shape)

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        shape = _normalized(self.normalized_shape, x)
        size = elements(shape)
        n = elements(x)
        rows = n // size
        weights = None
        if self.elementwise_affine:
            weights = Term("weights", size, "prod(normalized_shape)", prod_str(*shape))
        per = 4 if self.elementwise_affine else 3
        rule = "square, add, multiply by 1/rms" + (" + weight 1" if self.elementwise_affine else "")
        ops = Term("other_ops", n * per, f"elements*{per} ({rule})", prod_str(*x, per))
        return Analysis(
            outputs=(x,),
            weights=weights,
            other_ops=ops,
            memory=MemoryContract(saved_inputs=(0,), saved_extra_elements=rows + (n if self.elementwise_affine else 0)),
        )


@register_layer("layerscale")
@record
class LayerScale(Layer):
    """A learned scale per feature of the last axis, ``x * gamma`` (CaiT's and timm's
    ``LayerScale``, Keras ConvNeXt's ``LayerScale``). ``dim=None`` is inferred from the input.

    Params: ``dim`` weights. Other ops: 1 multiply per element. Saves the input (the gradient
    of gamma needs it).

    >>> from netsize import analyze_layer
    >>> analyze_layer("ls", LayerScale(), ((1, 7, 7, 96),)).params
    96
    """

    dim: int | None = None

    kind: ClassVar[str] = "LayerScale"
    preserves_spatial: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if self.dim is not None and self.dim <= 0:
            raise NetsizeError(f"dim must be positive (got {self.dim})")

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        if not x[1:]:
            raise NetsizeError(f"needs a feature axis but receives {shape_str(x)}")
        d = x[-1]
        if self.dim is not None and self.dim != d:
            raise NetsizeError(f"expects {self.dim:,} features on the last axis but receives {d:,} "
                               f"({shape_str(x)}). Set dim to {d}, or leave it out to infer it.")
        return Analysis(
            outputs=(x,),
            weights=Term("weights", d, "dim", str(d)),
            other_ops=Term("other_ops", elements(x), "elements*1 (weight 1)", prod_str(*x, 1)),
            memory=MemoryContract(saved_inputs=(0,)),
        )
