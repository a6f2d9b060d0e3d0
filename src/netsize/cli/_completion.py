"""Shell completion scripts, written from the argparse parser itself so that they never drift from
the options: `netsize completion bash|zsh|fish` prints one (README, Shell completion).

Completed: subcommands, each subcommand's options, the values of options with a fixed set
(``--format``, ``--lang``, ``--optimizer``...), zoo names for TARGET and files for the rest.
"""

from __future__ import annotations

import argparse
import shlex

SHELLS = ("bash", "zsh", "fish")


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, tuple[str, argparse.ArgumentParser]]:
    """``{name: (help, parser)}`` of the subcommands."""
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: c.help or "" for c in action._choices_actions}
    return {name: (helps.get(name, ""), sub) for name, sub in action.choices.items()}


def _positional_choices(parser: argparse.ArgumentParser) -> list[str]:
    """The values a positional argument with choices takes (``completion bash|zsh|fish``)."""
    return [str(c) for a in parser._actions if not a.option_strings and a.choices for c in a.choices]


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.option_strings and a.help != argparse.SUPPRESS]


def script(shell: str, parser: argparse.ArgumentParser, zoo_names: list[str]) -> str:
    if shell == "bash":
        return _bash(parser, zoo_names)
    if shell == "zsh":
        # zsh runs the bash function through bashcompinit, as pip's and many other tools' scripts do.
        return "#compdef netsize\nautoload -U +X bashcompinit && bashcompinit\n" + _bash(parser, zoo_names)
    return _fish(parser, zoo_names)


def _bash(parser: argparse.ArgumentParser, zoo_names: list[str]) -> str:
    commands = _subcommands(parser)
    zoo = shlex.quote(" ".join(zoo_names))
    lines = [
        "# netsize completion for bash: eval \"$(netsize completion bash)\"",
        "_netsize() {",
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" cmd="" i',
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        '        case "${COMP_WORDS[i]}" in -*) ;; *) cmd="${COMP_WORDS[i]}"; break ;; esac',
        "    done",
        '    if [[ -z "$cmd" ]]; then',
        f'        COMPREPLY=($(compgen -W {shlex.quote(" ".join(commands))} -- "$cur"))',
        "        return",
        "    fi",
        '    case "$cmd" in',
    ]
    for name, (_, sub) in commands.items():
        options = _options(sub)
        lines.append(f"    {name})")
        lines.append('        case "$prev" in')
        for a in options:
            if a.choices:
                words = " ".join(str(c) for c in a.choices)
                lines.append(f"            {'|'.join(a.option_strings)}) "
                             f'COMPREPLY=($(compgen -W {shlex.quote(words)} -- "$cur")); return ;;')
            elif a.dest == "model":  # schedule --model TARGET
                lines.append(f"            {'|'.join(a.option_strings)}) COMPREPLY=($(compgen -W {zoo} -- \"$cur\") "
                             '$(compgen -f -- "$cur")); return ;;')
            elif a.nargs != 0:  # a number or a shape: nothing to offer
                lines.append(f"            {'|'.join(a.option_strings)}) COMPREPLY=(); return ;;")
        lines.append("        esac")
        words = " ".join(o for a in options for o in a.option_strings)
        lines.append(f'        if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W {shlex.quote(words)} -- "$cur")); '
                     "return; fi")
        positional_choices = _positional_choices(sub)
        if any(a.dest == "target" for a in sub._actions):
            lines.append(f'        COMPREPLY=($(compgen -W {zoo} -- "$cur") $(compgen -f -- "$cur"))')
        elif positional_choices:
            lines.append(f'        COMPREPLY=($(compgen -W {shlex.quote(" ".join(positional_choices))} -- "$cur"))')
        else:
            lines.append('        COMPREPLY=($(compgen -f -- "$cur"))')
        lines.append("        ;;")
    lines += ["    esac", "}", "complete -o filenames -F _netsize netsize", ""]
    return "\n".join(lines)


def _fish(parser: argparse.ArgumentParser, zoo_names: list[str]) -> str:
    commands = _subcommands(parser)
    out = ["# netsize completion for fish: netsize completion fish > ~/.config/fish/completions/netsize.fish",
           "complete -c netsize -f"]
    names = " ".join(commands)
    for name, (help_text, _) in commands.items():
        out.append(f"complete -c netsize -n 'not __fish_seen_subcommand_from {names}' -a {name} "
                   f"-d {shlex.quote(help_text)}")
    for name, (_, sub) in commands.items():
        seen = f"-n '__fish_seen_subcommand_from {name}'"
        for a in _options(sub):
            flags = " ".join(f"-l {o[2:]}" if o.startswith("--") else f"-s {o[1:]}" for o in a.option_strings)
            if a.choices:
                values = f" -xa {shlex.quote(' '.join(str(c) for c in a.choices))}"
            elif a.dest == "model":
                values = f" -ra {shlex.quote(' '.join(zoo_names))} -F"
            else:
                values = " -x" if a.nargs != 0 else ""
            out.append(f"complete -c netsize {seen} {flags}{values} -d {shlex.quote((a.help or '')[:80])}")
        positional_choices = _positional_choices(sub)
        if any(a.dest == "target" for a in sub._actions):
            out.append(f"complete -c netsize {seen} -a {shlex.quote(' '.join(zoo_names))} -F")
        elif positional_choices:
            out.append(f"complete -c netsize {seen} -a {shlex.quote(' '.join(positional_choices))}")
        else:
            out.append(f"complete -c netsize {seen} -F")
    return "\n".join(out) + "\n"
