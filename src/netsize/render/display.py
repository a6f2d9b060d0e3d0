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

__all__ = ["Figure", "dataframe", "figures", "html", "markdown", "one_line", "plot", "rich_renderable", "text"]


@dataclass(frozen=True)
class Figure:
    """One line of a report: ``key`` (its JSON name), ``label`` (for people), ``shown`` (the value
    as shown) and ``value`` (the exact value: bytes or a count where it is one)."""

    key: str
    label: str
    shown: str
    value: int | float | str | bool | None


# ------------------------------------------------------------------------------------------
# the reports' figures: the rows the command line prints (render/_report.py)


def _bytes(n: int) -> str:
    return size(n)


def _from_rows(title: str, rows: Any) -> tuple[str, list[Figure]]:
    return title, [Figure(r.key, r.label, r.text, r.exact if r.exact != "" else r.text) for r in rows]


def _plan_figures(plan: Any) -> tuple[str, list[Figure]]:
    from netsize._i18n import translate

    out: list[Figure] = []
    for sc in plan.scenarios:
        if sc.error:  # not planned: no figure rather than a total of 0 bytes
            continue
        out += [Figure(f"{sc.name}.{t.name}", f"{sc.name}: {translate(t.name, 'en')}", _bytes(t.value), t.value)
                for t in sc.parts]
        out.append(Figure(f"{sc.name}.total_bytes_per_gpu", f"{sc.name}: total per GPU", _bytes(sc.total_bytes),
                          sc.total_bytes))
    return f"{plan.model} · {plan.params:,} params", out


def _comparison_figures(c: Any) -> tuple[str, list[Figure]]:
    from netsize.render._compare import _LABELS

    out: list[Figure] = []
    for group, is_bytes in ((c.totals, False), (c.model_size_bytes, True), (c.memory, True)):
        for key, values in group.items():
            label = _LABELS.get(key, f"model size, {key}" if group is c.model_size_bytes else key)
            out += [Figure(f"{key}.{name}", f"{label}, {name}", _bytes(v) if is_bytes else count(v), v)
                    for name, v in zip(c.names, values, strict=True)]
    return " vs ".join(c.names), out


def figures(report: Any) -> tuple[str, list[Figure]]:
    """The heading and the figures of a ``MemoryReport``, ``LLMFigures``, ``Schedule``, ``Plan``
    or ``Comparison``."""
    from netsize.render import _report

    name = type(report).__name__
    if name == "Plan":
        return _plan_figures(report)
    if name == "Comparison":
        return _comparison_figures(report)
    if name == "MemoryReport":
        return _from_rows(_report.memory_title(report), _report.memory_rows(report))
    if name == "LLMFigures":
        return _from_rows(_report.llm_title(report), _report.llm_rows(report))
    if name == "Schedule":
        from netsize._i18n import translate

        return _from_rows(translate("report.schedule.title", "en"), _report.schedule_rows(report))
    raise NetsizeError(f"netsize does not know how to show a {name}")


def _figures_text(report: Any) -> str:
    # the table the command line prints, as plain text
    import io

    from rich.console import Console

    console = Console(width=_width(), record=True, file=io.StringIO(), color_system=None, force_terminal=False,
                      force_jupyter=False)
    console.print(rich_renderable(report))
    return "\n".join(line.rstrip() for line in console.export_text().splitlines()).rstrip("\n") + "\n"


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
    from netsize.render import _report

    head, rows = figures(obj)
    return _report.to_markdown(head, [_report.Row(r.key, r.label, r.shown, r.value) for r in rows])


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
    from netsize.render import _report

    head, rows = figures(obj)
    return _report.to_table(head, [_report.Row(r.key, r.label, r.shown, r.value) for r in rows])


def dataframe(obj: Any, depth: int | None = None) -> Any:
    """``to_pandas()``: a Summary's per-layer table (blocks summed to ``depth``); of a report, one
    row per figure, columns ``figure`` (its JSON name), ``label``, ``value`` (exact) and ``shown``."""
    try:
        import pandas as pd  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        raise NetsizeError("to_pandas needs pandas: pip install pandas") from None
    if isinstance(obj, Summary):
        layer_rows = [r.to_dict() for r in obj.rows(depth)]
        for row in layer_rows:
            row["output_shape"] = tuple(row["output_shape"])
            row.pop("input_shapes", None)
            row.pop("output_shapes", None)
            row.pop("receptive_field", None)
        return pd.DataFrame(layer_rows)
    _, rows = figures(obj)
    return pd.DataFrame({"figure": [r.key for r in rows], "label": [r.label for r in rows],
                         "value": [r.value for r in rows], "shown": [r.shown for r in rows]})


def plot(summary: Summary, what: str = "params", depth: int | None = None, log: bool = False,
         top: int | None = None, ax: Any = None) -> Any:
    """``Summary.plot``: a matplotlib bar chart per layer (:mod:`._plot`)."""
    from netsize.render._plot import plot_summary

    return plot_summary(summary, what, depth=depth, log=log, top=top, ax=ax)
