"""``netsize llm CONFIG --seq-len 4096 --batch-size 1``: the figures people ask of an LLM."""

from __future__ import annotations

import argparse

from netsize.cli._options import add_explain, add_format, add_lang, add_width
from netsize.cli._values import positive_int


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "llm",
        help="LLM figures: multiply-adds per token, training FLOPs (exact and 6N), KV cache, weights per dtype",
        description="For a Hugging Face config.json (or a folder holding one): forward multiply-adds per token "
        "and per sequence, training FLOPs per token (3 x forward, next to the 6N rule), KV-cache bytes per "
        "token and for the whole context (grouped-query aware) and weight bytes, per dtype.",
    )
    p.add_argument("config", metavar="CONFIG",
                   help="HF config.json, a folder holding one, or a model id in the local Hugging Face cache")
    p.add_argument("-s", "--seq-len", type=positive_int, metavar="N",
                   help="sequence length (default: min(max_position_embeddings, 1024); T5: 512)")
    p.add_argument("-b", "--batch-size", type=positive_int, default=1, metavar="N",
                   help="sequences per batch (default 1)")
    add_format(p)
    add_lang(p)
    add_explain(p)
    add_width(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from netsize.cli._options import with_schema
    from netsize.frontends.hf_config import find_config
    from netsize.llm import llm_figures
    from netsize.render import emit, llm_rows, llm_title

    try:
        find_config(args.config)  # only to turn a name the file system refuses into one clear line
    except OSError as err:  # a name too long for the file system
        from netsize._errors import NetsizeError

        raise NetsizeError(f"CONFIG {args.config[:60]!r}: {err.strerror}") from None
    f = llm_figures(args.config, seq_len=args.seq_len, batch_size=args.batch_size)
    emit(args.format, llm_title(f, args.lang), llm_rows(f, args.lang), with_schema(f.to_dict()),
         explain=f.explain(args.lang) if args.explain else "", lang=args.lang, width=args.width)
    return 0
