"""What the HTML report and the web calculator show, as plain JSON-able data.

``report_data(summary, memory)`` gathers the totals, every layer's numbers and its explanation in
English and Chinese, the training step's memory breakdown and its curve. The HTML itself is
:mod:`netsize.render._html`; this module computes, that one formats.

>>> import netsize
>>> d = report_data(netsize.analyze(netsize.zoo.get("lenet5").build()))
>>> d["totals"]["params"], len(d["layers"]) > 0
(61706, True)
"""

from __future__ import annotations

from typing import Any

from netsize._summary import Summary, explain_record

LANGS = ("en", "zh")


def report_data(summary: Summary, memory: Any = None, langs: tuple[str, ...] = LANGS) -> dict[str, Any]:
    """The data of a report: ``memory`` is an optional :class:`netsize.memory.MemoryReport`."""
    layers = []
    for r in summary.layers:
        layers.append({
            "name": r.name,
            "kind": r.kind,
            "output_shape": list(r.output_shape),
            "params": r.params,
            "trainable_params": r.trainable_params,
            "buffers": r.buffers,
            "multiply_adds": r.multiply_adds,
            "flops": r.flops,
            "other_ops": r.other_ops,
            "activation_elements": r.activation_elements,
            "explain": {lang: explain_record(r, lang) for lang in langs},
        })  # fmt: skip
    data: dict[str, Any] = {
        "model": summary.model,
        "input_shapes": {k: list(v) for k, v in summary.input_shapes.items()},
        "batch_size": summary.batch_size,
        "convention": summary.convention,
        "totals": summary.totals.to_dict(),
        "model_size": summary.model_size(),
        "layers": layers,
        "notes": [str(n) for n in summary.notes],
        "memory": None,
    }
    if memory is not None:
        from netsize.timeline import is_walk, peak, training_timeline

        points = training_timeline(summary, memory)
        top = peak(points)
        data["memory"] = {
            "setup": f"batch {memory.batch_size}, {memory.dtype}, {memory.optimizer}"
            + (f", autocast {memory.autocast}" if memory.autocast else ""),
            "breakdown": {
                "weights": memory.weights_bytes,
                "gradients": memory.gradient_bytes,
                "optimizer_state": memory.optimizer_bytes,
                "activations": memory.activation_bytes,
            },
            "peak_training_bytes": memory.peak_training_bytes,
            "peak_inference_bytes": memory.peak_inference_bytes,
            "timeline": [[p.phase, p.name, p.bytes] for p in points],
            "timeline_peak": {"phase": top.phase, "name": top.name, "bytes": top.bytes},
            # True: the curve is the memory model's walk and its peak is peak_training_bytes; False
            # (the PyTorch method): a per-layer account without the observed peak's transients
            "timeline_is_walk": is_walk(memory),
        }
    return data
