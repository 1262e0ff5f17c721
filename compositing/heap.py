"""This process's memory: what it holds privately, and giving the C heap's free pages back.

No Django, no numpy: ``/proc/self/smaps_rollup`` and glibc's ``malloc_trim`` through
ctypes. Elsewhere (another libc, another system) there is nothing to trim and
``IdleTrim`` does nothing.

A web worker's heap keeps its high-water mark after a burst of concurrent composites
(measured at 1 MP in process: +60 MB private after 4 threads x 10 composites, 125 MB free
in the heap). ``malloc_trim`` hands that back, but also the pages one composite reuses
each time (about 25 MB free between back-to-back composites): the next composite faults
them in again (+8 ms in process at 1 MP; the first request after a pause took 1.5-2x a
warm one over HTTP). The heap's own count of free bytes cannot tell the two apart (a
trimmed chunk stays free, its pages gone), so ``IdleTrim`` goes by the private memory:
it trims when that has grown by more than a working set since the last trim.
"""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

_ROLLUP = Path("/proc/self/smaps_rollup")


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):  # not glibc
        return None
    return libc


_libc = _glibc()


def can_trim() -> bool:
    """Whether this process's C library can give free heap pages back (glibc)."""
    return _libc is not None and _ROLLUP.exists()


def private_bytes() -> int:
    """Memory only this process holds: Private_Clean + Private_Dirty, in bytes (Linux)."""
    total = 0
    for line in _ROLLUP.read_text().splitlines():
        if line.startswith(("Private_Clean:", "Private_Dirty:")):
            total += int(line.split()[1])
    return total * 1024


class IdleTrim:
    """Called when the process pauses: gives the heap's free pages back if its private
    memory grew by more than ``allowance`` bytes since the last trim or ``keep_now``.
    Before either, the first call trims. Not thread-safe: one caller (a daemon thread)."""

    def __init__(self, allowance: int) -> None:
        self.allowance = allowance
        self.floor: int | None = None

    def keep_now(self) -> None:
        """What the process holds now is its working set: keep it (a warmed-up worker)."""
        if can_trim():
            self.floor = private_bytes()

    def __call__(self) -> bool:
        """Trim if grown past the allowance; returns whether it trimmed."""
        if not can_trim():
            return False
        if self.floor is not None and private_bytes() - self.floor <= self.allowance:
            return False
        _libc.malloc_trim(0)  # type: ignore[union-attr]
        self.floor = private_bytes()
        return True
