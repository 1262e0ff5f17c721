"""``manage.py sweep_storage``: objects without rows and rows without objects.

A dry run by default: it lists what it found and changes nothing. ``--delete`` removes
the orphan objects and the rows whose files are gone (with their other files). Objects
newer than ``--min-age-minutes`` (60) are never orphans: an upload may be between storing
its files and inserting its row. Works on the local file system and on S3 alike; the task
worker runs it with ``--delete`` once a day (``VBG_SWEEP_INTERVAL_SECONDS``).
"""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand

from compositing.services.storage_sweep import storage_sweep


class Command(BaseCommand):
    help = "Find (and with --delete, remove) stored objects without rows and rows without files."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--delete", action="store_true", help="Delete what was found (default: dry run)."
        )
        parser.add_argument(
            "--min-age-minutes",
            type=float,
            default=60.0,
            help="Objects modified more recently are left alone (default 60).",
        )

    def handle(self, *args: Any, delete: bool, min_age_minutes: float, **options: Any) -> None:
        report = storage_sweep(delete=delete, min_age=timedelta(minutes=max(0, min_age_minutes)))
        verb = "Deleted" if delete else "Would delete"
        for name in report.orphan_objects:
            self.stdout.write(f"{verb} object without a row: {name}")
        for pk in report.broken_composites:
            self.stdout.write(f"{verb} composite with missing files: {pk}")
        for pk in report.broken_backgrounds:
            self.stdout.write(f"{verb} background with missing files: {pk}")
        summary = (
            f"{len(report.orphan_objects)} objects without rows ({report.orphan_bytes} bytes),"
            f" {len(report.broken_composites)} composites and"
            f" {len(report.broken_backgrounds)} backgrounds without their files."
        )
        if not delete and not report.clean:
            summary += " Dry run: nothing changed; run with --delete to remove them."
        self.stdout.write(summary)
