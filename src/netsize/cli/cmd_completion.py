"""``netsize completion bash|zsh|fish``: print a shell completion script."""

from __future__ import annotations

import argparse

SHELL_HELP = (
    "bash: eval \"$(netsize completion bash)\" in ~/.bashrc; zsh: netsize completion zsh > "
    "\"${fpath[1]}/_netsize\" (or eval it in ~/.zshrc); fish: netsize completion fish > "
    "~/.config/fish/completions/netsize.fish"
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh or fish)",
        description="Print a completion script for your shell: subcommands, options, option values and zoo "
        "names complete with TAB. " + SHELL_HELP,
    )
    p.add_argument("shell", choices=("bash", "zsh", "fish"), help="the shell to complete in")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from netsize import zoo
    from netsize.cli import build_parser
    from netsize.cli._completion import script

    sys.stdout.write(script(args.shell, build_parser(), zoo.names()))
    return 0
