"""The calculator's app under test: a TestClient factory and a live uvicorn server on 127.0.0.1,
both closing their worker pools at teardown."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

BASE = "http://127.0.0.1:8000"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def client_for() -> Iterator[Callable[..., Any]]:
    """``client_for(**create_app_options)`` -> a started TestClient (``client.app.state.pool``,
    ``client.headers`` carrying the page's token), closed after the test."""
    from starlette.testclient import TestClient

    from netsize.serve import create_app

    stack = contextlib.ExitStack()

    def make(**options: Any) -> Any:
        app = create_app(**options)
        client = stack.enter_context(TestClient(app, base_url=BASE, raise_server_exceptions=False))
        client.headers["x-netsize-token"] = app.state.token
        return client

    with stack:
        yield make


@pytest.fixture
def client(client_for: Callable[..., Any]) -> Any:
    return client_for(time_limit_seconds=5.0)


@contextlib.contextmanager
def live_server(**options: Any) -> Iterator[tuple[str, Any]]:
    """The app served by uvicorn on a free loopback port: ``(base url, app)``."""
    import uvicorn

    from netsize.serve import create_app

    port = free_port()
    app = create_app(**options)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the calculator did not start within 20 s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def live() -> Callable[..., Any]:
    return live_server
