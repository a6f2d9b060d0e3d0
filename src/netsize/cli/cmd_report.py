"""``netsize report TARGET -o report.html``: one self-contained HTML file, offline in any browser."""

from __future__ import annotations

import argparse

from netsize._errors import NetsizeError


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "report",
        help="an HTML report: totals, the layer tree, charts, a training step's memory, every formula on click",
        description="Writes one self-contained HTML file (charts and scripts inlined, no network needed): the "
        "totals, the per-layer table as a collapsible, sortable, searchable tree, bar charts per layer, the "
        "memory of one training step and its curve, and each layer's formulas on click, in English and Chinese.",
    )
    from netsize.cli._target import add_target_arguments  # after add_parser: see cli.build_parser

    add_target_arguments(p)
    p.add_argument("-o", "--output", default=None, metavar="FILE", help="the HTML file (default MODEL.html)")
    p.add_argument("--optimizer", default="adam", help="optimizer of the training-step memory (adam)")
    p.add_argument("--no-memory", action="store_true", help="leave out the training-step memory")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="language the report opens in")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from netsize._target import summarize
    from netsize.cli._target import target_from_args
    from netsize.render import page
    from netsize.report import report_data

    target = target_from_args(args)
    summary = summarize(target, batch_size=args.batch_size)
    memory = None
    if not args.no_memory:
        from netsize.memory import estimate

        memory = estimate(target, batch_size=args.batch_size, optimizer=args.optimizer, seq_len=args.seq_len)
    out = Path(args.output or f"{summary.model}.html")
    if out.suffix.lower() not in (".html", ".htm"):
        raise NetsizeError(f"-o {out}: the report is an .html file")
    out.write_text(page(report_data(summary, memory), mode="report", lang=args.lang), encoding="utf-8")
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")
    return 0
