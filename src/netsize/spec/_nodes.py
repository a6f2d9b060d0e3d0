"""YAML text to a tree of values that remember their line, and the error collector."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from netsize._errors import NetsizeError

try:  # libyaml is much faster; the pure-Python parser gives the same marks
    _LOADER: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _LOADER = yaml.SafeLoader

_SCALARS = yaml.SafeLoader("")


@dataclass
class Val:
    """A YAML value and the (1-based) line it starts on; ``None`` line for values built in Python.

    ``v`` is a plain scalar, a ``list[Val]`` or a ``dict[str, Val]``.
    """

    v: Any
    line: int | None = None
    key_lines: dict[str, int] = field(default_factory=dict)

    @property
    def is_map(self) -> bool:
        return isinstance(self.v, dict)

    @property
    def is_seq(self) -> bool:
        return isinstance(self.v, list)

    def plain(self) -> Any:
        """The value with line information stripped."""
        if isinstance(self.v, dict):
            return {k: x.plain() for k, x in self.v.items()}
        if isinstance(self.v, list):
            return [x.plain() for x in self.v]
        return self.v


@dataclass(frozen=True)
class Issue:
    """One mistake in a spec: where (file, line, path of fields) and what."""

    file: str
    line: int | None
    loc: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.loc}: {self.message}" if self.loc else f"{where}: {self.message}"


class SpecError(NetsizeError):
    """Every mistake found in a spec; ``issues`` lists them, the message shows them all."""

    def __init__(self, issues: list[Issue]) -> None:
        issues = sorted(issues, key=lambda i: (i.line is None, i.line or 0))
        self.issues = list(issues)
        if len(issues) == 1:
            text = str(issues[0])
        else:
            text = f"{len(issues)} mistakes in {issues[0].file}:\n" + "\n".join(f"  {i}" for i in issues)
        super().__init__(text)


class Collector:
    """Collects issues so that a spec reports all its mistakes at once."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.issues: list[Issue] = []

    def add(self, line: int | None, loc: str, message: str) -> None:
        issue = Issue(self.file, line, loc, message)
        if issue not in self.issues:
            self.issues.append(issue)

    def raise_if_any(self) -> None:
        if self.issues:
            raise SpecError(self.issues)


def parse_yaml(text: str, file: str) -> Val:
    """Parse ``text``; a YAML syntax error becomes a :class:`SpecError` with its line."""
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as err:
        # the construct that is left open (context) is where the mistake usually is
        mark = err.context_mark or err.problem_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(str(p) for p in (err.context, err.problem) if p)
        if err.context_mark is not None and err.problem_mark is not None:
            problem += f" (on line {err.problem_mark.line + 1})"
        raise SpecError([Issue(file, line, "", f"not valid YAML: {problem}")]) from None
    except yaml.YAMLError as err:
        raise SpecError([Issue(file, None, "", f"not valid YAML: {err}")]) from None
    if node is None:
        raise SpecError([Issue(file, None, "", "the spec is empty")])
    issues: list[Issue] = []
    val = _convert(node, file, issues)
    if issues:
        raise SpecError(issues)
    return val


def _convert(node: yaml.Node, file: str, issues: list[Issue]) -> Val:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Val] = {}
        key_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = _SCALARS.construct_object(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            key_line = key_node.start_mark.line + 1
            if not isinstance(key, str | int) or isinstance(key, bool):
                issues.append(Issue(file, key_line, "", f"keys must be names (got {key!r})"))
                continue
            key = str(key)
            if key in out:
                issues.append(Issue(file, key_line, key, f"duplicate key {key!r} (first on line {key_lines[key]})"))
                continue
            out[key] = _convert(value_node, file, issues)
            key_lines[key] = key_line
        return Val(out, line, key_lines)
    if isinstance(node, yaml.SequenceNode):
        return Val([_convert(n, file, issues) for n in node.value], line)
    return Val(_SCALARS.construct_object(node), line)


def from_python(obj: Any) -> Val:
    """A spec given as Python data (dicts, lists, scalars): no line numbers."""
    if isinstance(obj, Mapping):
        return Val({str(k): from_python(v) for k, v in obj.items()})
    if isinstance(obj, list | tuple):
        return Val([from_python(v) for v in obj])
    return Val(obj)
