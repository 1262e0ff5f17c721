"""How the three threads of a run hand work to each other: bounded pipes and their items.

decode thread -> ``Decoded`` frames and ``Packet`` (audio) -> main thread -> composited
planes and ``Packet`` -> encode thread. A ``Failure`` carries a thread's exception to the
main thread; ``END`` closes a pipe. Bounded, so memory stays flat on a video of any length;
a shared stop flag means no thread blocks forever on a dead peer.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import av
import numpy as np

END = object()


class Pipe:
    """A bounded queue with a shared stop flag (no thread blocks forever on a dead peer)."""

    def __init__(self, size: int, stop: threading.Event) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=size)
        self._stop = stop

    def put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def get(self) -> Any:
        while True:
            try:
                return self._queue.get(timeout=0.1)
            except queue.Empty:
                if self._stop.is_set():
                    return END

    def get_nowait(self) -> Any:
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            return None


@dataclass
class Decoded:
    """A decoded video frame: full-size planes for compositing, a small copy for the network."""

    planes: tuple[np.ndarray, np.ndarray, np.ndarray]  # Y, Cb, Cr uint8 (output size)
    small: np.ndarray  # uint8 hxwx3 upright RGB at network size
    pts: int | None
    duration: int | None


@dataclass
class Packet:
    """An audio packet passed through in order (copied or re-encoded by the encoder)."""

    packet: av.Packet


@dataclass
class Failure:
    """An exception raised in the decode thread, re-raised by the main thread."""

    error: BaseException


def batches(source: Pipe, limit: int) -> Iterator[list[Any]]:
    """Yield lists of up to ``limit`` items: whatever is ready, without waiting for more."""
    while True:
        first = source.get()
        if first is END:
            return
        batch = [first]
        while len(batch) < limit and not isinstance(batch[-1], Failure | Packet):
            item = source.get_nowait()
            if item is None:
                break
            if item is END:
                yield batch
                return
            batch.append(item)
        yield batch
