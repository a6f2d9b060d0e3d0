"""Bits per element of the dtypes netsize sizes models in."""

from __future__ import annotations

from netsize._errors import NetsizeError

DTYPE_BITS: dict[str, int] = {
    "float64": 64,
    "float32": 32,
    "tf32": 32,
    "float16": 16,
    "bfloat16": 16,
    "float8": 8,
    "int8": 8,
    "int4": 4,
}

_ALIASES = {
    "fp64": "float64",
    "double": "float64",
    "fp32": "float32",
    "float": "float32",
    "fp16": "float16",
    "half": "float16",
    "bf16": "bfloat16",
    "fp8": "float8",
    "float8_e4m3fn": "float8",
    "float8_e5m2": "float8",
}

REPORTED_DTYPES = ("float32", "bfloat16", "int8", "int4")


def canonical_dtype(name: str) -> str:
    """The canonical name of a dtype or its alias (``bf16`` -> ``bfloat16``, ``torch.half`` ->
    ``float16``); a torch dtype object is taken by its name."""
    if not isinstance(name, str):
        text = str(name)
        if not text.startswith("torch."):  # torch.bfloat16 prints as its name; nothing else does
            raise NetsizeError(f"a dtype is a name such as 'bfloat16' or 'int8' (got {name!r}); "
                               f"use one of {', '.join(DTYPE_BITS)}")
        name = text
    key = name.lower().removeprefix("torch.")
    key = _ALIASES.get(key, key)
    if key not in DTYPE_BITS:
        raise NetsizeError(f"unknown dtype {name!r}; use one of {', '.join(DTYPE_BITS)}")
    return key


def dtype_bytes(count: int, dtype: str) -> int:
    """Bytes of ``count`` elements of ``dtype``, rounded up to whole bytes (int4 packs two)."""
    bits = DTYPE_BITS.get(dtype)  # a canonical name (the memory walk asks ~10 times a layer)
    if bits is None:
        bits = DTYPE_BITS[canonical_dtype(dtype)]
    if type(count) is not int:  # counts are exact: a float or a text would give a wrong or no number
        count = _count(count)
    return -((-count * bits) // 8)


def _count(count: object) -> int:
    import operator

    if isinstance(count, bool):
        raise NetsizeError(f"dtype_bytes: count is a number of elements, an int (got {count!r})")
    try:
        return operator.index(count)  # type: ignore[arg-type]  # numpy and other exact integers
    except TypeError:
        raise NetsizeError(
            f"dtype_bytes: count is a number of elements, an int (got {count!r}, a {type(count).__name__})"
        ) from None
