"""Another user's composites, files and backgrounds are 404 on every view."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from compositing.models import Composite
from compositing.services import FILE_KINDS, composite_create
from tests.compositing.conftest import make_background, portrait_jpeg, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def theirs(other_user, real_model, tmp_media):
    """A composite of the other user, with every kind of file (a one-off background)."""
    from tests.compositing.conftest import background_jpeg

    return composite_create(
        user=other_user,
        photo=upload(portrait_jpeg()),
        mode="image",
        background_file=upload(background_jpeg()),
    )


def urls_for(composite_id) -> list[tuple[str, str]]:
    """(method, url) of every view that takes a composite id."""
    urls = [
        ("get", reverse("compositing:detail", args=[composite_id])),
        ("get", reverse("compositing:recomposite", args=[composite_id])),
        ("post", reverse("compositing:recomposite", args=[composite_id])),
        ("get", reverse("compositing:delete", args=[composite_id])),
        ("post", reverse("compositing:delete", args=[composite_id])),
        ("get", reverse("compositing:download", args=[composite_id])),
        ("get", f"{reverse('compositing:studio')}?result={composite_id}"),
    ]
    urls += [("get", reverse("compositing:file", args=[composite_id, w])) for w in FILE_KINDS]
    return urls


def test_every_view_is_404_for_another_users_composite(client_logged_in, user, theirs):
    for method, url in urls_for(theirs.pk):
        data = {"background": "blur"} if method == "post" else None
        response = getattr(client_logged_in, method)(url, data)
        assert response.status_code == 404, (method, url)
    assert Composite.objects.filter(pk=theirs.pk).exists()
    assert Composite.objects.count() == 1


def test_unknown_ids_are_404(client_logged_in):
    for method, url in urls_for(uuid.uuid4()):
        response = getattr(client_logged_in, method)(url, {} if method == "post" else None)
        assert response.status_code == 404, (method, url)
    assert client_logged_in.get("/history/not-a-uuid/").status_code == 404
    assert client_logged_in.get(f"{reverse('compositing:studio')}?result=zzz").status_code == 404


def test_unknown_file_kind_is_404(client_logged_in, user, real_model, tmp_media):
    mine = composite_create(user=user, photo=upload(portrait_jpeg()), mode="blur")
    for which in ("../source", "secret", "background"):  # blur has no background file
        url = f"/history/{mine.pk}/files/{which}/"
        assert client_logged_in.get(url).status_code == 404, which


def test_history_lists_only_own_composites(client_logged_in, user, theirs):
    response = client_logged_in.get(reverse("compositing:history"))
    assert response.status_code == 200
    assert str(theirs.pk) not in response.content.decode()


def test_another_users_background_is_404_in_the_studio(
    client_logged_in, user, other_user, real_model, tmp_media
):
    background = make_background(other_user, name="Private")
    response = client_logged_in.post(
        reverse("compositing:studio"),
        {"photo": upload(portrait_jpeg()), "background": str(background.pk)},
    )
    assert response.status_code == 404
    assert not Composite.objects.exists()
    page = client_logged_in.get(reverse("compositing:studio")).content.decode()
    assert "Private" not in page


def test_anonymous_visitors_are_sent_to_sign_in(client, theirs):
    assert client.get(reverse("compositing:studio")).status_code == 200  # the landing page
    for method, url in urls_for(theirs.pk):
        if "?result=" in url:
            continue  # the studio URL shows the landing page to visitors
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("accounts:login"))
