"""Backgrounds: built-in defaults (owner is NULL, read-only) and each person's own library."""

import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.db import models
from django.db.models import Q


def _random_name(owner_id: int | None, folder: str, filename: str) -> str:
    """A random storage name namespaced per user; the uploaded file name is never used."""
    suffix = PurePosixPath(filename).suffix.lower() or ".bin"
    owner = f"users/{owner_id}" if owner_id else "builtin"
    return f"{owner}/{folder}/{uuid.uuid4().hex}{suffix}"


def background_image_path(instance: "Background", filename: str) -> str:
    return _random_name(instance.owner_id, "backgrounds", filename)


def background_thumbnail_path(instance: "Background", filename: str) -> str:
    return _random_name(instance.owner_id, "backgrounds/thumbs", filename)


class BackgroundQuerySet(models.QuerySet):
    def for_user(self, user) -> "BackgroundQuerySet":
        """What this user may see and use: the built-ins and their own uploads."""
        if not user.is_authenticated:
            return self.filter(owner__isnull=True)
        return self.filter(Q(owner__isnull=True) | Q(owner=user))

    def owned_by(self, user) -> "BackgroundQuerySet":
        """What this user may change (rename, delete): only their own uploads."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(owner=user)

    def builtin(self) -> "BackgroundQuerySet":
        return self.filter(owner__isnull=True)


class Background(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="backgrounds",
    )
    name = models.CharField(max_length=100)
    # Stable key of a built-in background, so seeding is idempotent; blank for uploads.
    slug = models.SlugField(max_length=60, blank=True)
    image = models.FileField(upload_to=background_image_path, max_length=255)
    thumbnail = models.FileField(upload_to=background_thumbnail_path, max_length=255)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.PositiveBigIntegerField()
    created = models.DateTimeField(auto_now_add=True)

    objects = BackgroundQuerySet.as_manager()

    class Meta:
        ordering = ["owner_id", "-created"]
        constraints = [
            models.UniqueConstraint(
                fields=["slug"],
                condition=Q(owner__isnull=True),
                name="unique_builtin_background_slug",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_builtin(self) -> bool:
        return self.owner_id is None

    def file_names(self) -> list[str]:
        """Storage names of every file this row owns (for deletion and orphan checks)."""
        return [f.name for f in (self.image, self.thumbnail) if f]
