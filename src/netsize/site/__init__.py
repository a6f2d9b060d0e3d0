"""The calculator as a static site: the same page as ``netsize serve``, computed by netsize itself
inside the browser under Pyodide (CPython compiled to WebAssembly), with nothing to install.

``build_site(directory, pyodide_dir)`` writes one folder of files (the page, the Pyodide runtime,
netsize and the pure-Python packages it needs) that any static host serves, and that works offline
once loaded. ``netsize site build DIR`` is the command; docs/site.md says how to publish it.

Import this module from the command line or a build script; the browser runs
:mod:`netsize.site._browser`.
"""

from __future__ import annotations

from netsize.site._build import PYODIDE_FILES, SiteBuild, build_site, find_pyodide

__all__ = ["PYODIDE_FILES", "SiteBuild", "build_site", "find_pyodide"]
