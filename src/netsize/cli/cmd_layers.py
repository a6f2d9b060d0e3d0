"""``netsize layers [TYPE]``: the layer types a spec may use, and their fields."""

from __future__ import annotations

import argparse
import inspect
from typing import Any


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "layers",
        help="list the layer types a spec may use, or show one's fields",
        description="List layer types with their spec names, or show one type's fields and defaults.",
    )
    p.add_argument("type", nargs="?", metavar="TYPE", help="a layer type name, e.g. conv2d")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from netsize._layer import Layer
    from netsize._registry import layer_names, layer_type
    from netsize.spec._fields import describe, layer_fields

    if args.type:
        cls = layer_type(args.type)
        aliases = sorted(k for k, v in layer_names().items() if v is cls)
        print(f"{cls.kind} (spec names: {', '.join(aliases)})")
        doc = inspect.getdoc(cls)
        if doc:
            print("\n".join("  " + line for line in doc.splitlines()))
        print("fields:")
        defaults: dict[str, Any] = {}
        if dataclasses.is_dataclass(cls):
            defaults = {f.name: f.default for f in dataclasses.fields(cls)}
        for name, (hint, required) in layer_fields(cls).items():
            default = "required" if required else f"default {defaults.get(name)!r}"
            print(f"  {name}: {describe(hint)} ({default})")
        return 0
    by_class: dict[type[Layer], list[str]] = {}
    for name, cls in layer_names().items():
        by_class.setdefault(cls, []).append(name)
    for cls, names in sorted(by_class.items(), key=lambda kv: kv[0].kind.lower()):
        print(f"{cls.kind:<28} {', '.join(sorted(names))}")
    return 0
