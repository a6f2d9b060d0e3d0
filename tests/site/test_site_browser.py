"""The static site in a real browser: Chromium (Debian's package) driven by Playwright, the site
served from 127.0.0.1 and every other address blocked, netsize running inside the page (Pyodide).

Needs chromium and the pyodide npm package (`npm ci --prefix site`); without them the tests skip
with the reason, unless NETSIZE_REQUIRE_BROWSER=1 (as .ci/run sets), which makes a missing piece a
failure (tests/browser_support.py)."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator

import pytest

import netsize
from browser_support import browser, missing
from netsize.cli import main
from netsize.spec import load_spec
from site_support import LLAMA_2_7B, LLAMA_2_7B_PARAMS, build, local_only, pyodide_or_reason, served

__all__ = ["browser"]  # the fixture, used by name


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    runtime, reason = pyodide_or_reason()
    if runtime is None:
        missing(reason)
    with served(build(tmp_path_factory.mktemp("site"))) as address:
        yield address


@pytest.fixture()
def page(site: str, browser) -> Iterator[object]:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    blocked: list[str] = []
    local_only(context, site, blocked)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.goto(site)
    yield page
    assert problems == []
    assert blocked == []  # the page asked for nothing outside the site
    context.close()


def _totals(page) -> str:  # type: ignore[no-untyped-def]
    return str(page.locator("#totals").inner_text())


def _wait_total(page, number: int) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function(f"document.querySelector('#totals').innerText.includes('{number:,}')", timeout=120_000)


def test_site_computes_in_the_page(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector("#model-select option[value=alexnet]", state="attached", timeout=120_000)
    page.select_option("#model-select", "alexnet")
    _wait_total(page, 62_378_344)
    page.context.set_offline(True)  # from here on, everything is computed in the page

    # conv1's kernel to 5: the page shows the total netsize computes for that spec.
    text = page.input_value("#editor")
    edited = text.replace("kernel_size: 11", "kernel_size: 5", 1)
    expected = netsize.analyze(load_spec(edited)).totals.params
    assert expected != 62_378_344
    page.fill("#editor", edited)
    _wait_total(page, expected)

    # A broken line: the error stands beside it.
    broken = edited.replace("conv2d, out_channels: 96", "conv2dd, out_channels: 96", 1)
    bad_line = next(i for i, line in enumerate(broken.splitlines(), 1) if "conv2dd" in line)
    page.fill("#editor", broken)
    page.wait_for_selector("#line-error", state="visible", timeout=60_000)
    assert "unknown layer type 'conv2dd'" in page.locator("#line-error").inner_text()
    assert page.locator("#gutter .bad").inner_text() == str(bad_line)

    # A Hugging Face config pasted into the editor.
    page.fill("#editor", json.dumps(LLAMA_2_7B, indent=2))
    _wait_total(page, LLAMA_2_7B_PARAMS)

    # Chinese labels and explanations.
    page.click(".lang button[data-lang=zh]")
    assert "参数" in _totals(page)
    assert page.locator("html").get_attribute("lang") == "zh-CN"


def test_site_opens_in_chinese(site: str, browser) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context()
    local_only(context, site, [])
    page = context.new_page()
    page.goto(site + "?lang=zh")
    page.wait_for_selector("#model-select option[value=lenet5]", state="attached", timeout=120_000)
    page.select_option("#model-select", "lenet5")
    _wait_total(page, 61_706)
    assert "参数" in _totals(page)
    context.close()


def test_every_zoo_model_equals_the_command_line(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector("#model-select option[value=alexnet]", state="attached", timeout=120_000)
    names = netsize.zoo.names()
    answers = page.evaluate(
        """async (names) => {
             const out = {};
             for (const n of names) {
               const r = await fetch("api/analyze", {method: "POST", headers: {"Content-Type": "application/json"},
                                                     body: JSON.stringify({zoo: n})});
               out[n] = await r.json();
             }
             return out;
           }""",
        names,
    )
    for name in names:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["summary", name, "--format", "json"]) == 0
        expected = json.loads(out.getvalue())
        got = answers[name]
        assert "error" not in got, (name, got)
        for key in ("params", "trainable_params", "buffers", "multiply_adds", "flops", "other_ops",
                    "activation_elements"):
            assert got["totals"][key] == expected["totals"][key], (name, key)
        assert [r["name"] for r in got["layers"]] == [r["name"] for r in expected["layers"]], name
        assert [r["output_shape"] for r in got["layers"]] == [r["output_shape"] for r in expected["layers"]], name
