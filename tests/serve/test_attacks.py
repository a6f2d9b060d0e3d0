"""Issue 21, section 1: every way a web page or a request made the calculator run code or read
files, refused before any analysis (the pool's ``started`` counter stays 0)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from netsize.serve._guard import allowed_hosts, host_name

LENET = {"zoo": "lenet5"}


def _ok(client: Any) -> None:
    """The calculator is up and answers a small request."""
    r = client.post("/api/analyze", json=LENET)
    assert r.status_code == 200 and r.json()["totals"]["params"] == 61_706


@pytest.mark.parametrize("target", ["os:abort", "os:getpid", "netsize.cli:main", "netsize.cli._target:load_target",
                                    "builtins:exit", "subprocess:call"])
def test_a_python_callable_as_zoo_name_is_never_imported(client: Any, target: str) -> None:
    r = client.post("/api/analyze", json={"zoo": target})
    assert r.status_code == 422
    assert r.json()["error"].startswith(f"unknown zoo model {target!r}")
    assert client.app.state.pool.started == 0  # refused before a worker saw it
    _ok(client)  # os:abort did not kill anything


def test_a_file_path_as_zoo_name_is_not_read(client: Any, tmp_path: Path) -> None:
    secret = tmp_path / "secret.yaml"
    secret.write_text("name: secret\ninput: [4]\nlayers:\n  - private_layer_name: {type: linear, out_features: 2}\n")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model_type": "gpt2", "n_layer": 1}))
    for target in (str(secret), str(config), str(tmp_path), "../secret.yaml", "file://" + str(secret),
                   "~/.ssh/id_rsa", "openai-community/gpt2"):
        r = client.post("/api/analyze", json={"zoo": target})
        assert r.status_code == 422, target
        assert "private_layer_name" not in r.text and "not found" not in r.text
        assert r.json()["error"].startswith("unknown zoo model")
    assert client.app.state.pool.started == 0


def test_spec_text_that_looks_like_a_path_is_read_as_text(client: Any, tmp_path: Path) -> None:
    """read_spec takes a one-line ``*.yaml`` string for a file name: the API never does."""
    secret = tmp_path / "secret.yaml"
    secret.write_text("name: secret\ninput: [4]\nlayers:\n  - private_layer_name: {type: linear, out_features: 2}\n")
    for text in (str(secret), f"  {secret}  ", str(secret).upper(), "../" + secret.name):
        r = client.post("/api/analyze", json={"spec": text})
        assert r.status_code == 422, text
        assert "private_layer_name" not in r.text and "secret" not in r.json()["error"].replace(text, "")


def test_zoo_names_are_the_listed_names_exactly(client: Any) -> None:
    names = client.get("/api/zoo").json()
    assert "alexnet" in [n["name"] for n in names]
    r = client.post("/api/analyze", json={"zoo": "AlexNet"})  # the CLI's loose spelling is not a name here
    assert r.status_code == 422 and "did you mean alexnet" in r.json()["error"]
    assert client.get("/api/zoo/os:abort/spec").status_code == 404
    assert client.get("/api/zoo/..%2Fetc%2Fpasswd/spec").status_code == 404


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "attacker.com:8765",
                                  "127.0.0.1.nip.io:8000", "localhost.evil.example", "", "127.0.0.1@evil:80",
                                  "[::2]:8000", "0.0.0.0:8000"])
def test_a_host_that_is_not_the_bound_address_is_refused(client: Any, host: str) -> None:
    """DNS rebinding: a page on evil.example made to resolve to 127.0.0.1 sends its own Host."""
    for method, path in (("POST", "/api/analyze"), ("GET", "/"), ("GET", "/api/zoo")):
        r = client.request(method, path, json=LENET, headers={"host": host})
        assert r.status_code == 403, (host, path)
        assert "is not this calculator's address" in r.json()["error"]
        assert "netsize-token" not in r.text  # the page (with its token) is never served to another name
    assert client.app.state.pool.started == 0


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "LOCALHOST", "[::1]:8000", "127.0.0.1"])
def test_the_loopback_names_are_answered(client: Any, host: str) -> None:
    r = client.post("/api/analyze", json=LENET, headers={"host": host, "origin": f"http://{host}"})
    assert r.status_code == 200, r.text


def test_allow_host_and_bound_host_add_names(client_for: Any) -> None:
    client = client_for(host="0.0.0.0", allow_hosts=["mybox.lan"])
    assert client.app.state.hosts == frozenset({"127.0.0.1", "localhost", "::1", "mybox.lan"})
    assert client.get("/api/zoo", headers={"host": "mybox.lan:8000"}).status_code == 200
    assert client.get("/api/zoo", headers={"host": "0.0.0.0:8000"}).status_code == 403
    assert allowed_hosts("192.168.1.5") == frozenset({"127.0.0.1", "localhost", "::1", "192.168.1.5"})


@pytest.mark.parametrize("origin", ["http://evil.example", "http://127.0.0.1:9999", "https://127.0.0.1:8000",
                                    "null", "http://localhost:8000", "file://", "http://127.0.0.1:8000.evil.example"])
def test_a_cross_origin_request_is_refused(client: Any, origin: str) -> None:
    r = client.post("/api/analyze", json=LENET, headers={"origin": origin})
    assert r.status_code == 403 and "cross-origin request" in r.json()["error"]
    assert client.app.state.pool.started == 0


def test_a_link_from_another_site_opens_the_page_which_refuses_frames(client: Any) -> None:
    navigate = {"sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document"}
    r = client.get("/", headers=navigate)
    assert r.status_code == 200
    assert r.headers["x-frame-options"] == "DENY" and r.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert client.get("/", headers={**navigate, "sec-fetch-dest": "iframe"}).status_code == 403
    assert client.get("/api/zoo", headers=navigate).status_code == 403
    r = client.post("/api/analyze", json=LENET, headers={"origin": "http://evil.example"})
    assert r.status_code == 403 and r.headers["x-frame-options"] == "DENY"


def test_the_same_origin_is_answered(client: Any) -> None:
    r = client.post("/api/analyze", json=LENET, headers={"origin": "http://127.0.0.1:8000"})
    assert r.status_code == 200


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_fetch_metadata_from_another_site_is_refused(client: Any, site: str) -> None:
    r = client.post("/api/analyze", json=LENET, headers={"sec-fetch-site": site})
    assert r.status_code == 403
    assert client.app.state.pool.started == 0


@pytest.mark.parametrize("content_type", ["text/plain", "text/plain;charset=UTF-8", "multipart/form-data; boundary=x",
                                          "application/x-www-form-urlencoded", "", "application/jsonx"])
def test_a_simple_cross_site_body_type_is_refused(client: Any, content_type: str) -> None:
    """A "simple" request (no CORS preflight) can only send these types: none reaches the API."""
    r = client.post("/api/analyze", content=json.dumps({"zoo": "os:abort"}), headers={"content-type": content_type})
    assert r.status_code == 415 and "application/json" in r.json()["error"]
    assert client.app.state.pool.started == 0


def test_json_with_charset_is_taken(client: Any) -> None:
    headers = {"content-type": "application/json; charset=utf-8"}
    r = client.post("/api/analyze", content=json.dumps(LENET), headers=headers)
    assert r.status_code == 200


@pytest.mark.parametrize("token", [None, "", "wrong", "x" * 43])
def test_an_api_post_without_the_pages_token_is_refused(client: Any, token: str | None) -> None:
    del client.headers["x-netsize-token"]  # the client's default, sent with every request
    headers = {} if token is None else {"x-netsize-token": token}
    r = client.post("/api/analyze", json=LENET, headers=headers)
    assert r.status_code == 403 and "x-netsize-token" in r.json()["error"]
    r = client.post("/api/report", json=LENET, headers=headers)
    assert r.status_code == 403
    assert client.app.state.pool.started == 0


def test_the_page_carries_its_token_and_each_app_has_its_own(client_for: Any) -> None:
    a, b = client_for(), client_for()
    page = a.get("/").text
    assert f'<meta name="netsize-token" content="{a.app.state.token}">' in page
    assert a.app.state.token != b.app.state.token and len(a.app.state.token) >= 40
    headers = {"x-netsize-token": b.app.state.token}
    assert a.post("/api/analyze", json=LENET, headers=headers).status_code == 403


def test_an_uploaded_files_name_is_never_a_path(client: Any, tmp_path: Path) -> None:
    """The file is written under a fixed name; the name sent is ignored, whatever it says."""
    keras_json = json.dumps({"class_name": "Sequential", "config": {"name": "seq", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [None, 8], "name": "in"}},
        {"class_name": "Dense", "config": {"units": 4, "name": "d"}}]}}).encode()
    data = base64.b64encode(keras_json).decode()
    target = tmp_path / "written.json"
    answers = [client.post("/api/analyze", json={"file": data, "filename": name}).json()
               for name in ("model.json", str(target), "../../../../tmp/x.json", "/etc/passwd", "a\x00b")]
    assert all(a == answers[0] for a in answers)
    assert answers[0]["totals"]["params"] == 8 * 4 + 4
    assert not target.exists()


def test_host_header_parsing() -> None:
    assert host_name("127.0.0.1:8000") == "127.0.0.1"
    assert host_name("[::1]:80") == "::1"
    assert host_name("LocalHost.") == "localhost"
    for bad in ("", "a b", "127.0.0.1:80:80", "user@host", "host:port", "[::1", "x/y"):
        assert host_name(bad) is None, bad


def test_websockets_are_closed(client: Any) -> None:
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/api/analyze") as ws:
        ws.receive_text()


def test_the_server_and_its_workers_never_import_the_command_line() -> None:
    """The CLI's target loader takes paths and ``module:callable``: serve must not reach it."""
    import subprocess
    import sys

    src = Path(__file__).resolve().parents[2] / "src"
    code = (
        "import sys, json\n"
        "from netsize.serve import create_app\n"
        "from netsize.serve._worker import handle\n"
        "create_app()\n"
        "for body in ({'zoo': 'resnet18', 'input_size': '3,64,64'}, {'zoo': 'os:abort'}, {'file': 'e30='},"
        " {'spec': 'name: n\\ninput: [4]\\nlayers:\\n  - relu\\n'}):\n"
        "    handle('analyze', json.dumps(body).encode())\n"
        "print(sorted(m for m in sys.modules if m.startswith('netsize.cli') or m in ('torch', 'numpy', 'onnx')))\n"
    )
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(src), "PATH": ""})
    assert out.stdout.strip() == "[]", out.stderr


def test_a_configs_architecture_names_only_a_model_class(client_for: Any) -> None:
    """``architectures`` picks a transformers attribute by name, and it is called: only a model
    class may be picked (pipeline, functions and other classes are refused before any call)."""
    pytest.importorskip("transformers")
    client = client_for(time_limit_seconds=120.0, workers=1)  # the first request imports transformers
    for arch in ("pipeline", "set_seed", "AutoTokenizer", "PretrainedConfig", "__class__"):
        config = {"model_type": "fnet", "architectures": [arch], "vocab_size": 10, "hidden_size": 8,
                  "num_hidden_layers": 1, "intermediate_size": 8, "max_position_embeddings": 8}
        r = client.post("/api/analyze", json={"config": json.dumps(config)})
        assert r.status_code == 422, arch
        assert f"architecture {arch!r} is not a model class of transformers" in r.json()["error"]
