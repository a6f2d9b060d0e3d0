"""Writes the static site: the page, the Pyodide runtime, and netsize with its pure-Python needs."""

from __future__ import annotations

import os
import shutil
import zipfile
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from netsize._errors import NetsizeError

#: The files of the ``pyodide`` npm package the page loads: the loader, the runtime (compiled
#: CPython) and the standard library. Packages from Pyodide's own index are not used.
PYODIDE_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json")

# The packages the page's Python imports, copied from this installation as source. PyYAML's
# compiled part (_yaml) is left out: PyYAML falls back to its pure-Python reader and writer.
_PACKAGES = ("netsize", "yaml")
_SKIPPED_PARTS = {"__pycache__"}
_SKIPPED_SUFFIXES = (".pyc", ".so", ".pyd")
_FIXED_TIME = (2026, 1, 1, 0, 0, 0)  # the same bytes for the same sources


@dataclass(frozen=True)
class SiteBuild:
    """What :func:`build_site` wrote: the folder, its files and their size in bytes."""

    directory: Path
    files: tuple[str, ...]
    size_bytes: int


def find_pyodide(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The folder holding the ``pyodide`` npm package's files: ``explicit``, else
    ``$NETSIZE_PYODIDE``, else ``site/node_modules/pyodide`` of the current folder or of this
    checkout (``npm ci --prefix site`` puts it there)."""
    candidates: list[Path] = []
    if explicit:
        candidates.append(Path(explicit))
    elif os.environ.get("NETSIZE_PYODIDE"):
        candidates.append(Path(os.environ["NETSIZE_PYODIDE"]))
    else:
        candidates.append(Path.cwd() / "site" / "node_modules" / "pyodide")
        candidates.append(Path(__file__).resolve().parents[3] / "site" / "node_modules" / "pyodide")
    for folder in candidates:
        if all((folder / name).is_file() for name in PYODIDE_FILES):
            return folder
    missing = ", ".join(n for n in PYODIDE_FILES if not (candidates[0] / n).is_file())
    raise NetsizeError(
        f"Pyodide not found in {candidates[0]} (missing {missing}): run `npm ci --prefix site` in a netsize "
        "checkout, or give --pyodide DIR (the folder of the pyodide npm package)"
    )


def _package_folder(name: str) -> Path:
    import importlib

    location = importlib.import_module(name).__file__
    if location is None:
        raise NetsizeError(f"the {name} package has no files to copy into the site")
    return Path(location).parent


def _write_packages(archive: Path) -> None:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in _PACKAGES:
            root = _package_folder(name)
            for path in sorted(root.rglob("*")):
                rel = path.relative_to(root)
                if not path.is_file() or _SKIPPED_PARTS & set(rel.parts) or path.name.endswith(_SKIPPED_SUFFIXES):
                    continue
                info = zipfile.ZipInfo(f"{name}/{rel.as_posix()}", _FIXED_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())


def _index_html() -> str:
    from netsize.render._html import page

    html = page(None, mode="serve", lang="en", title="netsize calculator")
    # boot.js runs after the page's settings and before app.js, so that the page's requests
    # (api/...) are answered by Python in the page from its first one.
    marker = "<script>window.NETSIZE"
    head, sep, tail = html.partition(marker)
    end = tail.index("</script>") + len("</script>")
    return head + sep + tail[:end] + '\n<script src="boot.js"></script>' + tail[end:]


def build_site(directory: str | os.PathLike[str], pyodide_dir: str | os.PathLike[str] | None = None) -> SiteBuild:
    """Write the static calculator into ``directory`` (created; files of an earlier build replaced).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:  # doctest: +SKIP
    ...     build_site(tmp + "/site").files[:2]
    ('.nojekyll', 'boot.js')
    """
    out = Path(directory)
    if out.exists() and not out.is_dir():
        raise NetsizeError(f"{out}: not a folder")
    runtime = find_pyodide(pyodide_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "pyodide").mkdir(exist_ok=True)
    for name in PYODIDE_FILES:
        shutil.copyfile(runtime / name, out / "pyodide" / name)
    _write_packages(out / "netsize.zip")
    (out / "boot.js").write_text(files("netsize.site").joinpath("assets", "boot.js").read_text(encoding="utf-8"),
                                 encoding="utf-8")
    (out / "index.html").write_text(_index_html(), encoding="utf-8")
    (out / ".nojekyll").write_text("", encoding="utf-8")  # GitHub Pages: serve files as they are
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    return SiteBuild(out, tuple(written), sum((out / p).stat().st_size for p in written))
