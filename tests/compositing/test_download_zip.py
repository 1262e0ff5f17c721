"""Several composites as one ZIP (the studio's batch mode): the person's own only."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.urls import reverse
from PIL import Image

from compositing.models import Composite
from compositing.services import ZIP_MAX_COMPOSITES, composite_create, composite_draft_create
from tests.compositing.conftest import portrait_jpeg, upload

pytestmark = pytest.mark.django_db
URL = reverse("compositing:download_zip")


def make(owner, **options) -> Composite:
    options = {"mode": "blur", **options}
    return composite_create(
        user=owner, photo=upload(portrait_jpeg(), name="Me at work.jpg"), **options
    )


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_zip_holds_each_chosen_result_in_order(user, client_logged_in, real_model):
    first = make(user)
    second = make(user, mode="transparent", output_format="png")
    response = client_logged_in.get(URL, {"id": [str(second.pk), str(first.pk)]})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(body(response)))
    assert archive.namelist() == ["01-me-at-work.png", "02-me-at-work.jpg"]
    with first.result.open("rb") as handle:
        assert archive.read("02-me-at-work.jpg") == handle.read()
    assert Image.open(io.BytesIO(archive.read("01-me-at-work.png"))).mode == "RGBA"


def test_another_persons_id_is_404_and_nothing_is_sent(
    user, other_user, client_logged_in, real_model
):
    mine, theirs = make(user), make(other_user)
    response = client_logged_in.get(URL, {"id": [str(mine.pk), str(theirs.pk)]})
    assert response.status_code == 404
    assert b"PK" not in body(response)[:2]


@pytest.mark.parametrize("bad", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_malformed_or_unknown_id_is_404(client_logged_in, bad):
    assert client_logged_in.get(URL, {"id": bad}).status_code == 404


def test_a_draft_is_404(user, client_logged_in, real_model):
    draft = composite_draft_create(user=user, photo=upload(portrait_jpeg()))
    assert client_logged_in.get(URL, {"id": str(draft.pk)}).status_code == 404


def test_no_ids_is_a_400_with_a_message(client_logged_in):
    response = client_logged_in.get(URL)
    assert response.status_code == 400
    assert "Choose at least one composite" in response.content.decode()
    json = client_logged_in.get(URL, HTTP_ACCEPT="application/json")
    assert json.status_code == 400 and json.json()["code"] == "invalid_option"


def test_too_many_ids_is_a_400(client_logged_in):
    ids = [f"00000000-0000-0000-0000-{n:012d}" for n in range(ZIP_MAX_COMPOSITES + 1)]
    response = client_logged_in.get(URL, {"id": ids}, HTTP_ACCEPT="application/json")
    assert response.status_code == 400


def test_a_running_video_is_a_400(user, client_logged_in):
    video = Composite.objects.create(
        owner=user, kind=Composite.Kind.VIDEO, status=Composite.Status.RUNNING, mode="blur"
    )
    response = client_logged_in.get(URL, {"id": str(video.pk)}, HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert "finished" in response.json()["detail"]


def test_signed_out_is_sent_to_sign_in(client):
    response = client.get(URL, {"id": "x"})
    assert response.status_code == 302 and "login" in response["Location"]
