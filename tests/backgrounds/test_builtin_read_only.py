"""Changing a built-in background is refused the same way on the website and in the API:
a 404 ``not_found`` (built-ins are nobody's to change), never a 403."""

from __future__ import annotations

import pytest
from django.urls import reverse

from backgrounds.models import Background
from tests.api.conftest import client_for
from tests.backgrounds.factories import make_builtin

pytestmark = pytest.mark.django_db


def test_renaming_or_deleting_a_builtin_is_a_404_on_the_website_and_in_the_api(
    client_logged_in, user
):
    builtin = make_builtin()
    api = client_for(user)
    api_url = f"/api/v1/backgrounds/{builtin.pk}/"

    website = [
        client_logged_in.post(reverse("backgrounds:rename", args=[builtin.pk]), {"name": "M"}),
        client_logged_in.post(reverse("backgrounds:delete", args=[builtin.pk])),
    ]
    through_api = [api.patch(api_url, {"name": "M"}, format="json"), api.delete(api_url)]

    assert [response.status_code for response in website + through_api] == [404] * 4
    assert {response.json()["code"] for response in through_api} == {"not_found"}
    assert Background.objects.filter(pk=builtin.pk, name=builtin.name).exists()
