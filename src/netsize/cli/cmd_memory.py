"""``netsize memory TARGET --batch-size 32 --optimizer adam``: training and inference memory."""

from __future__ import annotations

import argparse

from netsize.cli._options import add_format, add_lang, add_width

# netsize.memory.OPTIMIZERS, spelled here so that `netsize --help` does not import the memory model
# (a test keeps the two equal).
OPTIMIZER_CHOICES = ("adam", "adamw", "sgd_momentum", "sgd", "none", "sgd-momentum")


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "memory",
        help="weights, gradients, optimizer state, activations and the peak of a training step",
        description="Memory of one training step (steady state, optimizer state allocated) and of inference: "
        "weights, gradients, optimizer state, activations kept for the backward pass, peaks (liveness of "
        "tensors, CUDA allocator blocks of 512 bytes). PyTorch modules are observed on the meta device.",
    )
    from netsize.cli._target import add_target_arguments  # after add_parser: see cli.build_parser

    add_target_arguments(p)
    p.add_argument("--optimizer", default="adam", type=str.lower,
                   choices=OPTIMIZER_CHOICES, help="optimizer (default adam)")
    p.add_argument("--dtype", default="float32", help="parameter dtype (default float32)")
    p.add_argument("--autocast", default=None, help="mixed precision: bfloat16 or float16")
    p.add_argument("--checkpointing", action="store_true",
                   help="activation checkpointing: each transformer layer / block of a stage, "
                   "checkpoint_sequential segments of a plain layer sequence")
    p.add_argument("--checkpoint-segments", type=int, default=None, metavar="N",
                   help="segments of checkpoint_sequential for a plain layer sequence (default sqrt(length))")
    p.add_argument("--layers", action="store_true", help="also print the per-layer activation breakdown")
    add_format(p)
    add_lang(p)
    add_width(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from netsize._errors import NetsizeError
    from netsize._target import located
    from netsize.cli._options import with_schema
    from netsize.cli._target import target_from_args
    from netsize.memory import estimate
    from netsize.render import emit, memory_detail, memory_rows, memory_title

    target = target_from_args(args)
    try:
        report = estimate(
            target,
            batch_size=args.batch_size,
            dtype=args.dtype,
            optimizer=args.optimizer,
            autocast=args.autocast,
            checkpointing=args.checkpointing or args.checkpoint_segments is not None,
            seq_len=args.seq_len,
            checkpoint_segments=args.checkpoint_segments,
        )
    except NetsizeError as err:  # a layer that does not fit: name its spec line, as summary does
        raise located(target, err) from None
    data = report.to_dict()
    if not args.layers:
        data.pop("layers")
    detail = memory_detail(report, args.lang) if args.layers else None
    emit(args.format, memory_title(report, args.lang), memory_rows(report, args.lang), with_schema(data),
         lang=args.lang, width=args.width, detail=detail)
    return 0
