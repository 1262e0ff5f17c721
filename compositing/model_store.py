"""Trained segmentation weights in the bucket (Django's storage API), beside the local copy.

The model directory (``settings.VBG_MODEL_DIR``) holds ``ARCH/NAME.pt``; when S3 storage is
configured (``settings.AWS_STORAGE_BUCKET_NAME``) the same file is kept in the bucket as
``models/ARCH/NAME.pt`` (private, like every object there), so another machine's
``fetch_model --pull ARCH:NAME`` can get it. Used by ``train_segmenter`` and ``fetch_model``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage

from compositing.segmentation.trained_weights import load_weights_file, weights_relpath

BUCKET_PREFIX = "models"


class ModelStoreError(Exception):
    """The bucket is not configured, or the model is not in it."""


def model_store_enabled() -> bool:
    """True when S3 storage is configured (trained weights also go to the bucket)."""
    return bool(getattr(settings, "AWS_STORAGE_BUCKET_NAME", ""))


def model_storage_name(*, arch: str, name: str) -> str:
    """Storage name of ``ARCH:NAME`` in the bucket: ``models/ARCH/NAME.pt``."""
    return f"{BUCKET_PREFIX}/{weights_relpath(arch, name)}"


def model_upload(*, path: Path, arch: str, name: str) -> str:
    """Put the weights file ``path`` in the bucket as ``models/ARCH/NAME.pt`` (replacing an
    older one); returns the storage name."""
    storage_name = model_storage_name(arch=arch, name=name)
    load_weights_file(path, arch=arch)  # never upload something that would not load
    if default_storage.exists(storage_name):
        default_storage.delete(storage_name)
    with open(path, "rb") as handle:
        saved = default_storage.save(storage_name, File(handle, name=Path(path).name))
    if saved != storage_name:  # a concurrent upload took the name; keep one copy only
        default_storage.delete(saved)
        raise ModelStoreError(f"could not store {storage_name} (another upload in progress?)")
    return storage_name


def model_download(*, arch: str, name: str, model_dir: Path) -> Path:
    """Copy ``models/ARCH/NAME.pt`` from the bucket into ``model_dir`` (checked, atomic);
    returns the local path. Raises :class:`ModelStoreError` when it is not there."""
    storage_name = model_storage_name(arch=arch, name=name)
    if not model_store_enabled():
        raise ModelStoreError("no bucket configured (AWS_STORAGE_BUCKET_NAME is empty)")
    if not default_storage.exists(storage_name):
        raise ModelStoreError(f"{storage_name} is not in the bucket")
    target = Path(model_dir) / weights_relpath(arch, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as out, default_storage.open(storage_name, "rb") as source:
            for chunk in iter(lambda: source.read(1 << 20), b""):
                out.write(chunk)
        load_weights_file(tmp, arch=arch)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
