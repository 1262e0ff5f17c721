"""``compositing.engine``: the Django side configures the package from settings, lazily."""

from __future__ import annotations

import numpy as np
import pytest

from compositing.engine import get_engine, get_frame_segmenter
from tests.segmentation.photos import photo
from vbgsite.errors import ModelUnavailable


def test_engine_uses_the_configured_model(segmenter_ready, settings):
    engine = get_engine()
    assert engine.model_name == settings.VBG_SEGMENTER == "selfie"
    assert engine.segmenter is segmenter_ready
    alpha = engine.segment(photo("astronaut", size=(200, 150)))
    assert alpha.shape == (150, 200) and alpha.dtype == np.float32 and alpha.any()


def test_frame_segmenter_gives_network_resolution_probabilities(segmenter_ready):
    frames = get_frame_segmenter()
    assert frames.name == segmenter_ready.name
    height, width = frames.network_size(1280, 720)
    assert (height, width) == (144, 256)  # the landscape network for 16:9
    batch = np.stack([np.asarray(photo("astronaut", size=(width, height)))] * 2)
    probability = frames(batch)
    assert probability.shape == (2, height, width) and probability.dtype == np.float32
    assert probability.min() >= 0.0 and probability.max() <= 1.0 and probability.max() > 0.5


def test_missing_weights_are_model_unavailable(settings, tmp_path):
    from compositing.segmentation import configure, get_config

    previous = get_config()
    settings.VBG_MODEL_DIR = tmp_path / "empty"
    try:
        with pytest.raises(ModelUnavailable):
            get_engine("selfie")
    finally:
        configure(model_dir=previous.model_dir, threads=previous.threads)


def test_misconfigured_model_name_is_model_unavailable(segmenter_ready, settings):
    settings.VBG_SEGMENTER = "no-such-model"
    with pytest.raises(ModelUnavailable):
        get_engine()
    with pytest.raises(ModelUnavailable):
        get_frame_segmenter()
