"""An ONNX graph -> a netsize Network: each node becomes the core layer that counts it.

What is read: the graph, its inputs' declared shapes and its initializers' declared shapes
(never external weight files). Values computed from constants only (shape arithmetic, position
tables) are folded with ``onnx.reference`` when small; everything that depends on a graph input
or on a parameter becomes a node.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from math import floor, prod
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netsize._analyze import analyze_layer
from netsize._errors import NetsizeError
from netsize._layer import Layer
from netsize._limits import MAX_GRAPH_NODES, MAX_RANK, check_int, refuse_special_file
from netsize._network import Graph, Network
from netsize.layers import layer_type
from netsize.layers import tensor_ops as ops
from netsize.layers.merge import Add, Concat, Maximum, Minimum, Multiply, Split, Sub
from netsize.layers.shape_ops import Identity

from . import _proto

if TYPE_CHECKING:
    import numpy as np
    import onnx
else:  # the schema alone, numpy on first use: see _proto (``import onnx`` costs a second)
    np = _proto.np
    onnx = _proto.pb

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
    "Slice", "Concat", "Split", "Gather", "GatherND", "GatherElements", "Tile", "Flatten",
}
# Input slots that hold statistics or tables, not parameters (torch: buffers; Keras: non-trainable).
_BUFFER_SLOTS = {
    ("BatchNormalization", 3), ("BatchNormalization", 4), ("RotaryEmbedding", 1), ("RotaryEmbedding", 2),
    ("Attention", 3),
}
# Input slots whose float tensors are settings, never parameters (an optimised export stores
# Resize's scales as a float initializer).
_SETTING_SLOTS = {("Resize", 1), ("Resize", 2), ("Upsample", 1)}
# Ops whose output can be much larger than their inputs, run to fold constants only when ONNX
# states a small output shape; control flow is never run.
_GROWING = {
    "ConstantOfShape", "Expand", "Tile", "Range", "Resize", "Upsample", "Pad", "EyeLike", "OneHot", "MatMul",
    "Gemm", "Einsum", "Conv", "ConvTranspose", "Add", "Sub", "Mul", "Div", "Pow", "Where", "Equal", "Less",
    "Greater", "And", "Or", "Max", "Min", "Sum", "Mean", "RandomNormal", "RandomUniform", "RandomNormalLike",
    "RandomUniformLike", "Multinomial", "Bernoulli", "CenterCropPad", "Col2Im", "DFT", "STFT", "MelWeightMatrix",
    "HannWindow", "HammingWindow", "BlackmanWindow", "GatherND", "Gather",
}
# Ops whose outputs hold at most as many elements as their inputs together: run to fold constants
# even when ONNX states no output shape. Any other op without a stated small shape is not run (a
# mutated LSTM, pooling or convolution could allocate without bound before its size is checked).
_NOT_GROWING = {
    "Identity", "Cast", "CastLike", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Slice", "Split",
    "Concat", "Neg", "Abs", "Relu", "Floor", "Ceil", "Round", "Sqrt", "Sign", "Not", "Clip", "Reciprocal", "Exp",
    "Log", "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ArgMax", "ArgMin", "NonZero",
    "Softmax", "Sigmoid", "Tanh", "Erf",
}
_BROADCASTING = {"Add", "Sub", "Mul", "Div", "Pow", "Where", "Equal", "Less", "Greater", "And", "Or", "Max", "Min",
                 "Sum", "Mean"}
_MALFORMED = (ValueError, TypeError, KeyError, IndexError, ZeroDivisionError, OverflowError, AttributeError)
_NEVER_RUN = {"If", "Loop", "Scan", "SequenceMap"}
_CONTROL_FLOW = {"If", "Loop", "Scan"}
_FOLD_LIMIT = 1 << 20  # elements: larger constants keep only their shape
_EXTERNAL_INT_LIMIT = 1 << 16  # elements of an integer tensor read from external data
_INT_TYPES = {onnx.TensorProto.INT64, onnx.TensorProto.INT32, onnx.TensorProto.INT16, onnx.TensorProto.INT8}
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
    """The translated network, the batch size (axis 0 of the data inputs) and what to tell the user."""

    network: Network
    batch_size: int
    notes: list[str]
    onnx_shapes: dict[str, Shape]  # ONNX's inferred shape of each netsize node output ref
    value_refs: dict[str, str] = field(default_factory=dict)


def load_model(path: str | Path) -> onnx.ModelProto:
    """The graph and initializer shapes, never the external weight files."""
    refuse_special_file(path, "ONNX model")
    if not Path(path).is_file():
        raise NetsizeError(f"{path}: not a regular file")
    try:
        model: onnx.ModelProto = _proto.load(path)
        return model
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
    return {a.name: _proto.attribute_value(a) for a in node.attribute}


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


def _batch(declared: dict[str, list[int | str]], shapes: dict[str, Shape]) -> tuple[int, list[str]]:
    """The batch size and the inputs that carry it: the inputs whose axis 0 is symbolic when
    any is (its size then comes from ``--input-size``), else those whose declared axis 0 equals
    the first non-scalar input's. Other inputs (``axes``, ``scales``, a weight fed as an input,
    a scalar ``k``) are side inputs: fixed-shape tensors that do not grow with the batch.

    >>> _batch({"x": ["N", 3], "axes": [1]}, {"x": (4, 3), "axes": (1,)})
    (4, ['x'])
    >>> _batch({"x": [2, 3], "W": [3, 5], "k": []}, {"x": (2, 3), "W": (3, 5), "k": ()})
    (2, ['x'])
    >>> _batch({"k": []}, {"k": ()})
    (1, [])
    """
    sized = {k for k, s in shapes.items() if s and all(d > 0 for d in s)}
    symbolic = [k for k, d in declared.items() if d and not isinstance(d[0], int) and k in sized]
    candidates = symbolic or [k for k in shapes if k in sized]
    if not candidates:
        return 1, []  # scalars and empty tensors only: nothing grows with a batch
    batch = shapes[candidates[0]][0]
    return batch, [k for k in candidates if shapes[k][0] == batch]


def translate(
    model: onnx.ModelProto, input_sizes: dict[str, Shape] | None = None, name: str = "onnx",
    base_dir: Path | None = None,
) -> OnnxGraph:
    """Translate ``model``; ``input_sizes`` gives the full shape (batch axis first) of inputs
    whose declared shape has symbolic dimensions. ``base_dir``: the model file's folder, where
    small integer tensors stored as external data (shapes, indices) are read when present."""
    try:
        return _Translator(model, dict(input_sizes or {}), name, base_dir).run()
    except (RecursionError, MemoryError):
        raise
    except _MALFORMED as err:  # outside any one node: the graph's own structure is broken
        raise NetsizeError(
            f"{name}: not a valid ONNX graph ({type(err).__name__}: {str(err)[:200]})"
        ) from None


def _check_dims(dims: Any, what: str) -> Shape:
    """Declared sizes as ints: each and their product within 2**62, at most MAX_RANK axes."""
    shape = tuple(int(d) for d in dims)
    if len(shape) > MAX_RANK:
        raise NetsizeError(f"{what}: {len(shape)} axes, more than the {MAX_RANK} netsize accepts")
    for d in shape:
        if d < 0:
            raise NetsizeError(f"{what}: declared size {d} is negative ({list(shape)})")
        check_int(d, f"{what}: declared size")
    check_int(prod(shape), f"{what}: {' x '.join(map(str, shape))} elements")
    return shape


def _check_model(model: onnx.ModelProto) -> None:
    """Bound what a hostile file can make large before any work grows with it."""
    graph = model.graph
    if len(graph.node) > MAX_GRAPH_NODES:
        raise NetsizeError(f"the graph has {len(graph.node):,} nodes, more than the {MAX_GRAPH_NODES:,} netsize reads")
    total = 0
    for init in graph.initializer:
        total += prod(_check_dims(init.dims, f"initializer {init.name!r}"))
    check_int(total, "the initializers' elements together")
    for vi in graph.input:
        dims = _dims(vi.type) or []
        _check_dims([d for d in dims if isinstance(d, int)], f"input {vi.name!r}")


def _output_bound(node: onnx.NodeProto, arrays: list[Any]) -> int | None:
    """An upper bound on the elements of a growing op's output, from its constant inputs; None
    when netsize cannot bound it."""
    op = node.op_type
    try:
        shapes = [() if a is None else tuple(np.shape(a)) for a in arrays]
        if op in _BROADCASTING:
            return prod(int(d) for d in np.broadcast_shapes(*shapes))
        if op == "ConstantOfShape":
            return prod(int(d) for d in np.asarray(arrays[0]).reshape(-1))
        if op == "Expand":
            target = tuple(int(d) for d in np.asarray(arrays[1]).reshape(-1))
            return prod(int(d) for d in np.broadcast_shapes(shapes[0], target))
        if op == "Tile":
            return int(prod(shapes[0])) * prod(int(r) for r in np.asarray(arrays[1]).reshape(-1))
        if op == "Range":
            start, limit, delta = (float(np.asarray(a).reshape(-1)[0]) for a in arrays[:3])
            return max(0, int(np.ceil((limit - start) / delta))) if delta else None
        if op == "Gather":
            return int(prod(shapes[0])) * max(1, int(prod(shapes[1])))
    except (ValueError, TypeError, IndexError, OverflowError):
        return None
    return None


class _Translator:
    def __init__(
        self, model: onnx.ModelProto, input_sizes: dict[str, Shape], name: str, base_dir: Path | None = None
    ) -> None:
        self.model = model
        self.base_dir = base_dir
        _check_model(model)
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
        self.totals: dict[str, int] = {}  # running sums, bounded as each layer's counts
        self.current = self.current_op = ""  # the node being translated, as errors name it
        self.opset = next((int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)

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
        inits = {i.name for i in self.graph.initializer}
        for vi in self.graph.input:
            if vi.name not in inits and not vi.type.HasField("tensor_type"):
                raise NetsizeError(
                    f"input {vi.name!r} is a {vi.type.WhichOneof('value') or 'value of no type'}: netsize reads "
                    "graphs whose inputs are tensors (not sequences, optionals or maps)"
                )
        for inp, dims in declared.items():
            if inp in given:
                shape = _check_dims(given[inp], f"--input-size {inp}")
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
        self.batch, self.data_inputs = _batch(declared, shapes)
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
                graph.input.append(_proto.value_info(init.name, init.data_type, list(init.dims)))
        model = onnx.ModelProto(ir_version=self.model.ir_version, graph=graph)
        model.opset_import.extend(self.model.opset_import)
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
            inferred = _proto.infer_shapes(model)
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
                    if (node.op_type, k) in _BUFFER_SLOTS or (node.op_type, k) in _SETTING_SLOTS:
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
        if not self.data_inputs:
            raise NetsizeError(
                "netsize needs an input with a batch axis (axis 0 of size >= 1); this graph's inputs are "
                + (", ".join(f"{k} [{', '.join(map(str, v))}]" for k, v in self.inputs.items()) or "none")
                + " (scalars, empty tensors or none)"
            )
        safe = {k: _safe(k) for k in self.inputs}
        self.g = Graph(self.name, inputs={safe[k]: self.inputs[k][1:] for k in self.data_inputs})
        self.names = set(safe.values())
        self.ref_shapes = {safe[k]: v for k, v in self.inputs.items()}
        for k, shape in self.inputs.items():
            self.values[k] = _Value(shape, "dynamic", ref=safe[k])
            if k not in self.data_inputs:  # a side input: its shape does not follow the batch
                self.g.add(safe[k], ops.Constant(shape), [])
        for name, init in self.inits.items():
            shape = tuple(int(d) for d in init.dims)
            if name in params:
                self.values[name] = _Value(shape, "param", sources=frozenset([name]))
            else:
                self.values[name] = _Value(shape, "const", array=self._array(init))
        for index, node in enumerate(self.graph.node):
            self.current, self.current_op = f"{node.op_type}_{index}", node.op_type
            ins = [self.values.get(i) if i else None for i in node.input]
            for i, v in zip(node.input, ins, strict=True):
                if i and v is None:
                    raise NetsizeError(
                        f"node {self._label(node)} ({node.op_type}) reads {i!r}, which nothing before it makes"
                    )
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
        notes = self._notes(params)
        return OnnxGraph(net, self.batch, notes, self.onnx_shapes, dict(self.emitted))

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
        side = [k for k in self.inputs if k not in self.data_inputs]
        if side:
            notes.append(
                "side inputs (fixed shapes, not batched): "
                + ", ".join(f"{k} [{', '.join(map(str, self.inputs[k]))}]" for k in side)
            )
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
        if prod(init.dims) > _FOLD_LIMIT:
            return None
        if init.data_location == onnx.TensorProto.EXTERNAL:
            return self._external_array(init)
        try:
            return _proto.to_array(init)
        except Exception:
            return None

    def _external_array(self, init: onnx.TensorProto) -> Any:
        """A small integer tensor (a shape, an index table) or a few-element one (Resize's scales)
        from the external data file, when the file is there; weights are never read."""
        n = prod(init.dims)
        if self.base_dir is None or n > (_EXTERNAL_INT_LIMIT if init.data_type in _INT_TYPES else 64):
            return None  # a weight: its shape is enough
        _proto.full_onnx()
        from onnx.external_data_helper import load_external_data_for_tensor

        copy = onnx.TensorProto()
        copy.CopyFrom(init)
        try:  # onnx refuses locations outside base_dir; a missing or short file is no value
            load_external_data_for_tensor(copy, str(self.base_dir))
            return _proto.to_array(copy)
        except Exception:
            return None

    def _fold(self, node: onnx.NodeProto, ins: list[_Value | None]) -> None:
        if node.op_type == "Shape":
            shape = ins[0].shape if ins[0] else None
            if shape is None:
                raise NetsizeError(f"{self._label(node)} ({node.op_type}): the shape of {node.input[0]!r} is not known")
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

        if node.op_type == "Constant":
            a = _attrs(node)
            if "value" in a:
                return [_proto.to_array(a["value"])]
            for key in ("value_float", "value_int"):
                if key in a:
                    return [np.array(a[key])]
            for key in ("value_floats", "value_ints"):
                if key in a:
                    return [np.array(a[key])]
        # Run an op only when its outputs are known to be small: a hostile ConstantOfShape, Expand
        # or Loop would otherwise allocate or spin before any size is checked.
        sizes = [self.inferred.get(o) for o in node.output if o]
        if node.op_type in _NEVER_RUN or any(sz is not None and prod(sz) > _FOLD_LIMIT for sz in sizes):
            return None
        if any(sz is None for sz in sizes):
            if node.op_type in _GROWING:
                bound = _output_bound(node, [None if v is None else v.array for v in ins])
                if bound is None or bound > _FOLD_LIMIT:
                    return None
            elif node.op_type not in _NOT_GROWING:
                return None
        try:
            feeds = {i: v.array for i, v in zip(node.input, ins, strict=True) if i and v is not None}
            full = _proto.full_onnx()  # onnx.reference: only to fold a constant subgraph
            from onnx.reference import ReferenceEvaluator

            g = full.helper.make_graph(
                [node], "fold",
                [_proto.value_info(i, onnx.TensorProto.UNDEFINED, None) for i in feeds],
                [_proto.value_info(o, onnx.TensorProto.UNDEFINED, None) for o in node.output if o],
            )
            m = full.helper.make_model(g, opset_imports=list(self.model.opset_import))
            result = ReferenceEvaluator(m).run(None, feeds)
            if any(getattr(r, "size", 0) > _FOLD_LIMIT for r in result):
                return None
            return [np.asarray(r) for r in result]
        except Exception:
            return None

    # --- nodes -------------------------------------------------------------------------------

    def _label(self, node: onnx.NodeProto) -> str:
        """How errors name ``node``: its own name, or its op type and index when it has none."""
        return node.name or self.current

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
        v = self.values.get(value)
        who = f"graph output {value!r}" if consumer == "graph-output" else f"{consumer} ({self.current_op})"
        if v is None:
            raise NetsizeError(f"{who}: reads {value!r}, which no node or input of the graph makes")
        if v.ref is not None:
            return v.ref
        if v.shape is None:
            raise NetsizeError(f"{who}: the shape of {value!r} is not known (a sequence, or a value onnx "
                               "could not infer)")
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
        init = self.inits.get(node.input[k])
        if v.array is None and init is not None and init.data_location == onnx.TensorProto.EXTERNAL:
            where = next((e.value for e in init.external_data if e.key == "location"), "?")
            raise NetsizeError(
                f"{self._label(node)} ({node.op_type}): input {k} ({node.input[k]!r}) is stored in the external "
                f"data file {where!r}, which is missing or unreadable; netsize needs its value to know the output "
                "shape (keep the data file beside the model, or save small tensors inside it: onnx.save(..., "
                "size_threshold=1024))"
            )
        if v.array is None:
            raise NetsizeError(
                f"{self._label(node)} ({node.op_type}): input {k} ({node.input[k]!r}) is computed at run "
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
            raise NetsizeError(f"{self._label(node)} ({node.op_type}): the shape of {node.input[k]!r} is not known")
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
        for shape in record.output_shapes:
            _check_dims(shape, f"{name} ({layer.kind}) output")
        for what in ("params", "multiply_adds", "other_ops"):
            value = getattr(record, what)
            self.totals[what] = self.totals.get(what, 0) + value
            check_int(value, f"{name} ({layer.kind}) {what.replace('_', '-')}")
            check_int(self.totals[what], f"the model's {what.replace('_', '-')} up to {name}")
        for k, shape in enumerate(record.output_shapes):
            self.ref_shapes[name if k == 0 else f"{name}:{k}"] = shape
        return record.output_shapes

    def _translate(self, node: onnx.NodeProto, index: int, ins: list[_Value | None]) -> None:
        op = node.op_type
        if op in _CONTROL_FLOW:
            raise NetsizeError(
                f"{self._label(node)} ({op}): control flow (If, Loop, Scan) is not supported: netsize counts "
                "straight-line graphs; export the model with its branches resolved (a traced export)"
            )
        if op.startswith(("Sequence", "Optional", "ConcatFromSequence")) and op != "SequenceAt":
            raise NetsizeError(
                f"{self._label(node)} ({op}): sequence and optional values are not supported "
                "(only SplitToSequence read by SequenceAt with a constant index)"
            )
        try:
            self._translate_op(node, index)
        except _MALFORMED as err:
            # An attribute of the wrong type or count, an input missing: the node breaks the
            # ONNX spec (valid nodes are proven on the onnx package's own node tests).
            raise NetsizeError(
                f"{self._label(node)} ({op}): malformed node ({type(err).__name__}: {str(err)[:160]}); check its "
                "attributes and inputs against the ONNX operator spec"
            ) from None
        self._extra_outputs(node)

    def _extra_outputs(self, node: onnx.NodeProto) -> None:
        """Outputs the core layer does not make (LayerNormalization's Mean and InvStdDev, Dropout's
        mask, MaxPool's Indices, BatchNormalization's training statistics): each a shape-only node
        after the layer, which counts the work that makes them."""
        main = self.emitted.get(node.output[0]) if node.output and node.output[0] else None
        for k, o in enumerate(node.output):
            if not o or o in self.values:
                continue
            shape = self._extra_shape(node, k)
            if shape is None:
                shape = self.inferred.get(o)
            if shape is None or main is None:
                raise NetsizeError(
                    f"{self._label(node)} ({node.op_type}): netsize does not know the shape of its output {k} ({o!r})"
                )
            ref = self._fresh(f"{main}.{o.strip('/').split('/')[-1].replace('.', '_')}")
            self._append(ref, ops.Uncounted(f"{node.op_type} output {k}", (shape,)), [main])
            self.values[o] = _Value(shape, "dynamic", ref=ref)
            self.emitted[o] = ref
            if o in self.inferred:
                self.onnx_shapes[ref] = self.inferred[o]

    def _extra_shape(self, node: onnx.NodeProto, k: int) -> Shape | None:
        y = self.values[node.output[0]].shape
        x = self.values[node.input[0]].shape
        op = node.op_type
        if op in ("Dropout", "MaxPool") and k == 1:
            return y  # the mask, the indices: one per output element
        if op == "LayerNormalization" and x is not None:
            axis = int(_attrs(node).get("axis", -1)) % len(x)
            return (*x[:axis], *([1] * (len(x) - axis)))
        if op == "BatchNormalization" and x is not None:
            return (x[1],)
        return None

    def _translate_op(self, node: onnx.NodeProto, index: int) -> None:
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
                    f"{self._label(node)} ({op}): netsize has no rule for this op and onnx.shape_inference gives "
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
            out_pad = [int(p) for p in a.get("output_padding", [0] * n)]
            if "output_shape" in a:
                padding, out_pad = self._transposed_pads(node, a, kernel, out_pad)
                common["padding"] = padding
            layer = layer_type(f"convtranspose{n}d")(  # type: ignore[call-arg]
                in_channels=w[0], out_channels=w[1] * groups,
                output_padding=tuple(out_pad), **common,
            )
        else:
            layer = layer_type(f"conv{n}d")(in_channels=x[1], out_channels=w[0], **common)  # type: ignore[call-arg]
        self._add(node, index, layer, [0], [1, 2])

    def _transposed_pads(
        self, node: onnx.NodeProto, a: dict[str, Any], kernel: Shape, out_pad: list[int]
    ) -> tuple[tuple[tuple[int, int], ...], list[int]]:
        """The pads ONNX derives from ``output_shape``: ``total = S*(I - 1) + output_padding +
        D*(K - 1) + 1 - output_shape`` per axis, split as its spec says (SAME_UPPER: the odd one at
        the end); a negative total is extra output padding."""
        x = self._shape(node, 0)
        n = len(kernel)
        target = [int(d) for d in a["output_shape"]][-n:]
        strides = [int(v) for v in a.get("strides", [1] * n)]
        dilations = [int(v) for v in a.get("dilations", [1] * n)]
        upper = _s(a.get("auto_pad", "NOTSET")) == "SAME_UPPER"
        pads: list[tuple[int, int]] = []
        extra = list(out_pad)
        for i in range(n):
            total = strides[i] * (x[2 + i] - 1) + out_pad[i] + dilations[i] * (kernel[i] - 1) + 1 - target[i]
            if total < 0:
                extra[i] -= total
                total = 0
            small, large = total // 2, total - total // 2
            pads.append((small, large) if upper else (large, small))
        return tuple(pads), extra

    def _op_Conv(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        self._conv(node, index, a, transposed=False)

    def _op_ConvTranspose(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        self._conv(node, index, a, transposed=True)

    def _op_Gemm(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        b = self._shape(node, 1)
        has_c = len(node.input) > 2 and bool(node.input[2])
        if self._is_param(node, 1) and not a.get("transA", 0) and len(b) == 2:
            n_out, n_in = (b[0], b[1]) if a.get("transB", 0) else (b[1], b[0])
            c = self._shape(node, 2) if has_c else None
            # C is a Linear's bias when it is one value per output feature; any other C (an (M, N)
            # matrix, a scalar) is a tensor added after the product.
            bias_like = c is not None and self._is_param(node, 2) and c in ((n_out,), (1, n_out))
            if not has_c or bias_like:
                from netsize.layers.linear import Linear

                self._add(node, index, Linear(n_in, n_out, bias=bias_like), [0], [1, 2] if bias_like else [1])
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
        product = self._fresh(f"{name}.product") if has_c else name
        shapes = self._append(product, layer_type("matmul")(), refs)
        if has_c:
            c_ref = self._data(node.input[2], name)
            shapes = self._append(name, Add(), [product, c_ref])
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
        x, slope = self._shape(node, 0), self._shape(node, 1)
        if self.opset < 7 and len(slope) == 1 and len(x) > 2 and slope[0] == x[1] != x[-1]:
            # Before opset 7 a 1-d slope is one value per channel (axis 1), not numpy-broadcast
            # along the last axis.
            name = self._node_name(node, index)
            ref = self._data(node.input[1], name)
            per_channel = self._fresh(f"{name}.slope_per_channel")
            self._append(per_channel, ops.TensorReshape((slope[0], *([1] * (len(x) - 2)))), [ref])
            shapes = self._append(name, ops.Elementwise("prelu"), [self._data(node.input[0], name), per_channel])
            self._emit(node, name, shapes)
            return
        self._add(node, index, ops.Elementwise("prelu"), [0, 1])

    def _emit(self, node: onnx.NodeProto, name: str, shapes: tuple[Shape, ...]) -> None:
        """Output 0 of ``node`` is node ``name``'s output."""
        self.values[node.output[0]] = _Value(shapes[0], "dynamic", ref=name)
        self.emitted[node.output[0]] = name
        if node.output[0] in self.inferred:
            self.onnx_shapes[name] = self.inferred[node.output[0]]

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
        name = self._add(node, index, layer, [0], [1, 2, 3], outputs=["", *([""] * 2 if layout else outs[1:3])])
        for k in (1, 2) if layout else ():
            if outs[k]:  # the core's h_n and c_n are (D, N, H); layout 1 states (N, D, H)
                state = self._fresh(f"{name}.{'Y_h' if k == 1 else 'Y_c'}")
                moved = self._append(state, ops.Transpose((1, 0, 2)), [f"{name}:{k}"])
                self.values[outs[k]] = _Value(moved[0], "dynamic", ref=state)
                self.emitted[outs[k]] = state
                if outs[k] in self.inferred:
                    self.onnx_shapes[state] = self.inferred[outs[k]]
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
        if any(d != 1 for d in a.get("dilations", [])):
            fields["dilation"] = tuple(int(d) for d in a["dilations"])
        if kind == "avgpool" and "count_include_pad" in a:
            fields["count_include_pad"] = bool(a["count_include_pad"])
        if isinstance(padding, tuple) and any(max(p) > k // 2 for p, k in zip(padding, kernel, strict=True)):
            fields["padding_limit"] = False  # ONNX allows it; PyTorch does not
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
            raise NetsizeError(f"{self._label(node)} (SplitToSequence): keepdims=0 is not supported")
        name = self._add(node, index, Split(tuple(sizes), dim=axis), [0], outputs=[])
        self.sequences[node.output[0]] = [name if j == 0 else f"{name}:{j}" for j in range(len(sizes))]
        self.values[node.output[0]] = _Value(None, "dynamic")

    def _op_SequenceAt(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        refs = self.sequences.get(node.input[0])
        position = self._ints(node, 1)
        if refs is None or not position:
            raise NetsizeError(
                f"{self._label(node)} (SequenceAt): needs a sequence from SplitToSequence and a constant index"
            )
        ref = refs[position[0]]
        self.values[node.output[0]] = _Value(self.ref_shapes[ref], "dynamic", ref=ref)
        self.emitted[node.output[0]] = ref

    def _op_Pad(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        pads = a.get("pads") or self._ints(node, 1) or []
        axes = self._ints(node, 3)
        self._add(node, index, ops.Pad(tuple(pads), tuple(axes) if axes else None), [0])

    def _op_Resize(self, node: onnx.NodeProto, index: int, a: dict[str, Any]) -> None:  # noqa: N802
        x = self._shape(node, 0)
        axes = [int(ax) % len(x) for ax in a.get("axes", [])] or list(range(len(x)))
        sizes = self._ints(node, 3) if len(node.input) > 3 else None
        if node.op_type == "Upsample" and len(node.input) < 3 and "scales" in a:  # opset 7-8: an attribute
            sizes = [int(np.floor(d * float(f))) for d, f in zip(x, a["scales"], strict=False)]
        elif not sizes:
            k = 1 if node.op_type == "Upsample" else 2
            v = self.values[node.input[k]] if len(node.input) > k and node.input[k] else None
            if v is None or v.array is None:
                what = f" (input {node.input[k]!r} is computed at run time)" if v is not None else ""
                raise NetsizeError(f"{self._label(node)} ({node.op_type}): needs constant scales or sizes{what}")
            scales = [float(f) for f in np.asarray(v.array).reshape(-1)]
            if len(scales) != len(axes):
                raise NetsizeError(
                    f"{self._label(node)} ({node.op_type}): {len(scales)} scales for {len(axes)} axes of {list(x)}"
                )
            sizes = [int(np.floor(x[ax] * f)) for ax, f in zip(axes, scales, strict=True)]
        elif len(sizes) != len(axes):
            raise NetsizeError(f"{self._label(node)} (Resize): {len(sizes)} sizes for {len(axes)} axes of {list(x)}")
        else:
            policy = _s(a.get("keep_aspect_ratio_policy", "stretch"))
            if policy in ("not_larger", "not_smaller"):
                # One scale for every resized axis, the smallest (or largest) ratio, rounded half up.
                ratios = [Fraction(sz, x[ax]) for ax, sz in zip(axes, sizes, strict=True)]
                scale = min(ratios) if policy == "not_larger" else max(ratios)
                sizes = [floor(scale * x[ax] + Fraction(1, 2)) for ax in axes]
        if len(axes) != len(x) or list(axes) != list(range(len(x))):
            full = list(x)
            for ax, sz in zip(axes, sizes, strict=True):
                full[ax] = sz
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
            raise NetsizeError(
                f"{self._label(node)} (Attention): a KV cache (past/present key and value) is not supported"
            )
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
