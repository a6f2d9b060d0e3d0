"""``netsize explain TARGET LAYER``: one layer's derivation, every number with its formula."""

from __future__ import annotations

import argparse

from netsize.cli._options import add_format, add_lang

EXPLAIN_FORMATS = ("table", "json", "markdown")


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "explain",
        help="show how one layer's shape and counts are derived",
        description="Show one layer's derivation: output size, weights, biases, multiply-adds, with the formula "
        "and the layer's own numbers substituted. A block name explains every layer in it.",
    )
    from netsize.cli._target import add_target_arguments  # after add_parser: see cli.build_parser

    add_target_arguments(p)
    p.add_argument("layer", metavar="LAYER", help="layer name as in `netsize summary` (or a block name)")
    add_lang(p, "the explanation")
    add_format(p, EXPLAIN_FORMATS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import difflib
    import sys

    from netsize._errors import NetsizeError
    from netsize._summary import explain_record
    from netsize._target import summarize
    from netsize.cli._options import print_json, with_schema
    from netsize.cli._target import target_from_args
    from netsize.render import printable

    target = target_from_args(args)
    # Stop after the layer asked for: its derivation stands even if a later layer does not fit.
    names_in = [n.name for n in target.network.nodes] if target.network is not None else []
    known = any(n == args.layer or n.startswith(args.layer + ".") for n in names_in)
    until = args.layer if known else None
    summary = summarize(target, batch_size=args.batch_size, convention=args.convention, until=until)
    records = [r for r in summary.layers if r.name == args.layer]
    if not records:
        records = [r for r in summary.layers if r.name.startswith(args.layer + ".")]
    if not records:
        names = [r.name for r in summary.layers]
        close = difflib.get_close_matches(args.layer, names, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `netsize summary` lists the layer names"
        raise NetsizeError(f"no layer named {args.layer!r} in {summary.model!r}{hint}")
    texts = [explain_record(r, args.lang) for r in records]
    if args.format == "json":
        layers = [{**r.to_dict(), "explain": text} for r, text in zip(records, texts, strict=True)]
        print_json(with_schema({"model": summary.model, "batch_size": summary.batch_size,
                                "convention": summary.convention, "layers": layers}))
    elif args.format == "markdown":
        sys.stdout.write("".join(f"```text\n{printable(text)}\n```\n" for text in texts))
    else:  # text for a terminal: a name's control characters escaped (JSON keeps them exact)
        sys.stdout.write("\n\n".join(printable(text) for text in texts) + "\n")
    return 0
