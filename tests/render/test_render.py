"""Renderers format the Summary and compute nothing: every number shown is the Summary's own."""

from __future__ import annotations

import csv
import io
import json

import pytest
from rich.cells import cell_len

import netsize
from netsize import Sequential, analyze, layers
from netsize.render import CSV_COLUMNS, render, table_text, to_csv, to_json, to_markdown


def _summary(batch: int = 2):
    relu = netsize.layer_type("relu")
    net = Sequential(
        [
            ("features", Sequential([("conv1", layers.Conv2d(3, 16, 3, padding=1)), ("relu1", relu())],
                                    input_shape=(3, 32, 32))),
            ("flatten", netsize.layer_type("flatten")()),
            ("a_rather_long_classifier_layer_name", layers.Linear(out_features=100)),
        ],
        input_shape=(3, 32, 32),
        name="small",
    )
    return analyze(net, batch_size=batch)


@pytest.mark.parametrize("width", [80, 160])
def test_table_fits_width_and_shows_every_count(width):
    s = _summary()
    text = table_text(s, width=width)
    lines = text.splitlines()
    assert max(cell_len(line) for line in lines) <= width
    for r in s.layers:
        row = next(line for line in lines if f"{r.multiply_adds:,}" in line and f"{r.params:,}" in line)
        assert f"{r.activation_elements:,}" in row
    totals = next(line for line in lines if line.strip().startswith("Total"))
    assert f"{s.totals.params:,}" in totals and f"{s.totals.multiply_adds:,}" in totals
    for dtype, size in s.model_size().items():
        assert dtype in text
        assert size > 0
    assert "Convention: torch" in " ".join(text.split())
    assert "FlopCounterMode FLOPs / 2" in " ".join(text.split())


def test_wide_table_has_kind_column_narrow_one_folds_it_away():
    s = _summary()
    wide, narrow = table_text(s, width=160), table_text(s, width=60)
    assert "Kind" in wide and "Conv2d" in wide
    header = next(line for line in narrow.splitlines() if "Layer" in line)
    assert "Kind" not in header and "Conv2d" not in narrow
    # Never silently: the narrow table says which columns it left out and how to get them.
    assert "Columns left out to fit 60 columns: Kind" in " ".join(narrow.split())
    assert max(cell_len(line) for line in narrow.splitlines()) <= 60


def test_depth_sums_blocks():
    s = _summary()
    text = table_text(s, width=120, depth=1)  # torchinfo's depth: 1 = the top-level blocks
    block = next(r for r in s.rows(1) if r.name == "features")
    assert block.kind == "Block"
    line = next(line for line in text.splitlines() if line.strip().startswith("features"))
    assert f"{block.params:,}" in line
    assert "features.conv1" not in text


def test_json_is_summary_to_dict():
    s = _summary()
    data = json.loads(to_json(s))
    assert data == json.loads(json.dumps(s.to_dict()))
    assert data["schema_version"] == netsize.SCHEMA_VERSION
    assert sum(layer["params"] for layer in data["layers"]) == data["totals"]["params"]
    with_explain = json.loads(to_json(s, explain=True))
    assert with_explain["layers"][0]["explain"].startswith("features.conv1 (Conv2d)")


def test_csv_rows_equal_records():
    s = _summary()
    rows = list(csv.DictReader(io.StringIO(to_csv(s))))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [r["name"] for r in rows] == [r.name for r in s.layers]
    for row, record in zip(rows, s.layers, strict=True):
        assert int(row["params"]) == record.params
        assert int(row["multiply_adds"]) == record.multiply_adds
        assert row["output_shape"] == "x".join(map(str, record.output_shape))
    assert sum(int(r["flops"]) for r in rows) == s.totals.flops


def test_markdown_table_has_header_separator_and_totals():
    s = _summary()
    md = to_markdown(s)
    lines = md.splitlines()
    header = lines.index("| Layer | Kind | Output shape | Params | Mult-adds | Activations |")
    assert lines[header + 1] == "|---|---|---|---:|---:|---:|"
    assert len([line for line in lines if line.startswith("| `")]) == len(s.layers)
    assert f"| **Total** |  |  | **{s.totals.params:,}** |" in md
    assert "- Convention: torch" in md


def test_chinese_labels():
    s = _summary()
    text = table_text(s, width=120, lang="zh")
    assert "合计" in text and "参数" in text and "计数约定" in text
    assert "乘加" in to_markdown(s, lang="zh")


def test_explain_in_table_shows_formulas():
    s = _summary()
    text = table_text(s, width=120, explain=True)
    assert "K_h*K_w*C_in*C_out = 3*3*3*16" in text
    assert "Formulas" in text


def test_keras_convention_line():
    s = analyze(Sequential([layers.Linear(4, 3)], input_shape=(4,)), convention="keras")
    assert "Convention: keras" in " ".join(table_text(s, width=200).split())


def test_unknown_format_is_an_error():
    with pytest.raises(netsize.NetsizeError, match="unknown format 'xml'"):
        render(_summary(), "xml")


def test_narrow_table_drops_columns_before_folding_a_shape():
    # LLaMA-2-7B at 4096 tokens: 20-digit multiply-adds used to fold shapes like 1x4096x32000.
    import json
    from pathlib import Path

    from netsize.frontends.hf_config import network_from_config

    reference = Path(__file__).resolve().parents[1] / "data" / "reference" / "transformers_params.json"
    config = json.loads(reference.read_text())["llama-2-7b"]["config"]
    s = analyze(network_from_config(config, seq_len=4096))
    text = table_text(s, width=80, depth=2)
    assert max(cell_len(line) for line in text.splitlines()) <= 80
    for r in s.rows(2):
        row = next(line for line in text.splitlines() if line.strip().startswith(r.name))
        assert "x".join(map(str, r.output_shape)) in row
        assert f"{r.multiply_adds:,}" in row
    assert "Activations" not in text.splitlines()[2]  # dropped from the table; its total stays below
    assert f"{s.totals.activation_elements:,}" in text
