"""The table in a pipe is written without rich (issue 10: rich was half of a command's time);
it must read exactly as rich draws the same table at unlimited width."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest
from rich.cells import cell_len

import netsize
from netsize import zoo
from netsize.render._console import UNLIMITED, render_text
from netsize.render._plain import cell_width, plain_table
from netsize.render._table import table


def _summaries():
    yield "lenet5", netsize.analyze(zoo.get("lenet5").build())
    yield "alexnet-grouped", netsize.analyze(zoo.get("alexnet-grouped").build(), batch_size=4)
    keras = zoo.get("keras-example")
    yield "keras-example", netsize.analyze(keras.build(), convention=keras.convention)
    noted = netsize.analyze(zoo.get("lenet5").build())
    yield "notes", replace(noted, notes=("a note with [brackets] and :fire:", "模型的第二条说明"))


@pytest.mark.parametrize("options", [{}, {"explain": True}, {"lang": "zh"}, {"lang": "zh", "explain": True},
                                     {"depth": 0}, {"dtype": "bfloat16"}], ids=str)
@pytest.mark.parametrize("name_summary", list(_summaries()), ids=lambda p: p[0])
def test_plain_table_is_richs_table_at_unlimited_width(name_summary, options):
    _, summary = name_summary
    drawn = render_text(table(summary, width=UNLIMITED, **options), UNLIMITED)
    assert plain_table(summary, **options) == drawn


@pytest.mark.parametrize("text", ["conv1", "Conv2d", "层", "总计 Total", "e\u0301", "ｆｕｌｌ", "emoji 🙂", "a\u200bb"])
def test_cell_width_counts_columns_as_rich_does(text):
    assert cell_width(text) == cell_len(text)


def test_piped_summary_does_not_import_rich():
    code = ("import sys, io, contextlib; sys.argv = ['netsize', 'summary', 'resnet50']\n"
            "from netsize.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()): main()\n"
            "print(sorted(m for m in sys.modules if m == 'rich' or m.startswith(('rich.', 'yaml'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
