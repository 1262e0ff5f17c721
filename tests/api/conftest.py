"""Fixtures for the API tests: token clients, stored composites, an empty cache.

People (``user`` "alice", ``other_user`` "mallory", ``make_user``), ``PASSWORD`` and the
per-test media folder come from ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from django.core.cache import cache
from django.core.files.base import ContentFile
from rest_framework.test import APIClient

from accounts.services import token_create
from compositing import imaging
from compositing.models import Composite
from compositing.thumbnails import make_thumbnail


@pytest.fixture(autouse=True)
def _fresh_cache(request):
    """An empty cache per test: rate-limit counts and sign-in failures live there.

    The cache table is in the test database and is not emptied between transactional
    tests, so it is cleared before and after.
    """
    names = set(request.fixturenames)
    if not {"db", "transactional_db", "live_server"} & names:
        yield  # no database in this test (and so no database cache table)
        return
    # Autouse fixtures run first: set the test's database up now to reach the cache table.
    transactional = bool({"transactional_db", "live_server"} & names)
    request.getfixturevalue("transactional_db" if transactional else "db")
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_model(request) -> None:
    """The real segmentation model, ready (the engine's ``segmenter_ready`` fixture, which
    skips when the weights are not installed)."""
    try:
        request.getfixturevalue("segmenter_ready")
    except pytest.FixtureLookupError:
        pytest.skip("the segmentation engine's segmenter_ready fixture is not available")


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
            "thumbnail": ("thumb.jpg", make_thumbnail(result, 48, fmt="jpg")),
        }
        for field, (name, data) in files.items():
            getattr(composite, field).save(name, ContentFile(data), save=False)
        composite.save(force_insert=True)
        return composite

    return make
