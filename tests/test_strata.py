"""The strata of pyproject.toml's import contracts, checked statement by statement.

CI runs import-linter on the same contracts (`lint-imports` in .ci/run). This test reads every
import statement of src/netsize with ``ast`` itself (module level, inside functions, under
``TYPE_CHECKING``), so that the rule holds even where a tool resolves an import otherwise, and
so that a violation names the file and line.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "netsize"


def _contracts() -> dict[str, dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, int]]:
    """``(imported module or name, line)`` for every import statement of the file, at any depth."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            # `from netsize.render import display` imports the module netsize.render.display
            found.extend((f"{base}.{alias.name}", node.lineno) for alias in node.names)
    return [(name, line) for name, line in found if name.split(".")[0] == "netsize"]


def _resolve(name: str, modules: set[str]) -> str:
    """The module ``name`` names: itself, or the module holding the name it imports."""
    while name not in modules:
        name = name.rpartition(".")[0]
    return name


def _all_imports() -> list[tuple[str, str, int, Path]]:
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {_module_name(p) for p in files}
    return [(_module_name(p), _resolve(name, modules), line, p)
            for p in files for name, line in _imports(p)]


def _matches(rule: str, importer: str, imported: str) -> bool:
    source, _, target = (part.strip() for part in rule.partition("->"))
    return importer == source and (imported == target or imported.startswith(target + "."))


def _child(module: str) -> str:
    """The stratum member a module belongs to: ``netsize.render.display`` -> ``render``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_module_of_the_package_has_a_stratum():
    strata = _contracts()["strata"]["layers"]
    placed = {name.strip() for layer in strata for name in layer.split(":")}
    children = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    children |= {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert children - placed == set(), "place these modules in a stratum of pyproject.toml"
    assert placed - children == set(), "these strata members do not exist"


def test_every_import_statement_goes_downward_or_through_a_declared_exception():
    contract = _contracts()["strata"]
    level = {name.strip(): len(contract["layers"]) - i for i, layer in enumerate(contract["layers"])
             for name in layer.split(":")}
    ignored = contract.get("ignore_imports", [])
    upward = []
    for importer, imported, line, path in _all_imports():
        low, high = _child(importer), _child(imported)
        if not low or not high or low == high or any(_matches(r, importer, imported) for r in ignored):
            continue  # the package face (lazy names), or a module of one's own package
        if level[low] < level[high]:
            upward.append(f"{path.relative_to(ROOT)}:{line}: {importer} -> {imported}")
    assert upward == []


def test_forbidden_imports_are_absent():
    contracts = _contracts()
    broken = []
    for key in ("serve-not-cli", "core-not-outer"):
        contract = contracts[key]
        for importer, imported, line, path in _all_imports():
            if not any(importer == s or importer.startswith(s + ".") for s in contract["source_modules"]):
                continue
            if any(imported == f or imported.startswith(f + ".") for f in contract["forbidden_modules"]) and not any(
                    _matches(r, importer, imported) for r in contract.get("ignore_imports", [])):
                broken.append(f"{key}: {path.relative_to(ROOT)}:{line}: {importer} -> {imported}")
    assert broken == []


def test_frontends_import_no_other_frontend():
    contract = _contracts()["frontends-independent"]
    frontends = contract["modules"]
    crossing = []
    for importer, imported, line, path in _all_imports():
        mine = [f for f in frontends if importer == f or importer.startswith(f + ".")]
        theirs = [f for f in frontends if imported == f or imported.startswith(f + ".")]
        if mine and theirs and mine != theirs and not any(
                _matches(r, importer, imported) for r in contract["ignore_imports"]):
            crossing.append(f"{path.relative_to(ROOT)}:{line}: {importer} -> {imported}")
    assert crossing == []


def test_a_function_level_import_is_read():
    # The rule's point: most of netsize's imports are inside functions (start-up time).
    found = {(importer, imported) for importer, imported, _, _ in _all_imports()}
    assert ("netsize._display", "netsize.render.display") in found  # `from netsize.render import display` in show()
    assert ("netsize._target._resolve", "netsize.frontends.torch") in found


def test_the_render_face_names_every_lazy_renderer_for_type_checkers():
    import netsize.render as render

    tree = ast.parse((PACKAGE / "render" / "__init__.py").read_text(encoding="utf-8"))
    typed = {
        (node.module.rpartition(".")[2], alias.name)
        for stmt in tree.body
        if isinstance(stmt, ast.If) and getattr(stmt.test, "id", None) == "TYPE_CHECKING"
        for node in stmt.body
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }
    assert typed == {(module, name) for name, module in render._LAZY.items()}
    assert all(callable(getattr(render, name)) for name in render._LAZY)
    assert set(render._LAZY) <= set(render.__all__)
