"""Photos and videos choose their background through one resolver: the same bad choice
is the same error (class, code and message) on both paths, checked before any work."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.storage import default_storage

from compositing.models import Composite
from compositing.services import composite_create, composite_create_video
from tests.compositing.conftest import make_background, portrait_jpeg, upload
from vbgsite.errors import AppError

pytestmark = pytest.mark.django_db


def photo(user: Any, **choice: Any) -> None:
    composite_create(user=user, photo=upload(portrait_jpeg()), **choice)


def video(user: Any, **choice: Any) -> None:
    # Every one of these choices is refused before the video itself is read.
    composite_create_video(user=user, video=upload(b"not read", "clip.mp4", "video/mp4"), **choice)


def error_of(make: Callable[..., None], user: Any, choice: dict[str, Any]) -> AppError:
    with pytest.raises(AppError) as caught:
        make(user, **choice)
    return caught.value


BAD_CHOICES = {
    "unknown mode": lambda theirs, gone: {"mode": "sparkles"},
    "image without a background": lambda theirs, gone: {"mode": "image"},
    "library id and upload": lambda theirs, gone: {
        "mode": "image",
        "background_id": theirs.pk,
        "background_file": upload(b"x", "bg.jpg"),
    },
    "image with a colour": lambda theirs, gone: {"mode": "blur", "color": "#112233"},
    "colour without a colour": lambda theirs, gone: {"mode": "color"},
    "bad colour": lambda theirs, gone: {"mode": "color", "color": "blue-ish"},
    "malformed id": lambda theirs, gone: {"mode": "image", "background_id": "not-a-uuid"},
    "another person's background": lambda theirs, gone: {
        "mode": "image",
        "background_id": theirs.pk,
    },
    "library image gone from storage": lambda theirs, gone: {
        "mode": "image",
        "background_id": gone.pk,
    },
    "unreadable one-off upload": lambda theirs, gone: {
        "mode": "image",
        "background_file": upload(b"no image here", "bg.jpg"),
    },
}


@pytest.mark.parametrize("case", BAD_CHOICES, ids=str)
def test_the_same_bad_background_choice_is_the_same_error_for_photo_and_video(
    case, user, other_user
):
    theirs = make_background(other_user, name="Theirs", width=64, height=48)
    gone = make_background(user, name="Gone", width=64, height=48)
    default_storage.delete(gone.image.name)

    on_photo = error_of(photo, user, BAD_CHOICES[case](theirs, gone))
    on_video = error_of(video, user, BAD_CHOICES[case](theirs, gone))

    assert type(on_photo) is type(on_video)
    assert (on_photo.code, on_photo.http_status, on_photo.message) == (
        on_video.code,
        on_video.http_status,
        on_video.message,
    )
    assert not Composite.objects.exists()


def test_a_library_image_gone_from_storage_is_not_found(user):
    gone = make_background(user, name="Gone", width=64, height=48)
    default_storage.delete(gone.image.name)

    error = error_of(photo, user, {"mode": "image", "background_id": gone.pk})

    assert (error.code, error.http_status) == ("not_found", 404)
