"""Hole 8 (issue 13): a 6-second S3 outage during 92 uploads left a background object with
no row. ``manage.py sweep_storage`` finds objects without rows and rows without objects,
locally and on S3 (moto server over HTTP): a dry run by default, ``--delete`` to remove
them; objects younger than the grace period (an upload between its files and its row) are
never touched; the task worker runs it daily."""

from __future__ import annotations

import io
import os
import time

import pytest
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command

from backgrounds.models import Background
from compositing.models import Composite
from tests.accounts.factories import make_background, make_composite

pytestmark = pytest.mark.django_db


def sweep(*args: str) -> str:
    out = io.StringIO()
    call_command("sweep_storage", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def mess(user):
    """Good rows, orphan objects (as an outage leaves them) and rows missing a file."""
    keep_background = make_background(user)
    keep_composite = make_composite(user)
    orphan = default_storage.save(
        f"users/{user.pk}/backgrounds/left-by-outage.jpg", ContentFile(b"o" * 500)
    )
    builtin_orphan = default_storage.save("builtin/backgrounds/old.jpg", ContentFile(b"b" * 70))
    no_result = make_composite(user)
    default_storage.delete(no_result.result.name)
    no_image = make_background(user, name="Gone")
    default_storage.delete(no_image.image.name)
    return {
        "keep": (keep_background, keep_composite),
        "orphans": sorted([orphan, builtin_orphan]),
        "no_result": no_result,
        "no_image": no_image,
    }


def age(tmp_media, names, seconds: float) -> None:
    past = time.time() - seconds
    for name in names:
        os.utime(tmp_media / name, (past, past))


def test_dry_run_reports_and_changes_nothing(mess, tmp_media, list_storage_files):
    age(tmp_media, mess["orphans"], 2 * 3600)
    before = list_storage_files()

    output = sweep()

    for name in mess["orphans"]:
        assert f"Would delete object without a row: {name}" in output
    assert f"composite with missing files: {mess['no_result'].pk}" in output
    assert f"background with missing files: {mess['no_image'].pk}" in output
    assert "2 objects without rows (570 bytes)" in output
    assert "Dry run: nothing changed" in output
    assert list_storage_files() == before
    assert Composite.objects.count() == 2 and Background.objects.count() == 2


def test_delete_removes_orphans_and_broken_rows(mess, tmp_media, list_storage_files):
    age(tmp_media, mess["orphans"], 2 * 3600)
    keep_background, keep_composite = mess["keep"]
    keep_files = set(keep_background.file_names()) | set(keep_composite.file_names())

    sweep("--delete")

    assert set(list_storage_files()) == keep_files
    assert list(Composite.objects.values_list("pk", flat=True)) == [keep_composite.pk]
    assert list(Background.objects.values_list("pk", flat=True)) == [keep_background.pk]
    assert "0 objects without rows" in sweep()  # nothing left to find


def test_recent_objects_are_never_orphans(mess, list_storage_files):
    # Just stored: an upload may be between storing its files and inserting its row.
    sweep("--delete")

    assert set(mess["orphans"]) <= set(list_storage_files())


@pytest.mark.s3
def test_sweep_on_s3(s3_storage, user):
    keep = make_composite(user)
    orphan = default_storage.save(f"users/{user.pk}/backgrounds/x.jpg", ContentFile(b"x" * 9))
    broken = make_background(user)
    default_storage.delete(broken.image.name)

    assert "0 objects without rows" in sweep("--delete")  # all younger than an hour
    dry = sweep("--min-age-minutes", "0")
    assert f"Would delete object without a row: {orphan}" in dry
    assert orphan in set(s3_storage.keys())

    sweep("--delete", "--min-age-minutes", "0")

    assert s3_storage.keys() == sorted(keep.file_names())
    assert not Background.objects.filter(pk=broken.pk).exists()
    assert Composite.objects.filter(pk=keep.pk).exists()


def test_the_worker_sweeps_once_per_interval(mess, tmp_media, settings, list_storage_files):
    from compositing.management.commands import run_worker

    settings.VBG_SWEEP_INTERVAL_SECONDS = 86400
    age(tmp_media, mess["orphans"], 2 * 3600)
    cache.delete(run_worker.SWEEP_CACHE_KEY)

    run_worker._sweep_if_due()
    assert not set(mess["orphans"]) & set(list_storage_files())

    late = default_storage.save("builtin/backgrounds/late.jpg", ContentFile(b"l"))
    age(tmp_media, [late], 2 * 3600)
    run_worker._sweep_if_due()  # another worker, the same day: not again
    assert late in list_storage_files()
    cache.delete(run_worker.SWEEP_CACHE_KEY)
