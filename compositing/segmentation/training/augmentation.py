"""Augmentation of training pairs: random resized crop, horizontal flip, colour jitter.

Deterministic for a given ``torch.Generator`` (the data set seeds one per seed, epoch and
item, so runs and resumes repeat).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..preprocessing import to_unit


@dataclass(frozen=True)
class Augmentation:
    """Random resized crop (``scale``: share of the photo's area; ``ratio``: crop aspect
    w/h), horizontal flip, colour jitter (factors drawn from 1 ± value; ``hue`` in turns)."""

    scale: tuple[float, float] = (0.35, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip: bool = True
    brightness: float = 0.25
    contrast: float = 0.25
    saturation: float = 0.25
    hue: float = 0.03


def resize_unit(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """uint8 Cxhxw → float32 Cxheightxwidth in 0..1 (antialiased bilinear)."""
    x = image[None].float()
    if tuple(image.shape[1:]) != (height, width):
        x = F.interpolate(x, size=(height, width), mode="bilinear", antialias=True)
    return to_unit(x[0]).clamp_(0.0, 1.0)


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def crop_box(
    height: int, width: int, aug: Augmentation, generator: torch.Generator
) -> tuple[int, int, int, int]:
    """(top, left, h, w) of a random resized crop, as torchvision's RandomResizedCrop."""
    area = height * width
    log_ratio = (math.log(aug.ratio[0]), math.log(aug.ratio[1]))
    for _ in range(10):
        target = area * _uniform(generator, *aug.scale)
        aspect = math.exp(_uniform(generator, *log_ratio))
        w = round(math.sqrt(target * aspect))
        h = round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, (), generator=generator))
            left = int(torch.randint(0, width - w + 1, (), generator=generator))
            return top, left, h, w
    side = min(height, width)  # fallback: centre square
    return (height - side) // 2, (width - side) // 2, side, side


def augment(
    photo: torch.Tensor,
    mask: torch.Tensor,
    size: int,
    aug: Augmentation,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random resized crop + flip of uint8 3xHxW / 1xHxW, colour jitter of the photo;
    returns float32 3xSxS and 1xSxS in 0..1."""
    top, left, h, w = crop_box(photo.shape[1], photo.shape[2], aug, generator)
    image = resize_unit(photo[:, top : top + h, left : left + w], size, size)
    target = resize_unit(mask[:, top : top + h, left : left + w], size, size)
    if aug.flip and float(torch.rand((), generator=generator)) < 0.5:
        image, target = image.flip(-1), target.flip(-1)
    return color_jitter(image, aug, generator), target


def color_jitter(
    image: torch.Tensor, aug: Augmentation, generator: torch.Generator
) -> torch.Tensor:
    """Brightness, contrast, saturation and hue jitter of float 3xHxW in 0..1 (in place)."""
    grey_weights = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
    if aug.brightness:
        image.mul_(_uniform(generator, 1 - aug.brightness, 1 + aug.brightness))
    if aug.contrast:
        mean = float((image * grey_weights).sum(0).mean())
        factor = _uniform(generator, 1 - aug.contrast, 1 + aug.contrast)
        image.sub_(mean).mul_(factor).add_(mean)
    if aug.saturation:
        grey = (image * grey_weights).sum(0, keepdim=True)
        factor = _uniform(generator, 1 - aug.saturation, 1 + aug.saturation)
        image.sub_(grey).mul_(factor).add_(grey)
    if aug.hue:
        # Rotate the chroma plane of YIQ by the hue angle.
        angle = 2 * math.pi * _uniform(generator, -aug.hue, aug.hue)
        to_yiq = torch.tensor(
            [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]]
        )
        cos, sin = math.cos(angle), math.sin(angle)
        rotate = torch.tensor([[1.0, 0.0, 0.0], [0.0, cos, -sin], [0.0, sin, cos]])
        matrix = torch.linalg.inv(to_yiq) @ rotate @ to_yiq
        image = torch.einsum("ij,jhw->ihw", matrix, image)
    return image.clamp_(0.0, 1.0)
