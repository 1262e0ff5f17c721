"""The background library on S3 (moto in server mode, over HTTP, through django-storages):
private objects, presigned redirects, nothing left behind after deletes or failures."""

import pytest
import requests
from django.urls import reverse

from backgrounds.models import Background
from backgrounds.services import backgrounds_seed_builtin
from tests.backgrounds.factories import jpeg, png_header_only, upload

pytestmark = [pytest.mark.django_db, pytest.mark.s3]

LIBRARY = reverse("backgrounds:library")


def test_upload_serve_and_delete_on_s3(client_logged_in, user, s3_storage, list_storage_files):
    response = client_logged_in.post(LIBRARY, {"image": upload(jpeg()), "name": "Cloud"})
    assert response.status_code == 302
    background = Background.objects.get()
    keys = s3_storage.keys()
    assert set(keys) == set(background.file_names()) == set(list_storage_files())
    assert all(key.startswith(f"users/{user.pk}/backgrounds/") for key in keys)

    # The file view redirects to a short-lived presigned URL on the S3 server.
    response = client_logged_in.get(reverse("backgrounds:file", args=[background.pk, "image"]))
    assert response.status_code == 302
    url = response["Location"]
    assert url.startswith(s3_storage.endpoint_url)
    assert "X-Amz-Signature" in url and "X-Amz-Expires=300" in url
    fetched = requests.get(url, timeout=10)
    assert fetched.status_code == 200
    assert fetched.content[:2] == b"\xff\xd8"
    assert fetched.headers["Content-Type"] == "image/jpeg"
    # The object itself is private.
    assert requests.get(url.split("?")[0], timeout=10).status_code == 403

    response = client_logged_in.post(reverse("backgrounds:delete", args=[background.pk]))
    assert response.status_code == 302
    assert s3_storage.keys() == []


def test_failed_uploads_leave_nothing_in_the_bucket(client_logged_in, s3_storage, settings):
    assert (
        client_logged_in.post(LIBRARY, {"image": upload(b"not an image"), "name": ""}).status_code
        == 400
    )
    bomb = upload(png_header_only(60_000, 60_000), "bomb.png")
    assert client_logged_in.post(LIBRARY, {"image": bomb, "name": ""}).status_code == 413
    settings.VBG_BACKGROUND_QUOTA = 0
    assert client_logged_in.post(LIBRARY, {"image": upload(jpeg()), "name": ""}).status_code == 403
    assert not Background.objects.exists()
    assert s3_storage.keys() == []


def test_another_persons_object_is_a_404_not_a_redirect(client_logged_in, other_user, s3_storage):
    from backgrounds.services import background_upload

    theirs = background_upload(user=other_user, file=upload(jpeg()), name="x")
    url = reverse("backgrounds:file", args=[theirs.pk, "thumbnail"])
    assert client_logged_in.get(url).status_code == 404


@pytest.mark.slow
def test_seeding_on_s3(s3_storage):
    written = backgrounds_seed_builtin()
    assert written >= 8
    assert len(s3_storage.keys()) == 2 * written
    assert backgrounds_seed_builtin() == 0
