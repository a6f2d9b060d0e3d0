"""How each result object looks: text, one line, HTML, Markdown, rich and pandas.

Called by :class:`netsize._display.ShowsItself`; formatting only. A ``Summary`` reuses the
per-layer renderers (:mod:`._table`, :mod:`._text`); the other reports (``MemoryReport``,
``LLMFigures``, ``Schedule``) are a list of figures (label, shown value, exact value) drawn the
same way in every format.
"""

from __future__ import annotations

import html as _html
import shutil
from dataclasses import dataclass
from typing import Any

from netsize._errors import NetsizeError
from netsize._summary import Summary
from netsize.render._format import count, footer_lines, human, shape, size, title

__all__ = ["Figure", "dataframe", "figures", "html", "markdown", "one_line", "rich_renderable", "text"]


@dataclass(frozen=True)
class Figure:
    """One line of a report: ``label``, the value as shown, the exact value (an int where it is one)."""

    label: str
    shown: str
    value: int | float | str | bool | None


# ------------------------------------------------------------------------------------------
# the reports' figures


def _bytes(n: int) -> str:
    return f"{n:,} B ({size(n)})" if n >= 1024 else f"{n:,} B"


def _memory_figures(r: Any) -> tuple[str, list[Figure]]:
    head = (
        f"{r.model} · batch {r.batch_size} · {r.dtype}"
        + (f" · autocast {r.autocast}" if r.autocast else "")
        + f" · optimizer {r.optimizer}"
        + (" · checkpointing" if r.checkpointing else "")
        + f" · {r.method}"
    )
    rows = [
        ("params", r.params, False),
        ("trainable params", r.trainable_params, False),
        ("weights", r.weights_bytes, True),
        ("gradients", r.gradient_bytes, True),
        ("optimizer state", r.optimizer_bytes, True),
        ("activations (saved for backward)", r.activation_bytes, True),
        ("input batch", r.input_bytes, True),
    ]
    if r.autocast:
        rows.append(("autocast weight copies", r.autocast_weight_copies_bytes, True))
    rows += [
        ("peak, training step", r.peak_training_bytes, True),
        ("peak, backward", r.peak_backward_bytes, True),
        ("peak, optimizer step", r.peak_optimizer_step_bytes, True),
        ("peak, inference", r.peak_inference_bytes, True),
    ]
    return head, [Figure(label, _bytes(v) if is_bytes else count(v), v) for label, v, is_bytes in rows]


def _llm_figures(f: Any) -> tuple[str, list[Figure]]:
    head = f"{f.model} · sequence {f.seq_len:,} · batch {f.batch_size:,}"
    out = [Figure("params", count(f.params), f.params)]
    if f.active_params != f.params:
        out.append(Figure("active params per token", count(f.active_params), f.active_params))
    out += [
        Figure("embedding params", count(f.embedding_params), f.embedding_params),
        Figure("multiply-adds per sequence", count(f.macs_per_sequence), f.macs_per_sequence),
        Figure("multiply-adds per token", count(f.macs_per_token), f.macs_per_token),
        Figure("forward FLOPs per token", count(f.forward_flops_per_token), f.forward_flops_per_token),
        Figure("training FLOPs per token", f"{count(f.training_flops_per_token)} (3 x forward)",
               f.training_flops_per_token),
        Figure("training FLOPs per token, 6N rule", f"{count(f.training_flops_6n)} (6 x {count(f.active_params)})",
               f.training_flops_6n),
        Figure("KV-cache elements per token", count(f.kv_cache_elements_per_token), f.kv_cache_elements_per_token),
    ]
    out += [Figure(f"KV cache per token, {d}", _bytes(n), n) for d, n in f.kv_cache_bytes_per_token.items()]
    out += [Figure(f"KV cache, whole context, {d}", _bytes(n), n) for d, n in f.kv_cache_bytes_context.items()]
    out += [Figure(f"weights, {d}", _bytes(n), n) for d, n in f.weights_bytes.items()]
    return head, out


def _schedule_figures(s: Any) -> tuple[str, list[Figure]]:
    from netsize.schedule import format_duration

    head = f"{s.samples:,} samples · batch {s.batch_size:,} · {s.epochs:,} epochs" + (
        " · drop last" if s.drop_last else ""
    )
    out = [
        Figure("iterations per epoch", count(s.iterations_per_epoch), s.iterations_per_epoch),
        Figure("last batch size", count(s.last_batch_size), s.last_batch_size),
        Figure("optimizer updates", count(s.total_updates), s.total_updates),
        Figure("samples per epoch", count(s.samples_per_epoch), s.samples_per_epoch),
        Figure("samples seen", count(s.samples_seen), s.samples_seen),
    ]
    if s.forward_flops_per_sample is not None:
        out.append(Figure("forward FLOPs per sample", count(s.forward_flops_per_sample), s.forward_flops_per_sample))
    if s.training_flops is not None:
        out.append(Figure("training FLOPs", f"{s.training_flops:.4g} ({s.compute_rule})", s.training_flops))
    if s.seconds is not None:
        out.append(Figure("time", f"{format_duration(s.seconds)} ({s.time_rule})", s.seconds))
    return head, out


def _plan_figures(plan: Any) -> tuple[str, list[Figure]]:
    from netsize._i18n import translate

    out: list[Figure] = []
    for sc in plan.scenarios:
        out += [Figure(f"{sc.name}: {translate(t.name, 'en')}", _bytes(t.value), t.value) for t in sc.parts]
        out.append(Figure(f"{sc.name}: total per GPU", _bytes(sc.total_bytes), sc.total_bytes))
    return f"{plan.model} · {plan.params:,} params", out


def _comparison_figures(c: Any) -> tuple[str, list[Figure]]:
    from netsize.render._compare import _LABELS

    out: list[Figure] = []
    for group, is_bytes in ((c.totals, False), (c.model_size_bytes, True), (c.memory, True)):
        for key, values in group.items():
            label = _LABELS.get(key, f"model size, {key}" if group is c.model_size_bytes else key)
            out += [Figure(f"{label}, {name}", _bytes(v) if is_bytes else count(v), v)
                    for name, v in zip(c.names, values, strict=True)]
    return " vs ".join(c.names), out


def figures(report: Any) -> tuple[str, list[Figure]]:
    """The heading and the figures of a ``MemoryReport``, ``LLMFigures``, ``Schedule``, ``Plan``
    or ``Comparison``."""
    name = type(report).__name__
    if name == "Plan":
        return _plan_figures(report)
    if name == "Comparison":
        return _comparison_figures(report)
    if name == "MemoryReport":
        return _memory_figures(report)
    if name == "LLMFigures":
        return _llm_figures(report)
    if name == "Schedule":
        return _schedule_figures(report)
    raise NetsizeError(f"netsize does not know how to show a {name}")


def _figures_text(report: Any) -> str:
    head, rows = figures(report)
    width = max(len(r.label) for r in rows)
    return "\n".join([head, *(f"{r.label:<{width}}  {r.shown}" for r in rows)]) + "\n"


# ------------------------------------------------------------------------------------------
# one entry per format


def _width() -> int:
    # Wide enough that no column is left out (a str() is often written to a log or a file).
    return max(120, shutil.get_terminal_size((120, 24)).columns)


def text(obj: Any) -> str:
    """``str()``: the terminal table, without colour."""
    if isinstance(obj, Summary):
        if obj.view is not None:
            from netsize.render._tree import tree_text

            return tree_text(obj, obj.view)
        from netsize.render._table import table_text

        return table_text(obj, _width())
    name = type(obj).__name__
    if name == "Plan":
        from netsize.render._plan import plan_text

        return plan_text(obj) + "\n"
    if name == "Comparison":
        from netsize.render._compare import compare_text

        return compare_text(obj) + "\n"
    return _figures_text(obj)


def one_line(obj: Any) -> str:
    """``repr()``: what it is, in one line."""
    name = type(obj).__name__
    if isinstance(obj, Summary):
        n = len(obj.layers)
        t = obj.totals
        ins = ", ".join(shape(s) for s in obj.input_shapes.values())
        return (
            f"<Summary {obj.model}: {n} layer{'' if n == 1 else 's'}, {count(t.params)} params, "
            f"{count(t.multiply_adds)} multiply-adds, input {ins}>"
        )
    if name == "MemoryReport":
        return (
            f"<MemoryReport {obj.model}: batch {obj.batch_size}, {obj.dtype}, {obj.optimizer}: "
            f"training peak {size(obj.peak_training_bytes)}, inference peak {size(obj.peak_inference_bytes)}>"
        )
    if name == "LLMFigures":
        kv = obj.kv_cache_bytes_per_token.get("bfloat16")
        return (
            f"<LLMFigures {obj.model}: {human(obj.params)} params, {human(obj.macs_per_token)} multiply-adds "
            f"per token, seq_len {obj.seq_len}, batch {obj.batch_size}"
            + (f", KV cache {size(kv)} per token in bfloat16>" if kv is not None else ">")
        )
    if name == "Plan":
        scenarios = ", ".join(f"{sc.name} {size(sc.total_bytes)}" for sc in obj.scenarios)
        return f"<Plan {obj.model}: {count(obj.params)} params; per GPU: {scenarios}>"
    if name == "Comparison":
        params = " vs ".join(count(v) for v in obj.totals.get("params", []))
        return f"<Comparison {' vs '.join(obj.names)}: params {params}>"
    if name == "Schedule":
        return (
            f"<Schedule {obj.samples:,} samples, batch {obj.batch_size}, {obj.epochs} epochs: "
            f"{obj.iterations_per_epoch:,} iterations per epoch, {obj.total_updates:,} updates>"
        )
    return f"<{name}>"


def _esc(s: str) -> str:
    return _html.escape(s, quote=False)


def html(obj: Any) -> str:
    """``_repr_html_``: an HTML table for notebooks (no styles beyond alignment)."""
    if isinstance(obj, Summary):
        if obj.view is not None:
            from netsize.render._tree import tree_html

            return tree_html(obj, obj.view)
        return _summary_html(obj)
    head, rows = figures(obj)
    body = "".join(
        f"<tr><th style='text-align:left'>{_esc(r.label)}</th><td style='text-align:right'>{_esc(r.shown)}</td></tr>"
        for r in rows
    )
    return f"<div class='netsize'><p><b>{_esc(head)}</b></p><table>{body}</table></div>"


def _summary_html(s: Summary) -> str:
    heads = ("Layer", "Kind", "Output shape", "Params", "Mult-adds", "Activations")
    right = (False, False, False, True, True, True)

    def cell(tag: str, value: str, align_right: bool) -> str:
        return f"<{tag} style='text-align:{'right' if align_right else 'left'}'>{_esc(value)}</{tag}>"

    lines = [f"<div class='netsize'><p><b>{_esc(title(s, 'en'))}</b></p><table>", "<thead><tr>"]
    lines.append("".join(cell("th", h, r) for h, r in zip(heads, right, strict=True)) + "</tr></thead><tbody>")
    for r in s.layers:
        values = (r.name, r.kind, shape(r.output_shape), count(r.params), count(r.multiply_adds),
                  count(r.activation_elements))
        lines.append("<tr>" + "".join(cell("td", v, a) for v, a in zip(values, right, strict=True)) + "</tr>")
    t = s.totals
    total = ("Total", "", "", count(t.params), count(t.multiply_adds), count(t.activation_elements))
    lines.append("</tbody><tfoot><tr>" + "".join(cell("th", v, a) for v, a in zip(total, right, strict=True))
                 + "</tr></tfoot></table>")
    lines.append("<ul>" + "".join(f"<li>{_esc(line)}</li>" for line in footer_lines(s, "en")) + "</ul></div>")
    return "\n".join(lines)


def markdown(obj: Any) -> str:
    """``_repr_markdown_``: a GitHub-flavoured Markdown table."""
    if isinstance(obj, Summary):
        if obj.view is not None:
            from netsize.render._tree import tree_markdown

            return tree_markdown(obj, obj.view)
        from netsize.render._text import to_markdown

        return to_markdown(obj)
    if type(obj).__name__ == "Plan":
        from netsize.render._plan import plan_markdown

        return plan_markdown(obj) + "\n"
    if type(obj).__name__ == "Comparison":
        from netsize.render._compare import compare_markdown

        return compare_markdown(obj) + "\n"
    head, rows = figures(obj)
    body = [f"| {r.label} | {r.shown} |" for r in rows]
    return "\n".join([f"**{head}**", "", "| Figure | Value |", "|---|---:|", *body]) + "\n"


class _Fit:
    """A rich renderable that draws the summary at the width rich offers."""

    def __init__(self, summary: Summary) -> None:
        self.summary = summary

    def __rich_console__(self, console: Any, options: Any) -> Any:
        if self.summary.view is not None:
            from rich.text import Text

            from netsize.render._tree import tree_text

            yield Text(tree_text(self.summary, self.summary.view).rstrip("\n"), no_wrap=True, overflow="ellipsis")
            return
        from netsize.render._table import table

        yield table(self.summary, width=options.max_width)


def rich_renderable(obj: Any) -> Any:
    """``__rich__``: a Summary's table at the console's width; a report as a two-column table."""
    if isinstance(obj, Summary):
        return _Fit(obj)
    from rich import box
    from rich.table import Table

    head, rows = figures(obj)
    t = Table(title=head, title_justify="left", box=box.SIMPLE_HEAD, show_header=False, pad_edge=False)
    t.add_column(style="bold")
    t.add_column(justify="right")
    for r in rows:
        t.add_row(r.label, r.shown)
    return t


def dataframe(obj: Any) -> Any:
    """``to_pandas()`` of a report: one row per figure, columns ``figure``, ``value``, ``shown``."""
    try:
        import pandas as pd  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        raise NetsizeError("to_pandas needs pandas: pip install pandas") from None
    _, rows = figures(obj)
    return pd.DataFrame(
        {"figure": [r.label for r in rows], "value": [r.value for r in rows], "shown": [r.shown for r in rows]}
    )
