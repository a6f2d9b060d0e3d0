"""The translation of a Keras model config into a network of core layers (channels-last).

One :class:`_Translator` walks a Sequential or Functional config, layer by layer, and adds
core layers to a :class:`~netsize._network.Graph`; it never counts (the core layers do). It
analyses each node as it adds it only to know the next layer's input shape, and checks there
that no dimension, element count or count passes :data:`~netsize._limits.MAX_INT`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from netsize._analyze import analyze, analyze_layer
from netsize._errors import NetsizeError
from netsize._layer import KERAS, Context, Layer
from netsize._limits import MAX_INT, check_int
from netsize._network import Graph, Network
from netsize._shape import CHANNELS_LAST
from netsize._summary import Summary
from netsize.frontends.keras._read import load_config
from netsize.layers import layer_type
from netsize.layers import tensor_ops as ops
from netsize.layers.shape_ops import Identity

__all__ = ["KerasModel", "network_from_keras", "summary"]

_CTX = Context(convention=KERAS, layout=CHANNELS_LAST)
_DROPOUT = {"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
            "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Masking"}
_ACTIVATIONS = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "softmax": "softmax", "elu": "elu",
                "selu": "selu", "gelu": "gelu", "silu": "silu", "swish": "silu", "softplus": "softplus",
                "relu6": "relu6", "leaky_relu": "leakyrelu", "hard_sigmoid": "hardsigmoid",
                "hard_swish": "hardswish", "hard_silu": "hardswish", "mish": "mish", "celu": "celu",
                "hard_tanh": "hardtanh", "log_softmax": "logsoftmax"}
#: keras.ops layers that ``x + y``, ``x - y`` and ``x * y`` on Keras tensors write (ConvNeXt, MobileNetV3)
_OPERATORS = {"Add", "Subtract", "Multiply"}
_NORM_AXIS_HELP = "netsize reads Keras normalisation over the last (channels) axis"
_MERGES = {"Add": "add", "Subtract": "subtract", "Multiply": "multiply", "Average": "average",
           "Maximum": "maximum", "Minimum": "minimum"}


@dataclass
class KerasModel:
    """The translated network; ``finish`` completes a Summary of it."""

    network: Network
    notes: list[str]

    def finish(self, result: Summary) -> Summary:
        return replace(result, notes=(*result.notes, *self.notes))


InputSize = tuple[int, ...] | dict[str, tuple[int, ...]] | None
"""Per-sample input sizes for the ``None`` axes of a model's inputs: one shape for a model with
one input, or a shape per input name (channels-last, without the batch axis, as ``keras.Input``)."""

#: What a malformed config raises inside the translation (a missing key, a list where a number
#: belongs...): turned into one NetsizeError naming the layer.
_MALFORMED = (KeyError, TypeError, ValueError, IndexError, AttributeError)


def network_from_keras(source: Any, input_size: InputSize = None) -> KerasModel:
    """Translate a Keras model config into a network of core layers (channels-last).

    ``input_size`` fills the axes an ``Input`` leaves ``None`` (``keras.Input((None, None, 3))``
    with ``input_size=(224, 224, 3)``); the axes the config fixes must be given as they are.
    """
    cfg = load_config(source)
    t = _Translator(input_size)
    conf = cfg.get("config")
    name = conf.get("name", "keras") if isinstance(conf, dict) else "keras"
    name = name if isinstance(name, str) else "keras"
    try:
        _, outputs = t.model(cfg, "", None)
        if t.g is None:
            raise NetsizeError(f"{name}: the model declares no input")
        t.g.outputs(*outputs)
        net = t.g.build()
    except _MALFORMED as err:
        raise NetsizeError(f"{name}: not a well-formed Keras model config ({type(err).__name__}: {err})") from None
    return KerasModel(replace(net, name=name), t.notes)


def summary(source: Any, input_size: InputSize = None) -> Summary:
    """Analyse a Keras model under the Keras convention, batch 1 (Keras shows it as None)."""
    model = network_from_keras(source, input_size)
    return model.finish(analyze(model.network, batch_size=1, convention=KERAS))


def _sized(name: str, shape: Any, given: tuple[int, ...] | None) -> tuple[int, ...]:
    """The per-sample shape of input ``name``: its declared ``batch_shape`` without the batch
    axis, with ``given`` filling the ``None`` axes."""
    if not isinstance(shape, list | tuple) or not shape:
        raise NetsizeError(f"input {name!r} has no shape in the config; build the model before saving it")
    dims = list(shape)[1:]
    if given is not None:
        if len(given) != len(dims):
            raise NetsizeError(f"input {name!r} has {len(dims)} axes per sample {_show(dims)}, but the input size "
                               f"given has {len(given)} {_show(given)}")
        for k, (d, g) in enumerate(zip(dims, given, strict=True)):
            if d is not None and d != g:
                raise NetsizeError(f"input {name!r}: axis {k + 1} is {d} in the config {_show(dims)}; the input "
                                   f"size may only fill its None axes (give {d} there)")
        dims = list(given)
    if any(d is None for d in dims):
        hint = ",".join("224" if d is None else str(d) for d in dims)
        raise NetsizeError(f"input {name!r} has unknown sizes {_show(dims)}; give them with --input-size {hint} "
                           f"(input_size=({hint}) in Python), channels-last, without the batch axis")
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, int) or d <= 0:
            raise NetsizeError(f"input {name!r}: sizes must be positive integers (got {_show(dims)})")
        check_int(d, f"input {name!r}")
    return tuple(dims)


def _show(dims: Sequence[Any]) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in dims) + ")"


_REPLACE = ("replace it with built-in Keras layers to analyse the model, or describe it in a netsize spec "
            "(docs/keras.md)")


def _foreign(name: str, kind: Any, layer: dict[str, Any]) -> str:
    """The one-line refusal of a layer that is not Keras' own, naming where it comes from."""
    registered = layer.get("registered_name")
    module = layer.get("module")
    origin = registered if isinstance(registered, str) and registered != kind else module
    if isinstance(origin, str) and origin.startswith("keras_hub"):
        what = "model" if isinstance(kind, str) and kind.endswith(("Backbone", "LM", "Classifier")) else "layer"
        return (f"{name}: {kind} is a keras-hub {what} ({origin}), which netsize does not read; for a keras-hub "
                "language model give netsize the Hugging Face config.json of the same model (netsize summary "
                "config.json), or rebuild it from built-in Keras layers")
    where = f" ({origin})" if isinstance(origin, str) and origin else ""
    return f"{name}: {kind} is a custom layer or model{where}, not one of Keras' own; {_REPLACE}"


def _positive(value: Any, name: str, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise NetsizeError(f"{name}: {key} must be a positive integer (got {value!r})")
    return check_int(value, f"{name}: {key}")


def _last_axis(axis: Any, rank: int) -> bool:
    axes = axis if isinstance(axis, list | tuple) else [axis]
    return len(axes) == 1 and axes[0] in (-1, rank - 1)


def _norm(kind: str, c: dict[str, Any], name: str, x: tuple[int, ...]) -> Any:
    """The core layer of a Keras BatchNormalization, LayerNormalization or GroupNormalization:
    ``scale`` is gamma (the weight), ``center`` beta (the bias); either may be off alone."""
    scale, center = bool(c.get("scale", True)), bool(c.get("center", True))
    axis = c.get("axis", -1)
    if not _last_axis(axis, len(x)):
        raise NetsizeError(f"{name}: {kind} over axis {axis} of a {len(x)}-d input; {_NORM_AXIS_HELP}")
    if kind == "BatchNormalization":
        return _lt("batchnorm")(affine=scale or center, weight=scale, bias=center)
    if kind == "GroupNormalization":
        groups = _positive(c.get("groups", 32), name, "groups")
        return _lt("groupnorm")(num_groups=groups, affine=scale or center, weight=scale, bias=center)
    if c.get("rms_scaling", False):
        # Keras 3: gamma whenever rms_scaling is set (scale or not), and no beta
        return _lt("rmsnorm")(normalized_shape=(x[-1],))
    return _lt("layernorm")(normalized_shape=(x[-1],), elementwise_affine=scale or center, weight=scale,
                            bias=center)


def _lt(name: str) -> Any:
    """The core layer class registered as ``name`` (built from config values, so typed loosely)."""
    return layer_type(name)


def _tuple(v: Any, n: int) -> tuple[int, ...]:
    return tuple(v) if isinstance(v, list | tuple) else (int(v),) * n


def _pairs(value: Any, n: int) -> list[tuple[int, int]]:
    """Keras padding/cropping: an int, one (before, after) pair for 1-d, or one int or pair per axis."""
    if isinstance(value, int):
        return [(value, value)] * n
    if n == 1 and len(value) == 2 and all(isinstance(v, int) for v in value):
        return [(int(value[0]), int(value[1]))]
    return [(p, p) if isinstance(p, int) else (int(p[0]), int(p[1])) for p in value]


def _history(arg: Any) -> list[tuple[str, int, int]]:
    """The (layer, node, tensor) references in a Keras 3 call argument."""
    if isinstance(arg, dict):
        if arg.get("class_name") == "__keras_tensor__":
            h = arg["config"]["keras_history"]
            return [(h[0], int(h[1]), int(h[2]))]
        return [r for v in arg.values() for r in _history(v)]
    if isinstance(arg, list | tuple):
        if len(arg) >= 3 and isinstance(arg[0], str) and isinstance(arg[1], int):  # Keras 2 style
            return [(arg[0], int(arg[1]), int(arg[2]))]
        return [r for v in arg for r in _history(v)]
    return []


class _Translator:
    def __init__(self, input_size: InputSize = None) -> None:
        self.g: Graph | None = None
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.notes: list[str] = []
        self.tie: tuple[str, str] | None = None  # (this call's name, the first call's name)
        self.input_size = input_size
        self.totals: dict[str, int] = {}  # running totals, bounded as each layer's own counts are

    # --- models ----------------------------------------------------------------------------

    def model(self, cfg: dict[str, Any], prefix: str, feeds: list[str] | None) -> tuple[list[str], list[str]]:
        kind = cfg.get("class_name")
        conf = cfg.get("config", {})
        if kind == "Sequential":
            return self._sequential(conf, cfg, prefix, feeds)
        if kind in ("Functional", "Model"):
            return self._functional(conf, prefix, feeds)
        name = conf.get("name", kind) if isinstance(conf, dict) else kind
        if cfg.get("module") is not None or cfg.get("registered_name") not in (None, kind):
            raise NetsizeError(_foreign(f"{prefix}{name}", kind, cfg))  # a keras-hub backbone, a subclassed model
        raise NetsizeError(f"{kind}: not a Keras Sequential or Functional model")

    def _input(self, name: str, shape: Any) -> str:
        return self._inputs({name: shape})[0]

    def _inputs(self, declared: dict[str, Any]) -> list[str]:
        if self.g is not None:
            raise NetsizeError(f"inputs {', '.join(declared)}: a nested model's inputs must come from its caller")
        given = self.input_size
        if isinstance(given, tuple) and len(declared) != 1:
            raise NetsizeError(f"the model has inputs {', '.join(declared)}; give a size for each by name "
                               "(--input-size NAME=SHAPE)")
        if isinstance(given, dict):
            unknown = sorted(set(given) - set(declared))
            if unknown:
                raise NetsizeError(f"input size for {', '.join(unknown)}: the model's inputs are "
                                   f"{', '.join(declared)}")
        dims: dict[str, Sequence[int]] = {}
        for name, shape in declared.items():
            mine = given if isinstance(given, tuple) else (given or {}).get(name)
            dims[name] = _sized(name, shape, mine)
            self.shapes[name] = (1, *dims[name])
        self.g = Graph("keras", inputs=dims, layout=CHANNELS_LAST)
        return list(declared)

    def _sequential(self, conf: dict[str, Any], cfg: dict[str, Any], prefix: str,
                    feeds: list[str] | None) -> tuple[list[str], list[str]]:
        layers = list(conf.get("layers", []))
        if feeds is None:
            shape = None
            if layers and layers[0]["class_name"] == "InputLayer":
                c = layers[0]["config"]
                shape = c.get("batch_shape") or c.get("batch_input_shape")
                iname = c.get("name", "input")
                layers = layers[1:]
            else:
                shape = (cfg.get("build_config") or {}).get("input_shape") or (
                    layers[0]["config"].get("batch_shape") or layers[0]["config"].get("batch_input_shape")
                    if layers else None)
                iname = "input"
            feeds = [self._input(prefix + iname, shape)]
        else:
            layers = [x for x in layers if x["class_name"] != "InputLayer"]
        inputs = list(feeds)
        last = feeds
        for layer in layers:
            last = [self.layer(layer, prefix, last, 0)]
        return inputs, last

    def _functional(self, conf: dict[str, Any], prefix: str, feeds: list[str] | None) -> tuple[list[str], list[str]]:
        outs: dict[tuple[str, int], list[str]] = {}
        declared = conf.get("input_layers", [])
        if declared and isinstance(declared[0], str):
            declared = [declared]
        input_names = [x[0] for x in declared]
        by_name = {x["config"]["name"]: x for x in conf["layers"]}
        if feeds is None:
            feeds = self._inputs({
                prefix + n: by_name[n]["config"].get("batch_shape") or by_name[n]["config"].get("batch_input_shape")
                for n in input_names
            })
        for k, iname in enumerate(input_names):
            outs[(iname, 0)] = [feeds[k]]
        for layer in conf["layers"]:
            if layer["class_name"] == "InputLayer":
                continue
            lname = layer["config"]["name"]
            for call, node in enumerate(layer.get("inbound_nodes", [])):
                refs = []
                args = node.get("args", node) if isinstance(node, dict) else node
                for lay, ni, ti in _history(args):
                    produced = outs.get((lay, ni))
                    if produced is None:
                        raise NetsizeError(f"layer {lname!r} reads {lay!r}, which is not built before it")
                    refs.append(produced[min(ti, len(produced) - 1)])
                if isinstance(node, dict) and node.get("kwargs"):
                    # tensors passed by keyword: the attention inputs; masks change no count
                    kwargs = node["kwargs"]
                    for key in ("query", "value", "key"):
                        for lay, ni, ti in _history(kwargs.get(key)):
                            produced = outs[(lay, ni)]
                            refs.append(produced[min(ti, len(produced) - 1)])
                outs[(lname, call)] = [self.layer(layer, prefix, refs, call)]
        out_layers = conf.get("output_layers", [])
        if out_layers and isinstance(out_layers[0], str):
            out_layers = [out_layers]
        input_refs = [outs[(n, 0)][0] for n in input_names]
        output_refs = []
        for x in out_layers:
            produced = outs[(x[0], int(x[1]))]
            output_refs.append(produced[min(int(x[2]), len(produced) - 1)])
        return input_refs, output_refs

    # --- layers ----------------------------------------------------------------------------

    def _add(self, name: str, layer: Layer, refs: list[str], tied: str | None = None) -> str:
        assert self.g is not None
        if self.tie is not None and name.startswith(self.tie[0]):
            # a further call of a shared layer: each of its nodes reuses the first call's weights
            first = self.tie[1] + name[len(self.tie[0]) :]
            tied = first if first in self.shapes else None
        self.g.add(name, layer, refs, tied_to=tied)
        record = analyze_layer(name, layer, tuple(self.shapes[r] for r in refs), _CTX)
        for k, s in enumerate(record.output_shapes):
            self.shapes[name if k == 0 else f"{name}:{k}"] = s
        self._check_bounds(record)
        return name

    def _check_bounds(self, record: Any) -> None:
        """Refuse a layer whose sizes or counts pass 2**62 (a hostile config's ``units: 2**62``)
        before the numbers reach a table: netsize's integers stay within it everywhere."""
        for s in record.output_shapes:
            elements = 1
            for d in s:
                check_int(d, f"{record.name}: output size")
                elements *= d
            check_int(elements, f"{record.name}: output elements {_show(s)}")
        for what in ("params", "multiply_adds", "other_ops"):
            count = check_int(getattr(record, what), f"{record.name}: {what.replace('_', '-')}")
            self.totals[what] = self.totals.get(what, 0) + count
            if self.totals[what] > MAX_INT:
                raise NetsizeError(f"{record.name}: the model's {what.replace('_', '-')} pass 2**62, the largest "
                                   "integer netsize accepts")

    def _activation(self, name: str, act: Any, ref: str) -> str:
        act = act.get("config", {}).get("name", act.get("class_name")) if isinstance(act, dict) else act
        if act in (None, "linear"):
            return ref
        if act not in _ACTIVATIONS:
            raise NetsizeError(f"{name}: activation {act!r} is not supported")
        fields: dict[str, Any] = {"dim": -1} if act in ("softmax", "log_softmax") else {}
        return self._add(f"{name}.{act}", _lt(_ACTIVATIONS[act])(**fields), [ref])

    def layer(self, layer: dict[str, Any], prefix: str, refs: list[str], call: int) -> str:
        kind, c = layer["class_name"], layer.get("config", {})
        name = prefix + c.get("name", kind.lower())
        module = layer.get("module")
        registered = layer.get("registered_name")
        if (module is not None and (not isinstance(module, str) or not module.startswith("keras")
                                    or module.startswith("keras_"))) or (registered not in (None, kind)):
            # a layer of another package (keras_hub>...) or the user's own: Keras' name may collide
            # with a built-in one, its arguments and weights need not
            raise NetsizeError(_foreign(name, kind, layer))
        if isinstance(module, str) and module.startswith("keras.src.ops") and kind not in _OPERATORS:
            # keras.ops called on a symbolic tensor: its config has the op's arguments, not a layer's
            raise NetsizeError(f"{name}: the Keras operation {kind} ({module}) is not supported; netsize reads "
                               f"{', '.join(sorted(_OPERATORS))} written as operators; {_REPLACE}")
        if kind in ("Sequential", "Functional", "Model"):
            if call == 0:
                return self.model(layer, name + ".", refs)[1][0]
            self.tie = (f"{name}.call_{call}.", name + ".")
            try:
                return self.model(layer, f"{name}.call_{call}.", refs)[1][0]
            finally:
                self.tie = None
        if not isinstance(c, dict) or not isinstance(kind, str):
            raise NetsizeError(f"{name}: a layer's config is an object with 'class_name' and 'config'")
        if c.get("data_format", "channels_last") != "channels_last":
            raise NetsizeError(f"{name}: data_format {c['data_format']!r} is not supported (netsize reads Keras "
                               "models channels-last)")
        if call == 0:
            return self._guarded(kind, c, name, refs)
        # A shared layer called again: its nodes are named name.call_<k> (one row per Keras layer at
        # depth 0, as model.summary()) and tied to the first call's, so its weights count once.
        self.tie = (f"{name}.call_{call}", name)
        try:
            return self._guarded(kind, c, f"{name}.call_{call}", refs)
        finally:
            self.tie = None

    def _guarded(self, kind: str, c: dict[str, Any], name: str, refs: list[str]) -> str:
        """``_build``, with a malformed config's Python error said as one NetsizeError naming the layer."""
        try:
            return self._build(kind, c, name, refs, None)
        except _MALFORMED as err:
            raise NetsizeError(f"{name} ({kind}): not a well-formed Keras layer config "
                               f"({type(err).__name__}: {err})") from None

    def _build(self, kind: str, c: dict[str, Any], name: str, refs: list[str], tied: str | None) -> str:
        x = self.shapes[refs[0]] if refs else ()
        act = c.get("activation")
        if kind == "Dense":
            out = self._add(name, _lt("linear")(out_features=c["units"], bias=c.get("use_bias", True)),
                            refs, tied)
            return self._activation(name, act, out)
        if kind in ("Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"):
            n = int(kind[4])
            transposed = kind.endswith("Transpose")
            fields: dict[str, Any] = {
                "out_channels": c["filters"], "kernel_size": _tuple(c["kernel_size"], n),
                "stride": _tuple(c.get("strides", 1), n), "padding": c.get("padding", "valid"),
                "dilation": _tuple(c.get("dilation_rate", 1), n), "bias": c.get("use_bias", True),
            }
            if not transposed:
                fields["groups"] = c.get("groups", 1)
            cls = _lt(f"convtranspose{n}d" if transposed else f"conv{n}d")
            out = self._add(name, cls(**fields), refs, tied)
            return self._activation(name, act, out)
        if kind in ("DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D"):
            n = 1 if "1D" in kind else 2
            channels = x[-1]
            dm = c.get("depth_multiplier", 1)
            separable = kind.startswith("Separable")
            depthwise = _lt(f"conv{n}d")(
                out_channels=channels * dm, kernel_size=_tuple(c["kernel_size"], n),
                stride=_tuple(c.get("strides", 1), n), padding=c.get("padding", "valid"),
                dilation=_tuple(c.get("dilation_rate", 1), n), groups=channels,
                bias=c.get("use_bias", True) and not separable,
            )
            if not separable:
                return self._activation(name, act, self._add(name, depthwise, refs, tied))
            d = self._add(f"{name}.depthwise", depthwise, refs)
            pointwise = _lt(f"conv{n}d")(out_channels=c["filters"], kernel_size=1, bias=c.get("use_bias", True))
            return self._activation(name, act, self._add(f"{name}.pointwise", pointwise, [d]))
        if kind == "RMSNormalization":
            if not _last_axis(c.get("axis", -1), len(x)):
                raise NetsizeError(f"{name}: RMSNormalization over axis {c.get('axis')} of a {len(x)}-d input; "
                                   f"{_NORM_AXIS_HELP}")
            return self._add(name, _lt("rmsnorm")(normalized_shape=(x[-1],)), refs, tied)
        if kind in ("BatchNormalization", "LayerNormalization", "GroupNormalization"):
            return self._add(name, _norm(kind, c, name, x), refs, tied)
        if kind == "UnitNormalization":
            return self._add(name, ops.Elementwise("l2_normalize", ops=3), refs)
        if kind in ("MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D",
                    "AveragePooling3D"):
            n = int(kind[-2])
            pool = _tuple(c.get("pool_size", 2), n)
            strides = c.get("strides")
            layer = _lt(("maxpool" if kind.startswith("Max") else "avgpool") + f"{n}d")(
                kernel_size=pool, stride=pool if strides is None else _tuple(strides, n),
                padding=c.get("padding", "valid"))
            return self._add(name, layer, refs)
        if kind.startswith("Global") and "Pooling" in kind:
            n = int(kind[-2])
            base = "globalmaxpool" if "Max" in kind else "globalavgpool"
            return self._add(name, _lt(f"{base}{n}d")(keepdims=c.get("keepdims", False)), refs)
        if kind in _DROPOUT:
            return self._add(name, Identity(), refs)
        if kind == "Flatten":
            return self._add(name, _lt("flatten")(), refs)
        if kind == "Reshape":
            return self._add(name, _lt("reshape")(shape=tuple(c["target_shape"])), refs)
        if kind == "Permute":
            return self._add(name, _lt("permute")(dims=tuple(c["dims"])), refs)
        if kind == "RepeatVector":
            u = self._add(f"{name}.unsqueeze", ops.Unsqueeze((1,)), refs)
            return self._add(name, ops.Expand((1, int(c["n"]), 1)), [u])
        if kind.startswith("UpSampling"):
            n = int(kind[-2])
            return self._add(name, _lt(f"upsampling{n}d")(size=_tuple(c.get("size", 2), n),
                                                                 interpolation=c.get("interpolation", "nearest")),
                             refs)
        if kind.startswith("ZeroPadding"):
            n = int(kind[-2])
            pairs = _pairs(c.get("padding", 1), n)
            before = (0, *(p[0] for p in pairs), 0)
            after = (0, *(p[1] for p in pairs), 0)
            return self._add(name, ops.Pad((*before, *after)), refs)
        if kind.startswith("Cropping"):
            n = int(kind[-2])
            pairs = _pairs(c.get("cropping", 1), n)
            starts = tuple(p[0] for p in pairs)
            ends = tuple(x[1 + i] - p[1] for i, p in enumerate(pairs))
            return self._add(name, ops.Slice(starts, ends, tuple(range(1, n + 1))), refs)
        if kind == "Embedding":
            layer = _lt("embedding")(num_embeddings=c["input_dim"], embedding_dim=c["output_dim"])
            return self._add(name, layer, refs, tied)
        if kind in ("SimpleRNN", "LSTM", "GRU"):
            return self._recurrent(kind, c, name, refs, tied, bidirectional=False)
        if kind == "Bidirectional":
            inner = c["layer"]
            if c.get("merge_mode", "concat") != "concat":
                raise NetsizeError(f"{name}: Bidirectional merge_mode {c.get('merge_mode')!r} is not supported "
                                   "(only 'concat')")
            return self._recurrent(inner["class_name"], inner["config"], name, refs, tied, bidirectional=True)
        if kind == "MultiHeadAttention":
            return self._mha(c, name, refs, tied)
        if kind == "Attention":
            q, v = refs[0], refs[1]
            k = refs[2] if len(refs) > 2 else v
            kt = self._add(f"{name}.key_t", ops.Transpose((0, 2, 1)), [k])
            scores = self._add(f"{name}.scores", _lt("matmul")(), [q, kt])
            probs = self._add(f"{name}.softmax", _lt("softmax")(dim=-1), [scores])
            return self._add(name, _lt("matmul")(), [probs, v])
        if kind in _MERGES:
            return self._add(name, _lt(_MERGES[kind])(), refs)
        if kind == "Concatenate":
            return self._add(name, _lt("concat")(dim=c.get("axis", -1)), refs)
        if kind == "Activation":
            out = self._activation(name, act, refs[0])
            return out if out != refs[0] else self._add(name, Identity(), refs)
        if kind in ("ReLU", "Softmax", "ELU", "LeakyReLU"):
            act_name = {"ReLU": "relu", "Softmax": "softmax", "ELU": "elu", "LeakyReLU": "leakyrelu"}[kind]
            fields = {"dim": c.get("axis", -1)} if kind == "Softmax" else {}
            return self._add(name, _lt(act_name)(**fields), refs)
        if kind == "Rescaling":
            return self._add(name, ops.Elementwise("rescale", ops=2), refs)
        if kind == "Normalization":
            if c.get("mean") is not None:
                # mean and variance given in the config are constants, not weights: Keras counts 0
                return self._add(name, ops.Elementwise("standardize", ops=2), refs)
            return self._add(name, ops.Standardize(features=x[-1]), refs)
        if kind == "LayerScale":  # keras.applications.convnext's
            return self._add(name, _lt("layerscale")(dim=_positive(c.get("projection_dim"), name, "projection_dim")),
                             refs, tied)
        if kind == "CustomScaleLayer":  # keras.applications.inception_resnet_v2's: x[0] + x[1] * scale
            if len(refs) != 2:
                raise NetsizeError(f"{name}: CustomScaleLayer adds a scaled branch to its input: 2 inputs, got "
                                   f"{len(refs)}")
            scaled = self._add(f"{name}.scale", ops.Elementwise("multiply", ops=1), [refs[1]])
            return self._add(name, _lt("add")(), [refs[0], scaled])
        if kind == "Lambda":
            raise NetsizeError(
                f"{name}: a Lambda layer runs arbitrary Python code that a config cannot describe; replace it "
                "with built-in layers (or a custom layer) to analyse the model"
            )
        raise NetsizeError(f"{name}: the Keras layer {kind} is not supported; {_REPLACE}")

    def _recurrent(self, kind: str, c: dict[str, Any], name: str, refs: list[str], tied: str | None,
                   bidirectional: bool) -> str:
        core = {"SimpleRNN": "rnn", "LSTM": "lstm", "GRU": "gru"}[kind]
        fields: dict[str, Any] = {"hidden_size": c["units"], "bias": c.get("use_bias", True),
                                  "batch_first": True, "bidirectional": bidirectional}
        if core == "gru":
            fields["reset_after"] = c.get("reset_after", True)
        layer = _lt(core)(**fields)
        if c.get("return_sequences", False):
            return self._add(name, layer, refs, tied)
        seq = self._add(f"{name}.{core}", layer, refs, tied)
        steps = self.shapes[seq][1]
        last = self._add(f"{name}.last_step", ops.Slice((steps - 1,), (steps,), (1,)), [seq])
        return self._add(name, ops.Squeeze((1,)), [last])

    def _mha(self, c: dict[str, Any], name: str, refs: list[str], tied: str | None) -> str:
        heads, key_dim = int(c["num_heads"]), int(c["key_dim"])
        value_dim = int(c.get("value_dim") or key_dim)
        bias = c.get("use_bias", True)
        q_ref, v_ref = refs[0], refs[1] if len(refs) > 1 else refs[0]
        k_ref = refs[2] if len(refs) > 2 else v_ref
        out_dim = c.get("output_shape") or self.shapes[q_ref][-1]
        out_dim = out_dim[-1] if isinstance(out_dim, list | tuple) else out_dim
        lin = _lt("linear")
        q = self._add(f"{name}.query", lin(out_features=heads * key_dim, bias=bias), [q_ref])
        k = self._add(f"{name}.key", lin(out_features=heads * key_dim, bias=bias), [k_ref])
        v = self._add(f"{name}.value", lin(out_features=heads * value_dim, bias=bias), [v_ref])
        att = self._add(f"{name}.attention", _lt("sdpa")(num_heads=heads), [q, k, v])
        return self._add(name, lin(out_features=int(out_dim), bias=bias), [att])
