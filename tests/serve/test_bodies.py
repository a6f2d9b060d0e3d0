"""Issue 21, section 2: every malformed body is a 4xx with one clear line (never a 500 or a
traceback), checked by hand and by a hypothesis fuzz of request bodies against the app."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netsize.serve._request import BadRequest, parse_body

JSON = {"content-type": "application/json"}


def _one_line_error(r: Any) -> str:
    body = r.json()
    assert set(body) == {"error", "line"}
    message = body["error"]
    assert isinstance(message, str) and message and "\n" not in message and "Traceback" not in message
    return message


@pytest.mark.parametrize(("raw", "status", "words"), [
    (b"[" * 100_000 + b"]" * 100_000, 400, "nested too deep"),
    (b'{"zoo": ' + b"[" * 100_000, 400, "nested too deep"),
    (b'{"batch_size": ' + b"9" * 100_000 + b"}", 400, "100,000 digits"),
    (b'{"input_size": [' + b"1" * 5000 + b"]}", 400, "5,000 digits"),
    (b'{"zoo": "lenet5", "batch_size": NaN}', 400, "NaN"),
    (b'{"zoo": "\xff\xfe"}', 400, "not UTF-8"),
    (b"\xef\xbb\xbf{}", 400, "not JSON"),
    (b"", 400, "not JSON"),
    (b"{", 400, "not JSON"),
    (b"[]", 400, "a JSON object (got a list)"),
    (b'"zoo"', 400, "a JSON object (got a string)"),
    (b"null", 400, "a JSON object (got a null)"),
    (b"{}", 400, "exactly one of"),
    (b'{"zoo": "lenet5", "spec": "x"}', 400, "(got zoo, spec)"),
    (b'{"zoo": 5}', 400, "zoo must be a string (got a number)"),
    (b'{"spec": {"layers": []}}', 400, "spec must be a string (got a object)"),
    (b'{"zoo": "lenet5", "path": "/etc/passwd"}', 400, "unknown field 'path'"),
    (b'{"zoo": "lenet5", "target": "os:abort"}', 400, "unknown field 'target'"),
    (b'{"zoo": "lenet5", "batch_size": true}', 400, "batch_size must be a positive integer"),
    (b'{"zoo": "lenet5", "batch_size": 0}', 422, "from 1 to 1,000,000"),
    (b'{"zoo": "lenet5", "batch_size": "-3"}', 422, "from 1 to 1,000,000"),
    (b'{"zoo": "lenet5", "batch_size": 1.5}', 400, "batch_size must be a positive integer"),
    (b'{"zoo": "lenet5", "input_size": "3,x,2"}', 422, "is not positive sizes"),
    (b'{"zoo": "lenet5", "input_size": [3, "a"]}', 400, "1 to 17 positive integers"),
    (b'{"zoo": "lenet5", "input_size": {"a": 1}}', 400, "input_size must be a string"),
    (b'{"zoo": "lenet5", "input_size": "0,28,28"}', 422, "every size must be from 1 to 2**62"),
    (b'{"zoo": "lenet5", "lang": "fr"}', 400, "lang must be en or zh"),
    (b'{"zoo": "lenet5", "filename": 3}', 400, "filename must be a string"),
    (b'{"file": "not base64!"}', 400, "base64"),
    (b'{"file": ""}', 400, "file is empty"),
])  # fmt: skip
def test_a_malformed_body_is_a_4xx_with_one_line(client: Any, raw: bytes, status: int, words: str) -> None:
    r = client.post("/api/analyze", content=raw, headers=JSON)
    assert r.status_code == status, r.text
    assert words in _one_line_error(r)
    assert client.app.state.pool.started == 0  # refused before any worker


@pytest.mark.parametrize(("request_body", "words"), [
    ({"spec": "name: x\ninput: [4]\nlayers:\n  - fc: {type: linera, out_features: 2}\n"}, "unknown layer type"),
    ({"config": "{"}, "config"),
    ({"config": "[1, 2]"}, "config"),
    ({"config": json.dumps({"model_type": "gpt2", "n_layer": 2**70})}, "n_layer"),
    ({"file": base64.b64encode(b"\x08\x07garbage protobuf").decode()}, "file"),
    ({"file": base64.b64encode(b"PK\x03\x04 not really a zip").decode()}, "uploaded file"),
    ({"file": base64.b64encode(b"\x89HDF\r\n\x1a\n....").decode()}, "HDF5"),
    ({"file": base64.b64encode(b"{ nope").decode()}, "not JSON"),
    ({"zoo": "lenet5", "input_size": "3," * 20 + "3"}, "axes"),
    ({"zoo": "alexnet", "input_size": "3,5,5"}, "kernel 11 is larger"),
])  # fmt: skip
def test_what_netsize_refuses_is_a_422_with_the_reason(client: Any, request_body: dict[str, Any], words: str) -> None:
    r = client.post("/api/analyze", json=request_body)
    assert r.status_code == 422, r.text
    assert words in r.json()["error"]
    assert "Traceback" not in r.text


def test_parse_body_normalises_a_request() -> None:
    got = parse_body(b'{"zoo": "alexnet", "input_size": "3x224x224", "batch_size": "8", "lang": "zh"}')
    assert got == {"source": "zoo", "zoo": "alexnet", "input_size": (3, 224, 224), "batch_size": 8, "lang": "zh"}
    assert parse_body(b'{"file": "AAEC", "filename": "m.onnx"}')["file"] == b"\x00\x01\x02"
    with pytest.raises(BadRequest, match="unknown zoo model"):
        parse_body(b'{"zoo": "os:abort"}')


def test_a_config_pasted_into_the_editor_is_read_as_a_config() -> None:
    config = '{"model_type": "gpt2", "n_layer": 1}'
    got = parse_body(json.dumps({"spec": config}).encode())
    assert got["source"] == "config" and got["config"] == config and "spec" not in got
    # YAML, and JSON that names layers, stay specs.
    for spec in ("name: n\ninput: [4]\nlayers:\n  - relu\n", '{"name": "n", "input": [4], "layers": ["relu"]}'):
        assert parse_body(json.dumps({"spec": spec}).encode())["source"] == "spec"


_KEYS = st.sampled_from(["zoo", "spec", "config", "file", "input_size", "batch_size", "lang", "filename", "x", ""])
_LEAF = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40) | st.sampled_from(
    ["lenet5", "alexnet", "os:abort", "3,224,224", "1,28,28", "AAAA", "name: n\ninput: [4]\nlayers:\n  - relu\n",
     '{"model_type": "gpt2", "n_layer": 1, "n_embd": 8, "n_head": 2, "vocab_size": 16, "n_positions": 8}'])
_VALUE = st.recursive(_LEAF, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=3),
                      max_leaves=10)
_BODY = st.dictionaries(_KEYS, _VALUE, max_size=4).map(lambda d: json.dumps(d).encode())
_BYTES = st.binary(max_size=200) | _VALUE.map(lambda v: json.dumps(v).encode())


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=_BODY | _BYTES)
def test_fuzzed_bodies_get_an_answer_or_one_line_4xx(client: Any, raw: bytes) -> None:
    r = client.post("/api/analyze", content=raw, headers=JSON)
    assert r.status_code in (200, 400, 413, 422), (raw, r.status_code, r.text)
    if r.status_code != 200:
        _one_line_error(r)
    else:
        assert r.json()["totals"]["params"] >= 0


def test_analyze_request_takes_the_apis_body_in_process() -> None:
    from netsize._errors import NetsizeError
    from netsize.serve import analyze_request

    summary, memory = analyze_request({"zoo": "lenet5", "batch_size": 2})
    assert summary.totals.params == 61_706 and summary.batch_size == 2 and memory.batch_size == 2
    with pytest.raises(NetsizeError, match="unknown zoo model 'os:abort'"):
        analyze_request({"zoo": "os:abort"})
    with pytest.raises(NetsizeError, match="unknown field 'path'"):
        analyze_request({"zoo": "lenet5", "path": "/etc/passwd"})


_FILE = st.tuples(st.sampled_from([b"", b"PK\x03\x04", b"{", b"\x08\x07", b"\x89HDF\r\n\x1a\n", b'{"class_name": 1}']),
                  st.binary(max_size=300)).map(lambda t: t[0] + t[1])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=_FILE, size=st.none() | st.sampled_from(["3,8,8", "1,4", "8"]))
def test_fuzzed_uploaded_files_are_answered_or_refused_in_one_line(client: Any, raw: bytes, size: str | None) -> None:
    if not raw:
        raw = b"\x00"
    r = client.post("/api/analyze", json={"file": base64.b64encode(raw).decode(), "input_size": size})
    assert r.status_code in (200, 422), (raw, r.status_code, r.text)
    if r.status_code == 422:
        _one_line_error(r)


_NAME = st.text(st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=30)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(host=_NAME | st.sampled_from(["127.0.0.1:8000", "localhost", "[::1]:1"]), origin=st.none() | _NAME)
def test_fuzzed_host_and_origin_headers(client: Any, host: str, origin: str | None) -> None:
    from netsize.serve._guard import host_name

    headers = {"host": host.encode("latin-1"), **({"origin": origin.encode("latin-1")} if origin is not None else {})}
    r = client.post("/api/analyze", json={"zoo": "lenet5"}, headers=headers)
    allowed = host_name(host) in client.app.state.hosts and (origin is None or origin.lower() == f"http://{host.lower()}")
    assert r.status_code == (200 if allowed else 403), (host, origin, r.text)
    if not allowed:
        _one_line_error(r)
