"""Hole 6 (issue 13): a 693-byte JPEG claiming 7000x7000 was stored as a 49-megapixel grey
background, because libjpeg fills a scan that ends early with grey. Truncated or lying
images are refused with a 400 and nothing is stored."""

from __future__ import annotations

import importlib
import io

import pytest
from PIL import Image, ImageFile

from backgrounds.models import Background
from compositing import imaging
from vbgsite.errors import InvalidImage


def lying_jpeg(width: int = 7000, height: int = 7000, size: int = 693) -> bytes:
    """A real JPEG header for width x height, its scan cut after ``size`` bytes, then EOI."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (90, 140, 60)).save(out, "JPEG", quality=80)
    return out.getvalue()[: size - 2] + b"\xff\xd9"


@pytest.mark.django_db(transaction=True)
def test_lying_jpeg_background_upload_is_a_400_and_stores_nothing(
    live_api, user, list_storage_files
):
    data = lying_jpeg()
    assert len(data) == 693

    response = live_api.request(
        "POST", "/api/v1/backgrounds/", files={"image": ("sky.jpg", data, "image/jpeg")}
    )

    assert response.status_code == 400, response.text
    assert "truncated" in response.json()["detail"]
    assert not Background.objects.filter(owner=user).exists()
    assert list_storage_files() == []


@pytest.mark.parametrize("progressive", [False, True])
def test_load_image_refuses_a_scan_that_ends_early(progressive):
    out = io.BytesIO()
    Image.new("L", (4000, 3000), 128).save(out, "JPEG", progressive=progressive)
    data = out.getvalue()[:600] + b"\xff\xd9"

    with pytest.raises(InvalidImage, match="truncated"):
        imaging.load_image(data, max_pixels=50_000_000, min_side=32)


def test_load_image_refuses_a_jpeg_cut_short():
    out = io.BytesIO()
    Image.effect_noise((800, 600), 60).convert("RGB").save(out, "JPEG")
    with pytest.raises(InvalidImage):
        imaging.load_image(out.getvalue()[:20_000], max_pixels=50_000_000, min_side=32)


def test_small_but_complete_jpegs_still_load():
    out = io.BytesIO()
    Image.new("RGB", (7000, 7000), (10, 10, 10)).save(out, "JPEG", optimize=True, progressive=True)
    image = imaging.load_image(out.getvalue(), max_pixels=50_000_000, min_side=32)
    assert image.size == (7000, 7000)


def test_decoding_refuses_to_run_with_pillow_filling_truncated_images(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    out = io.BytesIO()
    Image.new("RGB", (64, 64)).save(out, "PNG")
    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        imaging.load_image(out.getvalue(), max_pixels=50_000_000, min_side=32)


def test_no_module_of_ours_turns_on_loading_truncated_images():
    for name in (
        "compositing.services",
        "backgrounds.services",
        "compositing.segmentation",
        "compositing.video",
        "torchvision",
    ):
        importlib.import_module(name)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
