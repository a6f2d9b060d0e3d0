"""The local web calculator (``netsize serve``): a Starlette app serving the report page with an
editor, and the JSON API the page calls. See docs/calculator.md.

What the API takes. ``POST /api/analyze`` (the report data as JSON) and ``POST /api/report``
(the HTML report) take one JSON object with exactly one source: ``{"zoo": NAME}`` (a name
:func:`netsize.zoo.names` lists, nothing else: never a path, never ``module:callable``),
``{"spec": TEXT}``, ``{"config": TEXT}`` (a Hugging Face config.json) or ``{"file": BASE64}``
(ONNX, Keras ``.keras`` or Keras JSON bytes; the format is read from the bytes and the file is
written under a fixed name into a private temporary folder), plus optional ``input_size``,
``batch_size``, ``lang`` and ``filename`` (ignored). No request names a file on disk or Python
code, and none imports a module. ``GET /`` is the page, ``GET /api/zoo`` the zoo's names,
``GET /api/zoo/NAME/spec`` a zoo model as spec text (for the editor; an unedited zoo model is
analysed as the zoo entry itself).

Who it answers (the checks of :mod:`._guard`, made on every request before its body is read):

- ``Host`` must name this server: 127.0.0.1, localhost, [::1], the ``--host`` address, or a
  name given with ``--allow-host``; anything else is 403. This is what stops DNS rebinding
  (a page on ``evil.example`` whose name is made to resolve to 127.0.0.1 sends
  ``Host: evil.example``). Vite's and webpack-dev-server's ``allowedHosts`` and Jupyter's local
  host check do the same.
- An ``Origin`` header, when sent, must be the server's own (scheme, host and port equal to the
  request's ``Host``); ``Sec-Fetch-Site`` must be ``same-origin`` or ``none``. Browsers send
  ``Origin`` on every cross-origin POST, ``no-cors`` included: such requests are 403 before any
  work. Jupyter's default (empty ``allow_origin``) is the same rule.
- API POSTs must be ``Content-Type: application/json`` (415 otherwise), so that no "simple"
  cross-site request (``text/plain``, form posts) reaches the API, and must carry the header
  ``X-Netsize-Token`` with a random token made per process and embedded in the served page (a
  ``<meta name="netsize-token">``), as Jupyter's XSRF token: a page from another origin can
  neither read it nor send the custom header without a CORS preflight, which is never granted.

Refused work stops. Analyses run in a few worker processes (:mod:`._pool`); a request past its
time limit (``time_limit_seconds``, 10 s by default: from the body's end to the answer's last
byte, queue wait, analysis and JSON or HTML encoding included, since the worker encodes) has its
worker killed and replaced, so no thread or process keeps computing. At most ``workers + queue``
requests are in the pool; the next gets 503 at once. A body must arrive within ``read_seconds``
(408) and be at most :data:`MAX_BODY_BYTES` (413); a malformed one (not UTF-8, not JSON, nested
too deep, an integer of thousands of digits, not an object, a field of the wrong type) is a 4xx
with one line, never a traceback. Each worker's address space is bounded (4 GiB by default), so
that a hostile file fails with a MemoryError in its worker, not on the machine. Workers import
no torch unless a request's frontend needs it, exit when the server closes their pipe or dies,
and are killed when the app shuts down.
"""

from __future__ import annotations

from netsize.serve._analysis import analyze_request
from netsize.serve._app import MAX_BODY_BYTES, MAX_SECONDS, create_app

__all__ = ["MAX_BODY_BYTES", "MAX_SECONDS", "analyze_request", "create_app"]
