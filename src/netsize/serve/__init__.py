"""The local web calculator (``netsize serve``): a Starlette app serving the report page with an
editor, and the JSON API the page calls. Bound to 127.0.0.1 by default; requests are limited in
size (:data:`MAX_BODY_BYTES`) and in time (:data:`MAX_SECONDS`): a spec that takes longer is
refused with a message, and the server stays responsive.

API: ``GET /`` the page; ``GET /api/zoo`` the zoo's names; ``GET /api/zoo/NAME/spec`` a zoo model
as spec YAML; ``POST /api/analyze`` and ``POST /api/report`` with JSON ``{"spec": TEXT}``,
``{"zoo": NAME}``, ``{"config": TEXT}`` (a Hugging Face config.json) or ``{"file": BASE64,
"filename": NAME}``, plus optional ``input_size`` and ``batch_size``: the report data (or an
``{"error": ..., "line": N}``), or the HTML report.
"""

from __future__ import annotations

from netsize.serve._app import MAX_BODY_BYTES, MAX_SECONDS, analyze_request, create_app

__all__ = ["MAX_BODY_BYTES", "MAX_SECONDS", "analyze_request", "create_app"]
