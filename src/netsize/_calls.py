"""The module calls of a traced PyTorch pass, as torchinfo lists them (its ``summary_list``).

Plain data, no torch: the PyTorch frontend fills one :class:`ModuleCall` per module call (in
call order, under the module that called it) and the rows torchinfo adds for containers that
were never called themselves; :class:`Formatting` holds torchinfo's display options;
:func:`torchinfo_totals` sums the rows as torchinfo's ``ModelStatistics`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Formatting", "ModuleCall", "TorchinfoTotals", "torchinfo_totals"]


@dataclass(eq=False)
class ModuleCall:
    """One row of torchinfo's ``summary_list``, with torchinfo's attribute names and meanings.

    ``depth``: 0 for the model, 1 for its registered children...; ``depth_index``: 1-based count
    of the rows at this depth so far; ``is_recursive``: the module was listed before (a module
    called again); ``is_leaf_layer``: the module has no submodules; ``num_params`` /
    ``trainable_params`` / ``param_bytes``: the module's parameters, submodules included;
    ``input_size`` / ``output_size``: torchinfo's sizes of the call's inputs and outputs (the
    block's own output, not its last child's); ``output_bytes``: bytes of that output;
    ``multiply_adds``: netsize's multiply-adds inside this call, submodules included
    (FlopCounterMode's FLOPs / 2, so matmuls outside nn.Linear count, and biases do not: not
    torchinfo's ``macs``, which is ``batch x params`` for a linear layer and misses matmuls);
    ``name``: the dotted name of the module (netsize's record name); ``children``: the rows
    below it, as torchinfo sets them.
    """

    class_name: str
    var_name: str
    depth: int
    name: str = ""
    layer_id: int = 0
    depth_index: int | None = None
    is_leaf_layer: bool = True
    is_recursive: bool = False
    executed: bool = False
    input_size: Any = field(default_factory=list)
    output_size: Any = field(default_factory=list)
    kernel_size: Any = None
    num_params: int = 0
    trainable_params: int = 0
    param_bytes: int = 0
    output_bytes: int = 0
    multiply_adds: int = 0
    inner_layers: dict[str, tuple[str, int]] = field(default_factory=dict)  # tensor name -> (shape, elements)
    parent_info: ModuleCall | None = field(default=None, repr=False)
    children: list[ModuleCall] = field(default_factory=list, repr=False)

    def __repr__(self) -> str:
        return f"{self.class_name}: {self.depth}"

    @property
    def macs(self) -> int:
        """torchinfo's name for the row's multiply-adds; here netsize's count (see the class)."""
        return self.multiply_adds

    @property
    def trainable(self) -> str:
        """``"True"``, ``"False"``, ``"Partial"`` or ``"--"`` (no parameters), as torchinfo."""
        if self.num_params == 0:
            return "--"
        if self.trainable_params == 0:
            return "False"
        return "True" if self.num_params == self.trainable_params else "Partial"

    def get_layer_name(self, show_var_name: bool, show_depth: bool) -> str:
        """The row's label as torchinfo writes it: ``Conv2d (conv1): 1-1``."""
        name = self.class_name
        if show_var_name and self.var_name:
            name += f" ({self.var_name})"
        if show_depth and self.depth > 0:
            name += f": {self.depth}"
            if self.depth_index is not None:
                name += f"-{self.depth_index}"
        return name

    def num_params_to_str(self, reached_max_depth: bool) -> str:
        """The Param # cell, as torchinfo writes it."""
        if self.num_params == 0:
            return "--"
        if self.is_recursive:
            return "(recursive)"
        if reached_max_depth or self.is_leaf_layer:
            text = f"{self.num_params:,}"
            return text if self.trainable_params else f"({text})"
        left = self.leftover_params()
        return f"{left:,}" if left > 0 else "--"

    def params_percent(self, total_params: int, reached_max_depth: bool, precision: int = 2) -> str:
        """The Param % cell, as torchinfo writes it."""
        zero = f"{' ' * 5}--"
        if total_params == 0:
            return zero
        if self.is_recursive:
            return "(recursive)"
        params = self.num_params if reached_max_depth or self.is_leaf_layer else self.leftover_params()
        return zero if params == 0 else f"{params / total_params:>{precision + 5}.{precision}%}"

    def macs_to_str(self, reached_max_depth: bool) -> str:
        """The Mult-Adds cell (netsize's multiply-adds, torchinfo's placement)."""
        if self.multiply_adds <= 0:
            return "--"
        if self.is_leaf_layer:
            return f"{self.multiply_adds:,}"
        if reached_max_depth:
            below = sum(c.multiply_adds for c in self.children if c.is_leaf_layer)
            return f"{below:,}" if below else f"{self.multiply_adds:,}"
        return "--"

    def leftover_params(self) -> int:
        """Parameters of this module not in its listed children's counts (torchinfo's rule)."""
        return self.num_params - sum(
            c.num_params if c.is_leaf_layer else c.leftover_params() for c in self.children if not c.is_recursive
        )

    def leftover_trainable_params(self) -> int:
        return self.trainable_params - sum(
            c.trainable_params if c.is_leaf_layer else c.leftover_trainable_params()
            for c in self.children
            if not c.is_recursive
        )


def set_children(calls: list[ModuleCall]) -> None:
    """``depth_index`` and ``children`` of every row (torchinfo's ``set_children_layers``)."""
    index: dict[int, int] = {}
    for i, call in enumerate(calls):
        index[call.depth] = index.get(call.depth, 0) + 1
        call.depth_index = index[call.depth]
        below = []
        for later in calls[i + 1 :]:
            if later.depth <= call.depth:
                break
            below.append(later)
        call.children = below


@dataclass
class Formatting:
    """torchinfo's ``FormattingOptions``: how the tree is printed. ``params_units`` and
    ``macs_units`` (``"auto"``, ``"M"``, ``"G"``, ``"T"`` or ``""``, or torchinfo's ``Units``)
    may be set on a result to change how its totals print, as in torchinfo."""

    max_depth: int = 3
    verbose: int = 1
    col_names: tuple[str, ...] = ("output_size", "num_params")
    col_width: int = 25
    row_settings: frozenset[str] = frozenset({"depth"})
    params_units: Any = ""
    macs_units: Any = "auto"
    layer_name_width: int = 40

    @property
    def ascii_only(self) -> bool:
        return "ascii_only" in self.row_settings

    @property
    def show_var_name(self) -> bool:
        return "var_names" in self.row_settings

    @property
    def show_depth(self) -> bool:
        return "depth" in self.row_settings

    @property
    def hide_recursive_layers(self) -> bool:
        return "hide_recursive_layers" in self.row_settings

    def get_total_width(self) -> int:
        return len(self.col_names) * self.col_width + self.layer_name_width


@dataclass(frozen=True)
class TorchinfoTotals:
    """The sums torchinfo's ``ModelStatistics`` makes over its rows."""

    total_params: int
    trainable_params: int
    total_mult_adds: int
    total_param_bytes: int
    total_output_bytes: int


def torchinfo_totals(calls: Sequence[ModuleCall]) -> TorchinfoTotals:
    """torchinfo's totals of ``calls``: leaf rows count their parameters, other rows their
    leftover parameters, recursive rows nothing; forward/backward bytes are twice the output
    bytes of leaf rows with parameters. Multiply-adds are netsize's, summed over leaf rows."""
    params = trainable = macs = param_bytes = output_bytes = 0
    for c in calls:
        if c.is_leaf_layer:
            macs += c.multiply_adds
            if c.num_params > 0:
                output_bytes += c.output_bytes * 2
            if c.is_recursive:
                continue
            params += max(c.num_params, 0)
            param_bytes += c.param_bytes
            trainable += max(c.trainable_params, 0)
        elif not c.is_recursive:
            params += max(c.leftover_params(), 0)
            trainable += max(c.leftover_trainable_params(), 0)
    return TorchinfoTotals(params, trainable, macs, param_bytes, output_bytes)
