"""``netsize schedule --samples 50000 --batch-size 256 --epochs 10``: training-loop arithmetic."""

from __future__ import annotations

import argparse

from netsize.cli._options import add_format, add_lang, add_width
from netsize.cli._values import fraction, positive_float, positive_int


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "schedule",
        help="iterations per epoch, optimizer updates, samples seen, training compute and time",
        description="Training-loop arithmetic: iterations per epoch (the last batch partial unless --drop-last), "
        "total optimizer updates, samples seen; with --model, the training compute (3 x forward FLOPs per "
        "sample); with --throughput or --gpu-flops/--utilisation, an estimated time.",
    )
    p.add_argument("--samples", type=positive_int, required=True, metavar="N", help="training samples in the data set")
    p.add_argument("-b", "--batch-size", type=positive_int, required=True, metavar="N", help="samples per iteration")
    p.add_argument("--epochs", type=positive_int, default=1, metavar="N", help="passes over the data (default 1)")
    p.add_argument("--drop-last", action="store_true", help="drop the partial last batch of each epoch")
    p.add_argument("--model", metavar="TARGET", help="zoo name, spec file, HF config.json or pkg.module:callable")
    p.add_argument("-i", "--input-size", metavar="SHAPE", help="per-sample input shape for --model, e.g. 3,224,224")
    p.add_argument("--seq-len", type=positive_int, metavar="N",
                   help="sequence length for an HF config --model")
    p.add_argument("--throughput", type=positive_float, metavar="SAMPLES_PER_S",
                   help="measured training samples per second")
    p.add_argument("--gpu-flops", type=positive_float, metavar="FLOPS",
                   help="peak FLOP/s of the accelerator, e.g. 989e12")
    p.add_argument("--gpu", metavar="NAME", help="a GPU of `netsize plan`'s table (h100, a100-80gb, l4...): its "
                   "dense bf16 peak replaces --gpu-flops")
    p.add_argument("--gpus", type=positive_int, default=1, metavar="N",
                   help="GPUs working together with --gpu (default 1)")
    p.add_argument("--utilisation", "--utilization", type=fraction, default=None, metavar="U",
                   help="fraction of peak FLOP/s achieved, e.g. 0.4 (default 1)")
    add_format(p)
    add_lang(p)
    p.add_argument("--explain", action="store_true", default=None,
                   help="print every figure's rule with its values (the default for tables; "
                   "--no-explain leaves them out)")
    p.add_argument("--no-explain", dest="explain", action="store_false", help=argparse.SUPPRESS)
    add_width(p)
    p.set_defaults(func=run)


def _forward_flops(args: argparse.Namespace) -> int | None:
    if not args.model:
        return None
    from netsize._target import load_target, parse_input_sizes, summarize

    target = load_target(
        args.model,
        input_size=parse_input_sizes([args.input_size]) if args.input_size else None,
        seq_len=args.seq_len,
    )
    return summarize(target, batch_size=1).totals.flops


def run(args: argparse.Namespace) -> int:
    from netsize._i18n import translate
    from netsize.schedule import schedule

    if args.gpu:
        from netsize._errors import NetsizeError
        from netsize.plan import gpu_named

        if args.gpus <= 0:
            raise NetsizeError(f"--gpus must be a positive integer (got {args.gpus})")
        args.gpu_flops = float(gpu_named(args.gpu).peak_flops * args.gpus)

    s = schedule(
        args.samples,
        args.batch_size,
        args.epochs,
        args.drop_last,
        forward_flops_per_sample=_forward_flops(args),
        throughput=args.throughput,
        gpu_flops=args.gpu_flops,
        utilisation=args.utilisation,
    )
    from netsize.cli._options import with_schema
    from netsize.render import emit, schedule_rows

    emit(args.format, translate("report.schedule.title", args.lang), schedule_rows(s, args.lang),
         with_schema(s.to_dict()), explain=s.explain(args.lang) if _explain(args) else "", lang=args.lang,
         width=args.width)
    return 0


def _explain(args: argparse.Namespace) -> bool:
    # The rules are part of the table people read; JSON and CSV add them only when asked.
    return bool(args.explain) if args.explain is not None else args.format in ("table", "markdown")
