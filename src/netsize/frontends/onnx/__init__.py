"""ONNX models -> netsize, read with the ``onnx`` package only (``pip install 'netsize[onnx]'``).

Each node of the graph becomes the core layer that counts it (Conv -> Conv2d, Gemm -> Linear,
LSTM -> LSTM...), named by its module path and its own name (``/layer1/layer1.0/conv1/Conv`` ->
``layer1.0.conv1.Conv``), so ``--depth`` groups by the modules the exporter recorded. Weights are
never loaded: parameter counts come from the initializers' declared shapes. The batch is axis
0 of the data inputs (those with a symbolic axis 0, else those whose axis 0 equals the first
input's); other inputs (``axes``, ``scales``, a scalar) are side inputs of fixed shape. Every
output shape netsize computes is checked against
``onnx.shape_inference``; a disagreement is an error.

>>> import onnx
>>> from onnx import helper, TensorProto
>>> w = helper.make_tensor("fc.weight", TensorProto.FLOAT, [3, 4], [0.0] * 12)
>>> g = helper.make_graph([helper.make_node("Gemm", ["x", "fc.weight"], ["y"], name="/fc/Gemm", transB=1)],
...     "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], [w])
>>> s = summary(helper.make_model(g))
>>> s.totals.params, s.totals.multiply_adds, s.layers[0].name
(12, 24, 'fc.Gemm')
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from netsize._analyze import analyze
from netsize._errors import NetsizeError
from netsize._shape import shape_str
from netsize._summary import Summary
from netsize.frontends.onnx._graph import OnnxGraph, input_symbols, load_model, translate

__all__ = ["OnnxGraph", "check_shapes", "input_symbols", "load_model", "network_from_onnx", "summary"]


def _model(source: Any) -> tuple[Any, str]:
    if isinstance(source, (str, Path)):
        return load_model(source), Path(source).stem
    return source, getattr(source.graph, "name", "") or "onnx"


def network_from_onnx(source: Any, input_sizes: dict[str, tuple[int, ...]] | None = None) -> OnnxGraph:
    """Translate an ONNX file (or ``onnx.ModelProto``) into a network of core layers.

    ``input_sizes`` gives full shapes (batch axis first) for inputs with symbolic dimensions.
    """
    model, name = _model(source)
    base_dir = Path(source).parent if isinstance(source, (str, Path)) else None
    return translate(model, input_sizes, name, base_dir)


def summary(
    source: Any, input_sizes: dict[str, tuple[int, ...]] | None = None, convention: str = "torch"
) -> Summary:
    """Analyse an ONNX model; the notes say what was counted as parameters and which ops have no rule."""
    graph = network_from_onnx(source, input_sizes)
    result = analyze(graph.network, batch_size=graph.batch_size, convention=convention)
    check_shapes(result, graph)
    return replace(result, notes=(*result.notes, *graph.notes))


def check_shapes(result: Summary, graph: OnnxGraph) -> None:
    """Fail when a shape netsize computed differs from the one onnx.shape_inference states."""
    outputs = {r.name: r.output_shapes for r in result.layers}
    for ref, expected in graph.onnx_shapes.items():
        base, _, port = ref.partition(":")
        shapes = outputs.get(base)
        if shapes is None:
            continue
        got = shapes[int(port or 0)]
        if tuple(got) != tuple(expected):
            raise NetsizeError(
                f"{base}: netsize computes output shape {shape_str(got)} but onnx.shape_inference states "
                f"{shape_str(tuple(expected))}; this is a netsize bug or an invalid model, please report it"
            )


