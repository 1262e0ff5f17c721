"""Throttling repeated failed sign-ins, per username and client address.

Counts live in Django's cache (a database table by default, Redis when configured), so all
gunicorn workers share them. After ``VBG_LOGIN_MAX_FAILURES`` failures within
``VBG_LOGIN_LOCKOUT_SECONDS`` for one username from one address, further attempts are
refused without checking the password until the window ends. The same counters, in
scopes of their own, limit the password asked before deleting an account and the
password-reset emails sent to one address.
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


def _key(scope: str, name: str, ip: str) -> str:
    raw = f"{name.strip().lower()}\x00{ip}".encode()
    return f"{scope}-failures:" + hashlib.sha256(raw).hexdigest()


def is_throttled(*, scope: str, name: str, ip: str) -> bool:
    """Whether ``name`` (a username, an email address) from ``ip`` has used up its
    ``VBG_LOGIN_MAX_FAILURES`` attempts at ``scope`` ("login", "delete-account",
    "password-reset": counted apart) in the current window."""
    return cache.get(_key(scope, name, ip), 0) >= settings.VBG_LOGIN_MAX_FAILURES


def record(*, scope: str, name: str, ip: str) -> int:
    """Count one attempt (a failure, a reset email sent); returns the count in the window."""
    key = _key(scope, name, ip)
    timeout = settings.VBG_LOGIN_LOCKOUT_SECONDS
    if cache.add(key, 1, timeout):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.set(key, 1, timeout)
        return 1


def clear(*, scope: str, name: str, ip: str) -> None:
    cache.delete(_key(scope, name, ip))


def login_is_throttled(*, username: str, ip: str) -> bool:
    return is_throttled(scope="login", name=username, ip=ip)


def login_failed(*, username: str, ip: str) -> int:
    """Record a failure; returns the count in the current window."""
    return record(scope="login", name=username, ip=ip)


def login_succeeded(*, username: str, ip: str) -> None:
    clear(scope="login", name=username, ip=ip)


def wait_minutes() -> int:
    return max(1, round(settings.VBG_LOGIN_LOCKOUT_SECONDS / 60))


def throttled_message(*, reset_hint: bool = False) -> str:
    """What a refused sign-in attempt shows (site and admin sign-in pages alike);
    ``reset_hint`` adds that a forgotten password can be reset by email (the site's page
    links it)."""
    minutes = wait_minutes()
    message = (
        "Too many failed sign-in attempts for this account. "
        f"Please wait {minutes} minutes and try again."
    )
    if reset_hint:
        message += " Forgotten your password? Reset it by email instead of guessing."
    return message
