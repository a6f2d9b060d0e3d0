"""``record``: a dataclass made cheaply, for the classes every ``netsize`` command creates.

``@dataclass(frozen=True)`` compiles six methods for each class when its module is imported
(``__init__``, ``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__``, ``__delattr__``). For the
hundred-odd layer types and result records that was about as long as the rest of ``netsize
summary resnet50`` together (issue 10). Here the dataclass machinery only records the fields;
``__repr__``, ``__eq__``, ``__hash__`` and the frozen guards are shared functions that read the
fields' names from the class, and ``__init__`` is compiled the first time the class is
instantiated (it runs once per object, so it is the same code dataclasses would write). A
class that is never instantiated costs no compilation at all. ``fields``, ``replace``,
``asdict`` and ``is_dataclass`` work as on any dataclass.

>>> @record
... class Point:
...     x: int
...     y: int = 0
>>> Point(1), Point(1) == Point(1, 0), hash(Point(1)) == hash(Point(1, 0))
(Point(x=1, y=0), True, True)
>>> from dataclasses import replace
>>> replace(Point(1), y=5)
Point(x=1, y=5)
"""

from __future__ import annotations

import inspect
from dataclasses import MISSING, Field, FrozenInstanceError, dataclass, field, fields
from operator import attrgetter
from typing import Any, ClassVar, TypeVar, dataclass_transform, get_origin, overload

_T = TypeVar("_T", bound=type)


@overload
def record(cls: _T, /) -> _T: ...
@overload
def record(*, frozen: bool = True, repr: bool = True, eq: bool = True) -> Any: ...


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def record(cls: Any = None, /, *, frozen: bool = True, repr: bool = True, eq: bool = True) -> Any:
    """Class decorator: ``@dataclass(frozen=frozen, repr=repr, eq=eq)``, made cheaply (see the module)."""

    def decorate(cls: Any) -> Any:
        own = _collect_fields(cls)
        cls.__dataclass_params__ = _FROZEN_PARAMS if frozen else _MUTABLE_PARAMS
        if cls.__dict__.get("__doc__") is None:
            cls.__doc__ = f"{cls.__name__}({', '.join(own)})"
        cls.__record_repr__ = tuple(f.name for f in own.values() if f.repr)
        compared = tuple(f.name for f in own.values() if f.compare)
        # attrgetter reads the fields in C: hashing layers (the op-count cache, shared analyses of
        # repeated layers) was a visible part of a summary with a generator here
        cls.__record_compare__ = (attrgetter(*compared, compared[0]) if len(compared) == 1 else attrgetter(*compared)
                                  ) if compared else staticmethod(_no_fields)
        cls.__init__ = _first_init(cls)
        if repr:
            cls.__repr__ = _repr
        if eq:
            cls.__eq__ = _eq
            cls.__hash__ = _hash if frozen else None
        if frozen:
            cls.__setattr__ = _frozen_setattr
            cls.__delattr__ = _frozen_delattr
        return cls

    return decorate if cls is None else decorate(cls)


@dataclass(frozen=True)
class _Frozen:
    marked: int = 0


@dataclass
class _Mutable:
    pass


# What dataclasses would record for the class (a dataclass subclassing a record checks that both
# are frozen or neither is), and the marker of a field proper; taken from real dataclasses so as
# not to name dataclasses' private constants.
_FROZEN_PARAMS = _Frozen.__dataclass_params__  # type: ignore[attr-defined]
_MUTABLE_PARAMS = _Mutable.__dataclass_params__  # type: ignore[attr-defined]
_FIELD_MARK = fields(_Frozen)[0]._field_type  # type: ignore[attr-defined]


def _is_classvar(annotation: Any) -> bool:
    if isinstance(annotation, str):  # `from __future__ import annotations`
        return annotation.startswith(("ClassVar", "typing.ClassVar"))
    return annotation is ClassVar or get_origin(annotation) is ClassVar


def _collect_fields(cls: Any) -> dict[str, Field[Any]]:
    """The fields dataclasses would find: the bases' (in reverse method resolution order), then
    the class's own annotations that are not ``ClassVar``; ``__dataclass_fields__`` is set."""
    collected: dict[str, Field[Any]] = {}
    for base in cls.__mro__[-1:0:-1]:
        for f in getattr(base, "__dataclass_fields__", {}).values():
            if f._field_type is _FIELD_MARK:
                collected[f.name] = f
    for name, annotation in inspect.get_annotations(cls).items():
        if _is_classvar(annotation):
            continue
        if isinstance(annotation, str) and annotation.startswith(("InitVar", "KW_ONLY", "dataclasses.")):
            raise TypeError(f"{cls.__name__}.{name}: records take plain fields ({annotation})")
        default = cls.__dict__.get(name, MISSING)
        f = default if isinstance(default, Field) else field(default=default)
        f.name, f.type, f.kw_only = name, annotation, False
        f._field_type = _FIELD_MARK  # type: ignore[union-attr]
        if f.default is not MISSING and type(f.default).__hash__ is None:
            raise ValueError(f"{cls.__name__}.{name}: mutable default {type(f.default).__name__} "
                             "is not allowed: use default_factory")
        if isinstance(default, Field):  # the class attribute becomes the default itself, as in dataclasses
            if f.default is MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, f.default)
        collected[name] = f
    cls.__dataclass_fields__ = collected
    return collected


def _repr(self: Any) -> str:
    inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__record_repr__)
    return f"{type(self).__qualname__}({inner})"


def _no_fields(obj: Any) -> tuple[Any, ...]:
    return ()


def _compared(self: Any) -> tuple[Any, ...]:
    return self.__record_compare__(self)  # type: ignore[no-any-return]


def _eq(self: Any, other: object) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _compared(self) == _compared(other)


def _hash(self: Any) -> int:
    return hash(_compared(self))


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _first_init(cls: Any) -> Any:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807 - becomes the class's __init__
        if cls.__dict__.get("__init__") is __init__:
            cls.__init__ = _compiled_init(cls)
        cls.__init__(self, *args, **kwargs)

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    return __init__


def _compiled_init(cls: Any) -> Any:
    params: list[str] = []
    body: list[str] = []
    scope: dict[str, Any] = {"__set": object.__setattr__, "__MISSING": MISSING}
    after_default = ""
    for f in fields(cls):
        if not f.init:
            raise TypeError(f"{cls.__name__}.{f.name}: record fields are all init fields")
        value = f.name
        if f.default is not MISSING:
            scope[f"__default_{f.name}"] = f.default
            params.append(f"{f.name}=__default_{f.name}")
            after_default = f.name
        elif f.default_factory is not MISSING:
            scope[f"__factory_{f.name}"] = f.default_factory
            params.append(f"{f.name}=__MISSING")
            value = f"__factory_{f.name}() if {f.name} is __MISSING else {f.name}"
            after_default = f.name
        elif after_default:
            raise TypeError(f"{cls.__name__}: field {f.name!r} without a default follows {after_default!r}")
        else:
            params.append(f.name)
        body.append(f"__set(self, {f.name!r}, {value})")
    if hasattr(cls, "__post_init__"):
        body.append("self.__post_init__()")
    source = f"def __init__(self, {', '.join(params)}):\n    " + "\n    ".join(body or ["pass"]) + "\n"
    exec(source, scope)  # the names come from class definitions, never from data
    init = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init
