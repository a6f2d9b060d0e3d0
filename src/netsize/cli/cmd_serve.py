"""``netsize serve``: the web calculator on http://127.0.0.1:8000."""

from __future__ import annotations

import argparse

from netsize._errors import NetsizeError


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "serve",
        help="a local web calculator: edit a spec or pick a model, see the table, charts and memory as you type",
        description="Serves the calculator (needs: pip install 'netsize[serve]'). Bound to 127.0.0.1 unless --host "
        "says otherwise; it answers only requests whose Host is its address (or an --allow-host name) from its own "
        "page, and each analysis is limited in size and time (docs/calculator.md).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--allow-host", metavar="NAME", action="append", default=[],
                   help="another name the Host header may give (e.g. this machine's LAN name with --host 0.0.0.0); "
                   "repeatable")
    from netsize.cli._options import add_lang

    add_lang(p, "the page when it opens (its en/zh buttons switch it)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn
    except ImportError:
        raise NetsizeError("netsize serve needs starlette and uvicorn: pip install 'netsize[serve]'") from None
    from netsize.serve import create_app

    app = create_app(lang=args.lang, host=args.host, allow_hosts=args.allow_host)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"netsize calculator on http://{shown}:{args.port}/  (Ctrl-C stops it)")
    # limit_concurrency: connections past it get 503 at once, so slow clients cannot pile up
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", limit_concurrency=64,
                timeout_keep_alive=5)
    return 0
