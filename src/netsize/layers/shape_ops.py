"""Layers that move elements without computing: Flatten, Unflatten, Reshape, Permute, Identity,
and Dropout (the identity at inference).

No params, no multiply-adds, no other ops. Views (Flatten, Unflatten, Reshape, Permute,
Identity) save nothing for backward (their backward needs only shapes) and their output reuses
the input's storage (``inplace``). Dropout in training saves its mask, as PyTorch does:

- ``Dropout``: a 1-byte bool mask per element (``saved_extra_bytes`` = elements; the fused
  ``native_dropout`` of CUDA; PyTorch's CPU path keeps a noise tensor of the same count in the
  activation dtype instead).
- ``Dropout1d/2d/3d`` and ``FeatureAlphaDropout``: one noise value per (sample, channel) in the
  activation dtype (``saved_extra_elements`` = N*C).
- ``AlphaDropout``: one noise value per element in the activation dtype.

``p = 0`` returns the input unchanged and saves nothing. Other ops are 0 for every dropout
(counted at inference, where dropout is the identity).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from netsize._errors import NetsizeError
from netsize._i18n import register_messages
from netsize._layer import Analysis, Context, Layer, MemoryContract
from netsize._record import record
from netsize._registry import register_layer
from netsize._shape import CHANNELS_LAST, Shape, elements, shape_str
from netsize._term import Term, message, prod_str

__all__ = [
    "AlphaDropout",
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "Dropout3d",
    "FeatureAlphaDropout",
    "Flatten",
    "Identity",
    "Permute",
    "Reshape",
    "Unflatten",
]

register_messages(
    {
        "note.reshape.inferred": {
            "en": "-1 inferred: {total:,} elements / {known:,} = {value:,}",
            "zh": "-1 由推断得出：{total:,} 个元素 / {known:,} = {value:,}",
        },
        "note.dropout.mask": {
            "en": "training saves a 1-byte mask per element ({count:,} bytes); identity at inference",
            "zh": "训练时每个元素保存 1 字节掩码（共 {count:,} 字节）；推理时为恒等映射",
        },
        "note.dropout.noise": {
            "en": "training saves {count:,} noise values in the activation dtype; identity at inference",
            "zh": "训练时以激活的数据类型保存 {count:,} 个噪声值；推理时为恒等映射",
        },
        "inferred_size": {"en": "inferred size (-1)", "zh": "推断的大小（-1）"},
        "saved_mask_bytes": {"en": "saved mask bytes", "zh": "保存的掩码字节数"},
        "saved_noise_elements": {"en": "saved noise elements", "zh": "保存的噪声元素个数"},
    }
)


def _dim(dim: int, rank: int, what: str = "dim") -> int:
    if not -rank <= dim < rank:
        raise NetsizeError(f"{what} {dim} is out of range for a {rank}-d input (use {-rank}..{rank - 1})")
    return dim % rank


def _view(out: Shape, terms: tuple[Term, ...] = ()) -> Analysis:
    return Analysis(outputs=(out,), shape_terms=terms, memory=MemoryContract(saved_inputs=(), inplace=True))


@register_layer("identity")
@record
class Identity(Layer):
    """Returns its input: same shape, nothing counted, nothing saved."""

    kind: ClassVar[str] = "Identity"
    preserves_spatial: ClassVar[bool] = True

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        return _view(x)


@register_layer("flatten")
@record
class Flatten(Layer):
    """Merges axes ``start_dim..end_dim`` (batch axis included in the numbering, as torch):
    ``O = I_start*...*I_end``. Keras' Flatten (channels_last) flattens the same axes in its own
    order: same count, same shape."""

    start_dim: int = 1
    end_dim: int = -1

    kind: ClassVar[str] = "Flatten"

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        rank = len(x)
        start, end = _dim(self.start_dim, rank, "start_dim"), _dim(self.end_dim, rank, "end_dim")
        if start > end:
            raise NetsizeError(
                f"start_dim {self.start_dim} (axis {start}) comes after end_dim {self.end_dim} (axis {end})"
            )
        merged = x[start : end + 1]
        size = elements(merged)
        names = "*".join(f"I_{i}" for i in range(start, end + 1))
        out = (*x[:start], size, *x[end + 1 :])
        return _view(out, (Term("O_F", size, names, prod_str(*merged)),))


@register_layer("unflatten")
@record
class Unflatten(Layer):
    """Splits axis ``dim`` into ``unflattened_size`` (one entry may be -1, inferred)."""

    dim: int = 1
    unflattened_size: tuple[int, ...] = ()

    kind: ClassVar[str] = "Unflatten"

    def __post_init__(self) -> None:
        object.__setattr__(self, "unflattened_size", tuple(self.unflattened_size))
        _check_target(self.unflattened_size, "unflattened_size")

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        axis = _dim(self.dim, len(x))
        sizes, terms = _infer(self.unflattened_size, x[axis], "unflattened_size", f"axis {axis} of {shape_str(x)}")
        return _view((*x[:axis], *sizes, *x[axis + 1 :]), terms)


def _check_target(target: Sequence[int], what: str) -> None:
    if not target:
        raise NetsizeError(f"{what} must name at least one size")
    if sum(1 for d in target if d == -1) > 1:
        raise NetsizeError(f"{what} {tuple(target)} has more than one -1; only one size can be inferred")
    bad = [d for d in target if d != -1 and (not isinstance(d, int) or d <= 0)]
    if bad:
        raise NetsizeError(f"{what} {tuple(target)}: sizes must be positive integers or one -1 (got {bad[0]!r})")


def _infer(target: tuple[int, ...], total: int, what: str, source: str) -> tuple[Shape, tuple[Term, ...]]:
    known = elements(tuple(d for d in target if d != -1))
    if -1 not in target:
        if known != total:
            raise NetsizeError(
                f"{what} {target} holds {known:,} elements per sample but the input has {total:,} ({source})"
            )
        return target, ()
    if total % known:
        raise NetsizeError(
            f"{what} {target}: cannot infer -1, {total:,} elements ({source}) are not divisible by {known:,}"
        )
    value = total // known
    note = message("note.reshape.inferred", total=total, known=known, value=value)
    term = Term("inferred_size", value, "elements/known", f"{total}/{known}", (note,))
    return tuple(value if d == -1 else d for d in target), (term,)


@register_layer("reshape", "view")
@record
class Reshape(Layer):
    """Reshapes each sample to ``shape`` (the batch axis is kept; one entry may be -1, inferred).
    The element counts must agree."""

    shape: tuple[int, ...] = ()

    kind: ClassVar[str] = "Reshape"

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(self.shape))
        _check_target(self.shape, "shape")

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        per_sample = elements(x[1:])
        sizes, terms = _infer(self.shape, per_sample, "target shape", f"per sample {shape_str(x[1:])}")
        return _view((x[0], *sizes), terms)


@register_layer("permute")
@record
class Permute(Layer):
    """Reorders axes. ``dims`` is either a permutation of all axes, batch included
    (``torch.permute``, torchvision's ``Permute([0, 2, 3, 1])``), or of the per-sample axes
    numbered from 1 (Keras ``Permute((2, 1))``); the length tells them apart."""

    dims: tuple[int, ...] = ()

    kind: ClassVar[str] = "Permute"

    def __post_init__(self) -> None:
        object.__setattr__(self, "dims", tuple(self.dims))
        if not self.dims:
            raise NetsizeError("dims must list the new order of the axes")

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        rank = len(x)
        if len(self.dims) == rank:
            order = tuple(_dim(d, rank, "dims entry") for d in self.dims)
            expected = tuple(range(rank))
        elif len(self.dims) == rank - 1:
            order = (0, *self.dims)  # Keras: per-sample axes numbered from 1
            expected = tuple(range(rank))
        else:
            raise NetsizeError(
                f"dims {self.dims} has {len(self.dims)} entries but the input {shape_str(x)} has {rank} axes "
                f"(give {rank}, batch included, or {rank - 1} numbered from 1)"
            )
        if tuple(sorted(order)) != expected:
            raise NetsizeError(f"dims {self.dims} is not a permutation of the axes of {shape_str(x)}")
        return _view(tuple(x[i] for i in order))


@record
class _Dropout(Layer):
    """Shared rule: same shape, no ops, mask or noise saved in training (see the module doc)."""

    p: float = 0.5
    inplace: bool = False

    kind: ClassVar[str] = "Dropout"
    preserves_spatial: ClassVar[bool] = True
    per_channel: ClassVar[bool] = False  # noise per (sample, channel) instead of per element
    mask_bytes: ClassVar[bool] = False  # a 1-byte bool mask (Dropout) instead of dtype noise
    honours_inplace: ClassVar[bool] = True  # torch.nn's AlphaDropout modules ignore inplace

    def __post_init__(self) -> None:
        if not 0 <= self.p <= 1:
            raise NetsizeError(f"dropout probability p must be between 0 and 1 (got {self.p})")

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        if self.per_channel and len(x) < 2:
            raise NetsizeError(f"needs a channel axis (N, C, ...) but receives {shape_str(x)}")
        if self.p == 0:
            # returns the input itself
            return Analysis(outputs=(x,), memory=MemoryContract(saved_inputs=(), inplace=True))
        inplace = self.inplace and self.honours_inplace
        if self.per_channel:
            c = x[-1] if ctx.layout == CHANNELS_LAST else x[1]
            count = x[0] * c
        else:
            count = elements(x)
        if self.mask_bytes:
            note = message("note.dropout.mask", count=count)
            term = Term("saved_mask_bytes", count, "elements*1 B", f"{prod_str(*x)}*1", (note,))
            return Analysis(
                outputs=(x,),
                memory=MemoryContract(saved_inputs=(), saved_extra_bytes=count, inplace=inplace),
                extra_terms=(term,),
            )
        note = message("note.dropout.noise", count=count)
        sym = "N*C" if self.per_channel else "elements"
        sub = f"{x[0]}*{count // x[0]}" if self.per_channel else prod_str(*x)
        term = Term("saved_noise_elements", count, sym, sub, (note,))
        memory = MemoryContract(saved_inputs=(), saved_extra_elements=count, inplace=inplace)
        return Analysis(outputs=(x,), memory=memory, extra_terms=(term,))


@register_layer("dropout")
@record
class Dropout(_Dropout):
    """Zeroes elements with probability ``p``; training saves a 1-byte mask per element."""

    kind = "Dropout"
    mask_bytes = True


@register_layer("dropout1d", "spatialdropout1d")
@record
class Dropout1d(_Dropout):
    """Zeroes whole channels of (N, C, L); training saves N*C noise values."""

    kind = "Dropout1d"
    per_channel = True


@register_layer("dropout2d", "spatialdropout2d")
@record
class Dropout2d(_Dropout):
    """Zeroes whole channels of (N, C, H, W); training saves N*C noise values."""

    kind = "Dropout2d"
    per_channel = True


@register_layer("dropout3d", "spatialdropout3d")
@record
class Dropout3d(_Dropout):
    """Zeroes whole channels of (N, C, D, H, W); training saves N*C noise values."""

    kind = "Dropout3d"
    per_channel = True


@register_layer("alphadropout")
@record
class AlphaDropout(_Dropout):
    """Dropout keeping SELU's mean and variance; training saves one noise value per element.
    ``inplace`` is accepted and ignored, as ``torch.nn.AlphaDropout`` does."""

    kind = "AlphaDropout"
    honours_inplace = False


@register_layer("featurealphadropout")
@record
class FeatureAlphaDropout(_Dropout):
    """AlphaDropout of whole channels; training saves N*C noise values. ``inplace`` is ignored,
    as ``torch.nn.FeatureAlphaDropout`` does."""

    kind = "FeatureAlphaDropout"
    honours_inplace = False
    per_channel = True
