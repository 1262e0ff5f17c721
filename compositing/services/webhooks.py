"""Webhooks for video jobs: a signed POST to the job's ``callback_url`` when it ends.

A job gets its ``callback_url`` from the request or, when none is given, from the API
token that made it (``ApiToken.callback_url``); the token's ``webhook_secret`` is copied
onto the job and signs every call. Events: ``composite.done``, ``composite.failed``,
``composite.cancelled`` (``webhook_schedule`` is called where a job reaches one of them).

Each call is a task (``compositing.tasks.webhook_deliver_task``); the body is the job as
JSON, with headers

- ``X-VBG-Event``, ``X-VBG-Delivery`` (a new id per attempt), ``X-VBG-Timestamp`` (Unix);
- ``X-VBG-Signature: sha256=<hex>``: HMAC-SHA256 with the secret over
  ``<timestamp>.<body>`` (check it, and that the timestamp is recent).

A 2xx answer within ``VBG_WEBHOOK_TIMEOUT_SECONDS`` delivers it; anything else is retried
after ``VBG_WEBHOOK_BACKOFF_SECONDS`` (10 s, 1 min, 5 min, 30 min, 2 h: six attempts).
Redirects are not followed. The host is resolved at send time and every address must be
public: private, loopback, link-local, multicast and reserved ones are refused (the
attempt is recorded with the reason), unless ``VBG_WEBHOOK_ALLOW_LOOPBACK`` (tests, local
development) lets loopback through. The call itself goes through requests-hardened's
IP filter, which resolves the host once more, refuses a non-public answer and connects to
that very address (Host header and TLS name kept): a name that re-resolves to a private
address after the check (DNS rebinding) is refused, never called. Every attempt is a
``WebhookDelivery`` row, shown in the job's detail.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
import time
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from requests_hardened import Config, HTTPSession
from requests_hardened.ip_filter import InvalidIPAddress

from compositing.models import Composite, WebhookDelivery
from vbgsite.errors import InvalidOption

TASK_PATH = "compositing.tasks.webhook_deliver_task"
EVENTS = {
    Composite.Status.DONE: "composite.done",
    Composite.Status.FAILED: "composite.failed",
    Composite.Status.CANCELLED: "composite.cancelled",
}
MAX_URL_LENGTH = 2000


class _Refused(Exception):
    """The callback's host resolves to an address calls may not go to."""


def callback_url_check(url: str | None) -> str:
    """The URL, stripped, if a webhook may be sent to it ("" for none); else InvalidOption.

    http or https, a host, no user name or password in it. Where the host points is
    checked when the call is made (it may change), not here."""
    url = (url or "").strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if len(url) > MAX_URL_LENGTH or parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InvalidOption("callback_url must be an http:// or https:// URL with a host.")
    if parts.username or parts.password:
        raise InvalidOption("callback_url must not contain a user name or password.")
    return url


def webhook_schedule(composite_id: Any) -> None:
    """Call the job's webhook (first attempt) once the current transaction commits; nothing
    when it has no callback_url or has not ended."""
    composite = Composite.objects.filter(pk=composite_id).only("callback_url", "status").first()
    if composite is None or not composite.callback_url or composite.status not in EVENTS:
        return
    transaction.on_commit(lambda: _enqueue(composite_id, attempt=1, delay=0))


def webhook_deliver(*, composite_id: Any, attempt: int) -> WebhookDelivery | None:
    """Make attempt ``attempt`` (1-based) and record it; schedule the next on failure."""
    composite = Composite.objects.filter(pk=composite_id).first()
    if composite is None or not composite.callback_url or composite.status not in EVENTS:
        return None
    event = EVENTS[composite.status]
    body = json.dumps(_payload(composite, event), separators=(",", ":")).encode()
    delivery = WebhookDelivery(
        composite=composite, event=event, attempt=attempt, url=composite.callback_url
    )
    started = time.perf_counter()
    try:
        _check_destination(composite.callback_url)
        with _session() as session:
            response = session.post(
                composite.callback_url,
                data=body,
                headers=_headers(composite.callback_secret, event, body),
                timeout=settings.VBG_WEBHOOK_TIMEOUT_SECONDS,
                allow_redirects=False,
            )
        delivery.status_code = response.status_code
        delivery.delivered = 200 <= response.status_code < 300
        if not delivery.delivered:
            delivery.error = f"answered {response.status_code}"
    except _Refused as refused:
        delivery.error = str(refused)
    except InvalidIPAddress as address:  # re-resolved to a non-public address since the check
        host = urlsplit(composite.callback_url).hostname
        delivery.error = f"refused: {host} resolves to non-public {address}"
    except requests.RequestException as error:
        delivery.error = f"{type(error).__name__}: {error}"[:500]
    delivery.duration_ms = round((time.perf_counter() - started) * 1000, 1)
    backoff = settings.VBG_WEBHOOK_BACKOFF_SECONDS
    if not delivery.delivered and attempt <= len(backoff):
        delivery.next_attempt_at = timezone.now() + timedelta(seconds=backoff[attempt - 1])
    delivery.save()
    if delivery.next_attempt_at is not None:
        _enqueue(composite.pk, attempt=attempt + 1, delay=backoff[attempt - 1])
    return delivery


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``<timestamp>.<body>`` with ``secret``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def _headers(secret: str, event: str, body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {
        "Content-Type": "application/json",
        "User-Agent": "vbg-webhooks/1",
        "X-VBG-Event": event,
        "X-VBG-Delivery": str(uuid.uuid4()),
        "X-VBG-Timestamp": timestamp,
        "X-VBG-Signature": webhook_signature(secret, timestamp, body),
    }


def _payload(composite: Composite, event: str) -> dict[str, Any]:
    base = settings.VBG_PUBLIC_URL.rstrip("/")
    url = f"{base}/api/v1/composites/{composite.pk}/"
    done = composite.status == Composite.Status.DONE
    return {
        "event": event,
        "id": str(composite.pk),
        "kind": composite.kind,
        "status": composite.status,
        "error": composite.error,
        "format": composite.output_format,
        "url": url,
        "result_url": f"{url}result/" if done else None,
        "finished": composite.finished_at.isoformat() if composite.finished_at else None,
    }


def _session() -> HTTPSession:
    """A requests session whose connections are pinned to a checked public address."""
    return HTTPSession(
        Config(
            ip_filter_enable=True,
            ip_filter_allow_loopback_ips=settings.VBG_WEBHOOK_ALLOW_LOOPBACK,
            never_redirect=True,
            default_timeout=settings.VBG_WEBHOOK_TIMEOUT_SECONDS,
        )
    )


def _check_destination(url: str) -> None:
    """Resolve the host now; refuse unless every address is public (loopback allowed by
    ``VBG_WEBHOOK_ALLOW_LOOPBACK``)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise _Refused(f"cannot resolve {parts.hostname}: {error}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if address.is_loopback and settings.VBG_WEBHOOK_ALLOW_LOOPBACK:
            continue
        if not address.is_global or address.is_multicast:
            raise _Refused(f"refused: {parts.hostname} resolves to non-public {address}")


def _enqueue(composite_id: Any, *, attempt: int, delay: float) -> None:
    task = import_string(TASK_PATH)
    if delay > 0 and task.get_backend().supports_defer:
        task = task.using(run_after=timezone.now() + timedelta(seconds=delay))
    task.enqueue(composite_id=str(composite_id), attempt=attempt)
