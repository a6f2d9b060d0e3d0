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
    return -((-count * bits) // 8)
