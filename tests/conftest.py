"""Fixtures shared by every test package.

- Every test gets its own media folder (``tmp_media``, local file storage) and plain
  static files storage (no manifest needed), so nothing touches the real ``media/``.
- People: ``make_user`` (factory), ``user``, ``other_user``, ``client_logged_in`` (a Django
  test client signed in as ``user``). Their password is ``PASSWORD``.
- S3: ``s3_server`` (moto in server mode on 127.0.0.1, once per session) and ``s3_storage``
  (switches ``default_storage`` and every FileField to django-storages' S3Storage against
  it, with a fresh bucket per test). Everything goes over real HTTP; boto3 is not patched.
- ``list_storage_files``: every file in the current default storage (local or S3), for
  "no orphan files" checks.
- ``--database-tests-only``: keep only the tests that reach the configured database (a
  ``django_db`` mark or a database fixture such as ``db``, ``transactional_db`` or
  ``live_server``). CI runs the whole suite on PostgreSQL, then this option on SQLite: a
  test that does not reach the database cannot depend on which one it is (pytest-django
  refuses database access to it), so running it twice proves nothing new.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.test import Client

from tests.segmentation.fixtures import segmenter_ready, selfie_model_dir  # noqa: F401
from tests.storage import list_storage_files as _list_storage_files

PASSWORD = "correct-Horse-battery-9"

# pytest-django's fixtures that open the test database; a test using any of them, directly
# or through another fixture, reaches the database.
DATABASE_FIXTURES = frozenset(
    {
        "db",
        "transactional_db",
        "django_db_reset_sequences",
        "django_db_serialized_rollback",
        "live_server",
    }
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database-tests-only",
        action="store_true",
        help="run only the tests that reach the database (CI's second pass, on SQLite)",
    )


def reaches_database(item: pytest.Item) -> bool:
    """Whether this test opens the test database (a ``django_db`` mark or fixture)."""
    if item.get_closest_marker("django_db") is not None:
        return True
    return not DATABASE_FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--database-tests-only"):
        return
    kept = [item for item in items if reaches_database(item)]
    left = [item for item in items if not reaches_database(item)]
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


_STATICFILES = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}


def _local_storages(location: Path) -> dict:
    return {
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(location), "base_url": None},
        },
        "staticfiles": _STATICFILES,
    }


@pytest.fixture(autouse=True)
def tmp_media(settings, tmp_path) -> Path:
    """A fresh, empty media folder for this test; the default storage writes there.

    Changing ``settings.STORAGES`` sends ``setting_changed``, whose receiver empties
    Django's storage cache and ``default_storage``; FileFields hold that lazy
    ``default_storage``, so they follow too.
    """
    media = tmp_path / "media"
    media.mkdir()
    settings.MEDIA_ROOT = media
    settings.STORAGES = _local_storages(media)
    assert default_storage.path("") == str(media)
    return media


@pytest.fixture
def list_storage_files() -> Callable[[], list[str]]:
    """``list_storage_files()`` -> every file name in the default storage, sorted."""
    return _list_storage_files


# ------------------------------------------------------------------------------ people


@pytest.fixture
def make_user(django_user_model, db) -> Callable:
    """``make_user(username=None, *, password=PASSWORD, email=None)`` -> a new user."""

    def make(username: str | None = None, *, password: str = PASSWORD, email: str | None = None):
        username = username or f"user-{uuid.uuid4().hex[:8]}"
        return django_user_model.objects.create_user(
            username=username, email=email or f"{username}@example.com", password=password
        )

    return make


@pytest.fixture
def user(make_user):
    return make_user("alice")


@pytest.fixture
def other_user(make_user):
    return make_user("mallory")


@pytest.fixture
def client_logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# ------------------------------------------------------------------------------ S3


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's S3 in server mode on 127.0.0.1 (a free port); yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@dataclass
class S3Bucket:
    endpoint_url: str
    bucket_name: str
    client: object  # a boto3 S3 client for the test server

    def keys(self) -> list[str]:
        """Every key in the bucket, sorted (listed over HTTP)."""
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket_name):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return sorted(keys)


@pytest.fixture
def s3_storage(s3_server, settings, monkeypatch) -> S3Bucket:
    """Switch the default storage (and so every FileField) to S3 on the moto server.

    A new bucket per test; the settings mirror production's (private objects, presigned
    URLs, no overwrites). Returns an ``S3Bucket`` with ``keys()`` and a boto3 ``client``.
    """
    import boto3

    # Fake credentials, and no AWS config files or proxies from the machine.
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }.items():
        monkeypatch.setenv(name, value)
    bucket_name = f"vbg-test-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_server,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=bucket_name)
    settings.STORAGES = {
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket_name,
                "endpoint_url": s3_server,
                "region_name": "us-east-1",
                "access_key": "testing",
                "secret_key": "testing",
                "default_acl": None,
                "querystring_auth": True,
                "querystring_expire": 300,
                "file_overwrite": False,
                "addressing_style": "path",
                "signature_version": "s3v4",
            },
        },
        "staticfiles": _STATICFILES,
    }
    from storages.backends.s3 import S3Storage

    # The lazy default_storage (bound to every FileField) was reset by setting_changed.
    assert isinstance(default_storage, S3Storage)
    return S3Bucket(endpoint_url=s3_server, bucket_name=bucket_name, client=client)
