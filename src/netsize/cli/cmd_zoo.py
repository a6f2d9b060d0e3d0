"""``netsize zoo [NAME]``: the built-in networks."""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "zoo",
        help="list the built-in networks, or show one",
        description="List the built-in networks (names for `netsize summary NAME`), or show one's details.",
    )
    p.add_argument("name", nargs="?", metavar="NAME", help="a zoo name: show its source, input and variables")
    p.add_argument("-f", "--format", choices=("table", "json"), default="table", help="output format")
    p.set_defaults(func=run)


def _describe(entry: object) -> dict[str, object]:
    e: object = entry
    return {
        "name": getattr(e, "name", ""),
        "description": getattr(e, "description", ""),
        "source": getattr(e, "source", ""),
        "input_shape": list(getattr(e, "input_shape", ())),
        "layout": getattr(e, "layout", "channels_first"),
        "convention": getattr(e, "convention", "torch"),
    }


def run(args: argparse.Namespace) -> int:
    from netsize import zoo
    from netsize._shape import shape_str

    if args.name:
        entry = zoo.get(args.name)
        info = _describe(entry)
        variables = {k: (list(v) if isinstance(v, tuple) else v) for k, v in entry.variables.items()}
        if args.format == "json":
            print(json.dumps({**info, "variables": variables}, indent=2))
            return 0
        print(f"{entry.name}: {entry.description}")
        print(f"  source: {entry.source}")
        print(f"  input (per sample): {shape_str(entry.input_shape)} ({entry.layout})")
        print(f"  convention: {entry.convention}")
        print("  variables (--var NAME=VALUE): " + ", ".join(f"{k}={v}" for k, v in variables.items()))
        return 0
    entries = [zoo.get(n) for n in zoo.names()]
    if args.format == "json":
        print(json.dumps([_describe(e) for e in entries], indent=2))
        return 0
    from rich import box
    from rich.console import Console
    from rich.table import Table

    t = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    t.add_column("Name", no_wrap=True, style="bold")
    t.add_column("Input", no_wrap=True)
    t.add_column("Description", overflow="fold")
    for e in entries:
        t.add_row(e.name, shape_str(e.input_shape), e.description)
    Console().print(t)
    return 0
