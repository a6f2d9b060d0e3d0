"""The layer package: discovery, the type checkers' import list, and the registry."""

from __future__ import annotations

import ast
from pathlib import Path

import netsize
from netsize import Layer, layer_names, layers

LAYERS_DIR = Path(netsize.__file__).parent / "layers"


def test_type_checking_imports_name_every_layer_module():
    modules = {p.stem for p in LAYERS_DIR.glob("*.py") if not p.stem.startswith("_")}
    tree = ast.parse((LAYERS_DIR / "__init__.py").read_text())
    guarded = {
        node.module.rsplit(".", 1)[1]
        for stmt in tree.body
        if isinstance(stmt, ast.If) and getattr(stmt.test, "id", None) == "TYPE_CHECKING"
        for node in stmt.body
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert guarded == modules


def test_every_exported_layer_class_is_registered_under_some_name():
    registered = set(layer_names().values())
    exported = {getattr(layers, name) for name in layers.__all__}
    layer_classes = {c for c in exported if isinstance(c, type) and issubclass(c, Layer)}
    assert layer_classes, "no layer classes exported"
    assert layer_classes - registered == set()
