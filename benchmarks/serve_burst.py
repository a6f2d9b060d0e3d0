"""The calculator under a burst of refused work (issue 21, section 2): the server's threads,
worker processes, CPU and memory before and after N requests past the time limit, and how long
small requests take during and after the burst. The server runs in its own process (as
``netsize serve`` does); the clients run here. Loopback only.

    PYTHONPATH=src python benchmarks/serve_burst.py --burst 40 --limit 1
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import re
import socket
import subprocess
import sys
import time
from typing import Any

import httpx
import psutil

SLOW = {"spec": "name: slow\ninput: [3, 64, 64]\nlayers:\n"
                "  - c: {type: conv2d, out_channels: 8, kernel_size: 3, padding: 1, repeat: 9000}\n"}
SMALL = {"zoo": "lenet5"}
SERVER = ("import sys, uvicorn\nfrom netsize.serve import create_app\n"
          "app = create_app(time_limit_seconds=float(sys.argv[2]), workers=int(sys.argv[3]), queue=int(sys.argv[4]))\n"
          "uvicorn.run(app, host='127.0.0.1', port=int(sys.argv[1]), log_level='warning')\n")


def _state(server: Any) -> dict[str, Any]:
    workers = server.children()
    return {"threads": server.num_threads(), "workers": len(workers),
            "server_rss_MiB": round(server.memory_info().rss / 2**20, 1),
            "workers_rss_MiB": round(sum(w.memory_info().rss for w in workers) / 2**20, 1)}


def _cpu(server: Any) -> float:
    return sum(server.cpu_times()[:2]) + sum(sum(w.cpu_times()[:2]) for w in server.children())


def _timed(fn: Any) -> tuple[int, float]:
    t = time.perf_counter()
    r = fn()
    return r.status_code, round(time.perf_counter() - t, 3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--burst", type=int, default=40)
    ap.add_argument("--limit", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--queue", type=int, default=8)
    args = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(args.limit), str(args.workers),
                             str(args.queue)], env=os.environ)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                page = httpx.get(url + "/", timeout=5).text
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        token = re.search(r'name="netsize-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        headers, server = {"x-netsize-token": token}, psutil.Process(proc.pid)
        small = lambda: httpx.post(url + "/api/analyze", json=SMALL, headers=headers, timeout=30)  # noqa: E731
        print("first small request:", _timed(small), "warm:", _timed(small))
        print("GET / idle:", _timed(lambda: httpx.get(url + "/", timeout=30)))
        first = {w.pid for w in server.children()}
        print("before:", _state(server))
        t0, cpu0 = time.perf_counter(), _cpu(server)
        with concurrent.futures.ThreadPoolExecutor(args.burst) as ex:
            futures = [ex.submit(httpx.post, url + "/api/analyze", json=SLOW, headers=headers, timeout=60)
                       for _ in range(args.burst)]
            time.sleep(0.2)
            during = {"GET /": _timed(lambda: httpx.get(url + "/", timeout=30)),
                      "GET /api/zoo": _timed(lambda: httpx.get(url + "/api/zoo", timeout=30)),
                      "POST small": _timed(small)}
            statuses = [f.result().status_code for f in futures]
        print(f"burst of {args.burst} slow requests: {time.perf_counter() - t0:.2f} s,",
              {s: statuses.count(s) for s in sorted(set(statuses))})
        print("during the burst (status, seconds):", during)
        time.sleep(1.0)
        print("1 s after:", _state(server), "workers replaced:", not first & {w.pid for w in server.children()})
        busy = _cpu(server)
        time.sleep(2.0)
        print(f"CPU of server + workers: {busy - cpu0:.2f} s during the burst, {_cpu(server) - busy:.3f} s "
              "over the next 2 s")
        print("small request after:", _timed(small))
    finally:
        proc.terminate()
        proc.wait(timeout=20)


if __name__ == "__main__":
    main()
