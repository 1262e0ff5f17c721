"""Progress bars for training epochs: tqdm when installed, else a minimal one on stderr."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any


class _SimpleBar:
    """A minimal progress bar on stderr (used when tqdm is not installed)."""

    def __init__(self, iterable: Iterable, total: int, desc: str, enabled: bool) -> None:
        self.iterable, self.total, self.desc, self.enabled = iterable, total, desc, enabled
        self.postfix = ""
        self.count = 0
        self.started = time.perf_counter()

    def __iter__(self) -> Iterator:
        for item in self.iterable:
            yield item
            self.count += 1
            self._draw()

    def set_postfix(self, **values: Any) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def _draw(self) -> None:
        if not self.enabled:
            return
        width = 24
        filled = int(width * self.count / max(self.total, 1))
        elapsed = time.perf_counter() - self.started
        sys.stderr.write(
            f"\r{self.desc} [{'#' * filled}{'.' * (width - filled)}] "
            f"{self.count}/{self.total} {elapsed:.0f}s {self.postfix}"
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def progress_bar(iterable: Iterable, *, total: int, desc: str, enabled: bool = True) -> Any:
    """tqdm when it is installed, else a simple bar; silent when not ``enabled``."""
    try:
        from tqdm import tqdm
    except ImportError:
        return _SimpleBar(iterable, total, desc, enabled)
    return tqdm(iterable, total=total, desc=desc, disable=not enabled, leave=False)
