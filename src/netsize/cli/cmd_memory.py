"""``netsize memory TARGET --batch-size 32 --optimizer adam``: training and inference memory."""

from __future__ import annotations

import argparse
import json

from netsize.memory import OPTIMIZERS


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from netsize.cli._target import add_target_arguments

    p = subparsers.add_parser(
        "memory",
        help="weights, gradients, optimizer state, activations and the peak of a training step",
        description="Memory of one training step (steady state, optimizer state allocated) and of inference: "
        "weights, gradients, optimizer state, activations kept for the backward pass, peaks (liveness of "
        "tensors, CUDA allocator blocks of 512 bytes). PyTorch modules are observed on the meta device.",
    )
    add_target_arguments(p)
    p.add_argument("--optimizer", default="adam", type=str.lower,
                   choices=[*OPTIMIZERS, "sgd-momentum"], help="optimizer (default adam)")
    p.add_argument("--dtype", default="float32", help="parameter dtype (default float32)")
    p.add_argument("--autocast", default=None, help="mixed precision: bfloat16 or float16")
    p.add_argument("--checkpointing", action="store_true",
                   help="activation checkpointing: each transformer layer / block of a stage, "
                   "checkpoint_sequential segments of a plain layer sequence")
    p.add_argument("--checkpoint-segments", type=int, default=None, metavar="N",
                   help="segments of checkpoint_sequential for a plain layer sequence (default sqrt(length))")
    p.add_argument("--layers", action="store_true", help="also print the per-layer activation breakdown")
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    p.set_defaults(func=run)


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


def run(args: argparse.Namespace) -> int:
    from netsize.cli._target import target_from_args
    from netsize.memory import estimate

    target = target_from_args(args)
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
    if args.format == "json":
        d = report.to_dict()
        if not args.layers:
            d.pop("layers")
        print(json.dumps(d, indent=2))
        return 0
    print(f"{report.model}  batch {report.batch_size}  dtype {report.dtype}"
          f"{'  autocast ' + report.autocast if report.autocast else ''}  optimizer {report.optimizer}"
          f"{'  checkpointing' if report.checkpointing else ''}  ({report.method})")
    rows = [
        ("weights", report.weights_bytes),
        ("gradients", report.gradient_bytes),
        ("optimizer state", report.optimizer_bytes),
        ("activations (saved for backward)", report.activation_bytes),
        ("input batch", report.input_bytes),
    ]
    if report.autocast:
        rows.append(("autocast weight copies", report.autocast_weight_copies_bytes))
    rows += [
        ("peak, training step", report.peak_training_bytes),
        ("peak, inference", report.peak_inference_bytes),
        ("CUDA workspaces, estimated", report.cuda_workspace_bytes),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v:>16,} B  {_mib(v):>14}")
    print(f"  cuBLAS {_mib(report.cublas_workspace_bytes)} per process, not in the peaks (PyTorch's "
          "CUBLAS_WORKSPACE_CONFIG default: 32 MiB per handle on Hopper, forward and backward threads); "
          f"cuDNN {_mib(report.cudnn_workspace_bytes)}, the largest convolution workspace, in the peaks "
          "(estimated: 2 x the input of a 3x3 stride-1 convolution)")
    if args.layers:
        print()
        name_w = max((len(m.name) for m in report.layers), default=5)
        print(f"{'layer':<{name_w}}  {'kind':<20} {'saved for backward':>20}")
        for m in report.layers:
            if m.saved_bytes:
                print(f"{m.name:<{name_w}}  {m.kind:<20} {_mib(m.saved_bytes):>20}")
    return 0
