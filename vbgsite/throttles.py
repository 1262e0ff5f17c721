"""API rate limits, kept in Django's shared cache so they hold across gunicorn workers.

The cache is the database table ``vbg_cache`` by default, or Redis when ``REDIS_URL`` is
set (see settings): never per-process memory, so every worker and every dyno sees the same
counts. Rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (environment variables
``VBG_API_RATE_USER``, ``VBG_API_RATE_COMPOSITE``, ``VBG_API_RATE_ANON``,
``VBG_API_RATE_AUTH``), read on each request so a settings override takes effect at once.
The windows are ``vbgsite.rate_limits``'s: the ``composite`` scope (model work) is not a
throttle here but is taken by the composite services, so the studio and the API share it.

A refused request gets 429 with ``Retry-After`` (seconds) from ``vbgsite.api_errors``.
If the cache itself fails (for example its table was never created) the request is let
through and the failure is logged: a broken rate limiter must not break the API.
"""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from accounts.throttle import client_ip
from vbgsite.rate_limits import rate_take


class _SharedCacheRateThrottle(SimpleRateThrottle):
    """A DRF throttle counting in ``vbgsite.rate_limits`` (the window the services use too),
    so its state feeds the ``X-RateLimit-*`` headers."""

    def get_rate(self) -> str | None:
        # DRF binds THROTTLE_RATES at import time; read the live setting instead.
        rates = api_settings.DEFAULT_THROTTLE_RATES or {}
        return rates.get(self.scope)

    def get_ident(self, request) -> str:
        # The same client address as the website's sign-in throttling (trusted proxy hops
        # from settings; X-Forwarded-For entries added by clients are ignored).
        return client_ip(request)

    def allow_request(self, request, view) -> bool:
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        ident = key.removeprefix(self.cache_format % {"scope": self.scope, "ident": ""})
        self.state = rate_take(self.scope, ident)
        return self.state is None or self.state.allowed  # None: no rate, or cache down

    def wait(self) -> float:
        """Seconds until one more request will be allowed (at least 1)."""
        state = getattr(self, "state", None)
        return float(state.retry_after) if state is not None else 1.0


class UserRateThrottle(_SharedCacheRateThrottle):
    """Every API request of a signed-in user (scope ``user``), counted per user."""

    scope = "user"

    def get_cache_key(self, request, view) -> str | None:
        if not request.user or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class AnonRateThrottle(_SharedCacheRateThrottle):
    """Requests without a user (the token endpoint, the schema), counted per client IP."""

    scope = "anon"

    def get_cache_key(self, request, view) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class TokenObtainRateThrottle(_SharedCacheRateThrottle):
    """Token requests (scope ``auth``), counted per client IP whether they succeed or not.

    Slows down password guessing through the API.
    """

    scope = "auth"

    def get_cache_key(self, request, view) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
