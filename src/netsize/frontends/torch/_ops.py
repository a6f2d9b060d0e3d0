"""Which core op counts each aten op the tracer sees: one small translation per op, in one table.

A translation returns ``(label, core layer, input shapes)`` items; the core layer counts.
Ops not in the table do no multiply-adds (views, elementwise, reductions, softmax...).
The table follows ``torch.utils.flop_counter``'s registry, plus the fused CPU kernels it
does not see (flash attention for CPU, mkldnn RNN layers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from netsize._layer import Layer
from netsize._registry import layer_type
from netsize._shape import Shape
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


def _tuple(v: Any) -> tuple[int, ...]:
    return tuple(int(x) for x in v)


def _convolution(args: Sequence[Any], kwargs: dict[str, Any]) -> list[Item]:
    x, w, bias, stride, padding, dilation, transposed, output_padding, groups = args[:9]
    ws = _shape(w)
    n = len(ws) - 2
    groups = int(groups)
    common = {
        "kernel_size": ws[2:],
        "stride": _tuple(stride),
        "padding": _tuple(padding),
        "dilation": _tuple(dilation),
        "groups": groups,
        "bias": bias is not None,
    }
    if transposed:
        layer = layer_type(f"convtranspose{n}d")(  # type: ignore[call-arg]
            in_channels=ws[0], out_channels=ws[1] * groups, output_padding=_tuple(output_padding), **common
        )
        label = f"conv_transpose{n}d"
    else:
        layer = layer_type(f"conv{n}d")(in_channels=ws[1] * groups, out_channels=ws[0], **common)  # type: ignore[call-arg]
        label = f"conv{n}d"
    return [(label, layer, (_shape(x),))]


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
    for name in (
        "_scaled_dot_product_flash_attention_for_cpu",
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
    return table


TRANSLATIONS: dict[Any, Translation] = _table()
