"""Network input preprocessing, defined once for every network and for training.

Each network's weights name their preprocessing (:mod:`.weights.catalog`):

- ``"unit"``: RGB scaled to 0..1 (``/ 255``): MediaPipe's selfie networks;
- ``"imagenet"``: 0..1, then ``(x - mean) / std`` per channel with ImageNet's statistics:
  torchvision's networks (published weights, their fine-tunes and ImageNet backbones).

Inference resizes with antialiased bilinear interpolation on the channels-last uint8 view,
then converts; training data is already 0..1 and only needs :func:`normalize`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PREPROCESSINGS = ("unit", "imagenet")


def to_unit(image: torch.Tensor) -> torch.Tensor:
    """uint8 (any shape) → float32 in 0..1 (a new tensor)."""
    return image.float().div_(255.0)


def normalize(x: torch.Tensor, preprocessing: str, *, inplace: bool = False) -> torch.Tensor:
    """Float Nx3xHxW in 0..1 → the network's input for ``preprocessing`` (``x`` itself for
    ``"unit"``; for ``"imagenet"`` a new tensor, or ``x`` changed when ``inplace``)."""
    if preprocessing == "unit":
        return x
    if preprocessing != "imagenet":
        raise ValueError(f"unknown preprocessing {preprocessing!r}; one of {PREPROCESSINGS}")
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    return x.sub_(mean).div_(std) if inplace else (x - mean) / std


def network_input(
    rgb: torch.Tensor, height: int, width: int, *, preprocessing: str
) -> torch.Tensor:
    """uint8 HxWx3 → float32 1x3xheightxwidth, channels-last, prepared for a network.

    Resized (antialiased bilinear) only when the size differs; then :func:`to_unit` and,
    for ``"imagenet"``, ImageNet mean/std (in place on the fresh tensor).
    """
    image = rgb.permute(2, 0, 1).unsqueeze(0)
    if not image.is_contiguous(memory_format=torch.channels_last):
        image = image.contiguous(memory_format=torch.channels_last)
    if (height, width) != tuple(rgb.shape[:2]):
        image = F.interpolate(
            image, size=(height, width), mode="bilinear", antialias=True, align_corners=False
        )
    return normalize(to_unit(image), preprocessing, inplace=True)


def shorter_side_size(height: int, width: int, size: int, *, max_aspect: float) -> tuple[int, int]:
    """(height, width) with the shorter side ``size`` px, aspect kept, the longer side
    capped at ``max_aspect``·size (torchvision networks take any size)."""
    scale = size / min(height, width)
    cap = round(max_aspect * size)
    return max(1, min(round(height * scale), cap)), max(1, min(round(width * scale), cap))
