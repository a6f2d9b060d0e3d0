"""Text and Markdown of a :class:`netsize.plan.Plan`. Formatting only: the plan computed everything."""

from __future__ import annotations

from typing import TYPE_CHECKING

from netsize._i18n import translate
from netsize.render._format import csv_text, size

if TYPE_CHECKING:
    from netsize.plan import Plan, Scenario


def signed_size(n_bytes: int) -> str:
    return ("-" if n_bytes < 0 else "") + size(abs(n_bytes))


def _fits_cells(sc: Scenario) -> list[tuple[str, str, str, str]]:
    rows = []
    for f in sc.fits:
        verdict = "fits" if f.fits else "does not fit"
        extra = f"max batch {f.max_batch:,}" if f.max_batch is not None else ""
        rows.append((f.gpu, size(f.memory_bytes), f"{verdict}, headroom {signed_size(f.headroom_bytes)}", extra))
    return rows


def plan_text(plan: Plan, lang: str = "en", explain: bool = False) -> str:
    """The plan as plain text: per scenario the parts per GPU, the total, and the fits table."""
    out = [f"{plan.model} · {plan.params:,} params"]
    for sc in plan.scenarios:
        out += ["", sc.description]
        if sc.error:
            out.append(f"  error: {sc.error}")
            continue
        rows = [(translate(t.name, lang), size(t.value)) for t in sc.parts]
        rows.append((translate("total_per_gpu", lang), size(sc.total_bytes)))
        if sc.cpu_bytes:
            rows.append((translate("cpu_offload", lang), size(sc.cpu_bytes)))
        if sc.trainable_params:
            rows.insert(0, (translate("trainable_params", lang), f"{sc.trainable_params:,}"))
        width = max(len(k) for k, _ in rows)
        out += [f"  {k:<{width}}  {v:>12}" for k, v in rows]
        fit_rows = _fits_cells(sc)
        if fit_rows:
            w0 = max(len(r[0]) for r in fit_rows)
            w1 = max(len(r[1]) for r in fit_rows)
            w2 = max(len(r[2]) for r in fit_rows)
            out.append("  on:")
            out += [f"    {a:<{w0}}  {b:>{w1}}  {c:<{w2}}  {d}".rstrip() for a, b, c, d in fit_rows]
        out += [f"  note: {n}" for n in sc.notes]
        if explain:
            out += ["  " + t.render(lang) for t in (*sc.extra, *sc.parts)]
            out += ["  " + line for line in sc.explanation]
    if plan.roofline is not None:
        out += ["", *time_lines(plan)]
        if explain:
            out += ["  " + line for line in plan.roofline.explain()]
    return "\n".join(out)


def _seconds(s: float) -> str:
    return f"{s:.3f} s" if s >= 1 else f"{s * 1e3:.3f} ms" if s >= 1e-3 else f"{s * 1e6:.1f} us"


def time_lines(plan: Plan) -> list[str]:
    """The roofline's times, one line each (the plan computed them)."""
    r = plan.roofline
    if r is None:
        return []
    out = [f"time on {r.gpu} (roofline at {r.efficiency:g} of datasheet peaks, {r.dtype}; unmeasured)"]
    if r.training is not None:
        mfu = f", MFU {r.training_mfu:.1%}" if r.training_mfu is not None else ""
        unit = "tokens" if r.generative else "samples"
        out.append(f"  training step      {_seconds(r.training.seconds):>12}  {r.training_tokens_per_step:,} {unit}"
                   f"{mfu}, {r.training.compute_bound_share:.0%} compute-bound")
    if not r.generative:
        out.append(f"  forward pass       {_seconds(r.prefill.seconds):>12}  batch {r.decode_batch}, "
                   f"{r.prefill.compute_bound_share:.0%} compute-bound")
        return out
    out.append(f"  prefill            {_seconds(r.prefill.seconds):>12}  batch {r.decode_batch} x {r.context:,} "
               f"tokens, {r.prefill.compute_bound_share:.0%} compute-bound")
    out.append(f"  decode step        {_seconds(r.decode.seconds):>12}  batch {r.decode_batch} at context "
               f"{r.context:,}, {r.decode.compute_bound_share:.0%} compute-bound")
    out.append(f"  decode tokens/s    {r.decode_tokens_per_second:>12,.1f}")
    return out


def plan_markdown(plan: Plan, lang: str = "en") -> str:
    """The plan as Markdown tables."""
    out = [f"**{plan.model}** · {plan.params:,} params"]
    for sc in plan.scenarios:
        if sc.error:
            out += ["", f"### {sc.name}", "", f"error: {sc.error}"]
            continue
        out += ["", f"### {sc.name}", "", sc.description, "", "| part | bytes per GPU |", "|---|---:|"]
        out += [f"| {translate(t.name, lang)} | {size(t.value)} |" for t in sc.parts]
        out.append(f"| **{translate('total_per_gpu', lang)}** | **{size(sc.total_bytes)}** |")
        if sc.fits:
            out += ["", "| GPU | memory | fits | headroom | max batch |", "|---|---:|---|---:|---:|"]
            out += [
                f"| {f.gpu} | {size(f.memory_bytes)} | {'yes' if f.fits else 'no'} | {signed_size(f.headroom_bytes)} "
                f"| {'' if f.max_batch is None else f'{f.max_batch:,}'} |"
                for f in sc.fits
            ]
        out += [f"- {n}" for n in sc.notes]
    if plan.roofline is not None:
        out += ["", "```", *time_lines(plan), "```"]
    return "\n".join(out)


def plan_csv(plan: Plan) -> str:
    """One row per scenario and part: bytes per GPU."""
    rows: list[tuple[object, ...]] = []
    for sc in plan.scenarios:
        if sc.error:
            rows.append((sc.name, "error", sc.error))
            continue
        rows += [(sc.name, t.name, t.value) for t in sc.parts]
        rows.append((sc.name, "total_per_gpu", sc.total_bytes))
    return csv_text(["scenario", "part", "bytes"], rows)
