"""The calculator's Starlette app: the page, the zoo listing and the two analysis endpoints."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from netsize.serve._analysis import zoo_listing, zoo_spec_text
from netsize.serve._guard import TOKEN_HEADER, allowed_hosts, refusal
from netsize.serve._pool import WorkerPool
from netsize.serve._request import BadRequest, parse_body

if TYPE_CHECKING:  # starlette is imported when the app is made
    from starlette.responses import JSONResponse

MAX_BODY_BYTES = 4 * 1024 * 1024
WORKER_MEMORY_BYTES = 4 * 1024**3
MAX_SECONDS = 10.0
READ_SECONDS = 10.0


def _refused(status: int, message: str) -> JSONResponse:
    from starlette.responses import JSONResponse

    return JSONResponse({"error": message, "line": None}, status_code=status)


_HEADERS = [(b"x-frame-options", b"DENY"), (b"content-security-policy", b"frame-ancestors 'none'"),
            (b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-store"),
            (b"referrer-policy", b"no-referrer")]


def _hardened(send: Any) -> Any:
    """``send`` adding headers that keep other sites from framing the page or caching answers."""

    async def sending(message: Any) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *_HEADERS]}
        await send(message)

    return sending


def create_app(
    lang: str = "en",
    *,
    host: str = "127.0.0.1",
    allow_hosts: Iterable[str] = (),
    time_limit_seconds: float = MAX_SECONDS,
    read_seconds: float = READ_SECONDS,
    workers: int = 2,
    queue: int = 8,
    max_body_bytes: int = MAX_BODY_BYTES,
    worker_memory_bytes: int | None = WORKER_MEMORY_BYTES,
) -> Any:
    """The Starlette application. ``lang`` (en or zh) is the page's language unless the address
    asks for another (``/?lang=zh``); ``host`` the address it is bound to and ``allow_hosts``
    other names its ``Host`` header may give; ``time_limit_seconds`` bounds each analysis from
    its body's end to its answer's last byte (queue wait, work and encoding), ``read_seconds``
    the reading of a body; ``workers`` processes run analyses, ``queue`` more requests may wait,
    each worker's address space at most ``worker_memory_bytes`` (4 GiB; None: unbounded).
    The pool is ``app.state.pool``; the page's token ``app.state.token``."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
    from starlette.routing import Route
    from starlette.types import ASGIApp, Receive, Scope, Send

    token = secrets.token_urlsafe(32)
    hosts = allowed_hosts(host, allow_hosts)
    pool = WorkerPool(size=workers, queue=queue, memory_bytes=worker_memory_bytes)
    pages: dict[str, bytes] = {}
    specs: dict[str, str] = {}

    async def read_body(request: Request) -> bytes:
        import anyio

        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_body_bytes:
            raise BadRequest(f"request larger than {max_body_bytes:,} bytes", status=413)
        raw = bytearray()
        try:
            with anyio.fail_after(read_seconds):
                async for chunk in request.stream():
                    raw += chunk
                    if len(raw) > max_body_bytes:
                        raise BadRequest(f"request larger than {max_body_bytes:,} bytes", status=413)
        except TimeoutError:
            raise BadRequest(f"the request body took longer than {read_seconds:g} s to arrive", status=408) from None
        return bytes(raw)

    async def work(request: Request, endpoint: str) -> Response:
        try:
            raw = await read_body(request)
            parse_body(raw)  # a malformed body is refused here, without a worker
        except BadRequest as err:
            return _refused(err.status, str(err))
        if not pool.admit():
            return _refused(503, f"the calculator is busy ({pool.size + pool.queue} analyses running or waiting); "
                                 "try again in a moment")
        deadline = time.monotonic() + time_limit_seconds
        # pool.run returns by the deadline (it kills a late worker) and gives its place back itself
        status, content_type, body = await asyncio.wrap_future(pool.submit(endpoint, raw, deadline, time_limit_seconds))
        return Response(body, status_code=status, media_type=content_type)

    def page_bytes(page_lang: str) -> bytes:
        if page_lang not in pages:
            from netsize.render._html import page

            html = page(None, mode="serve", lang=page_lang, title="netsize calculator")
            meta = f'<meta name="netsize-token" content="{token}">'
            pages[page_lang] = html.replace("<head>", "<head>\n" + meta, 1).encode("utf-8")
        return pages[page_lang]

    async def index(request: Request) -> Response:
        asked = "zh" if request.query_params.get("lang", lang) == "zh" else "en"
        # built once, off the event loop (a megabyte of page: other requests go on meanwhile)
        return HTMLResponse(pages.get(asked) or await run_in_threadpool(page_bytes, asked))

    async def zoo_names(request: Request) -> Response:
        return JSONResponse(zoo_listing())

    async def zoo_spec(request: Request) -> Response:
        from netsize import zoo

        name = request.path_params["name"]
        if name not in zoo.names():
            return PlainTextResponse(f"unknown zoo model {name[:60]!r}; GET /api/zoo lists them", status_code=404)
        if name not in specs:
            specs[name] = await run_in_threadpool(zoo_spec_text, name)
        return PlainTextResponse(specs[name])

    async def analyze_endpoint(request: Request) -> Response:
        return await work(request, "analyze")

    async def report_endpoint(request: Request) -> Response:
        return await work(request, "report")

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        await run_in_threadpool(pool.start)
        await run_in_threadpool(page_bytes, "zh" if lang == "zh" else "en")
        try:
            yield
        finally:
            pool.close()

    inner = Starlette(routes=[
        Route("/", index),
        Route("/api/zoo", zoo_names),
        Route("/api/zoo/{name}/spec", zoo_spec),
        Route("/api/analyze", analyze_endpoint, methods=["POST"]),
        Route("/api/report", report_endpoint, methods=["POST"]),
    ], lifespan=lifespan)  # fmt: skip

    class Guarded:
        """Every HTTP request passes :func:`refusal` before it reaches a route."""

        def __init__(self, app: ASGIApp) -> None:
            self.app = app
            self.state = app.state  # type: ignore[attr-defined]

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
                refused = refusal(scope["method"], scope["path"], headers, hosts, token, scope.get("scheme", "http"))
                if refused is not None:
                    await _refused(*refused)(scope, receive, _hardened(send))
                    return
                await self.app(scope, receive, _hardened(send))
                return
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)

    app = Guarded(inner)
    inner.state.pool = pool
    inner.state.token = token
    inner.state.hosts = hosts
    return app


__all__ = ["MAX_BODY_BYTES", "MAX_SECONDS", "TOKEN_HEADER", "create_app"]
