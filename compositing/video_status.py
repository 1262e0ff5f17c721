"""A video job as the website's pages and scripts see it: progress plus the page's URLs."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from compositing.models import Composite
from compositing.services.video_requests import video_progress


def video_urls(composite: Composite) -> dict[str, str | None]:
    """The job's pages; ``video_url``/``download_url`` only once the result exists."""
    done = composite.status == Composite.Status.DONE and bool(composite.result)
    return {
        "detail_url": reverse("compositing:detail", args=[composite.pk]),
        "status_url": reverse("compositing:status", args=[composite.pk]),
        "cancel_url": reverse("compositing:cancel", args=[composite.pk]),
        "video_url": reverse("compositing:video_file", args=[composite.pk]) if done else None,
        "download_url": reverse("compositing:download", args=[composite.pk]) if done else None,
    }


def video_job_json(composite: Composite) -> dict[str, Any]:
    """``video_progress`` (no queries) plus :func:`video_urls` and ``status_label``, the
    status as the page's details show it ("Queued", "Running"...), so the script can keep
    the details in step with the progress bar."""
    return {
        **video_progress(composite),
        "status_label": composite.get_status_display(),
        **video_urls(composite),
    }
