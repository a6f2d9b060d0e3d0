"""A Network written back as a spec (YAML text): what the web calculator puts in its editor when
a user picks a zoo model.

Every node becomes one flat entry: dotted names (``layer1.0.conv1``) are written with ``_``
(``layer1_0_conv1``), since a spec name may not hold a dot, and ``from`` is written wherever a
node does not take the one before it. Fields are those that differ from the layer's defaults,
less the sizes the analysis infers from the input (``in_channels``, ``in_features``,
``num_features``), so that an edit upstream carries through.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from netsize._errors import NetsizeError
from netsize._network import Network
from netsize.layers import layer_names

# Sizes the analysis infers from the input: left out, so that an edit upstream carries through.
_INFERRED = ("in_channels", "in_features", "num_features")


def _spec_name(name: str) -> str:
    return name.replace(".", "_")


def _type_name(cls: type) -> str:
    for key, c in layer_names().items():
        if c is cls and key == cls.__name__.lower():
            return key
    for key, c in layer_names().items():
        if c is cls:
            return key
    raise NetsizeError(f"layer type {cls.__name__} has no spec name")


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _ref(ref: str, renamed: dict[str, str]) -> str:
    name, colon, index = ref.partition(":")
    return renamed.get(name, name) + (colon + index if colon else "")


def network_to_spec(network: Network, convention: str = "torch") -> dict[str, Any]:
    """The spec (as plain data) that loads back into ``network``."""
    renamed: dict[str, str] = {}
    for node in network.nodes:
        new = _spec_name(node.name)
        if new in renamed.values() or new in network.inputs:
            raise NetsizeError(f"cannot write {network.name!r} as a spec: two nodes become {new!r}")
        renamed[node.name] = new
    layers: list[Any] = []
    previous = next(iter(network.inputs)) if len(network.inputs) == 1 else None
    for node in network.nodes:
        entry: dict[str, Any] = {"type": _type_name(type(node.layer))}
        for f in dataclasses.fields(node.layer):  # type: ignore[arg-type]
            if not f.init or f.name in _INFERRED:
                continue
            value = getattr(node.layer, f.name)
            default = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING
            )  # fmt: skip
            if default is dataclasses.MISSING or value != default:
                entry[f.name] = _plain(value)
        refs = [_ref(r, renamed) for r in node.inputs]
        if refs != ([previous] if previous is not None else []):
            entry["from"] = refs[0] if len(refs) == 1 else refs
        if not node.trainable:
            entry["trainable"] = False
        if node.tied_to:
            entry["tied_to"] = renamed.get(node.tied_to, node.tied_to)
        layers.append({renamed[node.name]: entry})
        previous = renamed[node.name]
    spec: dict[str, Any] = {"name": network.name}
    if len(network.inputs) == 1 and "input" in network.inputs:
        spec["input"] = list(network.inputs["input"])
    else:
        spec["inputs"] = {k: list(v) for k, v in network.inputs.items()}
    if network.layout != "channels_first":
        spec["layout"] = network.layout
    if convention != "torch":
        spec["convention"] = convention
    spec["layers"] = layers
    if network.outputs and list(network.outputs) != [network.nodes[-1].name]:
        spec["outputs"] = [_ref(o, renamed) for o in network.outputs]
    return spec


def dump_spec(network: Network, convention: str = "torch") -> str:
    """``network`` as spec YAML text, one layer per line.

    >>> import netsize
    >>> text = dump_spec(netsize.zoo.get("lenet5").build())
    >>> text.splitlines()[0]
    'name: lenet5'
    """
    import yaml

    data = network_to_spec(network, convention)
    head = {k: v for k, v in data.items() if k not in ("layers", "outputs")}
    lines = [yaml.safe_dump(head, sort_keys=False, default_flow_style=None, width=200).rstrip()]
    lines.append("layers:")
    for item in data["layers"]:
        ((name, entry),) = item.items()
        if list(entry) == ["type"]:
            body = entry["type"]
        else:
            body = yaml.safe_dump(entry, default_flow_style=True, sort_keys=False, width=10_000).strip()
        lines.append(f"  - {name}: {body}")
    if "outputs" in data:
        lines.append(yaml.safe_dump({"outputs": data["outputs"]}, default_flow_style=None).rstrip())
    return "\n".join(lines) + "\n"
