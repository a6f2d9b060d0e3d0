"""The ``netsize`` command line. Subcommands live in ``cmd_<name>.py`` modules of this package,
each defining ``add_parser(subparsers)`` that sets ``func=<callable(args) -> int>``.

Every user mistake (a bad spec, an unknown zoo name, a layer that does not fit its input)
prints one line ``netsize: error: ...`` to stderr and exits with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Sequence

from netsize import __version__
from netsize._errors import NetsizeError

__all__ = ["build_parser", "main"]

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `netsize --help` is timed
if TYPE_CHECKING:
    from typing import Any, NoReturn


def _terminal_columns() -> int:
    """``shutil.get_terminal_size().columns`` without importing shutil (and the compression
    modules it imports), which the parser needs on every run: ``COLUMNS``, else the terminal, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns if sys.__stdout__ else 0
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, asking the terminal's width once instead of at every add_argument."""

    _columns: int | None = None

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        if width is None:
            if _HelpFormatter._columns is None:
                _HelpFormatter._columns = _terminal_columns() - 2
            width = _HelpFormatter._columns
        super().__init__(prog, indent_increment, max_help_position, width)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """A malformed option is one line, ``netsize: error: ...``, and exit status 2 (issue 11)."""
        command = self.prog.split(" ", 1)[1] if " " in self.prog else ""
        where = f"netsize {command}" if command else "netsize"
        print(f"netsize: error: {message} (see `{where} --help`)", file=sys.stderr)
        raise SystemExit(2)


class _Listed(Exception):
    """Raised by _Lister once a subcommand has named itself: the rest of its parser is not needed."""


class _Lister:
    """Stands in for the subparsers action for commands that will not run: it lets the command
    add its (empty) parser with its name and help, then stops it, so that `netsize --help` and
    `netsize summary ...` import and build only what they use."""

    def __init__(self, sub: Any) -> None:
        self._sub = sub

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        # A name and a help line for the listing, not a parser: argparse's parser constructor looks
        # up its own message translations on disk (gettext), which for 14 commands was most of the
        # time of `netsize --help`. Such a command is never run: a command named on the command
        # line is built in full (build_parser).
        pseudo = getattr(argparse._SubParsersAction, "_ChoicesPseudoAction", None)
        if pseudo is None:  # an argparse without the listing helper: build the (empty) parser
            self._sub.add_parser(name, help=kwargs.get("help"))
        else:
            self._sub.choices[name] = None
            self._sub._choices_actions.append(pseudo(name, (), kwargs.get("help")))
        raise _Listed


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with ``command``, only that subcommand's options are built (the others
    are listed by name and help)."""
    parser = _Parser(
        prog="netsize",
        description="How big a neural network is before you run it: shapes, params, multiply-adds, memory.",
        epilog="Run `netsize COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"netsize {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    # os.listdir, not pkgutil: `netsize --help` is timed against `python -c pass` (README).
    names = sorted(f[:-3] for f in os.listdir(__path__[0]) if f.startswith("cmd_") and f.endswith(".py"))
    if f"cmd_{command}" in names:  # a command to run: the others are not needed, even by name
        names = [f"cmd_{command}"]
    for name in names:
        module = importlib.import_module(f"{__name__}.{name}")
        if command is None or name == f"cmd_{command}":
            module.add_parser(sub)
            continue
        with contextlib.suppress(_Listed):
            module.add_parser(_Lister(sub))
    return parser


def _command(argv: Sequence[str]) -> str:
    """The subcommand named in ``argv`` ("" when none: then no subcommand is built in full)."""
    for arg in argv:
        if not arg.startswith("-"):
            return arg.replace("-", "_")
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 user error, 130 interrupted)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command(argv))
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        print("netsize: error: a command is required (summary, explain, zoo, layers, ...)", file=sys.stderr)
        parser.print_usage(sys.stderr)
        return 2
    import warnings

    # netsize's own warnings travel in the Summary's notes, which every format prints.
    warnings.filterwarnings("ignore", message="netsize: ", category=RuntimeWarning)
    import gc

    # One command, then the process ends: the cycle collector waits (see netsize._gc), except for
    # the server, which runs until stopped.
    collecting = gc.isenabled()
    if _command(argv) != "serve":
        gc.disable()
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
    finally:
        if collecting:
            gc.enable()


def _fail(message: str) -> int:
    from netsize.render import printable

    print(f"netsize: error: {printable(message)}", file=sys.stderr)
    return 2


def _is_input_error(err: Exception) -> bool:
    """Parse errors of input files (YAML, JSON) are user mistakes, not bugs."""
    import json

    if isinstance(err, json.JSONDecodeError | UnicodeDecodeError):
        return True
    yaml = sys.modules.get("yaml")
    return yaml is not None and isinstance(err, yaml.YAMLError)
