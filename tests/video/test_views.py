"""Video pages: upload on the website, the job page and its JSON status, cancel, the player
file with byte ranges, and that nobody else can see any of it. No worker here: the jobs
stay queued (the worker tests run them)."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from compositing.models import Composite
from tests.video.clips import make_clip

pytestmark = pytest.mark.django_db


@pytest.fixture
def clip_bytes(tmp_path) -> bytes:
    return make_clip(tmp_path / "clip.mp4", frames=6).path.read_bytes()


def upload(client, data: bytes, **fields):
    payload = {"video": SimpleUploadedFile("My talk.mp4", data, "video/mp4"), **fields}
    return client.post(reverse("compositing:video_studio"), payload)


def test_studio_links_to_the_video_page_and_the_video_page_has_the_picker(client_logged_in):
    studio = client_logged_in.get(reverse("compositing:studio"))
    assert reverse("compositing:video_studio") in studio.content.decode()
    page = client_logged_in.get(reverse("compositing:video_studio"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="video"' in html and 'name="background"' in html


def test_upload_queues_a_job_and_the_page_shows_its_progress(client_logged_in, user, clip_bytes):
    response = upload(client_logged_in, clip_bytes, background="color", color="#112233")
    composite = Composite.objects.get(owner=user)
    assert response.status_code == 302
    assert response["Location"] == reverse("compositing:detail", args=[composite.pk])
    assert composite.kind == "video" and composite.status == "queued"
    assert composite.color == "#112233" and composite.source_name == "My talk.mp4"

    page = client_logged_in.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert "<progress" in html and "Waiting for a worker" in html
    assert reverse("compositing:status", args=[composite.pk]) in html

    status = client_logged_in.get(reverse("compositing:status", args=[composite.pk])).json()
    assert status["status"] == "queued" and status["progress"] == 0
    assert status["frames_total"] == 6 and status["finished"] is False
    assert status["video_url"] is None


def test_upload_errors_are_shown_on_the_page(client_logged_in, user):
    response = upload(client_logged_in, b"not a video at all", background="blur")
    assert response.status_code == 400
    assert "not a video we can read" in response.content.decode()
    response = upload(client_logged_in, b"x" * 100, background="transparent")
    assert response.status_code == 400  # transparent videos are accepted; this file is not
    assert "not a video we can read" in response.content.decode()
    assert not Composite.objects.filter(owner=user).exists()


def test_cancel_from_the_page(client_logged_in, user, clip_bytes):
    upload(client_logged_in, clip_bytes, background="blur")
    composite = Composite.objects.get(owner=user)
    response = client_logged_in.post(reverse("compositing:cancel", args=[composite.pk]))
    assert response.status_code == 302
    composite.refresh_from_db()
    assert composite.status == "cancelled"
    page = client_logged_in.get(reverse("compositing:detail", args=[composite.pk]))
    assert "Cancelled" in page.content.decode()


def test_other_people_get_404_everywhere(client_logged_in, other_user, clip_bytes, client):
    upload(client_logged_in, clip_bytes, background="blur")
    composite = Composite.objects.get()
    client.force_login(other_user)
    for name in ("detail", "status", "video_file"):
        assert client.get(reverse(f"compositing:{name}", args=[composite.pk])).status_code == 404
    assert client.post(reverse("compositing:cancel", args=[composite.pk])).status_code == 404
    composite.refresh_from_db()
    assert composite.status == "queued"


def test_finished_video_plays_with_byte_ranges(client_logged_in, user, tmp_path):
    data = make_clip(tmp_path / "done.mp4", frames=6).path.read_bytes()
    composite = Composite(owner=user, kind="video", status="done", output_format="mp4")
    composite.source.save("source.mp4", ContentFile(data), save=False)
    composite.result.save("result.mp4", ContentFile(data), save=False)
    composite.save()

    page = client_logged_in.get(reverse("compositing:detail", args=[composite.pk]))
    assert "<video" in page.content.decode()
    url = reverse("compositing:video_file", args=[composite.pk])
    whole = client_logged_in.get(url)
    assert whole.status_code == 200 and whole["Accept-Ranges"] == "bytes"
    assert whole["Content-Type"] == "video/mp4"
    assert b"".join(whole.streaming_content) == data

    part = client_logged_in.get(url, HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert b"".join(part.streaming_content) == data[100:200]
    tail = client_logged_in.get(url, HTTP_RANGE="bytes=-50")
    assert b"".join(tail.streaming_content) == data[-50:]
    beyond = client_logged_in.get(url, HTTP_RANGE=f"bytes={len(data)}-")
    assert beyond.status_code == 416

    status = client_logged_in.get(reverse("compositing:status", args=[composite.pk])).json()
    assert status["finished"] is True and status["video_url"] == url


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("compositing:video_studio"))
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]
