"""The stage timings a composite records (``Composite.timings``), from any thread.

Stages of one photo may run side by side (``engine.compute_beside``): each adds its own
wall time to its entry, under a lock, so the entries can add up to more than the
request's ``total_ms``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Timings = dict[str, Any]  # stage -> milliseconds (and a few flags), stored on the composite
_lock = threading.Lock()


@contextmanager
def timed(timings: Timings, key: str) -> Iterator[None]:
    """Add the block's wall time to ``timings[key]`` in milliseconds."""
    started = time.perf_counter()
    try:
        yield
    finally:
        elapsed = ms(time.perf_counter() - started)
        with _lock:
            timings[key] = round(timings.get(key, 0.0) + elapsed, 1)


def timed_call[T](
    timings: Timings, key: str, function: Callable[..., T], *args: Any, **kw: Any
) -> T:
    """``function(*args, **kw)``, its time added to ``timings[key]`` (from any thread)."""
    with timed(timings, key):
        return function(*args, **kw)


def ms(seconds: float) -> float:
    """Seconds -> milliseconds, to 0.1 ms."""
    return round(seconds * 1000.0, 1)
