"""Placement options: parsed once for website and API, stored on the composite, applied."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image

from compositing.placement import Placement
from compositing.services import composite_create, composite_recomposite
from compositing.services.placement import placement_as_dict, placement_parse
from tests.compositing.conftest import portrait_jpeg, upload
from vbgsite.errors import InvalidOption


def test_defaults_and_canonical_form():
    assert placement_parse({}) == Placement()
    assert placement_as_dict(placement_parse(None))["output_size"] == "original"
    parsed = placement_parse(
        {
            "output_size": "1920x1080",
            "background_focus": "20,80",
            "background_zoom": "1.5",
            "background_mirror": "on",
            "scale": "80%",
            "position": "bottom",
            "crop": "true",
            "crop_margin": "10%",
            "channels": "alpha",
            "blur_strength": "strong",
        }
    )
    assert parsed == Placement(
        output_size=(1920, 1080),
        background_focus=(20.0, 80.0),
        background_zoom=1.5,
        background_mirror=True,
        scale=80.0,
        position=(50.0, 100.0),
        crop=True,
        crop_margin=(10.0, "%"),
        channels="alpha",
        blur_strength=60.0,
    )
    assert placement_parse(placement_as_dict(parsed)) == parsed  # round trip


def test_json_types_are_accepted():
    parsed = placement_parse(
        {"background_zoom": 2, "background_mirror": True, "position": [10, 90], "crop_margin": 30}
    )
    assert (parsed.background_zoom, parsed.background_mirror) == (2.0, True)
    assert (parsed.position, parsed.crop_margin) == ((10.0, 90.0), (30.0, "px"))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("output_size", "huge"),
        ("output_size", "10x10"),
        ("output_size", "8000x8000"),
        ("background_focus", "50"),
        ("background_focus", "50,120"),
        ("background_zoom", "0.5"),
        ("background_zoom", "nan"),
        ("background_mirror", "maybe"),
        ("scale", "5"),
        ("scale", "101"),
        ("position", "left-ish"),
        ("crop", "2"),
        ("crop_margin", "60%"),
        ("crop_margin", "-3px"),
        ("channels", "rgb"),
        ("blur_strength", "0"),
        ("blur_strength", "medium"),
        ("unknown_option", "1"),
    ],
)
def test_bad_values_are_invalid_option_naming_the_option(name, value):
    with pytest.raises(InvalidOption) as caught:
        placement_parse({name: value})
    assert caught.value.http_status == 400 and caught.value.code == "invalid_option"
    assert name in caught.value.message


@pytest.mark.django_db
def test_create_with_output_size_and_bottom_position(user, real_model):
    composite = composite_create(
        user=user,
        photo=upload(portrait_jpeg()),
        mode="color",
        color="#00FF00",
        placement={"output_size": "1920x1080", "scale": "70", "position": "bottom"},
    )
    assert (composite.width, composite.height) == (1920, 1080)
    assert composite.placement["output_size"] == "1920x1080"
    assert composite.placement["position"] == "bottom"
    result = np.asarray(Image.open(composite.result.open("rb")).convert("RGB")).astype(int)
    assert result.shape == (1080, 1920, 3)
    assert np.abs(result[540, 100] - [0, 255, 0]).max() < 8  # the sides are the colour
    # 70 % of the fitted 1080 px tall photo sits on the bottom edge: nothing above y 324.
    assert np.abs(result[:300, 900:1020] - [0, 255, 0]).max() < 8


@pytest.mark.django_db
def test_alpha_channel_is_a_greyscale_png_and_recomposite_keeps_the_mask(user, real_model):
    original = composite_create(user=user, photo=upload(portrait_jpeg()), mode="blur")
    matte = composite_recomposite(
        user=user, composite_id=original.pk, mode="blur", placement={"channels": "alpha"}
    )
    assert matte.output_format == "png"
    image = Image.open(io.BytesIO(matte.result.open("rb").read()))
    assert image.mode == "L" and image.size == (original.width, original.height)
    mask = Image.open(original.mask.open("rb"))
    assert np.array_equal(np.asarray(image), np.asarray(mask))


@pytest.mark.django_db
def test_crop_makes_the_output_the_subject_box(user, real_model):
    composite = composite_create(
        user=user,
        photo=upload(portrait_jpeg()),
        mode="transparent",
        output_format="png",
        placement={"crop": "true", "crop_margin": "0px"},
    )
    assert composite.width < 512 or composite.height < 512
    matte = np.asarray(Image.open(composite.result.open("rb")))[..., 3]
    assert matte[0].max() >= 26 and matte[:, 0].max() >= 26  # the subject touches the edges


@pytest.mark.django_db
def test_bad_placement_on_the_website_is_a_400_with_the_message(client_logged_in, real_model):
    response = client_logged_in.post(
        reverse("compositing:studio"),
        {
            "photo": upload(portrait_jpeg()),
            "background": "color",
            "color": "#112233",
            "scale": "500",
        },
    )
    assert response.status_code == 400
    assert "scale must be between 10 and 100" in response.content.decode()


@pytest.mark.django_db
def test_detail_page_shows_the_placement_and_prefills_the_form(user, client_logged_in, real_model):
    composite = composite_create(
        user=user,
        photo=upload(portrait_jpeg()),
        mode="color",
        color="#112233",
        placement={"output_size": "1080x1350", "background_zoom": "2"},
    )
    page = client_logged_in.get(reverse("compositing:detail", args=[composite.pk])).content.decode()
    assert "1080x1350" in page and "Background zoom" in page
    assert 'name="background_zoom"' in page and 'value="2"' in page
