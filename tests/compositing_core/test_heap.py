"""compositing.heap: the idle trim gives back a burst's free heap pages and keeps a
working set's."""

from __future__ import annotations

import ctypes

import pytest

from compositing import heap

pytestmark = pytest.mark.skipif(not heap.can_trim(), reason="needs glibc on Linux")

MB = 1 << 20


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    libc.malloc_trim.argtypes = [ctypes.c_size_t]
    return libc


def _settle() -> None:
    """Give back the free heap earlier tests left resident (a burst would reuse it unseen)."""
    _libc().malloc_trim(0)


def _burst(megabytes: int) -> ctypes.c_void_p:
    """Leave ``megabytes`` of written, freed blocks in the heap (small blocks come from the
    heap, not mmap); returns the block that keeps them from the heap's top."""
    libc = _libc()
    blocks = []
    for _ in range(megabytes * 16):
        block = libc.malloc(64 * 1024)
        libc.memset(block, 1, 64 * 1024)
        blocks.append(block)
    guard = libc.malloc(64 * 1024)
    for block in blocks:
        libc.free(block)
    return guard


def test_private_bytes_counts_what_the_process_writes():
    _settle()
    before = heap.private_bytes()
    guard = _burst(32)
    try:
        assert heap.private_bytes() - before >= 24 * MB
    finally:
        _libc().free(guard)
        heap.IdleTrim(allowance=0)()


def test_the_first_pause_trims_when_nothing_was_kept():
    _settle()
    trim = heap.IdleTrim(allowance=64 * MB)
    guard = _burst(48)
    try:
        before = heap.private_bytes()
        assert trim() is True
        assert heap.private_bytes() < before - 32 * MB
        assert trim.floor == pytest.approx(heap.private_bytes(), abs=8 * MB)
    finally:
        _libc().free(guard)


def test_a_working_set_within_the_allowance_is_kept():
    _settle()
    trim = heap.IdleTrim(allowance=64 * MB)
    trim.keep_now()
    guard = _burst(24)  # what a composite reuses: under the allowance
    try:
        before = heap.private_bytes()
        assert trim() is False
        assert heap.private_bytes() >= before - 4 * MB  # its pages are still there
    finally:
        _libc().free(guard)
        heap.IdleTrim(allowance=0)()


def test_a_burst_past_the_allowance_is_given_back_and_becomes_the_new_floor():
    _settle()
    trim = heap.IdleTrim(allowance=16 * MB)
    trim.keep_now()
    guard = _burst(48)
    try:
        before = heap.private_bytes()
        assert trim() is True
        after = heap.private_bytes()
        assert after < before - 32 * MB
        assert trim() is False  # nothing grew since
    finally:
        _libc().free(guard)
