"""Import hygiene: the core and the command line on zoo/spec models never import heavy modules;
the public API lists exactly what it exports, sorted."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import netsize
import netsize.render
import netsize.spec

HEAVY = ("torch", "numpy", "onnx", "transformers", "pandas")
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "alexnet.yaml"

PROBE = """
import io, sys, contextlib
import netsize
from netsize.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    assert main(["summary", "alexnet"]) == 0
    assert main(["summary", "alexnet", "--format", "json", "--explain"]) == 0
    assert main(["summary", {spec!r}, "--format", "csv"]) == 0
    assert main(["explain", "alexnet", "conv1"]) == 0
print(",".join(m for m in {heavy!r} if m in sys.modules))
"""


def test_cli_on_zoo_and_spec_imports_no_heavy_module():
    code = PROBE.format(spec=str(EXAMPLE), heavy=HEAVY)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


def test_import_netsize_imports_no_heavy_module_nor_rich():
    code = "import sys, netsize, netsize.spec; print(','.join(m for m in {!r} if m in sys.modules))".format(
        (*HEAVY, "rich"),
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


def _isort_key(name: str) -> tuple[int, str]:
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_public_all_is_sorted_and_complete():
    for module in (netsize, netsize.spec, netsize.render):
        assert module.__all__ == sorted(module.__all__, key=_isort_key), module.__name__
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
    public = {
        name
        for name, value in vars(netsize).items()
        if not name.startswith("_") and not (isinstance(value, types.ModuleType) and name != "layers")
        and name not in ("annotations", "TYPE_CHECKING")
    }
    assert public <= set(netsize.__all__), public - set(netsize.__all__)


def test_outer_subpackages_load_on_first_attribute_access_without_torch():
    code = (
        "import sys, netsize\n"
        "assert netsize.zoo.get('alexnet').name == 'alexnet'\n"
        "assert callable(netsize.memory.estimate) and callable(netsize.spec.load_spec)\n"
        "assert callable(netsize.llm.llm_figures) and callable(netsize.transforms.fc_to_conv)\n"
        "print(sorted(m for m in ('torch', 'numpy', 'transformers') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
