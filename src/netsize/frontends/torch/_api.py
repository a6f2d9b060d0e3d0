"""``netsize.summary``: torchinfo 1.8's signature, with torchinfo's meanings, over the tracer.

Every argument torchinfo's ``summary`` takes means the same here; anything else goes to the
model's ``forward``. The tracer (:mod:`._trace`) always analyses every module; ``depth``,
``col_names``, ``col_width``, ``row_settings`` and ``verbose`` only decide how the result shows
itself (``Summary.view``), as in torchinfo, whose ``summary_list`` also holds every layer.
"""

from __future__ import annotations

import gc
import sys
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import torch
from torch import nn

from netsize._calls import Formatting
from netsize._display import COLUMNS, DEFAULT_COLUMNS, DEFAULT_ROW_SETTINGS, ROW_SETTINGS, SummaryView
from netsize._errors import NetsizeError
from netsize._summary import Summary
from netsize.frontends.torch import _trace

MIN_TORCH = (2, 10)

# cache_forward_pass: one analysis per (model, inputs) while the model lives.
_CACHE: weakref.WeakKeyDictionary[nn.Module, dict[str, Summary]] = weakref.WeakKeyDictionary()


def summary(
    model: nn.Module,
    input_size: Any = None,
    input_data: Any = None,
    batch_dim: int | None = None,
    cache_forward_pass: bool | None = None,
    col_names: Iterable[str] | None = None,
    col_width: int = 25,
    depth: int = 3,
    device: torch.device | str | None = None,
    dtypes: list[torch.dtype] | torch.dtype | None = None,
    mode: str | None = None,
    row_settings: Iterable[str] | None = None,
    verbose: int | None = None,
    *,
    fallback: bool = True,
    formulas: Mapping[Any, Any] | None = None,
    **kwargs: Any,
) -> Summary:
    """Shapes, parameters, buffers and multiply-adds of every module of ``model``, called as
    torchinfo's ``summary`` is called.

    >>> import torch
    >>> from netsize.frontends.torch import summary
    >>> model = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU())
    >>> s = summary(model, input_size=(2, 8), col_names=("output_size", "num_params", "mult_adds"), verbose=0)
    >>> s.totals.params, s.totals.multiply_adds, s.layer("0").output_shape
    (36, 64, (2, 4))
    >>> print(str(s).splitlines()[2])
    Layer (type:depth-idx)                   Output Shape              Param #                   Mult-Adds
    >>> s.total_params, s.summary_list[1].output_size  # torchinfo's attributes
    (36, [2, 4])

    The result has torchinfo's attributes (``total_params``, ``trainable_params``,
    ``total_mult_adds``, ``summary_list``, ``input_size``, ``total_input``,
    ``total_output_bytes``, ``total_param_bytes``, ``formatting``) and prints torchinfo's table
    and footer, netsize's title above and its own figures below (lines starting ``netsize:``).
    ``total_mult_adds`` and the Mult-Adds column are netsize's multiply-adds (FlopCounterMode's
    FLOPs / 2), not torchinfo's (see ``Summary.total_mult_adds``). With no input, as in
    torchinfo, the table lists every module's parameters and no pass runs.

    The forward pass runs once on meta tensors: nothing is computed and no activation is
    allocated (see :func:`netsize.frontends.torch._trace.summary` for what is counted and how).

    torchinfo's arguments, with torchinfo's meanings:

    - ``input_size``: a shape, batch first, or a list of shapes (``dtypes`` gives their dtypes,
      default float); ``input_data``: a tensor, a list of positional arguments or a dict of keyword
      arguments (only shapes and dtypes are used); ``batch_dim``: insert a batch axis of size 1 at
      this index of each ``input_size`` shape.
    - ``depth`` (default 3): levels of nested modules shown; 1 = the model's top-level children.
      Deeper modules are summed into their block's row. The returned Summary holds every layer
      whatever the depth (``Summary.rows(depth)`` gives the summed rows).
    - ``col_names``: columns shown, from ``input_size``, ``output_size``, ``num_params``,
      ``params_percent``, ``kernel_size``, ``mult_adds``, ``trainable`` (default
      ``("output_size", "num_params")``); ``col_width``: width of each column (default 25).
    - ``row_settings``: ``depth`` (show ``: level-index``, the default), ``var_names`` (the
      attribute name), ``ascii_only``, ``hide_recursive_layers`` (rows of a module called again).
    - ``verbose``: 0 prints nothing, 1 prints the table, 2 prints it with each layer's weight and
      bias tensors listed under it. Default (``None``): print nothing. This is the one default
      that differs from torchinfo (which prints unless in a notebook): netsize returns a result
      that shows itself (``print(s)``, a notebook cell, ``str(s)``), and a library call that
      writes to stdout breaks programs that read their own output. ``verbose=1`` prints.
    - ``mode``: ``"eval"`` (default) or ``"train"``: the modules' mode during the pass; each
      module's own flag is restored afterwards.
    - ``device``: accepted and checked; the pass runs on the meta device whatever it says, and
      the model is not moved.
    - ``cache_forward_pass``: reuse the analysis of the same model object with the same inputs
      (torchinfo keys its cache by class name only; netsize by the object, while it lives).
    - ``**kwargs``: passed to the model's ``forward``.

    netsize's own, keyword only: ``fallback``: a model whose forward reads tensor values is run
    once for real instead (warning), else an error explains why; ``formulas``: counts for custom
    module classes or ops (``{MyBlock: f, "aten::fft_r2c": g}``, see ``register_formula``).
    """
    _check_torch()
    if not isinstance(model, nn.Module):
        raise NetsizeError(f"summary needs a torch.nn.Module (got {type(model).__name__})")
    view = _view(col_names, col_width, depth, row_settings, verbose, input_size is not None or input_data is not None)
    train = _mode(mode)
    if device is not None:
        try:
            torch.device(device)
        except (RuntimeError, TypeError) as err:
            raise NetsizeError(f"device {device!r} is not a torch device: {err}") from None

    key = _cache_key(input_size, input_data, batch_dim, dtypes, train, formulas, kwargs) if cache_forward_pass else None
    result = _CACHE.get(model, {}).get(key) if key is not None else None
    if result is None:
        flags = [(m, m.training) for m in model.modules()]
        # model.train() calls every module's train(), which a model may override: only when needed
        switch = any(flag != train for _, flag in flags)
        # A call allocates many small objects; after `import torch` and building a model, that
        # tips Python into a full collection of torch's object graph (about 75 ms, most of a
        # first call on ResNet-50). It waits until the call returns; the previous state comes back.
        collecting = gc.isenabled()
        gc.disable()
        try:
            if switch:
                model.train(train)
            result = _trace.summary(
                model, input_size, input_data, depth=None, batch_dim=batch_dim, dtypes=dtypes, fallback=fallback,
                formulas=formulas, **kwargs,
            )
        finally:
            if switch:
                for m, flag in flags:
                    m.training = flag
            if collecting:
                gc.enable()
        if key is not None:
            _CACHE.setdefault(model, {})[key] = result
    if view.verbose >= 2:
        view = replace(view, parameters=_parameters(model))
    collecting = gc.isenabled()
    gc.disable()  # the rows just made would tip a full collection here too (see above)
    try:
        result = _with_torchinfo(result, view, input_size, input_data, dtypes, batch_dim)
    finally:
        if collecting:
            gc.enable()
    if view.verbose >= 1:
        text = str(result)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return result


def _with_torchinfo(
    result: Summary, view: SummaryView, input_size: Any, input_data: Any, dtypes: Any, batch_dim: int | None
) -> Summary:
    formatting = Formatting(
        max_depth=view.depth if view.depth is not None else 10**9, verbose=view.verbose, col_names=view.columns,
        col_width=view.col_width, row_settings=frozenset(view.row_settings),
    )  # fmt: skip
    result = replace(
        result, view=view, formatting=formatting, torchinfo_input_size=_torchinfo_input_size(input_size, input_data),
        total_input=_total_input(input_size, input_data, dtypes, batch_dim),
    )  # fmt: skip
    return result


def _check_torch() -> None:
    found = tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2])
    if found < MIN_TORCH:
        raise NetsizeError(
            f"netsize's PyTorch frontend needs torch>={'.'.join(map(str, MIN_TORCH))} (found {torch.__version__}): "
            "pip install 'torch>=2.10'; see docs/torch-versions.md"
        )


def _names(
    value: Iterable[str] | None, allowed: tuple[str, ...], default: tuple[str, ...], what: str
) -> tuple[str, ...]:
    if value is None:
        return default
    if isinstance(value, str):
        value = (value,)
    names = tuple(str(getattr(v, "value", v)).lower() for v in value)  # torchinfo's enums have .value
    unknown = [n for n in names if n not in allowed]
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise NetsizeError(f"unknown {what} {unknown[0]!r}{hint}; use any of {', '.join(allowed)}")
    return names


def _view(
    col_names: Iterable[str] | None,
    col_width: int,
    depth: int,
    row_settings: Iterable[str] | None,
    verbose: int | None,
    has_input: bool,
) -> SummaryView:
    columns = _names(col_names, COLUMNS, DEFAULT_COLUMNS if has_input else ("num_params",), "column")
    rows = _names(row_settings, ROW_SETTINGS, DEFAULT_ROW_SETTINGS, "row setting")
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
        raise NetsizeError(f"depth must be an integer, 0 or more (got {depth!r}); 1 shows the top-level modules")
    if isinstance(col_width, bool) or not isinstance(col_width, int) or col_width < 1:
        raise NetsizeError(f"col_width must be a positive integer (got {col_width!r})")
    if verbose is None:
        verbose = 0
    if verbose not in (0, 1, 2):
        raise NetsizeError(
            f"verbose must be 0 (quiet), 1 (print the table) or 2 (with weights and biases); got {verbose!r}"
        )
    return SummaryView(depth=depth, columns=columns, row_settings=rows, col_width=col_width, verbose=verbose)


def _mode(mode: str | None) -> bool:
    if mode is None:
        return False
    name = str(getattr(mode, "value", mode)).lower()
    if name not in ("train", "eval"):
        raise NetsizeError(f"mode must be 'train' or 'eval' (got {mode!r})")
    return name == "train"


def _cache_key(*parts: Any) -> str:
    def describe(obj: Any) -> Any:
        if isinstance(obj, torch.Tensor):
            return ("tensor", tuple(obj.shape), str(obj.dtype))
        if isinstance(obj, dict):
            return tuple(sorted((k, describe(v)) for k, v in obj.items()))
        if isinstance(obj, (list, tuple)):
            return tuple(describe(v) for v in obj)
        return repr(obj)

    return repr(describe(parts))


def _parameters(model: nn.Module) -> dict[str, tuple[tuple[str, tuple[int, ...]], ...]]:
    """Each module's own parameter tensors (for ``verbose=2``)."""
    out: dict[str, tuple[tuple[str, tuple[int, ...]], ...]] = {}
    for name, module in model.named_modules():
        own = tuple((n, tuple(int(d) for d in p.shape)) for n, p in module.named_parameters(recurse=False))
        if own:
            out[name] = own
    return out


def _torchinfo_input_size(input_size: Any, input_data: Any) -> Any:
    """torchinfo's ``input_size``: ``input_data``'s structure with each tensor's ``torch.Size``,
    or ``input_size`` as torchinfo corrects it (a list of shapes)."""
    if input_data is not None:
        return _traverse(input_data, lambda t: t.size())
    if input_size is None:
        return None
    if isinstance(input_size, list) and input_size and isinstance(input_size[0], int):
        return [tuple(input_size)]
    if isinstance(input_size, list):
        return input_size
    if isinstance(input_size, tuple) and input_size and isinstance(input_size[0], (tuple, list)):
        return list(input_size)
    return [input_size]


def _traverse(data: Any, action: Any) -> Any:
    """torchinfo's ``traverse_input_data``: ``action`` on each tensor, containers kept."""
    if isinstance(data, torch.Tensor):
        return action(data)
    if type(data).__module__ == "numpy" and hasattr(data, "__array__"):
        result = action(torch.from_numpy(data))
        return data if isinstance(result, torch.Tensor) else result
    if isinstance(data, Mapping):
        return type(data)({k: _traverse(v, action) for k, v in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(_traverse(d, action) for d in data))
    if isinstance(data, (list, tuple)):
        return type(data)(_traverse(d, action) for d in data)
    return data


def _storage_bytes(t: torch.Tensor) -> int:
    return sys.getsizeof(t.untyped_storage())


def _total_input(input_size: Any, input_data: Any, dtypes: Any, batch_dim: int | None) -> int:
    """torchinfo's ``total_input``: ``sys.getsizeof`` of each input tensor's storage."""
    if input_data is not None:
        total = 0

        def add(t: torch.Tensor) -> None:
            nonlocal total
            total += _storage_bytes(t)

        _traverse(input_data, add)
        return total
    if input_size is None:
        return 0
    try:
        args, _ = _trace._make_inputs(input_size, None, dtypes, batch_dim, {})
    except NetsizeError:
        return 0
    return sum(_storage_bytes(a) for a in args if isinstance(a, torch.Tensor))
