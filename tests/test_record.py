"""``netsize._record.record``: a dataclass made cheaply must behave as ``@dataclass`` does
wherever the project or a user relies on it (fields, replace, asdict, equality, hashing,
freezing, inheritance, a user's own dataclass subclassing a built-in layer)."""

from __future__ import annotations

import dataclasses
from dataclasses import FrozenInstanceError, asdict, dataclass, field, fields, is_dataclass, replace
from typing import ClassVar

import pytest

import netsize
from netsize import analyze
from netsize._layer import Analysis, Context, Layer, required
from netsize._record import record
from netsize.layers import Conv2d, Linear


@record
class Base:
    kind: ClassVar[str] = "base"
    a: int
    b: int = 2
    tags: tuple[str, ...] = field(default=(), compare=False)


@record
class Child(Base):
    c: list[int] = field(default_factory=list, repr=False)
    b: int = 5  # overriding a default keeps the base's position, as in dataclasses


@record(frozen=False)
class Mutable:
    x: int
    log: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BaseDC:
    kind: ClassVar[str] = "base"
    a: int
    b: int = 2
    tags: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class ChildDC(BaseDC):
    c: list[int] = field(default_factory=list, repr=False)
    b: int = 5


@dataclass
class MutableDC:
    x: int
    log: list[str] = field(default_factory=list)


@pytest.mark.parametrize(("cls", "twin"), [(Base, BaseDC), (Child, ChildDC), (Mutable, MutableDC)])
def test_fields_match_what_dataclass_finds(cls, twin):
    def described(c):
        return [(f.name, f.type, f.default, f.default_factory, f.repr, f.compare, f.init, f.kw_only)
                for f in fields(c)]

    assert described(cls) == described(twin)
    assert is_dataclass(cls)
    assert cls.__dataclass_params__.frozen == twin.__dataclass_params__.frozen


def test_init_defaults_factories_and_order():
    c = Child(1)
    assert (c.a, c.b, c.c, c.tags) == (1, 5, [], ())
    assert Child(1).c is not Child(1).c  # a fresh list each time
    assert Child(1, 3, ("t",), [4]).c == [4]
    with pytest.raises(TypeError):
        Base()
    with pytest.raises(TypeError):
        Base(1, unknown=2)


def test_repr_eq_hash_follow_field_flags():
    assert repr(Child(1, c=[9])) == "Child(a=1, b=5, tags=())"
    assert Base(1, tags=("x",)) == Base(1, tags=("y",))  # tags: compare=False
    assert hash(Base(1, 2)) == hash(Base(1, 2)) and Base(1, 2) != Base(1, 3)
    assert Base(1) != Child(1)
    assert Mutable.__hash__ is None


def test_frozen_and_mutable():
    with pytest.raises(FrozenInstanceError):
        Base(1).a = 2
    with pytest.raises(FrozenInstanceError):
        del Base(1).a
    m = Mutable(1)
    m.x = 2
    assert m == Mutable(2)


def test_replace_and_asdict():
    assert replace(Child(1), b=7) == Child(1, 7)
    assert asdict(Child(1, c=[3])) == {"a": 1, "b": 5, "tags": (), "c": [3]}


def test_post_init_runs_and_can_refuse():
    @record
    class Checked:
        n: int

        def __post_init__(self) -> None:
            if self.n < 0:
                raise ValueError("negative")

    assert Checked(1).n == 1
    with pytest.raises(ValueError, match="negative"):
        Checked(-1)


def test_mutable_default_is_refused_as_dataclass_does():
    with pytest.raises(ValueError, match="mutable default"):
        @record
        class Bad:
            items: list[int] = []  # noqa: RUF012


def test_required_marks_a_layer_field_and_class_attribute_is_the_default():
    meta = {f.name: f.metadata.get("required", False) for f in fields(Linear)}
    assert meta["out_features"] is True and meta["in_features"] is False
    assert not isinstance(Linear.__dict__.get("out_features"), dataclasses.Field)


def test_layer_init_is_compiled_on_first_use_only():
    @record
    class Fresh(Layer):
        width: int = 1

    first = Fresh.__dict__["__init__"]
    Fresh(2)
    assert Fresh.__dict__["__init__"] is not first  # replaced by the compiled one
    assert Fresh(3).width == 3


def test_users_frozen_dataclass_may_subclass_a_builtin_layer():
    @dataclass(frozen=True)
    class MyConv(Conv2d):
        note: str = "mine"

        def analyze(self, inputs, ctx: Context) -> Analysis:
            return super().analyze(inputs, ctx)

    layer = MyConv(3, 8, kernel_size=3)
    assert layer.note == "mine" and layer.out_channels == 8
    net = netsize.Sequential([layer], input_shape=(3, 8, 8))
    assert analyze(net).totals.params == 3 * 8 * 9 + 8
    with pytest.raises(TypeError, match="non-frozen"):
        @dataclass
        class Thawed(Conv2d):
            pass


def test_layers_still_compare_and_hash_by_value():
    assert Conv2d(3, 8, 3) == Conv2d(in_channels=3, out_channels=8, kernel_size=3)
    assert len({Conv2d(3, 8, 3), Conv2d(3, 8, 3), Conv2d(3, 8, 5)}) == 2
    assert "out_channels=8" in repr(Conv2d(3, 8, 3))


def test_required_is_exported_for_custom_layers():
    @record
    class Custom(Layer):
        in_features: int | None = None
        out_features: int = required()

    assert fields(Custom)[1].metadata["required"] is True


def test_a_record_without_fields_compares_and_hashes():
    @record
    class Empty(Layer):
        pass

    assert Empty() == Empty() and hash(Empty()) == hash(Empty()) and repr(Empty()).endswith(".Empty()")
