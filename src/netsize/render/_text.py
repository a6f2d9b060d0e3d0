"""JSON, CSV and Markdown renderers (no rich import)."""

from __future__ import annotations

from typing import Any

from netsize._i18n import translate
from netsize._summary import Summary, explain_records
from netsize.render._format import count, footer_lines, printable, shape, title

CSV_COLUMNS = (
    "name",
    "kind",
    "input_shapes",
    "output_shape",
    "weights",
    "biases",
    "params",
    "trainable_params",
    "non_trainable_params",
    "buffers",
    "multiply_adds",
    "flops",
    "other_ops",
    "activation_elements",
    "saved_elements",
)


def to_json(summary: Summary, depth: int | None = None, explain: bool = False, lang: str = "en") -> str:
    """``Summary.to_dict`` as JSON text (schema in docs/json.md); ``explain`` adds each layer's
    derivation as ``explain`` (text) to its row."""
    from netsize.render._json import dumps_indented

    data: dict[str, Any] = summary.to_dict(depth)
    if explain:
        shown = {row["name"] for row in data["layers"]}
        records = [r for r in summary.layers if r.name in shown]  # --depth sums the others into blocks
        by_name = dict(zip((r.name for r in records), explain_records(records, lang), strict=True))
        for row in data["layers"]:
            text = by_name.get(row["name"])
            if text is not None:
                row["explain"] = text
    return dumps_indented(data) + "\n"


def to_csv(summary: Summary, depth: int | None = None) -> str:
    """One row per layer; shapes as ``1x96x55x55`` (several input shapes joined by ``;``)."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in summary.rows(depth):
        row = r.to_dict()
        row["input_shapes"] = ";".join(shape(tuple(s)) for s in r.input_shapes)
        row["output_shape"] = shape(r.output_shape)
        writer.writerow([row[c] for c in CSV_COLUMNS])
    return buf.getvalue()


def to_markdown(
    summary: Summary, depth: int | None = None, lang: str = "en", dtype: str = "float32", explain: bool = False
) -> str:
    """A GitHub-flavoured Markdown table with a totals row and the footer lines."""
    heads = [translate(k, lang) for k in ("render.layer", "render.kind", "render.output_shape", "render.params",
                                           "render.multiply_adds", "render.activations")]
    lines = [f"**{_md(title(summary, lang))}**", "", "| " + " | ".join(heads) + " |",
             "|---|---|---|---:|---:|---:|"]
    for r in summary.rows(depth):
        cells = [f"`{printable(r.name)}`", r.kind, shape(r.output_shape), count(r.params), count(r.multiply_adds),
                 count(r.activation_elements)]
        lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    t = summary.totals
    total = [f"**{translate('render.total', lang)}**", "", "", f"**{count(t.params)}**",
             f"**{count(t.multiply_adds)}**", f"**{count(t.activation_elements)}**"]
    lines.append("| " + " | ".join(total) + " |")
    lines.append("")
    lines.extend(f"- {_md(line)}" for line in footer_lines(summary, lang, dtype))
    if explain:
        lines += ["", f"### {translate('render.formulas', lang)}", ""]
        for text in explain_records(summary.layers, lang):
            lines += ["```text", printable(text), "```"]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return printable(text).replace("|", "\\|")
