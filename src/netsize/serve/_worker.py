"""A calculator worker: a separate Python process that answers one request at a time.

The server (:mod:`._pool`) writes a frame ``ENDPOINT (1 byte: a or r) + LENGTH (8 bytes) + BODY``
on the worker's stdin and reads ``LENGTH (8 bytes) + HEADER LINE (JSON: status, type) + ANSWER``
from its stdout. The worker imports only what a request needs (no torch unless a request's
frontend does), and exits when its stdin closes or its parent process is gone, so that no worker
outlives the server, whatever stops it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from typing import BinaryIO

ENDPOINTS = {b"a": "analyze", b"r": "report"}


def _read_exact(stream: BinaryIO, n: int) -> bytes | None:
    chunks, left = [], n
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def handle(endpoint: str, raw: bytes, memory_bytes: int | None = None) -> tuple[int, str, bytes]:
    """The answer to one request body: a 4xx for a body the API does not take, 422 for what
    netsize refuses, 500 (one line, no traceback) for a bug."""
    from netsize.serve._analysis import answer
    from netsize.serve._request import BadRequest, parse_body

    try:
        request = parse_body(raw)
        return answer(request, endpoint)
    except BadRequest as err:
        return err.status, "application/json", json.dumps({"error": str(err), "line": None}).encode()
    except MemoryError:
        bound = f"the worker's {memory_bytes / 2**30:g} GiB" if memory_bytes else "the memory"
        message = f"the analysis needed more than {bound} and was refused"
        return 422, "application/json", json.dumps({"error": message, "line": None}).encode()
    except Exception as err:
        message = f"internal error: {type(err).__name__}: {str(err).splitlines()[0][:300] if str(err) else ''}"
        return 500, "application/json", json.dumps({"error": message, "line": None}).encode()


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(0)


def main() -> None:
    """Serve frames from stdin until it closes; ``sys.argv[1]``, when given, bounds the process's
    address space in bytes (a hostile file then fails with MemoryError, not the machine)."""
    memory_bytes = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else None
    if memory_bytes:
        with contextlib.suppress(ImportError, ValueError, OSError):
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, resource.getrlimit(resource.RLIMIT_AS)[1]))
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    with contextlib.suppress(OSError, AttributeError):  # analyses yield the CPU to the server's own loop
        os.nice(5)
    requests = sys.stdin.buffer
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever a library prints goes to stderr, never into the answers
    sys.stdout = sys.stderr
    import netsize.serve._analysis  # noqa: F401  (the engine, before the first request's clock runs)

    while True:
        head = _read_exact(requests, 9)
        if head is None:
            return
        raw = _read_exact(requests, int.from_bytes(head[1:], "big"))
        if raw is None:
            return
        status, content_type, body = handle(ENDPOINTS.get(head[:1], "analyze"), raw, memory_bytes)
        header = json.dumps({"status": status, "type": content_type}).encode() + b"\n"
        answers.write((len(header) + len(body)).to_bytes(8, "big") + header + body)
        answers.flush()


if __name__ == "__main__":
    main()
