"""The web calculator in a real browser: Chromium (Debian's package, installed by .ci/run) driven by
Playwright against `netsize serve`'s app on a loopback port. Without Chromium or Playwright the
tests skip with the reason; `.ci/run` sets NETSIZE_REQUIRE_BROWSER=1, which makes that a failure
(tests/browser_support.py). Screenshots at 1280 and 1920 px go to NETSIZE_SCREENSHOTS (a folder)
when it is set, for a person to look at."""

from __future__ import annotations

import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest

import netsize
from browser_support import browser, need_module
from netsize.spec import load_spec
from netsize.spec._dump import dump_spec

__all__ = ["browser"]  # the fixture, used by name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    uvicorn = need_module("uvicorn", "pip install 'netsize[serve]'")
    need_module("starlette", "pip install 'netsize[serve]'")
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


# --- layout (issue 21): nothing clipped, no label over the zoom slider, at 1280 and 1920 px ----------

# Bounding boxes of what the page draws: the layer table's width against its frame, and every
# text ECharts drew on each chart's canvas (zrender's display list), against the chart and the
# zoom slider.
_LAYOUT = """() => {
  const out = {charts: {}};
  const wrap = document.querySelector(".table-wrap");
  const right = wrap.getBoundingClientRect().right;
  out.table = {scroll: wrap.scrollWidth, client: wrap.clientWidth,
    clipped: [...document.querySelectorAll("#layers th")].filter(th => th.getBoundingClientRect().right > right + 0.5)
      .map(th => th.textContent)};
  for (const id of ["bars", "memory-bars", "memory-curve"]) {
    const c = echarts.getInstanceByDom(document.getElementById(id));
    const W = c.getWidth(), H = c.getHeight(), texts = [];
    c.getZr().storage.getDisplayList(true).forEach(el => {
      if (el.type !== "tspan" || el.ignore || el.invisible || !el.style.text) return;
      const r = el.getBoundingRect().clone(); r.applyTransform(el.getComputedTransform());
      texts.push({t: el.style.text, x: r.x, y: r.y, w: r.width, h: r.height});
    });
    const dz = c.getModel().getComponent("dataZoom", 0);
    let slider = null;
    if (dz) {
      const g = c.getViewOfComponentModel(dz).group, r = g.getBoundingRect();
      r.applyTransform(g.getComputedTransform()); slider = {x: r.x, y: r.y, w: r.width, h: r.height};
    }
    const over = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
    out.charts[id] = {texts: texts.map(r => r.t), slider: slider,
      outside: texts.filter(r => r.x < -0.5 || r.y < -0.5 || r.x + r.w > W + 0.5 || r.y + r.h > H + 0.5).map(r => r.t),
      over_slider: slider ? texts.filter(r => over(r, slider)).map(r => r.t) : []};
  }
  return out;
}"""


def _check_layout(page, what: str) -> dict:  # type: ignore[no-untyped-def]
    layout = page.evaluate(_LAYOUT)
    table = layout["table"]
    assert table["clipped"] == [] and table["scroll"] <= table["client"], f"{what}: table columns clipped: {table}"
    for chart_id, found in layout["charts"].items():
        assert found["texts"], f"{what}: {chart_id} drew no text"
        assert found["outside"] == [], f"{what}: {chart_id} labels cut at its edges: {found['outside']}"
        assert found["over_slider"] == [], f"{what}: {chart_id} labels over the zoom slider: {found['over_slider']}"
    return dict(layout)


def _screenshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    folder = os.environ.get("NETSIZE_SCREENSHOTS")
    if folder:
        os.makedirs(folder, exist_ok=True)
        page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=True)


_UNITS = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


def _tick_bytes(layout: dict, chart_id: str) -> list[int]:
    """The memory axis' tick labels (``16 MiB``, ``1.5 GiB``) in bytes, in order."""
    ticks = []
    for text in layout["charts"][chart_id]["texts"]:
        number, _, unit = text.partition(" ")
        if unit in _UNITS and number.replace(".", "", 1).isdigit():
            ticks.append(round(float(number) * _UNITS[unit]))
    return sorted(ticks)


@pytest.mark.parametrize("width", [1280, 1920])
@pytest.mark.parametrize("model", ["resnet18", "mobilenet_v2"])
def test_report_layout(tmp_path, browser, width: int, model: str) -> None:  # type: ignore[no-untyped-def]
    from netsize.memory import estimate
    from netsize.render._html import page as html_page
    from netsize.report import report_data

    net = netsize.zoo.get(model).build()
    memory = estimate(net)
    data = report_data(netsize.analyze(net), memory)
    path = tmp_path / f"{model}.html"
    path.write_text(html_page(data, mode="report"), encoding="utf-8")
    page = browser.new_page(viewport={"width": width, "height": 1000})
    page.goto(path.as_uri())
    page.click("#expand")  # the widest the table gets: every block open, names indented
    layout = _check_layout(page, f"{model} at {width} px, expanded")
    assert layout["charts"]["bars"]["slider"] is not None  # resnet18 has more than 40 layers: a slider
    # memory ticks in binary units at round steps (16, 32, 48 MiB; not 19.07, 38.15 MiB)
    for chart_id in ("memory-bars", "memory-curve"):
        ticks = _tick_bytes(layout, chart_id)
        steps = {b - a for a, b in itertools.pairwise(ticks)}
        assert len(ticks) >= 3 and len(steps) == 1 and steps.pop().bit_count() == 1, (chart_id, ticks)
    # one peak for one step: the card, the curve's label and the memory model agree
    peak = f"{memory.peak_training_bytes / 2**20:.2f} MiB"
    assert peak in _totals(page)
    assert f"peak {peak}" in layout["charts"]["memory-curve"]["texts"]
    assert peak in page.locator("#memory-curve-note").inner_text()
    _screenshot(page, f"report-{model}-{width}")
    # sorted: each row shows its whole path, as a dozen rows are called relu (or 0, 1, 2...)
    page.locator("#layers thead th[data-key=params]").click()
    shown = [text.strip() for text in page.locator("#layers tbody tr td.name").all_inner_texts()]
    assert shown == [r["name"] for r in sorted(data["layers"], key=lambda r: -r["params"])]
    leaves = [name.split(".")[-1] for name in shown]
    assert len(set(leaves)) < len(leaves)  # without the path, rows would look alike
    _check_layout(page, f"{model} at {width} px, sorted")
    page.close()


@pytest.mark.parametrize("width", [1280, 1920])
def test_calculator_layout(server: str, browser, width: int) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": width, "height": 1000})
    page.goto(server)
    page.wait_for_selector("#model-select option[value=resnet18]", state="attached")
    page.select_option("#model-select", "resnet18")
    page.wait_for_function("document.querySelector('#totals').innerText.includes('11,689,512')", timeout=20_000)
    page.click("#expand")
    _check_layout(page, f"calculator at {width} px, expanded")
    _screenshot(page, f"calculator-resnet18-{width}")
    page.close()
