"""The shared fixtures do what they promise (storage switching is easy to get wrong)."""

import pytest
import requests
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from backgrounds.models import Background


def test_tmp_media_is_the_default_storage(tmp_media, list_storage_files):
    name = default_storage.save("users/1/x.txt", ContentFile(b"hello"))
    assert (tmp_media / name).read_bytes() == b"hello"
    assert list_storage_files() == [name]


@pytest.mark.s3
def test_s3_storage_reaches_filefields_over_http(s3_storage, list_storage_files, db):
    field_storage = Background._meta.get_field("image").storage
    name = field_storage.save("users/1/backgrounds/x.jpg", ContentFile(b"jpeg bytes"))
    assert s3_storage.keys() == [name]
    assert list_storage_files() == [name]
    url = default_storage.url(name)
    assert url.startswith(s3_storage.endpoint_url) and "X-Amz-Signature" in url
    assert requests.get(url, timeout=10).content == b"jpeg bytes"
    # Unsigned: private object.
    assert requests.get(url.split("?")[0], timeout=10).status_code == 403


def test_storage_is_local_again_after_an_s3_test(tmp_media):
    assert default_storage.path("") == str(tmp_media)
