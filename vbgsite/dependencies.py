"""A storage or database that does not answer, as a 503 for the request in hand.

S3 (botocore) and the database have connect/read timeouts from the settings
(``AWS_S3_CONNECT_TIMEOUT``, ``AWS_S3_READ_TIMEOUT``, ``AWS_S3_MAX_ATTEMPTS``;
``DB_CONNECT_TIMEOUT``, ``DB_STATEMENT_TIMEOUT_MS``), so a frozen dependency fails a
request within seconds instead of holding a worker thread until gunicorn kills it.
:func:`dependency_failure` recognises those failures anywhere in an exception's chain
(a service may have wrapped one) and returns the ``ServiceUnavailable`` to answer; the
API's exception handler and :class:`DependencyFailureMiddleware` (the website) use it.

:func:`query_deadline` is the database's client-side timeout: PostgreSQL's
``statement_timeout`` is enforced by the server, which does nothing when the server (or
the network to it) is frozen, so each query also gets a deadline a little after it; a
query still waiting then has its socket shut down, and psycopg raises OperationalError.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from vbgsite.errors import ServiceUnavailable

logger = logging.getLogger(__name__)

# S3 answers that mean "not now" rather than "no".
_S3_BUSY_CODES = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout"}


def dependency_failure(exc: BaseException) -> ServiceUnavailable | None:
    """The ServiceUnavailable to answer when ``exc`` (or an exception it was raised from)
    is a storage or database failure: a timeout, a refused or dropped connection, a busy
    S3. None for anything else (a missing file stays a 404, a bug a 500)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ServiceUnavailable):
            return current
        if _is_dependency_failure(current):
            logger.error("dependency failure: %s: %s", type(current).__name__, current)
            return ServiceUnavailable()
        current = current.__cause__ or current.__context__
    return None


def _is_dependency_failure(exc: BaseException) -> bool:
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    if isinstance(exc, DatabaseError) and "timeout" in str(exc).lower():
        return True  # statement_timeout: psycopg's QueryCanceled
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error.get("Code") in _S3_BUSY_CODES or status >= 500
    # Timeouts, refused/closed connections, endpoint unreachable; not credentials or
    # parameter errors, which are configuration bugs.
    return isinstance(exc, BotoConnectionError | HTTPClientError)


def unavailable_response(request: HttpRequest, error: ServiceUnavailable) -> HttpResponse:
    """The website's 503: JSON for scripts (``Accept: application/json`` or the
    studio's fetches), a friendly page otherwise. Rendered without the request's
    context, so it does not touch the database (the user, the session)."""
    if "application/json" in request.headers.get("Accept", "") or request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(error.as_dict(), status=error.http_status)
    else:
        page = render_to_string("503.html", {"message": error.message})
        response = HttpResponse(page, status=error.http_status)
    response["Retry-After"] = str(error.retry_after)
    return response


class DependencyFailureMiddleware:
    """Website views: a storage/database failure becomes the 503 page (or JSON), not a
    500. Requests that raise anything else pass through untouched."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            return self.get_response(request)
        except Exception as exc:  # middleware below us (sessions, auth) read the database
            error = dependency_failure(exc)
            if error is None:
                raise
            return unavailable_response(request, error)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        error = dependency_failure(exc)
        return None if error is None else unavailable_response(request, error)


class _Deadlines:
    """One thread that shuts down the socket of any query past its deadline."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, int]] = []  # (deadline, token, fd)
        self._live: set[int] = set()
        self._tokens = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def arm(self, fd: int, seconds: float) -> int:
        token = next(self._tokens)
        with self._wake:
            if self._thread is None or self._pid != os.getpid():  # started after a fork
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="db-deadlines", daemon=True)
                self._thread.start()
            heapq.heappush(self._heap, (time.monotonic() + seconds, token, fd))
            self._live.add(token)
            self._wake.notify()
        return token

    def disarm(self, token: int) -> None:
        with self._wake:
            self._live.discard(token)

    def _run(self) -> None:
        with self._wake:
            while True:
                while self._heap and self._heap[0][1] not in self._live:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._wake.wait()
                    continue
                deadline, token, fd = self._heap[0]
                left = deadline - time.monotonic()
                if left > 0:
                    self._wake.wait(left)
                    continue
                heapq.heappop(self._heap)
                self._live.discard(token)
                _shut_down(fd)


def _shut_down(fd: int) -> None:
    logger.error("database query past its deadline: closing its connection")
    try:
        sock = socket.socket(fileno=os.dup(fd))
    except OSError:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.close()


_deadlines = _Deadlines()


def query_deadline(execute: Callable, sql: str, params: Any, many: bool, context: dict) -> Any:
    """``connection.execute_wrapper``: run the query with a client-side deadline of
    ``DB_QUERY_DEADLINE_SECONDS`` (a little more than the server's statement_timeout)."""
    connection = context["connection"].connection
    try:
        fd = connection.fileno()
    except Exception:  # not a socket (SQLite) or already closed
        return execute(sql, params, many, context)
    token = _deadlines.arm(fd, settings.DB_QUERY_DEADLINE_SECONDS)
    try:
        return execute(sql, params, many, context)
    finally:
        _deadlines.disarm(token)


def install_query_deadline(sender: Any, connection: Any, **kwargs: Any) -> None:
    """``connection_created`` receiver: PostgreSQL connections get :func:`query_deadline`
    (unless ``DB_QUERY_DEADLINE_SECONDS`` is 0)."""
    if not settings.DB_QUERY_DEADLINE_SECONDS:
        return
    if connection.vendor == "postgresql" and query_deadline not in connection.execute_wrappers:
        connection.execute_wrappers.append(query_deadline)
