"""``netsize explain TARGET LAYER``: one layer's derivation, every number with its formula."""

from __future__ import annotations

import argparse
import difflib

from netsize._errors import NetsizeError
from netsize.cli._target import add_target_arguments, summarize, target_from_args


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "explain",
        help="show how one layer's shape and counts are derived",
        description="Show one layer's derivation: output size, weights, biases, multiply-adds, with the formula "
        "and the layer's own numbers substituted. A block name explains every layer in it.",
    )
    add_target_arguments(p)
    p.add_argument("layer", metavar="LAYER", help="layer name as in `netsize summary` (or a block name)")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="language of the explanation")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from netsize._summary import explain_record
    from netsize.render._format import printable

    target = target_from_args(args)
    # Stop after the layer asked for: its derivation stands even if a later layer does not fit.
    names_in = [n.name for n in target.network.nodes] if target.network is not None else []
    known = any(n == args.layer or n.startswith(args.layer + ".") for n in names_in)
    until = args.layer if known else None
    summary = summarize(target, batch_size=args.batch_size, convention=args.convention, until=until)
    names = [r.name for r in summary.layers]
    if args.layer in names:
        print(printable(summary.explain(args.layer, args.lang)))
        return 0
    inside = [r for r in summary.layers if r.name.startswith(args.layer + ".")]
    if inside:
        print(printable("\n\n".join(explain_record(r, args.lang) for r in inside)))
        return 0
    close = difflib.get_close_matches(args.layer, names, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `netsize summary` lists the layer names"
    raise NetsizeError(f"no layer named {args.layer!r} in {summary.model!r}{hint}")
