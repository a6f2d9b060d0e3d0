"""How a result object shows itself: a mixin for ``Summary``, ``MemoryReport``, ``LLMFigures``
and ``Schedule``.

``str()`` is the table, ``repr()`` one line, ``_repr_html_`` / ``_repr_markdown_`` for
notebooks, ``__rich__`` for rich, ``to_pandas()`` a DataFrame. The methods only hand the object
to :mod:`netsize.render.display`, imported on first use, which does all the formatting: the core
stays free of rich and pandas, and a result computes nothing to show itself.

This module is the one declared seam between the core and ``render``: no other core module
names ``render`` (the import contracts in pyproject.toml and tests/test_strata.py keep it so).
A result that needs another form (``Summary.plot``) asks :func:`show` for it.

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


def show(obj: object, form: str, **options: Any) -> Any:
    """``obj`` in ``form``, a function of :mod:`netsize.render.display` (``text``, ``one_line``,
    ``html``, ``markdown``, ``rich_renderable``, ``dataframe``, ``plot``) called with ``options``."""
    from netsize.render import display

    return getattr(display, form)(obj, **options)


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
        text: str = show(self, "text")
        return text

    def __repr__(self) -> str:
        line: str = show(self, "one_line")
        return line

    def _repr_html_(self) -> str:
        page: str = show(self, "html")
        return page

    def _repr_markdown_(self) -> str:
        page: str = show(self, "markdown")
        return page

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # IPython's terminal shell: the table, not the repr.
        printer.text(repr(self) if cycle else str(self))

    def __rich__(self) -> Any:
        return show(self, "rich_renderable")

    def to_pandas(self) -> Any:
        """The object's table as a ``pandas.DataFrame`` (pandas must be installed)."""
        return show(self, "dataframe")
