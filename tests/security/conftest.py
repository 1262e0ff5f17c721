"""Fixtures for the security regression tests (issue 13): an HTTP client for the live
server signed in with an API token, and the API tests' empty cache and stored composite."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import requests

from accounts.services import token_create
from tests.api.conftest import _fresh_cache, stored_composite  # noqa: F401 (fixtures)


@dataclass
class LiveApi:
    """``requests`` against pytest-django's live server, sending ``Token <key>``."""

    base: str
    session: requests.Session
    key: str

    def url(self, path: str) -> str:
        return self.base + path

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 60)
        kwargs.setdefault("allow_redirects", False)
        return self.session.request(method, self.url(path), **kwargs)


@pytest.fixture
def live_api(live_server, user) -> LiveApi:
    _token, key = token_create(user=user, name="security tests")
    session = requests.Session()
    session.headers["Authorization"] = f"Token {key}"
    yield LiveApi(base=live_server.url, session=session, key=key)
    session.close()
