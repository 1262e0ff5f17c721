"""The video page's details follow the job (issue 14, defect 10: the bar showed 15 % while
the details still said "Queued"): the status JSON carries the label the details show."""

from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from compositing.models import Composite
from tests.compositing.test_error_pages import video

pytestmark = pytest.mark.django_db


def test_status_json_carries_the_label_of_the_current_status(client_logged_in, user):
    job = video(user, "queued")
    url = reverse("compositing:status", args=[job.pk])
    assert client_logged_in.get(url).json()["status_label"] == "Queued"
    Composite.objects.filter(pk=job.pk).update(status="running", progress=15.0)
    body = client_logged_in.get(url).json()
    assert (body["status"], body["status_label"], body["progress"]) == ("running", "Running", 15.0)


def test_the_page_script_updates_the_details(client_logged_in, user):
    job = video(user, "running")
    page = client_logged_in.get(reverse("compositing:detail", args=[job.pk]))
    assert b"data-status-text" in page.content
    script = Path(finders.find("compositing/video.js")).read_text()
    assert "data-status-text" in script and "status_label" in script  # Chromium: browser/


def test_another_persons_status_is_a_404(client_logged_in, other_user):
    theirs = video(other_user, "running")
    response = client_logged_in.get(reverse("compositing:status", args=[theirs.pk]))
    assert response.status_code == 404
