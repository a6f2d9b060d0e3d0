"""How a result object shows itself: a mixin for ``Summary``, ``MemoryReport``, ``LLMFigures``
and ``Schedule``.

``str()`` is the table, ``repr()`` one line, ``_repr_html_`` / ``_repr_markdown_`` for
notebooks, ``__rich__`` for rich, ``to_pandas()`` a DataFrame. The methods only hand the object
to :mod:`netsize.render.display`, imported on first use, which does all the formatting: the core
stays free of rich and pandas, and a result computes nothing to show itself.

A dataclass that mixes this in is declared with ``repr=False`` so that its generated ``__repr__``
(a multi-kilobyte field dump) does not replace the one-line summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from typing import Any

from netsize._record import record

# torchinfo 1.8's column and row-setting names, with the same meanings.
COLUMNS = ("input_size", "output_size", "num_params", "params_percent", "kernel_size", "mult_adds", "trainable")
DEFAULT_COLUMNS = ("output_size", "num_params")
ROW_SETTINGS = ("ascii_only", "depth", "var_names", "hide_recursive_layers")
DEFAULT_ROW_SETTINGS = ("depth",)


@record
class SummaryView:
    """How a Summary shows itself as a tree (what ``netsize.summary``'s torchinfo arguments ask for).

    ``depth``: levels shown (1 = the model's top-level children; ``None`` = all); ``columns``:
    names from :data:`COLUMNS`; ``row_settings``: names from :data:`ROW_SETTINGS`;
    ``col_width``: width of each value column; ``verbose`` 2 lists each layer's parameter tensors
    (``parameters``: layer name -> ``(tensor name, shape)`` pairs).
    """

    depth: int | None = 3
    columns: tuple[str, ...] = DEFAULT_COLUMNS
    row_settings: tuple[str, ...] = DEFAULT_ROW_SETTINGS
    col_width: int = 25
    verbose: int = 1
    parameters: Mapping[str, tuple[tuple[str, tuple[int, ...]], ...]] = field(default_factory=dict)


class ShowsItself:
    """Mixin: the object renders itself in terminals, notebooks, rich and pandas.

    >>> from netsize import Sequential, analyze, layers
    >>> s = analyze(Sequential([("fc", layers.Linear(4, 3))], input_shape=(4,), name="tiny"))
    >>> repr(s)
    '<Summary tiny: 1 layer, 15 params, 12 multiply-adds, input 1x4>'
    >>> print(str(s).splitlines()[0])
    tiny · input 1x4 · batch 1
    """

    __slots__ = ()

    def __str__(self) -> str:
        from netsize.render.display import text

        return text(self)

    def __repr__(self) -> str:
        from netsize.render.display import one_line

        return one_line(self)

    def _repr_html_(self) -> str:
        from netsize.render.display import html

        return html(self)

    def _repr_markdown_(self) -> str:
        from netsize.render.display import markdown

        return markdown(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # IPython's terminal shell: the table, not the repr.
        printer.text(repr(self) if cycle else str(self))

    def __rich__(self) -> Any:
        from netsize.render.display import rich_renderable

        return rich_renderable(self)

    def to_pandas(self) -> Any:
        """The object's table as a ``pandas.DataFrame`` (pandas must be installed)."""
        from netsize.render.display import dataframe

        return dataframe(self)
