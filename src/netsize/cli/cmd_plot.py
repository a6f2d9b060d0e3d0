"""``netsize plot TARGET --what params -o params.png``: per-layer bars or a training step's memory curve."""

from __future__ import annotations

import argparse

from netsize._errors import NetsizeError


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "plot",
        help="plot params, multiply-adds or activations per layer, or the memory of a training step (matplotlib)",
        description="Writes a PNG, SVG or PDF (by the extension of -o). Needs matplotlib: pip install 'netsize[plot]'.",
    )
    from netsize.cli._target import add_target_arguments  # after add_parser: see cli.build_parser

    add_target_arguments(p)
    p.add_argument("--what", default="params", choices=("params", "multiply-adds", "flops", "activations", "memory"))
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="file.png, file.svg or file.pdf")
    p.add_argument("--depth", type=int, default=None, metavar="N", help="sum layers into blocks at this depth")
    p.add_argument("--top", type=int, default=None, metavar="N", help="only the N largest")
    p.add_argument("--log", action="store_true", help="log scale")
    p.add_argument("--optimizer", default="adam", help="optimizer for --what memory (adam)")
    from netsize.cli._options import add_lang

    add_lang(p, "titles and axis labels")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from netsize._target import summarize
    from netsize.cli._target import target_from_args
    from netsize.render import plot_memory, plot_summary

    out = Path(args.output)
    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise NetsizeError(f"-o {args.output}: write a .png, .svg or .pdf file")
    target = target_from_args(args)
    summary = summarize(target, batch_size=args.batch_size)
    if args.what == "memory":
        from netsize.memory import estimate

        report = estimate(target, batch_size=args.batch_size, optimizer=args.optimizer, seq_len=args.seq_len)
        ax = plot_memory(summary, report, lang=args.lang)
    else:
        ax = plot_summary(summary, args.what, depth=args.depth, log=args.log, top=args.top, lang=args.lang)
    ax.figure.savefig(out, dpi=120)
    print(f"wrote {out}")
    return 0
