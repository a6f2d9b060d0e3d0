"""Issue 21, section 2: refused work stops. A request past its time limit has its worker killed
and replaced, a burst past the queue is refused at once, slow bodies time out, and the workers
end with the server, however it stops. Traffic goes to 127.0.0.1 only; every loop is bounded;
times are measured for the report, never asserted."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

httpx = pytest.importorskip("httpx")

# 9,000 convolutions: seconds of analysis on any machine, far past a 1 s limit.
SLOW = {"spec": "name: slow\ninput: [3, 64, 64]\nlayers:\n"
                "  - c: {type: conv2d, out_channels: 8, kernel_size: 3, padding: 1, repeat: 9000}\n"}
SMALL = {"zoo": "lenet5"}
SRC = str(Path(__file__).resolve().parents[2] / "src")


def _wait_until(condition: Any, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _is_worker(process: Any) -> bool:
    with contextlib.suppress(psutil.Error):
        return "netsize.serve._worker" in " ".join(process.cmdline())
    return False


def _settles(pids: list[int], seconds: float = 10.0) -> bool:
    """The processes come to rest: a half-second window with under 0.1 s of CPU among them, within
    ``seconds`` (fresh workers first finish importing netsize)."""
    me = psutil.Process()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        before = _cpu_seconds(pids) + sum(me.cpu_times()[:2])
        time.sleep(0.5)
        if _cpu_seconds(pids) + sum(me.cpu_times()[:2]) - before < 0.1:
            return True
    return False


def _cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
    return total


def test_a_request_past_the_limit_is_stopped_and_its_worker_replaced(client_for: Any) -> None:
    client = client_for(time_limit_seconds=1.0, workers=1, queue=0)
    pool = client.app.state.pool
    assert client.post("/api/analyze", json=SMALL).status_code == 200
    (before,) = pool.pids()
    r = client.post("/api/analyze", json=SLOW)
    assert r.status_code == 422
    assert r.json()["error"] == "the analysis took longer than 1 s and was stopped"
    assert pool.killed == 1 and _gone(before)  # the work itself stopped, not only the waiting
    (after,) = pool.pids()
    assert after != before
    r = client.post("/api/analyze", json=SMALL)
    assert r.status_code == 200 and r.json()["totals"]["params"] == 61_706


def test_a_burst_past_the_limit_leaves_the_server_idle_and_answering(live: Any) -> None:
    workers, queue, burst = 2, 2, 10
    with live(time_limit_seconds=1.0, workers=workers, queue=queue) as (url, app):
        headers = {"x-netsize-token": app.state.token}
        me = psutil.Process()
        assert httpx.post(url + "/api/analyze", json=SMALL, headers=headers).status_code == 200
        threads_before = me.num_threads()
        first = app.state.pool.pids()
        with concurrent.futures.ThreadPoolExecutor(burst) as ex:
            futures = [ex.submit(httpx.post, url + "/api/analyze", json=SLOW, headers=headers, timeout=30)
                       for _ in range(burst)]
            # the server answers other requests while the burst's analyses run
            assert httpx.get(url + "/api/zoo", timeout=30).status_code == 200
            statuses = sorted(f.result().status_code for f in futures)
        assert set(statuses) <= {422, 503} and 503 in statuses  # over the queue: refused at once
        assert statuses.count(422) <= workers + queue
        # every killed worker is gone, the pool is back to its size, and nothing computes
        assert _wait_until(lambda: all(_gone(p) for p in first))
        pids = app.state.pool.pids()
        assert len(pids) == workers and not set(pids) & set(first)
        children = [c.pid for c in me.children(recursive=True) if not _gone(c.pid) and _is_worker(c)]
        assert sorted(children) == pids
        # the pool's threads, never more (the client threads of the burst take a moment to leave /proc)
        assert _wait_until(lambda: me.num_threads() <= threads_before + workers + queue)
        assert _settles(pids)  # nothing computes the refused work: server and workers idle
        r = httpx.post(url + "/api/analyze", json=SMALL, headers=headers, timeout=5)
        assert r.status_code == 200 and r.json()["totals"]["params"] == 61_706


def test_a_slow_body_is_timed_out(live: Any) -> None:
    with live(read_seconds=1.0) as (url, app):
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=15) as s:
            s.sendall(b"POST /api/analyze HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      b"X-Netsize-Token: " + app.state.token.encode() + b"\r\nContent-Length: 1000\r\n\r\n{\"zoo\"")
            answer = b""
            for _ in range(20):  # the head and the body may come in separate packets
                chunk = s.recv(4096)
                answer += chunk
                if not chunk or b"arrive" in answer:
                    break
        assert answer.startswith(b"HTTP/1.1 408")
        assert b"took longer than 1 s to arrive" in answer
        assert app.state.pool.started == 0


def test_a_body_over_the_size_limit_is_refused(client_for: Any) -> None:
    client = client_for(max_body_bytes=1000)
    r = client.post("/api/analyze", content=b'{"spec": "' + b"x" * 2000 + b'"}',
                    headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "request larger than 1,000 bytes"


def test_workers_do_not_import_torch_for_zoo_and_spec_requests(client: Any) -> None:
    for body in (SMALL, {"spec": "name: n\ninput: [4]\nlayers:\n  - fc: {type: linear, out_features: 2}\n"}):
        assert client.post("/api/analyze", json=body).status_code == 200
    for pid in client.app.state.pool.pids():
        mapped = [m.path for m in psutil.Process(pid).memory_maps()]
        assert mapped and not [p for p in mapped if "torch" in p or "numpy" in p]


def test_the_workers_end_with_the_app(live: Any) -> None:
    with live() as (_, app):
        pids = app.state.pool.pids()
        assert len(pids) == 2
    assert _wait_until(lambda: all(_gone(p) for p in pids))


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_no_worker_outlives_netsize_serve(stop: int) -> None:
    """Ctrl-C (SIGINT), SIGTERM and even SIGKILL of the server: its workers exit too."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "netsize", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        server = psutil.Process(proc.pid)
        assert _wait_until(lambda: len(server.children()) == 2, 30), "the workers did not start"
        workers = [c.pid for c in server.children()]
        up = _wait_until(lambda: _answers(port), 30)
        assert up, "the server did not answer"
        proc.send_signal(stop)
        proc.wait(timeout=20)
        assert _wait_until(lambda: all(_gone(p) for p in workers), 10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/zoo", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_config_through_transformers_past_the_limit_stops_its_cpu(client_for: Any) -> None:
    """The issue's case: a legitimate config built by transformers kept its CPU after the refusal.
    Importing torch and transformers alone takes longer than half a second."""
    pytest.importorskip("transformers")
    import json

    client = client_for(time_limit_seconds=0.5, workers=1, queue=0)
    pool = client.app.state.pool
    config = {"model_type": "fnet", "vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 2,
              "intermediate_size": 64, "max_position_embeddings": 64}
    r = client.post("/api/analyze", json={"config": json.dumps(config)})
    assert r.status_code == 422 and "took longer than 0.5 s and was stopped" in r.json()["error"]
    assert pool.killed == 1
    (pid,) = pool.pids()
    assert _settles([pid])  # the fresh worker is idle: nothing computes the refused config
    assert not [m.path for m in psutil.Process(pid).memory_maps() if "torch" in m.path]


def test_an_analysis_that_needs_more_memory_than_the_workers_bound_is_refused(client_for: Any) -> None:
    """A spec of 10,000 convolutions (the most layers a spec may have) against workers bounded to
    128 MiB: refused in one line naming the bound, and the worker answers the next request."""
    big = {"spec": "name: big\ninput: [3, 64, 64]\nlayers:\n"
                   "  - c: {type: conv2d, out_channels: 8, kernel_size: 3, padding: 1, repeat: 10000}\n"}
    client = client_for(worker_memory_bytes=128 * 2**20, workers=1, time_limit_seconds=120.0)
    assert client.post("/api/analyze", json=SMALL).status_code == 200  # the bound leaves room for real work
    r = client.post("/api/analyze", json=big)
    assert r.status_code == 422, r.text
    assert "\n" not in r.json()["error"] and "worker's" in r.json()["error"]
    assert client.post("/api/analyze", json=SMALL).status_code == 200


def test_a_keras_zip_bomb_is_refused_before_it_inflates(client_for: Any) -> None:
    """A .keras zip whose config.json inflates to 600 MiB (issue 21, section 3): refused by the
    config bound in one line, whatever the workers' memory bound."""
    import base64
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", b'{"class_name": "Sequential", "config": {}, "pad": "' + b" " * (600 * 2**20) + b'"}')
    client = client_for(worker_memory_bytes=None, workers=1, time_limit_seconds=60.0)
    r = client.post("/api/analyze", json={"file": base64.b64encode(buffer.getvalue()).decode()})
    assert r.status_code == 422, r.text
    assert "\n" not in r.json()["error"] and "4,194,304" in r.json()["error"]
    assert client.post("/api/analyze", json=SMALL).status_code == 200
