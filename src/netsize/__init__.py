"""netsize: how big a neural network is, before you run it.

Every layer's output shape, weights, biases, multiply-adds, FLOPs and activation memory,
exact and explained, from arithmetic on shapes alone.

>>> import netsize
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

from netsize import layers
from netsize._analyze import analyze, analyze_layer
from netsize._dtypes import DTYPE_BITS, canonical_dtype, dtype_bytes
from netsize._errors import NetsizeError
from netsize._i18n import register_messages, translate
from netsize._layer import CONVENTIONS, Analysis, AttentionCall, Context, Layer, MemoryContract, Window
from netsize._network import Graph, Network, Node, Sequential
from netsize._registry import layer_names, layer_type, register_layer
from netsize._shape import CHANNELS_FIRST, CHANNELS_LAST, Shape
from netsize._summary import SCHEMA_VERSION, LayerRecord, ReceptiveField, Summary, Totals, explain_record
from netsize._term import Message, Term

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


_LAZY_SUBMODULES = ("llm", "memory", "render", "schedule", "spec", "transforms", "zoo")


def __getattr__(name: str) -> object:
    # netsize.summary needs torch, and the outer subpackages are not needed by the core:
    # importing them on first use keeps `import netsize` small and free of torch.
    if name == "summary":
        from netsize.frontends.torch import summary

        return summary
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"netsize.{name}")
    raise AttributeError(f"module 'netsize' has no attribute {name!r}")
