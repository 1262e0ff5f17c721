"""The networks being trained: a common interface over the selfie network (one logit per
pixel) and torchvision's networks with a binary head, how to build them from the starting
weights, and how to export them as a weights file ``get_segmenter("ARCH:NAME")`` loads.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .. import torchvision_nets
from ..errors import SegmentationError, WeightsError
from ..preprocessing import normalize
from ..selfie_net import selfie_segmentation_net
from ..weights.catalog import (
    PUBLISHED_WEIGHTS,
    SELFIE_ARCH,
    SELFIE_GENERAL,
    TORCHVISION_WEIGHTS,
    check_arch,
    check_weights_name,
    weights_file,
)
from ..weights.files import load_named_weights, save_weights
from ..weights.mediapipe import load_weights
from ..weights.torchvision_published import backbone_weights_state


class TrainableModel(nn.Module):
    """A segmentation network prepared for training: ``forward`` takes images in 0..1 and
    returns logits; :meth:`loss` and :meth:`person_probability` know the output layout."""

    arch: str
    num_classes: int
    person_class: int

    def backbone(self) -> nn.Module:
        raise NotImplementedError

    def head_parameters(self) -> list[nn.Parameter]:
        backbone = {id(p) for p in self.backbone().parameters()}
        return [p for p in self.parameters() if id(p) not in backbone]

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def person_probability(self, logits: torch.Tensor) -> torch.Tensor:
        """NxHxW person probability from logits."""
        raise NotImplementedError

    def inner_state_dict(self) -> dict[str, torch.Tensor]:
        """The wrapped network's state dict (what the weights file holds)."""
        raise NotImplementedError


class SelfieTrainable(TrainableModel):
    """The engine's selfie network (1 logit per pixel; binary cross-entropy on soft targets)."""

    arch = SELFIE_ARCH
    num_classes = 1
    person_class = 0

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.network(images)

    def backbone(self) -> nn.Module:
        return self.network.encoder

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits, target)

    def person_probability(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(logits[:, 0])

    def inner_state_dict(self) -> dict[str, torch.Tensor]:
        return self.network.state_dict()


class TorchvisionTrainable(TrainableModel):
    """A torchvision FCN/DeepLabV3/LR-ASPP with a 2-class head (cross-entropy on
    thresholded targets), ImageNet-normalised input."""

    num_classes = 2
    person_class = 1

    def __init__(self, model: nn.Module, arch: str, *, freeze_bn_stats: bool) -> None:
        super().__init__()
        self.model = model
        self.arch = arch
        self.freeze_bn_stats = freeze_bn_stats
        self.preprocessing = TORCHVISION_WEIGHTS[arch].preprocessing

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(normalize(images, self.preprocessing))["out"]

    def train(self, mode: bool = True) -> TorchvisionTrainable:
        super().train(mode)
        if mode and self.freeze_bn_stats:
            # Pretrained BatchNorm statistics are better than those of a few-image batch.
            for module in self.backbone().modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    def backbone(self) -> nn.Module:
        return self.model.backbone

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, (target[:, 0] >= 0.5).long())

    def person_probability(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.softmax(logits, dim=1)[:, self.person_class]

    def inner_state_dict(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()


def build_trainable(
    arch: str,
    *,
    model_dir: Path | str,
    init: str = "auto",
    head_from_voc: bool = False,
    log: Callable[[str], None] = lambda message: None,
) -> tuple[TrainableModel, str]:
    """The network to fine-tune and a description of where its weights came from.

    ``init``: ``auto`` (selfie: the converted MediaPipe weights; torchvision: the published
    COCO/VOC weights in the model directory if there, else torchvision's ImageNet backbone,
    downloaded), ``random``, ``imagenet`` (torchvision only), ``default`` (selfie), or the
    name of weights in ``<model_dir>/<arch>/`` (a 2-class fine-tune continues with its head;
    21-class weights get a new binary head: random, or VOC background/person rows of the old
    head with ``head_from_voc``).
    """
    check_arch(arch)
    if arch == SELFIE_ARCH:
        return _selfie_trainable(model_dir, init)
    freeze_bn = True
    if init == "random":
        model, source = torchvision_nets.build_model(arch, num_classes=2), "random initialisation"
        freeze_bn = False
    elif init == "imagenet" or (
        init == "auto" and not weights_file(model_dir, arch, PUBLISHED_WEIGHTS).is_file()
    ):
        log(f"no {arch} published weights in the model directory: trying the ImageNet backbone")
        try:
            backbone = backbone_weights_state(arch)
        except WeightsError as exc:
            raise WeightsError(
                f"{exc}; import weights first (fetch_model --import FILE --arch {arch} "
                f"--name {PUBLISHED_WEIGHTS}) or train from scratch with --init random"
            ) from exc
        model = torchvision_nets.build_model(arch, num_classes=2)
        model.backbone.load_state_dict(backbone)
        source = "torchvision ImageNet backbone"
    else:
        name = PUBLISHED_WEIGHTS if init == "auto" else check_weights_name(init)
        payload = load_named_weights(model_dir, arch, name)
        model = torchvision_nets.model_from_payload(payload)
        source = f"{arch}:{name}"
        if payload["num_classes"] != 2 or payload["person_class"] != 1:
            keep = (0, int(payload["person_class"])) if head_from_voc else None
            torchvision_nets.replace_head(model, arch, num_classes=2, keep_rows=keep)
            source += " with a new binary head" + (" (from VOC rows)" if keep else "")
    return TorchvisionTrainable(model, arch, freeze_bn_stats=freeze_bn), source


def _selfie_trainable(model_dir: Path | str, init: str) -> tuple[TrainableModel, str]:
    if init == "random":
        network, source = selfie_segmentation_net(), "random initialisation"
    elif init in ("auto", "default"):
        network = selfie_segmentation_net(load_weights(SELFIE_GENERAL, Path(model_dir)))
        source = "MediaPipe selfie (general)"
    elif init == "imagenet":
        raise SegmentationError("the selfie network has no ImageNet backbone: use --init auto")
    else:
        payload = load_named_weights(model_dir, SELFIE_ARCH, check_weights_name(init))
        network, source = selfie_segmentation_net(payload["state_dict"]), f"selfie:{init}"
    return SelfieTrainable(network), source


def export_weights(
    model: TrainableModel,
    path: Path,
    *,
    size: int,
    source: str,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write ``model``'s network as a weights file ``get_segmenter("ARCH:NAME")`` loads."""
    return save_weights(
        path,
        arch=model.arch,
        state_dict=model.inner_state_dict(),
        num_classes=model.num_classes,
        person_class=model.person_class,
        input_size=size,
        source=f"train_segmenter from {source}",
        meta=meta,
    )
