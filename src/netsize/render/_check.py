"""Text and Markdown of checked claims. Formatting only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from netsize.render._format import csv_text

if TYPE_CHECKING:
    from netsize.check import ClaimResult


def check_text(results: list[ClaimResult], header: str = "") -> str:
    width = max((len(r.claim.text) for r in results), default=5)
    out = [header] if header else []
    for r in results:
        mark = "holds" if r.holds else "FAILS"
        err = f" ({r.error:+.1%})" if r.error is not None and not r.holds else ""
        out.append(f"{mark}  {r.claim.text:<{width}}  actual {r.actual}{err}".rstrip())
        out += [f"         {line}" for line in r.explanation]
    failed = sum(not r.holds for r in results)
    out.append(f"{len(results) - failed} of {len(results)} claims hold" + (f", {failed} fail" if failed else ""))
    return "\n".join(out)


def check_markdown(results: list[ClaimResult]) -> str:
    out = ["| claim | actual | holds |", "|---|---:|---|"]
    for r in results:
        out.append(f"| `{r.claim.text}` | {r.actual} | {'yes' if r.holds else '**no**'} |")
    for r in results:
        if r.explanation:
            out += ["", f"`{r.claim.text}`:", "", "```text", *r.explanation, "```"]
    return "\n".join(out)


def check_csv(results: list[ClaimResult]) -> str:
    rows = [(r.claim.text, r.claim.written, r.actual_value if r.actual_value is not None else r.actual, r.holds)
            for r in results]  # fmt: skip
    return csv_text(["claim", "claimed", "actual", "holds"], rows)
