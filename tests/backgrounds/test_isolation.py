"""Another person's backgrounds are a 404 in every view; built-ins are visible to all
signed-in people; anonymous visitors are sent to sign in."""

import uuid

import pytest
from django.urls import reverse

from backgrounds.models import Background
from backgrounds.services import background_upload
from tests.backgrounds.factories import jpeg, make_builtin, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def theirs(other_user):
    return background_upload(user=other_user, file=upload(jpeg()), name="Mallory's room")


def every_view(background_id) -> list[tuple[str, str, dict]]:
    return [
        ("get", reverse("backgrounds:file", args=[background_id, "image"]), {}),
        ("get", reverse("backgrounds:file", args=[background_id, "thumbnail"]), {}),
        ("get", reverse("backgrounds:delete", args=[background_id]), {}),
        ("post", reverse("backgrounds:delete", args=[background_id]), {}),
        ("post", reverse("backgrounds:rename", args=[background_id]), {"name": "mine now"}),
    ]


def test_another_persons_background_is_a_404_everywhere(client_logged_in, theirs):
    for method, url, data in every_view(theirs.pk):
        response = getattr(client_logged_in, method)(url, data)
        assert response.status_code == 404, (method, url)
    theirs.refresh_from_db()
    assert theirs.name == "Mallory's room"
    assert all(theirs.image.storage.exists(name) for name in theirs.file_names())


def test_unknown_ids_are_a_404_everywhere(client_logged_in):
    for method, url, data in every_view(uuid.uuid4()):
        assert getattr(client_logged_in, method)(url, data).status_code == 404, url


def test_the_library_lists_only_builtins_and_your_own(client_logged_in, user, theirs):
    mine = background_upload(user=user, file=upload(jpeg()), name="My study")
    builtin = make_builtin()
    page = client_logged_in.get(reverse("backgrounds:library")).content.decode()
    assert "My study" in page and builtin.name in page
    assert "Mallory" not in page and str(theirs.pk) not in page
    assert str(mine.pk) in page


def test_owner_sees_their_files(client_logged_in, user):
    mine = background_upload(user=user, file=upload(jpeg()), name="x")
    response = client_logged_in.get(reverse("backgrounds:file", args=[mine.pk, "image"]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert "private" in response["Cache-Control"]
    assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"


def test_builtins_are_served_to_any_signed_in_person(client_logged_in, client):
    builtin = make_builtin()
    url = reverse("backgrounds:file", args=[builtin.pk, "thumbnail"])
    assert client_logged_in.get(url).status_code == 200
    response = client.get(url)  # anonymous
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_unknown_file_kinds_are_a_404(client_logged_in, user):
    mine = background_upload(user=user, file=upload(jpeg()), name="x")
    for which in ("source", "..", "image.jpg", "owner"):
        url = f"/backgrounds/{mine.pk}/files/{which}/"
        assert client_logged_in.get(url).status_code == 404, which


def test_media_is_not_served_under_a_public_url(client_logged_in, user):
    mine = background_upload(user=user, file=upload(jpeg()), name="x")
    for name in mine.file_names():
        assert client_logged_in.get("/" + name).status_code == 404
        assert client_logged_in.get("/media/" + name).status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in_everywhere(client, theirs):
    pages = [("get", reverse("backgrounds:library"), {}), *every_view(theirs.pk)]
    for method, url, data in pages:
        response = getattr(client, method)(url, data)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("accounts:login"))
    assert Background.objects.filter(pk=theirs.pk).exists()
