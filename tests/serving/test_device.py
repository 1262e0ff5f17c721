"""VBG_DEVICE=auto|cpu|cuda: where the networks run (the suite passes without a GPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from compositing import engine
from compositing.segmentation import configure, get_config, get_segmenter
from tests.architecture.test_manage_settings import _manage
from tests.segmentation.photos import photo


def test_an_unknown_device_stops_manage_py_with_one_clear_line():
    run = _manage("check", VBG_ALLOW_INSECURE_KEY="1", VBG_DEVICE="tpu")
    assert run.returncode != 0
    assert run.stderr.strip().splitlines() == [
        "manage.py: bad settings: VBG_DEVICE='tpu' must be auto, cpu or cuda"
    ]


def test_auto_picks_cuda_only_when_torch_sees_a_gpu(settings):
    settings.VBG_DEVICE = "auto"
    assert engine.device_name() == ("cuda" if torch.cuda.is_available() else "cpu")
    settings.VBG_DEVICE = "cpu"
    assert engine.device_name() == "cpu"


def test_the_engine_loads_the_networks_on_the_configured_device(selfie_model_dir, settings):
    settings.VBG_MODEL_DIR = selfie_model_dir
    settings.VBG_DEVICE = "cpu"
    segmenter = engine.get_engine().segmenter
    assert get_config().device == "cpu"
    for _spec, network in segmenter._networks.values():
        assert {p.device.type for p in network.parameters()} == {"cpu"}
    probability = segmenter.probability(torch.from_numpy(photo("astronaut")))
    assert probability.device.type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU here")
def test_cuda_gives_the_same_alpha_as_the_cpu(selfie_model_dir):
    image = photo("astronaut", size=(864, 1152))
    alphas = {}
    for device in ("cpu", "cuda"):
        configure(model_dir=selfie_model_dir, device=device)
        alphas[device] = get_segmenter("selfie").segment(image)
    configure(device="cpu")
    assert np.abs(alphas["cpu"] - alphas["cuda"]).mean() < 0.01
