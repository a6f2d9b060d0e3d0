"""What a TARGET on the command line names, and how to get its Summary.

A TARGET is a zoo name (``alexnet``), a spec file (``net.yaml``), a Hugging Face
``config.json`` (or a folder holding one), an ONNX or Keras file (see ``_formats``), or
``package.module:callable`` returning a ``torch.nn.Module``. Frontends are imported only when
needed: a zoo or spec run never imports torch.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netsize._errors import NetsizeError
from netsize._record import record
from netsize.cli._values import check_variable_types, parse_input_sizes, parse_shape, parse_variables
from netsize.cli._values import positive_int as _positive

if TYPE_CHECKING:  # `netsize --help` builds every parser from this module without the engine
    from netsize._network import Network
    from netsize._summary import Summary

__all__ = ["Target", "add_target_arguments", "load_target", "located", "parse_input_sizes", "parse_shape",
           "parse_variables", "summarize", "target_from_args"]

_CALLABLE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_MODEL_ID = re.compile(r"^[\w.-]+/[\w.-]+$")  # ORG/NAME: a Hugging Face model id


@record(frozen=False)
class Target:
    """A resolved TARGET: a core ``network`` or a torch ``module`` (then ``network`` is None)."""

    name: str
    kind: str  # "zoo", "spec", "hf_config" or "torch"
    network: Network | None = None
    module: Any = None
    input_size: tuple[int, ...] | None = None  # per sample
    convention: str = "torch"
    description: str = ""
    spec: Any = None  # netsize.spec.Spec for spec files (line numbers for errors)
    summary: Summary | None = None  # already analysed (a Hugging Face config built by transformers)
    translation: Any = None  # ONNX/Keras: the frontend's translation (its checks and notes)


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """TARGET and the options that choose the network's input; shared by summary, explain and others."""
    parser.add_argument("target", metavar="TARGET",
                        help="zoo name (see `netsize zoo`), spec file (.yaml), HF config.json, or pkg.module:callable")
    parser.add_argument("-i", "--input-size", metavar="SHAPE", action="append",
                        help="input shape replacing the model's: per sample for zoo, spec and config targets "
                        "(3,224,224 or 3x224x224; NAME=SHAPE for several inputs, repeatable); for a PyTorch "
                        "callable the full shape with its batch axis, as torchinfo takes it (1,3,224,224)")
    parser.add_argument("-b", "--batch-size", type=_positive, default=None, metavar="N",
                        help="batch size (default 1, or the first axis of a PyTorch callable's --input-size)")
    parser.add_argument("--seq-len", type=_positive, metavar="N", help="sequence length (Hugging Face configs)")
    parser.add_argument("--var", metavar="NAME=VALUE", action="append", default=[],
                        help="set a model variable, e.g. --var num_classes=10 (repeatable)")
    parser.add_argument("--convention", choices=("torch", "keras"),
                        help="counting convention (default: the model's own, else torch)")
    parser.add_argument("--fc-to-conv", action="store_true",
                        help="replace fully connected layers by equivalent convolutions")


def target_from_args(args: argparse.Namespace) -> Target:
    """Resolve TARGET; also settles ``args.batch_size`` (a PyTorch callable's shape carries its batch)."""
    input_size = parse_input_sizes(args.input_size)
    if _is_callable_ref(args.target) and isinstance(input_size, tuple):
        if len(input_size) < 2:
            raise NetsizeError(
                f"{args.target}: --input-size for a PyTorch callable is the full shape with the batch axis "
                f"first, e.g. 1,3,224,224 (got {','.join(map(str, input_size))})"
            )
        args.batch_size = args.batch_size or input_size[0]
        input_size = input_size[1:]
    args.batch_size = args.batch_size or 1
    return load_target(
        args.target,
        input_size=input_size,
        batch_size=args.batch_size,
        seq_len=args.seq_len,
        variables=parse_variables(args.var),
        fc_to_conv=args.fc_to_conv,
    )


def _is_callable_ref(target: str) -> bool:
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
    from netsize._limits import MAX_TARGET_CHARS

    variables = dict(variables or {})
    if len(target) > MAX_TARGET_CHARS:
        raise NetsizeError(f"TARGET has {len(target):,} characters; at most {MAX_TARGET_CHARS:,} are accepted")
    path = Path(target)
    low = target.lower()
    from netsize.cli import _formats

    try:
        fmt = _formats.detect(target)
        probe = fmt is None and not low.endswith((".yaml", ".yml", ".json"))
        config_path = _hf_config_path(target) if probe else None
    except OSError as err:  # a name too long for the file system, a loop of links
        raise NetsizeError(f"TARGET {target[:60]!r}{'...' if len(target) > 60 else ''}: {err.strerror}") from None
    if fmt is not None:
        network, translation, graph_batch = _formats.load(fmt, target, input_size)
        result = Target(name=network.name, kind=fmt, network=network, translation=translation,
                        input_size=next(iter(network.inputs.values()), None),
                        convention="keras" if fmt == "keras" else "torch")
        if graph_batch is not None and batch_size not in (1, graph_batch):
            raise NetsizeError(f"{target}: the graph's batch axis is {graph_batch}; set it with --input-size, not -b")
    elif low.endswith((".yaml", ".yml")):
        result = _spec_target(target, input_size, variables)
    elif low.endswith(".json") or config_path is not None or _MODEL_ID.match(target):
        result = _hf_target(path, input_size, seq_len, variables, batch_size)
    elif _is_callable_ref(target):
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


def summarize(target: Target, *, batch_size: int = 1, convention: str | None = None,
              depth: int | None = None, until: str | None = None) -> Summary:
    """Analyse the target; errors from a spec-defined layer are prefixed with its file and line."""
    from netsize._analyze import analyze

    convention = convention or target.convention
    if target.summary is not None:
        return target.summary
    if target.translation is not None:
        from netsize.cli._formats import summarize as summarize_format

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
    network = _with_input(spec.network, input_size, target)
    return Target(
        name=network.name,
        kind="spec",
        network=network,
        input_size=next(iter(network.inputs.values()), None),
        convention=spec.convention or "torch",
        description=spec.description,
        spec=spec,
    )


def _with_input(network: Network, input_size: Any, target: str) -> Network:
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
    if isinstance(input_size, dict):
        raise NetsizeError(f"{entry.name} has one input; give --input-size as a shape like 3,224,224")
    check_variable_types(variables, entry.variables, entry.name)
    if input_size is not None:
        variables["input_shape"] = tuple(input_size)
    try:
        network = entry.build(**variables)
    except (TypeError, ValueError, OverflowError, ZeroDivisionError) as err:  # a value the builder cannot use
        given = ", ".join(f"{k}={v!r}" for k, v in variables.items())
        raise NetsizeError(f"{entry.name}: cannot build with {given}: {err}") from None
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
    if target.lower().endswith((".yaml", ".yml")) or _is_callable_ref(target):
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
        return Target(name=summary.model, kind="hf_config", summary=summary, module=transformers_model(config))
    network = network_from_config(config, seq_len=seq_len) if seq_len else network_from_config(config)
    return Target(name=network.name, kind="hf_config", network=network,
                  input_size=next(iter(network.inputs.values()), None))


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
