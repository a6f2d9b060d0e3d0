"""The static site built once per test session and served from 127.0.0.1, for the site's tests and
benchmarks/bench_site.py."""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from netsize._errors import NetsizeError
from netsize.site import build_site, find_pyodide

LLAMA_2_7B = {  # meta-llama/Llama-2-7b-hf's config.json, the fields that size the model
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
    "intermediate_size": 11008, "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 32,
    "vocab_size": 32000, "max_position_embeddings": 4096, "rms_norm_eps": 1e-05, "tie_word_embeddings": False,
    "hidden_act": "silu", "torch_dtype": "float16",
}
LLAMA_2_7B_PARAMS = 6_738_415_616  # the published count (Touvron et al. 2023, and transformers' numel)


def pyodide_or_reason() -> tuple[Path | None, str]:
    try:
        return find_pyodide(), ""
    except NetsizeError as err:
        return None, str(err)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def served(directory: Path) -> Iterator[str]:
    """``directory`` served on a free loopback port; yields its address."""
    handler = functools.partial(_Quiet, directory=os.fspath(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def build(directory: Path) -> Path:
    runtime, reason = pyodide_or_reason()
    if runtime is None:
        raise RuntimeError(reason)
    build_site(directory, runtime)
    return directory


def local_only(context: object, address: str, blocked: list[str]) -> None:
    """Every request that is not to the site's own address is aborted and listed in ``blocked``."""

    def route(r):  # type: ignore[no-untyped-def]
        if r.request.url.startswith(address):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)  # type: ignore[attr-defined]
