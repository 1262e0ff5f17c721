"""The delete page says what deleting really does when re-composites share the photo
(issue 14, defect 2): each re-composite stores its own copy of the source and mask."""

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from compositing.models import Composite
from compositing.services import composite_delete, composite_recomposite
from tests.accounts.factories import make_composite

pytestmark = pytest.mark.django_db


def test_the_page_says_re_composites_keep_their_copy(client_logged_in, user):
    original = make_composite(user)
    composite_recomposite(user=user, composite_id=original.pk, mode="color", color="#112233")
    composite_recomposite(user=user, composite_id=original.pk, mode="blur")
    page = client_logged_in.get(reverse("compositing:delete", args=[original.pk]))
    text = page.content.decode()
    assert "2 re-composites made from it keep their own copy of the photo and mask" in text
    assert "they stay in your history" in text


def test_what_the_page_says_is_what_happens(client_logged_in, user):
    original = make_composite(user)
    child = composite_recomposite(user=user, composite_id=original.pk, mode="blur")
    composite_delete(user=user, composite_id=original.pk)
    child = Composite.objects.get(pk=child.pk)
    assert child.parent is None
    for name in (child.source.name, child.mask.name, child.result.name):
        assert default_storage.exists(name)
    page = client_logged_in.get(reverse("compositing:detail", args=[child.pk]))
    assert page.status_code == 200
    again = composite_recomposite(user=user, composite_id=child.pk, mode="color", color="#445566")
    assert again.status == Composite.Status.DONE


def test_no_re_composites_no_mention(client_logged_in, user):
    original = make_composite(user)
    page = client_logged_in.get(reverse("compositing:delete", args=[original.pk]))
    assert b"data-recomposites" not in page.content
    assert b"removed from storage for good" in page.content


def test_a_re_composite_says_its_original_is_untouched(client_logged_in, user):
    original = make_composite(user)
    child = composite_recomposite(user=user, composite_id=original.pk, mode="blur")
    page = client_logged_in.get(reverse("compositing:delete", args=[child.pk]))
    assert b"the composite it was made from keeps its own photo and mask" in page.content


def test_another_persons_delete_page_is_a_404(client_logged_in, other_user):
    theirs = make_composite(other_user)
    assert client_logged_in.get(reverse("compositing:delete", args=[theirs.pk])).status_code == 404
