"""Segmentation engine fixtures, shared with every test package (imported by tests/conftest.py).

- ``selfie_model_dir`` (session): a model directory holding the converted selfie weights
  and the original ``.tflite`` files. ``settings.VBG_MODEL_DIR`` is reused when it already
  verifies (the README set-up runs ``manage.py fetch_model``); otherwise ``fetch_model``'s
  own code runs once into pytest's cache folder, which downloads the mediapipe wheel from
  PyPI: the only network access of the suite, the same step as the set-up.
- ``segmenter_ready``: the engine pointed at that directory (settings and package
  configuration, 2 torch threads), returning the default ``selfie`` segmenter, loaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


def _complete(model_dir: Path) -> bool:
    from compositing.segmentation.weights.catalog import SELFIE_WEIGHTS, source_path
    from compositing.segmentation.weights.mediapipe import weights_verify

    return all(
        weights_verify(spec, model_dir) and source_path(spec, model_dir).is_file()
        for spec in SELFIE_WEIGHTS
    )


@pytest.fixture(scope="session")
def selfie_model_dir(request) -> Path:
    from django.conf import settings

    from compositing.segmentation import WeightsError
    from compositing.segmentation.weights.mediapipe import weights_fetch

    configured = Path(settings.VBG_MODEL_DIR).resolve()
    if configured.is_dir() and _complete(configured):
        return configured
    cache = Path(request.config.cache.mkdir("vbg-selfie-models"))
    if not _complete(cache):
        try:
            weights_fetch(model_dir=cache)
        except WeightsError as exc:  # no PyPI: nothing to test the engine with
            pytest.skip(f"segmentation weights unavailable: {exc}")
    return cache


@pytest.fixture
def segmenter_ready(selfie_model_dir, settings) -> Iterator:
    import torch

    from compositing.segmentation import configure, get_config, get_segmenter

    previous = get_config()
    previous_threads = torch.get_num_threads()
    settings.VBG_MODEL_DIR = selfie_model_dir
    settings.VBG_TORCH_THREADS = 2
    settings.VBG_SEGMENTER = "selfie"
    configure(model_dir=selfie_model_dir, threads=2)
    try:
        yield get_segmenter("selfie")
    finally:
        configure(model_dir=previous.model_dir, threads=previous.threads)  # unloads if changed
        torch.set_num_threads(previous_threads)
