"""Listing every file in the current default storage, for orphan checks in tests."""

from __future__ import annotations

import os

from django.core.files.storage import default_storage


def list_storage_files() -> list[str]:
    """Every file name in ``default_storage``, sorted.

    Local storage: a walk of its folder. S3: every key of its bucket (``list_objects_v2``
    through django-storages' boto3 resource, so it goes over HTTP to the test server).
    """
    try:
        root = default_storage.path("")
    except NotImplementedError:
        bucket = default_storage.bucket
        return sorted(obj.key for obj in bucket.objects.all())
    names: list[str] = []
    for folder, _dirs, files in os.walk(root):
        for file_name in files:
            path = os.path.join(folder, file_name)
            names.append(os.path.relpath(path, root).replace(os.sep, "/"))
    return sorted(names)
