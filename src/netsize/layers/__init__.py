"""The layer library. Each module holds a family of layer types and lists them in ``__all__``.

Modules are discovered, so adding a layer touches only its own module and its test.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, Any

_exported: dict[str, Any] = {}

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name.startswith("_"):
        continue
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    for _name in getattr(_module, "__all__", ()):
        if _name in _exported and _exported[_name] is not getattr(_module, _name):
            raise ImportError(f"layer class {_name} defined twice (second in {_info.name})")
        _exported[_name] = getattr(_module, _name)

globals().update(_exported)
__all__ = sorted(_exported)  # pyright: ignore[reportUnsupportedDunderAll]

if TYPE_CHECKING:  # the same names, spelled out for type checkers; tests keep this list complete
    from netsize.layers.activation import *  # noqa: F403
    from netsize.layers.attention import *  # noqa: F403
    from netsize.layers.conv import *  # noqa: F403
    from netsize.layers.crop import *  # noqa: F403
    from netsize.layers.embedding import *  # noqa: F403
    from netsize.layers.linear import *  # noqa: F403
    from netsize.layers.matmul import *  # noqa: F403
    from netsize.layers.merge import *  # noqa: F403
    from netsize.layers.norm import *  # noqa: F403
    from netsize.layers.pool import *  # noqa: F403
    from netsize.layers.recurrent import *  # noqa: F403
    from netsize.layers.shape_ops import *  # noqa: F403
    from netsize.layers.tensor_ops import *  # noqa: F403
    from netsize.layers.transformer import *  # noqa: F403
    from netsize.layers.upsample import *  # noqa: F403
