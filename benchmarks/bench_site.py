"""Time the static site in Chromium: a cold load to the first result, and one edit after it.

    npm ci --prefix site && python benchmarks/bench_site.py [--repeat 5]

Builds the site into a temporary folder, serves it from 127.0.0.1 (every other address blocked)
and, --repeat times, opens it in a fresh browser context (an empty cache: a cold load), picks
alexnet and waits for its total; then edits conv1's kernel --repeat times and times each edit
from the keystroke to the new total on the page. Prints min and median of each, the Pyodide
start-up part of the cold load (NETSIZE_SITE.ready), and the site's size on disk. Needs
Debian's chromium, playwright (the test extra) and the pyodide npm package.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from site_support import build, local_only, served


def _stats(label: str, seconds: list[float]) -> None:
    print(f"{label:34} min {min(seconds):6.3f} s   median {statistics.median(seconds):6.3f} s   (n={len(seconds)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("chromium not found: apt-get install chromium", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        site = build(Path(tmp) / "site")
        size = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
        with served(site) as address, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
            cold, ready, edits = [], [], []
            for _ in range(args.repeat):
                context = browser.new_context()
                local_only(context, address, [])
                page = context.new_page()
                start = time.perf_counter()
                page.goto(address)
                page.wait_for_selector("#model-select option[value=alexnet]", state="attached", timeout=120_000)
                page.select_option("#model-select", "alexnet")
                page.wait_for_function("document.querySelector('#totals').innerText.includes('62,378,344')",
                                       timeout=120_000)  # fmt: skip
                cold.append(time.perf_counter() - start)
                ready.append(page.evaluate("window.NETSIZE_SITE.ready") / 1000)
                text = page.input_value("#editor")
                for k in (5, 7, 9, 3, 11):
                    edited = text.replace("kernel_size: 11", f"kernel_size: {k}", 1)
                    before = page.evaluate("document.querySelector('#totals').innerText")
                    start = time.perf_counter()
                    page.fill("#editor", edited)
                    page.wait_for_function("(b) => document.querySelector('#totals').innerText !== b", arg=before,
                                           timeout=60_000)  # fmt: skip
                    # The page waits 300 ms after a keystroke before it asks (app.js): not netsize's time.
                    edits.append(time.perf_counter() - start - 0.3)
                context.close()
            browser.close()
    _stats("cold load to alexnet's total", cold)
    _stats("  of which Pyodide started", ready)
    _stats("an edit (less the page's 300 ms)", edits)
    print(f"site size on disk: {size / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
