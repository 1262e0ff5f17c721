"""A database that stops answering: a query fails within seconds (connect_timeout, the
client-side query deadline) and the request becomes a 503, never a hung worker.

The PostgreSQL cases run against the real server (DATABASE_URL) through a frozen TCP
proxy, on a connection of their own; the mapping cases run on any database.
"""

from __future__ import annotations

import json
import time

import pytest
from django.db import OperationalError, connection
from django.db.backends.postgresql.base import DatabaseWrapper
from django.http import HttpResponse
from django.test import RequestFactory

from tests.serving.proxy import PausableProxy
from vbgsite.dependencies import DependencyFailureMiddleware, dependency_failure

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (DATABASE_URL)"
)


@pytest.fixture
def proxied_connection(settings):
    """A PostgreSQL connection (the test database's settings) through a pausable proxy."""
    proxy = PausableProxy(
        connection.settings_dict["HOST"] or "127.0.0.1",
        int(connection.settings_dict["PORT"] or 5432),
    )
    settings.DB_QUERY_DEADLINE_SECONDS = 2
    params = {
        **connection.settings_dict,
        "HOST": "127.0.0.1",
        "PORT": proxy.port,
        "CONN_MAX_AGE": 0,
        "OPTIONS": {**connection.settings_dict["OPTIONS"], "connect_timeout": 2},
    }
    wrapper = DatabaseWrapper(params, alias="frozen")
    yield proxy, wrapper
    proxy.resume()
    wrapper.close()
    proxy.close()


def query(wrapper: DatabaseWrapper) -> None:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


@postgres_only
@pytest.mark.django_db
def test_settings_give_postgresql_a_connect_and_statement_timeout():
    options = connection.settings_dict["OPTIONS"]
    assert options["connect_timeout"] >= 1
    assert "statement_timeout=" in options["options"]
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] != "0"


@postgres_only
@pytest.mark.django_db
def test_a_query_on_a_frozen_connection_fails_within_its_deadline(proxied_connection):
    proxy, wrapper = proxied_connection
    query(wrapper)  # connected, working
    proxy.pause()
    started = time.monotonic()
    with pytest.raises(OperationalError) as raised:
        query(wrapper)
    assert time.monotonic() - started < 6
    assert dependency_failure(raised.value) is not None


@postgres_only
@pytest.mark.django_db
def test_connecting_to_a_frozen_server_fails_within_connect_timeout(proxied_connection):
    proxy, wrapper = proxied_connection
    proxy.pause()
    started = time.monotonic()
    with pytest.raises(OperationalError):
        query(wrapper)
    assert time.monotonic() - started < 6


def failing_view(error: Exception):
    def view(request):
        raise error

    return view


def test_website_turns_a_database_timeout_into_a_503_page():
    middleware = DependencyFailureMiddleware(failing_view(OperationalError("timeout expired")))
    response = middleware(RequestFactory().get("/history/"))
    assert response.status_code == 503
    assert response["Retry-After"]
    assert "could not reach our storage or database" in response.content.decode()


def test_scripts_get_json_503():
    middleware = DependencyFailureMiddleware(failing_view(OperationalError("timeout expired")))
    request = RequestFactory().get("/composites/x/status/", HTTP_ACCEPT="application/json")
    response = middleware(request)
    assert response.status_code == 503
    assert json.loads(response.content)["code"] == "service_unavailable"


def test_other_errors_are_not_turned_into_503():
    middleware = DependencyFailureMiddleware(failing_view(ValueError("a bug")))
    with pytest.raises(ValueError):
        middleware(RequestFactory().get("/"))
    ok = DependencyFailureMiddleware(lambda request: HttpResponse("fine"))
    assert ok(RequestFactory().get("/")).status_code == 200
