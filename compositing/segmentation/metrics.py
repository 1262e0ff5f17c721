"""Mask quality metrics (pure numpy): per-image scores and their aggregation.

Ground truth masks are uint8 0..255 (≥128 is person; soft mattes allowed); alphas float
0..1. IoU is computed on the thresholded alpha; ``mad`` is the mean absolute difference
between alpha and mask/255 (it rewards good soft edges).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class MaskScore:
    """Counts for one image (pixels), additive across images for pooled metrics."""

    intersection: int
    union: int
    correct: int
    pixels: int
    abs_error_sum: float

    @property
    def iou(self) -> float:
        return self.intersection / self.union if self.union else 1.0

    @property
    def accuracy(self) -> float:
        return self.correct / self.pixels if self.pixels else 1.0

    @property
    def mad(self) -> float:
        return self.abs_error_sum / self.pixels if self.pixels else 0.0


def mask_score(alpha: np.ndarray, mask: np.ndarray, *, threshold: float = 0.5) -> MaskScore:
    """Score float HxW ``alpha`` against uint8 HxW ``mask`` (same size)."""
    if alpha.shape != mask.shape:
        raise ValueError(f"alpha {alpha.shape} and mask {mask.shape} differ in size")
    predicted = alpha >= threshold
    truth = mask >= 128
    intersection = int(np.count_nonzero(predicted & truth))
    union = int(np.count_nonzero(predicted | truth))
    correct = int(np.count_nonzero(predicted == truth))
    abs_error = float(np.abs(alpha.astype(np.float64) - mask.astype(np.float64) / 255.0).sum())
    return MaskScore(intersection, union, correct, int(mask.size), abs_error)


def summarize(scores: list[MaskScore]) -> dict[str, float | int]:
    """``images``, ``miou_per_image``, ``iou_pooled``, ``pixel_accuracy``, ``mad`` (pooled)."""
    if not scores:
        return {"images": 0}
    intersection = sum(s.intersection for s in scores)
    union = sum(s.union for s in scores)
    pixels = sum(s.pixels for s in scores)
    return {
        "images": len(scores),
        "miou_per_image": round(float(np.mean([s.iou for s in scores])), 4),
        "iou_pooled": round(intersection / union if union else 1.0, 4),
        "pixel_accuracy": round(sum(s.correct for s in scores) / pixels, 4),
        "mad": round(sum(s.abs_error_sum for s in scores) / pixels, 5),
    }
