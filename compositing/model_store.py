"""Trained segmentation weights in the bucket (Django's storage API), beside the local copy.

Names and paths come from ``compositing.segmentation.weights.catalog`` (the one description
of every kind of weights). The model directory (``settings.VBG_MODEL_DIR``) holds
``ARCH/NAME.pt``; when S3 storage is configured (``settings.AWS_STORAGE_BUCKET_NAME``) the
same file is kept in the bucket as ``models/ARCH/NAME.pt`` (private, like every object
there), so another machine's ``fetch_model --pull ARCH:NAME`` can get it. Used by
``train_segmenter`` and ``fetch_model`` (``--torchvision``, ``--import``, ``--pull``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage

from compositing.segmentation.weights.catalog import bucket_name, parse_model_name, weights_file
from compositing.segmentation.weights.checkpoint_import import import_checkpoint
from compositing.segmentation.weights.files import load_weights_file
from compositing.segmentation.weights.torchvision_published import fetch_published


class ModelStoreError(Exception):
    """The bucket is not configured, or the model is not in it."""


def model_store_enabled() -> bool:
    """True when S3 storage is configured (trained weights also go to the bucket)."""
    return bool(getattr(settings, "AWS_STORAGE_BUCKET_NAME", ""))


def model_upload(*, path: Path, arch: str, name: str) -> str:
    """Put the weights file ``path`` in the bucket as ``models/ARCH/NAME.pt`` (replacing an
    older one); returns the storage name."""
    storage_name = bucket_name(arch, name)
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
    storage_name = bucket_name(arch, name)
    if not model_store_enabled():
        raise ModelStoreError("no bucket configured (AWS_STORAGE_BUCKET_NAME is empty)")
    if not default_storage.exists(storage_name):
        raise ModelStoreError(f"{storage_name} is not in the bucket")
    target = weights_file(model_dir, arch, name)
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


def model_fetch_torchvision(
    *, arch: str, model_dir: Path, progress: bool = True, force: bool = False, log=None
) -> Path:
    """torchvision's published COCO/VOC weights for ``arch`` into the model directory
    (``WeightsError`` with a one-line reason when the download server is unreachable)."""
    return fetch_published(
        arch, model_dir=model_dir, progress=progress, force=force, log=log or (lambda m: None)
    )


def model_import(
    *, path: Path, arch: str, name: str, model_dir: Path, upload: bool = True
) -> tuple[Path, str | None]:
    """Import a weights file the user has (torchvision format or ours) as ``ARCH:NAME``;
    also into the bucket when one is configured. Returns (local path, storage name)."""
    local = import_checkpoint(path, model_dir=model_dir, arch=arch, name=name)
    stored = None
    if upload and model_store_enabled():
        stored = model_upload(path=local, arch=arch, name=name)
    return local, stored


def model_pull(*, model: str, model_dir: Path) -> Path:
    """Fetch ``ARCH:NAME`` (e.g. a model trained on another machine) from the bucket."""
    arch, name = parse_model_name(model)
    return model_download(arch=arch, name=name, model_dir=model_dir)
