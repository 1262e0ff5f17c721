"""Error pages in the site's look, and no link that leads to one (issue 14, defect 1)."""

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.views.defaults import server_error

from compositing.models import Composite
from tests.accounts.factories import make_composite

pytestmark = pytest.mark.django_db


def video(owner, status: str) -> Composite:
    from django.core.files.base import ContentFile

    composite = Composite(owner=owner, kind=Composite.Kind.VIDEO, status=status, mode="blur")
    composite.source.save("clip.mp4", ContentFile(b"\x00\x00\x00\x18ftypmp42"), save=False)
    composite.output_format = Composite.Format.MP4
    composite.save()
    return composite


def test_404_is_the_sites_page(client_logged_in, settings):
    settings.DEBUG = False
    response = client_logged_in.get("/no/such/page/")
    assert response.status_code == 404
    text = response.content.decode()
    assert "This page does not exist" in text
    assert 'class="site-header"' in text  # the site's look: header and navigation
    assert reverse("compositing:history") in text


def test_another_persons_composite_is_the_same_404(client_logged_in, other_user, settings):
    settings.DEBUG = False
    theirs = make_composite(other_user)
    response = client_logged_in.get(reverse("compositing:download", args=[theirs.pk]))
    assert response.status_code == 404
    assert b"This page does not exist" in response.content


def test_500_is_the_sites_page():
    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    text = response.content.decode()
    assert "Something went wrong on our side" in text
    assert 'class="site-header"' in text


@pytest.mark.parametrize("status", ["queued", "running", "cancelled", "failed"])
def test_history_offers_no_download_without_a_result(client_logged_in, user, status):
    job = video(user, status)
    page = client_logged_in.get(reverse("compositing:history"))
    download = reverse("compositing:download", args=[job.pk])
    assert download.encode() not in page.content
    assert reverse("compositing:detail", args=[job.pk]).encode() in page.content
    # The link would have been a 404.
    assert client_logged_in.get(download).status_code == 404


def test_history_offers_download_of_finished_composites(client_logged_in, user):
    done = make_composite(user)
    page = client_logged_in.get(reverse("compositing:history"))
    download = reverse("compositing:download", args=[done.pk])
    assert download.encode() in page.content
    assert client_logged_in.get(download).status_code == 200
