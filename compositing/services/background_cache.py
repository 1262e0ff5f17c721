"""Library backgrounds covered to an output size, kept per process (least recently used).

A composite on a library background (a built-in one or the person's own) used to read
the stored file, decode it (a 1920x1080 JPEG: ~8 ms) and cover it to the photo's size
(a Lanczos resize of the whole frame: ~30 ms at 1 MP) on every request, which was a third
of a 1 MP composite's service time. People make series: the same background at the same
photo size, again and again. The covered canvas is the same each time, so each process
keeps the most recently used ones, up to ``VBG_BACKGROUND_CACHE_MB`` of pixels (0 turns
the cache off), and a hit skips the read, the decode and the resize.

Entries are keyed by the stored file's name (library images are never rewritten in
place: a new image is a new name) with the output size and the background's placement
(focus, zoom, mirror). The cache is consulted only after the library lookup has checked
that the background is visible to the person asking, so it never widens access. Cached
images are shared between threads and must never be modified: every consumer
(``compose_image``, ``place_subject``) pastes onto a copy. The compose's array paste
(``compositing.compose_arrays``) reads a canvas as an array: it is made once, read only,
and kept with its image (``cached_canvas_pixels``; its bytes count in the budget), so a
hit copies nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable

import numpy as np
from cachetools import LRUCache
from django.conf import settings
from PIL import Image

_lock = threading.Lock()
_cache: LRUCache | None = None
_budget = -1


class _Entry:
    """A cached canvas and, once a compose has asked for it, its pixels as a read-only
    array (``cached_canvas_pixels``), counted in the budget too."""

    __slots__ = ("image", "pixels")

    def __init__(self, image: Image.Image) -> None:
        self.image, self.pixels = image, None

    def size(self) -> int:
        return _pixels_bytes(self.image) + (0 if self.pixels is None else self.pixels.nbytes)


def _pixels_bytes(image: Image.Image) -> int:
    return image.width * image.height * len(image.getbands())


def _current() -> LRUCache | None:
    """The process's cache, rebuilt when the budget setting changes (tests override it)."""
    global _cache, _budget
    budget = settings.VBG_BACKGROUND_CACHE_MB << 20
    if budget != _budget:
        _cache = LRUCache(maxsize=budget, getsizeof=_Entry.size) if budget > 0 else None
        _budget = budget
    return _cache


def cached_canvas(key: Hashable, make: Callable[[], Image.Image]) -> tuple[Image.Image, bool]:
    """(the image cached under ``key``, or ``make()`` stored when it fits the budget;
    whether it is the caller's own: False when it is in the cache, shared: read it only).

    ``make`` runs outside the lock: two threads missing the same key both compute it, and
    neither waits for the other's resize.
    """
    with _lock:
        cache = _current()
        hit = cache.get(key) if cache is not None else None
    if hit is not None:
        return hit.image, False
    image = make()
    image.load()
    with _lock:
        cache = _current()
        if cache is None or _pixels_bytes(image) > cache.maxsize:
            return image, True  # too big to keep (a 12 MP canvas is 36 MB): the caller's
        cache[key] = _Entry(image)
    return image, False


def canvas_cached(key: Hashable) -> bool:
    """Whether a canvas is cached under ``key`` (its place in the order is left as is)."""
    with _lock:
        cache = _current()
        return cache is not None and key in cache


def cached_canvas_pixels(key: Hashable) -> np.ndarray | None:
    """The canvas cached under ``key`` as a read-only uint8 HxWx3 array (the array paste of
    ``compose_arrays`` reads it), made on first request and kept with it while the budget
    allows (a copy: 1.6 ms at 1 MP that a hit then skips); None when none is cached."""
    with _lock:
        cache = _current()
        entry = cache.get(key) if cache is not None else None
    if entry is None:
        return None
    pixels = entry.pixels
    if pixels is None:
        pixels = np.asarray(entry.image)
        pixels.flags.writeable = False
        with _lock:
            cache = _current()
            fits = cache is not None and entry.size() + pixels.nbytes <= cache.maxsize
            if fits and entry.pixels is None and cache.get(key) is entry:
                entry.pixels = pixels
                cache[key] = entry  # its size again, now with the array
    return pixels


def cache_clear() -> None:
    """Forget every cached canvas (tests; a process that wants its memory back)."""
    with _lock:
        cache = _current()
        if cache is not None:
            cache.clear()


def cache_info() -> tuple[int, int]:
    """(entries, bytes) held now."""
    with _lock:
        cache = _current()
        return (len(cache), int(cache.currsize)) if cache is not None else (0, 0)
