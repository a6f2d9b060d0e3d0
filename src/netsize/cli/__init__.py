"""The ``netsize`` command line. Subcommands live in ``cmd_<name>.py`` modules of this package,
each defining ``add_parser(subparsers)`` that sets ``func=<callable(args) -> int>``.

Every user mistake (a bad spec, an unknown zoo name, a layer that does not fit its input)
prints one line ``netsize: error: ...`` to stderr and exits with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from netsize import __version__
from netsize._errors import NetsizeError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    from netsize.cli._values import OneLineArgumentParser

    parser = OneLineArgumentParser(
        prog="netsize",
        description="How big a neural network is before you run it: shapes, params, multiply-adds, memory.",
        epilog="Run `netsize COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"netsize {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("cmd_"):
            module = importlib.import_module(f"{__name__}.{info.name}")
            module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 user error, 130 interrupted)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_usage(sys.stderr)
        print("netsize: error: a command is required (summary, explain, zoo, layers, ...)", file=sys.stderr)
        return 2
    import warnings

    # netsize's own warnings travel in the Summary's notes, which every format prints.
    warnings.filterwarnings("ignore", message="netsize: ", category=RuntimeWarning)
    try:
        return int(func(args) or 0)
    except NetsizeError as err:
        return _fail(str(err))
    except (FileNotFoundError, IsADirectoryError, PermissionError) as err:
        return _fail(f"{err.strerror}: {err.filename}" if err.filename else str(err))
    except SystemExit as err:
        # no command exits by itself: the user's model code (or a module it imports) called exit()
        what = getattr(args, "target", None) or getattr(args, "model", None) or "the model"
        return _fail(f"{what}: the model's code called exit({err.code!r}) while netsize imported or ran it")
    except RecursionError:
        return _fail("the input nests or recurses too deeply to analyse")
    except KeyboardInterrupt:
        print("netsize: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `netsize ... | head`
        sys.stderr.close()
        return 0
    except Exception as err:
        if _is_input_error(err):
            return _fail(f"{type(err).__name__}: {err}")
        raise


def _fail(message: str) -> int:
    from netsize.render._format import printable

    print(f"netsize: error: {printable(message)}", file=sys.stderr)
    return 2


def _is_input_error(err: Exception) -> bool:
    """Parse errors of input files (YAML, JSON) are user mistakes, not bugs."""
    import json

    if isinstance(err, json.JSONDecodeError | UnicodeDecodeError):
        return True
    yaml = sys.modules.get("yaml")
    return yaml is not None and isinstance(err, yaml.YAMLError)
