"""Plots with matplotlib (``pip install netsize[plot]``): per-layer bars and a training step's memory.

Formatting only; the numbers come from the Summary and the memory model.
"""

from __future__ import annotations

from typing import Any

from netsize._errors import NetsizeError
from netsize._i18n import register_messages, translate
from netsize._summary import Summary

WHAT = {  # --what -> (Totals and LayerRecord field, message key of its name)
    "params": ("params", "plot.params"),
    "multiply-adds": ("multiply_adds", "plot.multiply_adds"),
    "flops": ("flops", "plot.flops"),
    "activations": ("activation_elements", "plot.activations"),
}

register_messages({
    "plot.params": {"en": "parameters", "zh": "参数量"},
    "plot.multiply_adds": {"en": "multiply-adds", "zh": "乘加次数"},
    "plot.flops": {"en": "FLOPs", "zh": "浮点运算次数"},
    "plot.activations": {"en": "activation elements", "zh": "激活元素个数"},
    "plot.per_layer": {"en": "{what} per layer", "zh": "每层的{what}"},
    "plot.log": {"en": " (log scale)", "zh": "（对数刻度）"},
    "plot.title": {"en": "{model}: {what}, total {total}", "zh": "{model}：{what}，合计 {total}"},
    "plot.forward": {"en": "forward", "zh": "前向"},
    "plot.backward": {"en": "backward", "zh": "反向"},
    "plot.peak": {"en": "peak {mib} MiB\n{where}", "zh": "峰值 {mib} MiB\n{where}"},
    "plot.at.forward": {"en": "while {name} runs forward", "zh": "{name} 前向运行时"},
    "plot.at.backward": {"en": "while {name} runs backward", "zh": "{name} 反向运行时"},
    "plot.at.loss": {"en": "at the loss", "zh": "计算损失时"},
    "plot.at.loss backward": {"en": "at the loss's backward", "zh": "损失反向时"},
    "plot.at.optimizer": {"en": "during the optimizer step", "zh": "优化器更新时"},
    "plot.at.start": {"en": "at the start of the step", "zh": "训练步开始时"},
    "plot.optimizer": {"en": "optimizer step", "zh": "优化器更新"},
    "plot.not_walk": {"en": "per-layer account; the step's peak, {mib} MiB, includes transients",
                      "zh": "逐层累计；训练步的峰值 {mib} MiB 含临时张量"},
    "plot.memory_x": {"en": "layers: forward, then backward, then the optimizer step",
                      "zh": "各层：先前向，后反向，再优化器更新"},
    "plot.memory_y": {"en": "memory held (MiB)", "zh": "占用的内存（MiB）"},
    "plot.memory_title": {"en": "{model}: one training step, batch {batch}, {dtype}, {optimizer}",
                          "zh": "{model}：训练一步，批大小 {batch}，{dtype}，{optimizer}"},
})

# Fonts with Chinese glyphs, tried in order after matplotlib's own (DejaVu has none).
_CJK_FONTS = ["Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "Microsoft YaHei",
              "PingFang SC", "Heiti SC", "SimHei"]


def _pyplot(lang: str = "en") -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        raise NetsizeError("plots need matplotlib: pip install 'netsize[plot]'") from None
    if lang == "zh":
        families = list(matplotlib.rcParams["font.sans-serif"])
        matplotlib.rcParams["font.sans-serif"] = [*families, *(f for f in _CJK_FONTS if f not in families)]
    return plt


def _labels(names: list[str]) -> list[str]:
    """Distinct short labels: the last dotted parts, as many as it takes to tell names apart."""
    out = []
    for n in names:
        parts = n.split(".")
        for k in range(1, len(parts) + 1):
            short = ".".join(parts[-k:])
            if sum(1 for m in names if m == short or m.endswith("." + short)) == 1:
                break
        out.append(short)
    return out


def plot_summary(summary: Summary, what: str = "params", depth: int | None = None, log: bool = False,
                 top: int | None = None, ax: Any = None, lang: str = "en") -> Any:  # fmt: skip
    """A bar per layer (or block at ``depth``) of ``what``: params, multiply-adds, flops, activations;
    titles and labels in ``lang`` (en or zh)."""
    if what not in WHAT:
        raise NetsizeError(f"cannot plot {what!r}; choose one of {', '.join(WHAT)}, or memory")
    field, key = WHAT[what]
    label = translate(key, lang)
    rows = [r for r in summary.rows(depth) if getattr(r, field)]
    if top:
        rows = sorted(rows, key=lambda r: -int(getattr(r, field)))[:top]
    plt = _pyplot(lang)
    if ax is None:
        height = max(3.0, 0.22 * len(rows) + 1.2)
        _, ax = plt.subplots(figsize=(8, min(height, 40)))
    names = _labels([r.name for r in rows])
    values = [int(getattr(r, field)) for r in rows]
    ax.barh(range(len(rows)), values, color="#4C78A8")
    ax.set_yticks(range(len(rows)), names, fontsize=7 if len(rows) > 40 else 9)
    ax.invert_yaxis()
    ax.set_xlabel(translate("plot.per_layer", lang, what=label) + (translate("plot.log", lang) if log else ""))
    if log:
        ax.set_xscale("log")
    else:
        from matplotlib.ticker import FuncFormatter

        from netsize.render._format import human

        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: human(int(v))))
    total = int(getattr(summary.totals, field))
    ax.set_title(translate("plot.title", lang, model=summary.model, what=label, total=f"{total:,}"))
    ax.figure.tight_layout()
    return ax


def plot_memory(summary: Summary, report: Any, ax: Any = None, lang: str = "en") -> Any:
    """The memory held through one training step, with the peak marked (MiB on the y axis);
    titles and labels in ``lang`` (en or zh)."""
    from netsize.timeline import is_walk, peak, training_timeline

    points = training_timeline(summary, report)
    plt = _pyplot(lang)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4))
    mib = [p.bytes / 2**20 for p in points]
    ax.plot(range(len(points)), mib, color="#4C78A8")
    # the phases as spans: forward up to the loss, backward up to the optimizer step, then the step
    end_fwd = max((i for i, p in enumerate(points) if p.phase in ("forward", "loss")), default=0)
    end_bwd = max((i for i, p in enumerate(points) if p.phase in ("backward", "loss backward")), default=end_fwd)
    ax.axvspan(0, end_fwd, color="#E45756", alpha=0.06, label=translate("plot.forward", lang))
    ax.axvspan(end_fwd, end_bwd, color="#72B7B2", alpha=0.08, label=translate("plot.backward", lang))
    if end_bwd < len(points) - 1:
        ax.axvspan(end_bwd, len(points) - 1, color="#F58518", alpha=0.08, label=translate("plot.optimizer", lang))
    top = peak(points)
    i = points.index(top)
    ax.plot([i], [top.bytes / 2**20], "o", color="#E45756")
    where = translate(f"plot.at.{top.phase}", lang, name=top.name)
    ax.annotate(translate("plot.peak", lang, mib=f"{top.bytes / 2**20:,.1f}", where=where),
                (i, top.bytes / 2**20), textcoords="offset points", fontsize=8,
                xytext=(-8, -24), ha="right" if i > len(points) / 2 else "left")  # fmt: skip
    if not is_walk(report):  # the PyTorch method's curve: say why its top is not the step's peak
        ax.text(0.99, 0.02, translate("plot.not_walk", lang, mib=f"{report.peak_training_bytes / 2**20:,.1f}"),
                transform=ax.transAxes, ha="right", va="bottom", fontsize=7, color="#5b6475")
    ax.set_xlabel(translate("plot.memory_x", lang))
    ax.set_ylabel(translate("plot.memory_y", lang))
    ax.set_title(translate("plot.memory_title", lang, model=summary.model, batch=report.batch_size, dtype=report.dtype,
                           optimizer=report.optimizer))
    ax.legend(loc="upper left", fontsize=8)
    ax.figure.tight_layout()
    return ax
