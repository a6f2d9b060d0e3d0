"""The TARGET argument and the options that choose its input, and their reading into a
:class:`netsize._target.Target` (the resolver, one stratum below the command line)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from netsize._errors import NetsizeError
from netsize._target import load_target, parse_input_sizes
from netsize.cli._values import positive_int as _positive

if TYPE_CHECKING:
    from netsize._target import Target

__all__ = ["add_target_arguments", "target_from_args"]


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """TARGET and the options that choose the network's input; shared by summary, explain and others."""
    parser.add_argument("target", metavar="TARGET",
                        help="zoo name (see `netsize zoo`), spec file (.yaml), HF config.json, or pkg.module:callable")
    parser.add_argument("-i", "--input-size", metavar="SHAPE", action="append",
                        help="input shape replacing the model's: per sample for zoo, spec and config targets "
                        "(3,224,224 or 3x224x224; NAME=SHAPE for several inputs, repeatable); for a PyTorch "
                        "callable the full shape with its batch axis, as torchinfo takes it (1,3,224,224)")
    parser.add_argument("-b", "--batch-size", type=_positive, default=None, metavar="N",
                        help="batch size (default 1, or the first axis of a PyTorch callable's --input-size)")
    parser.add_argument("--seq-len", type=_positive, metavar="N", help="sequence length (Hugging Face configs)")
    parser.add_argument("--var", metavar="NAME=VALUE", action="append", default=[],
                        help="set a model variable, e.g. --var num_classes=10 (repeatable)")
    parser.add_argument("--convention", choices=("torch", "keras"),
                        help="counting convention (default: the model's own, else torch)")
    parser.add_argument("--fc-to-conv", action="store_true",
                        help="replace fully connected layers by equivalent convolutions")


def target_from_args(args: argparse.Namespace) -> Target:
    """Resolve TARGET; also settles ``args.batch_size`` (a PyTorch callable's shape carries its batch)."""
    from netsize._target import is_callable_ref, parse_variables

    input_size = parse_input_sizes(args.input_size)
    if is_callable_ref(args.target) and isinstance(input_size, tuple):
        if len(input_size) < 2:
            raise NetsizeError(
                f"{args.target}: --input-size for a PyTorch callable is the full shape with the batch axis "
                f"first, e.g. 1,3,224,224 (got {','.join(map(str, input_size))})"
            )
        args.batch_size = args.batch_size or input_size[0]
        input_size = input_size[1:]
    args.batch_size = args.batch_size or 1
    return load_target(
        args.target,
        input_size=input_size,
        batch_size=args.batch_size,
        seq_len=args.seq_len,
        variables=parse_variables(args.var),
        fc_to_conv=args.fc_to_conv,
    )
