"""The tree table ``netsize.summary`` shows, in torchinfo's layout: one row per module with its
class, depth-index and chosen columns, blocks with the sums of the layers under them.
Formatting only; the tree and its sums come from :func:`netsize._tree.tree_rows`."""

from __future__ import annotations

import html as _html

from netsize._display import SummaryView
from netsize._summary import LayerRecord, Summary
from netsize._tree import TreeRow, tree_rows
from netsize.render._format import count, footer_lines, shape, title

HEADINGS = {
    "input_size": "Input shape",
    "output_size": "Output shape",
    "num_params": "Param #",
    "params_percent": "Param %",
    "kernel_size": "Kernel shape",
    "mult_adds": "Mult-adds",
    "trainable": "Trainable",
}


def _start(level: int, ascii_only: bool) -> str:
    if level == 0:
        return ""
    if level == 1:
        return "+ " if ascii_only else "├─"
    return ("|    " if ascii_only else "│    ") * (level - 1) + ("+ " if ascii_only else "└─")


def _label(row: TreeRow, view: SummaryView) -> str:
    text = row.record.kind
    if "var_names" in view.row_settings:
        # a module called again (``relu#2``) is shown under its attribute name, as torchinfo does
        text += f" ({row.var_name.split('#')[0] if row.level > 0 else row.record.kind})"
    if "depth" in view.row_settings and row.level > 0:
        text += f": {row.level}-{row.index}"
    return _start(row.level, "ascii_only" in view.row_settings) + text


def _kernel(record: LayerRecord) -> str:
    windows = record.analysis.windows if record.analysis is not None else ()
    return "x".join(str(w.kernel) for w in windows) if windows else "--"


def _trainable(record: LayerRecord) -> str:
    if record.params == 0:
        return "--"
    if record.trainable_params == 0:
        return "False"
    return "True" if record.trainable_params == record.params else "Partial"


def _cells(row: TreeRow, total_params: int) -> dict[str, str]:
    r = row.record
    params = count(r.params) if r.trainable_params or not r.params else f"({count(r.params)})"
    return {
        # the first input and output, as torchinfo shows them (an LSTM's state tuple is left out)
        "input_size": shape(r.input_shapes[0]) if r.input_shapes else "--",
        "output_size": shape(r.output_shapes[0]) if r.output_shapes else "--",
        "num_params": params if r.params else "--",
        "params_percent": f"{r.params / total_params:.2%}" if r.params and total_params else "--",
        "kernel_size": _kernel(r),
        "mult_adds": count(r.multiply_adds) if r.multiply_adds else "--",
        "trainable": _trainable(r),
    }


def tree_table(summary: Summary, view: SummaryView) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Headings and ``(label, cells)`` rows of the tree, ``verbose=2`` parameter rows included."""
    total = summary.totals.params
    heads = [
        "Layer (type"
        + (" (var_name)" if "var_names" in view.row_settings else "")
        + (":depth-idx" if "depth" in view.row_settings else "")
        + ")"
    ]
    heads += [HEADINGS[c] for c in view.columns]
    lines: list[tuple[str, list[str]]] = []
    ascii_only = "ascii_only" in view.row_settings
    for row in tree_rows(summary, view.depth):
        if "hide_recursive_layers" in view.row_settings and "#" in row.var_name:
            continue
        cells = _cells(row, total)
        lines.append((_label(row, view), [cells[c] for c in view.columns]))
        if view.verbose >= 2 and not row.is_block:
            for name, tensor_shape in view.parameters.get(row.record.name, ()):
                n = 1
                for d in tensor_shape:
                    n *= d
                shown = {c: "" for c in view.columns}
                where = next((c for c in ("kernel_size", "output_size", "input_size") if c in shown), None)
                if where is not None:
                    shown[where] = shape(tensor_shape)
                if "num_params" in shown:
                    shown["num_params"] = count(n)
                lines.append((_start(row.level + 1, ascii_only) + name, [shown[c] for c in view.columns]))
    return heads, lines


def tree_text(summary: Summary, view: SummaryView) -> str:
    """The tree as plain text: fixed-width columns (``col_width``), no trailing spaces."""
    heads, lines = tree_table(summary, view)
    name_width = max([40, *(len(label) + 1 for label, _ in lines), len(heads[0]) + 1])
    width = max(view.col_width, 8)

    def fmt(label: str, cells: list[str]) -> str:
        text = label.ljust(name_width) + "".join(c.ljust(max(width, len(c) + 1)) for c in cells)
        return text.rstrip()

    rule = "=" * (name_width + width * len(view.columns))
    out = [title(summary, "en"), rule, fmt(heads[0], heads[1:]), rule]
    out += [fmt(label, cells) for label, cells in lines]
    out += [rule, *footer_lines(summary, "en"), rule]
    return "\n".join(out) + "\n"


def tree_html(summary: Summary, view: SummaryView) -> str:
    """The tree as an HTML table (the label indented with non-breaking spaces)."""
    heads, lines = tree_table(summary, view)

    def esc(s: str) -> str:
        return _html.escape(s, quote=False)

    def cell(tag: str, value: str, left: bool) -> str:
        return f"<{tag} style='text-align:{'left' if left else 'right'}'>{esc(value)}</{tag}>"

    text_columns = {"input_size", "output_size", "kernel_size", "trainable"}
    left = [True, *(c in text_columns for c in view.columns)]
    parts = [f"<div class='netsize'><p><b>{esc(title(summary, 'en'))}</b></p><table>", "<thead><tr>"]
    parts.append("".join(cell("th", h, a) for h, a in zip(heads, left, strict=True)) + "</tr></thead><tbody>")
    for label, cells in lines:
        values = [label.replace(" ", "\u00a0"), *cells]
        parts.append("<tr>" + "".join(cell("td", v, a) for v, a in zip(values, left, strict=True)) + "</tr>")
    parts.append("</tbody></table>")
    parts.append("<ul>" + "".join(f"<li>{esc(line)}</li>" for line in footer_lines(summary, "en")) + "</ul></div>")
    return "\n".join(parts)


def tree_markdown(summary: Summary, view: SummaryView) -> str:
    """The tree as a Markdown table."""
    heads, lines = tree_table(summary, view)

    def md(s: str) -> str:
        return s.replace("|", "\\|")

    aligns = ["---", *("---" if c in {"input_size", "output_size", "kernel_size", "trainable"} else "---:"
                       for c in view.columns)]
    out = [f"**{md(title(summary, 'en'))}**", "", "| " + " | ".join(heads) + " |", "|" + "|".join(aligns) + "|"]
    out += ["| " + " | ".join(md(v) for v in [f"`{label}`", *cells]) + " |" for label, cells in lines]
    out += ["", *(f"- {md(line)}" for line in footer_lines(summary, "en"))]
    return "\n".join(out) + "\n"
