"""The composite rate limit, taken by the services so the studio and the API share it.

Every composite a person asks for (a photo, a studio draft, a re-composite, a video) takes
one request from the ``composite`` window (``VBG_API_RATE_COMPOSITE``, default 120/hour),
counted in ``vbgsite.rate_limits`` before any work. Saving a studio draft does not count
again: the draft did.
"""

from __future__ import annotations

from typing import Any

from vbgsite.errors import RateLimited
from vbgsite.rate_limits import rate_of, rate_take

SCOPE = "composite"
_PERIODS = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}


def composite_rate_take(*, user: Any) -> None:
    """Count one composite for ``user``; raises RateLimited (429) when over the rate.

    Nothing is counted for a refused request. A rate limiter whose cache is down lets the
    request through (``rate_take`` logs it).
    """
    state = rate_take(SCOPE, user.pk)
    if state is None or state.allowed:
        return
    raise RateLimited(
        f"You have made {state.limit} composites in the last"
        f" {_PERIODS.get(_window_seconds(), 'period')}; the next one is possible in"
        f" {_wait_text(state.retry_after)}.",
        retry_after=state.retry_after,
    )


def _window_seconds() -> int:
    rate = rate_of(SCOPE)
    return rate[1] if rate else 0


def _wait_text(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    return f"{round(seconds / 60)} min"
