"""Every stored object under a prefix, with its size: local file system or S3.

One listing call per 1,000 keys on S3 (``list_objects_v2`` through django-storages' boto3
resource, so nothing here imports boto3), a directory walk locally. Used by the account
usage endpoint (storage bytes) and ``manage.py sweep_storage`` (objects without rows).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from django.core.files.storage import Storage


@dataclass(frozen=True)
class StoredObject:
    name: str  # the storage name ("users/3/composites/<id>/result-....jpg")
    size: int  # bytes
    modified: datetime  # UTC


def storage_objects(storage: Storage, prefix: str = "") -> Iterator[StoredObject]:
    """Every object whose name starts with ``prefix`` (a folder such as ``"users/3/"``, or
    ``""`` for everything), in no particular order. Raises the storage's own errors."""
    try:
        root = storage.path("")
    except NotImplementedError:
        bucket = storage.bucket  # django-storages' S3Storage
        for item in bucket.objects.filter(Prefix=prefix):
            yield StoredObject(item.key, int(item.size), item.last_modified.astimezone(UTC))
        return
    start = os.path.join(root, prefix) if prefix else root
    folder = start if os.path.isdir(start) else os.path.dirname(start)
    for current, _dirs, files in os.walk(folder):
        for file_name in files:
            path = os.path.join(current, file_name)
            name = os.path.relpath(path, root).replace(os.sep, "/")
            if not name.startswith(prefix):
                continue
            stat = os.stat(path)
            yield StoredObject(name, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))
