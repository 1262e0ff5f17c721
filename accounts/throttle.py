"""Throttling repeated failed sign-ins, per username and client address.

Counts live in Django's cache (a database table by default, Redis when configured), so all
gunicorn workers share them. After ``VBG_LOGIN_MAX_FAILURES`` failures within
``VBG_LOGIN_LOCKOUT_SECONDS`` for one username from one address, further attempts are
refused without checking the password until the window ends.
"""

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The client's address. Behind ``VBG_PROXY_HOPS`` trusted proxies (Heroku's router:
    1), the address those proxies appended to X-Forwarded-For; otherwise REMOTE_ADDR."""
    hops = settings.VBG_PROXY_HOPS
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if hops and forwarded:
        addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
        if len(addresses) >= hops:
            return addresses[-hops]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _key(username: str, ip: str) -> str:
    raw = f"{username.strip().lower()}\x00{ip}".encode()
    return "login-failures:" + hashlib.sha256(raw).hexdigest()


def login_is_throttled(*, username: str, ip: str) -> bool:
    return cache.get(_key(username, ip), 0) >= settings.VBG_LOGIN_MAX_FAILURES


def login_failed(*, username: str, ip: str) -> int:
    """Record a failure; returns the count in the current window."""
    key = _key(username, ip)
    timeout = settings.VBG_LOGIN_LOCKOUT_SECONDS
    if cache.add(key, 1, timeout):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.set(key, 1, timeout)
        return 1


def login_succeeded(*, username: str, ip: str) -> None:
    cache.delete(_key(username, ip))


def throttled_message() -> str:
    """What a refused sign-in attempt shows (site and admin sign-in pages alike)."""
    minutes = max(1, round(settings.VBG_LOGIN_LOCKOUT_SECONDS / 60))
    return (
        "Too many failed sign-in attempts for this account. "
        f"Please wait {minutes} minutes and try again."
    )
