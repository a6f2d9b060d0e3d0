"""What the page asks for, answered inside the browser: the calculator's routes as one function.

The page (``render/assets/app.js``) is the one ``netsize serve`` serves, and asks the same
questions (``api/zoo``, ``api/zoo/NAME/spec``, ``api/analyze``, ``api/report``). In the static
site, ``site/assets/boot.js`` hands those requests to :func:`handle` instead of the network, so
the page and the answers are the server's own: one calculator to keep.
"""

from __future__ import annotations

import json
from typing import Any

from netsize._errors import NetsizeError


def _reply(status: int, text: str, kind: str = "application/json") -> str:
    return json.dumps({"status": status, "type": kind, "text": text})


def _error(err: Exception, status: int = 422) -> str:
    from netsize.serve._app import _error_json

    return _reply(status, json.dumps(_error_json(err)))


def handle(path: str, body: str = "") -> str:
    """The answer to one request of the page, as JSON ``{"status", "type", "text"}``.

    >>> reply = json.loads(handle("api/zoo"))
    >>> reply["status"], "alexnet" in [z["name"] for z in json.loads(reply["text"])]
    (200, True)
    """
    from netsize import zoo

    path = path.split("?", 1)[0].lstrip("/")
    try:
        if path == "api/zoo":
            names = [{"name": n, "description": zoo.get(n).description} for n in zoo.names()]
            return _reply(200, json.dumps(names))
        if path.startswith("api/zoo/") and path.endswith("/spec"):
            from urllib.parse import unquote

            from netsize.spec._dump import dump_spec

            entry = zoo.get(unquote(path[len("api/zoo/"):-len("/spec")]))
            return _reply(200, dump_spec(entry.build(), entry.convention), "text/plain")
        if path in ("api/analyze", "api/report"):
            return _analyze(path, body)
    except NetsizeError as err:
        return _reply(404, str(err), "text/plain")
    return _reply(404, f"no such page: {path}", "text/plain")


def _request(body: str) -> dict[str, Any]:
    try:
        request = json.loads(body or "{}")
    except (ValueError, RecursionError) as err:
        raise NetsizeError(f"the request is not JSON: {err}") from None
    if not isinstance(request, dict):
        raise NetsizeError("the request is a JSON object")
    return request


def _config_text(text: str) -> bool:
    """Whether editor text is a Hugging Face config.json (pasted into the editor) rather than a spec."""
    if not text.lstrip().startswith("{"):
        return False
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return False
    return isinstance(value, dict) and ("model_type" in value or "architectures" in value)


def _browser_request(body: str) -> dict[str, Any]:
    request = _request(body)
    spec = request.get("spec")
    if isinstance(spec, str) and _config_text(spec):
        request = {key: value for key, value in request.items() if key != "spec"} | {"config": spec}
    name = request.get("filename")
    if isinstance(request.get("file"), str) and isinstance(name, str) and name.lower().endswith(".onnx"):
        raise NetsizeError(f"{name}: ONNX files need the installed tool (the onnx package has no WebAssembly "
                           f"build): pip install 'netsize[onnx]', then netsize summary {name}")
    return request


def _analyze(path: str, body: str) -> str:
    from netsize.report import report_data
    from netsize.serve._app import analyze_request

    try:
        summary, memory = analyze_request(_browser_request(body))
        data = report_data(summary, memory)
    except NetsizeError as err:
        return _error(err)
    except Exception as err:  # a bug is shown, not hidden, and the page stays up
        return _reply(500, json.dumps({"error": f"{type(err).__name__}: {err}", "line": None}))
    if path == "api/report":
        from netsize.render._html import page

        return _reply(200, page(data, mode="report"), "text/html")
    return _reply(200, json.dumps(data))
