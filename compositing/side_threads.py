"""The side threads of ``compositing.engine``: a small thread pool whose queued tasks start
by urgency, then in the order they came.

A photo composite queues its independent stages on one side thread (the person detectors,
the source file, the mask's PNG, ...). Some of them are waited for soon: the share of the
model's work the request hands out (``engine.compute_shared``), which the request's own
thread otherwise does alone once it gets there. Others only by the compose, tens of
milliseconds later (a copy of the photo in Pillow's layout, its low-resolution colours).
With a plain first-in first-out queue the late ones, queued first, held the urgent share
back; here an ``URGENT`` task starts before any queued ``NORMAL`` one, and an ``IDLE``
one only when nothing else is waiting.

No Django, no numpy: threads and futures only.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

URGENT, NORMAL, IDLE = 0, 1, 2


class PriorityPool:
    """``threads`` daemon threads named ``name_0``... that run submitted calls, the most
    urgent queued one first. A cancelled future's call is skipped."""

    def __init__(self, threads: int, name: str) -> None:
        self._queue: queue.PriorityQueue[tuple[int, int, _Task]] = queue.PriorityQueue()
        self._order = itertools.count()  # ties keep the order of submission
        for index in range(threads):
            threading.Thread(target=self._work, name=f"{name}_{index}", daemon=True).start()

    def submit[T](
        self, urgency: int, function: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> Future[T]:
        task = _Task(Future(), function, args, kwargs)
        self._queue.put((urgency, next(self._order), task))
        return task.future

    def _work(self) -> None:
        while True:
            task = self._queue.get()[2]
            task.run()
            del task  # no reference to the last result while idle


class _Task:
    __slots__ = ("args", "function", "future", "kwargs")

    def __init__(
        self, future: Future[Any], function: Callable[..., Any], args: tuple, kwargs: dict
    ) -> None:
        self.future, self.function, self.args, self.kwargs = future, function, args, kwargs

    def run(self) -> None:
        if not self.future.set_running_or_notify_cancel():
            return
        try:
            result = self.function(*self.args, **self.kwargs)
        except BaseException as exc:  # delivered by result(), as ThreadPoolExecutor does
            self.future.set_exception(exc)
        else:
            self.future.set_result(result)
