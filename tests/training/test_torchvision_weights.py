"""Weights in torchvision's own format: a 21-class checkpoint (like the published
``fcn_resnet101_coco-*.pth``) is imported and read exactly as torchvision reads it; person
is VOC class 15; the bare architecture name means those published weights."""

from __future__ import annotations

import pytest
import torch
from torchvision.models import segmentation

from compositing.segmentation import get_segmenter
from compositing.segmentation.errors import SegmentationError
from compositing.segmentation.weights.checkpoint_import import import_checkpoint
from compositing.segmentation.weights.files import load_named_weights, plain_state_dict

from .conftest import skimage_photo

CLASSIFIERS = ("classifier.4", "classifier.low_classifier", "classifier.high_classifier")
ENUMS = {
    "fcn_resnet101": segmentation.FCN_ResNet101_Weights,
    "lraspp_mobilenet_v3_large": segmentation.LRASPP_MobileNet_V3_Large_Weights,
}


def random_torchvision_model(arch: str, *, seed: int = 0) -> torch.nn.Module:
    """A randomly initialised 21-class model as torchvision builds it (the published
    fcn_resnet101 checkpoint has an auxiliary head too), with non-trivial BN statistics."""
    torch.manual_seed(seed)
    kwargs = {"weights": None, "weights_backbone": None, "num_classes": 21}
    if arch == "fcn_resnet101":
        kwargs["aux_loss"] = True
    model = getattr(segmentation, arch)(**kwargs)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return model.eval()


def moderate_logits(model: torch.nn.Module, batch: torch.Tensor) -> None:
    """Rescale and centre the final classifier(s) so every class logit varies by about 1
    around 0 over ``batch``: a random model's softmax is otherwise saturated or flat, and comparing
    probabilities would mean little. The output is linear in these layers."""
    names = [n for n, _ in model.named_modules() if n in CLASSIFIERS]
    with torch.no_grad():
        logits = model(batch)["out"]
        spread = float((logits - logits.mean(dim=(2, 3), keepdim=True)).std())
        for name in names:
            layer = model.get_submodule(name)
            layer.weight.mul_(1.0 / spread)
            layer.bias.zero_()
        # Centre each class's logit over the photo (a constant passes every upsampling).
        means = model(batch)["out"].mean(dim=(0, 2, 3))
        model.get_submodule(names[0]).bias.copy_(-means)


@pytest.mark.parametrize("arch", ["lraspp_mobilenet_v3_large", "fcn_resnet101"])
def test_21_class_torchvision_checkpoint_is_read_like_torchvision(model_dir, tmp_path, arch):
    reference = random_torchvision_model(arch)
    photo = skimage_photo("astronaut", max_side=160)
    # torchvision's own preprocessing preset (resize shorter side, normalise).
    preset = ENUMS[arch].COCO_WITH_VOC_LABELS_V1.transforms(resize_size=96)
    batch = preset(torch.from_numpy(photo.copy()).permute(2, 0, 1))[None]
    moderate_logits(reference, batch)
    checkpoint = tmp_path / f"{arch}_coco.pth"
    torch.save(reference.state_dict(), checkpoint)  # torchvision's format: a bare state dict

    stored = import_checkpoint(checkpoint, model_dir=model_dir, arch=arch, name="coco_voc")
    payload = load_named_weights(model_dir, arch, "coco_voc")
    assert stored == model_dir / arch / "coco_voc.pt"
    assert (payload["num_classes"], payload["person_class"], payload["input_size"]) == (21, 15, 520)

    segmenter = get_segmenter(arch)  # the bare name: the published (here: imported) weights
    assert segmenter.name == arch
    segmenter.input_size = 96  # keep the CPU test small; preprocessing is the same at 520
    ours = segmenter.probability(torch.from_numpy(photo.copy()))

    with torch.no_grad():
        expected = torch.softmax(reference(batch)["out"], dim=1)[0, 15]
    assert ours.shape == expected.shape == (96, 96)
    assert float(expected.max()) < 0.99 and float(expected.std()) > 0.005  # not saturated/flat
    assert torch.allclose(ours, expected, atol=2e-3), float((ours - expected).abs().max())


def test_a_bare_state_dict_checkpoint_with_prefixes_is_unwrapped():
    state = {"module.a.weight": torch.zeros(2), "module.b.bias": torch.ones(1)}
    assert set(plain_state_dict({"model": state})) == {"a.weight", "b.bias"}
    assert set(plain_state_dict({"state_dict": state, "epoch": 3})) == {"a.weight", "b.bias"}
    with pytest.raises(SegmentationError, match="no model state dict"):
        plain_state_dict({"epoch": 3})


def test_weights_of_another_architecture_are_refused(model_dir, tmp_path):
    checkpoint = tmp_path / "lraspp.pth"
    torch.save(random_torchvision_model("lraspp_mobilenet_v3_large").state_dict(), checkpoint)
    with pytest.raises(SegmentationError, match=r"not a deeplabv3_resnet50 state dict|do not fit"):
        import_checkpoint(checkpoint, model_dir=model_dir, arch="deeplabv3_resnet50", name="x")
    assert not (model_dir / "deeplabv3_resnet50" / "x.pt").exists()


def test_a_file_that_is_not_a_checkpoint_is_a_clear_error(model_dir, tmp_path):
    junk = tmp_path / "weights.pth"
    junk.write_bytes(b"definitely not a torch file")
    with pytest.raises(SegmentationError, match="not a readable torch checkpoint"):
        import_checkpoint(junk, model_dir=model_dir, arch="fcn_resnet101", name="x")
