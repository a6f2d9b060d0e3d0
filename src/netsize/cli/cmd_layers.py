"""``netsize layers [TYPE]``: the layer types a spec may use, and their fields."""

from __future__ import annotations

import argparse

from netsize.cli._options import add_format, add_lang, add_width


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "layers",
        help="list the layer types a spec may use, or show one's fields",
        description="List layer types with their spec names, or show one type's fields and defaults.",
    )
    p.add_argument("type", nargs="?", metavar="TYPE", help="a layer type name, e.g. conv2d")
    add_format(p)
    add_lang(p, "the column headers")
    add_width(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import inspect
    from typing import Any

    from netsize._layer import Layer
    from netsize.layers import layer_names, layer_type
    from netsize.spec import describe, layer_fields

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
    from netsize.render import emit_listing

    by_class: dict[type[Layer], list[str]] = {}
    for name, cls in layer_names().items():
        by_class.setdefault(cls, []).append(name)
    ordered = sorted(by_class.items(), key=lambda kv: kv[0].kind.lower())
    cells = [(cls.kind, ", ".join(sorted(names))) for cls, names in ordered]
    data = [{"kind": cls.kind, "spec_names": sorted(names)} for cls, names in ordered]
    emit_listing(args.format, ("kind", "spec_names"), cells, data, lang=args.lang, width=args.width)
    return 0
