"""``netsize summary TARGET``: the per-layer table of a network."""

from __future__ import annotations

import argparse
import sys

from netsize.cli._options import add_explain, add_format, add_lang, add_width
from netsize.cli._values import non_negative_int


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "summary",
        help="per-layer output shapes, params, multiply-adds and activations of a network",
        description="Print a network's per-layer table: output shape, params, multiply-adds, activations, "
        "with totals, model size per dtype and the counting convention.",
    )
    from netsize.cli._target import add_target_arguments  # after add_parser: see cli.build_parser

    add_target_arguments(p)
    add_output_arguments(p)
    p.add_argument("-d", "--depth", type=non_negative_int, metavar="N",
                   help="show blocks down to depth N, counted as torchinfo counts it (1 = top-level blocks, "
                        "0 = the whole model); deeper layers are summed")
    add_explain(p, "every layer's formulas with its values")
    add_format(p)
    add_width(p)
    p.set_defaults(func=run)


def add_output_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dtype", default="float32", help="dtype for the activation size line (default float32)")
    add_lang(p)


def run(args: argparse.Namespace) -> int:
    from netsize._dtypes import canonical_dtype
    from netsize._target import summarize
    from netsize.cli._target import target_from_args
    from netsize.render import render

    canonical_dtype(args.dtype)  # an unknown dtype is a user error before any work
    if args.depth is not None and args.depth < 0:
        from netsize._errors import NetsizeError

        raise NetsizeError(f"--depth must be 0 or more (got {args.depth})")
    target = target_from_args(args)
    summary = summarize(target, batch_size=args.batch_size, convention=args.convention, depth=args.depth)
    if args.format == "table":
        from netsize.render import print_table

        print_table(summary, width=args.width, depth=args.depth, lang=args.lang, dtype=args.dtype,
                    explain=args.explain)
        return 0
    sys.stdout.write(render(summary, args.format, depth=args.depth, lang=args.lang, dtype=args.dtype,
                            explain=args.explain))
    return 0
