"""What the page asks for, answered inside the browser: the calculator's routes as one function.

The page (``render/assets/app.js``) is the one ``netsize serve`` serves, and asks the same
questions (``api/zoo``, ``api/zoo/NAME/spec``, ``api/analyze``, ``api/report``). In the static
site, ``site/assets/boot.js`` hands those requests to :func:`handle` instead of the network, and
the answers come from the functions the server's workers answer with
(:func:`netsize.serve._worker.handle`): one calculator to keep. The server's Host, Origin and
token checks guard a socket; the page has none, so they do not apply here.
"""

from __future__ import annotations

import json

from netsize._errors import NetsizeError


def _reply(status: int, text: str, kind: str = "application/json") -> str:
    return json.dumps({"status": status, "type": kind, "text": text})


def _error(err: Exception, status: int = 422) -> str:
    from netsize.serve._analysis import error_json

    return _reply(status, json.dumps(error_json(err)))


def handle(path: str, body: str = "") -> str:
    """The answer to one request of the page, as JSON ``{"status", "type", "text"}``.

    >>> reply = json.loads(handle("api/zoo"))
    >>> reply["status"], "alexnet" in [z["name"] for z in json.loads(reply["text"])]
    (200, True)
    """
    from netsize.serve._analysis import zoo_listing, zoo_spec_text

    path = path.split("?", 1)[0].lstrip("/")
    if path in ("api/analyze", "api/report"):
        return _analyze(path, body)
    try:
        if path == "api/zoo":
            return _reply(200, json.dumps(zoo_listing()))
        if path.startswith("api/zoo/") and path.endswith("/spec"):
            from urllib.parse import unquote

            return _reply(200, zoo_spec_text(unquote(path[len("api/zoo/"):-len("/spec")])), "text/plain")
    except NetsizeError as err:
        return _reply(404, str(err), "text/plain")
    return _reply(404, f"no such page: {path}", "text/plain")


def _analyze(path: str, body: str) -> str:
    from netsize.serve._worker import handle as answer

    try:
        _refer_onnx(body)
    except NetsizeError as err:
        return _error(err)
    status, kind, payload = answer("report" if path == "api/report" else "analyze", body.encode("utf-8"))
    return _reply(status, payload.decode("utf-8"), kind.split(";")[0])


def _refer_onnx(body: str) -> None:
    """An ONNX upload is answered here: the onnx package has no WebAssembly build."""
    try:
        request = json.loads(body or "{}")
    except (ValueError, RecursionError):
        return  # the calculator's own answer says what is wrong with it
    name = request.get("filename") if isinstance(request, dict) else None
    if isinstance(request, dict) and isinstance(request.get("file"), str) and isinstance(name, str) \
            and name.lower().endswith(".onnx"):
        raise NetsizeError(f"{name[:80]}: ONNX files need the installed tool (the onnx package has no WebAssembly "
                           f"build): pip install 'netsize[onnx]', then netsize summary {name[:80]}")
