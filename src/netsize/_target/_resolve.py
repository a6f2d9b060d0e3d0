"""What a TARGET names, and how to get its Summary: the one resolver, used by the command
line, the web app, ``plan``, ``llm`` and ``memory``.

A TARGET is a zoo name (``alexnet``), a spec file (``net.yaml``), a Hugging Face
``config.json`` (or a folder holding one, or a model id in the local cache), an ONNX or Keras
file (see ``_formats``), or ``package.module:callable`` returning a ``torch.nn.Module``.
Frontends are imported only when needed: a zoo or spec run never imports torch. The frontends
never import each other; what joins two of them (a PyTorch model that netsize could read from
its Hugging Face config instead) is said here.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netsize._errors import NetsizeError
from netsize._record import record
from netsize._target._values import check_variable_types

if TYPE_CHECKING:  # `netsize --help` builds every parser from this module without the engine
    from netsize._network import Network
    from netsize._summary import Summary

__all__ = ["Target", "is_callable_ref", "load_target", "located", "read_config", "summarize", "target_kind",
           "with_input"]

_CALLABLE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_MODEL_ID = re.compile(r"^[\w.-]+/[\w.-]+$")  # ORG/NAME: a Hugging Face model id


@record(frozen=False)
class Target:
    """A resolved TARGET: a core ``network`` or a torch ``module`` (then ``network`` is None)."""

    name: str
    kind: str  # "zoo", "spec", "hf_config", "onnx", "keras" or "torch"
    network: Network | None = None
    module: Any = None
    input_size: tuple[int, ...] | None = None  # per sample
    convention: str = "torch"
    description: str = ""
    spec: Any = None  # netsize.spec.Spec for spec files (line numbers for errors)
    summary: Summary | None = None  # already analysed (a Hugging Face config built by transformers)
    translation: Any = None  # ONNX/Keras: the frontend's translation (its checks and notes)
    config: dict[str, Any] | None = None  # a Hugging Face config: the config itself


def is_callable_ref(target: str) -> bool:
    """Whether ``target`` is ``package.module:callable`` (and no file of that name exists)."""
    if not _CALLABLE.match(target):
        return False
    try:
        return not Path(target).exists()
    except OSError:
        return True


def load_target(
    target: str,
    *,
    input_size: tuple[int, ...] | dict[str, tuple[int, ...]] | None = None,
    batch_size: int = 1,
    seq_len: int | None = None,
    variables: dict[str, Any] | None = None,
    fc_to_conv: bool = False,
) -> Target:
    """Resolve ``target`` to a network (or a torch module)."""
    variables = dict(variables or {})
    kind = target_kind(target)
    if kind in ("onnx", "keras"):
        from netsize._target import _formats

        network, translation, graph_batch = _formats.load(kind, target, input_size)
        result = Target(name=network.name, kind=kind, network=network, translation=translation,
                        input_size=next(iter(network.inputs.values()), None),
                        convention="keras" if kind == "keras" else "torch")
        if graph_batch is not None and batch_size not in (1, graph_batch):
            raise NetsizeError(f"{target}: the graph's batch axis is {graph_batch}; set it with --input-size, not -b")
    elif kind == "spec":
        result = _spec_target(target, input_size, variables)
    elif kind == "hf_config":
        result = _hf_target(Path(target), input_size, seq_len, variables, batch_size)
    elif kind == "torch":
        result = _torch_target(target, input_size, variables)
    else:
        result = _zoo_target(target, input_size, variables)
    if fc_to_conv:
        if result.network is None:
            raise NetsizeError("--fc-to-conv applies to zoo models and spec files, not to PyTorch modules")
        try:
            from netsize.transforms import fc_to_conv as transform
        except ImportError:
            raise NetsizeError("--fc-to-conv is not available in this installation") from None
        result.network = transform(result.network)
    return result


def target_kind(target: str) -> str:
    """What ``target`` names: ``"onnx"``, ``"keras"``, ``"spec"``, ``"hf_config"``, ``"torch"``
    (a ``module:callable``) or ``"zoo"``; by its name and, for files, their content."""
    from netsize._limits import MAX_TARGET_CHARS
    from netsize._target import _formats

    if len(target) > MAX_TARGET_CHARS:
        raise NetsizeError(f"TARGET has {len(target):,} characters; at most {MAX_TARGET_CHARS:,} are accepted")
    low = target.lower()
    try:
        fmt = _formats.detect(target)
        probe = fmt is None and not low.endswith((".yaml", ".yml", ".json"))
        config_path = _hf_config_path(target) if probe else None
    except OSError as err:  # a name too long for the file system, a loop of links
        raise NetsizeError(f"TARGET {target[:60]!r}{'...' if len(target) > 60 else ''}: {err.strerror}") from None
    if fmt is not None:
        return fmt
    if low.endswith((".yaml", ".yml")):
        return "spec"
    if low.endswith(".json") or config_path is not None or _MODEL_ID.match(target):
        return "hf_config"
    return "torch" if is_callable_ref(target) else "zoo"


def read_config(target: dict[str, Any] | str | Path) -> tuple[dict[str, Any], str]:
    """A Hugging Face config and where it was read (``"config"`` for a dict): a dict, a
    ``config.json``, a folder holding one, or a model id in the local cache (never downloaded)."""
    from netsize.frontends.hf_config import find_config, load_config

    config = dict(load_config(target))
    return config, "config" if isinstance(target, dict) else str(find_config(target))


def summarize(target: Target, *, batch_size: int = 1, convention: str | None = None,
              depth: int | None = None, until: str | None = None) -> Summary:
    """Analyse the target; errors from a spec-defined layer are prefixed with its file and line."""
    from netsize._analyze import analyze

    convention = convention or target.convention
    if target.summary is not None:
        return target.summary
    if target.translation is not None:
        from netsize._target._formats import summarize as summarize_format

        result_format: Summary = summarize_format(target, convention, until)
        return result_format
    if target.network is None:
        from netsize.frontends.torch import summary as torch_summary

        if target.input_size is None:
            raise NetsizeError(f"{target.name}: a PyTorch module needs --input-size (with its batch, e.g. 1,3,224,224)")
        # depth is applied where the rows are drawn (Summary.rows); the tracer keeps every module.
        result: Summary = torch_summary(target.module, input_size=(batch_size, *target.input_size), verbose=0)
        return result
    try:
        return analyze(target.network, batch_size=batch_size, convention=convention, until=until)
    except NetsizeError as err:
        raise located(target, err) from None


def located(target: Target, err: NetsizeError) -> NetsizeError:
    """``err`` with the spec file and line of the layer it names in front (spec targets)."""
    spec = target.spec
    if spec is not None:
        node = str(err).split(" (", 1)[0]
        if node in spec.lines:
            return NetsizeError(f"{spec.where(node)}: {err}")
    return err


def _spec_target(target: str, input_size: Any, variables: dict[str, Any]) -> Target:
    from netsize.spec import read_spec

    spec = read_spec(target, variables)
    network = with_input(spec.network, input_size, target)
    return Target(
        name=network.name,
        kind="spec",
        network=network,
        input_size=next(iter(network.inputs.values()), None),
        convention=spec.convention or "torch",
        description=spec.description,
        spec=spec,
    )


def with_input(network: Network, input_size: Any, target: str) -> Network:
    """``network`` with the input shapes given (one shape, or ``{input name: shape}``)."""
    if input_size is None:
        return network
    if isinstance(input_size, dict):
        unknown = [k for k in input_size if k not in network.inputs]
        if unknown:
            raise NetsizeError(
                f"{target}: no input named {', '.join(unknown)}; its inputs are {', '.join(network.inputs)}"
            )
        return replace(network, inputs={**network.inputs, **input_size})
    if len(network.inputs) != 1:
        raise NetsizeError(
            f"{target} has {len(network.inputs)} inputs ({', '.join(network.inputs)}); "
            "give each as --input-size NAME=SHAPE"
        )
    return replace(network, inputs={next(iter(network.inputs)): tuple(input_size)})


def _zoo_target(target: str, input_size: Any, variables: dict[str, Any]) -> Target:
    from netsize import zoo

    try:
        entry = zoo.get(target)
    except NetsizeError as err:
        if Path(target).suffix:
            raise NetsizeError(f"{err} (a spec file must end in .yaml or .yml)") from None
        raise
    check_variable_types(variables, entry.variables, entry.name)
    from netsize.zoo._build import build_with_input  # the calculator's {"zoo": NAME} builds the same way

    network = build_with_input(entry, input_size, variables)
    return Target(
        name=entry.name,
        kind="zoo",
        network=network,
        input_size=next(iter(network.inputs.values()), None),
        convention=entry.convention,
        description=entry.description,
    )


def _hf_config_path(target: str) -> Path | None:
    """A folder holding config.json, a Hugging Face cache snapshot or a model id in the local cache."""
    if target.lower().endswith((".yaml", ".yml")) or is_callable_ref(target):
        return None
    if not Path(target).is_dir() and "/" not in target:
        return None  # a zoo name
    from netsize.frontends.hf_config import find_config

    return find_config(target)


def _hf_target(path: Path, input_size: Any, seq_len: int | None, variables: dict[str, Any],
               batch_size: int = 1) -> Target:
    if input_size is not None:
        raise NetsizeError(f"{path}: a Hugging Face config takes --seq-len, not --input-size")
    if variables:
        raise NetsizeError(f"{path}: --var applies to zoo models and spec files, not to a Hugging Face config")
    try:
        from netsize.frontends.hf_config import (
            analyse_config,
            find_config,
            is_native,
            load_config,
            network_from_config,
            transformers_model,
        )
    except ImportError:
        raise NetsizeError("reading Hugging Face configs is not available in this installation") from None
    config = find_config(path)
    if config is None:
        from netsize.frontends.hf_config import hub_cache

        raise NetsizeError(f"config {str(path)!r} not found: give a config.json, a folder holding one, or a model id "
                           f"downloaded to the Hugging Face cache ({hub_cache()}); netsize never downloads")
    if not is_native(config):  # through transformers, analysed now at this batch size
        summary = analyse_config(config, seq_len=seq_len, batch_size=batch_size)[0]
        # the model itself too: `netsize memory` observes it with the PyTorch method
        return Target(name=summary.model, kind="hf_config", summary=summary, module=transformers_model(config),
                      config=dict(load_config(config)))
    network = network_from_config(config, seq_len=seq_len) if seq_len else network_from_config(config)
    return Target(name=network.name, kind="hf_config", network=network,
                  input_size=next(iter(network.inputs.values()), None), config=dict(load_config(config)))


def _torch_target(target: str, input_size: Any, variables: dict[str, Any]) -> Target:
    if variables:
        raise NetsizeError(f"{target}: --var applies to zoo models and spec files, not to a PyTorch callable")
    if isinstance(input_size, dict):
        raise NetsizeError(f"{target}: give --input-size as one shape like 3,224,224")
    try:
        from netsize.frontends.torch import load_callable
    except ImportError as err:
        raise NetsizeError(
            f"{target}: summarising a PyTorch module needs torch (pip install 'netsize[torch]'): {err}"
        ) from None
    module = load_callable(target)
    return Target(name=target, kind="torch", module=module, input_size=input_size)
