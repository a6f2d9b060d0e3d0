"""Plots with matplotlib (``pip install netsize[plot]``): per-layer bars and a training step's memory.

Formatting only; the numbers come from the Summary and the memory model.
"""

from __future__ import annotations

from typing import Any

from netsize._errors import NetsizeError
from netsize._summary import Summary

WHAT = {
    "params": ("params", "parameters"),
    "multiply-adds": ("multiply_adds", "multiply-adds"),
    "flops": ("flops", "FLOPs"),
    "activations": ("activation_elements", "activation elements"),
}


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        raise NetsizeError("plots need matplotlib: pip install 'netsize[plot]'") from None
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
                 top: int | None = None, ax: Any = None) -> Any:  # fmt: skip
    """A bar per layer (or block at ``depth``) of ``what``: params, multiply-adds, flops, activations."""
    if what not in WHAT:
        raise NetsizeError(f"cannot plot {what!r}; choose one of {', '.join(WHAT)}, or memory")
    field, label = WHAT[what]
    rows = [r for r in summary.rows(depth) if getattr(r, field)]
    if top:
        rows = sorted(rows, key=lambda r: -int(getattr(r, field)))[:top]
    plt = _pyplot()
    if ax is None:
        height = max(3.0, 0.22 * len(rows) + 1.2)
        _, ax = plt.subplots(figsize=(8, min(height, 40)))
    names = _labels([r.name for r in rows])
    values = [int(getattr(r, field)) for r in rows]
    ax.barh(range(len(rows)), values, color="#4C78A8")
    ax.set_yticks(range(len(rows)), names, fontsize=7 if len(rows) > 40 else 9)
    ax.invert_yaxis()
    ax.set_xlabel(f"{label} per layer" + (" (log scale)" if log else ""))
    if log:
        ax.set_xscale("log")
    else:
        from matplotlib.ticker import FuncFormatter

        from netsize.render._format import human

        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: human(int(v))))
    total = int(getattr(summary.totals, field))
    ax.set_title(f"{summary.model}: {label}, total {total:,}")
    ax.figure.tight_layout()
    return ax


def plot_memory(summary: Summary, report: Any, ax: Any = None) -> Any:
    """The memory held through one training step, with the peak marked (MiB on the y axis)."""
    from netsize.timeline import peak, training_timeline

    points = training_timeline(summary, report)
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4))
    mib = [p.bytes / 2**20 for p in points]
    ax.plot(range(len(points)), mib, color="#4C78A8")
    n_fwd = sum(1 for p in points if p.phase == "forward")
    ax.axvspan(0, n_fwd, color="#E45756", alpha=0.06, label="forward")
    ax.axvspan(n_fwd, len(points) - 1, color="#72B7B2", alpha=0.08, label="backward")
    top = peak(points)
    i = points.index(top)
    ax.plot([i], [top.bytes / 2**20], "o", color="#E45756")
    ax.annotate(f"peak {top.bytes / 2**20:,.1f} MiB\nafter {top.phase} of {top.name}", (i, top.bytes / 2**20),
                textcoords="offset points", xytext=(8, -24), fontsize=8)  # fmt: skip
    ax.set_xlabel("layers: forward, then backward")
    ax.set_ylabel("memory held (MiB)")
    ax.set_title(f"{summary.model}: one training step, batch {report.batch_size}, {report.dtype}, {report.optimizer}")
    ax.legend(loc="upper left", fontsize=8)
    ax.figure.tight_layout()
    return ax
