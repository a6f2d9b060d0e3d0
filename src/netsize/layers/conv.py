"""Convolutions: ``Conv1d/2d/3d`` and ``ConvTranspose1d/2d/3d`` (channels-first or channels-last).

Output size per spatial axis (PyTorch's rule)::

    O = floor((I + P_before + P_after - D*(K - 1) - 1) / S) + 1

which with ``D = 1`` and symmetric padding is the familiar ``floor((I - K + 2P) / S) + 1``.
``padding="same"`` follows TensorFlow/Keras: ``O = ceil(I / S)``, total padding
``max((O - 1)*S + D*(K - 1) + 1 - I, 0)`` with the odd pixel at the end (PyTorch allows
``"same"`` only with stride 1, where both rules agree). Transposed convolutions::

    O = (I - 1)*S - P_before - P_after + D*(K - 1) + output_padding + 1

The window helpers here are shared with :mod:`netsize.layers.pool`.
"""

from __future__ import annotations

from math import prod
from typing import Any, ClassVar

from netsize._errors import NetsizeError
from netsize._i18n import register_messages
from netsize._layer import Analysis, Context, Layer, MemoryContract, Window, required
from netsize._record import record
from netsize._registry import register_layer
from netsize._shape import Shape, join_channels, shape_str, split_channels
from netsize._term import Message, Term, floor_div_exact, message, prod_str

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]

register_messages(
    {
        "conv.same_split": {
            "en": "'same' padding: {before} before, {after} after",
            "zh": "'same' 填充：前 {before}，后 {after}",
        },
        "conv.same_split_odd": {
            "en": "'same' padding: {before} before, {after} after (the odd pixel at the end)",
            "zh": "'same' 填充：前 {before}，后 {after}（多出的一个像素补在末尾）",
        },
        "conv.keras_valid": {
            "en": "Keras 'valid' transposed convolution: O = I*S + max(D*(K - 1) + 1 - S, 0)",
            "zh": "Keras 'valid' 转置卷积：O = I*S + max(D*(K - 1) + 1 - S, 0)",
        },
        "conv.keras_same": {
            "en": "Keras 'same' transposed convolution: O = I*S",
            "zh": "Keras 'same' 转置卷积：O = I*S",
        },
        "pool.ceil_drop": {
            "en": "ceil_mode: the last window would start at {start} >= I + P_b = {limit}, in the right padding: "
            "dropped, so O = {result}",
            "zh": "ceil_mode：最后一个窗口起点 {start} >= I + P_b = {limit}，落在右侧填充内，舍去，故 O = {result}",
        },
    }
)

#: Output-size symbols per number of spatial axes.
OUT_SYMBOLS = {1: ("O_L",), 2: ("O_H", "O_W"), 3: ("O_D", "O_H", "O_W")}
#: Padding symbols (for the 'same' explanation) per number of spatial axes.
PAD_SYMBOLS = {1: ("P_L",), 2: ("P_H", "P_W"), 3: ("P_D", "P_H", "P_W")}
_KERNEL_SYMBOLS = {1: ("K",), 2: ("K_h", "K_w"), 3: ("K_d", "K_h", "K_w")}
_INPUT_SYMBOLS = {1: ("I_L",), 2: ("I_H", "I_W"), 3: ("I_D", "I_H", "I_W")}

Padding = tuple[tuple[int, int], ...]


# --- shared window helpers (also used by pool.py) ----------------------------------------------


def freeze(value: Any) -> Any:
    """Lists (from YAML/JSON specs) become tuples, so the frozen dataclass stays hashable."""
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def per_axis(value: Any, n: int, name: str, minimum: int = 1) -> tuple[int, ...]:
    """An int or a tuple of ``n`` ints, as a tuple of ``n`` ints ``>= minimum``."""
    if _is_int(value):
        values: tuple[int, ...] = (value,) * n
    elif isinstance(value, tuple) and len(value) == n and all(_is_int(v) for v in value):
        values = value
    else:
        raise NetsizeError(f"{name} must be an int or a tuple of {n} ints (got {value!r})")
    if any(v < minimum for v in values):
        bound = "positive" if minimum == 1 else "at least 0"
        raise NetsizeError(f"{name} must be {bound} (got {value!r})")
    return values


def parse_padding(value: Any, n: int) -> str | Padding:
    """``"same"``, ``"valid"``, or ``((before, after), ...)`` per axis from any accepted form.

    Accepted: an int, ``n`` ints (symmetric per axis), ``n`` pairs (before, after),
    ``"valid"`` or ``"same"`` (any case).
    """
    if isinstance(value, str):
        mode = value.lower()
        if mode not in ("same", "valid"):
            raise NetsizeError(f"padding must be an int, a tuple, 'valid' or 'same' (got {value!r})")
        return mode
    if isinstance(value, tuple) and len(value) == n and all(isinstance(v, tuple) for v in value):
        pairs = value
        if not all(len(p) == 2 and all(_is_int(x) for x in p) for p in pairs):
            raise NetsizeError(f"padding pairs must be (before, after) ints per axis (got {value!r})")
        if any(x < 0 for p in pairs for x in p):
            raise NetsizeError(f"padding must be at least 0 (got {value!r})")
        return tuple((p[0], p[1]) for p in pairs)
    try:
        sym = per_axis(value, n, "padding", minimum=0)
    except NetsizeError:
        raise NetsizeError(
            f"padding must be an int, {n} ints, {n} (before, after) pairs, 'valid' or 'same' (got {value!r})"
        ) from None
    return tuple((p, p) for p in sym)


def same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int, int]:
    """TensorFlow's 'same': output ``ceil(I/S)`` and padding (before, after), odd pixel after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
    return out, total // 2, total - total // 2


def check_window_fits(size: int, kernel: int, dilation: int, before: int, after: int, axis: str) -> None:
    """Raise when the (dilated) window is larger than the padded input."""
    span = dilation * (kernel - 1) + 1
    padded = size + before + after
    if span > padded:
        dilated = f" (dilated: {dilation}*({kernel} - 1) + 1 = {span})" if dilation > 1 else ""
        pads = f"{before} + {after}" if before != after else f"2*{before}"
        raise NetsizeError(
            f"kernel {kernel}{dilated} is larger than the padded input along {axis}: "
            f"{padded} (= {size} + {pads}). Use a smaller kernel or dilation, more padding, or a larger input"
        )


def window_axis(
    symbol: str,
    size: int,
    kernel: int,
    stride: int,
    dilation: int,
    before: int,
    after: int,
    ceil_mode: bool = False,
) -> tuple[int, Term]:
    """Output size along one axis of a sliding window (conv or pool) and its term.

    ``ceil_mode`` is PyTorch's pooling rule: round up, but drop a last window that would
    start in the right padding.
    """
    rnd = "ceil" if ceil_mode else "floor"
    if before == after:
        pad_sym, pad_sub = "2P", f"2*{before}"
        if dilation == 1:
            symbolic = f"{rnd}((I - K + {pad_sym}) / S) + 1"
            substituted = f"{rnd}(({size} - {kernel} + {pad_sub}) / {stride}) + 1"
        else:
            symbolic = f"{rnd}((I + {pad_sym} - D*(K - 1) - 1) / S) + 1"
            substituted = f"{rnd}(({size} + {pad_sub} - {dilation}*({kernel} - 1) - 1) / {stride}) + 1"
    elif dilation == 1:
        symbolic = f"{rnd}((I + P_b + P_a - K) / S) + 1"
        substituted = f"{rnd}(({size} + {before} + {after} - {kernel}) / {stride}) + 1"
    else:
        symbolic = f"{rnd}((I + P_b + P_a - D*(K - 1) - 1) / S) + 1"
        substituted = f"{rnd}(({size} + {before} + {after} - {dilation}*({kernel} - 1) - 1) / {stride}) + 1"
    numerator = size + before + after - dilation * (kernel - 1) - 1
    quotient, notes = floor_div_exact(numerator, stride, ceil=ceil_mode)
    out = quotient + 1
    if ceil_mode and (out - 1) * stride >= size + before:
        notes = (
            *notes,
            message("pool.ceil_drop", start=(out - 1) * stride, limit=size + before, result=out - 1),
        )
        out -= 1
    return out, Term(symbol, out, symbolic, substituted, notes)


def same_axis(
    symbol: str, pad_symbol: str, size: int, kernel: int, stride: int, dilation: int
) -> tuple[int, int, int, Term, Term]:
    """'same' padding along one axis: output size, padding before/after, and their terms."""
    out, before, after = same_padding(size, kernel, stride, dilation)
    _, notes = floor_div_exact(size, stride, ceil=True)
    out_term = Term(symbol, out, "ceil(I / S)", f"ceil({size} / {stride})", notes)
    if dilation == 1:
        pad_sym, pad_sub = "max((O - 1)*S + K - I, 0)", f"max(({out} - 1)*{stride} + {kernel} - {size}, 0)"
    else:
        pad_sym = "max((O - 1)*S + D*(K - 1) + 1 - I, 0)"
        pad_sub = f"max(({out} - 1)*{stride} + {dilation}*({kernel} - 1) + 1 - {size}, 0)"
    key = "conv.same_split" if before == after else "conv.same_split_odd"
    split = (message(key, before=before, after=after),)
    pad_term = Term(pad_symbol, before + after, pad_sym, pad_sub, split)
    return out, before, after, out_term, pad_term


def windowed_output(
    spatial: Shape,
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    padding: str | Padding,
    ceil_mode: bool = False,
) -> tuple[Shape, tuple[Term, ...], tuple[Term, ...], tuple[Window, ...]]:
    """Output spatial sizes, their terms, padding terms ('same') and windows of a sliding window."""
    n = len(spatial)
    outs: list[int] = []
    terms: list[Term] = []
    pad_terms: list[Term] = []
    windows: list[Window] = []
    for i in range(n):
        size, k, s, d = spatial[i], kernel[i], stride[i], dilation[i]
        if padding == "same":
            o, before, _, term, pad_term = same_axis(OUT_SYMBOLS[n][i], PAD_SYMBOLS[n][i], size, k, s, d)
            pad_terms.append(pad_term)
        else:
            before, after = padding[i] if isinstance(padding, tuple) else (0, 0)  # "valid"
            check_window_fits(size, k, d, before, after, OUT_SYMBOLS[n][i][2:])
            o, term = window_axis(OUT_SYMBOLS[n][i], size, k, s, d, before, after, ceil_mode)
        outs.append(o)
        terms.append(term)
        windows.append(Window(k, s, before, d))
    return tuple(outs), tuple(terms), tuple(pad_terms), tuple(windows)


# --- convolutions ------------------------------------------------------------------------------


@record
class _ConvNd(Layer):
    """Shared fields and checks of the six convolution types (see the module docstring)."""

    in_channels: int | None = None
    out_channels: int = required()
    kernel_size: int | tuple[int, ...] = required()
    stride: int | tuple[int, ...] = 1
    padding: Any = 0
    dilation: int | tuple[int, ...] = 1
    groups: int = 1
    bias: bool = True
    padding_mode: str = "zeros"  # accepted for torch compatibility; it changes no count

    spatial_dims: ClassVar[int] = 2
    transposed: ClassVar[bool] = False

    def __post_init__(self) -> None:
        for name in ("kernel_size", "stride", "padding", "dilation"):
            object.__setattr__(self, name, freeze(getattr(self, name)))
        n = self.spatial_dims
        if not _is_int(self.out_channels) or self.out_channels <= 0:
            raise NetsizeError(f"out_channels must be a positive int (got {self.out_channels!r})")
        if self.in_channels is not None and (not _is_int(self.in_channels) or self.in_channels <= 0):
            raise NetsizeError(f"in_channels must be a positive int or left out (got {self.in_channels!r})")
        if not _is_int(self.groups) or self.groups <= 0:
            raise NetsizeError(f"groups must be a positive int (got {self.groups!r})")
        per_axis(self.kernel_size, n, "kernel_size")
        per_axis(self.stride, n, "stride")
        per_axis(self.dilation, n, "dilation")
        parse_padding(self.padding, n)
        if self.out_channels % self.groups:
            raise NetsizeError(
                f"out_channels {self.out_channels} is not divisible by groups {self.groups}; "
                "make out_channels a multiple of groups"
            )
        if self.in_channels is not None:
            self._check_groups(self.in_channels)

    def _check_groups(self, channels: int) -> None:
        if channels % self.groups:
            raise NetsizeError(
                f"in_channels {channels} is not divisible by groups {self.groups}; "
                f"use a groups value that divides {channels} (groups == in_channels is depthwise)"
            )

    @property
    def _kernel(self) -> tuple[int, ...]:
        return per_axis(self.kernel_size, self.spatial_dims, "kernel_size")

    @property
    def _stride(self) -> tuple[int, ...]:
        return per_axis(self.stride, self.spatial_dims, "stride")

    @property
    def _dilation(self) -> tuple[int, ...]:
        return per_axis(self.dilation, self.spatial_dims, "dilation")

    def _input(self, x: Shape, ctx: Context) -> tuple[int, int, Shape]:
        batch, channels, spatial = split_channels(x, ctx.layout, self.spatial_dims, self.kind)
        if self.in_channels is not None and self.in_channels != channels:
            raise NetsizeError(
                f"expects {self.in_channels} input channels but receives {channels} "
                f"(channel axis of {shape_str(x)}). Set in_channels to {channels}, or leave it out to infer it."
            )
        self._check_groups(channels)
        return batch, channels, spatial

    def _params(self, c_in: int) -> tuple[Term, Term | None]:
        n, k, g, c_out = self.spatial_dims, self._kernel, self.groups, self.out_channels
        ks = "*".join(_KERNEL_SYMBOLS[n])
        if self.transposed:
            sym = f"{ks}*C_in*C_out" if g == 1 else f"{ks}*C_in*(C_out/groups)"
            sub = prod_str(*k, c_in, c_out) if g == 1 else f"{prod_str(*k, c_in)}*({c_out}/{g})"
            value = prod(k) * c_in * (c_out // g)
        else:
            sym = f"{ks}*C_in*C_out" if g == 1 else f"{ks}*(C_in/groups)*C_out"
            sub = prod_str(*k, c_in, c_out) if g == 1 else f"{prod_str(*k)}*({c_in}/{g})*{c_out}"
            value = prod(k) * (c_in // g) * c_out
        weights = Term("weights", value, sym, sub)
        biases = Term("biases", c_out, "C_out", str(c_out)) if self.bias else None
        return weights, biases

    def _bias_adds(self, batch: int, out_spatial: Shape) -> Term | None:
        if not self.bias:
            return None
        syms = "*".join(OUT_SYMBOLS[self.spatial_dims])
        value = batch * self.out_channels * prod(out_spatial)
        return Term(
            "other_ops",
            value,
            f"N*C_out*{syms} (bias adds)",
            prod_str(batch, self.out_channels, *out_spatial),
        )


@record
class _Conv(_ConvNd):
    """A convolution.

    Weights ``prod(K)*(C_in/groups)*C_out``; biases ``C_out``. Multiply-adds
    ``N*prod(O)*prod(K)*(C_in/groups)*C_out``, as FlopCounterMode (bias excluded). Other ops:
    one bias add per output element. Saved for backward: its input (weights are not activations).
    """

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        batch, c_in, spatial = self._input(x, ctx)
        padding = parse_padding(self.padding, self.spatial_dims)
        out_spatial, shape_terms, pad_terms, windows = windowed_output(
            spatial, self._kernel, self._stride, self._dilation, padding
        )
        n, g, c_out, k = self.spatial_dims, self.groups, self.out_channels, self._kernel
        weights, biases = self._params(c_in)
        os_, ks = "*".join(OUT_SYMBOLS[n]), "*".join(_KERNEL_SYMBOLS[n])
        cin_sym, cin_sub = ("C_in", str(c_in)) if g == 1 else ("(C_in/groups)", f"({c_in}/{g})")
        macs = Term(
            "multiply_adds",
            batch * prod(out_spatial) * prod(k) * (c_in // g) * c_out,
            f"N*{os_}*{ks}*{cin_sym}*C_out",
            f"{prod_str(batch, *out_spatial, *k)}*{cin_sub}*{c_out}",
        )
        return Analysis(
            outputs=(join_channels(batch, c_out, out_spatial, ctx.layout),),
            shape_terms=shape_terms,
            weights=weights,
            biases=biases,
            multiply_adds=macs,
            other_ops=self._bias_adds(batch, out_spatial),
            memory=MemoryContract(saved_inputs=(0,)),
            windows=windows,
            extra_terms=pad_terms,
        )


@record
class _ConvTranspose(_ConvNd):
    """A transposed convolution (a.k.a. deconvolution, up-convolution).

    Output ``(I - 1)*S - P_b - P_a + D*(K - 1) + output_padding + 1`` per axis; ``padding``
    ``"valid"``/``"same"`` follow Keras (``I*S + max(D*(K - 1) + 1 - S, 0)`` and ``I*S``).
    Weights ``prod(K)*C_in*(C_out/groups)``; biases ``C_out``. Multiply-adds use the *input*
    spatial size, as FlopCounterMode: ``N*prod(I)*prod(K)*C_in*(C_out/groups)`` (every input
    element meets every weight of its group, including products that land in the cropped
    border). Other ops: one bias add per output element. Saved for backward: its input.
    The receptive field is not tracked through it (its stride is fractional).
    """

    output_padding: int | tuple[int, ...] = 0

    transposed: ClassVar[bool] = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "output_padding", freeze(self.output_padding))
        super().__post_init__()
        n = self.spatial_dims
        ops = per_axis(self.output_padding, n, "output_padding", minimum=0)
        for op, s, d in zip(ops, self._stride, self._dilation, strict=True):
            if op >= s and op >= d:
                raise NetsizeError(
                    f"output_padding {op} must be smaller than the stride ({s}) or the dilation ({d}); "
                    f"use output_padding < {max(s, d)}"
                )

    def analyze(self, inputs: tuple[Shape, ...], ctx: Context) -> Analysis:
        (x,) = inputs
        batch, c_in, spatial = self._input(x, ctx)
        n, g, c_out, k = self.spatial_dims, self.groups, self.out_channels, self._kernel
        padding = parse_padding(self.padding, n)
        ops = per_axis(self.output_padding, n, "output_padding", minimum=0)
        outs: list[int] = []
        terms: list[Term] = []
        for i in range(n):
            size, kk, s, d, op = spatial[i], k[i], self._stride[i], self._dilation[i], ops[i]
            span = d * (kk - 1) + 1
            if isinstance(padding, str) and op == 0:
                note: tuple[Message, ...]
                if padding == "same":
                    o, sym, sub = size * s, "I*S", f"{size}*{s}"
                    note = (message("conv.keras_same"),)
                else:
                    o = size * s + max(span - s, 0)
                    sym = "I*S + max(D*(K - 1) + 1 - S, 0)"
                    sub = f"{size}*{s} + max({d}*({kk} - 1) + 1 - {s}, 0)"
                    note = (message("conv.keras_valid"),)
                outs.append(o)
                terms.append(Term(OUT_SYMBOLS[n][i], o, sym, sub, note))
                continue
            if isinstance(padding, str):  # Keras with an explicit output_padding: pad = K_dilated // 2
                before = after = span // 2 if padding == "same" else 0
            else:
                before, after = padding[i]
            o = (size - 1) * s - before - after + d * (kk - 1) + op + 1
            if before == after:
                psym, psub = "2P", f"2*{before}"
            else:
                psym, psub = "P_b - P_a", f"{before} - {after}"
            sym = f"(I - 1)*S - {psym} + D*(K - 1) + output_padding + 1"
            sub = f"({size} - 1)*{s} - {psub} + {d}*({kk} - 1) + {op} + 1"
            if o <= 0:
                raise NetsizeError(
                    f"output size along {OUT_SYMBOLS[n][i][2:]} would be {o} (= {sub}); "
                    "reduce padding or use a larger input, kernel or stride"
                )
            outs.append(o)
            terms.append(Term(OUT_SYMBOLS[n][i], o, sym, sub))
        out_spatial = tuple(outs)
        weights, biases = self._params(c_in)
        is_, ks = "*".join(_INPUT_SYMBOLS[n]), "*".join(_KERNEL_SYMBOLS[n])
        cout_sym, cout_sub = ("C_out", str(c_out)) if g == 1 else ("(C_out/groups)", f"({c_out}/{g})")
        macs = Term(
            "multiply_adds",
            batch * prod(spatial) * prod(k) * c_in * (c_out // g),
            f"N*{is_}*{ks}*C_in*{cout_sym}",
            f"{prod_str(batch, *spatial, *k, c_in)}*{cout_sub}",
        )
        return Analysis(
            outputs=(join_channels(batch, c_out, out_spatial, ctx.layout),),
            shape_terms=tuple(terms),
            weights=weights,
            biases=biases,
            multiply_adds=macs,
            other_ops=self._bias_adds(batch, out_spatial),
            memory=MemoryContract(saved_inputs=(0,)),
            windows=None,
        )


@register_layer("conv1d", "convolution1d")
@record
class Conv1d(_Conv):
    """1-d convolution on ``(N, C, L)`` (or ``(N, L, C)`` channels-last)."""

    kind: ClassVar[str] = "Conv1d"
    spatial_dims: ClassVar[int] = 1


@register_layer("conv2d", "convolution2d")
@record
class Conv2d(_Conv):
    """2-d convolution on ``(N, C, H, W)`` (or ``(N, H, W, C)`` channels-last).

    >>> from netsize import analyze_layer
    >>> analyze_layer("conv1", Conv2d(3, 96, 11, stride=4), ((1, 3, 227, 227),)).output_shape
    (1, 96, 55, 55)
    """

    kind: ClassVar[str] = "Conv2d"
    spatial_dims: ClassVar[int] = 2


@register_layer("conv3d", "convolution3d")
@record
class Conv3d(_Conv):
    """3-d convolution on ``(N, C, D, H, W)`` (or ``(N, D, H, W, C)`` channels-last)."""

    kind: ClassVar[str] = "Conv3d"
    spatial_dims: ClassVar[int] = 3


@register_layer("convtranspose1d", "conv1dtranspose", "deconv1d", "deconvolution1d")
@record
class ConvTranspose1d(_ConvTranspose):
    """1-d transposed convolution."""

    kind: ClassVar[str] = "ConvTranspose1d"
    spatial_dims: ClassVar[int] = 1


@register_layer("convtranspose2d", "conv2dtranspose", "deconv2d", "deconvolution2d")
@record
class ConvTranspose2d(_ConvTranspose):
    """2-d transposed convolution (U-Net's 2x2 up-convolution: ``ConvTranspose2d(512, 256, 2, stride=2)``)."""

    kind: ClassVar[str] = "ConvTranspose2d"
    spatial_dims: ClassVar[int] = 2


@register_layer("convtranspose3d", "conv3dtranspose", "deconv3d", "deconvolution3d")
@record
class ConvTranspose3d(_ConvTranspose):
    """3-d transposed convolution."""

    kind: ClassVar[str] = "ConvTranspose3d"
    spatial_dims: ClassVar[int] = 3
