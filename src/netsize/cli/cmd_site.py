"""``netsize site build DIR``: the calculator as a static site that runs netsize in the browser."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "site",
        help="build the calculator as a static site (netsize runs in the browser, nothing to install)",
        description="Writes one folder (the calculator page, the Pyodide runtime, netsize and PyYAML as source) "
        "that any static host serves and that works offline once loaded. Pyodide comes from the pyodide npm "
        "package: run `npm ci --prefix site` in a netsize checkout first, or give --pyodide.",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    build = actions.add_parser("build", help="write the site into DIR")
    build.add_argument("directory", metavar="DIR", help="the folder to write (created)")
    build.add_argument("--pyodide", metavar="DIR", default=None,
                       help="the pyodide npm package's folder (default site/node_modules/pyodide)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from netsize.site import build_site

    built = build_site(args.directory, args.pyodide)
    print(f"wrote {built.directory}/ ({len(built.files)} files, {built.size_bytes / 2**20:.1f} MiB); "
          f"serve it with: python -m http.server -d {built.directory}")
    return 0
