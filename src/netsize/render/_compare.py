"""Text and Markdown of a :class:`netsize.compare.Comparison`. Formatting only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from netsize._i18n import translate
from netsize._shape import shape_str
from netsize.render._format import csv_text, size

if TYPE_CHECKING:
    from netsize.compare import Comparison

_LABELS = {
    "params": "params", "trainable_params": "trainable params", "buffers": "buffers",
    "multiply_adds": "multiply-adds", "flops": "FLOPs", "other_ops": "other ops",
    "activation_elements": "activations (elements)", "weights_bytes": "weights", "gradient_bytes": "gradients",
    "optimizer_bytes": "optimizer state", "activation_bytes": "activations (saved)",
    "peak_training_bytes": "peak, training step", "peak_inference_bytes": "peak, inference",
}  # fmt: skip


def _ratio(values: list[int]) -> str:
    base = values[0]
    if not base:
        return ""
    return " ".join(f"{v / base:.2f}x" for v in values[1:])


def _rows(c: Comparison) -> list[tuple[str, list[str], str]]:
    out: list[tuple[str, list[str], str]] = []
    for f, values in c.totals.items():
        out.append((_LABELS.get(f, f), [f"{v:,}" for v in values], _ratio(values)))
    for d, values in c.model_size_bytes.items():
        out.append((f"model size, {d}", [size(v) for v in values], _ratio(values)))
    for f, values in c.memory.items():
        out.append((_LABELS.get(f, f), [size(v) for v in values], _ratio(values)))
    return out


def compare_text(c: Comparison, lang: str = "en") -> str:
    rows = _rows(c)
    head = ["", *c.names, "ratio to first" if len(c.names) > 1 else ""]
    cells = [[k, *vals, r] for k, vals, r in rows]
    widths = [max(len(str(x[i])) for x in [head, *cells]) for i in range(len(head))]

    def line(items: list[str]) -> str:
        first = f"{items[0]:<{widths[0]}}"
        rest = [f"{v:>{w}}" for v, w in zip(items[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    out = [line(head)]
    out += [line(c_) for c_ in cells]
    if c.memory_setup:
        out.append(f"memory: {c.memory_setup}")
    differing = [r for r in c.shared if r.differs]
    if c.shared:
        out += ["", f"blocks in every model (depth {c.depth}): {len(c.shared)}, of which {len(differing)} differ"]
        for r in differing:
            params = " vs ".join(f"{p:,}" for p in r.params)
            macs = " vs ".join(f"{m:,}" for m in r.multiply_adds)
            shapes = " vs ".join(shape_str(s) if s else "-" for s in r.output_shapes)
            out.append(f"  {r.name}: params {params}; {translate('multiply_adds', lang)} {macs}; output {shapes}")
    for name, only in c.only_in.items():
        out.append(f"only in {name}: {', '.join(only[:12])}" + (" ..." if len(only) > 12 else ""))
    return "\n".join(out)


def compare_markdown(c: Comparison) -> str:
    out = ["| | " + " | ".join(c.names) + " |", "|---|" + "---:|" * len(c.names)]
    out += [f"| {k} | " + " | ".join(vals) + " |" for k, vals, _ in _rows(c)]
    differing = [r for r in c.shared if r.differs]
    if differing:
        out += ["", "| block | " + " | ".join(f"params ({n})" for n in c.names) + " | "
                + " | ".join(f"multiply-adds ({n})" for n in c.names) + " |",
                "|---|" + "---:|" * (2 * len(c.names))]  # fmt: skip
        out += [f"| {r.name} | " + " | ".join(f"{p:,}" for p in r.params) + " | "
                + " | ".join(f"{m:,}" for m in r.multiply_adds) + " |" for r in differing]  # fmt: skip
    return "\n".join(out)


def compare_csv(c: Comparison) -> str:
    """One row per quantity, one column per model (exact numbers)."""
    rows = [(f, *values) for f, values in c.totals.items()]
    rows += [(f"model_size_bytes_{d}", *values) for d, values in c.model_size_bytes.items()]
    rows += [(f, *values) for f, values in c.memory.items()]
    return csv_text(["quantity", *c.names], rows)
