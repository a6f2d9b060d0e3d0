"""Training-loop arithmetic: iterations per epoch, optimizer updates, samples seen, compute, time.

One iteration (step) takes one batch and makes one optimizer update; an epoch passes every
training sample once; the last batch of an epoch is partial unless it is dropped.

>>> s = schedule(50000, 256, epochs=10)
>>> s.iterations_per_epoch, s.last_batch_size, s.total_updates, s.samples_seen
(196, 80, 1960, 500000)
>>> schedule(50000, 256, epochs=10, drop_last=True).iterations_per_epoch
195
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from netsize._display import ShowsItself
from netsize._errors import NetsizeError

__all__ = ["Schedule", "format_duration", "schedule"]


@dataclass(frozen=True, repr=False)
class Schedule(ShowsItself):
    samples: int
    batch_size: int
    epochs: int
    drop_last: bool
    iterations_per_epoch: int
    last_batch_size: int  # size of the epoch's last batch (== batch_size when it divides)
    total_updates: int
    samples_per_epoch: int  # samples actually used per epoch (fewer with drop_last)
    samples_seen: int
    forward_flops_per_sample: int | None = None
    training_flops: int | None = None
    compute_rule: str | None = None
    seconds: float | None = None
    time_rule: str | None = None
    lines: tuple[str, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        keys = (
            "samples", "batch_size", "epochs", "drop_last", "iterations_per_epoch", "last_batch_size",
            "total_updates", "samples_per_epoch", "samples_seen", "forward_flops_per_sample", "training_flops",
            "compute_rule", "seconds", "time_rule",
        )  # fmt: skip
        return {k: getattr(self, k) for k in keys}

    def explain(self) -> str:
        return "\n".join(self.lines)


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise NetsizeError(f"{name} must be a positive integer (got {value!r})")
    return value


def schedule(
    samples: int,
    batch_size: int,
    epochs: int = 1,
    drop_last: bool = False,
    *,
    forward_flops_per_sample: int | None = None,
    params: int | None = None,
    tokens_per_sample: int | None = None,
    throughput: float | None = None,
    gpu_flops: float | None = None,
    utilisation: float | None = None,
) -> Schedule:
    """Iterations, updates and samples of ``epochs`` passes over ``samples`` in batches of ``batch_size``.

    Compute (optional): ``3 * forward_flops_per_sample * samples_seen`` (the backward pass costs
    about twice the forward), or for a Transformer ``6 * params * tokens`` with
    ``tokens = samples_seen * tokens_per_sample``. Time: ``samples_seen / throughput`` (samples
    per second), or ``training_flops / (gpu_flops * utilisation)``.
    """
    samples = _positive("samples", samples)
    batch_size = _positive("batch size", batch_size)
    epochs = _positive("epochs", epochs)
    full, rest = divmod(samples, batch_size)
    if drop_last:
        if full == 0:
            raise NetsizeError(
                f"batch size {batch_size} is larger than the {samples} samples: with drop_last no batch is left"
            )
        iters, last, per_epoch = full, batch_size, full * batch_size
    else:
        iters, last, per_epoch = full + (1 if rest else 0), rest or batch_size, samples
    updates = iters * epochs
    seen = per_epoch * epochs
    lines = [
        f"iterations per epoch = {'floor' if drop_last else 'ceil'}(samples / batch_size) = "
        f"{'floor' if drop_last else 'ceil'}({samples} / {batch_size}) = {iters}"
        + (f" (the last batch has {rest} samples)" if rest and not drop_last else "")
        + (f" ({rest} samples dropped per epoch)" if rest and drop_last else ""),
        f"optimizer updates = iterations per epoch * epochs = {iters} * {epochs} = {updates:,}",
        f"samples seen = samples per epoch * epochs = {per_epoch} * {epochs} = {seen:,}",
    ]
    flops = None
    rule = None
    if forward_flops_per_sample is not None:
        flops = 3 * forward_flops_per_sample * seen
        rule = "3 * forward_flops_per_sample * samples_seen"
        lines.append(f"training compute = {rule} = 3 * {forward_flops_per_sample:,} * {seen:,} = {flops:.4g} FLOPs")
    elif params is not None and tokens_per_sample is not None:
        tokens = seen * tokens_per_sample
        flops = 6 * params * tokens
        rule = "6 * params * tokens"
        lines.append(f"training compute = {rule} = 6 * {params:,} * {tokens:,} = {flops:.4g} FLOPs")
    seconds = None
    time_rule = None
    if throughput is not None:
        if throughput <= 0:
            raise NetsizeError(f"throughput must be positive samples per second (got {throughput})")
        seconds = seen / throughput
        time_rule = "samples_seen / throughput"
        lines.append(f"time = {time_rule} = {seen:,} / {throughput:g} = {format_duration(seconds)}")
    elif gpu_flops is not None:
        if flops is None:
            raise NetsizeError("a time from --gpu-flops needs the model's compute: give --model")
        util = 1.0 if utilisation is None else utilisation
        if not 0 < util <= 1 or gpu_flops <= 0:
            raise NetsizeError(f"need gpu_flops > 0 and 0 < utilisation <= 1 (got {gpu_flops:g}, {util:g})")
        seconds = flops / (gpu_flops * util)
        time_rule = "training_flops / (gpu_flops * utilisation)"
        lines.append(f"time = {time_rule} = {flops:.4g} / ({gpu_flops:.4g} * {util:g}) = {format_duration(seconds)}")
    return Schedule(
        samples=samples,
        batch_size=batch_size,
        epochs=epochs,
        drop_last=drop_last,
        iterations_per_epoch=iters,
        last_batch_size=last,
        total_updates=updates,
        samples_per_epoch=per_epoch,
        samples_seen=seen,
        forward_flops_per_sample=forward_flops_per_sample,
        training_flops=flops,
        compute_rule=rule,
        seconds=seconds,
        time_rule=time_rule,
        lines=tuple(lines),
    )


def format_duration(seconds: float) -> str:
    """``3725.0 -> '1h 2m 5s'``; below a minute, seconds with two decimals.

    >>> format_duration(3725.0), format_duration(2.5)
    ('1h 2m 5s', '2.50 s')
    """
    if seconds < 60:
        return f"{seconds:.2f} s"
    total = round(seconds)
    d, rem = divmod(total, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    parts = [f"{d}d"] if d else []
    parts += [f"{h}h"] if h or d else []
    parts += [f"{m}m", f"{s}s"]
    return " ".join(parts)
