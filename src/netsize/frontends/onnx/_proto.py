"""ONNX's protobuf schema and shape inference without ``import onnx``.

``import onnx`` costs about a second, nearly all of it ``ml_dtypes`` pulled in by
``onnx.helper``, which reading a graph does not need. Reading needs only ``google.protobuf``
and onnx's generated schema (``onnx_ml_pb2.py``), and the cross-check needs only onnx's
compiled extension (``onnx_cpp2py_export``): both are loaded from the installed onnx package by
path, under the names onnx itself gives them, so that a later ``import onnx`` (to fold a
constant subgraph with ``onnx.reference``, or by the user) finds and reuses them: the same
message classes, the extension loaded once. When onnx is already imported it is used as it is.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from netsize._errors import NetsizeError

if TYPE_CHECKING:
    import numpy as np
else:

    class _Numpy:
        """numpy, imported on first use: a graph with no constant to read or fold never needs
        it (about 0.1 s of a small file's command)."""

        def __getattr__(self, name: str) -> Any:
            import numpy

            return getattr(numpy, name)

    np = _Numpy()

_SCHEMA = "onnx.onnx_ml_pb2"
_EXTENSION = "onnx.onnx_cpp2py_export"


def _package_dir() -> Path:
    spec = importlib.util.find_spec("onnx")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("onnx is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _load(name: str, path: Path, loader: Any = None) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before running it: onnx's own import must find this one
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _schema() -> ModuleType:
    if "onnx" in sys.modules:
        return sys.modules["onnx"]
    if _SCHEMA in sys.modules:
        return sys.modules[_SCHEMA]
    return _load(_SCHEMA, _package_dir() / "onnx_ml_pb2.py")


def _extension() -> ModuleType:
    if _EXTENSION in sys.modules:
        return sys.modules[_EXTENSION]
    root = _package_dir()
    found = [root / f"onnx_cpp2py_export{suffix}" for suffix in importlib.machinery.EXTENSION_SUFFIXES]
    found = [f for f in found if f.is_file()]
    if not found:
        raise ImportError("onnx's compiled extension is missing")
    loader = importlib.machinery.ExtensionFileLoader(_EXTENSION, str(found[0]))
    return _load(_EXTENSION, found[0], loader)


pb: Any = _schema()  # ModelProto, GraphProto, NodeProto, TensorProto, TypeProto, ...


def full_onnx() -> ModuleType:
    """The onnx package itself (for ``onnx.reference``, ``external_data_helper``)."""
    import onnx

    for attr, name in (("onnx_ml_pb2", _SCHEMA), ("onnx_cpp2py_export", _EXTENSION)):
        if not hasattr(onnx, attr) and name in sys.modules:
            setattr(onnx, attr, sys.modules[name])  # what importing the submodule would have bound
    return onnx


def load(path: str | Path) -> Any:
    """The model in ``path``, external weight files not read (as ``onnx.load(path,
    load_external_data=False)``)."""
    model = pb.ModelProto()
    model.ParseFromString(Path(path).read_bytes())
    return model


def infer_shapes(model: Any) -> Any:
    """``onnx.shape_inference.infer_shapes(model)``, without data propagation: onnx's C++ data
    propagation of a hostile graph (mutated shape values) grew one process past 24 GB, beyond any
    bound netsize can set from Python; netsize folds the constants it needs itself, bounded."""
    inferred = _extension().shape_inference.infer_shapes(model.SerializeToString(), False, False, False)
    out = pb.ModelProto()
    out.ParseFromString(inferred)
    return out


_ATTRIBUTE_FIELDS = {
    1: "f", 2: "i", 3: "s", 4: "t", 5: "g", 11: "sparse_tensor", 13: "tp",
    6: "floats", 7: "ints", 8: "strings", 9: "tensors", 10: "graphs", 12: "sparse_tensors", 14: "type_protos",
}


def attribute_value(attr: Any) -> Any:
    """``onnx.helper.get_attribute_value``: the attribute's value by its declared type."""
    if attr.ref_attr_name:
        raise ValueError(f"attribute {attr.name!r} refers to a function's attribute {attr.ref_attr_name!r}")
    field = _ATTRIBUTE_FIELDS.get(int(attr.type))
    if field is None:
        if int(attr.type) == 0:
            return None
        raise ValueError(f"attribute {attr.name!r} has an unknown type {attr.type}")
    value = getattr(attr, field)
    return list(value) if int(attr.type) in (6, 7, 8, 9, 10, 12, 14) else value


def value_info(name: str, elem_type: int, shape: list[int] | None) -> Any:
    """``onnx.helper.make_tensor_value_info``."""
    vi = pb.ValueInfoProto(name=name)
    tensor = vi.type.tensor_type
    tensor.elem_type = elem_type
    if shape is not None:
        tensor.shape.SetInParent()
        for d in shape:
            tensor.shape.dim.add().dim_value = d
    return vi


# element type -> (numpy dtype, the typed field holding the values when there is no raw_data)
_NUMPY: dict[int, tuple[str, str]] = {
    1: ("float32", "float_data"), 2: ("uint8", "int32_data"), 3: ("int8", "int32_data"),
    4: ("uint16", "int32_data"), 5: ("int16", "int32_data"), 6: ("int32", "int32_data"),
    7: ("int64", "int64_data"), 9: ("bool", "int32_data"), 11: ("float64", "double_data"),
    12: ("uint32", "uint64_data"), 13: ("uint64", "uint64_data"),
}


def to_array(tensor: Any) -> Any:
    """``onnx.numpy_helper.to_array`` for the plain numeric types (shapes, indices, scales,
    float32 tables); other types through onnx's own helper."""
    if tensor.data_location == pb.TensorProto.EXTERNAL:
        raise NetsizeError(f"tensor {tensor.name!r} is stored in an external file")
    known = _NUMPY.get(int(tensor.data_type))
    if known is None:
        from onnx import numpy_helper

        full_onnx()
        return numpy_helper.to_array(tensor)
    dtype, field = np.dtype(known[0]), known[1]
    shape = tuple(int(d) for d in tensor.dims)
    if tensor.HasField("raw_data"):
        values = np.frombuffer(tensor.raw_data, dtype=dtype.newbyteorder("<"))
    else:
        values = np.asarray(getattr(tensor, field), dtype=dtype)
    return values.astype(dtype, copy=False).reshape(shape)
