"""The module tree of a Summary: every block over its layers, with the block's sums.

Block structure lives in dotted names (``layer1.0.conv1``); a block's row sums the layers under
it (:func:`netsize._summary.block_record`) and takes its class from ``Summary.block_kinds``.
Levels are counted as torchinfo counts them: 0 is the model, 1 its top-level children.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netsize._summary import LayerRecord, Summary, block_record

__all__ = ["TreeRow", "tree_rows"]


@dataclass(frozen=True)
class TreeRow:
    """One row of the tree.

    ``record``: the layer's own record, or its block's sums (``is_block``); ``level``: 0 for the
    model, 1 for its top-level children...; ``index``: 1-based count of the rows at this level
    so far (torchinfo's ``depth-idx``); ``var_name``: the last part of the dotted name;
    ``expanded``: the rows below it are shown.
    """

    record: LayerRecord
    level: int
    index: int
    var_name: str
    is_block: bool
    expanded: bool


@dataclass
class _Node:
    name: str
    children: list[str] = field(default_factory=list)
    members: list[LayerRecord] = field(default_factory=list)
    own: LayerRecord | None = None


def tree_rows(summary: Summary, depth: int | None = None) -> tuple[TreeRow, ...]:
    """The model, then every block and layer down to ``depth`` levels, depth first in execution order.

    >>> from netsize import zoo, analyze
    >>> rows = tree_rows(analyze(zoo.get("resnet18").build()), depth=2)
    >>> [(r.level, r.record.name, r.record.params) for r in rows][5:7]
    [(1, 'layer1', 147968), (2, 'layer1.0', 73984)]
    """
    nodes: dict[str, _Node] = {"": _Node("")}
    for record in summary.layers:
        parts = record.name.split(".")
        for k in range(1, len(parts) + 1):
            name = ".".join(parts[:k])
            if name not in nodes:
                nodes[name] = _Node(name)
                nodes[".".join(parts[: k - 1])].children.append(name)
        nodes[record.name].own = record
        for k in range(len(parts) + 1):
            nodes[".".join(parts[:k])].members.append(record)

    counters: dict[int, int] = {}
    out: list[TreeRow] = []

    def visit(name: str, level: int) -> None:
        node = nodes[name]
        expanded = bool(node.children) and (depth is None or level < depth)
        if node.own is not None and not node.children:
            record, is_block = node.own, False
        elif level == 0:
            record = block_record(summary.model, summary.block_kinds.get("", summary.model), node.members)
            if summary.output_shapes:
                record = _with_outputs(record, summary)
            is_block = True
        else:
            kind = summary.block_kinds.get(name) or (node.own.kind if node.own is not None else "Block")
            record = block_record(name, kind, node.members, summary.block_inputs.get(name),
                                  summary.block_outputs.get(name))
            is_block = True
        index = 0
        if level > 0:
            counters[level] = counters.get(level, 0) + 1
            index = counters[level]
        out.append(TreeRow(record, level, index, name.rsplit(".", 1)[-1], is_block, expanded))
        if expanded:
            for child in node.children:
                visit(child, level + 1)

    visit("", 0)
    return tuple(out)


def _with_outputs(record: LayerRecord, summary: Summary) -> LayerRecord:
    from dataclasses import replace

    return replace(record, input_shapes=tuple(summary.input_shapes.values()), output_shapes=summary.output_shapes)
