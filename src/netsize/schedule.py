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
from netsize._i18n import register_messages
from netsize._term import Message, message

__all__ = ["Schedule", "format_duration", "schedule"]

register_messages(
    {
        "schedule.iterations": {
            "en": "iterations per epoch = {rule}(samples / batch_size) = {rule}({samples} / {batch_size}) "
            "= {iterations}",
            "zh": "每轮迭代次数 = {rule_zh}（样本数 / 批大小）= {rule_zh}（{samples} / {batch_size}）= {iterations}",
        },
        "schedule.last_batch": {"en": " (the last batch has {rest} samples)", "zh": "（最后一批有 {rest} 个样本）"},
        "schedule.dropped": {"en": " ({rest} samples dropped per epoch)", "zh": "（每轮丢弃 {rest} 个样本）"},
        "schedule.updates": {
            "en": "optimizer updates = iterations per epoch * epochs = {iterations} * {epochs} = {updates}",
            "zh": "优化器更新次数 = 每轮迭代次数 * 轮数 = {iterations} * {epochs} = {updates}",
        },
        "schedule.seen": {
            "en": "samples seen = samples per epoch * epochs = {per_epoch} * {epochs} = {seen}",
            "zh": "处理的样本总数 = 每轮样本数 * 轮数 = {per_epoch} * {epochs} = {seen}",
        },
        "schedule.compute_forward": {
            "en": "training compute = 3 * forward_flops_per_sample * samples_seen = 3 * {forward} * {seen} "
            "= {flops} FLOPs",
            "zh": "训练计算量 = 3 * 每个样本的前向浮点运算次数 * 处理的样本总数 = 3 * {forward} * {seen} "
            "= {flops}（浮点运算次数）",
        },
        "schedule.compute_6n": {
            "en": "training compute = 6 * params * tokens = 6 * {params} * {tokens} = {flops} FLOPs",
            "zh": "训练计算量 = 6 * 参数量 * 词元数 = 6 * {params} * {tokens} = {flops}（浮点运算次数）",
        },
        "schedule.time_throughput": {
            "en": "time = samples_seen / throughput = {seen} / {throughput} = {time}",
            "zh": "时间 = 处理的样本总数 / 吞吐量 = {seen} / {throughput} = {time_zh}",
        },
        "schedule.time_flops": {
            "en": "time = training_flops / (gpu_flops * utilisation) = {flops} / ({gpu_flops} * {utilisation}) "
            "= {time}",
            "zh": "时间 = 训练计算量 /（GPU 每秒峰值浮点运算次数 * 利用率）= {flops} / ({gpu_flops} * {utilisation}) "
            "= {time_zh}",
        },
    }
)


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
    lines: tuple[Message, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        keys = (
            "samples", "batch_size", "epochs", "drop_last", "iterations_per_epoch", "last_batch_size",
            "total_updates", "samples_per_epoch", "samples_seen", "forward_flops_per_sample", "training_flops",
            "compute_rule", "time_seconds", "time_rule",
        )  # fmt: skip
        return {k: getattr(self, "seconds" if k == "time_seconds" else k) for k in keys}

    def explain(self, lang: str = "en") -> str:
        """Every figure with its rule and values, in ``lang`` (``en`` or ``zh``)."""
        out: list[str] = []
        for line in self.lines:
            text = line.render(lang)
            if line.key in ("schedule.last_batch", "schedule.dropped"):  # a remark on the line above
                out[-1] += text
            else:
                out.append(text)
        return "\n".join(out)


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
    drop = "floor" if drop_last else "ceil"
    lines = [message("schedule.iterations", rule=drop, rule_zh="向下取整" if drop_last else "向上取整", samples=samples,
                     batch_size=batch_size, iterations=iters)]
    if rest:
        lines.append(message("schedule.dropped" if drop_last else "schedule.last_batch", rest=rest))
    lines += [
        message("schedule.updates", iterations=iters, epochs=epochs, updates=f"{updates:,}"),
        message("schedule.seen", per_epoch=per_epoch, epochs=epochs, seen=f"{seen:,}"),
    ]
    flops = None
    rule = None
    if forward_flops_per_sample is not None:
        flops = 3 * forward_flops_per_sample * seen
        rule = "3 * forward_flops_per_sample * samples_seen"
        lines.append(message("schedule.compute_forward", forward=f"{forward_flops_per_sample:,}", seen=f"{seen:,}",
                             flops=f"{flops:.4g}"))
    elif params is not None and tokens_per_sample is not None:
        tokens = seen * tokens_per_sample
        flops = 6 * params * tokens
        rule = "6 * params * tokens"
        lines.append(message("schedule.compute_6n", params=f"{params:,}", tokens=f"{tokens:,}", flops=f"{flops:.4g}"))
    seconds = None
    time_rule = None
    if throughput is not None:
        if throughput <= 0:
            raise NetsizeError(f"throughput must be positive samples per second (got {throughput})")
        seconds = seen / throughput
        time_rule = "samples_seen / throughput"
        lines.append(message("schedule.time_throughput", seen=f"{seen:,}", throughput=f"{throughput:g}",
                             time=format_duration(seconds), time_zh=format_duration(seconds, "zh")))
    elif gpu_flops is not None:
        if flops is None:
            raise NetsizeError("a time from --gpu-flops needs the model's compute: give --model")
        util = 1.0 if utilisation is None else utilisation
        if not 0 < util <= 1 or gpu_flops <= 0:
            raise NetsizeError(f"need gpu_flops > 0 and 0 < utilisation <= 1 (got {gpu_flops:g}, {util:g})")
        seconds = flops / (gpu_flops * util)
        time_rule = "training_flops / (gpu_flops * utilisation)"
        lines.append(message("schedule.time_flops", flops=f"{flops:.4g}", gpu_flops=f"{gpu_flops:.4g}",
                             utilisation=f"{util:g}", time=format_duration(seconds),
                             time_zh=format_duration(seconds, "zh")))
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


def format_duration(seconds: float, lang: str = "en") -> str:
    """``3725.0 -> '1h 2m 5s'``; below a minute, seconds with two decimals; ``lang="zh"``:
    ``1 小时 2 分 5 秒``.

    >>> format_duration(3725.0), format_duration(2.5), format_duration(3725.0, "zh")
    ('1h 2m 5s', '2.50 s', '1 小时 2 分 5 秒')
    """
    zh = lang == "zh"
    if seconds < 60:
        return f"{seconds:.2f} 秒" if zh else f"{seconds:.2f} s"
    total = round(seconds)
    d, rem = divmod(total, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    units = ("天", "小时", "分", "秒") if zh else ("d", "h", "m", "s")
    values = [(d, units[0])] if d else []
    values += [(h, units[1])] if h or d else []
    values += [(m, units[2]), (s, units[3])]
    return " ".join(f"{v} {u}" if zh else f"{v}{u}" for v, u in values)
