"""The API's ``notices``: what the service changed on its own (issue 14, defect 9)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.api import images

URL = "/api/v1/composites/"

pytestmark = pytest.mark.usefixtures("api_model")


def upload(data: bytes, name: str = "portrait.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def test_transparent_jpeg_answers_png_with_a_notice(api):
    response = api.post(
        URL, {"photo": upload(images.portrait_jpeg(256)), "mode": "transparent", "format": "jpg"}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["format"] == "png"
    [notice] = body["notices"]
    assert "PNG" in notice


def test_no_notices_is_an_empty_list(api):
    body = api.post(URL, {"photo": upload(images.portrait_jpeg(256)), "mode": "blur"}).json()
    assert body["notices"] == []
    again = api.get(body["url"]).json()
    assert again["notices"] == []


def test_full_library_on_recomposite_is_a_notice(api, user, settings):
    settings.VBG_BACKGROUND_QUOTA = 0
    created = api.post(URL, {"photo": upload(images.portrait_jpeg(256)), "mode": "blur"}).json()
    response = api.post(
        f"{URL}{created['id']}/recomposite/",
        {"background_image": upload(images.scenery_jpeg(), "beach.jpg"), "save_background": "true"},
    )
    assert response.status_code == 201, response.content
    [notice] = response.json()["notices"]
    assert "kept with this composite only" in notice


def test_schema_documents_notices(api):
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    notices = schema["components"]["schemas"]["Composite"]["properties"]["notices"]
    assert notices["type"] == "array" and notices["items"]["type"] == "string"
