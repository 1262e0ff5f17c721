"""Loaded once per process, lazily, under a lock; unknown names raise; no Django, no eager torch."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import compositing.segmentation as segmentation
from compositing.segmentation import (
    Segmenter,
    UnknownSegmenter,
    WeightsMissing,
    configure,
    get_segmenter,
)
from compositing.segmentation import registry as registry_module

PACKAGE = Path(segmentation.__file__).parent


class CountingSegmenter(Segmenter):
    """A backend module's factory stand-in: counts how often it is built."""

    built = 0

    def __init__(self, *, name, config, **options):
        type(self).built += 1
        self.name = name

    def segment_rgb(self, rgb):
        return np.zeros(rgb.shape[:2], np.float32)

    def network_size(self, width, height):
        return height, width

    def probability(self, rgb):
        raise NotImplementedError


@pytest.fixture
def counting_backend(monkeypatch):
    CountingSegmenter.built = 0
    backend = registry_module._Backend(f"{__name__}:CountingSegmenter")
    monkeypatch.setitem(registry_module._BACKENDS, "counting", backend)
    yield "counting"
    registry_module._instances.pop("counting", None)


def test_unknown_name_raises_and_lists_the_known_ones():
    with pytest.raises(UnknownSegmenter, match="selfie"):
        get_segmenter("no-such-model")


def test_concurrent_first_calls_build_the_model_once(counting_backend):
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(get_segmenter(counting_backend)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert CountingSegmenter.built == 1
    assert all(result is results[0] for result in results)


def test_same_instance_is_returned_every_time(segmenter_ready):
    assert get_segmenter("selfie") is segmenter_ready
    assert segmenter_ready.name == "selfie"


def test_missing_weights_say_how_to_fetch_them(tmp_path):
    previous = registry_module.get_config()
    configure(model_dir=tmp_path)
    try:
        with pytest.raises(WeightsMissing, match="fetch_model"):
            get_segmenter("selfie")
    finally:
        configure(model_dir=previous.model_dir)


def test_importing_the_package_loads_neither_torch_nor_a_model():
    code = (
        "import sys, compositing.segmentation as s; "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "assert not s.registry._instances"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PACKAGE.parent.parent)


def test_segmentation_package_imports_no_django():
    for source in PACKAGE.rglob("*.py"):
        text = source.read_text()
        assert "import django" not in text and "from django" not in text, source
