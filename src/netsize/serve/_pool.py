"""The calculator's workers: a few Python processes (:mod:`._worker`), each answering one request
at a time, killed and replaced when a request passes its deadline, so that refused work stops.

Admission is bounded: at most ``size + queue`` requests are in the pool at once (running or
waiting for a worker); the next is refused at once (the server answers 503). The time a request
waits for a worker counts in its deadline. Everything here blocks, and is called from the
server's threads (one per admitted request, so at most ``size + queue`` of them): each call
returns by its deadline, since a worker that has not answered by then is killed.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

MAX_ANSWER_BYTES = 512 * 1024 * 1024
_STARTER = "from netsize.serve._worker import main; main()"


class _Stopped(Exception):
    """The worker process ended (or broke its pipes) before answering."""


class _Worker:
    def __init__(self, cwd: str, env: dict[str, str], memory_bytes: int | None) -> None:
        # -P: no script folder or cwd on sys.path (a module in the current folder is never imported)
        self.proc = subprocess.Popen(
            [sys.executable, "-P", "-c", _STARTER, str(memory_bytes or "")], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=cwd, env=env, start_new_session=True,
        )  # fmt: skip
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin, self.stdout = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        os.set_blocking(self.stdin, False)
        os.set_blocking(self.stdout, False)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def exchange(self, frame: bytes, deadline: float) -> bytes | None:
        """The worker's answer to ``frame``; None when the deadline passes first."""
        view = memoryview(frame)
        while view:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            _, writable, _ = select.select([], [self.stdin], [], left)
            if writable:
                try:
                    view = view[os.write(self.stdin, view[: 1 << 20]):]
                except (BrokenPipeError, OSError):
                    raise _Stopped from None
        buffer = bytearray()
        need: int | None = None
        while need is None or len(buffer) < need:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            readable, _, _ = select.select([self.stdout], [], [], left)
            if not readable:
                continue
            try:
                chunk = os.read(self.stdout, 1 << 20)
            except BlockingIOError:
                continue
            if not chunk:
                raise _Stopped
            buffer += chunk
            if need is None and len(buffer) >= 8:
                need = 8 + int.from_bytes(buffer[:8], "big")
                if need > MAX_ANSWER_BYTES:
                    raise _Stopped
        return bytes(buffer[8:need])

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL is not refused: at once
            self.proc.wait(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()


class WorkerPool:
    """``size`` worker processes and room for ``queue`` more requests waiting for one; each
    worker's address space is bounded by ``memory_bytes`` (None: unbounded)."""

    def __init__(self, size: int = 2, queue: int = 8, memory_bytes: int | None = None) -> None:
        if size < 1 or queue < 0:
            raise ValueError(f"a pool needs at least one worker and a queue of 0 or more (got {size}, {queue})")
        self.size, self.queue, self.memory_bytes = size, queue, memory_bytes
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._workers: set[_Worker] = set()
        self._admitted = 0
        self._closed = False
        self._folder: str | None = None
        # one thread per admitted request, never more: admission bounds what is submitted
        self._threads = concurrent.futures.ThreadPoolExecutor(max_workers=size + queue,
                                                              thread_name_prefix="netsize-serve")
        self.started = 0  # requests handed to a worker: analyses begun
        self.killed = 0  # workers killed at a deadline

    # --- life ---------------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        # the netsize this server runs, first: the worker imports the same code
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join([root, *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
        return env

    def _spawn(self) -> _Worker:  # with the lock held
        if self._folder is None:
            self._folder = tempfile.mkdtemp(prefix="netsize-serve-")
            atexit.register(self.close)  # an app never shut down (no lifespan) still ends its workers
        worker = _Worker(self._folder, self._env(), self.memory_bytes)
        self._workers.add(worker)
        return worker

    def start(self) -> None:
        """Start the workers (done by the first request if not before)."""
        with self._cond:
            if self._closed:
                return
            while len(self._workers) < self.size:
                self._idle.append(self._spawn())

    def close(self) -> None:
        """Kill every worker and wait for it; requests still waiting are refused."""
        with self._cond:
            self._closed = True
            workers, self._idle = list(self._workers), []
            self._workers.clear()
            self._cond.notify_all()
        for worker in workers:
            worker.kill()
        self._threads.shutdown(wait=False)
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def pids(self) -> list[int]:
        """The worker processes' ids (for tests and diagnostics)."""
        with self._cond:
            return sorted(w.pid for w in self._workers)

    # --- requests -----------------------------------------------------------------------
    def admit(self) -> bool:
        """Take a place for one request; False when the pool is full (or closed)."""
        with self._cond:
            if self._closed or self._admitted >= self.size + self.queue:
                return False
            self._admitted += 1
            return True

    def release(self) -> None:
        """Give back a place taken by :meth:`admit` without running (the request stopped early)."""
        with self._cond:
            self._admitted -= 1

    def _take(self, deadline: float) -> _Worker | None:
        with self._cond:
            if not self._workers and not self._closed:
                self.start()
            while not self._idle:
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    return None
                self._cond.wait(left)
            worker = self._idle.pop()
            if not worker.alive():  # died while idle: a fresh one instead
                self._workers.discard(worker)
                worker.kill()
                worker = self._spawn()
            self.started += 1
            return worker

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        with self._cond:
            self._workers.discard(worker)
            if not self._closed:
                self._idle.append(self._spawn())
            self._cond.notify()

    def submit(self, endpoint: str, raw: bytes, deadline: float,
               limit_seconds: float) -> concurrent.futures.Future[tuple[int, str, bytes]]:
        """:meth:`run` in one of the pool's threads (at most ``size + queue``, as admitted)."""
        return self._threads.submit(self.run, endpoint, raw, deadline, limit_seconds)

    def run(self, endpoint: str, raw: bytes, deadline: float, limit_seconds: float) -> tuple[int, str, bytes]:
        """``(status, content type, body)`` for a request admitted by :meth:`admit`, by ``deadline``
        (``time.monotonic()``): past it, the worker is killed and replaced and the answer says so."""
        try:
            worker = self._take(deadline)
            if worker is None:
                if self._closed:
                    return _error(503, "the calculator is shutting down")
                return _error(422, f"the analysis waited {limit_seconds:g} s for a free worker and was refused; "
                                   "try again when the calculator is less busy")
            frame = (b"r" if endpoint == "report" else b"a") + len(raw).to_bytes(8, "big") + raw
            try:
                answer = worker.exchange(frame, deadline)
            except _Stopped:
                code = worker.proc.poll()
                self._replace(worker)
                return _error(500, f"the analysis stopped its worker (exit status {code}); it was replaced")
            if answer is None:
                with self._cond:
                    self.killed += 1
                self._replace(worker)
                return _error(422, f"the analysis took longer than {limit_seconds:g} s and was stopped")
            with self._cond:
                if self._closed:
                    worker.kill()
                else:
                    self._idle.append(worker)
                    self._cond.notify()
            header, _, body = answer.partition(b"\n")
            meta = json.loads(header)
            return int(meta["status"]), str(meta["type"]), body
        finally:
            self.release()


def _error(status: int, message: str) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps({"error": message, "line": None}).encode()
