"""Issue 13: ``GET /api/v1/account/``, the person's usage (composites this hour and day,
video minutes, storage bytes, library count) against their limits and quota. Over HTTP
against the live server, locally and with files in S3 (moto server)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from django.core.files.base import ContentFile
from django.utils import timezone

from accounts.services import token_create
from compositing.models import Composite
from tests.accounts.factories import make_background, make_composite
from tests.storage import list_storage_files

pytestmark = pytest.mark.django_db(transaction=True)


def set_rates(settings, **rates: str) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
    }


def get_account(live_server, user) -> requests.Response:
    _token, key = token_create(user=user, name="usage")
    return requests.get(
        f"{live_server.url}/api/v1/account/",
        headers={"Authorization": f"Token {key}"},
        timeout=60,
    )


def stored_bytes(user) -> int:
    from django.core.files.storage import default_storage

    return sum(
        default_storage.size(name)
        for name in list_storage_files()
        if name.startswith(f"users/{user.pk}/")
    )


def add_video(user, *, seconds: float, days_ago: float = 0) -> Composite:
    composite = Composite(
        owner=user, kind=Composite.Kind.VIDEO, status=Composite.Status.DONE, duration=seconds
    )
    composite.source.save("source.mp4", ContentFile(b"v" * 1000), save=False)
    composite.save()
    if days_ago:
        Composite.objects.filter(pk=composite.pk).update(
            created=timezone.now() - timedelta(days=days_ago)
        )
    return composite


def test_usage_against_limits(live_server, user, other_user, settings):
    set_rates(settings, composite="30/hour", user="500/hour")
    settings.VBG_BACKGROUND_QUOTA = 5
    make_background(user)
    make_background(user, name="Office")
    make_composite(user)
    old = make_composite(user)
    Composite.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(hours=3))
    add_video(user, seconds=90)
    add_video(user, seconds=30, days_ago=2)
    make_composite(other_user)  # not counted
    make_background(other_user)

    response = get_account(live_server, user)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["username"] == "alice"
    assert body["composites"] == {"last_hour": 2, "last_day": 3, "total": 4}
    assert body["videos"]["minutes_last_day"] == 1.5
    assert body["videos"]["minutes_total"] == 2.0
    assert body["videos"]["max_minutes_per_video"] == settings.VBG_MAX_VIDEO_SECONDS / 60
    assert body["library"] == {"count": 2, "quota": 5, "remaining": 3}
    assert body["tokens"]["count"] == 1 and body["tokens"]["limit"] >= 1
    assert body["storage"]["bytes"] == stored_bytes(user) > 0
    composite_window = body["rate_limits"]["composite"]
    assert composite_window["limit"] == 30 and composite_window["window_seconds"] == 3600
    assert body["rate_limits"]["user"]["limit"] == 500
    assert response.headers["X-RateLimit-Limit"] == "500"


def test_composite_window_counts_what_the_api_made(live_server, user, settings, stored_composite):
    set_rates(settings, composite="10/hour")
    original = stored_composite(user)
    _token, key = token_create(user=user, name="maker")
    for color in ("#101010", "#202020", "#303030"):
        made = requests.post(
            f"{live_server.url}/api/v1/composites/{original.pk}/recomposite/",
            data={"color": color},
            headers={"Authorization": f"Token {key}"},
            timeout=60,
        )
        assert made.status_code == 201

    window = get_account(live_server, user).json()["rate_limits"]["composite"]

    assert window["used"] == 3 and window["remaining"] == 7
    assert window["reset"] is not None


def test_account_needs_a_token(live_server):
    response = requests.get(f"{live_server.url}/api/v1/account/", timeout=30)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.s3
def test_storage_bytes_on_s3(s3_storage, live_server, user):
    make_background(user)
    make_composite(user)

    body = get_account(live_server, user).json()

    sizes = s3_storage.client.list_objects_v2(
        Bucket=s3_storage.bucket_name, Prefix=f"users/{user.pk}/"
    )["Contents"]
    assert body["storage"]["bytes"] == sum(item["Size"] for item in sizes) > 0


def test_schema_documents_the_account_and_rate_limit_headers(live_server):
    schema = requests.get(f"{live_server.url}/api/v1/schema/?format=json", timeout=60).json()

    account = schema["paths"]["/api/v1/account/"]["get"]
    assert {"200", "401", "429", "503"} <= set(account["responses"])
    for path_item in schema["paths"].values():
        for operation in path_item.values():
            for response in operation["responses"].values():
                assert "X-RateLimit-Remaining" in response["headers"]
    throttled = schema["paths"]["/api/v1/composites/"]["post"]["responses"]["429"]
    assert throttled["headers"]["Retry-After"]["required"] is True
