"""Learned tokens and scales of vision and contrastive transformers: a class token prepended to
the patch sequence (ViT, CLIP), a learned query repeated per sample (SigLIP's attention-pooling
probe), a mask token blended into masked patches (SimMIM), and the learned temperature (and
bias) of contrastive logits (CLIP's ``logit_scale``, SigLIP's ``logit_scale`` and ``logit_bias``).

Each is a parameter used as a value: its elements are weights; copying it to every sample is
data movement (no multiply-adds). Sequences are ``(N, S, D)``.
"""

from __future__ import annotations

from netsize._errors import NetsizeError
from netsize._layer import Analysis, Context, Layer, MemoryContract, required
from netsize._record import record
from netsize._registry import register_layer
from netsize._shape import Shape, elements, shape_str
from netsize._term import Term, prod_str

__all__ = ["LearnedQuery", "LogitBias", "LogitScale", "MaskToken", "PrependTokens"]


def _sequence(x: Shape, features: int, what: str) -> tuple[int, int, int]:
    if len(x) != 3 or x[2] != features:
        raise NetsizeError(f"{what} needs a sequence (N, S, {features}), got {shape_str(x)}")
    return x[0], x[1], x[2]


def _check(features: int, count: int = 1) -> None:
    if features <= 0 or count <= 0:
        raise NetsizeError(f"token sizes must be positive (features={features}, count={count})")


@register_layer("prepend_tokens", "class_token", "cls_token")
@record
class PrependTokens(Layer):
    """``count`` learned tokens put before a sequence: ``(N, S, D) -> (N, S + count, D)``
    (ViT's ``cls_token``, CLIP's ``class_embedding``: ``cat([token.expand(N, 1, D), x], 1)``).

    Weights ``count*D``; no ops; ``cat`` saves nothing for backward.

    >>> from netsize import analyze_layer
    >>> analyze_layer("cls", PrependTokens(768), ((1, 196, 768),)).output_shape
    (1, 197, 768)
    """

    features: int = required()
    count: int = 1

    kind = "PrependTokens"

    def __post_init__(self) -> None:
        _check(self.features, self.count)

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        n, s, d = _sequence(x, self.features, "PrependTokens")
        return Analysis(
            outputs=((n, s + self.count, d),),
            shape_terms=(Term("O_S", s + self.count, "S + tokens", f"{s} + {self.count}"),),
            weights=Term("weights", self.count * d, "tokens*D", prod_str(self.count, d)),
            memory=MemoryContract(saved_inputs=()),
        )


@register_layer("learned_query", "probe")
@record
class LearnedQuery(Layer):
    """``count`` learned query tokens repeated for every sample of the input:
    ``(N, S, D) -> (N, count, D)`` (SigLIP's attention-pooling ``probe.repeat(N, 1, 1)``; the
    input gives only the batch size). Weights ``count*D``; no ops; nothing saved.

    >>> from netsize import analyze_layer
    >>> analyze_layer("probe", LearnedQuery(768), ((2, 196, 768),)).output_shape
    (2, 1, 768)
    """

    features: int = required()
    count: int = 1

    kind = "LearnedQuery"

    def __post_init__(self) -> None:
        _check(self.features, self.count)

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        n, _, d = _sequence(x, self.features, "LearnedQuery")
        return Analysis(
            outputs=((n, self.count, d),),
            weights=Term("weights", self.count * d, "tokens*D", prod_str(self.count, d)),
            memory=MemoryContract(saved_inputs=()),
        )


@register_layer("mask_token")
@record
class MaskToken(Layer):
    """A learned token that replaces masked positions of a sequence (SimMIM,
    ``ViTForMaskedImageModeling``): ``x*(1 - mask) + token*mask`` with a per-position mask.
    ``(N, S, D) -> (N, S, D)``; weights ``D``. ``used=False``: the model holds the token but its
    forward is given no mask (the parameter is counted, no work). Other ops: 4 per element
    (subtract, two multiplies, add); the mask ``(N, S)`` is data, not counted as an input.
    """

    features: int = required()
    used: bool = True

    kind = "MaskToken"
    preserves_spatial = True

    def __post_init__(self) -> None:
        _check(self.features)

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        _sequence(x, self.features, "MaskToken")
        ops = Term("other_ops", 4 * elements(x), "4*elements (x*(1 - m) + t*m)", prod_str(4, *x))
        return Analysis(
            outputs=(x,),
            weights=Term("weights", self.features, "D", str(self.features)),
            other_ops=ops if self.used else None,
            memory=MemoryContract(saved_inputs=() if not self.used else None),
        )


@register_layer("logit_scale")
@record
class LogitScale(Layer):
    """A learned temperature on logits, ``x * exp(logit_scale)`` (CLIP, SigLIP): one weight
    whatever the input's shape. Other ops: one multiply per element, one ``exp``.

    >>> from netsize import analyze_layer
    >>> analyze_layer("logit_scale", LogitScale(), ((4, 4),)).params
    1
    """

    kind = "LogitScale"
    preserves_spatial = True

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        return Analysis(
            outputs=(x,),
            weights=Term("weights", 1, "1 (logit_scale)", "1"),
            other_ops=Term("other_ops", elements(x) + 1, "elements + 1 (exp)", f"{prod_str(*x)} + 1"),
        )


@register_layer("logit_bias")
@record
class LogitBias(Layer):
    """A learned scalar added to every logit (SigLIP's ``logit_bias``): one bias, one add per
    element, nothing saved.

    >>> from netsize import analyze_layer
    >>> analyze_layer("logit_bias", LogitBias(), ((4, 4),)).other_ops
    16
    """

    kind = "LogitBias"
    preserves_spatial = True

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        return Analysis(
            outputs=(x,),
            biases=Term("biases", 1, "1 (logit_bias)", "1"),
            other_ops=Term("other_ops", elements(x), "elements", prod_str(*x)),
            memory=MemoryContract(saved_inputs=()),
        )
