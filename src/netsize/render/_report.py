"""Reports of named figures (llm, memory, schedule): one row per figure, in every format.

A row carries the figure's JSON/CSV name, its label in the chosen language, the text people
read (``103.3 GiB``) and the exact value (bytes, counts) that CSV writes. Formatting only.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from netsize._i18n import register_messages, translate

if TYPE_CHECKING:
    from netsize.llm import LLMFigures
    from netsize.memory import MemoryReport
    from netsize.schedule import Schedule

register_messages(
    {
        "report.quantity": {"en": "Quantity", "zh": "项目"},
        "report.value": {"en": "Value", "zh": "数值"},
        "report.exact": {"en": "Exact", "zh": "精确值"},
        "report.formulas": {"en": "Formulas", "zh": "公式"},
    }
)


@dataclass(frozen=True)
class Row:
    """One figure: ``key`` (JSON/CSV name), ``label`` (translated), ``text`` (for people) and
    ``exact`` (the exact value: an int of bytes or a count, or text)."""

    key: str
    label: str
    text: str
    exact: object = ""


@dataclass(frozen=True)
class Detail:
    """A second table under a report (``netsize memory --layers``): headers, text cells for
    people, and exact cells for CSV (which then writes this table instead of the figures)."""

    heads: tuple[str, ...]
    csv_heads: tuple[str, ...]
    cells: tuple[tuple[str, ...], ...]
    exact: tuple[tuple[object, ...], ...]


def emit(fmt: str, title: str, rows: Sequence[Row], data: dict[str, object], *, notes: Sequence[str] = (),
         explain: str = "", lang: str = "en", width: int | None = None, detail: Detail | None = None) -> None:
    """Write a report to stdout in ``fmt``: ``data`` is its JSON object (``explain`` added to it
    when given); tables go through :func:`netsize.render._console.emit`."""
    import sys

    if fmt == "json":
        from netsize.render._json import dumps_indented

        if explain:
            data = {**data, "explain": explain}
        sys.stdout.write(dumps_indented(data) + "\n")
    elif fmt == "csv":
        if detail is not None:
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            writer.writerow(detail.csv_heads)
            writer.writerows(detail.exact)
            sys.stdout.write(buf.getvalue())
        else:
            sys.stdout.write(to_csv(rows))
    elif fmt == "markdown":
        text = to_markdown(title, rows, notes, explain, lang)
        if detail is not None:
            align = "".join("---:|" if i >= 2 else "---|" for i in range(len(detail.heads)))
            text += "\n| " + " | ".join(detail.heads) + " |\n|" + align + "\n"
            text += "".join("| " + " | ".join(_md(c) for c in row) + " |\n" for row in detail.cells)
        sys.stdout.write(text)
    else:
        from rich.console import Group

        from netsize.render._console import UNLIMITED, _is_terminal
        from netsize.render._console import emit as emit_renderable

        parts = [to_table(title, rows, notes, explain, lang)]
        if detail is not None:
            known = width if width is not None else (None if _is_terminal(sys.stdout) else UNLIMITED)
            parts.append(_detail_table(detail, known))
        emit_renderable(Group(*parts), width=width)  # type: ignore[arg-type]


def _detail_table(detail: Detail, width: int | None = None) -> object:
    """The per-layer table; drawn as one aligned text, as rich draws it, when every cell fits in
    ``width`` (rich measuring and drawing 17,000 cells took seconds on a 10,000-layer spec)."""
    from rich import box
    from rich.cells import cell_len
    from rich.table import Table
    from rich.text import Text

    widths = [max([cell_len(h) for h in detail.heads[i:i + 1]] + [cell_len(r[i]) for r in detail.cells])
              for i in range(len(detail.heads))]
    inner = sum(widths) + 3 * (len(widths) - 1)  # SIMPLE_HEAD: a space, a divider, a space between columns
    if width is not None and inner + 2 <= width and detail.cells:

        def padded(cells: Sequence[str]) -> list[str]:
            return [(c.rjust if i >= 2 else c.ljust)(w - cell_len(c) + len(c))
                    for i, (c, w) in enumerate(zip(cells, widths, strict=True))]

        text = Text(" " * (inner + 2) + "\n ")
        heads = padded(detail.heads)
        for i, head in enumerate(heads):  # rich bolds a header cell and its padding, not the dividers
            for piece in (" " if i else "", head, " " if i < len(heads) - 1 else ""):
                if piece:
                    text.append(piece, style="bold")
            text.append(" ")
        body = "".join(" " + "   ".join(padded(r)) + " \n" for r in detail.cells)
        text.append("\n " + "─" * inner + " \n" + body + " " * (inner + 2))
        text.no_wrap = True
        text.overflow = "ignore"
        return text

    t = Table(box=box.SIMPLE_HEAD, pad_edge=False, header_style="bold")
    for i, head in enumerate(detail.heads):
        t.add_column(head, justify="right" if i >= 2 else "left", no_wrap=i >= 1)
    for row in detail.cells:
        t.add_row(*row)
    return t


def memory_detail(report: MemoryReport, lang: str = "en") -> Detail:
    """The per-layer breakdown of ``netsize memory --layers`` (layers that keep something)."""
    from netsize.render._format import size

    kept = [m for m in report.layers if m.saved_bytes]
    return Detail(
        heads=tuple(translate(f"report.memory.{k}", lang) for k in ("layer", "kind", "saved")),
        csv_heads=("name", "kind", "saved_bytes", "output_bytes"),
        cells=tuple((m.name, m.kind, size(m.saved_bytes)) for m in kept),
        exact=tuple((m.name, m.kind, m.saved_bytes, m.output_bytes) for m in report.layers),
    )


def to_table(title: str, rows: Sequence[Row], notes: Sequence[str] = (), explain: str = "",
             lang: str = "en") -> object:
    """A rich renderable: the title, a two- or three-column table, the notes and the formulas."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    exact_shown = any(_exact(r) for r in rows)
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False, header_style="bold")
    t.add_column(translate("report.quantity", lang), overflow="fold")
    t.add_column(translate("report.value", lang), justify="right", no_wrap=True)
    if exact_shown:
        t.add_column(translate("report.exact", lang), justify="right", no_wrap=True, style="dim")
    for r in rows:
        cells = [r.label, r.text]
        if exact_shown:
            cells.append(_exact(r))
        t.add_row(*cells)
    parts: list[object] = [Text(title, style="bold"), t, *(Text(n, style="yellow") for n in notes)]
    if explain:
        parts += [Text(""), Text(translate("report.formulas", lang), style="bold"), Text(explain)]
    return Group(*parts)  # type: ignore[arg-type]


def to_markdown(title: str, rows: Sequence[Row], notes: Sequence[str] = (), explain: str = "",
                lang: str = "en") -> str:
    heads = [translate("report.quantity", lang), translate("report.value", lang), translate("report.exact", lang)]
    lines = [f"**{_md(title)}**", "", "| " + " | ".join(heads) + " |", "|---|---:|---:|"]
    for r in rows:
        lines.append(f"| {_md(r.label)} | {_md(r.text)} | {_md(_exact(r))} |")
    lines += ["", *(f"- {_md(n)}" for n in notes)]
    if explain:
        lines += ["", f"### {translate('report.formulas', lang)}", "", "```text", explain, "```"]
    return "\n".join(line for line in lines).rstrip("\n") + "\n"


def _exact(r: Row) -> str:
    """The exact value as people read it, or "" when the text already says it."""
    if isinstance(r.exact, bool) or r.exact == "":
        return ""
    if isinstance(r.exact, int):
        text = f"{r.exact:,}"
    elif isinstance(r.exact, float):
        text = f"{r.exact:,.1f} s" if r.key.endswith("_seconds") else f"{r.exact:g}"
    else:
        text = str(r.exact)
    return "" if text == r.text else text


def to_csv(rows: Sequence[Row]) -> str:
    """``name,value`` with exact values (bytes, counts), one row per figure."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(("name", "value"))
    for r in rows:
        writer.writerow((r.key, r.text if r.exact == "" else r.exact))
    return buf.getvalue()


def _md(text: str) -> str:
    return text.replace("|", "\\|")


register_messages(
    {
        "report.model": {"en": "model", "zh": "模型"},
        "report.llm.title": {"en": "{model} · sequence {seq_len} x batch {batch}",
                             "zh": "{model} · 序列长度 {seq_len} x 批大小 {batch}"},
        "report.llm.params": {"en": "params", "zh": "参数量"},
        "report.llm.active_params": {"en": "active params per token", "zh": "每个词元激活的参数量"},
        "report.llm.multiply_adds_per_sequence": {"en": "multiply-adds per sequence", "zh": "每个序列的乘加次数"},
        "report.llm.multiply_adds_per_token": {"en": "multiply-adds per token", "zh": "每个词元的乘加次数"},
        "report.llm.forward_flops_per_token": {"en": "forward FLOPs per token", "zh": "每个词元的前向浮点运算次数"},
        "report.llm.training_flops_per_token": {"en": "training FLOPs per token (3 x forward)",
                                                "zh": "每个词元的训练浮点运算次数（3 x 前向）"},
        "report.llm.training_flops_6n": {
            "en": "training FLOPs per token, 6N rule, N = all {active} params a token uses",
            "zh": "每个词元的训练浮点运算次数，6N 规则，N = 每个词元使用的全部 {active} 个参数"},
        "report.llm.training_flops_6n_non_embedding": {
            "en": "training FLOPs per token, 6N rule, Kaplan's N = {n} non-embedding params",
            "zh": "每个词元的训练浮点运算次数，6N 规则，Kaplan 的 N = {n} 个非嵌入参数"},
        "report.llm.kv_cache_elements_per_token": {"en": "KV-cache elements per token",
                                                   "zh": "每个词元的 KV 缓存元素个数"},
        "report.llm.kv_cache_bytes_per_token": {"en": "KV cache per token, {dtype}",
                                                "zh": "每个词元的 KV 缓存，{dtype}"},
        "report.llm.kv_cache_bytes": {"en": "KV cache, whole context, {dtype}", "zh": "整个上下文的 KV 缓存，{dtype}"},
        "report.llm.recurrent_state_elements_per_sequence": {
            "en": "recurrent state elements per sequence (no KV cache; fixed, any context length)",
            "zh": "每个序列的循环状态元素个数（没有 KV 缓存；固定，与上下文长度无关）",
        },
        "report.llm.model_size_bytes": {"en": "weights, {dtype}", "zh": "权重，{dtype}"},
        "report.memory.title": {
            "en": "{model} · batch {batch} · dtype {dtype}{autocast} · optimizer {optimizer}{checkpointing} ({method})",
            "zh": "{model} · 批大小 {batch} · 数据类型 {dtype}{autocast} · 优化器 {optimizer}{checkpointing}"
            "（{method}）",
        },
        "report.memory.autocast": {"en": " · autocast {dtype}", "zh": " · 自动混合精度 {dtype}"},
        "report.memory.checkpointing": {"en": " · checkpointing", "zh": " · 激活检查点"},
        "report.memory.method.network": {"en": "network", "zh": "按网络各层推算"},
        "report.memory.method.torch": {"en": "torch", "zh": "在元设备（meta）上观测 PyTorch 模块"},
        "report.memory.weights_bytes": {"en": "weights", "zh": "权重"},
        "report.memory.gradient_bytes": {"en": "gradients", "zh": "梯度"},
        "report.memory.optimizer_bytes": {"en": "optimizer state", "zh": "优化器状态"},
        "report.memory.activation_bytes": {"en": "activations (saved for backward)", "zh": "激活（为反向传播保存）"},
        "report.memory.input_bytes": {"en": "input batch", "zh": "输入批次"},
        "report.memory.autocast_weight_copies_bytes": {"en": "autocast weight copies", "zh": "自动混合精度的权重副本"},
        "report.memory.peak_training_bytes": {"en": "peak, training step", "zh": "峰值，训练一步"},
        "report.memory.peak_inference_bytes": {"en": "peak, inference", "zh": "峰值，推理"},
        "report.memory.cuda_workspace_bytes": {"en": "CUDA workspaces, estimated", "zh": "CUDA 工作区（估计）"},
        "report.memory.cublas_workspace_bytes": {
            "en": "  cuBLAS, per process (not in the peaks)",
            "zh": "  cuBLAS，每个进程（不计入峰值）",
        },
        "report.memory.cudnn_workspace_bytes": {
            "en": "  cuDNN, largest convolution (in the peaks)",
            "zh": "  cuDNN，最大的卷积工作区（计入峰值）",
        },
        "report.memory.layer": {"en": "Layer", "zh": "层"},
        "report.memory.kind": {"en": "Kind", "zh": "类型"},
        "report.memory.saved": {"en": "Saved for backward", "zh": "为反向传播保存"},
        "unit.flops": {"en": "{value} FLOPs", "zh": "{value}"},
        "report.schedule.title": {"en": "Training schedule", "zh": "训练进度"},
        "report.schedule.samples": {"en": "samples", "zh": "样本数"},
        "report.schedule.batch_size": {"en": "batch size", "zh": "批大小"},
        "report.schedule.epochs": {"en": "epochs", "zh": "轮数"},
        "report.schedule.iterations_per_epoch": {"en": "iterations per epoch", "zh": "每轮迭代次数"},
        "report.schedule.last_batch": {"en": " (last batch {size})", "zh": "（最后一批 {size}）"},
        "report.schedule.total_updates": {"en": "optimizer updates", "zh": "优化器更新次数"},
        "report.schedule.samples_seen": {"en": "samples seen", "zh": "处理的样本总数"},
        "report.schedule.training_flops": {"en": "training compute", "zh": "训练计算量（浮点运算次数）"},
        "report.schedule.time_seconds": {"en": "estimated time", "zh": "预计时间"},
    }
)


def _count(n: int) -> str:
    return f"{n:,}"


def llm_rows(f: LLMFigures, lang: str = "en") -> list[Row]:
    """The rows of ``netsize llm``; keys as in ``netsize llm --format json``."""
    from netsize.render._format import size

    tr = translate
    rows = [Row("params", tr("report.llm.params", lang), _count(f.params), f.params)]
    if f.active_params != f.params:
        rows.append(Row("active_params", tr("report.llm.active_params", lang), _count(f.active_params),
                        f.active_params))
    for key, value in (("multiply_adds_per_sequence", f.macs_per_sequence),
                       ("multiply_adds_per_token", f.macs_per_token),
                       ("forward_flops_per_token", f.forward_flops_per_token),
                       ("training_flops_per_token", f.training_flops_per_token)):
        rows.append(Row(key, tr(f"report.llm.{key}", lang), _count(value), value))
    rows.append(Row("training_flops_6n", tr("report.llm.training_flops_6n", lang, active=_count(f.active_params)),
                    _count(f.training_flops_6n), f.training_flops_6n))
    n_kaplan = f.active_params - f.embedding_params
    rows.append(Row("training_flops_6n_non_embedding",
                    tr("report.llm.training_flops_6n_non_embedding", lang, n=_count(n_kaplan)),
                    _count(6 * n_kaplan), 6 * n_kaplan))
    rows.append(Row("kv_cache_elements_per_token", tr("report.llm.kv_cache_elements_per_token", lang),
                    _count(f.kv_cache_elements_per_token), f.kv_cache_elements_per_token))
    if f.recurrent_state_elements_per_sequence:
        rows.append(Row("recurrent_state_elements_per_sequence",
                        tr("report.llm.recurrent_state_elements_per_sequence", lang),
                        _count(f.recurrent_state_elements_per_sequence), f.recurrent_state_elements_per_sequence))
    for key, per_dtype in (("kv_cache_bytes_per_token", f.kv_cache_bytes_per_token),
                           ("kv_cache_bytes", f.kv_cache_bytes_context), ("model_size_bytes", f.weights_bytes)):
        for dtype, n in per_dtype.items():
            rows.append(Row(f"{key}.{dtype}", tr(f"report.llm.{key}", lang, dtype=dtype), size(n), n))
    return rows


def llm_title(f: LLMFigures, lang: str = "en") -> str:
    return translate("report.llm.title", lang, model=f.model, seq_len=f"{f.seq_len:,}", batch=f"{f.batch_size:,}")


def memory_rows(report: MemoryReport, lang: str = "en") -> list[Row]:
    """The rows of ``netsize memory``: bytes in the unit that fits, exact bytes beside."""
    from netsize.render._format import size

    keys = ["weights_bytes", "gradient_bytes", "optimizer_bytes", "activation_bytes", "input_bytes"]
    if report.autocast:
        keys.append("autocast_weight_copies_bytes")
    keys += ["peak_training_bytes", "peak_inference_bytes", "cuda_workspace_bytes", "cublas_workspace_bytes",
             "cudnn_workspace_bytes"]
    rows = []
    for key in keys:
        n: int = getattr(report, key)
        rows.append(Row(key, translate(f"report.memory.{key}", lang), size(n), n))
    return rows


def memory_title(report: MemoryReport, lang: str = "en") -> str:
    autocast = translate("report.memory.autocast", lang, dtype=report.autocast) if report.autocast else ""
    checkpointing = translate("report.memory.checkpointing", lang) if report.checkpointing else ""
    return translate("report.memory.title", lang, model=report.model, batch=report.batch_size, dtype=report.dtype,
                     autocast=autocast, optimizer=report.optimizer, checkpointing=checkpointing,
                     method=translate(f"report.memory.method.{report.method}", lang))


def schedule_rows(s: Schedule, lang: str = "en") -> list[Row]:
    """The rows of ``netsize schedule``."""
    tr = translate
    iterations = _count(s.iterations_per_epoch)
    if s.last_batch_size != s.batch_size:
        iterations += tr("report.schedule.last_batch", lang, size=s.last_batch_size)
    rows = [
        Row("samples", tr("report.schedule.samples", lang), _count(s.samples), s.samples),
        Row("batch_size", tr("report.schedule.batch_size", lang), _count(s.batch_size), s.batch_size),
        Row("epochs", tr("report.schedule.epochs", lang), _count(s.epochs), s.epochs),
        Row("iterations_per_epoch", tr("report.schedule.iterations_per_epoch", lang), iterations,
            s.iterations_per_epoch),
        Row("total_updates", tr("report.schedule.total_updates", lang), _count(s.total_updates), s.total_updates),
        Row("samples_seen", tr("report.schedule.samples_seen", lang), _count(s.samples_seen), s.samples_seen),
    ]
    if s.training_flops is not None:
        rows.append(Row("training_flops", tr("report.schedule.training_flops", lang),
                        translate("unit.flops", lang, value=f"{s.training_flops:.4g}"), s.training_flops))
    if s.seconds is not None:
        from netsize.schedule import format_duration

        rows.append(Row("time_seconds", tr("report.schedule.time_seconds", lang), format_duration(s.seconds, lang),
                        s.seconds))
    return rows
