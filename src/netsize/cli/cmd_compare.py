"""``netsize compare A B [C ...]``: models side by side."""

from __future__ import annotations

import argparse

from netsize._errors import NetsizeError
from netsize.cli._options import add_format, add_lang


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "compare",
        help="models side by side: totals, size per dtype, a training step's memory, the blocks that differ",
        description="Compare two or more models. A TARGET may carry its own input shape after '@' "
        "(resnet50@3x448x448); --input-size applies to those without one.",
    )
    p.add_argument("targets", metavar="TARGET", nargs="+", help="zoo name, spec, HF config.json; TARGET@SHAPE")
    p.add_argument("-i", "--input-size", metavar="SHAPE", help="input shape (per sample) for every target")
    p.add_argument("-b", "--batch-size", type=int, default=1, metavar="N", help="batch size (1)")
    p.add_argument("--seq-len", type=int, metavar="N", help="sequence length (Hugging Face configs)")
    p.add_argument("--depth", type=int, default=1, metavar="N",
                   help="level of the blocks compared, as torchinfo counts it (1: top level)")
    p.add_argument("--memory-batch", type=int, default=None, metavar="N",
                   help="batch size of the training-step memory (default --batch-size)")
    p.add_argument("--optimizer", default="adam", help="optimizer of the training-step memory (adam)")
    p.add_argument("--no-memory", action="store_true", help="leave out the training-step memory")
    add_format(p)
    add_lang(p, "labels")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from netsize._target import load_target, parse_input_sizes, summarize
    from netsize.compare import compare
    from netsize.render import compare_markdown, compare_text

    if len(args.targets) < 2:
        raise NetsizeError("compare needs at least two targets")
    if args.batch_size <= 0:
        raise NetsizeError(f"--batch-size must be a positive integer (got {args.batch_size})")
    models = []
    reports = []
    mem_batch = args.memory_batch or args.batch_size
    for text in args.targets:
        name, at, shape = text.partition("@")
        size_text = shape if at else args.input_size
        target = load_target(name, input_size=parse_input_sizes([size_text]) if size_text else None,
                             seq_len=args.seq_len)  # fmt: skip
        models.append((text, summarize(target, batch_size=args.batch_size)))
        if not args.no_memory:
            from netsize.memory import estimate

            reports.append(estimate(target, batch_size=mem_batch, optimizer=args.optimizer))
    setup = "" if args.no_memory else f"one training step, batch {mem_batch}, float32, {args.optimizer}"
    result = compare(models, None if args.no_memory else reports, setup, depth=args.depth)
    if args.format == "json":
        from netsize.cli._options import print_json, with_schema

        print_json(with_schema(result.to_dict()))
    elif args.format == "csv":
        from netsize.render import compare_csv

        print(compare_csv(result), end="")
    elif args.format == "markdown":
        print(compare_markdown(result))
    else:
        print(compare_text(result, args.lang))
    return 0
