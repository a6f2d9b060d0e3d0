"""Bounds on everything that input data can make large, so that a few bytes of a spec, a config
or a command line can never make netsize hang or run out of memory (issue 11).

Each bound is generous for real networks (the largest real spec we know has a few thousand layers)
and small enough that netsize answers or refuses a file under 1 MB in about a second. A value
past a bound is refused with a :class:`~netsize.NetsizeError` that states the bound.

>>> check_int(2**70, "out_features")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
netsize._errors.NetsizeError: out_features: 1180591620717411303424 is larger than 2**62, ...
"""

from __future__ import annotations

import math
import os
import re
import stat
from pathlib import Path
from typing import Any

from netsize._errors import NetsizeError

#: The largest integer a spec, an expression or an option may hold (a dimension, a count).
MAX_INT = 2**62
#: The largest exponent ``**`` accepts in a spec expression.
MAX_EXPONENT = 64
#: Digits an integer literal may have in a YAML or JSON file.
MAX_INT_DIGITS = 30
#: Nesting depth of lists and mappings in a spec, a --var value or a JSON config.
MAX_DEPTH = 64
#: YAML values in one spec after aliases are expanded (an alias counts as the nodes it stands for).
MAX_YAML_VALUES = 100_000
#: Bytes of a spec (YAML) file or text.
MAX_SPEC_BYTES = 256 * 1024
#: Bytes of a Hugging Face config.json.
MAX_CONFIG_BYTES = 4 * 1024 * 1024
#: Layers (nodes) in one network, counting every repetition.
MAX_LAYERS = 10_000
#: Nodes any frontend may build (a zoo model, a config): a backstop behind the readers' own bounds.
MAX_GRAPH_NODES = 100_000
#: Layers (blocks) a Hugging Face config may ask for, and experts per layer.
MAX_CONFIG_LAYERS = 1_000
MAX_CONFIG_EXPERTS = 4_096
#: Axes of an input shape.
MAX_RANK = 16
#: Mistakes the spec reader lists before it stops reading (as compilers stop after many errors):
#: each may cost a search for a close name, and a list longer than this helps nobody.
MAX_SPEC_ISSUES = 50
#: Characters of a TARGET or another name on the command line.
MAX_TARGET_CHARS = 4096


def check_int(value: int, what: str) -> int:
    """``value`` if ``|value| <= MAX_INT``, else a NetsizeError naming ``what`` and the bound."""
    if abs(value) > MAX_INT:
        raise NetsizeError(f"{what}: {_brief_int(value)} is larger than 2**62, the largest integer netsize accepts")
    return value


def check_float(value: float, what: str) -> float:
    """``value`` if finite, else a NetsizeError naming ``what``."""
    if not math.isfinite(value):
        raise NetsizeError(f"{what}: must be a finite number (got {value})")
    return value


def _brief_int(value: int) -> str:
    digits = abs(value).bit_length() * 0.30103
    if digits > 40:
        return f"a number of about {int(digits) + 1} digits"
    return str(value)


class CountTooLarge(NetsizeError):
    """A model's parameters or buffers past :data:`MAX_INT`: its sizes are too large to be real,
    and a number past it would be printed as if it were."""


def check_count(value: int, what: str) -> int:
    """``value`` if ``|value| <= MAX_INT``, else a :class:`CountTooLarge` naming ``what``."""
    if abs(value) > MAX_INT:
        raise CountTooLarge(f"{what} is {_brief_count(value)}, larger than 2**62, the largest count netsize "
                            "gives; a dimension of the model is too large to be real")
    return value


def _brief_count(value: int) -> str:
    return f"about {value:.3e}" if abs(value) >= 10**24 else f"{value:,}"


_FILE_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
               (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


def _not_regular(path: Path | str, mode: int, what: str) -> NetsizeError:
    kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a regular file")
    return NetsizeError(f"{path} is {kind}, not a regular file; netsize reads only regular files (here: the {what})")


def refuse_special_file(path: str | Path, what: str = "model") -> None:
    """Refuse ``path`` when it names something that is neither a regular file nor a folder (a
    FIFO, a device, a socket), before anything opens it: opening a FIFO waits for a writer
    forever, and a device such as ``/dev/zero`` never ends. In a folder, the ``config.json`` a
    Hugging Face or Keras folder is read from is checked too. A path that does not exist is left
    to the caller (it may be a zoo name or a model id)."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):  # missing, a name too long, a NUL byte: the caller's own message
        return
    if stat.S_ISDIR(mode):
        try:
            inner = os.stat(os.path.join(path, "config.json")).st_mode
        except (OSError, ValueError):
            return
        if not (stat.S_ISREG(inner) or stat.S_ISDIR(inner)):
            raise _not_regular(os.path.join(path, "config.json"), inner, f"{what} config")
        return
    if not stat.S_ISREG(mode):
        raise _not_regular(path, mode, what)


def read_bounded_bytes(path: Path, max_bytes: int, what: str) -> bytes:
    """The bytes of a regular ``what`` file, refused unread when larger than ``max_bytes``.

    The file is opened without blocking and checked on the open descriptor (no window between a
    check and the open where a FIFO could take the file's place); at most ``max_bytes + 1`` bytes
    are ever read, so a file that grows while it is read is refused too.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise NetsizeError(f"{what} file not found: {path}") from None
    except (OSError, ValueError) as err:
        raise NetsizeError(f"{path}: cannot read the {what}: {getattr(err, 'strerror', None) or err}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(path, info.st_mode, what)
        if info.st_size > max_bytes:
            raise NetsizeError(f"{path}: {info.st_size:,} bytes; a {what} may have at most {max_bytes:,}")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as file:
            data = file.read(max_bytes + 1)
    except OSError as err:
        raise NetsizeError(f"{path}: cannot read the {what}: {err.strerror or err}") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise NetsizeError(f"{path}: more than {max_bytes:,} bytes; a {what} may have at most {max_bytes:,}")
    return data


def read_bounded_text(path: Path, max_bytes: int, what: str) -> str:
    """The UTF-8 text of a ``what`` file (``config``, ``spec``), refused unread when larger than
    ``max_bytes`` or when it is not a regular file; a missing or unreadable file is a NetsizeError
    naming it."""
    data = read_bounded_bytes(path, max_bytes, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise NetsizeError(f"{path}: cannot read the {what}: {err}") from None


def read_json_object(path: str | Path) -> dict[str, Any]:
    """A JSON file that must hold an object, read within the bounds above.

    Refuses a file larger than :data:`MAX_CONFIG_BYTES`, nesting deeper than :data:`MAX_DEPTH`,
    an integer literal with more than :data:`MAX_INT_DIGITS` digits, and a top level that is not
    an object, each with a message naming the file.
    """
    path = Path(path)
    data = parse_json(read_bounded_text(path, MAX_CONFIG_BYTES, "config"), str(path))
    if not isinstance(data, dict):
        raise NetsizeError(f"{path}: a config must be a JSON object (got a {type(data).__name__})")
    return data



def parse_json(text: str, where: str) -> Any:
    """``json.loads(text)`` within the bounds: an integer literal of at most :data:`MAX_INT_DIGITS`
    digits, nesting at most :data:`MAX_DEPTH` deep; each refusal one NetsizeError naming ``where``."""

    def parse_int(literal: str) -> int:
        if len(literal.lstrip("-")) > MAX_INT_DIGITS:
            raise NetsizeError(
                f"{where}: an integer with {len(literal.lstrip('-'))} digits; at most {MAX_INT_DIGITS} are accepted"
            )
        return int(literal)

    import json  # here, not at the top: only configs are JSON

    try:
        data = json.loads(text, parse_int=parse_int)
    except json.JSONDecodeError as err:
        raise NetsizeError(f"{where}: not valid JSON ({err.msg} at line {err.lineno})") from None
    except RecursionError:
        raise NetsizeError(f"{where}: JSON nested too deep; a config may nest at most {MAX_DEPTH} levels") from None
    except ValueError as err:
        raise NetsizeError(f"{where}: not a readable JSON config ({err})") from None
    depth = _depth(data)
    if depth > MAX_DEPTH:
        raise NetsizeError(f"{where}: JSON nested {depth} levels deep; a config may nest at most {MAX_DEPTH}")
    return data

_LAYER_KEY = re.compile(r"(n|num|num_hidden|num_decoder|num_encoder|encoder|decoder|n_decoder|n_encoder)_layers?")
_EXPERT_KEY = re.compile(r"(num_local_experts|num_experts|n_routed_experts|moe_num_experts|num_experts_per_tok)")


def check_config_counts(data: dict[str, Any], path: str | Path, prefix: str = "") -> None:
    """Refuse a config whose layer or expert count (``n_layer``, ``num_hidden_layers``,
    ``num_local_experts``..., also in nested configs such as ``text_config``) is past the bound:
    a builder makes nodes per layer and per expert, so these decide the work. Every integer in it
    (nested objects and lists too) must be within :data:`MAX_INT`."""
    stack: list[tuple[str, dict[str, Any]]] = [(prefix, data)]
    while stack:
        prefix, obj = stack.pop()
        for key, value in obj.items():
            if isinstance(value, dict):
                stack.append((f"{prefix}{key}.", value))
                continue
            if isinstance(value, list):
                _check_list_ints(value, f"{prefix}{key}", path)
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                continue
            if abs(value) > MAX_INT:
                raise NetsizeError(f"{path}: field {prefix}{key} = {_brief_int(value)} is larger than 2**62, the "
                                   "largest integer netsize accepts")
            if _LAYER_KEY.fullmatch(key) and value > MAX_CONFIG_LAYERS:
                raise NetsizeError(
                    f"{path}: {prefix}{key} = {_brief_int(value)}; netsize analyses at most "
                    f"{MAX_CONFIG_LAYERS:,} layers"
                )
            if _EXPERT_KEY.fullmatch(key) and value > MAX_CONFIG_EXPERTS:
                raise NetsizeError(
                    f"{path}: {prefix}{key} = {_brief_int(value)}; netsize analyses at most "
                    f"{MAX_CONFIG_EXPERTS:,} experts"
                )


def _check_list_ints(items: list[Any], where: str, path: str | Path) -> None:
    """Integers in a config's lists (``block_sizes``, ``layer_types``...) within :data:`MAX_INT`;
    objects inside a list are checked field by field."""
    stack = [(where, items)]
    while stack:
        at, values = stack.pop()
        for i, item in enumerate(values):
            if isinstance(item, list):
                stack.append((f"{at}[{i}]", item))
            elif isinstance(item, dict):
                check_config_counts(item, path, f"{at}[{i}].")
            elif isinstance(item, int) and not isinstance(item, bool) and abs(item) > MAX_INT:
                raise NetsizeError(f"{path}: field {at}[{i}] = {_brief_int(item)} is larger than 2**62, the "
                                   "largest integer netsize accepts")


def _depth(data: Any) -> int:
    """How deeply lists and dicts nest in ``data`` (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            level += 1
            deepest = max(deepest, level)
            stack.extend((x, level) for x in item if isinstance(x, dict | list))
    return deepest
