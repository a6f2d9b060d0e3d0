"""From a spec (YAML text, file or Python data) to a :class:`~netsize.Network`."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path
from typing import Any

from netsize._errors import NetsizeError
from netsize._gc import gc_paused
from netsize._layer import CONVENTIONS, Layer
from netsize._limits import MAX_LAYERS, MAX_RANK, MAX_SPEC_BYTES, read_bounded_text
from netsize._network import Network, Node
from netsize._record import record
from netsize._shape import LAYOUTS
from netsize.layers import layer_type
from netsize.spec._expr import ExprError, has_vars, substitute
from netsize.spec._fields import FieldError, coerce, layer_fields
from netsize.spec._nodes import Collector, Val, from_python, parse_yaml

TOP_KEYS = ("name", "description", "source", "input", "inputs", "layout", "convention", "variables", "blocks",
            "layers", "outputs")
ENTRY_KEYS = ("name", "type", "block", "layers", "from", "repeat", "with", "first", "trainable", "tied_to", "output")
BLOCK_KEYS = ("inputs", "variables", "layers", "output", "description")
RESERVED_VARIABLES = ("i",)


@record
class Spec:
    """A loaded spec: the network plus what the spec says about it.

    ``lines`` maps each node name to the line of the spec entry that made it (when known).
    """

    network: Network
    file: str
    convention: str | None = None
    description: str = ""
    source: str = ""
    variables: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)

    def where(self, node: str) -> str:
        """``alexnet.yaml:12`` for a node name, or just the file."""
        line = self.lines.get(node)
        return f"{self.file}:{line}" if line else self.file


def load_spec(source: str | Path | Mapping[str, Any], variables: Mapping[str, Any] | None = None) -> Network:
    """The network a spec describes.

    ``source`` is a path to a ``.yaml``/``.yml`` file, YAML text, or the same structure as
    Python data. ``variables`` override the spec's ``variables:``. Every mistake is reported
    at once in a :class:`SpecError` (a :class:`~netsize.NetsizeError`), each with its file,
    line and field path.

    >>> net = load_spec('''
    ... name: mlp
    ... input: [784]
    ... variables: {hidden: 256}
    ... layers:
    ...   - fc1: {type: linear, out_features: $hidden}
    ...   - fc2: {type: linear, out_features: $hidden // 2}
    ... ''')
    >>> [(n.name, n.layer.out_features) for n in net.nodes]
    [('fc1', 256), ('fc2', 128)]
    """
    return read_spec(source, variables).network


def read_spec(source: str | Path | Mapping[str, Any], variables: Mapping[str, Any] | None = None) -> Spec:
    """Like :func:`load_spec`, keeping the spec's convention, description and line numbers."""
    with gc_paused():
        return _read_spec(source, variables)


def _read_spec(source: str | Path | Mapping[str, Any], variables: Mapping[str, Any] | None) -> Spec:
    if isinstance(source, Mapping):
        return _Builder("<spec>", from_python(source), variables).build()
    if isinstance(source, Path) or ("\n" not in source and source.strip().lower().endswith((".yaml", ".yml"))):
        path = Path(source)
        text = read_bounded_text(path, MAX_SPEC_BYTES, "spec")
        file = str(source)
    else:
        text, file = source, "<spec>"
    return _Builder(file, parse_yaml(text, file), variables).build()


def _typed(value: Any) -> Any:
    """``value`` with its type, so that equal values of different types (1, 1.0, True) stay apart."""
    if isinstance(value, tuple):
        return tuple, tuple(_typed(v) for v in value)
    return type(value), value


def _suggest(word: str, options: list[str] | tuple[str, ...], what: str = "") -> str:
    close = difflib.get_close_matches(word, list(options), n=3, cutoff=0.6)
    if close:
        return "; did you mean " + ", ".join(close) + "?"
    shown = ", ".join(options[:20]) + (f", ... ({len(options) - 20:,} more)" if len(options) > 20 else "")
    return f"; {what or 'expected'}: {shown}" if options else ""


class _Scope:
    """Names visible where a layer is written: local name -> global node (or input) name.

    A group or block's own names are reached from outside by dotted names (``h.3.fc1``) through
    ``groups``, looked up when asked: copying every inner name into every enclosing scope cost
    layers x depth entries on deeply nested specs.
    """

    def __init__(self, parent: _Scope | None = None) -> None:
        self.parent = parent
        self.names: dict[str, str] = {}
        # local name of a finished group or block (``h.3``) -> its scope and its input names (not exported)
        self.groups: dict[str, tuple[_Scope, tuple[str, ...]]] = {}

    def lookup(self, name: str) -> str | None:
        scope: _Scope | None = self
        while scope is not None:
            found = scope.own(name)
            if found is not None:
                return found
            scope = scope.parent
        return None

    def own(self, name: str) -> str | None:
        """``name`` among the names written in this scope, dotted names into its groups included."""
        found = self.names.get(name)
        if found is not None:
            return found
        dot = name.find(".")
        while dot != -1:
            group = self.groups.get(name[:dot])
            if group is not None and name[dot + 1:] not in group[1]:
                found = group[0].own(name[dot + 1:])
                if found is not None:
                    return found
            dot = name.find(".", dot + 1)
        return None

    def visible(self, limit: int = 1000) -> list[str]:
        """Names for suggestions (nearest scope first, a scope's latest ``limit`` names), at most
        ``limit`` of them: a search for a close name costs a few microseconds a name."""
        out: dict[str, None] = {}
        scope: _Scope | None = self
        while scope is not None and len(out) < limit:
            for name in scope.exported(limit - len(out)):
                out.setdefault(name)
            scope = scope.parent
        return list(out)[:limit]

    def exported(self, limit: int) -> list[str]:
        out = list(self.names)[-limit:]
        for local, (group, hidden) in self.groups.items():
            if len(out) >= limit:
                break
            out.extend(f"{local}.{n}" for n in group.exported(limit - len(out)) if n not in hidden)
        return out


class _TooLarge(Exception):
    """The spec makes more layers than :data:`MAX_LAYERS`: stop building at once."""

    def __init__(self, line: int | None, loc: str) -> None:
        self.line, self.loc = line, loc


class _Builder:
    def __init__(self, file: str, root: Val, overrides: Mapping[str, Any] | None) -> None:
        self.file = file
        self.root = root
        self.overrides = dict(overrides or {})
        self.col = Collector(file)
        self.nodes: list[tuple[str, Layer | None, tuple[str, ...], bool, str | None]] = []
        self.lines: dict[str, int] = {}
        self.blocks: dict[str, Val] = {}
        self.global_names: set[str] = set()
        self.block_stack: list[str] = []
        self.auto: dict[tuple[str, str], int] = {}
        self.entries = 0  # entries visited, repetitions included: bounds the work of nested blocks
        # Computed once per spec, not per layer: auto-name bases, layer classes by type name, and
        # layers by class and field values (equal layers are one object; a layer is immutable).
        self.bases: dict[str, str] = {}
        self.types: dict[str, type[Layer]] = {}
        self.made: dict[tuple[type[Layer], tuple[tuple[str, Any], ...]], Layer] = {}

    # --- top level -------------------------------------------------------------------
    def build(self) -> Spec:
        col, root = self.col, self.root
        if not root.is_map:
            col.add(root.line, "", "a spec is a mapping with at least `input` and `layers`")
            col.raise_if_any()
        top: dict[str, Val] = root.v
        for key in top:
            if key not in TOP_KEYS:
                col.add(root.key_lines.get(key), key, "unknown key" + _suggest(key, TOP_KEYS, "allowed keys"))
        default_name = Path(self.file).stem if self.file != "<spec>" else "network"
        name = self._string(top.get("name"), "name", default_name)
        variables = self._variables(top.get("variables"), root.key_lines.get("variables", root.line))
        layout = self._choice(top.get("layout"), "layout", LAYOUTS, LAYOUTS[0])
        convention = self._choice(top.get("convention"), "convention", CONVENTIONS, None)
        inputs = self._inputs(top, variables)
        blocks = top.get("blocks")
        if blocks is not None:
            if not blocks.is_map:
                col.add(blocks.line, "blocks", "must be a mapping of block names to definitions")
            else:
                for bname, bdef in blocks.v.items():
                    if self._check_block(bname, bdef):
                        self.blocks[bname] = bdef
        scope = _Scope()
        for iname in inputs:
            scope.names[iname] = iname
            self.global_names.add(iname)
        layers = top.get("layers")
        if layers is None:
            col.add(root.line, "layers", "missing: list the layers under `layers:`")
        elif not layers.is_seq or not layers.v:
            col.add(layers.line, "layers", "must be a non-empty list of layers")
        else:
            first_input = next(iter(inputs), "input")
            try:
                self._sequence(layers, "layers", "", scope, first_input, variables)
            except _TooLarge as big:
                col.add(big.line, big.loc, f"the network has more than {MAX_LAYERS:,} layers (repetitions "
                        "included), the most netsize analyses")
                col.raise_if_any()
        outputs: tuple[str, ...] = ()
        outs = top.get("outputs")
        if outs is not None:
            refs = self._refs(outs, "outputs", scope)
            outputs = tuple(refs) if refs is not None else ()
        col.raise_if_any()
        network = Network(
            name=name,
            inputs=inputs,
            nodes=[Node(n, layer, refs, trainable, tied) for n, layer, refs, trainable, tied in self.nodes if layer],
            layout=layout,
            outputs=outputs,
        )
        return Spec(
            network=network,
            file=self.file,
            convention=convention,
            description=self._string(top.get("description"), "description", ""),
            source=self._string(top.get("source"), "source", ""),
            variables=variables,
            lines=self.lines,
        )

    def _string(self, val: Val | None, loc: str, default: str) -> str:
        if val is None:
            return default
        if not isinstance(val.v, str | int) or isinstance(val.v, bool):
            self.col.add(val.line, loc, f"must be a string (got {val.plain()!r})")
            return default
        return str(val.v)

    def _choice(self, val: Val | None, loc: str, options: tuple[str, ...], default: Any) -> Any:
        if val is None:
            return default
        if val.v not in options:
            self.col.add(val.line, loc, f"must be one of {', '.join(options)} (got {val.plain()!r})")
            return default
        return val.v

    def _variables(self, val: Val | None, line: int | None) -> dict[str, Any]:
        declared: dict[str, Val] = {}
        if val is not None:
            if not val.is_map:
                self.col.add(val.line, "variables", "must be a mapping of names to values")
            else:
                declared = val.v
        for name in self.overrides:
            if name not in declared:
                self.col.add(
                    line, "variables", f"the spec has no variable {name!r} to set"
                    + _suggest(name, list(declared), "its variables")
                )
        out: dict[str, Any] = {}
        for name, raw in declared.items():
            loc = f"variables.{name}"
            if not name.isidentifier() or name in RESERVED_VARIABLES:
                self.col.add(raw.line, loc, "a variable name must be an identifier other than `i`")
                continue
            value = self.overrides.get(name, raw.plain())
            try:
                out[name] = substitute(value, out)
            except ExprError as err:
                self.col.add(raw.line, loc, str(err))
        return out

    def _inputs(self, top: dict[str, Val], variables: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        single, many = top.get("input"), top.get("inputs")
        if single is not None and many is not None:
            self.col.add(many.line, "inputs", "give either `input` (one input) or `inputs` (named), not both")
        if single is None and many is None:
            self.col.add(self.root.line, "input", "missing: the per-sample input shape, e.g. input: [3, 224, 224]")
            return {}
        if single is not None:
            shape = self._shape(single, "input", variables)
            return {"input": shape} if shape else {}
        assert many is not None
        if not many.is_map or not many.v:
            self.col.add(many.line, "inputs", "must map input names to shapes, e.g. inputs: {image: [3, 224, 224]}")
            return {}
        out = {}
        for name, val in many.v.items():
            shape = self._shape(val, f"inputs.{name}", variables)
            if shape:
                out[name] = shape
        return out

    def _shape(self, val: Val, loc: str, variables: dict[str, Any]) -> tuple[int, ...] | None:
        try:
            value = substitute(val.plain(), variables)
        except ExprError as err:
            self.col.add(val.line, loc, str(err))
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            value = [value]
        if (
            not isinstance(value, list)
            or not value
            or any(isinstance(d, bool) or not isinstance(d, int) or d <= 0 for d in value)
        ):
            self.col.add(
                val.line, loc, f"must be a list of positive ints, per sample without the batch (got {value!r})"
            )
            return None
        if len(value) > MAX_RANK:
            self.col.add(val.line, loc, f"{len(value)} axes; an input may have at most {MAX_RANK}")
            return None
        return tuple(value)

    def _check_block(self, name: str, bdef: Val) -> bool:
        loc = f"blocks.{name}"
        if not bdef.is_map:
            self.col.add(bdef.line, loc, "a block is a mapping with `layers` (and optional `inputs`, `output`)")
            return False
        for key in bdef.v:
            if key not in BLOCK_KEYS:
                self.col.add(bdef.key_lines.get(key), f"{loc}.{key}", "unknown key" + _suggest(key, BLOCK_KEYS))
        layers = bdef.v.get("layers")
        if layers is None or not layers.is_seq or not layers.v:
            self.col.add(bdef.line, f"{loc}.layers", "a block needs a non-empty list of layers")
            return False
        ins = bdef.v.get("inputs")
        if ins is not None and (
            not ins.is_seq or not ins.v or not all(isinstance(x.v, str) and x.v.isidentifier() for x in ins.v)
        ):
            self.col.add(ins.line, f"{loc}.inputs", f"must be a list of input names (got {ins.plain()!r})")
            return False
        bvars = bdef.v.get("variables")
        if bvars is not None and not bvars.is_map:
            self.col.add(bvars.line, f"{loc}.variables", "must be a mapping of names to default values")
            return False
        return True

    # --- sequences of entries ----------------------------------------------------------
    def _sequence(self, seq: Val, loc: str, prefix: str, scope: _Scope, last: str, variables: dict[str, Any]) -> str:
        for index, entry in enumerate(seq.v):
            last = self._entry(entry, f"{loc}[{index}]", prefix, scope, last, variables)
        return last

    def _entry(self, entry: Val, loc: str, prefix: str, scope: _Scope, last: str, variables: dict[str, Any]) -> str:
        col = self.col
        self.entries += 1
        if self.entries > 2 * MAX_LAYERS or len(self.nodes) >= MAX_LAYERS:
            raise _TooLarge(entry.line, loc)
        name: str | None = None
        body: dict[str, Val]
        key_lines: dict[str, int] = {}
        if isinstance(entry.v, str):
            body = {"type": entry}
        elif entry.is_map and len(entry.v) == 1 and next(iter(entry.v)) not in ENTRY_KEYS:
            name, inner = next(iter(entry.v.items()))
            if isinstance(inner.v, str):
                body = {"type": inner}
            elif inner.is_map:
                body, key_lines = inner.v, inner.key_lines
                if "name" in body:
                    col.add(inner.line, f"{loc}.name", f"the layer is already named {name!r} by its key")
            else:
                col.add(entry.line, loc, f"layer {name!r} needs a type: `{name}: relu` or `{name}: {{type: ...}}`")
                return last
        elif entry.is_map:
            body, key_lines = entry.v, entry.key_lines
            if "name" in body:
                name = self._string(body["name"], f"{loc}.name", "") or None
        else:
            col.add(
                entry.line, loc, f"a layer is `name: type` or `name: {{type: ..., field: value}}` (got {entry.v!r})"
            )
            return last
        kinds = [k for k in ("type", "block", "layers") if k in body]
        if len(kinds) != 1:
            what = (
                "has both " + " and ".join(kinds) if kinds else "needs `type` (a layer), `block` or `layers` (a group)"
            )
            col.add(entry.line, loc, what)
            return last
        kind = kinds[0]
        if name is None:
            label = str(body[kind].v) if kind != "layers" else "group"
            name = self._auto_name(prefix, label)
        if not isinstance(name, str) or not name or "." in name or ":" in name:
            col.add(entry.line, loc, f"layer names may not contain '.' or ':' (got {name!r})")
            return last
        if scope.names.get(name) is not None or f"{prefix}{name}" in self.global_names:
            col.add(entry.line, loc, f"duplicate layer name {name!r}")
            return last
        line = entry.line
        repeat = self._repeat(body.get("repeat"), f"{loc}.repeat", variables)
        from_refs = self._refs(body["from"], f"{loc}.from", scope) if "from" in body else [last]
        if from_refs is None:
            from_refs = [last]
        trainable = True
        if "trainable" in body:
            trainable_val = body["trainable"]
            if not isinstance(trainable_val.v, bool):
                col.add(trainable_val.line, f"{loc}.trainable", f"must be true or false (got {trainable_val.v!r})")
            else:
                trainable = trainable_val.v
        if kind == "type":
            for key in ("with", "output"):
                if key in body:
                    col.add(key_lines.get(key, line), f"{loc}.{key}", f"`{key}` belongs to blocks, not layers")
            return self._layer(name, body, key_lines, loc, prefix, scope, from_refs, variables, repeat, trainable, line)
        for key in ("tied_to",):
            if key in body:
                col.add(key_lines.get(key, line), f"{loc}.{key}", "`tied_to` applies to a layer, not a block")
        return self._group(name, kind, body, key_lines, loc, prefix, scope, from_refs, variables, repeat, line)

    def _auto_name(self, prefix: str, label: str) -> str:
        base = self.bases.get(label)
        if base is None:
            base = self.bases[label] = "".join(ch if ch.isalnum() else "_" for ch in label.lower())
        key = (prefix, base)
        self.auto[key] = self.auto.get(key, 0) + 1
        return f"{base}_{self.auto[key]}"

    def _repeat(self, val: Val | None, loc: str, variables: dict[str, Any]) -> int | None:
        if val is None:
            return None
        try:
            n = substitute(val.plain(), variables)
        except ExprError as err:
            self.col.add(val.line, loc, str(err))
            return None
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            self.col.add(val.line, loc, f"must be a positive int (got {n!r})")
            return None
        if n > MAX_LAYERS:
            self.col.add(val.line, loc, f"{n:,} repetitions; a network may have at most {MAX_LAYERS:,} layers")
            return None
        return n

    def _refs(self, val: Val, loc: str, scope: _Scope) -> list[str] | None:
        items = val.v if val.is_seq else [val]
        if not items:
            self.col.add(val.line, loc, "must name at least one earlier layer or input")
            return None
        out = []
        for item in items:
            ref = item.v
            if not isinstance(ref, str):
                self.col.add(item.line, loc, f"must be a layer or input name (got {ref!r})")
                return None
            base, sep, port = ref.partition(":")
            target = scope.lookup(base)
            if target is None:
                self.col.add(
                    item.line, loc, f"{ref!r} is not an earlier layer or input"
                    + _suggest(base, scope.visible(), "earlier names")
                )
                return None
            if sep and not port.isdigit():
                self.col.add(item.line, loc, f"{ref!r}: the output index after ':' must be a number")
                return None
            out.append(f"{target}:{port}" if sep else target)
        return out

    # --- a layer -------------------------------------------------------------------------
    def _layer(
        self,
        name: str,
        body: dict[str, Val],
        key_lines: dict[str, int],
        loc: str,
        prefix: str,
        scope: _Scope,
        from_refs: list[str],
        variables: dict[str, Any],
        repeat: int | None,
        trainable: bool,
        line: int | None,
    ) -> str:
        col = self.col
        type_val = body["type"]
        cls: type[Layer] | None = None
        if not isinstance(type_val.v, str):
            col.add(type_val.line, f"{loc}.type", f"must be a layer type name (got {type_val.plain()!r})")
        else:
            cls = self.types.get(type_val.v)
            if cls is None:
                try:
                    cls = self.types[type_val.v] = layer_type(type_val.v)
                except NetsizeError as err:
                    col.add(type_val.line, f"{loc}.type", str(err))
        tied: str | None = None
        if "tied_to" in body:
            refs = self._refs(body["tied_to"], f"{loc}.tied_to", scope)
            tied = refs[0] if refs else None
        first = body.get("first")
        if first is not None and not first.is_map:
            col.add(first.line, f"{loc}.first", "must be a mapping of fields for the first repetition")
            first = None
        fields = {k: v for k, v in body.items() if k not in ENTRY_KEYS}
        count = repeat or 1
        refs = from_refs
        out = refs[0]
        for r in range(count):
            node = f"{prefix}{name}.{r}" if repeat else f"{prefix}{name}"
            values = dict(fields)
            if r == 0 and first is not None:
                values.update(first.v)
            scope_vars = {**variables, "i": r} if repeat else variables
            layer = None
            if len(self.nodes) >= MAX_LAYERS:
                raise _TooLarge(line, loc)
            if cls is not None:
                layer = self._make(cls, values, key_lines, loc, scope_vars, line, refs)
            self.nodes.append((node, layer, tuple(refs), trainable, tied))
            self.lines[node] = line or 0
            self.global_names.add(node)
            if repeat:
                scope.names[f"{name}.{r}"] = node
            refs = [node]
            out = node
        scope.names[name] = out
        return out

    def _make(
        self,
        cls: type[Layer],
        values: dict[str, Val],
        key_lines: dict[str, int],
        loc: str,
        variables: dict[str, Any],
        line: int | None,
        refs: list[str],
    ) -> Layer | None:
        col = self.col
        known = layer_fields(cls)
        kwargs: dict[str, Any] = {}
        ok = True
        for key, val in values.items():
            where = key_lines.get(key, val.line)
            if key not in known:
                message = f"{cls.kind} has no field {key!r}" + _suggest(key, list(known), "fields")
                col.add(where, f"{loc}.{key}", message)
                ok = False
                continue
            hint, _ = known[key]
            try:
                raw = val.plain()
                value = substitute(raw, variables) if has_vars(raw) or isinstance(raw, list) else raw
                kwargs[key] = coerce(hint, value)
            except (ExprError, FieldError) as err:
                col.add(where, f"{loc}.{key}", str(err))
                ok = False
        for key, (_, required) in known.items():
            if required and key not in kwargs and key not in values:
                col.add(line, loc, f"{cls.kind} needs field {key!r}")
                ok = False
        if cls.arity is not None and cls.arity > 1 and len(refs) == 1:
            col.add(line, f"{loc}.from", f"{cls.kind} takes {cls.arity} inputs; name them with from: [a, b]")
            ok = False
        if not ok:
            return None
        made_key = (cls, tuple((k, _typed(v)) for k, v in kwargs.items()))
        try:
            made = self.made.get(made_key)
            cacheable = True
        except TypeError:  # a value that cannot be hashed: made each time
            made, cacheable = None, False
        if made is not None:
            return made
        try:
            layer = cls(**kwargs)
            if cacheable:
                self.made[made_key] = layer
            return layer
        except NetsizeError as err:
            col.add(line, loc, str(err))
        except (TypeError, ValueError) as err:
            col.add(line, loc, f"{cls.kind}: {err}")
        return None

    # --- blocks and groups -------------------------------------------------------------
    def _group(
        self,
        name: str,
        kind: str,
        body: dict[str, Val],
        key_lines: dict[str, int],
        loc: str,
        prefix: str,
        scope: _Scope,
        from_refs: list[str],
        variables: dict[str, Any],
        repeat: int | None,
        line: int | None,
    ) -> str:
        col = self.col
        for key in body:
            if key not in ENTRY_KEYS:
                message = f"unknown key for a {kind}" + _suggest(key, ENTRY_KEYS)
                col.add(key_lines.get(key, line), f"{loc}.{key}", message)
        if kind == "block":
            bname = body["block"].v
            if not isinstance(bname, str) or bname not in self.blocks:
                hint = (
                    _suggest(str(bname), list(self.blocks), "defined blocks")
                    if self.blocks
                    else "; define it under `blocks:`"
                )
                col.add(body["block"].line, f"{loc}.block", f"unknown block {bname!r}{hint}")
                return scope.names.setdefault(name, from_refs[0])
            if bname in self.block_stack:
                col.add(body["block"].line, f"{loc}.block", f"block {bname!r} uses itself")
                return from_refs[0]
            bdef = self.blocks[bname]
            seq, inner_loc = bdef.v["layers"], f"blocks.{bname}.layers"
            input_names = [x.v for x in bdef.v["inputs"].v] if "inputs" in bdef.v else ["x"]
            defaults = bdef.v.get("variables")
            output = bdef.v.get("output")
        else:
            bname, seq, inner_loc = "", body["layers"], f"{loc}.layers"
            if not seq.is_seq or not seq.v:
                col.add(seq.line, inner_loc, "a group needs a non-empty list of layers")
                return from_refs[0]
            input_names, defaults, output = [], None, body.get("output")
        with_vals: dict[str, Any] = {}
        with_val = body.get("with")
        if with_val is not None:
            with_vals = self._with(with_val, f"{loc}.with", variables, defaults)
        first_vals: dict[str, Any] = {}
        first = body.get("first")
        if first is not None:
            first_vals = self._with(first, f"{loc}.first", variables, defaults)
        if input_names and len(input_names) != len(from_refs):
            col.add(line, f"{loc}.from", f"block {bname!r} takes {len(input_names)} inputs "
                    f"({', '.join(input_names)}) but is given {len(from_refs)}")
            return scope.names.setdefault(name, from_refs[0])
        if repeat and repeat > 1 and len(from_refs) > 1:
            col.add(line, f"{loc}.repeat", "only a block with one input can be repeated (each copy feeds the next)")
            return from_refs[0]
        count = repeat or 1
        refs = from_refs
        out = refs[0]
        self.block_stack.append(bname)
        for r in range(count):
            local = f"{name}.{r}" if repeat else name
            inner_prefix = f"{prefix}{local}."
            overrides = {**with_vals, **(first_vals if r == 0 else {})}
            scope_vars = dict(variables)
            if repeat:
                scope_vars["i"] = r
            if kind == "block":
                inner = _Scope()
                scope_vars = self._block_variables(defaults, loc, scope_vars, overrides)
                for iname, ref in zip(input_names, refs, strict=True):
                    inner.names[iname] = ref
            else:
                inner = _Scope(parent=scope)
                scope_vars.update(overrides)
            last = self._sequence(seq, inner_loc, inner_prefix, inner, refs[0], scope_vars)
            if output is not None:
                target = self._refs(output, f"{inner_loc.rsplit('.', 1)[0]}.output", inner)
                last = target[0] if target else last
            scope.groups[local] = (inner, tuple(input_names))
            scope.names[local] = last
            refs = [last]
            out = last
        self.block_stack.pop()
        scope.names[name] = out
        return out

    def _with(self, val: Val, loc: str, variables: dict[str, Any], defaults: Val | None) -> dict[str, Any]:
        if not val.is_map:
            self.col.add(val.line, loc, "must be a mapping of variable names to values")
            return {}
        allowed = list(defaults.v) if defaults is not None and defaults.is_map else []
        allowed += [v for v in variables if v not in allowed and v not in RESERVED_VARIABLES]
        out = {}
        for key, item in val.v.items():
            if key not in allowed:
                self.col.add(
                    val.key_lines.get(key, item.line), f"{loc}.{key}",
                    "not a variable of this block" + _suggest(key, allowed, "variables"),
                )
                continue
            try:
                out[key] = substitute(item.plain(), variables)
            except ExprError as err:
                self.col.add(item.line, f"{loc}.{key}", str(err))
        return out

    def _block_variables(
        self, defaults: Val | None, loc: str, variables: dict[str, Any], overrides: dict[str, Any]
    ) -> dict[str, Any]:
        scope_vars = {**variables, **overrides}
        if defaults is None or not defaults.is_map:
            return scope_vars
        for key, item in defaults.v.items():
            if key in overrides:
                continue
            try:
                scope_vars[key] = substitute(item.plain(), scope_vars)
            except ExprError as err:
                self.col.add(item.line, f"{loc} (block variable {key})", str(err))
        return scope_vars
