"""``netsize llm CONFIG --seq-len 4096 --batch-size 1``: the figures people ask of an LLM."""

from __future__ import annotations

import argparse
import json


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
    p.add_argument("-s", "--seq-len", type=int, metavar="N",
                   help="sequence length (default: min(max_position_embeddings, 1024); T5: 512)")
    p.add_argument("-b", "--batch-size", type=int, default=1, metavar="N", help="sequences per batch (default 1)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    p.add_argument("--explain", action="store_true", help="also print every figure's formula")
    p.set_defaults(func=run)


def _bytes(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n:,} B ({n / size:.2f} {unit})"
    return f"{n:,} B"


def run(args: argparse.Namespace) -> int:
    from netsize.llm import llm_figures

    f = llm_figures(args.config, seq_len=args.seq_len, batch_size=args.batch_size)
    if args.format == "json":
        print(json.dumps(f.to_dict(), indent=2))
        return 0
    rows: list[tuple[str, str]] = [
        ("model", f.model),
        ("sequence length x batch", f"{f.seq_len:,} x {f.batch_size:,}"),
        ("params", f"{f.params:,}"),
    ]
    if f.active_params != f.params:
        rows.append(("active params per token", f"{f.active_params:,}"))
    rows += [
        ("multiply-adds per sequence", f"{f.macs_per_sequence:,}"),
        ("multiply-adds per token", f"{f.macs_per_token:,}"),
        ("forward FLOPs per token", f"{f.forward_flops_per_token:,}"),
        ("training FLOPs per token", f"{f.training_flops_per_token:,} (3 x forward)"),
        ("  6N rule", f"{f.training_flops_6n:,} (6 x {f.active_params:,})"),
        ("KV-cache elements per token", f"{f.kv_cache_elements_per_token:,}"),
    ]
    for d, n in f.kv_cache_bytes_per_token.items():
        rows.append((f"KV cache per token, {d}", _bytes(n)))
    for d, n in f.kv_cache_bytes_context.items():
        rows.append((f"KV cache, whole context, {d}", _bytes(n)))
    for d, n in f.weights_bytes.items():
        rows.append((f"weights, {d}", _bytes(n)))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    if args.explain:
        print()
        print(f.explain())
    return 0
