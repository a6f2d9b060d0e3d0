"""``netsize check TARGET --expect params=60M --expect conv5.output=27x27x256``: verify published claims."""

from __future__ import annotations

import argparse

from netsize._errors import NetsizeError
from netsize.cli._options import add_format, add_lang

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (`netsize --help` is timed)
if TYPE_CHECKING:
    from typing import Any


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "check",
        help="check published claims (params=60M, conv5.output=27x27x256) and show where false ones went wrong",
        description="Each claim is QUANTITY=VALUE or LAYER.QUANTITY=VALUE; quantities: params, trainable-params, "
        "weights, biases, buffers, multiply-adds, flops, other-ops, activations, activation-bytes, model-size, "
        "output, input. Values as people write them: 62,378,344, 60M, 1.1G, 93MB, 58MiB, 13x13x256 (channels "
        "first or last, with or without the batch). Exit status 1 when a claim fails.",
    )
    p.add_argument("target", metavar="TARGET", nargs="?", help="zoo name, spec, HF config.json (or in --claims)")
    p.add_argument("-e", "--expect", action="append", default=[], metavar="CLAIM", help="a claim (repeatable)")
    p.add_argument("--claims", metavar="FILE", help="a YAML claims file (target, tolerance, claims; see examples/)")
    p.add_argument("--tolerance", metavar="T", help="1%% (relative) or a number; default: the claim's own rounding")
    p.add_argument("-i", "--input-size", metavar="SHAPE", action="append", help="input shape (per sample)")
    p.add_argument("--seq-len", type=int, metavar="N", help="sequence length (Hugging Face configs)")
    p.add_argument("--dtype", default="float32", help="dtype for byte claims (default float32)")
    add_format(p)
    add_lang(p, "the explanations")
    p.set_defaults(func=run)


def load_claims_file(path: str) -> dict[str, Any]:
    """A claims file: ``target``, optional ``input_size``, ``tolerance``, ``source``, and ``claims``,
    a list of ``{QUANTITY: VALUE}`` or ``{claim: "Q=V", tolerance: ..., source: ...}``."""
    from pathlib import Path

    import yaml

    from netsize._limits import MAX_SPEC_BYTES, read_bounded_text

    try:
        data = yaml.safe_load(read_bounded_text(Path(path), MAX_SPEC_BYTES, "claims file"))
    except yaml.YAMLError as err:
        raise NetsizeError(f"{path}: not valid YAML: {str(err).splitlines()[0]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
        raise NetsizeError(f"{path}: a claims file is a mapping with a list 'claims' (see examples/claims/)")
    return data


def _claims(data: dict[str, Any], path: str) -> list[tuple[str, str | None, str]]:
    out = []
    for i, item in enumerate(data["claims"]):
        if isinstance(item, dict) and "claim" in item:
            out.append((str(item["claim"]), item.get("tolerance"), str(item.get("source", ""))))
        elif isinstance(item, dict) and len(item) == 1:
            ((key, value),) = item.items()
            out.append((f"{key}={value}", None, ""))
        else:
            raise NetsizeError(f"{path}: claims[{i}]: write QUANTITY: VALUE or claim: 'QUANTITY=VALUE'")
    return out


def run(args: argparse.Namespace) -> int:
    from netsize._target import load_target, parse_input_sizes, summarize
    from netsize.check import check, parse_claim
    from netsize.render import check_markdown, check_text

    data: dict[str, Any] = {}
    items: list[tuple[str, str | None, str]] = []
    if args.claims:
        data = load_claims_file(args.claims)
        items = _claims(data, args.claims)
    items += [(c, None, "") for c in args.expect]
    target_name = args.target or data.get("target")
    if not target_name:
        raise NetsizeError("name a TARGET, or a claims file with a 'target'")
    if not items:
        raise NetsizeError("no claims: give --expect QUANTITY=VALUE or --claims FILE")
    tolerance = args.tolerance if args.tolerance is not None else data.get("tolerance")
    input_size = parse_input_sizes(args.input_size) if args.input_size else None
    if input_size is None and data.get("input_size") is not None:
        input_size = parse_input_sizes([str(data["input_size"])])
    target = load_target(str(target_name), input_size=input_size, seq_len=args.seq_len)
    summary = summarize(target)
    claims = [parse_claim(text, tol if tol is not None else tolerance, source) for text, tol, source in items]
    results = check(summary, claims, dtype=args.dtype, lang=args.lang)  # type: ignore[arg-type]
    if args.format == "json":
        from netsize.cli._options import print_json, with_schema

        print_json(with_schema({"model": str(target_name), "source": data.get("source", ""),
                                "claims": [r.to_dict() for r in results]}))  # fmt: skip
    elif args.format == "csv":
        from netsize.render import check_csv

        print(check_csv(results), end="")
    elif args.format == "markdown":
        print(check_markdown(results))
    else:
        header = f"{target_name}" + (f" · {data['source']}" if data.get("source") else "")
        print(check_text(results, header))
    return 0 if all(r.holds for r in results) else 1
