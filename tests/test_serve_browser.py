"""The web calculator in a real browser: Chromium (Debian's package, installed by .ci/run) driven by
Playwright against `netsize serve`'s app on a loopback port."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator

import pytest

import netsize
from netsize.spec import load_spec
from netsize.spec._dump import dump_spec

uvicorn = pytest.importorskip("uvicorn")
pytest.importorskip("starlette")
sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    from netsize.serve import create_app

    port = _free_port()
    config = uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the calculator did not start within 20 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if CHROMIUM is None:
        pytest.fail("Chromium is not installed: .ci/run installs Debian's chromium package (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def _totals(page) -> str:  # type: ignore[no-untyped-def]
    return str(page.locator("#totals").inner_text())


def test_calculator_in_a_real_browser(server: str, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server)
    page.wait_for_selector("#model-select option[value=alexnet]", state="attached")
    page.select_option("#model-select", "alexnet")
    page.wait_for_function("document.querySelector('#totals').innerText.includes('62,378,344')", timeout=20_000)
    assert "62,378,344" in _totals(page)

    # conv1's kernel to 5: the total the page shows is the one netsize computes for that spec.
    text = dump_spec(netsize.zoo.get("alexnet").build())
    edited = text.replace("kernel_size: 11", "kernel_size: 5", 1)
    expected = netsize.analyze(load_spec(edited)).totals.params
    assert expected != 62_378_344
    page.fill("#editor", edited)
    page.wait_for_function(f"document.querySelector('#totals').innerText.includes('{expected:,}')", timeout=20_000)

    # A broken line: the error stands next to it, and its line number is marked.
    broken = edited.replace("conv2d, out_channels: 96", "conv2dd, out_channels: 96", 1)
    bad_line = next(i for i, line in enumerate(broken.splitlines(), 1) if "conv2dd" in line)
    page.fill("#editor", broken)
    page.wait_for_selector("#line-error", state="visible", timeout=20_000)
    assert "unknown layer type 'conv2dd'" in page.locator("#line-error").inner_text()
    assert page.locator("#gutter .bad").inner_text() == str(bad_line)
    top, scroll, height = page.evaluate(
        "[parseFloat(document.querySelector('#line-error').style.top), document.querySelector('#editor').scrollTop,"
        " document.querySelector('#editor').clientHeight]"
    )
    assert abs(top - (6 + (bad_line - 1) * 18 - scroll)) < 1  # beside that line...
    assert 0 <= top < height  # ...which is in view

    # A click on a layer shows its formulas; Chinese switches labels and explanations.
    page.fill("#editor", edited)
    page.wait_for_function("!document.querySelector('#line-error').offsetParent", timeout=20_000)
    page.locator("#layers tbody tr[data-name=conv1]").click()
    assert "floor((227 - 5 + 2*0) / 4) + 1 = 56" in page.locator("#explain-text").inner_text()
    page.click(".lang button[data-lang=zh]")
    assert "参数" in _totals(page)
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert "输出形状" in page.locator("#explain-text").inner_text()
    page.close()


def test_report_file_opens_offline(tmp_path, browser) -> None:  # type: ignore[no-untyped-def]
    from netsize.memory import estimate
    from netsize.render._html import page as html_page
    from netsize.report import report_data

    net = netsize.zoo.get("resnet18").build()
    summary = netsize.analyze(net)
    path = tmp_path / "resnet18.html"
    path.write_text(html_page(report_data(summary, estimate(net, batch_size=2)), mode="report"), encoding="utf-8")
    context = browser.new_context(offline=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    assert "11,689,512" in _totals(page)
    # The tree: top-level blocks, then a block opened; the search box filters by name.
    names = page.locator("#layers tbody tr").evaluate_all("rows => rows.map(r => r.dataset.name)")
    assert "layer1" in names and "layer1.0.conv1" not in names
    page.locator("#layers tbody tr[data-name=layer1]").click()
    page.locator("#layers tbody tr[data-name='layer1.0']").click()
    assert page.locator("#layers tbody tr[data-name='layer1.0.conv1']").count() == 1
    page.fill("#search", "downsample")
    shown = page.locator("#layers tbody tr").evaluate_all("rows => rows.map(r => r.dataset.name)")
    assert shown and all("downsample" in n or any(m.startswith(n + ".") and "downsample" in m for m in shown)
                         for n in shown)  # fmt: skip
    # Sorting by params puts the largest layer first.
    page.fill("#search", "")
    page.locator("#layers thead th[data-key=params]").click()
    first = page.locator("#layers tbody tr").first.get_attribute("data-name")
    assert first == max(summary.layers, key=lambda r: r.params).name
    # Charts drew (ECharts canvases) with no script error, offline.
    assert page.locator("#bars canvas").count() >= 1
    assert page.locator("#memory-curve canvas").count() >= 1
    assert errors == []
    context.close()
