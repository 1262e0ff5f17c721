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


# ------------------------------------------------ CI's second pass (--database-tests-only)


def test_a_test_with_a_database_fixture_reaches_the_database(request, db):
    from tests.conftest import reaches_database

    assert reaches_database(request.node)


def test_a_test_using_the_database_through_another_fixture_reaches_it(request, user):
    from tests.conftest import reaches_database

    assert reaches_database(request.node)  # user -> make_user -> db


@pytest.mark.django_db
def test_a_test_marked_django_db_reaches_the_database(request):
    from tests.conftest import reaches_database

    assert reaches_database(request.node)


def test_a_test_without_the_database_does_not_reach_it(request, tmp_media):
    from tests.conftest import reaches_database

    assert not reaches_database(request.node)


def test_database_tests_only_deselects_the_others():
    import subprocess
    import sys

    def collected(*options: str) -> list[str]:
        command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
        run = subprocess.run(
            [*command, *options, __file__],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        return [line.split("::")[1] for line in run.stdout.splitlines() if "::" in line]

    everything = collected()
    database_only = collected("--database-tests-only")
    assert set(database_only) < set(everything)
    assert "test_a_test_marked_django_db_reaches_the_database" in database_only
    assert "test_s3_storage_reaches_filefields_over_http" in database_only
    assert "test_tmp_media_is_the_default_storage" not in database_only
    assert "test_database_tests_only_deselects_the_others" not in database_only
