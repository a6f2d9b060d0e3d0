"""The work behind one API request, run in a worker process (:mod:`._worker`): the request's
source analysed through netsize's public APIs, and the answer encoded, ready to send.

Nothing here names a file from the request or imports code a request names: a zoo source is a
name from the zoo's own list, built by the zoo entry itself with the input size the command
line applies (:func:`netsize.zoo._build.build_with_input`); spec and config texts are read as
texts; an uploaded file is written, under a fixed name chosen from its format, into a private
temporary folder removed afterwards. torch, onnx and transformers are imported only by the
frontends that need them.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

from netsize._errors import NetsizeError

_LINE = re.compile(r":(\d+):")
_ZIP = b"PK\x03\x04"
_HDF5 = b"\x89HDF\r\n\x1a\n"


def analyze_request(body: dict[str, Any]) -> tuple[Any, Any]:
    """(Summary, MemoryReport) of an API request body (``{"zoo": "alexnet", "input_size":
    "3,224,224"}``), in this process; a NetsizeError for a body the API refuses and for what
    netsize refuses (with the spec line when known)."""
    from netsize.serve._request import BadRequest, parse_body

    try:
        request = parse_body(json.dumps(body).encode())
    except (BadRequest, TypeError, ValueError) as err:
        raise NetsizeError(str(err)) from None
    return analyze_checked(request)


def analyze_checked(request: dict[str, Any]) -> tuple[Any, Any]:
    """:func:`analyze_request` of a body already checked by :func:`netsize.serve._request.parse_body`."""
    source = request["source"]
    batch: int = request["batch_size"]
    input_size = request.get("input_size")
    if source == "zoo":
        return _zoo(request["zoo"], input_size, batch)
    if source == "spec":
        return _spec(request["spec"], input_size, batch)
    with tempfile.TemporaryDirectory(prefix="netsize-serve-") as tmp:  # mode 0700, removed on exit
        if source == "config":
            path = Path(tmp) / "config.json"
            path.write_text(request["config"], encoding="utf-8")
            return _config(path, input_size, batch)
        return _file(request["file"], Path(tmp), input_size, batch)


def _zoo(name: str, input_size: Any, batch: int) -> tuple[Any, Any]:
    from netsize._analyze import analyze
    from netsize.memory import estimate
    from netsize.zoo import get
    from netsize.zoo._build import build_with_input

    entry = get(name)
    network = build_with_input(entry, input_size)
    summary = analyze(network, batch_size=batch, convention=entry.convention)
    return summary, estimate(network, batch_size=batch)


def _spec(text: str, input_size: Any, batch: int) -> tuple[Any, Any]:
    from dataclasses import replace

    from netsize._analyze import analyze
    from netsize.memory import estimate
    from netsize.spec import read_spec

    # read_spec takes one line ending in .yaml for a path: with a newline it is always text
    spec = read_spec(text + "\n")
    network = spec.network
    if input_size is not None:
        if len(network.inputs) != 1:
            raise NetsizeError(f"<spec> has {len(network.inputs)} inputs ({', '.join(network.inputs)}); "
                               "the calculator's input size sets a network with one input")
        network = replace(network, inputs={next(iter(network.inputs)): tuple(input_size)})
    try:
        summary = analyze(network, batch_size=batch, convention=spec.convention or "torch")
    except NetsizeError as err:
        node = str(err).split(" (", 1)[0]
        line = spec.lines.get(node)
        raise NetsizeError(f"<spec>:{line}: {err}" if line else str(err)) from None
    return summary, estimate(network, batch_size=batch)


def _config(path: Path, input_size: Any, batch: int) -> tuple[Any, Any]:
    if input_size is not None:
        raise NetsizeError("a Hugging Face config takes its sequence length from the config, not an input size")
    from netsize._analyze import analyze
    from netsize.frontends.hf_config import analyse_config, is_native, network_from_config, transformers_model
    from netsize.memory import estimate

    if is_native(path):
        network = network_from_config(path)
        return analyze(network, batch_size=batch), estimate(network, batch_size=batch)
    summary = analyse_config(path, batch_size=batch)[0]  # through transformers, on the meta device
    return summary, estimate(transformers_model(path), batch_size=batch)


def _format(raw: bytes) -> str:
    """``onnx``, ``keras`` (a .keras zip), ``keras-json`` or ``config``, from the bytes alone."""
    if raw.startswith(_HDF5):
        raise NetsizeError("the file is HDF5: a Keras 2 model (or weights only), which netsize does not read; "
                           "save the model as .keras (model.save('m.keras')) or write model.to_json() to a file")
    if raw.startswith(_ZIP):
        return "keras"
    if raw.lstrip()[:1] == b"{":
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            raise NetsizeError("the file starts like JSON but is not JSON") from None
        if isinstance(data, dict) and "class_name" in data and "config" in data and "model_type" not in data:
            return "keras-json"
        return "config"
    return "onnx"


def _file(raw: bytes, folder: Path, input_size: Any, batch: int) -> tuple[Any, Any]:
    from dataclasses import replace

    from netsize._analyze import analyze
    from netsize.memory import estimate

    fmt = _format(raw)
    path = folder / {"onnx": "model.onnx", "keras": "model.keras", "keras-json": "model.json",
                     "config": "config.json"}[fmt]
    path.write_bytes(raw)
    if fmt == "config":
        return _config(path, input_size, batch)
    if fmt == "onnx":
        try:
            from netsize.frontends.onnx import check_shapes, input_symbols, load_model, network_from_onnx
        except ImportError:
            raise NetsizeError("reading ONNX needs the onnx package (pip install 'netsize[onnx]')") from None
        sizes = None
        if input_size is not None:
            names = list(input_symbols(_read(load_model, path)))
            if len(names) != 1:
                raise NetsizeError(f"the model has inputs {', '.join(names)}; the calculator sets one input's size")
            sizes = {names[0]: tuple(input_size)}
        graph = _read(network_from_onnx, path, sizes)
        if batch not in (1, graph.batch_size):
            raise NetsizeError(f"the graph's batch axis is {graph.batch_size}; set it with the input size")
        result = analyze(graph.network, batch_size=graph.batch_size)
        check_shapes(result, graph)
        summary = replace(result, notes=(*result.notes, *graph.notes))
        return summary, estimate(graph.network, batch_size=graph.batch_size)
    if input_size is not None:
        raise NetsizeError("a Keras model's input shapes come from its config; the input size is not used")
    from netsize.frontends.keras import network_from_keras

    model = _read(network_from_keras, path)
    summary = model.finish(analyze(model.network, batch_size=1, convention="keras"))
    return summary, estimate(model.network, batch_size=batch)


def _read(reader: Any, *args: Any) -> Any:
    """A frontend's reader on an uploaded file; what it fails with beyond NetsizeError is a file
    it cannot parse, said in one line."""
    try:
        return reader(*args)
    except NetsizeError as err:
        raise NetsizeError(str(err).replace(str(args[0]), "the uploaded file")) from None
    except RecursionError:
        raise NetsizeError("the uploaded file is nested too deep to read") from None
    except MemoryError:
        raise NetsizeError("the uploaded file needs more memory to read than a calculator worker may use "
                           "(netsize serve bounds each worker's address space)") from None
    except Exception as err:
        raise NetsizeError(f"the uploaded file is not a model netsize reads: {type(err).__name__}: "
                           f"{str(err).splitlines()[0][:200] if str(err) else ''}") from None


def zoo_listing() -> list[dict[str, str]]:
    """The zoo's models as the page lists them: each name and description."""
    from netsize import zoo

    return [{"name": n, "description": zoo.get(n).description} for n in zoo.names()]


def zoo_spec_text(name: str) -> str:
    """A zoo model as spec text for the page's editor (its names, tree and fixed sizes kept)."""
    from netsize import zoo
    from netsize.spec._dump import dump_spec

    entry = zoo.get(name)
    return dump_spec(entry.build(), entry.convention)


def error_json(err: BaseException) -> dict[str, Any]:
    """``{"error": MESSAGE, "line": N or None}``: the spec line is the one the message names."""
    text = str(err)
    m = _LINE.search(text.splitlines()[0] if text else "")
    return {"error": text, "line": int(m.group(1)) if m else None}


def answer(request: dict[str, Any], endpoint: str) -> tuple[int, str, bytes]:
    """``(status, content type, body)`` of a checked request for ``analyze`` or ``report``:
    the analysis and its encoding, both inside the worker's time."""
    try:
        summary, memory = analyze_checked(request)
    except NetsizeError as err:
        return 422, "application/json", _json(error_json(err))
    from netsize.report import report_data

    data = report_data(summary, memory)
    if endpoint == "report":
        from netsize.render._html import page

        return 200, "text/html; charset=utf-8", page(data, mode="report").encode("utf-8")
    return 200, "application/json", _json(data)


def _json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
