"""Placement options over the API: create and re-composite, multipart and JSON, 400s."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tests.api import images

URL = "/api/v1/composites/"

pytestmark = pytest.mark.usefixtures("api_model")


def upload(data: bytes, name: str = "portrait.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def result_image(client, body) -> Image.Image:
    response = client.get(body["result_url"])
    data = b"".join(response.streaming_content) if response.streaming else response.content
    return Image.open(io.BytesIO(data))


def test_create_with_placement_multipart(api):
    response = api.post(
        URL,
        {
            "photo": upload(images.portrait_jpeg(256)),
            "color": "#223344",
            "output_size": "1080x1350",
            "scale": "80",
            "position": "bottom",
            "background_mirror": "true",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["width"], body["height"]) == (1080, 1350)
    assert body["placement"]["output_size"] == "1080x1350"
    assert body["placement"]["position"] == "bottom"
    assert body["placement"]["background_mirror"] is True
    assert result_image(api, body).size == (1080, 1350)


def test_recomposite_with_placement_as_json_gives_the_matte(api):
    created = api.post(URL, {"photo": upload(images.portrait_jpeg(256)), "mode": "blur"}).json()
    response = api.post(
        f"{URL}{created['id']}/recomposite/",
        {"mode": "blur", "channels": "alpha", "crop": True, "crop_margin": "5%"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["format"] == "png" and body["timings"]["mask_reused"] is True
    assert body["placement"]["crop"] is True and body["placement"]["crop_margin"] == "5%"
    image = result_image(api, body)
    assert image.mode == "L" and image.format == "PNG"


def test_recomposite_keeps_the_originals_placement_unless_sent(api):
    """Another background, the same framing: options not sent are the original's (as the
    website's re-composite form, which starts from them); sent ones replace them."""
    created = api.post(
        URL,
        {
            "photo": upload(images.portrait_jpeg(256)),
            "color": "#223344",
            "output_size": "640x480",
            "scale": "70",
            "position": "bottom",
        },
    ).json()
    kept = api.post(f"{URL}{created['id']}/recomposite/", {"mode": "blur"}, format="json")
    changed = api.post(
        f"{URL}{created['id']}/recomposite/",
        {"color": "#ffffff", "scale": "100", "output_size": "original"},
        format="json",
    )
    assert kept.status_code == 201 and changed.status_code == 201, kept.content
    assert kept.json()["placement"] == created["placement"]
    assert (kept.json()["width"], kept.json()["height"]) == (640, 480)
    assert result_image(api, kept.json()).size == (640, 480)
    assert changed.json()["placement"] == {
        **created["placement"],
        "scale": 100,
        "output_size": "original",
    }
    assert (changed.json()["width"], changed.json()["height"]) == (256, 256)  # the photo's


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("output_size", "big"),
        ("background_focus", "150,50"),
        ("background_zoom", "9"),
        ("scale", "3"),
        ("position", "sideways"),
        ("crop_margin", "80%"),
        ("channels", "cmyk"),
        ("blur_strength", "500"),
    ],
)
def test_bad_placement_is_a_400_with_a_code(api, field, value):
    response = api.post(
        URL, {"photo": upload(images.portrait_jpeg(256)), "mode": "blur", field: value}
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid_option" and field in body["detail"]


@pytest.mark.parametrize("field", ["crop", "background_mirror"])
def test_bad_boolean_is_invalid_option_like_the_other_placement_errors(api, field):
    response = api.post(
        URL, {"photo": upload(images.portrait_jpeg(256)), "mode": "blur", field: "perhaps"}
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_option" and field in body["detail"]


def test_bad_boolean_in_json_recomposite_is_invalid_option(api):
    created = api.post(URL, {"photo": upload(images.portrait_jpeg(256)), "mode": "blur"}).json()
    response = api.post(
        f"{URL}{created['id']}/recomposite/", {"mode": "blur", "crop": [1]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_option"


def test_recomposite_of_another_persons_composite_is_404(api, other_api):
    created = other_api.post(URL, {"photo": upload(images.portrait_jpeg(256)), "mode": "blur"})
    response = api.post(
        f"{URL}{created.json()['id']}/recomposite/", {"mode": "blur", "scale": "50"}, format="json"
    )
    assert response.status_code == 404


def test_schema_documents_the_placement_options(api):
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    create = schema["components"]["schemas"]["CompositeCreateRequest"]["properties"]
    for name in (
        "output_size",
        "background_focus",
        "background_zoom",
        "background_mirror",
        "scale",
        "position",
        "crop",
        "crop_margin",
        "channels",
        "blur_strength",
    ):
        assert name in create, name
