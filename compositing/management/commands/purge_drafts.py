"""``manage.py purge_drafts``: delete studio drafts nobody saved (files, then rows).

Each new draft already removes its owner's old ones; run this daily (e.g. Heroku
Scheduler) so drafts of people who never come back go too.
"""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand

from compositing.services.drafts import DRAFT_MAX_AGE, composite_drafts_purge


class Command(BaseCommand):
    help = "Delete studio drafts older than --hours (default 24) with their files."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--hours",
            type=float,
            default=DRAFT_MAX_AGE.total_seconds() / 3600,
            help="Age in hours from which an unsaved draft is deleted.",
        )

    def handle(self, *args: Any, hours: float, **options: Any) -> None:
        deleted = composite_drafts_purge(older_than=timedelta(hours=hours))
        self.stdout.write(f"deleted {deleted} draft(s)")
