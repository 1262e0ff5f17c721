"""``evaluate_segmenter`` scores every backend: the default network, fine-tuned selfie
weights, and each torchvision architecture with 21-class (published-format) and 2-class
(fine-tuned) weights. Weights here are random (no download); the scores only have to be
computed, except the default network's, which made the masks."""

from __future__ import annotations

import json

import pytest
import torch
from django.core.management import call_command

from compositing.segmentation.evaluate import evaluate_directory
from compositing.segmentation.selfie_net import selfie_segmentation_net
from compositing.segmentation.torchvision_nets import build_model
from compositing.segmentation.weights.checkpoint_import import import_state_dict
from compositing.segmentation.weights.files import save_weights

from .conftest import write_pairs

ARCHS = ("fcn_resnet101", "deeplabv3_resnet50", "lraspp_mobilenet_v3_large")
KEYS = {"images", "miou_per_image", "iou_pooled", "pixel_accuracy", "mad", "ms_median"}


@pytest.fixture
def every_backend(model_dir) -> list[str]:
    torch.manual_seed(0)
    # Small input size: a quick CPU test, the same code path as at 520 px.
    for arch, name, classes in [
        *((arch, "coco_voc", 21) for arch in ARCHS),
        ("lraspp_mobilenet_v3_large", "two-class", 2),
    ]:
        state = build_model(arch, num_classes=classes).state_dict()
        import_state_dict(
            state, model_dir=model_dir, arch=arch, name=name, source="test", input_size=64
        )
    save_weights(
        model_dir / "selfie" / "tuned.pt",
        arch="selfie",
        state_dict=selfie_segmentation_net().state_dict(),
        num_classes=1,
        person_class=0,
        input_size=256,
        source="test",
    )
    return ["selfie", "selfie:tuned", *ARCHS, "lraspp_mobilenet_v3_large:two-class"]


@pytest.mark.slow
def test_every_backend_can_be_evaluated(model_dir, every_backend, tmp_path):
    pairs = write_pairs(tmp_path / "eval", ("astronaut", "chelsea"), max_side=96)
    from compositing.segmentation import segment

    results = {
        model: evaluate_directory(pairs, lambda photo, m=model: segment(photo, model=m))
        for model in every_backend
    }
    for model, result in results.items():
        assert set(result) >= KEYS, model
        assert result["images"] == 2, model
        assert 0.0 <= result["pixel_accuracy"] <= 1.0, model
        assert 0.0 <= result["mad"] <= 1.0, model
    # It made these masks (from the photos before JPEG compression).
    assert results["selfie"]["pixel_accuracy"] > 0.9, results["selfie"]


@pytest.mark.slow
def test_evaluate_segmenter_command_takes_any_backend(model_dir, every_backend, tmp_path, capsys):
    from django.core.management import get_commands

    if "evaluate_segmenter" not in get_commands():
        pytest.skip("evaluate_segmenter is not installed")
    pairs = write_pairs(tmp_path / "eval", ("astronaut",), max_side=96)
    for model in ("selfie:tuned", "fcn_resnet101", "lraspp_mobilenet_v3_large:two-class"):
        call_command("evaluate_segmenter", str(pairs), "--model", model)
        result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert set(result) >= KEYS and result["images"] == 1, model
