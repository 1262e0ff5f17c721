"""Fixtures for the training / model-selection tests.

- ``model_dir``: a fresh model directory per test holding the default network's converted
  weights (copied from the engine tests' ``selfie_model_dir`` fixture), with the engine
  configured to use it and 2 torch threads; loaded segmenters are forgotten afterwards.
- ``pairs_dir``: real photos from scikit-image (astronaut, coffee, chelsea, camera) with
  person masks made by the default network (``segment()``), as flat NAME.jpg + NAME.png.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

PHOTOS = ("astronaut", "coffee", "chelsea", "camera")


@pytest.fixture
def model_dir(selfie_model_dir, tmp_path, settings) -> Iterator[Path]:
    """A per-test model directory with the default weights (the selfie networks and the
    person/face detectors every photo composite consults); the engine points at it."""
    import torch

    from compositing.segmentation import clear_segmenters, configure, get_config
    from compositing.segmentation.weights.catalog import MEDIAPIPE_WEIGHTS, weights_path

    directory = tmp_path / "models"
    directory.mkdir()
    for spec in MEDIAPIPE_WEIGHTS:
        shutil.copy2(weights_path(spec, selfie_model_dir), directory)
    settings.VBG_MODEL_DIR = directory
    previous = get_config()
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    configure(model_dir=directory, threads=2)
    try:
        yield directory
    finally:
        configure(model_dir=previous.model_dir, threads=previous.threads)
        clear_segmenters()
        torch.set_num_threads(threads)


def skimage_photo(name: str, *, max_side: int | None = None) -> np.ndarray:
    """uint8 HxWx3 RGB photo from scikit-image's bundled data (grey ones as RGB)."""
    from skimage import data

    photo = getattr(data, name)()
    if photo.ndim == 2:
        photo = np.repeat(photo[..., None], 3, axis=2)
    photo = np.ascontiguousarray(photo[..., :3])
    if max_side and max(photo.shape[:2]) > max_side:
        scale = max_side / max(photo.shape[:2])
        size = (round(photo.shape[1] * scale), round(photo.shape[0] * scale))
        photo = np.asarray(Image.fromarray(photo).resize(size, Image.BILINEAR))
    return photo


def write_pairs(directory: Path, names=PHOTOS, *, max_side: int | None = 256) -> Path:
    """Write NAME.jpg + NAME.png (mask from the default network) for each photo name."""
    from compositing.segmentation import segment

    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        photo = skimage_photo(name, max_side=max_side)
        alpha = segment(photo, model="selfie")
        Image.fromarray(photo).save(directory / f"{name}.jpg", quality=95)
        Image.fromarray((alpha * 255 + 0.5).astype(np.uint8)).save(directory / f"{name}.png")
    return directory


@pytest.fixture
def pairs_dir(model_dir, tmp_path) -> Path:
    return write_pairs(tmp_path / "pairs")
