"""Model files the command line recognises by extension and content: ONNX and Keras.

``detect(path)`` says ``"onnx"``, ``"keras"`` or None (not one of these: the caller tries its
other targets), and refuses with what to do the formats netsize does not read (TensorFlow
SavedModel, Keras 2 ``.h5``, TFLite). Frontends are imported only for their own files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from netsize._errors import NetsizeError

_HDF5 = b"\x89HDF\r\n\x1a\n"
_TO_KERAS = "load it with Keras and save it as `model.save('m.keras')` (or write `model.to_json()` to a file)"


def _is_keras_json(path: Path) -> bool:
    import json

    from netsize._limits import MAX_CONFIG_BYTES, read_bounded_text

    try:  # bounded: a JSON file past the config bound is refused here, not read whole to sniff it
        data = json.loads(read_bounded_text(path, MAX_CONFIG_BYTES, "config"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):  # not JSON, or past json's bounds:
        return False  # the config reader refuses it with the bound (netsize._limits)
    return isinstance(data, dict) and "class_name" in data and "config" in data and "model_type" not in data


def detect(target: str) -> str | None:
    """The format of the file (or folder) ``target`` names, by extension, then by content."""
    from netsize._limits import refuse_special_file

    refuse_special_file(target)  # before anything below opens it: a FIFO would block, a device never end
    path = Path(target)
    low = target.lower()
    if path.is_dir():
        if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
            raise NetsizeError(
                f"{target} is a TensorFlow SavedModel, which netsize does not read. For a Keras model, "
                f"{_TO_KERAS}; otherwise convert it to ONNX (python -m tf2onnx.convert --saved-model {target} "
                "--output model.onnx) and give netsize the .onnx file"
            )
        if (path / "config.json").is_file() and (path / "model.weights.h5").is_file():
            return "keras"
        return None
    if low.endswith((".pb", ".pbtxt")) and not path.is_dir():
        raise NetsizeError(
            f"{target} is a TensorFlow graph protobuf, which netsize does not read; convert it to ONNX "
            "with tf2onnx and give netsize the .onnx file"
        )
    if low.endswith(".tflite"):
        raise NetsizeError(f"{target} is a TensorFlow Lite model, which netsize does not read; convert the source "
                           "model to ONNX or save it as .keras")
    if not path.is_file():
        if low.endswith((".onnx", ".keras", ".h5", ".hdf5")):
            raise NetsizeError(f"file not found: {target}")
        return None
    with path.open("rb") as f:
        head = f.read(8)
    if head == _HDF5 or low.endswith((".h5", ".hdf5")):
        raise NetsizeError(
            f"{target} is an HDF5 file: a Keras 2 model (or Keras weights only), which netsize does not read. "
            f"It reads the model's JSON config: {_TO_KERAS}"
        )
    if low.endswith(".onnx"):
        return "onnx"
    import zipfile  # here, not at the top: `netsize summary resnet50` never opens a file

    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
        if "config.json" in names:
            return "keras"
        if low.endswith(".keras"):
            raise NetsizeError(f"{target}: a .keras file must be a zip holding config.json (found {sorted(names)})")
        return None
    if low.endswith(".json"):
        return "keras" if _is_keras_json(path) else None
    if low.endswith(".keras"):
        raise NetsizeError(f"{target}: not a .keras zip archive")
    if not path.suffix and head[:1] == b"\x08":  # a protobuf starting with ir_version (field 1)
        return "onnx"
    return None


def load(fmt: str, target: str, input_size: Any) -> tuple[Any, Any, int | None]:
    """``(network, translation, batch_size)`` for a detected file."""
    if fmt == "onnx":
        try:
            from netsize.frontends.onnx import network_from_onnx
        except ImportError:
            raise NetsizeError(f"{target}: reading ONNX needs the onnx package (pip install 'netsize[onnx]')") from None
        sizes = input_size
        if isinstance(input_size, tuple):
            from netsize.frontends.onnx import input_symbols, load_model

            names = list(input_symbols(load_model(target)))
            if len(names) != 1:
                raise NetsizeError(f"{target} has inputs {', '.join(names)}; give each as --input-size NAME=SHAPE")
            sizes = {names[0]: input_size}
        graph = network_from_onnx(target, sizes)
        return graph.network, graph, graph.batch_size
    from netsize.frontends.keras import network_from_keras

    # --input-size fills the None axes of the model's inputs (channels-last, per sample)
    model = network_from_keras(target, input_size)
    return model.network, model, None


def summarize(target: Any, convention: str, until: str | None) -> Any:
    """The Summary of an ONNX or Keras target, with its frontend's checks and notes."""
    from dataclasses import replace

    from netsize._analyze import analyze

    translation = target.translation
    if target.kind == "onnx":
        from netsize.frontends.onnx import check_shapes

        result = analyze(target.network, batch_size=translation.batch_size, convention=convention, until=until)
        if until is None:
            check_shapes(result, translation)
        return replace(result, notes=(*result.notes, *translation.notes))
    result = analyze(target.network, batch_size=1, convention=convention, until=until)
    return translation.finish(result)
