"""Pooling: max and average (1-3 d), adaptive, and global (Keras) pooling.

Output size per axis follows PyTorch (``floor((I + 2P - D*(K - 1) - 1) / S) + 1``, ``ceil``
with ``ceil_mode``, dropping a last window that would start in the right padding) or
Keras' ``padding="same"`` (``ceil(I / S)``). Pooling has no parameters and no multiply-adds
(FlopCounterMode counts none); its work is other ops:

- max pooling: ``window elements - 1`` comparisons per output element;
- average pooling: ``window elements`` ops per output element (``window - 1`` adds and one
  divide);
- adaptive and global pooling: the same rules with each output's actual bin.

Window elements are the kernel's ``prod(K)`` positions, padding included.
"""

from __future__ import annotations

from math import prod
from typing import Any, ClassVar

from netsize._errors import NetsizeError
from netsize._layer import Analysis, Context, Layer, MemoryContract, Window, required
from netsize._record import record
from netsize._registry import register_layer
from netsize._shape import Shape, elements, join_channels, split_channels
from netsize._term import Term, prod_str
from netsize.layers.conv import (
    OUT_SYMBOLS,
    check_window_fits,
    freeze,
    parse_padding,
    per_axis,
    same_axis,
    window_axis,
)

__all__ = [
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "AdaptiveMaxPool3d",
    "AvgPool1d",
    "AvgPool2d",
    "AvgPool3d",
    "GlobalAvgPool1d",
    "GlobalAvgPool2d",
    "GlobalAvgPool3d",
    "GlobalMaxPool1d",
    "GlobalMaxPool2d",
    "GlobalMaxPool3d",
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
]

_KERNEL_SYMBOLS = {1: ("K",), 2: ("K_h", "K_w"), 3: ("K_d", "K_h", "K_w")}
_BIN_SYMBOLS = {1: ("B_L",), 2: ("B_H", "B_W"), 3: ("B_D", "B_H", "B_W")}
_INPUT_SYMBOLS = {1: ("I_L",), 2: ("I_H", "I_W"), 3: ("I_D", "I_H", "I_W")}
_INDEX_BYTES = 8  # int64 indices of max pooling


def _ops_term(is_max: bool, batch: int, channels: int, out: Shape, kernel: tuple[int, ...]) -> Term:
    """Other ops of a pool whose every output sees ``prod(kernel)`` window elements."""
    n = len(kernel)
    outs, window, window_sub = "*".join(OUT_SYMBOLS[n]), "*".join(_KERNEL_SYMBOLS[n]), prod_str(*kernel)
    count = batch * channels * prod(out)
    win = prod(kernel)
    if is_max:
        return Term(
            "other_ops",
            count * (win - 1),
            f"N*C*{outs}*({window} - 1) (comparisons: window elements - 1 per output)",
            f"{prod_str(batch, channels, *out)}*({window_sub} - 1)",
        )
    return Term(
        "other_ops",
        count * win,
        f"N*C*{outs}*{window} (window - 1 adds and 1 divide per output)",
        f"{prod_str(batch, channels, *out)}*{window_sub}",
    )


@record
class _Pool(Layer):
    """Fields and shape rule shared by max and average pooling (see the module docstring)."""

    kernel_size: int | tuple[int, ...] = required()
    stride: int | tuple[int, ...] | None = None  # None: the kernel size
    padding: Any = 0
    ceil_mode: bool = False
    # PyTorch refuses padding above half the kernel; ONNX (and so its frontend) allows it.
    padding_limit: bool = True

    spatial_dims: ClassVar[int] = 2
    is_max: ClassVar[bool] = True
    unpadded_fit: ClassVar[bool] = False  # AvgPool3d: PyTorch checks input >= kernel without padding

    def __post_init__(self) -> None:
        for name in ("kernel_size", "stride", "padding"):
            object.__setattr__(self, name, freeze(getattr(self, name)))
        n = self.spatial_dims
        kernel = per_axis(self.kernel_size, n, "kernel_size")
        if self.stride is not None:
            per_axis(self.stride, n, "stride")
        self._dilation_tuple()
        padding = parse_padding(self.padding, n)
        if isinstance(padding, tuple) and self.padding_limit:
            for k, (before, after) in zip(kernel, padding, strict=True):
                if max(before, after) > k // 2:
                    raise NetsizeError(
                        f"padding {max(before, after)} is more than half the kernel size {k} "
                        f"(PyTorch requires padding <= kernel_size // 2 = {k // 2}); "
                        f"use padding <= {k // 2} or a larger kernel"
                    )

    def _dilation_tuple(self) -> tuple[int, ...]:
        return (1,) * self.spatial_dims

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        n = self.spatial_dims
        batch, channels, spatial = split_channels(x, ctx.layout, n, self.kind)
        kernel = per_axis(self.kernel_size, n, "kernel_size")
        stride = kernel if self.stride is None else per_axis(self.stride, n, "stride")
        dilation = self._dilation_tuple()
        padding = parse_padding(self.padding, n)
        outs: list[int] = []
        terms: list[Term] = []
        pad_terms: list[Term] = []
        windows: list[Window] = []
        for i in range(n):
            size, k, s, d = spatial[i], kernel[i], stride[i], dilation[i]
            axis = OUT_SYMBOLS[n][i]
            if padding == "same":
                o, before, _, term, pad_term = same_axis(axis, "P_" + axis[2:], size, k, s, d)
                pad_terms.append(pad_term)
            else:
                before, after = padding[i] if isinstance(padding, tuple) else (0, 0)  # "valid"
                if self.unpadded_fit and size < k:
                    raise NetsizeError(
                        f"input size {size} along {axis[2:]} is smaller than the kernel size {k}; PyTorch's "
                        f"{self.kind} requires input >= kernel before padding. Use a kernel <= {size} or a larger input"
                    )
                if not self.ceil_mode:
                    check_window_fits(size, k, d, before, after, axis[2:])
                o, term = window_axis(axis, size, k, s, d, before, after, self.ceil_mode)
                if o < 1:
                    raise NetsizeError(
                        f"output size along {axis[2:]} would be {o} (= {term.substituted}); "
                        "use a smaller kernel, more padding or a larger input"
                    )
            outs.append(o)
            terms.append(term)
            windows.append(Window(k, s, before, d))
        out = tuple(outs)
        out_shape = join_channels(batch, channels, out, ctx.layout)
        return Analysis(
            outputs=self._outputs(out_shape),
            shape_terms=tuple(terms),
            other_ops=_ops_term(self.is_max, batch, channels, out, kernel),
            memory=MemoryContract(
                saved_inputs=(0,),
                saved_extra_bytes=_INDEX_BYTES * elements(out_shape) if self.is_max else 0,
            ),
            windows=tuple(windows),
            extra_terms=tuple(pad_terms),
        )

    def _outputs(self, out_shape: Shape) -> tuple[Shape, ...]:
        return (out_shape,)


@record
class _MaxPool(_Pool):
    """Max pooling. Other ops: ``prod(K) - 1`` comparisons per output element.

    Saved for backward (as PyTorch): its input and the int64 argmax indices (8 bytes per
    output element). ``return_indices=True`` makes the indices a second output.
    """

    dilation: int | tuple[int, ...] = 1
    return_indices: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "dilation", freeze(self.dilation))
        super().__post_init__()

    def _dilation_tuple(self) -> tuple[int, ...]:
        return per_axis(self.dilation, self.spatial_dims, "dilation")

    def _outputs(self, out_shape: Shape) -> tuple[Shape, ...]:
        return (out_shape, out_shape) if self.return_indices else (out_shape,)


@record
class _AvgPool(_Pool):
    """Average pooling. Other ops: ``prod(K)`` per output element (``prod(K) - 1`` adds, 1 divide).

    Saved for backward: its input, as PyTorch's ``avg_pool*d`` autograd node keeps ``self``.
    ``count_include_pad`` and ``divisor_override`` change values, not sizes or counts.
    ``dilation`` (ONNX only) spaces the window's ``prod(K)`` elements as a dilated max pool's.
    """

    count_include_pad: bool = True
    divisor_override: int | None = None
    dilation: int | tuple[int, ...] = 1  # ONNX AveragePool (opset 19); PyTorch has none

    is_max: ClassVar[bool] = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "dilation", freeze(self.dilation))
        super().__post_init__()

    def _dilation_tuple(self) -> tuple[int, ...]:
        return per_axis(self.dilation, self.spatial_dims, "dilation")


@register_layer("maxpool1d", "maxpooling1d")
@record
class MaxPool1d(_MaxPool):
    """1-d max pooling."""

    kind: ClassVar[str] = "MaxPool1d"
    spatial_dims: ClassVar[int] = 1


@register_layer("maxpool2d", "maxpooling2d")
@record
class MaxPool2d(_MaxPool):
    """2-d max pooling (Keras ``MaxPooling2D``; its ``pool_size`` is ``kernel_size``).

    >>> from netsize import analyze_layer
    >>> analyze_layer("pool1", MaxPool2d(3, stride=2), ((1, 96, 55, 55),)).output_shape
    (1, 96, 27, 27)
    """

    kind: ClassVar[str] = "MaxPool2d"
    spatial_dims: ClassVar[int] = 2


@register_layer("maxpool3d", "maxpooling3d")
@record
class MaxPool3d(_MaxPool):
    """3-d max pooling."""

    kind: ClassVar[str] = "MaxPool3d"
    spatial_dims: ClassVar[int] = 3


@register_layer("avgpool1d", "averagepooling1d")
@record
class AvgPool1d(_AvgPool):
    """1-d average pooling."""

    kind: ClassVar[str] = "AvgPool1d"
    spatial_dims: ClassVar[int] = 1


@register_layer("avgpool2d", "averagepooling2d")
@record
class AvgPool2d(_AvgPool):
    """2-d average pooling (Keras ``AveragePooling2D``)."""

    kind: ClassVar[str] = "AvgPool2d"
    spatial_dims: ClassVar[int] = 2


@register_layer("avgpool3d", "averagepooling3d")
@record
class AvgPool3d(_AvgPool):
    """3-d average pooling. As PyTorch's ``avg_pool3d``, each input size must be at least the
    kernel size before padding (``AvgPool1d``/``2d`` only need the padded input to fit)."""

    kind: ClassVar[str] = "AvgPool3d"
    spatial_dims: ClassVar[int] = 3
    unpadded_fit: ClassVar[bool] = True


# --- adaptive pooling --------------------------------------------------------------------------


def _bins(size: int, out: int) -> list[int]:
    """PyTorch's adaptive bins: bin ``i`` spans ``[floor(i*I/O), ceil((i+1)*I/O))``."""
    return [-(-(i + 1) * size // out) - (i * size // out) for i in range(out)]


@record
class _Adaptive(Layer):
    """Adaptive pooling to ``output_size`` (an int, or one entry per axis; ``None`` keeps the input size).

    Each output ``i`` along an axis pools the bin ``[floor(i*I/O), ceil((i+1)*I/O))``. Other
    ops use the actual bins: with ``B`` the sum of the bin sizes along each axis, max pooling
    does ``N*C*(prod(B) - prod(O))`` comparisons and average pooling ``N*C*prod(B)`` ops
    (window - 1 adds and 1 divide per output). Saved for backward (as PyTorch): the input,
    plus int64 indices for max pooling. The receptive field ends here (bins vary).
    """

    output_size: Any = None

    spatial_dims: ClassVar[int] = 2
    is_max: ClassVar[bool] = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "output_size", freeze(self.output_size))
        self._sizes()

    def _sizes(self) -> tuple[int | None, ...]:
        n, value = self.spatial_dims, self.output_size
        ok = isinstance(value, int) and not isinstance(value, bool)
        sizes: tuple[Any, ...] = (value,) * n if ok else value if isinstance(value, tuple) else ()
        if len(sizes) != n or not all(
            s is None or (isinstance(s, int) and not isinstance(s, bool) and s > 0) for s in sizes
        ):
            raise NetsizeError(
                f"output_size must be a positive int or {n} entries, each a positive int or None "
                f"(got {self.output_size!r})"
            )
        return tuple(sizes)

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        n = self.spatial_dims
        batch, channels, spatial = split_channels(x, ctx.layout, n, self.kind)
        terms: list[Term] = []
        bin_terms: list[Term] = []
        for i, (size, want) in enumerate(zip(spatial, self._sizes(), strict=True)):
            o = size if want is None else want
            sym = "I" if want is None else "output_size"
            terms.append(Term(OUT_SYMBOLS[n][i], o, sym, str(size) if want is None else str(want)))
            bins = _bins(size, o)
            sub = "+".join(str(b) for b in bins) if len(bins) <= 16 else ""
            bin_terms.append(
                Term(
                    _BIN_SYMBOLS[n][i],
                    sum(bins),
                    "sum of bin sizes, bin i = [floor(i*I/O), ceil((i+1)*I/O))",
                    sub,
                )
            )
        out = tuple(t.value for t in terms)
        out_shape = join_channels(batch, channels, out, ctx.layout)
        window = "*".join(_BIN_SYMBOLS[n])
        covered = prod(t.value for t in bin_terms)
        count = batch * channels
        outs_sym = "*".join(OUT_SYMBOLS[n])
        if self.is_max:
            ops = Term(
                "other_ops",
                count * (covered - prod(out)),
                f"N*C*({window} - {outs_sym}) (comparisons: bin elements - 1 per output)",
                f"{count}*({prod_str(*(t.value for t in bin_terms))} - {prod_str(*out)})",
            )
        else:
            ops = Term(
                "other_ops",
                count * covered,
                f"N*C*{window} (bin - 1 adds and 1 divide per output)",
                f"{prod_str(batch, channels, *(t.value for t in bin_terms))}",
            )
        return Analysis(
            outputs=self._outputs(out_shape),
            shape_terms=tuple(terms),
            other_ops=ops,
            memory=MemoryContract(
                saved_inputs=(0,),
                saved_extra_bytes=_INDEX_BYTES * elements(out_shape) if self.is_max else 0,
            ),
            windows=None,
            extra_terms=tuple(bin_terms),
        )

    def _outputs(self, out_shape: Shape) -> tuple[Shape, ...]:
        return (out_shape,)


@record
class _AdaptiveMax(_Adaptive):
    return_indices: bool = False

    is_max: ClassVar[bool] = True

    def _outputs(self, out_shape: Shape) -> tuple[Shape, ...]:
        return (out_shape, out_shape) if self.return_indices else (out_shape,)


@register_layer("adaptiveavgpool1d")
@record
class AdaptiveAvgPool1d(_Adaptive):
    """1-d adaptive average pooling."""

    kind: ClassVar[str] = "AdaptiveAvgPool1d"
    spatial_dims: ClassVar[int] = 1


@register_layer("adaptiveavgpool2d")
@record
class AdaptiveAvgPool2d(_Adaptive):
    """2-d adaptive average pooling (AlexNet's ``AdaptiveAvgPool2d((6, 6))``)."""

    kind: ClassVar[str] = "AdaptiveAvgPool2d"
    spatial_dims: ClassVar[int] = 2


@register_layer("adaptiveavgpool3d")
@record
class AdaptiveAvgPool3d(_Adaptive):
    """3-d adaptive average pooling."""

    kind: ClassVar[str] = "AdaptiveAvgPool3d"
    spatial_dims: ClassVar[int] = 3


@register_layer("adaptivemaxpool1d")
@record
class AdaptiveMaxPool1d(_AdaptiveMax):
    """1-d adaptive max pooling."""

    kind: ClassVar[str] = "AdaptiveMaxPool1d"
    spatial_dims: ClassVar[int] = 1


@register_layer("adaptivemaxpool2d")
@record
class AdaptiveMaxPool2d(_AdaptiveMax):
    """2-d adaptive max pooling."""

    kind: ClassVar[str] = "AdaptiveMaxPool2d"
    spatial_dims: ClassVar[int] = 2


@register_layer("adaptivemaxpool3d")
@record
class AdaptiveMaxPool3d(_AdaptiveMax):
    """3-d adaptive max pooling."""

    kind: ClassVar[str] = "AdaptiveMaxPool3d"
    spatial_dims: ClassVar[int] = 3


# --- global pooling (Keras) --------------------------------------------------------------------


@record
class _Global(Layer):
    """Keras global pooling over all spatial axes: ``(N, C, *spatial) -> (N, C)``.

    ``keepdims=True`` keeps size-1 spatial axes. Other ops: average ``N*C*prod(I)`` (window - 1
    adds and 1 divide per output), max ``N*C*(prod(I) - 1)`` comparisons. Saved for backward
    as the PyTorch equivalent: ``x.mean(dims)`` keeps nothing; ``x.amax(dims)`` keeps its
    input and its output.
    """

    keepdims: bool = False

    spatial_dims: ClassVar[int] = 2
    is_max: ClassVar[bool] = False

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        n = self.spatial_dims
        batch, channels, spatial = split_channels(x, ctx.layout, n, self.kind)
        out_shape = join_channels(batch, channels, (1,) * n, ctx.layout) if self.keepdims else (batch, channels)
        ins = "*".join(_INPUT_SYMBOLS[n])
        base = prod_str(batch, channels)
        if self.is_max:
            ops = Term(
                "other_ops",
                batch * channels * (prod(spatial) - 1),
                f"N*C*({ins} - 1) (comparisons: window elements - 1 per output)",
                f"{base}*({prod_str(*spatial)} - 1)",
            )
        else:
            ops = Term(
                "other_ops",
                batch * channels * prod(spatial),
                f"N*C*{ins} (window - 1 adds and 1 divide per output)",
                f"{base}*{prod_str(*spatial)}",
            )
        return Analysis(
            outputs=(out_shape,),
            other_ops=ops,
            memory=MemoryContract(saved_inputs=(0,) if self.is_max else (), saved_outputs=(0,) if self.is_max else ()),
            windows=None,
        )


@record
class _GlobalMax(_Global):
    is_max: ClassVar[bool] = True


@register_layer("globalavgpool1d", "globalaveragepooling1d")
@record
class GlobalAvgPool1d(_Global):
    """Keras ``GlobalAveragePooling1D``: ``(N, C, L) -> (N, C)``."""

    kind: ClassVar[str] = "GlobalAvgPool1d"
    spatial_dims: ClassVar[int] = 1


@register_layer("globalavgpool2d", "globalaveragepooling2d", "globalavgpool")
@record
class GlobalAvgPool2d(_Global):
    """Keras ``GlobalAveragePooling2D``: ``(N, C, H, W) -> (N, C)``."""

    kind: ClassVar[str] = "GlobalAvgPool2d"
    spatial_dims: ClassVar[int] = 2


@register_layer("globalavgpool3d", "globalaveragepooling3d")
@record
class GlobalAvgPool3d(_Global):
    """Keras ``GlobalAveragePooling3D``: ``(N, C, D, H, W) -> (N, C)``."""

    kind: ClassVar[str] = "GlobalAvgPool3d"
    spatial_dims: ClassVar[int] = 3


@register_layer("globalmaxpool1d", "globalmaxpooling1d")
@record
class GlobalMaxPool1d(_GlobalMax):
    """Keras ``GlobalMaxPooling1D``: ``(N, C, L) -> (N, C)``."""

    kind: ClassVar[str] = "GlobalMaxPool1d"
    spatial_dims: ClassVar[int] = 1


@register_layer("globalmaxpool2d", "globalmaxpooling2d", "globalmaxpool")
@record
class GlobalMaxPool2d(_GlobalMax):
    """Keras ``GlobalMaxPooling2D``: ``(N, C, H, W) -> (N, C)``."""

    kind: ClassVar[str] = "GlobalMaxPool2d"
    spatial_dims: ClassVar[int] = 2


@register_layer("globalmaxpool3d", "globalmaxpooling3d")
@record
class GlobalMaxPool3d(_GlobalMax):
    """Keras ``GlobalMaxPooling3D``: ``(N, C, D, H, W) -> (N, C)``."""

    kind: ClassVar[str] = "GlobalMaxPool3d"
    spatial_dims: ClassVar[int] = 3
