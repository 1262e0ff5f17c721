"""API tokens: several named tokens per person (one per device or script).

Only a SHA-256 digest of each key is stored, so a database leak does not leak working
keys; the key itself is shown once, when it is created. Keys are 256-bit random strings,
so an unsalted fast hash is enough (there is nothing to brute-force).
"""

import hashlib

from django.conf import settings
from django.db import models


def token_digest(key: str) -> str:
    """Hex SHA-256 of a key, the value stored and looked up."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ApiToken(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    # The first characters of the key, shown in the list so people can tell tokens apart.
    prefix = models.CharField(max_length=12)
    key_digest = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)
    # Video-job webhooks (compositing.services.webhooks): the URL called when a job made
    # with this token ends and has no callback_url of its own, and the HMAC-SHA256 key
    # that signs every call. The key must be kept to sign (a digest would not do); like
    # the token it is shown once, when it is created or rotated.
    callback_url = models.URLField(max_length=2000, blank=True)
    webhook_secret = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["owner", "-created"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
