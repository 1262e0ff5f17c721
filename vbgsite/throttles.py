"""API rate limits, kept in Django's shared cache so they hold across gunicorn workers.

The cache is the database table ``vbg_cache`` by default, or Redis when ``REDIS_URL`` is
set (see settings): never per-process memory, so every worker and every dyno sees the same
counts. Rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (environment variables
``VBG_API_RATE_USER``, ``VBG_API_RATE_COMPOSITE``, ``VBG_API_RATE_ANON``,
``VBG_API_RATE_AUTH``), read on each request so a settings override takes effect at once.

A refused request gets 429 with ``Retry-After`` (seconds) from ``vbgsite.api_errors``.
If the cache itself fails (for example its table was never created) the request is let
through and the failure is logged: a broken rate limiter must not break the API.
"""

from __future__ import annotations

import logging

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from accounts.throttle import client_ip

logger = logging.getLogger(__name__)


class _SharedCacheRateThrottle(SimpleRateThrottle):
    """DRF's sliding-window throttle, with rates read per request and a safe ``wait()``."""

    def get_rate(self) -> str | None:
        # DRF binds THROTTLE_RATES at import time; read the live setting instead.
        rates = api_settings.DEFAULT_THROTTLE_RATES or {}
        return rates.get(self.scope)

    def get_ident(self, request) -> str:
        # The same client address as the website's sign-in throttling (trusted proxy hops
        # from settings; X-Forwarded-For entries added by clients are ignored).
        return client_ip(request)

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception:
            logger.exception("rate limit cache unavailable; letting the request through")
            return True

    def wait(self) -> float:
        """Seconds until one more request will be allowed (at least 1)."""
        history = getattr(self, "history", None) or []
        if len(history) < self.num_requests:
            return 1.0
        # The request that frees a slot is the num_requests-th most recent one.
        oldest_counted = history[self.num_requests - 1]
        return max(1.0, self.duration - (self.now - oldest_counted))


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


class CompositeRateThrottle(_SharedCacheRateThrottle):
    """Model work (create and re-composite) per user (scope ``composite``), on top of ``user``.

    Only POSTs count, so reading history and downloading results does not use it up.
    """

    scope = "composite"

    def get_cache_key(self, request, view) -> str | None:
        if request.method != "POST" or not request.user or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class TokenObtainRateThrottle(_SharedCacheRateThrottle):
    """Token requests (scope ``auth``), counted per client IP whether they succeed or not.

    Slows down password guessing through the API.
    """

    scope = "auth"

    def get_cache_key(self, request, view) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
