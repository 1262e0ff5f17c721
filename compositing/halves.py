"""A row-wise job in two halves on two cores, when the host lends a second thread.

The full-resolution passes of a photo (the guided filter's apply, the decontaminated
paste) go strip by strip, each strip on its own rows. The host (``compositing.engine``,
through :func:`lend_thread`) may lend its side thread: :func:`split_rows` then gives it the
lower half, does the upper half itself, and if the side thread has not started its half
by then (busy with another stage) takes it back and does it too: never slower than one
thread, about half the wall time when the second core is free. Pure: no Django.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

_runner: Callable[..., Future[Any]] | None = None


def lend_thread(runner: Callable[..., Future[Any]] | None) -> None:
    """``runner(function, *args)`` starts ``function(*args)`` on another thread and returns
    its future (``engine.compute_beside``); None: every job runs in the caller."""
    global _runner
    _runner = runner


def split_rows(work: Callable[[int, int], None], height: int, *, step: int = 1) -> None:
    """``work(start, stop)`` over rows [0, height), in two halves when a thread is lent.

    step: the halves meet at a multiple of ``step`` (the job's strip height), so every
    strip is the one the job would have made alone. Jobs shorter than two steps run whole.
    """
    middle = (height // 2) // step * step
    if _runner is None or middle < step or middle >= height:
        work(0, height)
        return
    lower = _runner(work, middle, height)
    work(0, middle)
    if lower.cancel():  # not started: the side thread is busy elsewhere
        work(middle, height)
    else:
        lower.result()
