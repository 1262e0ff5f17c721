"""Fixtures for the API tests: people with tokens, clients, stored composites, isolation.

Every test gets its own media folder (local file storage), plain static files storage (no
manifest needed) and an empty cache (rate-limit counts live there).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import numpy as np
import pytest
from django.core.cache import cache
from django.core.files.base import ContentFile
from rest_framework.test import APIClient

from accounts.services import token_create
from compositing import imaging
from compositing.models import Composite

PASSWORD = "correct-Horse-battery-9"


@pytest.fixture(autouse=True)
def _api_isolation(request, settings, tmp_path):
    if {"live_server", "transactional_db"} & set(request.fixturenames):
        request.getfixturevalue("transactional_db")
    else:
        request.getfixturevalue("db")
    settings.STORAGES = {
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media"), "base_url": None},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    cache.clear()
    yield
    cache.clear()  # the cache table is not emptied between transactional tests


@pytest.fixture
def make_user(django_user_model) -> Callable:
    def make(username: str | None = None, password: str = PASSWORD):
        username = username or f"user-{uuid.uuid4().hex[:8]}"
        return django_user_model.objects.create_user(
            username=username, email=f"{username}@example.com", password=password
        )

    return make


@pytest.fixture
def user(make_user):
    return make_user("alice")


@pytest.fixture
def other_user(make_user):
    return make_user("mallory")


def client_for(user) -> APIClient:
    """An API client sending ``Authorization: Token <key>`` for ``user``."""
    _token, key = token_create(user=user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    client.token_key = key
    return client


@pytest.fixture
def api(user) -> APIClient:
    return client_for(user)


@pytest.fixture
def other_api(other_user) -> APIClient:
    return client_for(other_user)


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


def ellipse_alpha(width: int, height: int) -> np.ndarray:
    """float32 heightxwidth: 1 inside a centred ellipse (the "person"), 0 outside."""
    ys, xs = np.mgrid[0:height, 0:width]
    inside = ((xs - width / 2) / (width * 0.3)) ** 2 + ((ys - height / 2) / (height * 0.4)) ** 2
    return (inside <= 1.0).astype(np.float32)


@pytest.fixture
def stored_composite() -> Callable[..., Composite]:
    """A finished photo composite with its files in storage, made without the model.

    Source: a red photo; mask: a centred ellipse; result: blue outside the ellipse.
    """

    def make(owner, *, width: int = 96, height: int = 64) -> Composite:
        photo = np.zeros((height, width, 3), np.uint8)
        photo[...] = (220, 30, 30)
        alpha = ellipse_alpha(width, height)
        result = photo.copy()
        result[alpha < 0.5] = (30, 30, 220)
        composite = Composite(
            owner=owner,
            kind=Composite.Kind.IMAGE,
            source_name="red photo.jpg",
            mode=Composite.Mode.COLOR,
            color="#1E1EDC",
            output_format="png",
            status=Composite.Status.DONE,
            progress=100.0,
            width=width,
            height=height,
            model_name="selfie",
            timings={"segment_ms": 12.0, "total_ms": 30.0},
        )
        files = {
            "source": ("source.jpg", imaging.encode_image(photo, "jpg", quality=95)),
            "mask": ("mask.png", imaging.alpha_to_png(alpha)),
            "result": ("result.png", imaging.encode_image(result, "png")),
            "thumbnail": ("thumb.jpg", imaging.make_thumbnail(result, 48, fmt="jpg")),
        }
        for field, (name, data) in files.items():
            getattr(composite, field).save(name, ContentFile(data), save=False)
        composite.save(force_insert=True)
        return composite

    return make
