"""What an API request body may say, checked before any work: one JSON object with one source
and a few typed options. Anything else is a 4xx with one line (:class:`BadRequest`).

Sources, exactly one of: ``zoo`` (a name from :func:`netsize.zoo.names`, nothing else), ``spec``
(spec YAML text), ``config`` (a Hugging Face config.json's text), ``file`` (a model file's bytes
in base64: ONNX, Keras ``.keras`` or Keras JSON; its format is read from the bytes). Options:
``input_size`` (``"3,224,224"``, ``"3x224x224"`` or a list of ints), ``batch_size`` (1 to
1,000,000), ``lang`` (``en`` or ``zh``) and ``filename`` (the uploaded file's name, shown
nowhere and never used as a path: accepted so that the page may send it).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from netsize._limits import MAX_INT, MAX_INT_DIGITS, MAX_RANK

SOURCES = ("zoo", "spec", "config", "file")
OPTIONS = ("input_size", "batch_size", "lang", "filename")
MAX_BATCH = 1_000_000
_SHAPE = re.compile(r"\s*\d{1,19}(\s*(?:,|x|×|\s)\s*\d{1,19})*\s*")


class BadRequest(Exception):
    """A request refused before any analysis: ``status`` and a one-line ``message``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _int(literal: str) -> int:
    if len(literal.lstrip("-")) > MAX_INT_DIGITS:
        raise BadRequest(f"the request holds an integer with {len(literal.lstrip('-')):,} digits; "
                         f"at most {MAX_INT_DIGITS} are accepted")
    return int(literal)


def _constant(name: str) -> Any:
    raise BadRequest(f"the request holds {name}, which is not JSON")


def parse_body(raw: bytes) -> dict[str, Any]:
    """The request ``raw`` (bytes of JSON) checked and normalised: ``{"source": KIND, KIND: value,
    "input_size": tuple | None, "batch_size": int, "lang": str}``; a :class:`BadRequest` otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadRequest(f"the request is not UTF-8 text (byte {err.start:,} is {raw[err.start]:#04x})") from None
    try:
        body = json.loads(text, parse_int=_int, parse_constant=_constant)
    except RecursionError:
        raise BadRequest("the request is JSON nested too deep; the API takes one flat object") from None
    except ValueError as err:  # JSONDecodeError is a ValueError
        raise BadRequest(f"the request is not JSON: {str(err)[:200]}") from None
    if not isinstance(body, dict):
        raise BadRequest(f"the request must be a JSON object (got a {_json_type(body)})")
    unknown = [k for k in body if k not in SOURCES + OPTIONS]
    if unknown:
        raise BadRequest(f"unknown field {unknown[0][:40]!r}; the API takes one of {', '.join(SOURCES)} "
                         f"and optionally {', '.join(OPTIONS)}")
    given = [k for k in SOURCES if body.get(k) is not None]
    if len(given) != 1:
        raise BadRequest(
            'send exactly one of {"zoo": NAME}, {"spec": TEXT}, {"config": TEXT} or {"file": BASE64}'
            + (f" (got {', '.join(given)})" if given else ""))
    source = given[0]
    value = body[source]
    if not isinstance(value, str):
        raise BadRequest(f"{source} must be a string (got a {_json_type(value)})")
    if source == "spec" and _config_text(value):
        source = "config"  # a config.json pasted into the page's editor
    out: dict[str, Any] = {"source": source}
    if source == "zoo":
        out["zoo"] = _zoo_name(value)
    elif source == "file":
        try:
            out["file"] = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("file must be the file's bytes in base64") from None
        if not out["file"]:
            raise BadRequest("file is empty")
    else:
        out[source] = value
    out["input_size"] = _input_size(body.get("input_size"))
    out["batch_size"] = _batch(body.get("batch_size"))
    lang = body.get("lang")
    if lang is not None and lang not in ("en", "zh"):
        raise BadRequest(f"lang must be en or zh (got {_brief(lang)})")
    out["lang"] = lang or "en"
    filename = body.get("filename")
    if filename is not None and not isinstance(filename, str):
        raise BadRequest(f"filename must be a string (got a {_json_type(filename)})")
    return out


def _config_text(text: str) -> bool:
    """Whether editor text is a Hugging Face config.json (a JSON object naming its model type or
    architectures) rather than a spec; a spec is YAML, and a JSON spec names its layers instead."""
    if not text.lstrip().startswith("{"):
        return False
    try:
        value = json.loads(text, parse_int=_int, parse_constant=_constant)
    except (BadRequest, RecursionError, ValueError):
        return False
    return isinstance(value, dict) and ("model_type" in value or "architectures" in value) and "layers" not in value


def _zoo_name(value: str) -> str:
    from netsize import zoo

    names = zoo.names()
    if value in names:
        return value
    # Only the listed names: no path, no module, no callable ever reaches a loader.
    import difflib

    close = difflib.get_close_matches(value.lower()[:100], names, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; GET /api/zoo lists them"
    raise BadRequest(f"unknown zoo model {_brief(value)}{hint}", status=422)


def _input_size(value: Any) -> tuple[int, ...] | None:
    if value is None or value == "":
        return None
    if isinstance(value, list):
        if not value or len(value) > MAX_RANK + 1 or not all(type(v) is int for v in value):
            raise BadRequest(f"input_size must be 1 to {MAX_RANK + 1} positive integers (got {_brief(value)})")
        shape = tuple(value)
    elif isinstance(value, str):
        inner = value.strip()
        if inner[:1] in "[(" and inner[-1:] in "])":
            inner = inner[1:-1]
        if len(inner) > 400 or not _SHAPE.fullmatch(inner.lower()):
            raise BadRequest(f"input_size {_brief(value)} is not positive sizes like 3,224,224 or 3x224x224",
                             status=422)
        shape = tuple(int(p) for p in re.split(r"\s*[,x×\s]\s*", inner.lower().strip()))
    else:
        raise BadRequest(f"input_size must be a string like 3,224,224 or a list of ints (got a {_json_type(value)})")
    if any(d <= 0 or d > MAX_INT for d in shape):
        raise BadRequest(f"input_size {_brief(value)}: every size must be from 1 to 2**62", status=422)
    if len(shape) > MAX_RANK + 1:
        raise BadRequest(f"input_size has {len(shape)} axes; a shape may have at most {MAX_RANK + 1}", status=422)
    return shape


def _batch(value: Any) -> int:
    if value is None or value == "":
        return 1
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadRequest(f"batch_size must be a positive integer (got a {_json_type(value)})")
    n = value if isinstance(value, int) else int(value.strip()) if re.fullmatch(r"\s*\d{1,12}\s*", value) else None
    if n is None or not 0 < n <= MAX_BATCH:
        raise BadRequest(f"batch size must be an integer from 1 to {MAX_BATCH:,} (got {_brief(value)})", status=422)
    return n


def _json_type(value: Any) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", int: "number", float: "number",
            type(None): "null"}.get(type(value), type(value).__name__)


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
