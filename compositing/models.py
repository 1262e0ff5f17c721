"""Composites: each person's private history of results (photos and videos)."""

import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.db import models


def _composite_file_path(folder: str):
    def upload_to(instance: "Composite", filename: str) -> str:
        # Random and namespaced per user and per composite; never the uploaded file name.
        suffix = PurePosixPath(filename).suffix.lower() or ".bin"
        token = uuid.uuid4().hex[:12]
        return f"users/{instance.owner_id}/composites/{instance.id.hex}/{folder}-{token}{suffix}"

    upload_to.__name__ = f"composite_{folder}_path"
    upload_to.__qualname__ = upload_to.__name__
    return upload_to


composite_source_path = _composite_file_path("source")
composite_mask_path = _composite_file_path("mask")
composite_result_path = _composite_file_path("result")
composite_thumbnail_path = _composite_file_path("thumb")
# Migrations refer to upload_to functions by their __name__ ("composite_thumb_path").
composite_thumb_path = composite_thumbnail_path
composite_background_path = _composite_file_path("background")


class CompositeQuerySet(models.QuerySet):
    def for_user(self, user) -> "CompositeQuerySet":
        """The only way any view, API view or task looks up composites for a person."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(owner=user)

    def history(self) -> "CompositeQuerySet":
        """What history pages and lists show: everything but studio drafts."""
        return self.exclude(status=Composite.Status.DRAFT)


class Composite(models.Model):
    class Kind(models.TextChoices):
        IMAGE = "image", "Photo"
        VIDEO = "video", "Video"

    class Mode(models.TextChoices):
        IMAGE = "image", "Background image"
        COLOR = "color", "Solid colour"
        BLUR = "blur", "Blur"
        TRANSPARENT = "transparent", "Transparent"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        # A studio upload being edited: source + mask stored, no result, not in history.
        DRAFT = "draft", "Draft"

    class Format(models.TextChoices):
        JPG = "jpg", "JPEG"
        PNG = "png", "PNG"
        WEBP = "webp", "WebP"
        MP4 = "mp4", "MP4 (H.264)"
        WEBM = "webm", "WebM (VP9 with transparency)"
        MOV = "mov", "MOV (ProRes 4444 with transparency)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="composites"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.IMAGE)
    # The uploaded file's name, shown only to its owner; never used as a storage name.
    source_name = models.CharField(max_length=255, blank=True)
    source = models.FileField(upload_to=composite_source_path, max_length=255)
    # Cached alpha (8-bit PNG, full resolution) so a re-composite skips the model.
    mask = models.FileField(upload_to=composite_mask_path, max_length=255, blank=True)
    result = models.FileField(upload_to=composite_result_path, max_length=255, blank=True)
    thumbnail = models.FileField(upload_to=composite_thumbnail_path, max_length=255, blank=True)

    mode = models.CharField(max_length=12, choices=Mode.choices, default=Mode.IMAGE)
    background = models.ForeignKey(
        "backgrounds.Background",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="composites",
    )
    # A one-off background image (used once, not in the library).
    background_image = models.FileField(
        upload_to=composite_background_path, max_length=255, blank=True
    )
    color = models.CharField(max_length=7, blank=True)  # "#RRGGBB" for Mode.COLOR
    # The composite whose stored source and mask a re-composite reused (no model call).
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="recomposites"
    )
    output_format = models.CharField(max_length=4, choices=Format.choices, default=Format.JPG)
    # The placement options it was rendered with, canonical, keyed by the API's names
    # (compositing.services.placement); {} for composites made before placement existed.
    placement = models.JSONField(default=dict, blank=True)

    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    progress = models.FloatField(default=0.0)  # percent, 0..100
    frames_done = models.PositiveIntegerField(default=0)
    frames_total = models.PositiveIntegerField(default=0)
    eta_seconds = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)

    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True)  # seconds, videos only
    person_found = models.BooleanField(default=True)
    model_name = models.CharField(max_length=100, blank=True)
    timings = models.JSONField(default=dict, blank=True)  # {"segment_ms": ..., ...}

    # Video jobs: called (signed with callback_secret) when the job is done, failed or
    # cancelled; every attempt is a WebhookDelivery (compositing.services.webhooks).
    callback_url = models.URLField(max_length=2000, blank=True)
    callback_secret = models.CharField(max_length=64, blank=True)

    created = models.DateTimeField(auto_now_add=True, db_index=True)
    updated = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = CompositeQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["owner", "-created"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.DONE, self.Status.FAILED, self.Status.CANCELLED}

    def file_names(self) -> list[str]:
        """Storage names of every file this row owns (for deletion and orphan checks)."""
        files = (self.source, self.mask, self.result, self.thumbnail, self.background_image)
        return [f.name for f in files if f]


class WebhookDelivery(models.Model):
    """One attempt to call a composite's ``callback_url`` (shown in the job's detail)."""

    composite = models.ForeignKey(
        Composite, on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    event = models.CharField(max_length=32)  # "composite.done", ".failed", ".cancelled"
    attempt = models.PositiveSmallIntegerField()
    url = models.URLField(max_length=2000)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.FloatField(default=0.0)
    delivered = models.BooleanField(default=False)  # a 2xx answer
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["composite", "attempt"]

    def __str__(self) -> str:
        return f"{self.event} #{self.attempt} -> {self.status_code or self.error}"
