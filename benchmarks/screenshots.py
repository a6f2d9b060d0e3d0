"""Screenshots of the HTML report and of the calculator for docs/ and the README (run by hand:
python benchmarks/screenshots.py; needs Chromium and playwright, as the browser tests)."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

import netsize
from netsize.memory import estimate
from netsize.render._html import page as html_page
from netsize.report import report_data
from netsize.serve import create_app

DOCS = Path(__file__).resolve().parents[1] / "docs"


def main() -> None:
    chromium = shutil.which("chromium")
    net = netsize.zoo.get("resnet18").build()
    report = DOCS / "report-resnet18.html"
    report.write_text(html_page(report_data(netsize.analyze(net), estimate(net, batch_size=32)), mode="report"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1500})
        page.goto(report.as_uri())
        page.locator("#layers tbody tr[data-name=layer4]").click()
        page.locator("#layers tbody tr[data-name='layer4.0']").click()
        page.locator("#layers tbody tr[data-name='layer4.0.conv1']").click()
        page.screenshot(path=str(DOCS / "report.png"), full_page=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1300})
        page.goto(f"http://127.0.0.1:{port}/?lang=zh")
        page.wait_for_selector("#model-select option[value=alexnet]", state="attached")
        page.select_option("#model-select", "alexnet")
        page.wait_for_function("document.querySelector('#totals').innerText.includes('62,378,344')")
        text = page.input_value("#editor").replace("kernel_size: 3, stride: 2}", "kernel_size: 3, stride: 2", 1)
        page.fill("#editor", text)
        page.wait_for_selector("#line-error", state="visible")
        page.screenshot(path=str(DOCS / "calculator.png"), full_page=False)
        browser.close()
    server.should_exit = True
    report.unlink()
    print("wrote docs/report.png and docs/calculator.png")


if __name__ == "__main__":
    main()
