"""YAML text to a tree of values that remember their line, and the error collector."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from typing import Any

import yaml

from netsize._errors import NetsizeError
from netsize._limits import MAX_DEPTH, MAX_INT, MAX_INT_DIGITS, MAX_SPEC_BYTES, MAX_SPEC_ISSUES, MAX_YAML_VALUES
from netsize._record import record

try:  # libyaml is much faster; the pure-Python parser gives the same marks
    _LOADER: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _LOADER = yaml.SafeLoader

# The plain data YAML can hold; any other tag (!!python/..., !custom, !!binary, !!set) is refused.
_TAG = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {_TAG + t for t in ("null", "bool", "int", "float", "str", "seq", "map", "timestamp")}
_PLAIN_SCALAR_TAGS = {_TAG + t for t in ("null", "bool", "float", "str", "timestamp")}  # int: its digits are checked
_STR_TAG = _TAG + "str"


@record(frozen=False)
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


@record
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

    def __init__(self, issues: list[Issue], stopped: bool = False) -> None:
        issues = sorted(issues, key=lambda i: (i.line is None, i.line or 0))
        self.issues = list(issues)
        if len(issues) == 1:
            text = str(issues[0])
        else:
            # the first line stands on its own (a log or a terminal may show only it); the rest follow
            text = (
                f"{issues[0]} (and {len(issues) - 1} more mistake{'s' if len(issues) > 2 else ''} "
                f"in {issues[0].file}, below)\n" + "\n".join(f"  {i}" for i in issues[1:])
            )
        if stopped:  # the reader stopped at MAX_SPEC_ISSUES (Collector.add)
            text += f"\n  {issues[0].file}: stopped after {len(issues)} mistakes; fix these and run it again"
        super().__init__(text)


class Collector:
    """Collects issues so that a spec reports all its mistakes at once."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.issues: list[Issue] = []
        self._seen: set[Issue] = set()

    def add(self, line: int | None, loc: str, message: str) -> None:
        issue = Issue(self.file, line, loc, message)
        if issue not in self._seen:
            self._seen.add(issue)
            self.issues.append(issue)
            if len(self.issues) >= MAX_SPEC_ISSUES:
                raise SpecError(self.issues, stopped=True)

    def raise_if_any(self) -> None:
        if self.issues:
            raise SpecError(self.issues)


def parse_yaml(text: str, file: str) -> Val:
    """Parse ``text``; a YAML syntax error becomes a :class:`SpecError` with its line.

    The composed node graph is checked before anything is expanded: aliases are counted as the
    values they stand for (an alias bomb is refused, not expanded), a value that contains itself is
    refused, as are nesting deeper than ``MAX_DEPTH``, tags other than plain data, ``<<`` merge keys
    and integer literals past ``MAX_INT``.
    """
    if len(text) > MAX_SPEC_BYTES:
        raise SpecError([Issue(file, None, "", f"{len(text):,} characters; a spec may have at most "
                                                f"{MAX_SPEC_BYTES:,}")])
    node = _compose(text, file)
    if node is None:
        raise SpecError([Issue(file, None, "", "the spec is empty")])
    issues: list[Issue] = []
    _check_graph(node, file, issues)
    if issues:
        raise SpecError(issues)
    val = _convert(node, file, issues, yaml.SafeLoader(""))
    if issues:
        raise SpecError(issues)
    return val


def parse_value(text: str, what: str) -> Any:
    """A YAML value given on the command line (``--var NAME=VALUE``), as plain Python data, with
    the same bounds as a spec; mistakes are a NetsizeError naming ``what``."""
    try:
        node = _compose(text, what)
        if node is None:
            return None
        issues: list[Issue] = []
        _check_graph(node, what, issues)
        if not issues:
            val = _convert(node, what, issues, yaml.SafeLoader(""))
        if issues:
            raise NetsizeError(f"{what}: {issues[0].message}")
    except SpecError as err:
        if err.issues[0].message.startswith("not valid YAML") and "control character" not in err.issues[0].message:
            return text  # not YAML: the text itself, as a string (`--var act=@relu`)
        raise NetsizeError(f"{what}: {err.issues[0].message}") from None
    return val.plain()


def _compose(text: str, file: str) -> yaml.Node | None:
    try:
        node: yaml.Node | None = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as err:
        # the construct that is left open (context) is where the mistake usually is
        mark = err.context_mark or err.problem_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(str(p) for p in (err.context, err.problem) if p)
        if err.context_mark is not None and err.problem_mark is not None:
            problem += f" (on line {err.problem_mark.line + 1})"
        raise SpecError([Issue(file, line, "", f"not valid YAML: {problem}")]) from None
    except yaml.YAMLError as err:
        # a ReaderError (control characters) names "<unicode string>"; say what and where instead
        line = None
        detail = str(err).splitlines()[0] if str(err) else type(err).__name__
        if isinstance(err, yaml.reader.ReaderError):
            code = err.character if isinstance(err.character, int) else ord(str(err.character)[:1] or "\0")
            line = text.count("\n", 0, err.position) + 1
            detail = f"the control character U+{code:04X} is not allowed in YAML (write it escaped in a quoted string)"
        raise SpecError([Issue(file, line, "", f"not valid YAML: {detail}")]) from None
    except RecursionError:
        message = f"nested too deep; a spec may nest at most {MAX_DEPTH} levels"
        raise SpecError([Issue(file, None, "", message)]) from None
    return node


def _check_graph(root: yaml.Node, file: str, issues: list[Issue]) -> None:
    """Count the values ``root`` expands to (aliases included), without expanding anything."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()

    def line(n: yaml.Node) -> int:
        return int(n.start_mark.line) + 1

    def size(n: yaml.Node, depth: int) -> int:
        key = id(n)
        if key in sizes:
            return sizes[key]
        if key in on_path:
            raise _Refused(line(n), "a value that contains itself (a recursive alias) is not allowed")
        if depth > MAX_DEPTH:
            raise _Refused(line(n), f"nested more than {MAX_DEPTH} levels deep, the most a spec may nest")
        if n.tag not in _ALLOWED_TAGS:
            if n.tag == _TAG + "merge":
                raise _Refused(line(n), "`<<` merge keys are not supported; write the fields out, or use a block")
            tag = n.tag.replace(_TAG, "!!")
            raise _Refused(line(n), f"the YAML tag {tag} is not allowed; a spec holds plain values only")
        total = 1
        if isinstance(n, yaml.ScalarNode):
            if n.tag == _TAG + "int" and len(n.value.lstrip("+-").replace("_", "")) > MAX_INT_DIGITS:
                raise _Refused(line(n), f"an integer with {len(n.value)} digits; the largest allowed is 2**62")
        else:
            on_path.add(key)
            children = (
                [x for pair in n.value for x in pair] if isinstance(n, yaml.MappingNode) else list(n.value)
            )
            inner_ok = depth < MAX_DEPTH
            for child in children:
                # a plain scalar that passes every check counts 1, without a call (most nodes are)
                if inner_ok and type(child) is yaml.ScalarNode and child.tag in _PLAIN_SCALAR_TAGS:
                    total += 1
                else:
                    total += size(child, depth + 1)
                if total > MAX_YAML_VALUES:
                    raise _Refused(line(root), f"expands to more than {MAX_YAML_VALUES:,} values (aliases "
                                               "included), the most a spec may hold")
            on_path.discard(key)
        sizes[key] = total
        return total

    try:
        size(root, 1)
    except _Refused as refused:
        issues.append(Issue(file, refused.line, "", refused.message))


class _Refused(Exception):
    def __init__(self, line: int, message: str) -> None:
        self.line, self.message = line, message


def _convert(node: yaml.Node, file: str, issues: list[Issue], loader: yaml.SafeLoader) -> Val:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Val] = {}
        key_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node, loader) if isinstance(key_node, yaml.ScalarNode) else None
            key_line = key_node.start_mark.line + 1
            if not isinstance(key, str | int) or isinstance(key, bool):
                issues.append(Issue(file, key_line, "", f"keys must be names (got {key!r})"))
                continue
            key = str(key)
            if key in out:
                issues.append(Issue(file, key_line, key, f"duplicate key {key!r} (first on line {key_lines[key]})"))
                continue
            out[key] = _convert(value_node, file, issues, loader)
            key_lines[key] = key_line
        return Val(out, line, key_lines)
    if isinstance(node, yaml.SequenceNode):
        return Val([_convert(n, file, issues, loader) for n in node.value], line)
    value = _scalar(node, loader)
    if isinstance(value, int) and abs(value) > MAX_INT:
        issues.append(Issue(file, line, "", f"{value} is larger than 2**62, the largest integer netsize accepts"))
    return Val(value, line)


def _scalar(node: yaml.Node, loader: yaml.SafeLoader) -> Any:
    if node.tag == _STR_TAG:  # most scalars: the text is the value
        return node.value
    # construct_scalar directly: construct_object would keep every node in the loader's cache
    constructor = loader.yaml_constructors.get(node.tag)
    if constructor is None:  # pragma: no cover - tags are checked before
        return node.value
    return constructor(loader, node)


def from_python(obj: Any, depth: int = 1) -> Val:
    """A spec given as Python data (dicts, lists, scalars): no line numbers. Nesting is bounded
    as in YAML (a list that contains itself is refused at the bound)."""
    if depth > MAX_DEPTH and isinstance(obj, Mapping | list | tuple):
        raise SpecError([Issue("<spec>", None, "", f"nested more than {MAX_DEPTH} levels deep, the most a spec "
                                                   "may nest")])
    if isinstance(obj, Mapping):
        return Val({str(k): from_python(v, depth + 1) for k, v in obj.items()})
    if isinstance(obj, list | tuple):
        return Val([from_python(v, depth + 1) for v in obj])
    return Val(obj)
