"""An ONNX graph -> a netsize Network: each node becomes the core layer that counts it.

What is read: the graph, its inputs' declared shapes and its initializers' declared shapes
(never external weight files). Values computed from constants only (shape arithmetic, position
tables) are folded with ``onnx.reference`` when small; everything that depends on a graph input
or on a parameter becomes a node.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from math import prod
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference

from netsize._analyze import analyze_layer
from netsize._errors import NetsizeError
from netsize._layer import Layer
from netsize._network import Graph, Network
from netsize.layers import layer_type
from netsize.layers import tensor_ops as ops
from netsize.layers.merge import Add, Concat, Maximum, Minimum, Multiply, Split, Sub
from netsize.layers.shape_ops import Identity

Shape = tuple[int, ...]

_FLOAT_TYPES = {
    onnx.TensorProto.FLOAT,
    onnx.TensorProto.DOUBLE,
    onnx.TensorProto.FLOAT16,
    onnx.TensorProto.BFLOAT16,
}
# Ops that only move or retype data: a parameter reaching a node through them is still that
# parameter (a transposed weight, an expanded class token, LSTM gates reordered by Slice/Concat).
_STRUCTURAL = {
    "Identity", "Cast", "CastLike", "Reshape", "Unsqueeze", "Squeeze", "Transpose", "Expand",
    "Slice", "Concat", "Split", "Gather", "Tile", "Flatten",
}
# Input slots that hold statistics or tables, not parameters (torch: buffers; Keras: non-trainable).
_BUFFER_SLOTS = {
    ("BatchNormalization", 3), ("BatchNormalization", 4), ("RotaryEmbedding", 1), ("RotaryEmbedding", 2),
    ("Attention", 3),
}
_FOLD_LIMIT = 1 << 20  # elements: larger constants keep only their shape
_UNARY: dict[str, tuple[str, dict[str, Any]]] = {
    "Relu": ("relu", {}), "Sigmoid": ("sigmoid", {}), "Tanh": ("tanh", {}), "Elu": ("elu", {}),
    "Selu": ("selu", {}), "Celu": ("celu", {}), "Softplus": ("softplus", {}), "Mish": ("mish", {}),
    "HardSwish": ("hardswish", {}), "HardSigmoid": ("hardsigmoid", {}),
}
_ELEMENTWISE = {
    "Div", "Pow", "Mod", "Where", "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or",
    "Xor", "Not", "Sqrt", "Exp", "Log", "Erf", "Neg", "Reciprocal", "Abs", "Floor", "Ceil", "Round", "Sin",
    "Cos", "Tan", "Sign", "IsNaN", "IsInf", "Clip", "Softsign", "ThresholdedRelu", "BitShift", "Sum", "Mean",
    "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Shrink", "Trilu",
}
_REDUCE = {
    "ReduceMean": "mean", "ReduceSum": "sum", "ReduceMax": "max", "ReduceMin": "min", "ReduceProd": "prod",
    "ReduceL1": "l1", "ReduceL2": "l2", "ReduceLogSumExp": "logsumexp", "ReduceSumSquare": "sumsquare",
    "ReduceLogSum": "logsum", "ArgMax": "argmax", "ArgMin": "argmin",
}


@dataclass
class _Value:
    shape: Shape | None
    kind: str  # "dynamic" (from a graph input), "param" (a learned tensor, latent), "const"
    ref: str | None = None  # the netsize node (or "node:k") that produces it
    sources: frozenset[str] = frozenset()  # initializers behind a "param" value
    array: Any = None  # folded content of a small "const"


@dataclass
class OnnxGraph:
    """The translated network, the batch size (axis 0 of the inputs) and what to tell the user."""

    network: Network
    batch_size: int
    notes: list[str]
    onnx_shapes: dict[str, Shape]  # ONNX's inferred shape of each netsize node output ref
    value_refs: dict[str, str] = field(default_factory=dict)


def load_model(path: str | Path) -> onnx.ModelProto:
    """The graph and initializer shapes, never the external weight files."""
    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as err:  # protobuf raises its own DecodeError
        raise NetsizeError(f"{path}: not a readable ONNX model ({type(err).__name__}: {err})") from None


def _dims(t: onnx.TypeProto) -> list[int | str] | None:
    if not t.HasField("tensor_type") or not t.tensor_type.HasField("shape"):
        return None
    out: list[int | str] = []
    for d in t.tensor_type.shape.dim:
        if d.HasField("dim_value"):
            out.append(int(d.dim_value))
        else:
            out.append(d.dim_param or "?")
    return out


def _safe(name: str) -> str:
    """A netsize node name: ``:`` marks an output number there, ``.`` a block."""
    return name.replace(":", "_")


def _zeros(shape: Shape) -> Any:
    return np.zeros(shape, dtype=np.float32)


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _s(v: Any) -> Any:
    return v.decode() if isinstance(v, bytes) else v


def _module_path(node: onnx.NodeProto) -> list[str]:
    """The module path an exporter wrote: ``/layer1/layer1.0/conv1/Conv`` (TorchScript) or the
    ``pkg.torch.onnx.name_scopes`` metadata (dynamo), as dotted parts ``layer1.0.conv1``."""
    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":
            import ast

            try:
                scopes = [str(s) for s in ast.literal_eval(prop.value)]
            except (ValueError, SyntaxError):
                break
            return _dotted(scopes[1:-1])
    return _dotted([p for p in node.name.split("/") if p][:-1])


def _dotted(parts: list[str]) -> list[str]:
    """The module path as dotted parts. The dynamo exporter writes each scope as the full path
    (``layer1``, ``layer1.0``, ``layer1.0.conv1``), the TorchScript one as the parent's name and
    the child's (``layer1``, ``layer1.0``, ``conv1``; ``mlp``, ``mlp.0``): both give
    ``["layer1", "0", "conv1"]``.

    >>> _dotted(["encoder", "layers", "encoder_layer_0", "mlp", "mlp.0"])
    ['encoder', 'layers', 'encoder_layer_0', 'mlp', '0']
    >>> _dotted(["features", "features.1", "conv", "conv.0", "conv.0.0"])
    ['features', '1', 'conv', '0', '0']
    """
    path: list[str] = []
    previous = ""
    for comp in parts:
        if path and comp.startswith(".".join(path) + "."):
            path = comp.split(".")
        elif previous and comp.startswith(previous + "."):
            path.extend(p for p in comp[len(previous) + 1 :].split(".") if p)
        else:
            path.extend(p for p in comp.split(".") if p)
        previous = comp
    return path


def _leaf(node: onnx.NodeProto, index: int) -> str:
    name = node.name.split("/")[-1] if node.name else f"{node.op_type}_{index}"
    return name.replace(".", "_") or f"{node.op_type}_{index}"


def input_symbols(model: onnx.ModelProto) -> dict[str, list[int | str]]:
    """Each graph input (initializers excluded) and its declared dims (names for symbolic ones)."""
    inits = {i.name for i in model.graph.initializer}
    return {i.name: _dims(i.type) or [] for i in model.graph.input if i.name not in inits}


def translate(
    model: onnx.ModelProto, input_sizes: dict[str, Shape] | None = None, name: str = "onnx"
) -> OnnxGraph:
    """Translate ``model``; ``input_sizes`` gives the full shape (batch axis first) of inputs
    whose declared shape has symbolic dimensions."""
    return _Translator(model, dict(input_sizes or {}), name).run()


class _Translator:
    def __init__(self, model: onnx.ModelProto, input_sizes: dict[str, Shape], name: str) -> None:
        self.model = model
        self.graph = model.graph
        self.name = name
        self.inputs = self._input_shapes(input_sizes)
        self.skipped_check = ""
        self.inferred = self._infer()
        self.values: dict[str, _Value] = {}
        self.inits = {i.name: i for i in self.graph.initializer}
        self.sizes = {name: prod(i.dims) for name, i in self.inits.items()}  # elements per source
        self.counted_by: dict[str, str] = {}  # initializer -> the node whose layer counts it
        self.names: set[str] = set(self.inputs)
        self.uncounted: Counter[str] = Counter()
        self.emitted: dict[str, str] = {}  # value name -> node that makes it available
        self.onnx_shapes: dict[str, Shape] = {}
        self.ref_shapes: dict[str, Shape] = dict(self.inputs)
        self.sequences: dict[str, list[str]] = {}

    # --- inputs and ONNX's own shapes --------------------------------------------------------

    def _input_shapes(self, given: dict[str, Shape]) -> dict[str, Shape]:
        declared = input_symbols(self.model)
        unknown = [k for k in given if k not in declared]
        if unknown:
            raise NetsizeError(
                f"no graph input named {', '.join(unknown)}; its inputs are {', '.join(declared) or '(none)'}"
            )
        shapes: dict[str, Shape] = {}
        missing: list[str] = []
        for inp, dims in declared.items():
            if inp in given:
                shape = tuple(given[inp])
                fixed = [(d, size) for d, size in zip(dims, shape, strict=False) if isinstance(d, int)]
                if len(shape) != len(dims) or any(d != size for d, size in fixed):
                    raise NetsizeError(
                        f"--input-size {inp}={','.join(map(str, shape))} does not fit its declared shape "
                        f"[{', '.join(map(str, dims))}]"
                    )
                shapes[inp] = shape
            elif all(isinstance(d, int) for d in dims):
                shapes[inp] = tuple(int(d) for d in dims)
            else:
                sym = [str(d) for d in dims if not isinstance(d, int)]
                missing.append(f"{inp} [{', '.join(map(str, dims))}] (symbolic: {', '.join(sym)})")
        if missing:
            example = next(iter(k for k in declared if k not in shapes))
            raise NetsizeError(
                "these inputs have symbolic dimensions; give each its full shape with "
                f"--input-size NAME=SHAPE (e.g. --input-size {example}=1,...): " + "; ".join(missing)
            )
        if not shapes:
            raise NetsizeError("the graph has no inputs")
        firsts = {s[0] if s else None for s in shapes.values()}
        if len(firsts) != 1 or None in firsts:
            raise NetsizeError(
                "netsize reads axis 0 of every input as the batch axis, but the inputs are "
                + ", ".join(f"{k} {list(v)}" for k, v in shapes.items())
            )
        return shapes

    def _infer(self) -> dict[str, Shape]:
        # A copy without the large initializers: shape inference needs their shapes, not their
        # values (only small integer tensors hold shapes), and copying weights costs seconds.
        src = self.model.graph
        graph = onnx.GraphProto(name=src.name)
        graph.node.extend(src.node)
        graph.input.extend(src.input)
        graph.output.extend(src.output)
        graph.value_info.extend(src.value_info)
        declared = {i.name for i in src.input}
        for init in src.initializer:
            if prod(init.dims) <= 4096 and init.data_location != onnx.TensorProto.EXTERNAL:
                graph.initializer.append(init)
            elif init.name not in declared:
                graph.input.append(onnx.helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
        model = onnx.helper.make_model(graph, opset_imports=list(self.model.opset_import),
                                       ir_version=self.model.ir_version)
        model.functions.extend(self.model.functions)
        inits = {i.name for i in src.initializer}
        for inp in model.graph.input:
            if inp.name in inits or inp.name not in self.inputs:
                continue
            dims = inp.type.tensor_type.shape.dim
            for d, size in zip(dims, self.inputs[inp.name], strict=True):
                d.Clear()
                d.dim_value = size
        try:
            inferred = shape_inference.infer_shapes(model, data_prop=True)
        except Exception as err:
            # (a graph over protobuf's 2 GB limit, an op onnx does not know): netsize's own shapes
            # stand alone, and the notes say they were not cross-checked.
            self.skipped_check = f"onnx.shape_inference failed ({type(err).__name__}: {str(err)[:200]})"
            return {}
        out: dict[str, Shape] = {}
        for vi in (*inferred.graph.value_info, *inferred.graph.output):
            dims = _dims(vi.type)
            if dims is not None and all(isinstance(d, int) for d in dims):
                out[vi.name] = tuple(dims)  # type: ignore[arg-type]
        return out

    # --- which initializers are parameters ---------------------------------------------------

    def _dynamic_values(self) -> set[str]:
        dynamic = set(self.inputs)
        for node in self.graph.node:
            if node.op_type in ("Shape", "Size"):
                continue  # its value is known from the shapes
            read = node.input[:1] if node.op_type == "CastLike" else node.input  # input 1: only its type
            if any(i in dynamic for i in read if i):
                dynamic.update(o for o in node.output if o)
        return dynamic

    def _params(self, dynamic: set[str]) -> set[str]:
        consumers: dict[str, list[tuple[onnx.NodeProto, int]]] = {}
        for node in self.graph.node:
            for k, i in enumerate(node.input):
                if i:
                    consumers.setdefault(i, []).append((node, k))
        params: set[str] = set()
        # a one-element tensor is a constant (eps, a scale), except a PReLU slope: learned even alone
        producer = {o: n for n in self.graph.node for o in n.output if o}
        slopes: set[str] = set()
        for n in self.graph.node:
            v = n.input[1] if n.op_type == "PRelu" and len(n.input) > 1 else ""
            while v in producer and producer[v].op_type in _STRUCTURAL:  # reshaped to broadcast
                v = producer[v].input[0]
            slopes.add(v)
        for init in self.graph.initializer:
            if init.data_type not in _FLOAT_TYPES or (prod(init.dims) <= 1 and init.name not in slopes):
                continue
            todo, seen = [init.name], set()
            while todo and init.name not in params:
                v = todo.pop()
                seen.add(v)
                for node, k in consumers.get(v, []):
                    if (node.op_type, k) in _BUFFER_SLOTS:
                        continue
                    if any(i in dynamic for i in node.input if i):
                        params.add(init.name)
                        break
                    data_slot = k == 0 or node.op_type == "Concat"
                    if node.op_type in _STRUCTURAL and data_slot:
                        todo.extend(o for o in node.output if o and o not in seen)
        return params

    # --- the walk ----------------------------------------------------------------------------

    def run(self) -> OnnxGraph:
        dynamic = self._dynamic_values()
        params = self._params(dynamic)
        safe = {k: _safe(k) for k in self.inputs}
        self.g = Graph(self.name, inputs={safe[k]: v[1:] for k, v in self.inputs.items()})
        self.names = set(safe.values())
        self.ref_shapes = {safe[k]: v for k, v in self.inputs.items()}
        for k, shape in self.inputs.items():
            self.values[k] = _Value(shape, "dynamic", ref=safe[k])
        for name, init in self.inits.items():
            shape = tuple(int(d) for d in init.dims)
            if name in params:
                self.values[name] = _Value(shape, "param", sources=frozenset([name]))
            else:
                self.values[name] = _Value(shape, "const", array=self._array(init))
        for index, node in enumerate(self.graph.node):
            ins = [self.values.get(i) if i else None for i in node.input]
            for i, v in zip(node.input, ins, strict=True):
                if i and v is None:
                    raise NetsizeError(f"node {node.name or node.op_type} reads {i!r}, which nothing before it makes")
            live = [v for v in ins if v is not None]
            if node.op_type in ("Shape", "Size") or all(v.kind == "const" for v in live):
                self._fold(node, ins)
            elif all(v.kind != "dynamic" for v in live) and node.op_type in _STRUCTURAL:
                self._latent(node, ins)
            else:
                self._translate(node, index, ins)
        outs: list[str] = []
        for o in self.graph.output:
            ref = self._data(o.name, "graph-output")
            outs.append(ref)
        self.g.outputs(*outs)
        net = self.g.build()
        batch = next(iter(self.inputs.values()))[0]
        notes = self._notes(params)
        return OnnxGraph(net, batch, notes, self.onnx_shapes, dict(self.emitted))

    def _latent(self, node: onnx.NodeProto, ins: list[_Value | None]) -> None:
        """A parameter moved by a structural op before any input meets it: still that parameter."""
        srcs = frozenset().union(*(v.sources for v in ins if v is not None))
        if node.op_type == "Identity" and node.input[0] in self.inits:
            # The TorchScript exporter stores equal-valued parameters once and gives each
            # further one an Identity of the first: each Identity is a parameter of its own.
            srcs = frozenset([node.output[0]])
            self.sizes[node.output[0]] = prod(self.inits[node.input[0]].dims)
        shapes: list[Shape | None] = [self.inferred.get(o) for o in node.output]
        if any(s is None for o, s in zip(node.output, shapes, strict=True) if o):
            known = [v is None or v.shape is not None for v in ins]
            if all(known) and sum(prod(v.shape or ()) for v in ins if v is not None) <= _FOLD_LIMIT:
                zeros = [
                    None if v is None else (v.array if v.array is not None else _zeros(v.shape or ()))
                    for v in ins
                ]
                arrays = self._evaluate(node, [None if z is None else _Value(z.shape, "const", array=z) for z in zeros])
                if arrays is not None:
                    shapes = [tuple(int(d) for d in a.shape) for a in arrays]
        for o, shape in zip(node.output, shapes, strict=True):
            if o:
                self.values[o] = _Value(shape, "param", sources=srcs)

    def _attention_patterns(self) -> int:
        producer = {o: n for n in self.graph.node for o in n.output if o}
        consumers: dict[str, list[onnx.NodeProto]] = {}
        for n in self.graph.node:
            for i in n.input:
                consumers.setdefault(i, []).append(n)
        passing = {"Div", "Mul", "Add", "Where", "Cast", "Dropout", "Identity", "Sub"}
        found = 0
        for n in self.graph.node:
            if n.op_type != "Softmax":
                continue
            back, hops = producer.get(n.input[0]), 0
            while back is not None and back.op_type in passing and hops < 4:
                back, hops = producer.get(back.input[0]), hops + 1
            forward, hops = consumers.get(n.output[0], []), 0
            while forward and forward[0].op_type in passing and hops < 3:
                forward, hops = consumers.get(forward[0].output[0], []), hops + 1
            if back is not None and back.op_type == "MatMul" and forward and forward[0].op_type == "MatMul":
                found += 1
        return found

    def _notes(self, params: set[str]) -> list[str]:
        counted = set(self.counted_by)
        n_param = sum(self.sizes[p] for p in counted)
        rest = [i for i in self.inits if i not in counted and i not in params]
        n_rest = sum(self.sizes[c] for c in rest)
        notes = [
            f"params: {len(counted)} stored tensors that feed weight inputs ({n_param:,} elements, initializers "
            f"and the exporter's Identity copies of equal-valued ones); not params: {len(rest)} other "
            f"initializers ({n_rest:,} elements: normalisation statistics, shapes, indices, scalars, tables)"
        ]
        if self.skipped_check:
            notes.append(f"shapes not cross-checked: {self.skipped_check}")
        patterns = self._attention_patterns()
        if patterns:
            notes.append(
                f"attention: {patterns} MatMul-Softmax-MatMul subgraphs, each counted as its two products "
                "(q@k^T and scores@v), as FlopCounterMode counts eager attention"
            )
        if self.uncounted:
            listed = ", ".join(f"{op} x{n}" for op, n in sorted(self.uncounted.items()))
            notes.append(f"not counted (no netsize rule; shapes from onnx.shape_inference): {listed}")
        return notes

    def _array(self, init: onnx.TensorProto) -> Any:
        if prod(init.dims) > _FOLD_LIMIT or init.data_location == onnx.TensorProto.EXTERNAL:
            return None
        try:
            return numpy_helper.to_array(init)
        except Exception:
            return None

    def _fold(self, node: onnx.NodeProto, ins: list[_Value | None]) -> None:
        if node.op_type == "Shape":
            shape = ins[0].shape if ins[0] else None
            if shape is None:
                raise NetsizeError(f"{node.name}: the shape of {node.input[0]!r} is not known")
            a = _attrs(node)
            start, end = a.get("start", 0), a.get("end", None)
            arr = np.array(shape[slice(start, end)], dtype=np.int64)
            self.values[node.output[0]] = _Value(arr.shape, "const", array=arr)
            return
        if node.op_type == "Size":
            shape = ins[0].shape if ins[0] else None
            arr = np.array(prod(shape or ()), dtype=np.int64)
            self.values[node.output[0]] = _Value((), "const", array=arr)
            return
        arrays = None
        if all(v is None or v.array is not None for v in ins):
            arrays = self._evaluate(node, ins)
        for k, o in enumerate(node.output):
            if not o:
                continue
            folded: Any = arrays[k] if arrays is not None and k < len(arrays) else None
            shape = tuple(int(d) for d in folded.shape) if folded is not None else self.inferred.get(o)
            self.values[o] = _Value(shape, "const", array=folded)

    def _evaluate(self, node: onnx.NodeProto, ins: list[_Value | None]) -> list[Any] | None:
        from onnx.reference import ReferenceEvaluator

        if node.op_type == "Constant":
            a = _attrs(node)
            if "value" in a:
                return [numpy_helper.to_array(a["value"])]
            for key in ("value_float", "value_int"):
                if key in a:
                    return [np.array(a[key])]
            for key in ("value_floats", "value_ints"):
                if key in a:
                    return [np.array(a[key])]
        try:
            feeds = {i: v.array for i, v in zip(node.input, ins, strict=True) if i and v is not None}
            g = onnx.helper.make_graph(
                [node], "fold",
                [onnx.helper.make_tensor_value_info(i, onnx.TensorProto.UNDEFINED, None) for i in feeds],
                [onnx.helper.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None) for o in node.output if o],
            )
            m = onnx.helper.make_model(g, opset_imports=list(self.model.opset_import))
            result = ReferenceEvaluator(m).run(None, feeds)
            if any(getattr(r, "size", 0) > _FOLD_LIMIT for r in result):
                return None
            return [np.asarray(r) for r in result]
        except Exception:
            return None

    # --- nodes -------------------------------------------------------------------------------

    def _node_name(self, node: onnx.NodeProto, index: int, suffix: str = "") -> str:
        parts = [*_module_path(node), _leaf(node, index) + suffix]
        base = _safe(".".join(p for p in parts if p))
        name, k = base, 1
        while name in self.names:
            k += 1
            name = f"{base}_{k}"
        self.names.add(name)
        return name

    def _fresh(self, base: str) -> str:
        base = _safe(base.strip("/").replace("/", ".")) or "value"
        name, k = base, 1
        while name in self.names:
            k += 1
            name = f"{base}_{k}"
        self.names.add(name)
        return name

    def _data(self, value: str, consumer: str) -> str:
        """A node ref for ``value``: emits a Parameter or Constant node for stored tensors."""
        v = self.values[value]
        if v.ref is not None:
            return v.ref
        if v.shape is None:
            raise NetsizeError(f"{consumer}: the shape of {value!r} is not known")
        if v.kind == "param":
            name = self._fresh(value)
        else:  # a stored constant sits in the block of its first consumer
            block = consumer.rsplit(".", 1)[0] + "." if "." in consumer else ""
            name = self._fresh(block + value.strip("/").split("/")[-1].replace(".", "_"))
        if v.kind == "param":
            counted = [s for s in v.sources if s in self.counted_by]
            count = sum(self.sizes[s] for s in v.sources)
            tied = self.counted_by[counted[0]] if counted and len(counted) == len(v.sources) else None
            self._append(name, ops.Parameter(v.shape, count=count), [], tied)
            for s in v.sources:
                self.counted_by.setdefault(s, name)
        else:
            self._append(name, ops.Constant(v.shape), [])
        v.ref = name
        self.emitted[value] = name
        self.onnx_shapes[name] = v.shape
        return name

    def _ints(self, node: onnx.NodeProto, k: int) -> list[int] | None:
        if k >= len(node.input) or not node.input[k]:
            return None
        v = self.values[node.input[k]]
        if v.array is None:
            raise NetsizeError(
                f"{node.name or node.op_type} ({node.op_type}): input {k} ({node.input[k]!r}) is computed at run "
                "time; netsize needs its value to know the output shape"
            )
        return [int(x) for x in np.asarray(v.array).reshape(-1)]

    def _absorb(self, node: onnx.NodeProto, slots: list[int]) -> str | None:
        """Mark the parameters in ``slots`` as counted by this node's layer; the node it is tied
        to when another node counted them first."""
        sources: set[str] = set()
        for k in slots:
            if k < len(node.input) and node.input[k]:
                sources |= self.values[node.input[k]].sources
        already = {self.counted_by[s] for s in sources if s in self.counted_by}
        if len(already) == 1 and all(s in self.counted_by for s in sources):
            return next(iter(already))
        return None

    def _claim(self, name: str, node: onnx.NodeProto, slots: list[int]) -> None:
        for k in slots:
            if k < len(node.input) and node.input[k]:
                for s in self.values[node.input[k]].sources:
                    self.counted_by.setdefault(s, name)

    def _is_param(self, node: onnx.NodeProto, k: int) -> bool:
        return k < len(node.input) and bool(node.input[k]) and self.values[node.input[k]].kind == "param"

    def _shape(self, node: onnx.NodeProto, k: int) -> Shape:
        s = self.values[node.input[k]].shape
        if s is None:
            raise NetsizeError(f"{node.name}: the shape of {node.input[k]!r} is not known")
        return s

    def _add(
        self, node: onnx.NodeProto, index: int, layer: Layer, data: list[int], weights: list[int] = (),  # type: ignore[assignment]
        outputs: list[str] | None = None,
    ) -> str:
        name = self._node_name(node, index)
        tied = self._absorb(node, list(weights))
        refs = [self._data(node.input[k], name) for k in data if k < len(node.input) and node.input[k]]
        shapes = self._append(name, layer, refs, tied)
        self._claim(name, node, list(weights))
        for k, o in enumerate(node.output if outputs is None else outputs):
            if not o:
                continue
            ref = name if k == 0 else f"{name}:{k}"
            self.values[o] = _Value(shapes[k] if k < len(shapes) else None, "dynamic", ref=ref)
            self.emitted[o] = ref
            if o in self.inferred:
                self.onnx_shapes[ref] = self.inferred[o]
        return name

    def _append(self, name: str, layer: Layer, refs: list[str], tied: str | None = None) -> tuple[Shape, ...]:
        """Add the node and compute its output shapes with its own layer (netsize's inference)."""
        self.g.add(name, layer, refs, tied_to=tied)
        record = analyze_layer(name, layer, tuple(self.ref_shapes[r] for r in refs))
        for k, shape in enumerate(record.output_shapes):
            self.ref_shapes[name if k == 0 else f"{name}:{k}"] = shape
        return record.output_shapes

    def _translate(self, node: onnx.NodeProto, index: int, ins: list[_Value | None]) -> None:
        op, a = node.op_type, _attrs(node)
        handler = getattr(self, f"_op_{op}", None)
        if handler is not None:
            handler(node, index, a)
            return
        if op in _UNARY:
            key, kw = _UNARY[op]
            extra: dict[str, Any] = {}
            if op == "Elu" or op == "Celu":
                extra["alpha"] = float(a.get("alpha", 1.0))
            self._add(node, index, layer_type(key)(**kw, **extra), [0])
        elif op in _ELEMENTWISE:
            data = [k for k, i in enumerate(node.input) if i]
            if op == "Clip":
                data = [0]
            self._add(node, index, ops.Elementwise(op.lower()), data)
        elif op in _REDUCE:
            axes = a.get("axes")
            if axes is None and len(node.input) > 1 and node.input[1]:
                axes = self._ints(node, 1)
            if op in ("ArgMax", "ArgMin"):
                axes = [a.get("axis", 0)]
            if not axes and a.get("noop_with_empty_axes", 0):
                self._add(node, index, Identity(), [0])
                return
            layer = ops.Reduce(_REDUCE[op], tuple(axes) if axes else None, bool(a.get("keepdims", 1)))
            self._add(node, index, layer, [0])
        elif op in ("Identity", "Cast", "CastLike", "Dropout"):
            self._add(node, index, Identity(), [0], outputs=[node.output[0]])
        else:
            shapes = [self.inferred.get(o) for o in node.output if o]
            if any(s is None for s in shapes):
                raise NetsizeError(
                    f"{node.name or op} ({op}): netsize has no rule for this op and onnx.shape_inference gives "
                    "no shape for its output"
                )
            self.uncounted[op] += 1
            data = [k for k, i in enumerate(node.input) if i] or []
            self._add(node, index, ops.Uncounted(op, tuple(s for s in shapes if s is not None)), data)

    # --- ops with weights --------------------------------------------------------------------

    def _conv(self, node: onnx.NodeProto, index: int, a: dict[str, Any], transposed: bool) -> None:
        w = self._shape(node, 1)
        x = self._shape(node, 0)
        n = len(w) - 2
        groups = int(a.get("group", 1))
        pads = a.get("pads", [0] * 2 * n)
        auto = _s(a.get("auto_pad", "NOTSET"))
        padding: Any = tuple((int(pads[i]), int(pads[i + n])) for i in range(n))
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            padding = "same"
        elif auto == "VALID":
            padding = "valid"
        kernel = tuple(int(k) for k in a.get("kernel_shape", w[2:]))
        common = {
            "kernel_size": kernel,
            "stride": tuple(a.get("strides", [1] * n)),
            "padding": padding,
            "dilation": tuple(a.get("dilations", [1] * n)),
            "groups": groups,
            "bias": self._is_param(node, 2),
        }
        if transposed:
            if "output_shape" in a:
                raise NetsizeError(f"{node.name} (ConvTranspose): output_shape is not supported; give pads instead")
            layer = layer_type(f"convtranspose{n}d")(  # type: ignore[call-arg]
                in_channels=w[0], out_channels=w[1] * groups,
                output_padding=tuple(a.get("output_padding", [0] * n)), **common,
            )
        else:
            layer = layer_type(f"conv{n}d")(in_channels=x[1], out_channels=w[0], **common)  # type: ignore[call-arg]
        self._add(node, index, layer, [0], [1, 2])

    def _op_Conv(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        self._conv(node, index, a, transposed=False)

    def _op_ConvTranspose(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        self._conv(node, index, a, transposed=True)

    def _op_Gemm(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        b = self._shape(node, 1)
        if self._is_param(node, 1) and not a.get("transA", 0):
            n_out, n_in = (b[0], b[1]) if a.get("transB", 0) else (b[1], b[0])
            has_bias = self._is_param(node, 2) and prod(self._shape(node, 2)) == n_out
            from netsize.layers.linear import Linear

            name = self._add(node, index, Linear(n_in, n_out, bias=has_bias), [0], [1, 2] if has_bias else [1])
            if len(node.input) > 2 and node.input[2] and not has_bias:
                raise NetsizeError(f"{name} (Gemm): a bias C of shape {self._shape(node, 2)} is not supported")
            return
        # A general Gemm: transposes as views, the product, then C added (bias adds are other ops).
        name = self._node_name(node, index)
        refs = []
        for k, flag in ((0, "transA"), (1, "transB")):
            ref = self._data(node.input[k], name)
            if a.get(flag, 0):
                t = self._fresh(f"{name}.{'AB'[k]}_t")
                self._append(t, ops.Transpose((1, 0)), [ref])
                ref = t
            refs.append(ref)
        has_c = len(node.input) > 2 and bool(node.input[2])
        product = self._fresh(f"{name}.product") if has_c else name
        shapes = self._append(product, layer_type("matmul")(), refs)
        if has_c:
            c = self._data(node.input[2], name)
            shapes = self._append(name, Add(), [product, c])
        self.values[node.output[0]] = _Value(shapes[0], "dynamic", ref=name)
        self.emitted[node.output[0]] = name
        if node.output[0] in self.inferred:
            self.onnx_shapes[name] = self.inferred[node.output[0]]

    def _op_MatMul(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        b = self._shape(node, 1)
        if self._is_param(node, 1) and len(b) == 2 and not self._is_param(node, 0):
            from netsize.layers.linear import Linear

            self._add(node, index, Linear(b[0], b[1], bias=False), [0], [1])
        else:
            self._add(node, index, layer_type("matmul")(), [0, 1])

    def _op_Einsum(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        self._add(node, index, ops.Einsum(_s(a["equation"])), list(range(len(node.input))))

    def _op_BatchNormalization(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        x = self._shape(node, 0)
        affine = self._is_param(node, 1)
        layer = layer_type("batchnorm")(num_features=x[1], eps=float(a.get("epsilon", 1e-5)), affine=affine)  # type: ignore[call-arg]
        self._add(node, index, layer, [0], [1, 2], outputs=[node.output[0]])

    def _op_InstanceNormalization(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        x = self._shape(node, 0)
        n = len(x) - 2
        layer = layer_type(f"instancenorm{n}d")(num_features=x[1], affine=self._is_param(node, 1))  # type: ignore[call-arg]
        self._add(node, index, layer, [0], [1, 2])

    def _op_LayerNormalization(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        x = self._shape(node, 0)
        axis = int(a.get("axis", -1)) % len(x)
        layer = layer_type("layernorm")(  # type: ignore[call-arg]
            normalized_shape=tuple(x[axis:]), eps=float(a.get("epsilon", 1e-5)),
            elementwise_affine=self._is_param(node, 1), bias=self._is_param(node, 2),
        )
        self._add(node, index, layer, [0], [1, 2], outputs=[node.output[0]])

    def _op_GroupNormalization(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        x = self._shape(node, 0)
        layer = layer_type("groupnorm")(  # type: ignore[call-arg]
            num_groups=int(a["num_groups"]), num_channels=x[1], affine=self._is_param(node, 1)
        )
        self._add(node, index, layer, [0], [1, 2])

    def _op_Gather(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        axis = int(a.get("axis", 0))
        data = self._shape(node, 0)
        if self._is_param(node, 0) and len(data) == 2 and axis == 0:
            from netsize.layers.embedding import Embedding

            self._add(node, index, Embedding(data[0], data[1]), [1], [0])
        else:
            self._add(node, index, ops.Gather(axis), [0, 1])

    def _op_PRelu(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        self._add(node, index, ops.Elementwise("prelu"), [0, 1])

    def _recurrent(self, node: onnx.NodeProto, index: int, a: dict[str, Any], kind: str) -> None:
        x = self._shape(node, 0)
        w = self._shape(node, 1)
        hidden = int(a["hidden_size"])
        layout = int(a.get("layout", 0))
        direction = _s(a.get("direction", "forward"))
        if direction == "reverse":
            direction = "forward"  # same counts and shapes as forward
        fields: dict[str, Any] = {
            "input_size": w[2], "hidden_size": hidden, "batch_first": bool(layout),
            "bidirectional": direction == "bidirectional", "bias": self._is_param(node, 3) or len(node.input) > 3,
        }
        if kind == "gru":
            fields["reset_after"] = bool(a.get("linear_before_reset", 0))
        if kind == "rnn":
            acts = [(_s(s)).lower() for s in a.get("activations", ["Tanh"])]
            fields["nonlinearity"] = "relu" if acts[0] == "relu" else "tanh"
        layer = layer_type(kind)(**fields)
        outs = list(node.output) + [""] * 3
        # The core layer returns (N, T, D*H) or (T, N, D*H) as torch does; ONNX's Y is
        # (T, D, N, H) (layout 0) or (N, T, D, H): a reshape of the same elements follows.
        name = self._add(node, index, layer, [0], [1, 2, 3], outputs=["", *outs[1:3]])
        if outs[0]:
            d = 2 if fields["bidirectional"] else 1
            t, n = (x[1], x[0]) if layout else (x[0], x[1])
            target = (n, t, d, hidden) if layout else (t, d, n, hidden)
            y = self._fresh(name + ".Y")
            self._append(y, ops.TensorReshape(target), [name])
            self.values[outs[0]] = _Value(target, "dynamic", ref=y)
            self.emitted[outs[0]] = y
            if outs[0] in self.inferred:
                self.onnx_shapes[y] = self.inferred[outs[0]]

    def _op_LSTM(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        self._recurrent(node, index, a, "lstm")

    def _op_GRU(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        self._recurrent(node, index, a, "gru")

    def _op_RNN(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        self._recurrent(node, index, a, "rnn")

    # --- ops without weights -----------------------------------------------------------------

    def _binary(self, node: onnx.NodeProto, index: int, layer: Layer) -> None:
        self._add(node, index, layer, [k for k, i in enumerate(node.input) if i])

    def _op_Add(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        self._binary(node, index, Add())

    def _op_Sub(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        self._binary(node, index, Sub())

    def _op_Mul(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        self._binary(node, index, Multiply())

    def _op_Max(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        self._binary(node, index, Maximum())

    def _op_Min(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        self._binary(node, index, Minimum())

    def _op_Gelu(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        self._add(node, index, layer_type("gelu")(approximate=_s(a.get("approximate", "none"))), [0])  # type: ignore[call-arg]

    def _op_LeakyRelu(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        self._add(node, index, layer_type("leakyrelu")(negative_slope=float(a.get("alpha", 0.01))), [0])  # type: ignore[call-arg]

    def _op_Softmax(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        self._add(node, index, layer_type("softmax")(dim=int(a.get("axis", -1))), [0])  # type: ignore[call-arg]

    def _op_LogSoftmax(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        self._add(node, index, layer_type("logsoftmax")(dim=int(a.get("axis", -1))), [0])  # type: ignore[call-arg]

    def _pool(self, node: onnx.NodeProto, index: int, a: dict[str, Any], kind: str) -> None:
        kernel = tuple(int(k) for k in a["kernel_shape"])
        n = len(kernel)
        pads = a.get("pads", [0] * 2 * n)
        auto = _s(a.get("auto_pad", "NOTSET"))
        padding: Any = tuple((int(pads[i]), int(pads[i + n])) for i in range(n))
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            padding = "same"
        elif auto == "VALID":
            padding = "valid"
        fields: dict[str, Any] = {
            "kernel_size": kernel, "stride": tuple(a.get("strides", [1] * n)), "padding": padding,
            "ceil_mode": bool(a.get("ceil_mode", 0)),
        }
        if kind == "maxpool" and any(d != 1 for d in a.get("dilations", [])):
            fields["dilation"] = tuple(a["dilations"])
        if kind == "avgpool" and "count_include_pad" in a:
            fields["count_include_pad"] = bool(a["count_include_pad"])
        try:
            layer = layer_type(f"{kind}{n}d")(**fields)
        except TypeError:
            fields.pop("count_include_pad", None)
            layer = layer_type(f"{kind}{n}d")(**fields)
        self._add(node, index, layer, [0], outputs=[node.output[0]])

    def _op_MaxPool(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        self._pool(node, index, a, "maxpool")

    def _op_AveragePool(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        self._pool(node, index, a, "avgpool")

    def _op_GlobalAveragePool(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        n = len(self._shape(node, 0)) - 2
        self._add(node, index, layer_type(f"adaptiveavgpool{n}d")(output_size=1), [0])  # type: ignore[call-arg]

    def _op_GlobalMaxPool(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        n = len(self._shape(node, 0)) - 2
        self._add(node, index, layer_type(f"adaptivemaxpool{n}d")(output_size=1), [0], outputs=[node.output[0]])  # type: ignore[call-arg]

    def _op_Flatten(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        x = self._shape(node, 0)
        axis = int(a.get("axis", 1)) % (len(x) or 1) if a.get("axis", 1) < 0 else int(a.get("axis", 1))
        self._add(node, index, ops.TensorReshape((prod(x[:axis]), -1)), [0])

    def _op_Reshape(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        target = self._ints(node, 1) or []
        self._add(node, index, ops.TensorReshape(tuple(target), bool(a.get("allowzero", 0))), [0])

    def _op_Transpose(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        perm = a.get("perm")
        self._add(node, index, ops.Transpose(tuple(perm) if perm is not None else None), [0])

    def _op_Squeeze(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        axes = a.get("axes") or self._ints(node, 1)
        self._add(node, index, ops.Squeeze(tuple(axes) if axes else None), [0])

    def _op_Unsqueeze(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        axes = a.get("axes") or self._ints(node, 1) or [0]
        self._add(node, index, ops.Unsqueeze(tuple(axes)), [0])

    def _op_Slice(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        if "starts" in a:
            starts, ends, axes, steps = a["starts"], a["ends"], a.get("axes"), None
        else:
            starts, ends = self._ints(node, 1) or [], self._ints(node, 2) or []
            axes, steps = self._ints(node, 3), self._ints(node, 4)
        layer = ops.Slice(tuple(starts), tuple(ends), tuple(axes) if axes else None, tuple(steps) if steps else None)
        self._add(node, index, layer, [0])

    def _op_Expand(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        self._add(node, index, ops.Expand(tuple(self._ints(node, 1) or [])), [0])

    def _op_Tile(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        self._add(node, index, ops.Tile(tuple(self._ints(node, 1) or [])), [0])

    def _op_Concat(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        self._add(node, index, Concat(dim=int(a["axis"])), [k for k, i in enumerate(node.input) if i])

    def _op_Split(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        x = self._shape(node, 0)
        axis = int(a.get("axis", 0))
        sizes = a.get("split") or self._ints(node, 1)
        if not sizes:
            parts = len(node.output)
            size = x[axis]
            piece = -(-size // parts)
            sizes = [min(piece, size - j * piece) for j in range(parts)]
        self._add(node, index, Split(tuple(int(s) for s in sizes), dim=axis), [0])

    def _op_SplitToSequence(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        x = self._shape(node, 0)
        axis = int(a.get("axis", 0)) % len(x)
        given = self._ints(node, 1)
        if given is None or len(given) == 1:
            piece = given[0] if given else 1
            sizes = [min(piece, x[axis] - j * piece) for j in range(-(-x[axis] // piece))]
        else:
            sizes = given
        if given is None and not a.get("keepdims", 1):
            raise NetsizeError(f"{node.name} (SplitToSequence): keepdims=0 is not supported")
        name = self._add(node, index, Split(tuple(sizes), dim=axis), [0], outputs=[])
        self.sequences[node.output[0]] = [name if j == 0 else f"{name}:{j}" for j in range(len(sizes))]
        self.values[node.output[0]] = _Value(None, "dynamic")

    def _op_SequenceAt(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        refs = self.sequences.get(node.input[0])
        position = self._ints(node, 1)
        if refs is None or not position:
            raise NetsizeError(f"{node.name} (SequenceAt): needs a sequence from SplitToSequence and a constant index")
        ref = refs[position[0]]
        self.values[node.output[0]] = _Value(self.ref_shapes[ref], "dynamic", ref=ref)
        self.emitted[node.output[0]] = ref

    def _op_Pad(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        pads = a.get("pads") or self._ints(node, 1) or []
        axes = self._ints(node, 3)
        self._add(node, index, ops.Pad(tuple(pads), tuple(axes) if axes else None), [0])

    def _op_Resize(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        x = self._shape(node, 0)
        sizes = self._ints(node, 3) if len(node.input) > 3 else None
        if not sizes:
            v = self.values[node.input[2]] if len(node.input) > 2 and node.input[2] else None
            if v is None or v.array is None:
                raise NetsizeError(f"{node.name} (Resize): needs constant scales or sizes")
            scales = [float(s) for s in np.asarray(v.array).reshape(-1)]
            sizes = [int(np.floor(d * s)) for d, s in zip(x, scales, strict=True)]
        if a.get("axes"):
            full = list(x)
            for ax, s in zip(a["axes"], sizes, strict=True):
                full[ax] = s
            sizes = full
        self._add(node, index, ops.Resize(tuple(sizes), _s(a.get("mode", "nearest"))), [0])

    def _op_Upsample(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        self._op_Resize(node, index, a)

    def _op_Constant(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        self._fold(node, [])

    def _op_ConstantOfShape(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        shape = tuple(self._ints(node, 0) or [])
        self.values[node.output[0]] = _Value(shape, "const")

    def _op_Attention(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        # ONNX Attention (opset 23): 3-d (B, S, H*d) inputs go to the core attention as they are;
        # 4-d (B, H, S, d) ones are viewed as 3-d around it.
        q = self._shape(node, 0)
        if len([o for o in node.output if o]) > 1 or any(len(node.input) > k and node.input[k] for k in (4, 5)):
            raise NetsizeError(f"{node.name} (Attention): a KV cache (past/present key and value) is not supported")
        causal = bool(a.get("is_causal", 0))
        if len(q) == 3:
            heads, kv_heads = int(a["q_num_heads"]), int(a.get("kv_num_heads", a["q_num_heads"]))
            layer = layer_type("sdpa")(num_heads=heads, num_kv_heads=kv_heads, causal=causal)  # type: ignore[call-arg]
            self._add(node, index, layer, [0, 1, 2])
            return
        heads, kv_heads = q[1], self._shape(node, 1)[1]
        name = self._node_name(node, index)
        flat = []
        for k in range(3):
            ref = self._data(node.input[k], name)
            t = self._fresh(f"{name}.{'qkv'[k]}_heads_last")
            self._append(t, ops.Transpose((0, 2, 1, 3)), [ref])
            r = self._fresh(f"{name}.{'qkv'[k]}_merged")
            self._append(r, ops.TensorReshape((0, 0, -1)), [t])
            flat.append(r)
        att = self._fresh(f"{name}.attention")
        core = layer_type("sdpa")(num_heads=heads, num_kv_heads=kv_heads, causal=causal)  # type: ignore[call-arg]
        self._append(att, core, flat)
        v_head = self._shape(node, 2)[3]
        split = self._fresh(f"{name}.split_heads")
        self._append(split, ops.TensorReshape((0, 0, heads, v_head)), [att])
        shapes = self._append(name, ops.Transpose((0, 2, 1, 3)), [split])
        self.values[node.output[0]] = _Value(shapes[0], "dynamic", ref=name)
        self.emitted[node.output[0]] = name
        if node.output[0] in self.inferred:
            self.onnx_shapes[name] = self.inferred[node.output[0]]

    def _op_RotaryEmbedding(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        # x*cos + rotate(x)*sin: two multiplies and one add per element of x.
        self._add(node, index, ops.Elementwise("rotary_embedding", ops=3), [0])
