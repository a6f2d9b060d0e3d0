"""Upsampling by interpolation: torch ``Upsample`` / ``interpolate`` and Keras ``UpSampling1D/2D/3D``.

Shape: each spatial axis becomes ``size`` or ``floor(I * scale_factor)``, computed as PyTorch
does it (a double-precision product, truncated), so ``floor(100 * 2.3) = 229``. 1 to 3 spatial
axes: (N, C, L), (N, C, H, W), (N, C, D, H, W), or channels last.

Other ops: one per interpolation tap per output element (each tap is a weighted add of one
input neighbour; the per-axis weights are not counted): nearest and nearest-exact 0, linear 2,
bilinear 4, trilinear 8, bicubic 16. No params, no multiply-adds. Backward needs only the
sizes: nothing is saved.
"""

from __future__ import annotations

import math
from typing import ClassVar

from netsize._errors import NetsizeError
from netsize._i18n import register_messages
from netsize._layer import Analysis, Context, Layer, MemoryContract
from netsize._record import record
from netsize._registry import register_layer
from netsize._shape import Shape, elements, join_channels, shape_str, split_channels
from netsize._term import Message, Term, message, prod_str

__all__ = ["UpSampling", "Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d"]

register_messages(
    {
        "note.upsample.floored": {
            "en": "not exact: {size}*{scale} = {product}, floored to {result}",
            "zh": "不是整数：{size}*{scale} = {product}，向下取整为 {result}",
        },
    }
)

# Interpolation taps per output element, and the input rank each mode needs (None: 3 to 5).
TAPS = {"nearest": 0, "nearest-exact": 0, "linear": 2, "bilinear": 4, "bicubic": 16, "trilinear": 8}
_RANK = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}
_AXES = {1: ("O_L",), 2: ("O_H", "O_W"), 3: ("O_D", "O_H", "O_W")}

Sizes = int | tuple[int, ...] | None
Scales = float | tuple[float, ...] | None


def _per_axis(value: float | tuple[float, ...], n: int, what: str) -> tuple[float, ...]:
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise NetsizeError(f"{what} {tuple(value)} has {len(value)} entries but the input has {n} spatial axes")
        return tuple(value)
    return (value,) * n


@register_layer("upsample", "interpolate")
@record
class Upsample(Layer):
    """``torch.nn.Upsample`` / ``F.interpolate``: give ``size`` (output spatial size) or
    ``scale_factor`` (int, float or one per axis), not both.

    ``O = floor(I * scale_factor)`` per spatial axis (or ``size``). Other ops:
    ``out_elements * taps`` with taps nearest 0, linear 2, bilinear 4, trilinear 8, bicubic 16.
    """

    size: Sizes = None
    scale_factor: Scales = None
    mode: str = "nearest"
    align_corners: bool | None = None
    recompute_scale_factor: bool | None = None

    kind: ClassVar[str] = "Upsample"

    def __post_init__(self) -> None:
        for name in ("size", "scale_factor"):
            v = getattr(self, name)
            if isinstance(v, list):
                object.__setattr__(self, name, tuple(v))
        if self.mode not in TAPS:
            raise NetsizeError(f"mode must be one of {', '.join(TAPS)} (got {self.mode!r})")
        if (self.size is None) == (self.scale_factor is None):
            raise NetsizeError("give exactly one of size or scale_factor")
        if self.align_corners is not None and self.mode in ("nearest", "nearest-exact"):
            raise NetsizeError(
                f"align_corners only applies to linear, bilinear, bicubic and trilinear modes (mode is {self.mode!r})"
            )
        sizes = self.size if isinstance(self.size, tuple) else (self.size,)
        if self.size is not None and any(not isinstance(s, int) or s <= 0 for s in sizes):
            raise NetsizeError(f"size must be positive integers (got {self.size!r})")
        scales = self.scale_factor if isinstance(self.scale_factor, tuple) else (self.scale_factor,)
        if self.scale_factor is not None and any(not isinstance(s, (int, float)) or s <= 0 for s in scales):
            raise NetsizeError(f"scale_factor must be positive numbers (got {self.scale_factor!r})")

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        rank = len(x)
        if not 3 <= rank <= 5:
            raise NetsizeError(f"needs a 3-d, 4-d or 5-d input (N, C, 1 to 3 spatial axes) but receives {rank}-d")
        need = _RANK.get(self.mode)
        if need is not None and rank != need:
            raise NetsizeError(f"mode {self.mode!r} needs a {need}-d input but receives {rank}-d {shape_str(x)}")
        n, c, spatial = split_channels(x, ctx.layout, rank - 2, self.kind)
        names = _AXES[len(spatial)]
        terms = []
        out_spatial: list[int] = []
        if self.size is not None:
            sizes = [int(v) for v in _per_axis(self.size, len(spatial), "size")]
            for name, o in zip(names, sizes, strict=True):
                terms.append(Term(name, o, "size", str(o)))
                out_spatial.append(o)
        else:
            assert self.scale_factor is not None
            scales = _per_axis(self.scale_factor, len(spatial), "scale_factor")
            for name, i, s in zip(names, spatial, scales, strict=True):
                product = float(i) * float(s)  # as PyTorch: a double product, truncated
                o = math.floor(product)
                if o == 0:
                    raise NetsizeError(
                        f"scale_factor {s} shrinks spatial size {i} to floor({i}*{s}) = 0; the output would be empty"
                    )
                notes: tuple[Message, ...] = ()
                if o != product:
                    notes = (message("note.upsample.floored", size=i, scale=s, product=f"{product:g}", result=o),)
                terms.append(Term(name, o, "floor(I*scale)", f"floor({i}*{s})", notes))
                out_spatial.append(o)
        out = join_channels(n, c, tuple(out_spatial), ctx.layout)
        taps = TAPS[self.mode]
        ops = Term(
            "other_ops",
            elements(out) * taps,
            f"out_elements*{taps} ({self.mode}: {taps} taps)",
            prod_str(*out, taps),
        )
        return Analysis(outputs=(out,), shape_terms=tuple(terms), other_ops=ops, memory=MemoryContract(saved_inputs=()))


@register_layer("upsamplingnearest2d")
@record
class UpsamplingNearest2d(Upsample):
    """``torch.nn.UpsamplingNearest2d``: Upsample with mode nearest on (N, C, H, W)."""

    kind = "UpsamplingNearest2d"

    def __post_init__(self) -> None:
        if self.mode != "nearest":
            raise NetsizeError(f"UpsamplingNearest2d always uses mode 'nearest' (got {self.mode!r})")
        super().__post_init__()


@register_layer("upsamplingbilinear2d")
@record
class UpsamplingBilinear2d(Upsample):
    """``torch.nn.UpsamplingBilinear2d``: Upsample with mode bilinear, align_corners=True."""

    mode: str = "bilinear"
    align_corners: bool | None = True

    kind = "UpsamplingBilinear2d"

    def __post_init__(self) -> None:
        if self.mode != "bilinear":
            raise NetsizeError(f"UpsamplingBilinear2d always uses mode 'bilinear' (got {self.mode!r})")
        super().__post_init__()


_KERAS_MODES = {"nearest": "nearest", "bilinear": "bilinear", "bicubic": "bicubic"}


@register_layer("upsampling1d", "upsampling2d", "upsampling3d")
@record
class UpSampling(Layer):
    """Keras ``UpSampling1D/2D/3D``: ``size`` is the integer factor per spatial axis (an int or
    one per axis), ``interpolation`` nearest (any rank) or bilinear / bicubic (2-d).
    ``O = I*size``; other ops as :class:`Upsample`."""

    size: int | tuple[int, ...] = 2
    interpolation: str = "nearest"

    kind: ClassVar[str] = "UpSampling"

    def __post_init__(self) -> None:
        if isinstance(self.size, list):
            object.__setattr__(self, "size", tuple(self.size))
        sizes = self.size if isinstance(self.size, tuple) else (self.size,)
        if any(not isinstance(s, int) or s <= 0 for s in sizes):
            raise NetsizeError(f"size (the upsampling factor) must be positive integers (got {self.size!r})")
        if self.interpolation not in _KERAS_MODES:
            raise NetsizeError(f"interpolation must be one of {', '.join(_KERAS_MODES)} (got {self.interpolation!r})")

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        mode = _KERAS_MODES[self.interpolation]
        return Upsample(scale_factor=self.size, mode=mode).analyze(inputs, ctx)
