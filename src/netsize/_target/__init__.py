"""The one resolver of a TARGET (zoo name, spec file, Hugging Face config, ONNX or Keras file,
``module:callable``) below the command line: :func:`load_target` -> :class:`Target`,
:func:`summarize` -> ``Summary``, and the values a TARGET takes (:mod:`._values`).

Used by ``cli``, ``serve``, ``plan``, ``llm`` and ``memory``; it imports a frontend only for a
target of that frontend's kind.
"""

from __future__ import annotations

from netsize._target._resolve import (
    Target,
    is_callable_ref,
    load_target,
    located,
    read_config,
    summarize,
    target_kind,
    with_input,
)
from netsize._target._values import check_variable_types, parse_input_sizes, parse_shape, parse_variables

__all__ = ["Target", "check_variable_types", "is_callable_ref", "load_target", "located",
           "parse_input_sizes", "parse_shape", "parse_variables", "read_config", "summarize", "target_kind",
           "with_input"]
