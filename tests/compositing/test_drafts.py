"""Studio drafts: one model run; Save makes one history entry; other people's are 404."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from compositing.models import Composite
from compositing.services import composite_draft_create, composite_drafts_purge
from tests.compositing.conftest import portrait_jpeg, stored_names, upload

pytestmark = pytest.mark.django_db


def _draft(client):
    response = client.post(
        reverse("compositing:studio_draft"),
        {"photo": upload(portrait_jpeg())},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_draft_runs_the_model_once_and_is_not_in_history(user, client_logged_in, model_calls):
    before = model_calls()
    body = _draft(client_logged_in)
    assert model_calls() == before + 1
    draft = Composite.objects.get(pk=body["id"])
    assert draft.status == Composite.Status.DRAFT and not draft.result
    assert client_logged_in.get(body["source_url"]).status_code == 200
    assert client_logged_in.get(body["mask_url"]).status_code == 200
    history = client_logged_in.get(reverse("compositing:history")).content.decode()
    assert body["id"] not in history
    assert client_logged_in.get(body["detail_url"]).status_code == 404
    api = client_logged_in.get("/api/v1/composites/")
    assert api.status_code in (200, 401, 403)


def test_save_makes_one_history_entry_without_the_model(user, client_logged_in, model_calls):
    body = _draft(client_logged_in)
    before = model_calls()
    response = client_logged_in.post(
        body["save_url"],
        {"background": "color", "color": "#FF0000", "output_size": "1080x1080", "scale": "80"},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 201, response.content
    assert model_calls() == before
    saved = Composite.objects.get(pk=response.json()["id"])
    assert saved.status == Composite.Status.DONE and saved.parent is None
    assert (saved.width, saved.height) == (1080, 1080)
    assert saved.timings["segment_ms"] > 0 and saved.timings["mask_reused"] is False
    assert not Composite.objects.filter(pk=body["id"]).exists()  # the draft is gone
    assert list(Composite.objects.for_user(user).history()) == [saved]
    assert not [n for n in stored_names() if body["id"].replace("-", "") in n]


def test_saving_without_scripts_redirects_to_the_studio_result(client_logged_in, real_model):
    body = _draft(client_logged_in)
    response = client_logged_in.post(body["save_url"], {"background": "blur"})
    assert response.status_code == 302
    assert "?result=" in response["Location"]


def test_another_persons_draft_is_404(client_logged_in, other_user, client, real_model):
    draft = composite_draft_create(user=other_user, photo=upload(portrait_jpeg()))
    for url in (
        reverse("compositing:file", args=[draft.pk, "source"]),
        reverse("compositing:file", args=[draft.pk, "mask"]),
        reverse("compositing:detail", args=[draft.pk]),
    ):
        assert client_logged_in.get(url).status_code == 404
    response = client_logged_in.post(
        reverse("compositing:recomposite", args=[draft.pk]),
        {"background": "blur"},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 404
    assert Composite.objects.filter(pk=draft.pk).exists()


def test_draft_without_a_person_or_with_a_bad_file_is_a_clear_error(client_logged_in, real_model):
    response = client_logged_in.post(
        reverse("compositing:studio_draft"),
        {"photo": upload(b"not an image")},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_image"
    assert Composite.objects.count() == 0 and stored_names() == []


def test_abandoned_drafts_are_purged_with_their_files(user, real_model):
    drafts = [composite_draft_create(user=user, photo=upload(portrait_jpeg())) for _ in range(2)]
    Composite.objects.filter(pk=drafts[0].pk).update(created=timezone.now() - timedelta(days=2))
    call_command("purge_drafts")
    assert list(Composite.objects.values_list("pk", flat=True)) == [drafts[1].pk]
    assert all(drafts[0].pk.hex not in name for name in stored_names())
    assert composite_drafts_purge(older_than=timedelta(0)) == 1
    assert stored_names() == []


def test_a_person_keeps_only_their_newest_drafts(user, real_model):
    for _ in range(7):
        composite_draft_create(user=user, photo=upload(portrait_jpeg()))
    assert Composite.objects.filter(status=Composite.Status.DRAFT).count() == 5
