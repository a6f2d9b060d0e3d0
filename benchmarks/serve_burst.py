"""The calculator under a burst of refused work (issue 21, section 2): threads, processes, CPU and
memory of the server before and after N requests past the time limit, and how long small
requests take during and after the burst. Loopback only. The clients run in this process too
(their threads and memory are counted in the server's figures).

    PYTHONPATH=src python benchmarks/serve_burst.py --burst 40 --limit 1
"""

from __future__ import annotations

import argparse
import concurrent.futures
import socket
import threading
import time
from typing import Any

import httpx
import psutil
import uvicorn

from netsize.serve import create_app

SLOW = {"spec": "name: slow\ninput: [3, 64, 64]\nlayers:\n"
                "  - c: {type: conv2d, out_channels: 8, kernel_size: 3, padding: 1, repeat: 9000}\n"}
SMALL = {"zoo": "lenet5"}


def _state(me: Any, pool: Any) -> dict[str, Any]:
    workers = [psutil.Process(p) for p in pool.pids()]
    return {"threads": me.num_threads(), "children": len(me.children(recursive=True)),
            "workers": len(workers), "server_rss_MiB": round(me.memory_info().rss / 2**20, 1),
            "workers_rss_MiB": round(sum(w.memory_info().rss for w in workers) / 2**20, 1)}


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
    app = create_app(time_limit_seconds=args.limit, workers=args.workers, queue=args.queue)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    url, headers = f"http://127.0.0.1:{port}", {"x-netsize-token": app.state.token}
    pool, me = app.state.pool, psutil.Process()
    small = lambda: httpx.post(url + "/api/analyze", json=SMALL, headers=headers, timeout=30)  # noqa: E731
    print("first small request (workers starting):", _timed(small))
    print("small request, warm:", _timed(small))
    print("GET / idle:", _timed(lambda: httpx.get(url + "/", timeout=30)))
    print("before:", _state(me, pool))
    cpu0 = sum(me.cpu_times()[:2])
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(args.burst) as ex:
        futures = [ex.submit(httpx.post, url + "/api/analyze", json=SLOW, headers=headers, timeout=60)
                   for _ in range(args.burst)]
        time.sleep(0.2)
        during = {"GET /": _timed(lambda: httpx.get(url + "/", timeout=30)),
                  "GET /api/zoo": _timed(lambda: httpx.get(url + "/api/zoo", timeout=30)),
                  "POST small": _timed(small)}
        statuses = [f.result().status_code for f in futures]
    print(f"burst of {args.burst} slow requests: {time.perf_counter() - t0:.2f} s,",
          {s: statuses.count(s) for s in sorted(set(statuses))}, "killed workers:", pool.killed)
    print("during the burst (status, seconds):", during)
    time.sleep(1.0)
    print("1 s after:", _state(me, pool))
    busy = sum(me.cpu_times()[:2]) + sum(sum(psutil.Process(p).cpu_times()[:2]) for p in pool.pids())
    time.sleep(2.0)
    idle = sum(me.cpu_times()[:2]) + sum(sum(psutil.Process(p).cpu_times()[:2]) for p in pool.pids())
    print(f"CPU over the next 2 s (server + workers): {idle - busy:.3f} s; server CPU during burst "
          f"{busy - cpu0:.2f} s")
    print("small request after:", _timed(small))
    time.sleep(12.0)
    print("12 s later (idle threads expired):", _state(me, pool))
    server.should_exit = True
    time.sleep(1.5)
    pool.close()


if __name__ == "__main__":
    main()
