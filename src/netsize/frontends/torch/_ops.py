"""Which core op counts each aten op the tracer sees: one small translation per op, in one table.

A translation returns ``(label, core layer, input shapes)`` items; the core layer counts.
Ops not in the table do no multiply-adds (views, elementwise, reductions, softmax...).
The table follows ``torch.utils.flop_counter``'s registry, plus the fused CPU kernels it
does not see (flash attention for CPU, mkldnn RNN layers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import torch

from netsize._layer import Layer
from netsize._shape import Shape
from netsize.layers import layer_type
from netsize.layers.matmul import MatMul

aten = torch.ops.aten

Item = tuple[str, Layer, tuple[Shape, ...]]
Translation = Callable[[Sequence[Any], dict[str, Any]], list[Item]]

_MATMUL = MatMul()


def _shape(t: Any) -> Shape:
    return tuple(int(d) for d in t.shape)


def _product(label: str, a: Any, b: Any) -> list[Item]:
    return [(label, _MATMUL, (_shape(a), _shape(b)))]


def _mm(args: Sequence[Any], kwargs: dict[str, Any]) -> list[Item]:
    return _product("mm", args[0], args[1])


def _addmm(args: Sequence[Any], kwargs: dict[str, Any]) -> list[Item]:
    return _product("addmm", args[1], args[2])


def _bmm(args: Sequence[Any], kwargs: dict[str, Any]) -> list[Item]:
    return _product("bmm", args[0], args[1])


def _baddbmm(args: Sequence[Any], kwargs: dict[str, Any]) -> list[Item]:
    return _product("baddbmm", args[1], args[2])


def _tuple(v: Any, n: int | None = None) -> tuple[int, ...]:
    """Ints of an aten int list; a one-element list broadcasts to ``n`` axes as aten does
    (``padding="valid"`` reaches ``aten.convolution`` as ``[0]``)."""
    out = tuple(int(x) for x in v)
    if n is not None and len(out) == 1 and n > 1:
        return out * n
    return out


def _convolution(args: Sequence[Any], kwargs: dict[str, Any]) -> list[Item]:
    x, w, bias, stride, padding, dilation, transposed, output_padding, groups = args[:9]
    label, layer = _conv_layer(
        _shape(w), bias is not None, tuple(stride), tuple(padding), tuple(dilation), bool(transposed),
        tuple(output_padding), int(groups),
    )  # fmt: skip
    return [(label, layer, (_shape(x),))]


# Remembered by the aten arguments: building and validating a Conv2d for every call was a tenth
# of a traced pass on models of many small convolutions.
@lru_cache(maxsize=4096)
def _conv_layer(
    ws: Shape,
    bias: bool,
    stride: tuple[int, ...],
    padding: tuple[int, ...],
    dilation: tuple[int, ...],
    transposed: bool,
    output_padding: tuple[int, ...],
    groups: int,
) -> tuple[str, Layer]:
    n = len(ws) - 2
    common = {
        "kernel_size": ws[2:],
        "stride": _tuple(stride, n),
        "padding": _tuple(padding, n),
        "dilation": _tuple(dilation, n),
        "groups": groups,
        "bias": bias,
    }
    if transposed:
        layer = layer_type(f"convtranspose{n}d")(  # type: ignore[call-arg]
            in_channels=ws[0], out_channels=ws[1] * groups, output_padding=_tuple(output_padding, n), **common
        )
        label = f"conv_transpose{n}d"
    else:
        layer = layer_type(f"conv{n}d")(in_channels=ws[1] * groups, out_channels=ws[0], **common)  # type: ignore[call-arg]
        label = f"conv{n}d"
    return label, layer


def _sdpa(args: Sequence[Any], kwargs: dict[str, Any]) -> list[Item]:
    # q (B, H, L, d), k (B, H_kv, S, d), v (B, H_kv, S, d_v): two batched products per query head,
    # as torch's math path runs them (and as FlopCounterMode counts them).
    q, k, v = _shape(args[0]), _shape(args[1]), _shape(args[2])
    *batch, length, d = q
    s, dv = k[-2], v[-1]
    return [
        ("sdpa q@k^T", _MATMUL, ((*batch, length, d), (*batch, d, s))),
        ("sdpa scores@v", _MATMUL, ((*batch, length, s), (*batch, s, dv))),
    ]


def _sdpa_cpu(args: Sequence[Any], kwargs: dict[str, Any]) -> list[Item]:
    # The fused CPU kernel: the same products, labelled apart because FlopCounterMode has no
    # formula for it (a real CPU pass under attn_implementation="sdpa" looks cheaper to it).
    return [("cpu " + label, layer, ins) for label, layer, ins in _sdpa(args, kwargs)]


def _mkldnn_rnn_layer(args: Sequence[Any], kwargs: dict[str, Any]) -> list[Item]:
    # One direction of one layer over the whole sequence: input and hidden projections of all gates.
    x, w_ih, w_hh = args[0], args[1], args[2]
    xs, ih, hh = _shape(x), _shape(w_ih), _shape(w_hh)
    rows = 1
    for d in xs[:-1]:
        rows *= d
    return [
        ("rnn input gates", _MATMUL, ((rows, ih[1]), (ih[1], ih[0]))),
        ("rnn hidden gates", _MATMUL, ((rows, hh[1]), (hh[1], hh[0]))),
    ]


def _native_mha(args: Sequence[Any], kwargs: dict[str, Any]) -> list[Item]:
    # nn.MultiheadAttention's fused fast path: q/k/v projections, attention, output projection.
    q, k, v = _shape(args[0]), _shape(args[1]), _shape(args[2])
    e, h = int(args[3]), int(args[4])
    batch, length, s = q[:-2], q[-2], k[-2]
    d = e // h
    return [
        ("q proj", _MATMUL, ((*batch, length, e), (e, e))),
        ("k proj", _MATMUL, ((*batch, s, k[-1]), (k[-1], e))),
        ("v proj", _MATMUL, ((*batch, s, v[-1]), (v[-1], e))),
        ("attn q@k^T", _MATMUL, ((*batch, h, length, d), (*batch, h, d, s))),
        ("attn scores@v", _MATMUL, ((*batch, h, length, s), (*batch, h, s, d))),
        ("out proj", _MATMUL, ((*batch, length, e), (e, e))),
    ]


def _groups_cover(offs: Any, full: int) -> int:
    """Rows (or columns) of the ragged axis that fall in a group: ``offs[-1]``, read when the
    offsets hold values (a real pass); on meta tensors every row is taken to be routed, as
    mixture-of-experts layers do (tokens x top-k rows, all in some expert's group)."""
    if offs is None or not isinstance(offs, torch.Tensor) or offs.is_meta or offs.numel() == 0:
        return full
    return int(offs[-1])


def _grouped_mm(args: Sequence[Any], kwargs: dict[str, Any]) -> list[Item]:
    # torch._grouped_mm (mixture-of-experts experts): the multiply-adds of every group's product,
    # summed. FlopCounterMode has no formula for it and counts 0.
    a, b = _shape(args[0]), _shape(args[1])
    offs = args[2] if len(args) > 2 else kwargs.get("offs")
    if len(a) == 2 and len(b) == 3:  # (S, K) rows grouped by offs, (G, K, N): out (S, N)
        rows = _groups_cover(offs, a[0])
        return [("grouped_mm", _MATMUL, ((rows, a[1]), (b[1], b[2])))] if rows else []
    if len(a) == 2 and len(b) == 2:  # (M, K_total) @ (K_total, N), K grouped: out (G, M, N)
        k = _groups_cover(offs, a[1])
        return [("grouped_mm", _MATMUL, ((a[0], k), (k, b[1])))] if k else []
    if len(a) == 3 and len(b) == 2:  # (G, M, K) @ (K, N_total), N grouped: out (M, N_total)
        n = _groups_cover(offs, b[1])
        return [("grouped_mm", _MATMUL, ((a[1], a[2]), (a[2], n)))] if n else []
    return [("grouped_mm", _MATMUL, (a, b))]  # (G, M, K) @ (G, K, N): a batched product


def _scaled_grouped_mm(args: Sequence[Any], kwargs: dict[str, Any]) -> list[Item]:
    offs = args[4] if len(args) > 4 else kwargs.get("offs")
    return _grouped_mm((args[0], args[1], offs), {})


def _grouped_mm_meta(args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
    """The output of ``_grouped_mm`` on meta tensors for any dtype (torch's meta kernel accepts
    only bfloat16, the CUDA kernel's restriction, so a float32 MoE model built on meta failed)."""
    a, b = args[0], args[1]
    offs = args[2] if len(args) > 2 else kwargs.get("offs")
    out_dtype = (args[4] if len(args) > 4 else kwargs.get("out_dtype")) or a.dtype
    sa, sb = _shape(a), _shape(b)
    if len(sa) not in (2, 3) or len(sb) not in (2, 3):
        raise RuntimeError(f"_grouped_mm: multiplicands must be 2D or 3D (got {sa} and {sb})")
    if (len(sa) == 3 or len(sb) == 3) and sa[-1] != sb[-2]:
        raise RuntimeError(f"_grouped_mm: contraction dimensions differ ({sa} and {sb})")
    groups = int(offs.shape[0]) if isinstance(offs, torch.Tensor) else 0
    if len(sa) == 2 and len(sb) == 2:
        shape: tuple[int, ...] = (groups, sa[0], sb[1])
    elif len(sa) == 2:
        shape = (sa[0], sb[-1])
    elif len(sb) == 2:
        shape = (sa[1], sb[1])
    else:
        shape = (sa[0], sa[1], sb[-1])
    return torch.empty(shape, dtype=out_dtype, device="meta")


# Outputs the tracer makes itself on meta tensors, where torch's meta kernel is too narrow.
META_OUTPUTS: dict[Any, Callable[[Sequence[Any], dict[str, Any]], Any]] = (
    {aten._grouped_mm: _grouped_mm_meta} if hasattr(aten, "_grouped_mm") else {}
)

# Products netsize counts and FlopCounterMode does not (its total is lower by them), by label:
# why, for the summary's note.
NOT_IN_FLOPCOUNTER = {
    "grouped_mm": "torch._grouped_mm (mixture-of-experts experts, summed over the groups)",
    "cpu sdpa q@k^T": "aten._scaled_dot_product_flash_attention_for_cpu (CPU fused attention of a real pass)",
    "cpu sdpa scores@v": "aten._scaled_dot_product_flash_attention_for_cpu (CPU fused attention of a real pass)",
}

# Custom ops of other libraries, looked up by qualified name (they exist only once imported).
_BY_NAME: dict[str, Translation] = {"transformers::grouped_mm_fallback": _grouped_mm}


class _Table(dict[Any, Translation]):
    def get(self, key: Any, default: Any = None) -> Any:
        found = super().get(key)
        if found is None:
            found = _BY_NAME.get(getattr(key, "_qualified_op_name", ""))
        return default if found is None else found


def _table() -> dict[Any, Translation]:
    table: dict[Any, Translation] = {
        aten.mm: _mm,
        aten.addmm: _addmm,
        aten.bmm: _bmm,
        aten.baddbmm: _baddbmm,
        aten._scaled_mm: _mm,
        aten.convolution: _convolution,
        aten._convolution: _convolution,
        aten.convolution_overrideable: _convolution,
    }
    if hasattr(aten, "_scaled_dot_product_flash_attention_for_cpu"):
        table[aten._scaled_dot_product_flash_attention_for_cpu] = _sdpa_cpu
    for name in (
        "_scaled_dot_product_flash_attention",
        "_scaled_dot_product_efficient_attention",
        "_scaled_dot_product_cudnn_attention",
    ):
        if hasattr(aten, name):
            table[getattr(aten, name)] = _sdpa
    if hasattr(aten, "mkldnn_rnn_layer"):
        table[aten.mkldnn_rnn_layer] = _mkldnn_rnn_layer
    if hasattr(aten, "_native_multi_head_attention"):
        table[aten._native_multi_head_attention] = _native_mha
    if hasattr(aten, "_grouped_mm"):
        table[aten._grouped_mm] = _grouped_mm
    if hasattr(aten, "_scaled_grouped_mm"):
        table[aten._scaled_grouped_mm] = _scaled_grouped_mm
    return _Table(table)


TRANSLATIONS: dict[Any, Translation] = _table()


# Ops that do no arithmetic: they make, view, move, select or reorder data, draw random numbers
# or read values. Any other op that no rule counts is reported as uncounted.
_NO_ARITHMETIC = frozenset(
    [
        "empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided", "zeros", "zeros_like",
        "new_zeros", "ones", "ones_like", "new_ones", "full", "full_like", "new_full", "scalar_tensor", "arange",
        "linspace", "logspace", "eye", "rand", "rand_like", "randn", "randn_like", "randint", "randint_like",
        "randperm", "bernoulli", "normal", "uniform", "exponential", "random", "multinomial", "_to_copy", "to",
        "_copy_from", "_copy_from_and_resize", "clone", "copy", "lift_fresh", "lift_fresh_copy", "detach", "alias",
        "contiguous", "cat", "stack", "index", "_unsafe_index", "index_select", "gather", "scatter", "index_put",
        "_unsafe_index_put", "index_copy", "masked_select", "masked_scatter", "take", "embedding", "slice_scatter",
        "select_scatter", "diagonal_scatter", "as_strided_scatter", "repeat", "repeat_interleave", "tile", "roll",
        "flip", "rot90", "constant_pad_nd", "reflection_pad1d", "reflection_pad2d", "reflection_pad3d",
        "replication_pad1d", "replication_pad2d", "replication_pad3d", "_local_scalar_dense", "item", "nonzero",
        "fill", "zero", "resize", "resize_as", "set", "tril", "triu", "split", "split_with_sizes", "unbind",
        "chunk", "_unsafe_view", "view", "reshape", "_reshape_alias", "as_strided", "expand", "permute",
        "transpose", "t", "narrow", "narrow_copy", "im2col", "pixel_shuffle", "pixel_unshuffle", "channel_shuffle",
        "native_channel_shuffle", "_assert_async", "_assert_tensor_metadata", "_functional_assert_async",
        "sym_constrain_range", "record_stream", "_assert_scalar", "_linalg_check_errors", "unfold", "squeeze",
        "unsqueeze", "select", "slice", "diagonal"
    ]
)  # fmt: skip


# Fused kernels the traced other-ops convention names and counts as nothing (docs/conventions.md:
# "fused kernels with neither tag (softmax, layer_norm) ... count nothing"): a rule reached them.
_CONVENTION_ZERO = frozenset(
    [
        "_softmax", "_safe_softmax", "_log_softmax", "softmax", "log_softmax", "native_layer_norm", "layer_norm",
        "native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_no_training",
        "_native_batch_norm_legit_functional", "native_group_norm", "rms_norm", "_fused_rms_norm",
    ]
)  # fmt: skip


def does_arithmetic(func: Any) -> bool:
    """Whether an op no counting rule reached is worth reporting as uncounted: False for ops
    that only make, view, move or select data (``_NO_ARITHMETIC``) and for the fused kernels the
    traced convention counts as nothing (``_CONVENTION_ZERO``)."""
    if getattr(func, "is_view", False):
        return False
    name = func._overloadpacket.__name__
    return not ({name, name.rstrip("_")} & (_NO_ARITHMETIC | _CONVENTION_ZERO))
