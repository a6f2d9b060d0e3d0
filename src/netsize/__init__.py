"""netsize: how big a neural network is, before you run it.

Every layer's output shape, weights, biases, multiply-adds, FLOPs and activation memory,
exact and explained, from arithmetic on shapes alone.

A zoo model, a spec file and the builder API:

>>> import netsize
>>> netsize.analyze(netsize.zoo.get("alexnet")).totals.params
62378344
>>> spec = {"name": "mlp", "input": [784], "layers": [{"fc": {"type": "linear", "out_features": 10}}]}
>>> netsize.analyze(netsize.spec.load_spec(spec)).totals.params  # or load_spec("path/to/spec.yaml")
7850
>>> from netsize import layers
>>> net = netsize.Sequential(
...     [("conv1", layers.Conv2d(3, 96, 11, stride=4)), ("relu1", layers.ReLU())],
...     input_shape=(3, 227, 227),
... )
>>> s = netsize.analyze(net)
>>> s.layer("conv1").output_shape, s.layer("conv1").params
((1, 96, 55, 55), 34944)
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (a few ms at start-up)

__version__ = "0.1.0"

__all__ = [
    "CHANNELS_FIRST",
    "CHANNELS_LAST",
    "CONVENTIONS",
    "DTYPE_BITS",
    "SCHEMA_VERSION",
    "Analysis",
    "AttentionCall",
    "Context",
    "Graph",
    "Layer",
    "LayerRecord",
    "MemoryContract",
    "Message",
    "NetsizeError",
    "Network",
    "Node",
    "ReceptiveField",
    "Sequential",
    "Shape",
    "Summary",
    "Term",
    "Totals",
    "Window",
    "__version__",
    "analyze",
    "analyze_layer",
    "canonical_dtype",
    "dtype_bytes",
    "explain_record",
    "layer_names",
    "layer_type",
    "layers",
    "register_layer",
    "register_messages",
    "summary",
    "translate",
]


# Every name is imported on first use (PEP 562): `netsize --help` and `netsize zoo` must not pay
# for the analysis engine, and the outer subpackages (and torch, behind netsize.summary) load only
# when asked for. The TYPE_CHECKING imports below give type checkers the same names.
_LAZY: dict[str, str] = {
    "layers": "netsize.layers",
    "analyze": "netsize._analyze",
    "analyze_layer": "netsize._analyze",
    "DTYPE_BITS": "netsize._dtypes",
    "canonical_dtype": "netsize._dtypes",
    "dtype_bytes": "netsize._dtypes",
    "NetsizeError": "netsize._errors",
    "register_messages": "netsize._i18n",
    "translate": "netsize._i18n",
    "CONVENTIONS": "netsize._layer",
    "Analysis": "netsize._layer",
    "AttentionCall": "netsize._layer",
    "MemoryContract": "netsize._layer",
    "Context": "netsize._layer",
    "Layer": "netsize._layer",
    "Window": "netsize._layer",
    "Graph": "netsize._network",
    "Network": "netsize._network",
    "Node": "netsize._network",
    "Sequential": "netsize._network",
    "layer_names": "netsize.layers",
    "layer_type": "netsize.layers",
    "register_layer": "netsize._registry",
    "CHANNELS_FIRST": "netsize._shape",
    "CHANNELS_LAST": "netsize._shape",
    "Shape": "netsize._shape",
    "SCHEMA_VERSION": "netsize._summary",
    "LayerRecord": "netsize._summary",
    "ReceptiveField": "netsize._summary",
    "Summary": "netsize._summary",
    "Totals": "netsize._summary",
    "explain_record": "netsize._summary",
    "Message": "netsize._term",
    "Term": "netsize._term",
}

_LAZY_SUBMODULES = ("llm", "memory", "render", "schedule", "spec", "transforms", "zoo")


def __getattr__(name: str) -> object:
    import importlib

    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        value = module if name == "layers" else getattr(module, name)
        globals()[name] = value
        return value
    # netsize.summary needs torch, and the outer subpackages are not needed by the core.
    if name == "summary":
        from netsize.frontends.torch import summary

        return summary
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"netsize.{name}")
    raise AttributeError(f"module 'netsize' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


# The TYPE_CHECKING imports also cover netsize.summary and the outer subpackages (with `as`, so
# that mypy --strict counts them as exported): user code type-checks (tests/test_typing.py).
if TYPE_CHECKING:
    from netsize import layers
    from netsize import llm as llm
    from netsize import memory as memory
    from netsize import render as render
    from netsize import schedule as schedule
    from netsize import spec as spec
    from netsize import transforms as transforms
    from netsize import zoo as zoo
    from netsize._analyze import analyze, analyze_layer
    from netsize._dtypes import DTYPE_BITS, canonical_dtype, dtype_bytes
    from netsize._errors import NetsizeError
    from netsize._i18n import register_messages, translate
    from netsize._layer import CONVENTIONS, Analysis, AttentionCall, Context, Layer, MemoryContract, Window
    from netsize._network import Graph, Network, Node, Sequential
    from netsize._registry import register_layer
    from netsize._shape import CHANNELS_FIRST, CHANNELS_LAST, Shape
    from netsize._summary import SCHEMA_VERSION, LayerRecord, ReceptiveField, Summary, Totals, explain_record
    from netsize._term import Message, Term
    from netsize.frontends.torch import summary
    from netsize.layers import layer_names, layer_type
