"""Issue 21, section 1, in a real browser: a page served from another local origin (a second
server on another port) posts to the calculator with ``fetch(..., {mode: "no-cors"})``, a CORS
``fetch``, a ``text/plain`` form and a read of the page. Every request that reaches the
calculator is refused before any analysis (its pool starts none), the page reads nothing, and
the calculator stays up. Chromium is Debian's package, driven by Playwright, as in
tests/serve/test_serve_browser.py; without it the test is skipped unless NETSIZE_REQUIRE_BROWSER is set
(.ci/run sets it), and then it fails."""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

uvicorn = pytest.importorskip("uvicorn")
pytest.importorskip("starlette")
httpx = pytest.importorskip("httpx")
sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

ATTACK = """<!doctype html><html><body>
<iframe name="sink"></iframe>
<form id="form" method="POST" action="CALC/api/analyze" enctype="text/plain" target="sink">
  <input name='{"zoo": "os:abort", "x": "' value='"}'>
</form>
<script>
const calc = "CALC";
window.results = [];
const attempts = [
  () => fetch(calc + "/api/analyze", {mode: "no-cors", method: "POST", body: JSON.stringify({zoo: "os:abort"})}),
  () => fetch(calc + "/api/analyze", {mode: "no-cors", method: "POST", body: '{"zoo": "lenet5"}',
                                      headers: {"Content-Type": "text/plain"}}),
  () => fetch(calc + "/api/report", {mode: "no-cors", method: "POST", body: '{"zoo": "lenet5"}'}),
  () => fetch(calc + "/api/analyze", {method: "POST", body: '{"zoo": "lenet5"}',
                                      headers: {"Content-Type": "application/json", "X-Netsize-Token": "guess"}}),
  () => fetch(calc + "/").then((r) => r.text()),
];
(async () => {
  for (const attempt of attempts) {
    try { const r = await attempt(); window.results.push(typeof r === "string" ? "read" : r.type); }
    catch (e) { window.results.push("blocked"); }
  }
  document.getElementById("form").submit();
  setTimeout(() => { window.done = true; }, 1000);
})();
</script></body></html>"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        if os.environ.get("NETSIZE_REQUIRE_BROWSER"):
            pytest.fail("Chromium is not installed: .ci/run installs Debian's chromium package "
                        "(apt-get install chromium)")
        pytest.skip("Chromium is not installed (apt-get install chromium); "
                    "NETSIZE_REQUIRE_BROWSER=1 makes this a failure")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture
def calculator() -> Iterator[tuple[str, Any, list[tuple[str, str, int]]]]:
    """The calculator on a loopback port, with a record of every request it got and its status."""
    from netsize.serve import create_app

    app = create_app(time_limit_seconds=5.0)
    seen: list[tuple[str, str, int]] = []

    async def recorded(scope: Any, receive: Any, send: Any) -> None:
        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                seen.append((scope["method"], scope["path"], message["status"]))
            await send(message)

        await app(scope, receive, sending if scope["type"] == "http" else send)

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(recorded, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the calculator did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", app, seen
    server.should_exit = True
    thread.join(timeout=15)


@pytest.fixture
def attacker(calculator: tuple[str, Any, Any]) -> Iterator[str]:
    """A second local server, on another port: the page from another origin."""
    page = ATTACK.replace("CALC", calculator[0]).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_a_page_from_another_origin_cannot_use_the_calculator(browser: Any, calculator: Any, attacker: str) -> None:
    url, app, seen = calculator
    page = browser.new_page()
    page.goto(attacker)
    page.wait_for_function("window.done === true", timeout=20_000)
    results = page.evaluate("window.results")
    page.close()
    # no-cors answers are opaque, the CORS post and the read of the page are blocked: nothing read
    assert results == ["opaque", "opaque", "opaque", "blocked", "blocked"]
    posts = [(path, status) for method, path, status in seen if method in ("POST", "OPTIONS")]
    assert ("/api/analyze", 403) in posts  # the requests reached the calculator and were refused
    assert all(status in (403, 405, 415) for _, status in posts), posts
    assert all(status == 403 for method, _, status in seen if method == "GET")  # another origin's read
    assert app.state.pool.started == 0  # no analysis ran
    # the calculator is up and answers its own page's requests
    assert httpx.get(url + "/api/zoo").status_code == 200
    r = httpx.post(url + "/api/analyze", json={"zoo": "lenet5"}, headers={"x-netsize-token": app.state.token})
    assert r.status_code == 200 and r.json()["totals"]["params"] == 61_706


def test_the_page_shows_the_zoo_models_own_answers(browser: Any, calculator: Any, capsys: Any) -> None:
    """Issue 21, section 4 in the page: alexnet at 3,224,224 is refused with the CLI's error; the
    resnet18 it shows has the zoo's block tree (layer1, not layer1_0_conv1)."""
    from netsize.cli import main

    url, app, _ = calculator
    capsys.readouterr()
    assert main(["summary", "alexnet", "--input-size", "3,224,224"]) == 2
    cli_error = capsys.readouterr().err.removeprefix("netsize: error: ").strip()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url + "/")
    page.wait_for_selector("#model-select option[value=alexnet]", state="attached")
    page.select_option("#model-select", "alexnet")
    page.wait_for_function("document.querySelector('#totals').innerText.includes('62,378,344')", timeout=20_000)
    page.fill("#input-size", "3,224,224")
    page.wait_for_function("!document.querySelector('#error').hidden", timeout=20_000)
    assert page.locator("#error").inner_text() == cli_error
    page.fill("#input-size", "")
    page.select_option("#model-select", "resnet18")
    page.wait_for_function("document.querySelector('#totals').innerText.includes('11,689,512')", timeout=20_000)
    names = page.locator("#layers tbody tr").evaluate_all("rows => rows.map(r => r.dataset.name)")
    assert "layer1" in names and not [n for n in names if "_0_" in n]
    page.close()
    assert app.state.pool.started >= 3  # analysed by the workers, as zoo entries
