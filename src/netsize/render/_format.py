"""Number and text formatting shared by the renderers. Formatting only: no counting here."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from decimal import Decimal

from netsize._i18n import register_messages, translate
from netsize._shape import Shape, shape_str
from netsize._summary import Summary

register_messages(
    {
        "render.layer": {"en": "Layer", "zh": "层"},
        "render.kind": {"en": "Kind", "zh": "类型"},
        "render.output_shape": {"en": "Output shape", "zh": "输出形状"},
        "render.params": {"en": "Params", "zh": "参数"},
        "render.multiply_adds": {"en": "Mult-adds", "zh": "乘加次数"},
        "render.activations": {"en": "Activations", "zh": "激活"},
        "render.total": {"en": "Total", "zh": "合计"},
        "render.title": {
            "en": "{model} · input {input} · batch {batch}{layout}",
            "zh": "{model} · 输入 {input} · 批大小 {batch}{layout}",
        },
        "render.f.params": {"en": "Params", "zh": "参数"},
        "render.f.params_value": {
            "en": "{params} ({params_h}) · trainable {trainable} · non-trainable {frozen}",
            "zh": "{params}（{params_h}）· 可训练 {trainable} · 不可训练 {frozen}",
        },
        "render.f.buffers": {"en": "Buffers", "zh": "缓冲区"},
        "render.f.macs": {"en": "Multiply-adds", "zh": "乘加次数"},
        "render.f.macs_value": {"en": "{macs} ({macs_h})", "zh": "{macs}（{macs_h}）"},
        "render.f.flops": {"en": "FLOPs", "zh": "浮点运算次数"},
        "render.f.flops_value": {"en": "{flops} ({flops_h}) = 2 x multiply-adds",
                                 "zh": "{flops}（{flops_h}）= 2 x 乘加次数"},
        "render.f.other": {"en": "Other ops", "zh": "其他运算"},
        "render.f.activations": {"en": "Activations", "zh": "激活"},
        "render.f.activations_value": {
            "en": "{elements} elements = {size} in {dtype} (layer outputs, forward)",
            "zh": "{elements} 个元素 = {size}（{dtype}，各层输出，前向）",
        },
        "render.f.size": {"en": "Model size", "zh": "模型大小"},
        "render.formulas": {"en": "Formulas", "zh": "公式"},
        "render.note": {"en": "Note: {note}", "zh": "注：{note}"},
        "render.dropped": {
            "en": "Columns left out to fit {width} columns: {columns} (--width N or --format csv shows them)",
            "zh": "为适应 {width} 列宽度省略了以下列：{columns}（用 --width N 或 --format csv 可显示）",
        },
        "render.convention.torch": {
            "en": "Convention: torch — params = weights + biases; buffers separate; multiply-adds = "
            "conv/linear/matmul/attention MACs (FlopCounterMode FLOPs / 2); FLOPs = 2 x multiply-adds; "
            "other ops separate",
            "zh": "计数约定：torch — 参数 = 权重 + 偏置；缓冲区单独计；乘加次数 = 卷积、全连接、矩阵乘法、注意力的"
            "乘加次数（FlopCounterMode 的浮点运算次数 / 2）；浮点运算次数 = 2 x 乘加次数；其他运算单独计",
        },
        "render.convention.keras": {
            "en": "Convention: keras — params = weights + biases + BatchNorm moving statistics (non-trainable); "
            "multiply-adds = conv/linear/matmul/attention MACs (FlopCounterMode FLOPs / 2); "
            "FLOPs = 2 x multiply-adds; other ops separate",
            "zh": "计数约定：keras — 参数 = 权重 + 偏置 + BatchNorm 滑动统计量（不可训练）；乘加次数 = "
            "卷积、全连接、矩阵乘法、注意力的乘加次数（FlopCounterMode 的浮点运算次数 / 2）；浮点运算次数 = "
            "2 x 乘加次数；其他运算单独计",
        },
    }
)


# C0 and C1 controls (but newline and tab), DEL, and the bidirectional overrides that reorder text
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` safe to print to a terminal: control characters (an escape sequence in a layer's
    name could rewrite the user's terminal) are shown escaped, as Python writes them.

    >>> print(printable("conv\\x1b[31m"))
    conv\\x1b[31m
    """
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def csv_text(header: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """``header`` and ``rows`` as CSV text, one line each (``\n`` ends every line)."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def count(n: int) -> str:
    """``62,378,344``."""
    return f"{n:,}"


def human(n: int) -> str:
    """``62.4 M``: three significant digits with a decimal prefix.

    >>> human(62_378_344), human(10**2000)
    ('62.4 M', '1e+1988 T')
    """
    for div, unit in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "k")):
        if abs(n) >= div:
            if abs(n) >= 10**300:  # past a float: keep three digits and the exponent, in integers
                digits = len(str(abs(n) // div))
                lead = abs(n) // div // 10 ** (digits - 3)
                return f"{'-' if n < 0 else ''}{lead / 100:.3g}e+{digits - 1} {unit}"
            return f"{n / div:.3g} {unit}"
    return str(n)


def size(n_bytes: int) -> str:
    """Bytes in the binary unit that fits, one decimal: ``103.3 GiB``, ``5.6 MiB``, ``512 B``.

    >>> size(110_916_934_451), size(5_829_664), size(512)
    ('103.3 GiB', '5.6 MiB', '512 B')
    """
    value = Decimal(n_bytes)  # exact at any size: a legal but huge network has counts past 1e308
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            if unit == "B":
                return f"{n_bytes:,} B"
            return f"{value:.3e} {unit}" if abs(value) >= 10**15 else f"{value:,.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def shape(s: Shape) -> str:
    return shape_str(s)


def keras_shape(s: Shape) -> str:
    """``(1, 111, 111, 16)`` -> ``(None, 111, 111, 16)``: the batch axis as Keras prints it."""
    return "(" + ", ".join(["None", *map(str, s[1:])]) + ")" if s else "()"


def title(summary: Summary, lang: str) -> str:
    ins = ", ".join(f"{shape_str(s)}" for s in summary.input_shapes.values())
    layout = f" · {summary.layout}" if summary.layout != "channels_first" else ""
    return translate("render.title", lang, model=printable(summary.model), input=ins, batch=summary.batch_size,
                     layout=layout)


def footer_items(summary: Summary, lang: str, dtype: str = "float32") -> list[tuple[str, str]]:
    """``(label, value)`` pairs under the table: totals, activations, model size per dtype."""
    from netsize._dtypes import canonical_dtype, dtype_bytes

    t = summary.totals
    dtype = canonical_dtype(dtype)
    sizes = summary.model_size()
    if dtype not in sizes:
        sizes = {dtype: summary.weights_bytes(dtype), **sizes}
    tr = translate
    return [
        (tr("render.f.params", lang), tr("render.f.params_value", lang, params=count(t.params),
                                         params_h=human(t.params), trainable=count(t.trainable_params),
                                         frozen=count(t.non_trainable_params))),
        (tr("render.f.buffers", lang), count(t.buffers)),
        (tr("render.f.macs", lang), tr("render.f.macs_value", lang, macs=count(t.multiply_adds),
                                       macs_h=human(t.multiply_adds))),
        (tr("render.f.flops", lang), tr("render.f.flops_value", lang, flops=count(t.flops), flops_h=human(t.flops))),
        (tr("render.f.other", lang), count(t.other_ops)),
        (tr("render.f.activations", lang), tr("render.f.activations_value", lang,
                                              elements=count(t.activation_elements),
                                              size=size(dtype_bytes(t.activation_elements, dtype)), dtype=dtype)),
        (tr("render.f.size", lang), " · ".join(f"{d} {size(b)}" for d, b in sizes.items())),
    ]


def footer_lines(summary: Summary, lang: str, dtype: str = "float32") -> list[str]:
    """The footer as plain lines (``Label: value``), then the convention line and any notes."""
    from netsize._glossary import colon

    lines = [f"{label}{colon(lang)}{value}" for label, value in footer_items(summary, lang, dtype)]
    notes = (translate("render.note", lang, note=note) for note in summary.notes)
    return [*lines, convention_line(summary.convention, lang), *notes]


def convention_line(convention: str, lang: str = "en") -> str:
    return translate(f"render.convention.{convention}", lang)
