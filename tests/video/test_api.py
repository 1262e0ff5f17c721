"""Videos over the REST API: ``POST /api/v1/composites/`` with ``video`` answers 202 with a
queued composite whose JSON carries the progress; ``.../cancel/`` stops it; the finished
result downloads as MP4."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from accounts.services import token_create
from compositing.models import Composite
from tests.video.clips import make_clip

URL = "/api/v1/composites/"


def api_for(user) -> APIClient:
    _token, key = token_create(user=user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def video_upload(path) -> SimpleUploadedFile:
    return SimpleUploadedFile("clip.mp4", path.read_bytes(), "video/mp4")


@pytest.fixture
def clip(tmp_path):
    return make_clip(tmp_path / "clip.mp4", frames=8)


@pytest.mark.django_db
def test_video_upload_answers_202_with_a_queued_composite(user, clip):
    api = api_for(user)
    response = api.post(URL, {"video": video_upload(clip.path), "color": "#FF8800"})
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["kind"] == "video" and body["status"] == "queued"
    assert body["format"] == "mp4" and body["progress"] == 0
    assert body["frames_total"] == clip.frames and body["result_url"] is None
    assert response["Location"].endswith(f"{URL}{body['id']}/")

    detail = api.get(f"{URL}{body['id']}/").json()
    assert {"progress", "frames_done", "frames_total", "eta_seconds", "error"} <= set(detail)


@pytest.mark.django_db
def test_cancel_a_queued_video(user, other_user, clip):
    api = api_for(user)
    created = api.post(URL, {"video": video_upload(clip.path), "mode": "blur"}).json()
    assert api_for(other_user).post(f"{URL}{created['id']}/cancel/").status_code == 404
    cancelled = api.post(f"{URL}{created['id']}/cancel/")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"mode": "transparent", "format": "mp4"}, "invalid_option"),
        ({"mode": "blur", "format": "webm"}, "invalid_option"),
        ({"mode": "blur", "format": "png"}, "invalid_option"),
        ({"mode": "blur", "photo": True}, "invalid"),
    ],
)
def test_bad_video_requests_are_400(user, clip, fields, code):
    from tests.video.clips import jpeg_bytes

    payload = {"video": video_upload(clip.path), **fields}
    if fields.get("photo"):
        payload["photo"] = SimpleUploadedFile("p.jpg", jpeg_bytes(), "image/jpeg")
    response = api_for(user).post(URL, payload)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert not Composite.objects.exists()


@pytest.mark.django_db
def test_a_corrupt_video_is_400_with_a_reason(user):
    garbage = SimpleUploadedFile("clip.mp4", b"\x00\x01garbage" * 500, "video/mp4")
    response = api_for(user).post(URL, {"video": garbage, "mode": "blur"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_video"
    assert "not a video" in response.json()["detail"]


@pytest.mark.django_db
def test_a_video_over_the_length_limit_is_413(user, clip, settings):
    settings.VBG_MAX_VIDEO_SECONDS = 0.1
    response = api_for(user).post(URL, {"video": video_upload(clip.path), "mode": "blur"})
    assert response.status_code == 413
    assert response.json()["code"] == "video_too_long"


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_the_worker_finishes_an_api_video_and_the_result_downloads(user, clip, start_worker):
    api = api_for(user)
    created = api.post(URL, {"video": video_upload(clip.path), "mode": "blur"}).json()
    worker = start_worker(batch=True)
    assert worker.wait(timeout=180) == 0, worker.output()
    detail = api.get(f"{URL}{created['id']}/").json()
    assert detail["status"] == "done", detail
    assert detail["progress"] == 100 and detail["frames_done"] == clip.frames
    assert detail["duration"] == pytest.approx(clip.duration, abs=0.05)
    result = api.get(detail["result_url"])
    assert result.status_code == 200 and result["Content-Type"] == "video/mp4"
    data = b"".join(result.streaming_content)
    assert data[4:8] == b"ftyp"
