"""Pausing Python's garbage collector while netsize builds many small objects.

Loading, analysing and rendering a large spec allocates hundreds of thousands of small objects
(YAML nodes, values, records) that hold no reference cycles; each allocation burst makes Python
walk the whole heap again and again looking for cycles. On a 10,000-layer spec that was more
than half of the work (concat_far in benchmarks/bench_large_spec.py: 0.74 s, 0.25 s with the
collector paused). Reference counting still frees everything as usual; only the cycle search
waits until the work is done, and the collector's previous state comes back.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the body with the cycle collector off, then restore it as it was.

    >>> import gc
    >>> with gc_paused():
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
