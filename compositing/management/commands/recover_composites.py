"""``manage.py recover_composites``: re-queue or fail video jobs whose worker died.

``run_worker`` does this at start and periodically; this command is for a cron job or
a one-off after an incident. ``--stale-seconds`` overrides ``VBG_VIDEO_STALE_SECONDS``.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from compositing.services.video_recovery import composites_recover_stale


class Command(BaseCommand):
    help = "Re-queue (or fail) video composites whose worker stopped; print what was done."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--stale-seconds",
            type=float,
            default=None,
            help="Heartbeat age (seconds) after which a running job counts as dead.",
        )

    def handle(self, *args: Any, stale_seconds: float | None, **options: Any) -> None:
        report = composites_recover_stale(stale_seconds=stale_seconds)
        self.stdout.write(
            json.dumps(
                {
                    "requeued": report.requeued,
                    "failed": report.failed,
                    "reenqueued": report.reenqueued,
                }
            )
        )
