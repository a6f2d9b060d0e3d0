"""Resolve ``package.module:callable`` to a model, for the command line."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from torch import nn

from netsize._errors import NetsizeError


def _import(module_name: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name is None or not module_name.startswith(err.name.split(".")[0]):
            raise NetsizeError(f"importing {module_name!r} failed: {err}") from None
        cwd = os.getcwd()
        if cwd in sys.path:
            raise NetsizeError(
                f"cannot import {module_name!r}: no module named {err.name!r} "
                "(is the package installed, or are you in its parent folder?)"
            ) from None
        sys.path.insert(0, cwd)
        try:
            return importlib.import_module(module_name)
        except ModuleNotFoundError as err2:
            raise NetsizeError(
                f"cannot import {module_name!r}: no module named {err2.name!r} "
                "(is the package installed, or are you in its parent folder?)"
            ) from None
        except Exception as err2:
            raise NetsizeError(f"importing {module_name!r} failed: {type(err2).__name__}: {err2}") from None
    except Exception as err:
        raise NetsizeError(f"importing {module_name!r} failed: {type(err).__name__}: {err}") from None


def load_callable(target: str) -> nn.Module:
    """The model named by ``"package.module:attr"``: a module instance, a class or a function
    returning one (called without arguments).

    >>> load_callable("torch.nn:Identity")
    Identity()
    """
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise NetsizeError(f"expected package.module:callable (got {target!r}), e.g. my_pkg.models:build_model")
    obj: Any = _import(module_name)
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            names = [n for n in dir(obj) if not n.startswith("_")]
            import difflib

            close = difflib.get_close_matches(part, names, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise NetsizeError(f"{module_name!r} has no attribute {attr!r}{hint}") from None
    if isinstance(obj, nn.Module):
        return obj
    if not callable(obj):
        raise NetsizeError(f"{target} is a {type(obj).__name__}, not a model or a function returning one")
    try:
        model = obj()
    except Exception as err:
        raise NetsizeError(f"calling {target}() failed: {type(err).__name__}: {err}") from None
    if not isinstance(model, nn.Module):
        raise NetsizeError(f"{target}() returned a {type(model).__name__}, not a torch.nn.Module")
    return model
