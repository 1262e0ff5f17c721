"""S3 that stops answering (moto behind a frozen TCP proxy): the API answers a JSON 503 and
the website a 503 page within seconds, and nothing of the request is kept."""

from __future__ import annotations

import time

import pytest
from botocore.config import Config as BotoConfig
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.services import token_create
from compositing.models import Composite
from tests.compositing.conftest import portrait_jpeg, upload
from tests.serving.proxy import PausableProxy

pytestmark = [pytest.mark.django_db, pytest.mark.s3]

# The production settings' shape (vbgsite/settings.py) with short timeouts.
TIMEOUTS = {"connect_timeout": 1, "read_timeout": 1, "retries": {"max_attempts": 2}}
WITHIN_SECONDS = 10


@pytest.fixture
def frozen_s3(s3_storage, settings):
    """The default storage on moto through a proxy; ``.pause()`` freezes it."""
    host, port = s3_storage.endpoint_url.removeprefix("http://").split(":")
    proxy = PausableProxy(host, int(port))
    options = dict(settings.STORAGES["default"]["OPTIONS"])
    options["endpoint_url"] = f"http://127.0.0.1:{proxy.port}"
    options["client_config"] = BotoConfig(
        signature_version="s3v4", s3={"addressing_style": "path"}, **TIMEOUTS
    )
    settings.STORAGES = {**settings.STORAGES, "default": {**settings.STORAGES["default"]}}
    settings.STORAGES["default"]["OPTIONS"] = options
    proxy.bucket = s3_storage
    yield proxy
    proxy.close()


def api_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user=user, name='t')[1]}")
    return client


def post_composite(client: APIClient):
    return client.post(
        "/api/v1/composites/",
        {"photo": upload(portrait_jpeg()), "color": "#00ff00"},
        format="multipart",
    )


def test_api_composite_is_a_json_503_when_storage_freezes(frozen_s3, user, segmenter_ready):
    client = api_client(user)
    frozen_s3.pause()
    started = time.monotonic()
    response = post_composite(client)
    elapsed = time.monotonic() - started
    frozen_s3.resume()
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert response["Retry-After"]
    assert elapsed < WITHIN_SECONDS
    assert Composite.objects.count() == 0
    assert frozen_s3.bucket.keys() == []


def test_api_works_again_once_storage_answers(frozen_s3, user, segmenter_ready):
    client = api_client(user)
    frozen_s3.pause()
    assert post_composite(client).status_code == 503
    frozen_s3.resume()
    response = post_composite(client)
    assert response.status_code == 201
    assert len(frozen_s3.bucket.keys()) == len(Composite.objects.get().file_names())


def test_website_shows_a_503_page_when_storage_freezes(
    frozen_s3, client_logged_in, segmenter_ready
):
    frozen_s3.pause()
    started = time.monotonic()
    response = client_logged_in.post(
        reverse("compositing:studio"),
        {"photo": upload(portrait_jpeg()), "background": "color", "color": "#00ff00"},
    )
    frozen_s3.resume()
    assert time.monotonic() - started < WITHIN_SECONDS
    assert response.status_code == 503
    page = response.content.decode()
    assert "could not reach our storage or database" in page
    assert "Nothing was saved" in page
    assert Composite.objects.count() == 0
    assert frozen_s3.bucket.keys() == []


def test_recomposite_reading_frozen_storage_is_a_503_not_a_404(frozen_s3, user, segmenter_ready):
    client = api_client(user)
    created = post_composite(client)
    assert created.status_code == 201
    keys = frozen_s3.bucket.keys()
    frozen_s3.pause()
    response = client.post(
        f"/api/v1/composites/{created.json()['id']}/recomposite/",
        {"color": "#0000ff"},
        format="multipart",
    )
    frozen_s3.resume()
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert Composite.objects.count() == 1
    assert frozen_s3.bucket.keys() == keys
