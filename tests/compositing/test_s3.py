"""The studio on S3 (moto in server mode over HTTP, through django-storages): private
objects, presigned redirects with the right headers, nothing left behind."""

from __future__ import annotations

import pytest
import requests
from django.urls import reverse

from compositing.models import Composite
from compositing.services import composite_create
from tests.compositing.conftest import BAD_PHOTOS, make_background, portrait_jpeg, upload

pytestmark = [pytest.mark.django_db, pytest.mark.s3]


@pytest.fixture
def s3_composite(s3_storage, client_logged_in, user, real_model):
    background = make_background(None, name="Built-in on S3")
    response = client_logged_in.post(
        reverse("compositing:studio"),
        {"photo": upload(portrait_jpeg(), name="eileen.jpg"), "background": str(background.pk)},
    )
    assert response.status_code == 302
    return Composite.objects.get()


def test_files_are_stored_in_the_bucket_under_the_user(s3_storage, s3_composite, user):
    keys = s3_storage.keys()
    for name in s3_composite.file_names():
        assert name in keys
        assert name.startswith(f"users/{user.pk}/composites/")


def test_objects_are_private(s3_storage, s3_composite):
    name = s3_composite.result.name
    plain = requests.get(f"{s3_storage.endpoint_url}/{s3_storage.bucket_name}/{name}", timeout=10)
    assert plain.status_code == 403
    acl = s3_storage.client.get_object_acl(Bucket=s3_storage.bucket_name, Key=name)
    assert not [g for g in acl["Grants"] if g["Grantee"].get("URI", "").endswith("AllUsers")]


def test_file_views_redirect_to_presigned_urls(s3_storage, s3_composite, client_logged_in):
    response = client_logged_in.get(reverse("compositing:download", args=[s3_composite.pk]))
    assert response.status_code == 302
    url = response["Location"]
    assert url.startswith(s3_storage.endpoint_url) and "X-Amz-Signature" in url
    assert "Expires=300" in url or "X-Amz-Expires=300" in url
    fetched = requests.get(url, timeout=10)
    assert fetched.status_code == 200
    assert fetched.headers["Content-Type"] == "image/jpeg"
    assert fetched.headers["Content-Disposition"] == 'attachment; filename="eileen-composite.jpg"'
    assert fetched.content[:3] == b"\xff\xd8\xff"

    mask = client_logged_in.get(reverse("compositing:file", args=[s3_composite.pk, "mask"]))
    fetched = requests.get(mask["Location"], timeout=10)
    assert fetched.headers["Content-Type"] == "image/png"
    assert fetched.headers["Content-Disposition"].startswith("inline")


def test_another_user_gets_no_presigned_url(s3_storage, s3_composite, other_user):
    from django.test import Client

    client = Client()
    client.force_login(other_user)
    for which in ("source", "mask", "result", "thumbnail", "background"):
        url = reverse("compositing:file", args=[s3_composite.pk, which])
        assert client.get(url).status_code == 404


def test_recomposite_and_delete_on_s3(s3_storage, s3_composite, client_logged_in, user):
    client_logged_in.post(
        reverse("compositing:recomposite", args=[s3_composite.pk]),
        {"background": "color", "color": "#000000"},
    )
    created = Composite.objects.exclude(pk=s3_composite.pk).get()
    assert set(created.file_names()) <= set(s3_storage.keys())

    for composite in (s3_composite, created):
        client_logged_in.post(reverse("compositing:delete", args=[composite.pk]))
    assert not Composite.objects.exists()
    remaining = s3_storage.keys()
    assert [key for key in remaining if key.startswith(f"users/{user.pk}/")] == []


@pytest.mark.parametrize("case", ["truncated", "bomb"])
def test_bad_input_leaves_nothing_in_the_bucket(case, s3_storage, client_logged_in, user):
    data, name, status, _phrase = BAD_PHOTOS[case]()
    response = client_logged_in.post(
        reverse("compositing:studio"), {"photo": upload(data, name=name), "background": "blur"}
    )
    assert response.status_code == status
    assert s3_storage.keys() == []
    assert not Composite.objects.exists()


def test_the_tests_s3_options_are_productions(s3_storage, settings):
    """What the S3 tests rely on (private objects, presigned URLs, no overwrites) is what
    ``vbgsite.settings`` configures when ``AWS_STORAGE_BUCKET_NAME`` is set."""
    import json
    import os
    import subprocess
    import sys

    from django.conf import settings as test_settings

    keys = ("default_acl", "querystring_auth", "file_overwrite", "signature_version")
    script = (
        "import json, django\n"
        "from django.conf import settings\n"
        "django.setup()\n"
        "options = settings.STORAGES['default']['OPTIONS']\n"
        f"print(json.dumps({{k: options[k] for k in {keys!r}}}))\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "vbgsite.settings",
        "AWS_STORAGE_BUCKET_NAME": "vbg-production-like",
        "VBG_ALLOW_INSECURE_KEY": "1",
    }
    env.pop("DATABASE_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout
    production = json.loads(out.strip().splitlines()[-1])
    tested = test_settings.STORAGES["default"]["OPTIONS"]
    assert production == {key: tested[key] for key in keys}
    assert production["file_overwrite"] is False and production["querystring_auth"] is True


def test_a_composites_files_go_up_side_by_side_and_a_failed_one_leaves_nothing(
    s3_storage, user, real_model, monkeypatch
):
    import threading

    from storages.backends.s3 import S3Storage

    real_save = S3Storage._save
    threads, lock = [], threading.Lock()

    def save(self, name, content):
        with lock:
            threads.append(threading.current_thread().name)
            failing = len(threads) == 4
        if failing:
            raise OSError("S3 refused the last file")
        return real_save(self, name, content)

    monkeypatch.setattr(S3Storage, "_save", save)
    with pytest.raises(OSError, match="refused the last file"):
        composite_create(user=user, photo=upload(portrait_jpeg()), mode="blur")
    assert len(threads) == 4 and len(set(threads)) > 1  # not one after the other
    assert s3_storage.keys() == []  # the three stored are deleted again
    assert not Composite.objects.exists()
