"""The tree table ``netsize.summary`` shows, in torchinfo's layout: one row per module with its
class, depth-index and chosen columns, blocks with the sums of the layers under them.
Formatting only; the tree and its sums come from :func:`netsize._tree.tree_rows`."""

from __future__ import annotations

import html as _html

from netsize._calls import Formatting, torchinfo_totals
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
    """Headings and ``(label, cells)`` rows of the tree, ``verbose=2`` parameter rows included
    (torchinfo's rows, :func:`torchinfo_rows`, for a traced PyTorch pass)."""
    if summary.calls:
        return torchinfo_rows(summary, view)
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
    """The tree as plain text: fixed-width columns (``col_width``), no trailing spaces; torchinfo's
    own layout (:func:`torchinfo_text`) for a traced PyTorch pass."""
    if summary.calls:
        return torchinfo_text(summary, view)
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


# --- torchinfo's own layout, from the traced module calls ------------------------------------

_TORCHINFO_HEADINGS = {
    "kernel_size": "Kernel Shape",
    "input_size": "Input Shape",
    "output_size": "Output Shape",
    "num_params": "Param #",
    "params_percent": "Param %",
    "mult_adds": "Mult-Adds",
    "trainable": "Trainable",
}
_ASCII = str.maketrans({"·": "|", "—": "-", "–": "-", "×": "x", "≈": "~", "…": "..."})


def ascii_text(text: str) -> str:
    """``text`` with netsize's few non-ASCII marks spelled in ASCII, anything else escaped."""
    return text.translate(_ASCII).encode("ascii", "backslashreplace").decode("ascii")


def _units(value: object) -> str:
    return str(getattr(value, "value", value))


def _readable(num: int, units: str) -> tuple[str, float]:
    if units == "auto":
        if num >= 1e12:
            return "T", num / 1e12
        if num >= 1e9:
            return "G", num / 1e9
        return "M", num / 1e6
    factor = {"T": 1e12, "G": 1e9, "M": 1e6, "": 1}[units]
    return units, num / factor


def _total(num: int, units: str) -> str:
    used, value = _readable(num, units)
    shown = f"{int(value):,d}" if float(value).is_integer() else f"{value:,.2f}"
    return f"{f' ({used})' if used else ''}: {shown}"


def _str(value: object) -> str:
    return str(value) if value else "--"


def torchinfo_rows(summary: Summary, view: SummaryView) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Headings and ``(label, cells)`` of torchinfo's rows (``Summary.calls``), cells as torchinfo
    writes them."""
    rows = set(view.row_settings)
    ascii_only, show_var, show_depth = "ascii_only" in rows, "var_names" in rows, "depth" in rows
    max_depth = view.depth if view.depth is not None else 10**9
    total = torchinfo_totals(summary.calls).total_params
    head = " (var_name)" * show_var + ":depth-idx" * show_depth
    heads = [f"Layer (type{head})", *(_TORCHINFO_HEADINGS[c] for c in view.columns)]
    lines: list[tuple[str, list[str]]] = []
    for call in summary.calls:
        if call.depth > max_depth or ("hide_recursive_layers" in rows and call.is_recursive):
            continue
        at_max = call.depth == max_depth
        values = {
            "kernel_size": _str(call.kernel_size),
            "input_size": _str(call.input_size),
            "output_size": _str(call.output_size),
            "num_params": call.num_params_to_str(at_max),
            "params_percent": call.params_percent(total, at_max),
            "mult_adds": call.macs_to_str(at_max),
            "trainable": _str(call.trainable),
        }
        label = _start(call.depth, ascii_only) + call.get_layer_name(show_var, show_depth)
        lines.append((label, [values[c] for c in view.columns]))
        if view.verbose >= 2:
            inner = list(call.inner_layers.items())
            for k, (name, (tensor_shape, n)) in enumerate(inner):
                cells = {"kernel_size": tensor_shape, "num_params": f"{'└─' if k == len(inner) - 1 else '├─'}{n:,}"}
                lines.append((_start(call.depth + 1, ascii_only) + name, [cells.get(c, "") for c in view.columns]))
    return heads, lines


def torchinfo_text(summary: Summary, view: SummaryView) -> str:
    """The table torchinfo 1.8 prints, character for character where the numbers agree, from the
    traced module calls (``Summary.calls``); netsize's title above it and its own figures
    (buffers, FLOPs, other ops, activations, model size, convention, notes) below torchinfo's
    footer. Multiply-adds are netsize's (see ``Summary.total_mult_adds``)."""
    fmt = summary.formatting or Formatting()
    calls = summary.calls
    rows = set(view.row_settings)
    ascii_only, show_var, show_depth = "ascii_only" in rows, "var_names" in rows, "depth" in rows
    width = fmt.layer_name_width
    longest = max((c.depth * 5 + 1 + len(c.get_layer_name(show_var, show_depth)) for c in calls), default=0)
    if longest >= width:
        width = -(-longest // 5) * 5
    columns = view.columns
    col_width = view.col_width

    def line(label: str, values: dict[str, str]) -> str:
        text = f"{label:<{width}} " + "".join(f"{values.get(c, ''):<{col_width}} " for c in columns)
        return text.rstrip()

    totals = torchinfo_totals(calls)
    heads, lines = torchinfo_rows(summary, view)
    divider = "=" * (len(columns) * col_width + width)
    out = [divider, line(heads[0], dict(zip(columns, heads[1:], strict=True))), divider]
    out += [line(label, dict(zip(columns, cells, strict=True))) for label, cells in lines]
    params_units, macs_units = _units(fmt.params_units), _units(fmt.macs_units)
    out += [
        divider,
        f"Total params{_total(totals.total_params, params_units)}",
        f"Trainable params{_total(totals.trainable_params, params_units)}",
        f"Non-trainable params{_total(totals.total_params - totals.trainable_params, params_units)}",
    ]
    if summary.torchinfo_input_size:
        total_bytes = summary.total_input + totals.total_output_bytes + totals.total_param_bytes
        out += [
            f"Total mult-adds{_total(summary.totals.multiply_adds, macs_units)}",
            divider,
            f"Input size (MB): {summary.total_input / 1e6:0.2f}",
            f"Forward/backward pass size (MB): {totals.total_output_bytes / 1e6:0.2f}",
            f"Params size (MB): {totals.total_param_bytes / 1e6:0.2f}",
            f"Estimated Total Size (MB): {total_bytes / 1e6:0.2f}",
        ]
    out += [*(f"netsize: {x}" for x in footer_lines(summary, "en")), divider]
    # no newline after the last rule, as torchinfo's str(); printing adds one
    text = "\n".join([f"netsize: {title(summary, 'en')}", *out])
    return ascii_text(text) if ascii_only else text
