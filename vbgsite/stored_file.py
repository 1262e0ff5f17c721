"""A stored file a service has cleared for serving: where it is and how to hand it over.

Services (composites, backgrounds) return it after their owner check; the shared response
helper (``vbgsite.responses.stored_file_response``) serves it the same way for every view.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO

from django.core.files.storage import Storage


@dataclass(frozen=True)
class StoredFile:
    """One file to serve: storage, storage name, content type, friendly download name."""

    storage: Storage
    name: str  # storage name (random, never shown as a download name)
    content_type: str
    filename: str  # a friendly download name, e.g. "portrait-composite.jpg"

    def open(self) -> IO[bytes]:
        return self.storage.open(self.name, "rb")
