"""Rate limits: one sliding-window counter in Django's shared cache, for both front doors.

The API's DRF throttles (``vbgsite.throttles``) and the composite services (the studio and
the API create composites through the same service, which takes the ``composite`` scope)
all count here, so a person refused by one front door is refused by the other.

A window is the list of request times (newest first) under ``throttle_<scope>_<ident>``
in the default cache (the database table ``vbg_cache``, or Redis): every gunicorn worker
and dyno sees the same counts. Rates are ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``
(``"120/hour"``), read on each call so a settings change takes effect at once.

Each request's outcomes are recorded (``recorded()``) for ``RateLimitHeadersMiddleware``,
which answers ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``
(Unix time when ``Remaining`` next goes up; when it is 0, the time to retry) on every API
response, and ``Retry-After`` on a refusal. A failing cache lets requests through (logged):
a broken rate limiter must not break the site.
"""

from __future__ import annotations

import contextvars
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from accounts.authentication import ApiTokenAuthentication
from accounts.throttle import client_ip

logger = logging.getLogger(__name__)

CACHE_KEY = "throttle_{scope}_{ident}"
_DURATIONS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

# The states recorded during the current request (a list the middleware owns).
_recorded: contextvars.ContextVar[list[RateState] | None] = contextvars.ContextVar(
    "vbg_rate_limits", default=None
)


@dataclass(frozen=True)
class RateState:
    """One scope's window after a request: ``allowed`` is False when it was refused."""

    scope: str
    limit: int
    remaining: int
    reset_at: float  # Unix time when ``remaining`` next goes up (now, when nothing is used)
    allowed: bool = True

    @property
    def retry_after(self) -> int:
        """Whole seconds until one more request is allowed (at least 1)."""
        return max(1, math.ceil(self.reset_at - time.time()))


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """``"120/hour"`` -> ``(120, 3600)``; None for no limit."""
    if not rate:
        return None
    count, period = rate.split("/")
    return int(count), _DURATIONS[period.strip()[0]]


def rate_of(scope: str) -> tuple[int, int] | None:
    """(requests, seconds) of ``scope`` from the live settings, None when unlimited."""
    rates = settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES") or {}
    return parse_rate(rates.get(scope))


def _state(
    scope: str, history: list[float], limit: int, duration: int, now: float, ok: bool
) -> RateState:
    remaining = max(0, limit - len(history))
    if remaining > 0 or not history:
        reset_at = history[-1] + duration if history else now
    else:  # the request that frees a slot is the limit-th most recent one
        reset_at = history[limit - 1] + duration
    return RateState(scope, limit, remaining, reset_at, ok)


def rate_take(
    scope: str, ident: str | int, *, now: Callable[[], float] = time.time
) -> RateState | None:
    """Count one request of ``ident`` in ``scope`` if the window has room.

    Returns the RateState (``allowed`` False when refused: nothing is counted then), or
    None when the scope has no rate or the cache failed. Recorded for the headers.
    """
    rate = rate_of(scope)
    if rate is None:
        return None
    limit, duration = rate
    key = CACHE_KEY.format(scope=scope, ident=ident)
    moment = now()
    try:
        history = [t for t in (cache.get(key) or []) if t > moment - duration]
        allowed = len(history) < limit
        if allowed:
            history.insert(0, moment)
            cache.set(key, history, duration)
    except Exception:
        logger.exception("rate limit cache unavailable; letting the request through")
        return None
    return record(_state(scope, history, limit, duration, moment, allowed))


def rate_peek(scope: str, ident: str | int) -> RateState | None:
    """The window of ``ident`` in ``scope`` without counting anything (None: no limit)."""
    rate = rate_of(scope)
    if rate is None:
        return None
    limit, duration = rate
    moment = time.time()
    try:
        history = cache.get(CACHE_KEY.format(scope=scope, ident=ident)) or []
    except Exception:
        logger.exception("rate limit cache unavailable")
        return None
    history = [t for t in history if t > moment - duration]
    return _state(scope, history, limit, duration, moment, True)


def record(state: RateState) -> RateState:
    """Remember ``state`` for this request's headers (no-op outside a request)."""
    states = _recorded.get()
    if states is not None:
        states.append(state)
    return state


def headers_for(states: list[RateState]) -> dict[str, str]:
    """The headers for the tightest window: a refused one, else the fewest remaining."""
    state = min(states, key=lambda s: (s.allowed, s.remaining, -s.reset_at))
    headers = {
        "X-RateLimit-Limit": str(state.limit),
        "X-RateLimit-Remaining": str(state.remaining),
        "X-RateLimit-Reset": str(math.ceil(state.reset_at)),
    }
    if not state.allowed:
        headers["Retry-After"] = str(state.retry_after)
    return headers


class RateLimitHeadersMiddleware:
    """``X-RateLimit-*`` on every response under ``/api/`` (and ``Retry-After`` on a 429).

    The windows are the ones the request used; a request refused before any limit was
    counted (a 401, an unknown path) reports its window without counting it: the person's
    ``user`` window when signed in or sending a valid token, else the client address's
    ``anon`` window. Website pages get
    the headers too when they counted a limit (the studio's composites).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        states: list[RateState] = []
        token = _recorded.set(states)
        try:
            response = self.get_response(request)
        finally:
            _recorded.reset(token)
        if not states and request.path.startswith("/api/"):
            states = [s for s in [_identity_window(request)] if s is not None]
        if states:
            for name, value in headers_for(states).items():
                if name != "Retry-After" or response.status_code == 429:
                    response[name] = value
        return response


def _identity_window(request: HttpRequest) -> RateState | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:  # plain Django views: no token auth yet
        try:
            user = (ApiTokenAuthentication().authenticate(request) or (None,))[0]
        except Exception:  # an invalid or unknown token: the client address's window
            user = None
    if user is not None and user.is_authenticated:
        return rate_peek("user", user.pk)
    return rate_peek("anon", client_ip(request))
