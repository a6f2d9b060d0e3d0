"""The calculator's app and the one function that answers a request body."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import tempfile
from pathlib import Path
from typing import Any

from netsize._errors import NetsizeError

MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_SECONDS = 10.0
_LINE = re.compile(r":(\d+):")


def _batch(value: Any) -> int:
    try:
        n = int(str(value))
    except ValueError:
        raise NetsizeError(f"batch size must be a positive integer (got {value!r})") from None
    if not 0 < n <= 1_000_000:
        raise NetsizeError(f"batch size must be between 1 and 1,000,000 (got {n})")
    return n


def _input_size(value: Any) -> Any:
    if not value:
        return None
    from netsize.cli._target import parse_input_sizes

    return parse_input_sizes([str(value)])


def analyze_request(body: dict[str, Any]) -> tuple[Any, Any]:
    """(Summary, MemoryReport) for a request body; raises NetsizeError with the spec line when known."""
    from netsize._analyze import analyze
    from netsize.memory import estimate

    batch = _batch(body.get("batch_size") or 1)
    input_size = _input_size(body.get("input_size"))
    if isinstance(body.get("spec"), str):
        from netsize.spec import read_spec

        spec = read_spec(body["spec"])
        from netsize.cli._target import _with_input

        network = _with_input(spec.network, input_size, "<spec>")
        try:
            summary = analyze(network, batch_size=batch, convention=spec.convention or "torch")
        except NetsizeError as err:
            node = str(err).split(" (", 1)[0]
            line = spec.lines.get(node)
            raise NetsizeError(f"<spec>:{line}: {err}" if line else str(err)) from None
        return summary, estimate(network, batch_size=batch)
    from netsize.cli._target import load_target, summarize

    if isinstance(body.get("zoo"), str):
        target = load_target(body["zoo"], input_size=input_size)
    elif isinstance(body.get("config"), str):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "config.json"
            path.write_text(body["config"], encoding="utf-8")
            target = load_target(str(path))
    elif isinstance(body.get("file"), str):
        try:
            raw = base64.b64decode(body["file"], validate=True)
        except (binascii.Error, ValueError):
            raise NetsizeError("the file was not sent as base64") from None
        name = Path(str(body.get("filename") or "model")).name or "model"
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            path.write_bytes(raw)
            target = load_target(str(path), input_size=input_size)
    else:
        raise NetsizeError('send {"spec": TEXT}, {"zoo": NAME}, {"config": TEXT} or {"file": BASE64, "filename": NAME}')
    if target.network is None:
        raise NetsizeError("the calculator analyses specs, configs, zoo models and model files, not Python callables")
    summary = summarize(target, batch_size=batch)
    return summary, estimate(target, batch_size=batch)


def _error_json(err: Exception) -> dict[str, Any]:
    text = str(err)
    m = _LINE.search(text.splitlines()[0] if text else "")
    return {"error": text, "line": int(m.group(1)) if m else None}


def create_app(lang: str = "en") -> Any:
    """The Starlette application; ``lang`` (en or zh) is the page's language unless the address
    asks for another (``/?lang=zh``)."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
    from starlette.routing import Route

    from netsize.render._html import page
    from netsize.report import report_data

    async def read_body(request: Request) -> dict[str, Any]:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise NetsizeError(f"request larger than {MAX_BODY_BYTES:,} bytes")
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_BODY_BYTES:
                raise NetsizeError(f"request larger than {MAX_BODY_BYTES:,} bytes")
        try:
            body = json.loads(raw or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise NetsizeError(f"the request is not JSON: {err}") from None
        if not isinstance(body, dict):
            raise NetsizeError("the request is a JSON object")
        return body

    async def answer(request: Request) -> tuple[Any, Any]:
        body = await read_body(request)
        try:
            return await asyncio.wait_for(run_in_threadpool(analyze_request, body), timeout=MAX_SECONDS)
        except TimeoutError:
            raise NetsizeError(f"the analysis took longer than {MAX_SECONDS:g} s and was refused") from None

    async def index(request: Request) -> Response:
        asked = request.query_params.get("lang", lang)
        return HTMLResponse(page(None, mode="serve", lang="zh" if asked == "zh" else "en", title="netsize calculator"))

    async def zoo_names(request: Request) -> Response:
        from netsize import zoo

        return JSONResponse([{"name": n, "description": zoo.get(n).description} for n in zoo.names()])

    async def zoo_spec(request: Request) -> Response:
        from netsize import zoo
        from netsize.spec._dump import dump_spec

        name = request.path_params["name"]
        try:
            entry = zoo.get(name)
        except NetsizeError as err:
            return PlainTextResponse(str(err), status_code=404)
        return PlainTextResponse(dump_spec(entry.build(), entry.convention))

    async def analyze_endpoint(request: Request) -> Response:
        try:
            summary, memory = await answer(request)
        except NetsizeError as err:
            return JSONResponse(_error_json(err), status_code=422)
        except Exception as err:  # a bug must not take the server down; it is shown, not hidden
            return JSONResponse({"error": f"{type(err).__name__}: {err}", "line": None}, status_code=500)
        return JSONResponse(report_data(summary, memory))

    async def report_endpoint(request: Request) -> Response:
        try:
            summary, memory = await answer(request)
        except NetsizeError as err:
            return JSONResponse(_error_json(err), status_code=422)
        return HTMLResponse(page(report_data(summary, memory), mode="report"))

    return Starlette(routes=[
        Route("/", index),
        Route("/api/zoo", zoo_names),
        Route("/api/zoo/{name}/spec", zoo_spec),
        Route("/api/analyze", analyze_endpoint, methods=["POST"]),
        Route("/api/report", report_endpoint, methods=["POST"]),
    ])  # fmt: skip
