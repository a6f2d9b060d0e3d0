"""A Network written back as a spec (YAML text): what the web calculator puts in its editor when
a user picks a zoo model.

The block tree is kept: a dotted node name (``layer1.0.conv1``) becomes a group ``layer1``
holding a group ``0`` holding the layer ``conv1`` (a spec name may not hold a dot; groups give
their layers the dotted names back), so the spec loads into a network with the same names, the
same tree and the same rows. ``from`` is written wherever a node does not take the one before it,
as the shortest name that reaches it from where it is written (``bn2`` inside ``layer1.0``,
``layer1.1.relu@2`` from the top). Fields are those that differ from the layer's defaults; a size
the analysis could infer (``in_features``) is written when the network fixes it, so that the
spec refuses an input the network refuses.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from netsize._errors import NetsizeError
from netsize._network import Network
from netsize.layers import layer_names

# Names written without quotes: anything else (``0``, ``yes``, ``relu@2``) is quoted.
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_YAML_WORDS = {"y", "yes", "n", "no", "true", "false", "on", "off", "null"}


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


def _fields(layer: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": _type_name(type(layer))}
    for f in dataclasses.fields(layer):
        if not f.init:
            continue
        value = getattr(layer, f.name)
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING
        )  # fmt: skip
        if default is dataclasses.MISSING or value != default:
            entry[f.name] = _plain(value)
    return entry


class _Writer:
    """Turns the nodes, in order, into nested groups, tracking the names each open group holds."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self.top: list[Any] = []
        self.path: list[str] = []  # the open groups, outermost first
        self.lists: list[list[Any]] = [self.top]  # the layer list of the top and of each open group
        self.local: list[set[str]] = [set(network.inputs)]  # names written so far at each level
        self.previous = next(iter(network.inputs)) if len(network.inputs) == 1 else None

    def _open(self, parts: list[str], node: str) -> None:
        keep = 0
        while keep < min(len(self.path), len(parts)) and self.path[keep] == parts[keep]:
            keep += 1
        del self.path[keep:], self.lists[keep + 1:], self.local[keep + 1:]
        for part in parts[keep:]:
            if part in self.local[-1]:  # the group was closed before: its nodes are not contiguous
                raise NetsizeError(f"cannot write {self.network.name!r} as a spec: the nodes of "
                                   f"{'.'.join([*self.path, part])!r} are not consecutive (at {node!r})")
            self.local[-1].add(part)
            group: list[Any] = []
            self.lists[-1].append({part: {"layers": group}})
            self.path.append(part)
            self.lists.append(group)
            self.local.append(set())

    def ref(self, ref: str, node: str) -> str:
        """``ref`` (a global node or input name) as the name that reaches it from ``node``'s group."""
        name, colon, port = ref.partition(":")
        parts = name.split(".")
        common = 0
        while common < min(len(self.path), len(parts) - 1) and self.path[common] == parts[common]:
            common += 1
        rest = parts[common:]
        # a name in a deeper open group would be found first: such a spec would mean another node
        if any(rest[0] in names for names in self.local[common + 1:]):
            raise NetsizeError(f"cannot write {self.network.name!r} as a spec: {node!r} takes {ref!r}, "
                               f"which a nearer name {rest[0]!r} hides")
        return ".".join(rest) + (colon + port)

    def add(self, node: Any) -> None:
        parts = node.name.split(".")
        if any(not p or ":" in p for p in parts):
            raise NetsizeError(f"cannot write {self.network.name!r} as a spec: node name {node.name!r}")
        self._open(parts[:-1], node.name)
        leaf = parts[-1]
        if leaf in self.local[-1]:
            raise NetsizeError(f"cannot write {self.network.name!r} as a spec: two nodes are named {node.name!r}")
        entry = _fields(node.layer)
        if list(node.inputs) != ([self.previous] if self.previous is not None else []):
            refs = [self.ref(r, node.name) for r in node.inputs]
            entry["from"] = refs[0] if len(refs) == 1 else refs
        if not node.trainable:
            entry["trainable"] = False
        if node.tied_to:
            entry["tied_to"] = self.ref(node.tied_to, node.name)
        self.lists[-1].append({leaf: entry})
        self.local[-1].add(leaf)
        self.previous = node.name


def network_to_spec(network: Network, convention: str = "torch") -> dict[str, Any]:
    """The spec (as plain data) that loads back into ``network``: same names, tree and fields."""
    writer = _Writer(network)
    for node in network.nodes:
        writer.add(node)
    spec: dict[str, Any] = {"name": network.name}
    if len(network.inputs) == 1 and "input" in network.inputs:
        spec["input"] = list(network.inputs["input"])
    else:
        spec["inputs"] = {k: list(v) for k, v in network.inputs.items()}
    if network.layout != "channels_first":
        spec["layout"] = network.layout
    if convention != "torch":
        spec["convention"] = convention
    spec["layers"] = writer.top
    if network.outputs and list(network.outputs) != [network.nodes[-1].name]:
        del writer.path[:], writer.local[1:]
        spec["outputs"] = [writer.ref(o, "outputs") for o in network.outputs]
    return spec


def _name(name: str) -> str:
    if _PLAIN_NAME.fullmatch(name) and name.lower() not in _YAML_WORDS:
        return name
    return json.dumps(name)  # a JSON string is a YAML double-quoted scalar


def _write(items: list[Any], indent: str, lines: list[str]) -> None:
    import yaml

    for item in items:
        ((name, entry),) = item.items()
        if "layers" in entry:
            lines.append(f"{indent}- {_name(name)}:")
            lines.append(f"{indent}    layers:")
            _write(entry["layers"], indent + "      ", lines)
            continue
        if list(entry) == ["type"]:
            body = entry["type"]
        else:
            body = yaml.safe_dump(entry, default_flow_style=True, sort_keys=False, width=10_000).strip()
        lines.append(f"{indent}- {_name(name)}: {body}")


def dump_spec(network: Network, convention: str = "torch") -> str:
    """``network`` as spec YAML text, one layer per line, blocks as nested groups.

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
    _write(data["layers"], "  ", lines)
    if "outputs" in data:
        lines.append(yaml.safe_dump({"outputs": data["outputs"]}, default_flow_style=None).rstrip())
    return "\n".join(lines) + "\n"
