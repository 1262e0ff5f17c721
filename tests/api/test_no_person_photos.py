"""Real photos without a person get 422 no_person from the API (the detectors decide; the
selfie mask alone paints cats and coins as people); a real person is accepted."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from compositing.models import Composite
from tests.segmentation.photos import photo

URL = "/api/v1/composites/"


def jpeg(name: str) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.fromarray(photo(name)).convert("RGB").save(buffer, "JPEG", quality=92)
    return SimpleUploadedFile(f"{name}.jpg", buffer.getvalue(), content_type="image/jpeg")


@pytest.mark.parametrize("name", ["cat", "coffee", "coins", "grass"])
def test_real_photos_without_people_are_422(api, list_storage_files, name):
    response = api.post(URL, {"photo": jpeg(name), "mode": "blur"})

    assert response.status_code == 422, response.content
    assert response.json()["code"] == "no_person"
    assert not Composite.objects.exists()
    assert list_storage_files() == []


def test_the_astronaut_is_accepted(api):
    response = api.post(URL, {"photo": jpeg("astronaut"), "mode": "blur"})

    assert response.status_code == 201, response.content
