"""``netsize zoo [NAME]``: the built-in networks."""

from __future__ import annotations

import argparse

from netsize.cli._options import add_format, add_lang, add_width


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "zoo",
        help="list the built-in networks, or show one",
        description="List the built-in networks (names for `netsize summary NAME`), or show one's details.",
    )
    p.add_argument("name", nargs="?", metavar="NAME", help="a zoo name: show its source, input and variables")
    add_format(p)
    add_lang(p, "the column headers")
    add_width(p)
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
        if args.format != "table":
            from netsize.render import emit_listing

            fields = [(k, str(v)) for k, v in {**info, "variables": variables}.items()]
            emit_listing(args.format, ("field", "value"), fields,
                         {"schema_version": 1, **info, "variables": variables}, lang=args.lang)
            return 0
        from netsize._glossary import colon
        from netsize._i18n import translate
        from netsize.render import emit_listing

        def line(key: str, value: str) -> str:
            return f"  {translate(key, args.lang)}{colon(args.lang)}{value}"

        print(f"{entry.name}{colon(args.lang)}{entry.description}")
        print(line("listing.source", entry.source))
        print(line("listing.input_per_sample", f"{shape_str(entry.input_shape)} ({entry.layout})"))
        print(line("listing.convention", entry.convention))
        print(line("listing.variables", ", ".join(f"{k}={v}" for k, v in variables.items())))
        return 0
    from netsize.render import emit_listing

    entries = [zoo.get(n) for n in zoo.names()]
    cells = [(e.name, shape_str(e.input_shape), e.description) for e in entries]
    emit_listing(args.format, ("name", "input", "description"), cells, [_describe(e) for e in entries],
                 lang=args.lang, width=args.width)
    return 0
