"""The static site's build and the answers the page gets from netsize inside it (run here in
CPython: the browser runs the same module under Pyodide, tests/site/test_site_browser.py)."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from netsize._errors import NetsizeError
from netsize.site import PYODIDE_FILES, build_site, find_pyodide
from netsize.site._browser import handle
from site_support import LLAMA_2_7B, LLAMA_2_7B_PARAMS, pyodide_or_reason


def _answer(path: str, request: object) -> tuple[int, object]:
    reply = json.loads(handle(path, json.dumps(request)))
    text = reply["text"]
    return reply["status"], json.loads(text) if reply["type"] == "application/json" else text


def test_zoo_list_and_spec() -> None:
    status, names = _answer("api/zoo", None)
    assert status == 200 and "alexnet" in [z["name"] for z in names]  # type: ignore[union-attr]
    status, text = _answer("api/zoo/alexnet/spec", None)
    assert status == 200 and "conv1" in str(text)
    assert _answer("api/zoo/no-such-net/spec", None)[0] == 404
    assert _answer("api/nothing", None)[0] == 404


def test_analyze_a_zoo_model_and_a_spec() -> None:
    status, data = _answer("api/analyze", {"zoo": "alexnet"})
    assert status == 200 and data["totals"]["params"] == 62_378_344  # type: ignore[index]
    spec = "name: tiny\ninput: [3, 8, 8]\nlayers:\n  - c: {type: conv2d, out_channels: 4, kernel_size: 3}\n"
    status, data = _answer("api/analyze", {"spec": spec})
    assert status == 200 and data["totals"]["params"] == 3 * 3 * 3 * 4 + 4  # type: ignore[index]


def test_a_broken_spec_names_its_line() -> None:
    spec = "name: tiny\ninput: [3, 8, 8]\nlayers:\n  - c: {type: conv2dd, out_channels: 4, kernel_size: 3}\n"
    status, data = _answer("api/analyze", {"spec": spec})
    assert status == 422
    assert data["line"] == 4 and "conv2dd" in data["error"]  # type: ignore[index]


def test_a_config_pasted_as_spec_text_is_read_as_a_config() -> None:
    status, data = _answer("api/analyze", {"spec": json.dumps(LLAMA_2_7B, indent=2)})
    assert status == 200 and data["totals"]["params"] == LLAMA_2_7B_PARAMS  # type: ignore[index]


def test_onnx_files_are_referred_to_the_installed_tool() -> None:
    status, data = _answer("api/analyze", {"file": base64.b64encode(b"\x08\x07").decode(), "filename": "m.onnx"})
    assert status == 422 and "ONNX files need the installed tool" in data["error"]  # type: ignore[index]


def test_a_request_that_is_not_json_is_one_error() -> None:
    reply = json.loads(handle("api/analyze", "{not json"))
    assert reply["status"] == 400 and "not JSON" in json.loads(reply["text"])["error"]  # as the server answers


def test_report_is_a_page() -> None:
    status, html = _answer("api/report", {"zoo": "lenet5"})
    assert status == 200 and str(html).startswith("<!doctype html>")


def test_missing_pyodide_is_one_error_line(tmp_path: Path) -> None:
    with pytest.raises(NetsizeError, match="npm ci --prefix site"):
        find_pyodide(tmp_path)
    run = subprocess.run([sys.executable, "-m", "netsize", "site", "build", str(tmp_path / "out"),
                          "--pyodide", str(tmp_path)], capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 2
    assert run.stderr.startswith("netsize: error: Pyodide not found") and run.stderr.count("\n") == 1


def test_build_writes_a_self_contained_folder(tmp_path: Path) -> None:
    runtime, _ = pyodide_or_reason()
    if runtime is None:
        # The build needs the runtime's files; a fake runtime shows what the build does with them.
        runtime = tmp_path / "pyodide"
        runtime.mkdir()
        for name in PYODIDE_FILES:
            (runtime / name).write_bytes(name.encode())
    built = build_site(tmp_path / "site", runtime)
    assert set(built.files) == {".nojekyll", "boot.js", "index.html", "netsize.zip",
                                *(f"pyodide/{n}" for n in PYODIDE_FILES)}  # fmt: skip
    html = (built.directory / "index.html").read_text(encoding="utf-8")
    # boot.js after the page's settings and before the app, and nothing loaded from elsewhere.
    assert html.index("window.NETSIZE = ") < html.index('<script src="boot.js">') < html.index("function (")
    assert re.findall(r"""(?:src|href)=["']?(?:https?:)?//""", html) == []
    with zipfile.ZipFile(built.directory / "netsize.zip") as zf:
        names = zf.namelist()
    assert "netsize/__init__.py" in names and "yaml/__init__.py" in names
    assert "netsize/zoo/classic.py" in names and "netsize/render/assets/app.js" in names
    assert not [n for n in names if n.endswith((".so", ".pyc")) or "__pycache__" in n]
    assert built.size_bytes == sum((built.directory / f).stat().st_size for f in built.files)
