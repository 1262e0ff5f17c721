"""Hole 2b (issue 13): a ``Range`` header with more than 4,300 digits on the video file view
answered 500 (Python's ``int()`` refuses such strings). Numbers too long to be a position in
any file now mean "past the end": a start there is 416, an end there is the file's end."""

from __future__ import annotations

import pytest
import requests
from django.core.files.base import ContentFile

from compositing.models import Composite

pytestmark = pytest.mark.django_db(transaction=True)

VIDEO_BYTES = bytes(range(256)) * 40  # 10,240 bytes
HUGE = "9" * 5000


@pytest.fixture
def video_url(live_server, user) -> str:
    composite = Composite(
        owner=user,
        kind=Composite.Kind.VIDEO,
        source_name="clip.mp4",
        mode=Composite.Mode.BLUR,
        output_format="mp4",
        status=Composite.Status.DONE,
    )
    composite.source.save("source.mp4", ContentFile(VIDEO_BYTES), save=False)
    composite.result.save("result.mp4", ContentFile(VIDEO_BYTES), save=False)
    composite.save(force_insert=True)
    return f"{live_server.url}/history/{composite.pk}/video/"


@pytest.fixture
def session(live_server, user, client_logged_in) -> requests.Session:
    http = requests.Session()
    cookie = client_logged_in.cookies["sessionid"]
    http.cookies.set("sessionid", cookie.value)
    yield http
    http.close()


def get(session, url, byte_range) -> requests.Response:
    return session.get(url, headers={"Range": byte_range}, timeout=30, allow_redirects=False)


def test_huge_range_end_is_the_rest_of_the_file(session, video_url):
    response = get(session, video_url, f"bytes=10-{HUGE}")

    assert response.status_code == 206
    assert (
        response.headers["Content-Range"] == f"bytes 10-{len(VIDEO_BYTES) - 1}/{len(VIDEO_BYTES)}"
    )
    assert response.content == VIDEO_BYTES[10:]


def test_huge_range_start_is_416(session, video_url):
    response = get(session, video_url, f"bytes={HUGE}-")

    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{len(VIDEO_BYTES)}"


def test_huge_suffix_is_the_whole_file(session, video_url):
    response = get(session, video_url, f"bytes=-{HUGE}")

    assert response.status_code == 206
    assert response.content == VIDEO_BYTES


def test_leading_zeros_are_not_too_long(session, video_url):
    response = get(session, video_url, "bytes=" + "0" * 5000 + "5-" + "0" * 30 + "9")

    assert response.status_code == 206
    assert response.content == VIDEO_BYTES[5:10]
