"""What a person has used, against their limits and quota (``GET /api/v1/account/``).

- composites: made in the last hour and day (history rows, drafts excluded) and the
  ``composite`` rate window the studio and the API share (``vbgsite.rate_limits``);
- videos: minutes of video composited in the last day and in total, the per-video limit;
- storage: bytes of every object under the person's ``users/<id>/`` folder (one listing);
- library: backgrounds of their own against ``VBG_BACKGROUND_QUOTA``; API tokens.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files.storage import default_storage
from django.db.models import Count, Q, Sum
from django.utils import timezone

from accounts.errors import StorageUnavailable
from accounts.models import ApiToken
from accounts.services import MAX_TOKENS_PER_USER
from backgrounds.models import Background
from compositing.models import Composite
from vbgsite.rate_limits import RateState, rate_of, rate_peek
from vbgsite.storage_listing import storage_objects


def account_usage(*, user: AbstractBaseUser) -> dict[str, Any]:
    """The person's usage as plain data (see the module docstring for the parts).

    Raises StorageUnavailable (503) when the storage cannot be listed.
    """
    now = timezone.now()
    history = Composite.objects.for_user(user).exclude(status="draft")
    counts = history.aggregate(
        last_hour=Count("pk", filter=Q(created__gte=now - timedelta(hours=1))),
        last_day=Count("pk", filter=Q(created__gte=now - timedelta(days=1))),
        total=Count("pk"),
        video_seconds_day=Sum(
            "duration", filter=Q(kind="video", status="done", created__gte=now - timedelta(days=1))
        ),
        video_seconds_total=Sum("duration", filter=Q(kind="video", status="done")),
    )
    library = Background.objects.filter(owner=user).count()
    return {
        "username": user.get_username(),
        "composites": {
            "last_hour": counts["last_hour"],
            "last_day": counts["last_day"],
            "total": counts["total"],
        },
        "rate_limits": {
            scope: _window(scope, rate_peek(scope, user.pk)) for scope in ("composite", "user")
        },
        "videos": {
            "minutes_last_day": _minutes(counts["video_seconds_day"]),
            "minutes_total": _minutes(counts["video_seconds_total"]),
            "max_minutes_per_video": _minutes(settings.VBG_MAX_VIDEO_SECONDS),
            "max_megabytes_per_video": round(settings.VBG_MAX_VIDEO_BYTES / 2**20),
        },
        "storage": {"bytes": _storage_bytes(user)},
        "library": {
            "count": library,
            "quota": settings.VBG_BACKGROUND_QUOTA,
            "remaining": max(0, settings.VBG_BACKGROUND_QUOTA - library),
        },
        "tokens": {
            "count": ApiToken.objects.filter(owner=user).count(),
            "limit": MAX_TOKENS_PER_USER,
        },
    }


def _window(scope: str, state: RateState | None) -> dict[str, Any] | None:
    rate = rate_of(scope)
    if rate is None:
        return None  # unlimited
    limit, seconds = rate
    used = 0 if state is None else state.limit - state.remaining
    return {
        "limit": limit,
        "window_seconds": seconds,
        "used": used,
        "remaining": limit - used,
        "reset": None if state is None else round(state.reset_at),
    }


def _minutes(seconds: float | None) -> float:
    return round((seconds or 0.0) / 60, 2)


def _storage_bytes(user: AbstractBaseUser) -> int:
    try:
        return sum(item.size for item in storage_objects(default_storage, f"users/{user.pk}/"))
    except Exception as error:  # botocore and OSError alike
        raise StorageUnavailable(
            "File storage cannot be reached right now; please try again in a few minutes."
        ) from error
